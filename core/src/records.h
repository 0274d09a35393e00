/* records.h - keys and records of the on-disk format (docs/FORMAT.md):
 * building keys, encoding and checking page, commit, file and lease
 * records. The only place that knows their byte layout. */
#ifndef H5TX_RECORDS_H
#define H5TX_RECORDS_H

#include "codec.h"
#include "internal.h"
#include "kv.h"

#define H5TX_PAGE_KEY 24
#define H5TX_LEN_KEY 16
#define H5TX_NAME_KEY_MAX (H5TX_MAX_NAME + 9)
#define H5TX_PAGE_HDR 24

enum { H5TX_ENC_ZERO = 0, H5TX_ENC_RAW = 1, H5TX_ENC_ZSTD = 2 };

void h5tx__page_key(uint8_t k[H5TX_PAGE_KEY], uint64_t fid, uint64_t page, h5tx_rev rev);
void h5tx__len_key(uint8_t k[H5TX_LEN_KEY], uint64_t fid, h5tx_rev rev);
/* Returns the key length. */
size_t h5tx__name_key(uint8_t k[H5TX_NAME_KEY_MAX], const char *name, size_t nlen, h5tx_rev rev);
/* Revision stored in the last 8 bytes of a key. */
h5tx_rev h5tx__key_rev(const h5tx__val *k);

/* A page record, parsed and checksum-verified. */
typedef struct h5tx__page_rec {
  int enc;
  uint32_t raw_len;
  uint64_t content;
  const uint8_t *payload;
  size_t payload_len;
} h5tx__page_rec;

/* Parse and verify a stored page record under `key`. On failure returns -1
 * with the reason in *why. */
int h5tx__page_parse(const h5tx__val *key, const h5tx__val *val, h5tx__page_rec *out,
                     const char **why);
/* Decode a parsed record into `dst` (`page_size` bytes); a decompressed
 * page is checked against its content hash (a raw one is already covered by
 * the record checksum). -1 with *why on failure. */
int h5tx__page_decode(const h5tx__page_rec *r, uint8_t *dst, uint32_t page_size, const char **why);
/* Largest encoded record for a page of `page_size`. */
size_t h5tx__page_bound(uint32_t page_size);
/* Encode `page` (content hash `content`) for `key` into `dst` (capacity
 * h5tx__page_bound()). All-zero pages become zero records. With `zp`
 * (may be NULL: always try), zstd is tried only when the policy says so.
 * Returns the record size. */
size_t h5tx__page_encode(uint8_t *dst, const uint8_t key[H5TX_PAGE_KEY], const uint8_t *page,
                         uint32_t page_size, uint64_t content, int codec, int level,
                         h5tx__zpolicy *zp);
/* 1 if all `n` bytes are zero. */
int h5tx__is_zero(const uint8_t *p, size_t n);

/* Commit records. */
#define H5TX_COMMIT_COLLECTED 1u
#define H5TX_COMMIT_COLLECTING 2u
typedef struct h5tx__commit_rec {
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
  uint64_t bytes_added;
  uint64_t pages_added;
} h5tx__commit_rec;
size_t h5tx__commit_size(const h5tx__commit_rec *c);
void h5tx__commit_encode(uint8_t *dst, const h5tx__commit_rec *c);
int h5tx__commit_parse(const h5tx__val *v, h5tx__commit_rec *out);
/* Offset of the flags word inside an encoded commit record. */
#define H5TX_COMMIT_FLAGS_OFF 4

/* File records. */
typedef struct h5tx__file_rec {
  uint32_t page_size;
  h5tx_rev created;
} h5tx__file_rec;
int h5tx__file_parse(const h5tx__val *v, h5tx__file_rec *out);

/* Lease records. */
typedef struct h5tx__lease_rec {
  uint32_t pid;
  uint64_t start, boot, time_ns, token;
  char host[256];
} h5tx__lease_rec;
size_t h5tx__lease_encode(uint8_t *dst /* >= 40 + 256 */, const h5tx__lease_rec *l);
int h5tx__lease_parse(const h5tx__val *v, h5tx__lease_rec *out);

/* meta/<word> as LE64 (H5TX_ENOENT if absent). */
int h5tx__meta_get(h5tx__txn *t, const char *word, uint64_t *v, h5tx_error *err);
int h5tx__meta_put(h5tx__txn *t, const char *word, uint64_t v, h5tx_error *err);

/* Newest entry of `names` for `name` at or below `rev`: the file id (0 =
 * removed/absent) and, if wanted, the revision of that entry.
 * H5TX_ENOENT when the name has no entry at or below rev. */
int h5tx__name_lookup(h5tx__txn *t, const char *name, h5tx_rev rev, uint64_t *fid, h5tx_rev *at,
                      h5tx_error *err);
/* 0 if a file `name` can exist at `rev` beside the files there (other than
 * `except`, NULL for none): no file is a directory above it ('x' for 'x/y')
 * and no file lies under it ('x/y' for 'x'), as the mount could not show
 * both. Else `code` with a message naming the file in the way. */
int h5tx__name_clash(h5tx__txn *t, const char *store, const char *name, const char *except,
                     h5tx_rev rev, int code, h5tx_error *err);
/* Newest `lengths` entry of file `fid` at or below `rev`: length and its
 * revision. H5TX_ENOENT if none. */
int h5tx__length_lookup(h5tx__txn *t, uint64_t fid, h5tx_rev rev, uint64_t *len, h5tx_rev *at,
                        h5tx_error *err);

#endif
