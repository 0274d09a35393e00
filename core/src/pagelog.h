/* pagelog.h - the page log: append-only segment files holding page payloads
 * and the commit, void, tag and seal records that let the index be rebuilt
 * (docs/FORMAT.md, "The page log"). A place (segment, offset, lengths,
 * identity, check) is all a reader needs; nothing of the index engine
 * appears here, so a shared file system or PostgreSQL can sit behind the
 * same calls.
 *
 * One handle per store handle. Appends go to the handle's own open segment
 * (created on first use, rolled at the segment size, sealed at close); a
 * fork child never appends to its parent's segment. All calls are safe from
 * several threads of one process. */
#ifndef H5TX_PAGELOG_H
#define H5TX_PAGELOG_H

#include "h5tx.h"

#include <stddef.h>
#include <stdint.h>

typedef struct h5tx__plog h5tx__plog;

/* Record kinds and encodings (FORMAT.md, "Batches"). */
enum {
  PLOG_PAGE = 1,
  PLOG_COMMIT = 2,
  PLOG_VOID = 3,
  PLOG_TAG = 4,
  PLOG_SEAL = 5,
  PLOG_COLLECTED = 6,
  PLOG_CUT = 7 /* gc --file: a file's history cut (docs/FORMAT.md) */
};
enum {
  PLOG_ENC_ZERO = 0,
  PLOG_ENC_RAW = 1,
  PLOG_ENC_ZSTD = 2,
  PLOG_ENC_EXTERNAL = 3,
  PLOG_ENC_LZ4 = 4,
  PLOG_ENC_LAST = PLOG_ENC_LZ4 /* the highest this build knows */
};

#define PLOG_HDR 4096u      /* segment header and batch header size */
#define PLOG_MAX_ENTRIES 83 /* entries per batch header */
#define PLOG_SEG_DEFAULT ((uint64_t)1 << 30)

/* Where a record lives and what it must be: the index keeps one of these
 * per page version. */
typedef struct h5tx__place {
  uint64_t seg, off; /* segment number, payload offset */
  uint32_t stored;   /* payload bytes in the log */
  uint32_t raw;      /* decoded length */
  uint64_t wid, key; /* identity: write id of its batch, key (page, revision) */
  uint64_t content;  /* hash of the decoded bytes */
  uint64_t check;    /* record check (FORMAT.md) */
  uint8_t kind, enc;
} h5tx__place;

/* One record to append. For a raw page, `content` must be the hash of
 * `payload` (it is not hashed again); for anything else the log hashes the
 * payload itself and `content` is the caller's (for kinds other than page:
 * pass 0 and the payload hash is used). */
typedef struct h5tx__plog_rec {
  uint8_t kind, enc;
  uint64_t key;
  uint32_t raw;
  uint64_t content;
  const void *payload;
  uint32_t stored;
} h5tx__plog_rec;

/* Open the log in directory `dir` of the store with id `sid`. `create`
 * makes the directory. Segment size 0: the default (1 GiB). */
int h5tx__plog_open(const char *dir, const uint8_t sid[16], int create, int read_only,
                    uint64_t seg_size, h5tx__plog **out, h5tx_error *err);
/* Seal the open segment (if this process made it) and close. */
void h5tx__plog_close(h5tx__plog *l);

/* A fresh, non-zero write id for a writer. */
uint64_t h5tx__plog_write_id(void);

/* The record check of a place whose payload hashes to `payload_hash`. */
uint64_t h5tx__plog_check(const uint8_t sid[16], const h5tx__place *p, uint64_t payload_hash);

/* Append `n` records under write id `wid` as one or more batches; the place
 * of each goes to places[i]. Not flushed. Errors: H5TX_EIO, H5TX_ENOSPC,
 * H5TX_EROFS, H5TX_EINVAL (a record too large for a segment). */
int h5tx__plog_append(h5tx__plog *l, uint64_t wid, const h5tx__plog_rec *recs, size_t n,
                      h5tx__place *places, h5tx_error *err);

/* Make everything appended so far by this handle durable (fdatasync of the
 * segments written since the last flush, and of the directory when a
 * segment was created). A no-op when nothing is pending. A segment whose
 * fdatasync fails is distrusted (h5tx__plog_untrusted) and left: appends
 * go on in a new segment. */
int h5tx__plog_flush(h5tx__plog *l, h5tx_error *err);

/* 1 if the record at `p` lies in a segment a flush of this handle failed
 * on: its bytes may never reach the disk, whatever a later flush says, so
 * a writer that still needs it reads it back (checked) and appends it
 * again. Such a segment is never appended to again. */
int h5tx__plog_untrusted(h5tx__plog *l, const h5tx__place *p);

/* Seal the open segment now (the next append opens a new one). */
int h5tx__plog_seal(h5tx__plog *l, h5tx_error *err);

/* Read the payload of `p` (p->stored bytes) into `dst` and verify its
 * check. H5TX_ECORRUPT ("segment S offset O: ...") on a mismatch or a
 * short file, H5TX_ENOENT if the segment is gone (err untouched: compaction
 * may have moved the record; look the place up again). */
int h5tx__plog_read(h5tx__plog *l, const h5tx__place *p, void *dst, h5tx_error *err);

/* Read `n` places into dsts[i] with one preadv per run of adjacent places
 * of one segment; every check verified. Errors as h5tx__plog_read. */
int h5tx__plog_read_run(h5tx__plog *l, const h5tx__place *p, size_t n, void *const *dsts,
                        h5tx_error *err);

/* Segment numbers present, ascending (malloc'd; the caller frees). */
int h5tx__plog_segments(h5tx__plog *l, uint64_t **segs, size_t *n, h5tx_error *err);
/* The path of segment `seg`'s file into `buf`. */
void h5tx__plog_seg_path(const h5tx__plog *l, uint64_t seg, char *buf, size_t cap);

/* 1 if a live process is still appending to segment `seg` (it holds the
 * segment's lock), 0 if not. */
int h5tx__plog_busy(h5tx__plog *l, uint64_t seg);

/* The number of the segment this handle appends to now, 0 if none (gc
 * seals it when it is mostly dead, so that it can be compacted). */
uint64_t h5tx__plog_open_segment(h5tx__plog *l);

/* Flush segment `seg` as it is (recovery: what a dead writer left).
 * H5TX_ENOENT if it is gone (err untouched). */
int h5tx__plog_sync_segment(h5tx__plog *l, uint64_t seg, h5tx_error *err);

/* Delete segment `seg` (gc, compaction). */
int h5tx__plog_delete(h5tx__plog *l, uint64_t seg, h5tx_error *err);

/* Scan segment `seg` batch by batch, verifying every batch header and
 * record check, and call `fn` for each record with its place and payload
 * (valid during the call). Stops at the end of the file, at a seal record,
 * or at the first batch that fails (a torn or corrupt tail): *end gets the
 * offset where the valid part ends, *sealed 1 if a seal record ended it,
 * and *why (may be NULL) the reason it stopped early (NULL: clean end).
 * A non-zero return of `fn` stops the scan and is returned. Errors:
 * H5TX_EIO, H5TX_ECORRUPT (the segment header itself fails). */
typedef int (*h5tx__plog_scan_fn)(void *arg, const h5tx__place *p, const void *payload,
                                  h5tx_error *err);
int h5tx__plog_scan(h5tx__plog *l, uint64_t seg, h5tx__plog_scan_fn fn, void *arg, uint64_t *end,
                    int *sealed, const char **why, h5tx_error *err);
/* The same from offset `from` (a batch boundary, as a previous scan's *end
 * or a commit's batch end gives; 0: from the first batch). The segment
 * header is checked either way. */
int h5tx__plog_scan_from(h5tx__plog *l, uint64_t seg, uint64_t from, h5tx__plog_scan_fn fn,
                         void *arg, uint64_t *end, int *sealed, const char **why, h5tx_error *err);

/* The size of segment `seg`'s file. H5TX_ENOENT if it is gone (err
 * untouched). */
int h5tx__plog_size(h5tx__plog *l, uint64_t seg, uint64_t *size, h5tx_error *err);

#endif
