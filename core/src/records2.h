/* records2.h - format 2's records (docs/FORMAT.md): the page place kept in
 * the `pages` and `dedupe` tables, and the commit record written to the page
 * log, from which repair rebuilds a commit's index entries. The only place
 * that knows their byte layout (format 1's is records.h). */
#ifndef H5TX_RECORDS2_H
#define H5TX_RECORDS2_H

#include "h5tx.h"
#include "pagelog.h"

#include <stddef.h>
#include <stdint.h>

/* A page place as an index value (before the index's own check). */
#define H5TX_PLACE_VAL 64
void h5tx__place_encode(uint8_t dst[H5TX_PLACE_VAL], const h5tx__place *p);
/* -1 with *why if `n` bytes at `v` are not a place this build reads. */
int h5tx__place_parse(const void *v, size_t n, h5tx__place *p, const char **why);

/* The `dedupe` key of a page record: BE64 content hash, BE32 raw length,
 * BE64 segment, BE64 offset. */
#define H5TX_DEDUPE_KEY 28
void h5tx__dedupe_key(uint8_t dk[H5TX_DEDUPE_KEY], const h5tx__place *p);

/* A growable byte buffer. */
typedef struct h5tx__buf {
  uint8_t *p;
  size_t n, cap;
} h5tx__buf;
int h5tx__buf_add(h5tx__buf *b, const void *p, size_t n); /* 0, or -1: out of memory */
void h5tx__buf_free(h5tx__buf *b);

/* The commit record of the page log. */
typedef struct h5tx__lcommit {
  h5tx_rev rev, parent;
  uint64_t branch, time_ns;
  uint32_t pid;
  const char *host;
  size_t host_len;
  const char *msg;
  size_t msg_len;
  uint32_t nops;
  const uint8_t *ops; /* parse: the operations' bytes */
  size_t ops_len;
} h5tx__lcommit;

enum { LOP_FILE = 1, LOP_NAME = 2, LOP_LENGTH = 3, LOP_PAGES = 4, LOP_REF = 5 };

/* One operation. FILE: fid, page_size, a = origin file, b = origin rev,
 * name. NAME: fid (0: removed), name. LENGTH: fid, a = length. PAGES: fid,
 * a = write id. REF: fid, a = page, place. */
typedef struct h5tx__lop {
  int op;
  uint64_t fid, a, b;
  uint32_t page_size;
  const char *name;
  size_t name_len;
  h5tx__place place;
} h5tx__lop;

/* Start an encoded commit record in `b` (emptied); add operations; the
 * header's operation count follows. Host and message are cut to 65535
 * bytes. 0, or -1 out of memory. */
int h5tx__lcommit_begin(h5tx__buf *b, const h5tx__lcommit *c);
int h5tx__lcommit_add(h5tx__buf *b, const h5tx__lop *op);

/* Parse the header of a commit record; the operations are then read with
 * h5tx__lcommit_next from a zeroed iterator. -1 with *why on malformed
 * bytes. */
int h5tx__lcommit_parse(const void *p, size_t n, h5tx__lcommit *c, const char **why);
typedef struct h5tx__lcommit_it {
  size_t pos;
  uint32_t done;
} h5tx__lcommit_it;
/* The next operation: 1 with *op, 0 after the last (exactly nops read and
 * no byte left), -1 with *why on malformed bytes. Names are not checked
 * here (h5tx__check_name is the caller's). */
int h5tx__lcommit_next(const h5tx__lcommit *c, h5tx__lcommit_it *it, h5tx__lop *op,
                       const char **why);

/* Tag records of the page log: payload LE64 revision (0: removed), LE16
 * name length, name. */
int h5tx__ltag_encode(h5tx__buf *b, const char *name, size_t nlen, h5tx_rev rev);
int h5tx__ltag_parse(const void *p, size_t n, const char **name, size_t *nlen, h5tx_rev *rev);

/* Index values of format 2 (before the index's check). files: page size,
 * flags, created, origin file and revision, name. */
int h5tx__file2_encode(h5tx__buf *b, uint32_t page_size, h5tx_rev created, uint64_t origin_fid,
                       h5tx_rev origin_rev, const char *name, size_t nlen);
/* commits: the record of FORMAT.md for log commit `c` with `fids` (nfiles
 * LE64 ids), at log place seg/off. */
int h5tx__commit2_encode(h5tx__buf *b, const h5tx__lcommit *c, const uint8_t *fids, uint32_t nfiles,
                         uint64_t bytes_added, uint64_t pages_added, uint64_t wid, uint64_t seg,
                         uint64_t off);

/* A files value (before the index's check), parsed; `name` points into it. */
typedef struct h5tx__file2 {
  uint32_t page_size, flags;
  h5tx_rev created;
  uint64_t origin_fid;
  h5tx_rev origin_rev;
  const char *name;
  size_t name_len;
  h5tx_rev cut; /* flag H5TX_FILE_CUT: history before it dropped; else 0 */
} h5tx__file2;
#define H5TX_FILE_CUT 1u
/* -1 if `n` bytes at `v` are no files record (shorter than 32 bytes, or 40
 * with a cut, or a page size that is not a power of two). */
int h5tx__file2_parse(const void *v, size_t n, h5tx__file2 *f);
/* `f` (parsed) again into `b`, with its history cut at `cut`. */
int h5tx__file2_recut(h5tx__buf *b, const h5tx__file2 *f, h5tx_rev cut);

/* A commits value (before the index's check), parsed; host, message and
 * fids point into it. */
typedef struct h5tx__commit2 {
  uint32_t flags;
  h5tx_rev parent;
  uint64_t time_ns;
  uint32_t pid;
  const char *host;
  size_t host_len;
  const char *msg;
  size_t msg_len;
  uint32_t nfiles;
  const uint8_t *fids; /* nfiles LE64 ids */
  uint64_t bytes_added, pages_added, branch, wid, seg, off;
} h5tx__commit2;
/* -1 if `n` bytes at `v` are no commit record of version 2 whose lengths
 * add up. */
int h5tx__commit2_parse(const void *v, size_t n, h5tx__commit2 *c);

#endif
