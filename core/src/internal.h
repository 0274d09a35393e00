/* internal.h - helpers shared by the page store's source files: error
 * reporting, byte order, name checks. Nothing here is public API; every
 * non-static symbol is prefixed h5tx__ and hidden from the shared object. */
#ifndef H5TX_INTERNAL_H
#define H5TX_INTERNAL_H

#include "h5tx.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define H5TX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define H5TX_PRINTF(a, b)
#endif

/* Fill `err` (if not NULL) with `code` and a formatted message; returns
 * `code`, so a failure path reads `return h5tx__err(err, ...)`. */
int h5tx__err(h5tx_error *err, int code, const char *fmt, ...) H5TX_PRINTF(3, 4);

/* Map an errno value to an h5tx code (ENOSPC/EDQUOT -> ENOSPC, ENOMEM ->
 * ENOMEM, else EIO). */
int h5tx__errno_code(int e);

static inline void h5tx__be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}
static inline uint64_t h5tx__get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}
static inline void h5tx__le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}
static inline uint64_t h5tx__get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}
static inline void h5tx__le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}
static inline uint32_t h5tx__get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void h5tx__le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline uint16_t h5tx__get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The longest file name: LMDB keys are at most 511 bytes and the names
 * table keys a name with 9 bytes of its own (a 00 and the revision); the
 * leases table keys the bare name. */
#define H5TX_MAX_NAME 502
/* The longest part of a name: a directory entry's (NAME_MAX), so the mount
 * can show it. */
#define H5TX_MAX_PART 255
#define H5TX_MAX_TAG 255

/* 0 if `name` is a valid file name to look up in a store (docs/FORMAT.md),
 * else H5TX_EINVAL with a message saying why. */
int h5tx__check_name(const char *name, h5tx_error *err);

/* 0 if a file may be created under `name`: h5tx__check_name() and, so the
 * mount can show it, no control characters, not '.h5tx' at the root, no
 * part over H5TX_MAX_PART bytes. Else H5TX_EINVAL. */
int h5tx__check_new_name(const char *name, h5tx_error *err);

/* 1 if `ps` is a valid page size (config.c): a power of two, H5TX_MIN_PAGE_SIZE to
 * H5TX_MAX_PAGE_SIZE. */
int h5tx__page_size_ok(uint64_t ps);

/* The one check of page size, codec, level and durability options
 * (config.c; 0 and -1 mean "not given"): H5TX_EINVAL with `prefix`
 * ("store S: " or "") and what is wrong. */
int h5tx__check_options(const char *prefix, uint32_t page_size, int codec, int level,
                        int durability, h5tx_error *err);

/* 0 if `name` is a valid tag name, else H5TX_EINVAL. */
int h5tx__check_tag(const char *name, h5tx_error *err);

/* fsync directory `dir` (its entries are then on disk): 0 or an errno. */
int h5tx__sync_dir(const char *dir);

/* Make a new temporary directory `.BASE.tmp-PID-RANDOM` in `parent` for
 * store `path` (mode 0777 less the umask; a setgid parent's group and bit
 * are inherited); its name in `tmp`. A name left by a crashed process, even
 * one that had this pid, is never reused. Errors start with `what` ("cannot
 * create store"). */
int h5tx__make_tmp_dir(const char *what, const char *path, const char *parent, const char *base,
                       char *tmp, size_t cap, h5tx_error *err);

/* The directory part and the last part of `path` (dirname and basename),
 * each malloc'd: 0, or -1 out of memory (both NULL). */
int h5tx__path_split(const char *path, char **parent, char **base);

/* Remove directory `dir` and everything under it, as far as it can. */
void h5tx__remove_tree(const char *dir);

/* What kind of file st_mode `mode` describes ("a FIFO"), for messages. */
const char *h5tx__file_kind(unsigned mode);
/* Make room in the array `*pv` (capacity `*cap` elements of `size` bytes)
 * for element index `n`, doubling it from `first`. 0, or -1 (out of
 * memory; the array is unchanged). */
int h5tx__grow(void *pv, size_t *cap, size_t n, size_t size, size_t first);

/* Wall clock in ns since the epoch. */
uint64_t h5tx__now_ns(void);

#endif
