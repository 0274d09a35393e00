/* codec.h - the one place that wraps zstd, lz4 and the checksum (XXH3-64).
 * Used by the page store and by the zstd filter plugin; depends on neither
 * LMDB nor HDF5. Every function reports errors by return value. */
#ifndef H5TX_CODEC_H
#define H5TX_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* XXH3-64 of `len` bytes at `p` (seed 0). */
uint64_t h5tx__hash(const void *p, size_t len);

/* Incremental XXH3-64 over several pieces (same result as h5tx__hash over
 * their concatenation). Lives on the stack: no allocation. */
typedef struct h5tx__hasher {
  _Alignas(64) unsigned char state[640];
} h5tx__hasher;
void h5tx__hasher_init(h5tx__hasher *h);
void h5tx__hasher_add(h5tx__hasher *h, const void *p, size_t len);
uint64_t h5tx__hasher_end(h5tx__hasher *h);

/* Largest output of h5tx__zstd_compress for `n` input bytes. */
size_t h5tx__zstd_bound(size_t n);

/* Clamp `level` to zstd's range. */
int h5tx__zstd_clamp(int level);

/* Compress `n` bytes into one zstd frame carrying its content size and,
 * with `checksum`, zstd's content checksum (which every zstd decoder
 * verifies).
 * Returns the frame's size, or 0 on error (the message goes to `why`,
 * which may be NULL). */
size_t h5tx__zstd_compress(void *dst, size_t cap, const void *src, size_t n, int level,
                           int checksum, const char **why);

/* Decode one zstd frame of `n` bytes into `dst` (capacity `cap`).
 * Frames without a content size are decoded by streaming. Returns the
 * decoded size, or (size_t)-1 on any error (corrupt, truncated, larger
 * than `cap`), with the reason in `why` (may be NULL). */
size_t h5tx__zstd_decompress(void *dst, size_t cap, const void *src, size_t n, const char **why);

/* Decode one zstd frame of `n` bytes into a new malloc'd buffer (*out, of
 * *out_len bytes; the caller frees it). Frames without a content size are
 * streamed into a growing buffer, never beyond `max` bytes. Returns 0, or -1
 * with the reason in `why` (may be NULL) and *out NULL. */
int h5tx__zstd_decompress_alloc(const void *src, size_t n, size_t max, void **out, size_t *out_len,
                                const char **why);

/* The decoded size a frame declares, or (size_t)-1 if it has none or is not
 * a zstd frame. */
size_t h5tx__zstd_content_size(const void *src, size_t n);

/* The codec of a store made without one (H5TX_CODEC_LZ4), and the zstd
 * level of a store made without one (docs/DECISIONS.md, "Reads of
 * compressed pages: the default codec"). */
#define H5TX__CODEC_DEFAULT 2
#define H5TX__ZSTD_DEFAULT_LEVEL 3

/* Compress `n` bytes into one LZ4 block (no frame, no checksum) of at most
 * `cap` bytes: its size, or 0 if it does not fit (or n is too large). */
size_t h5tx__lz4_compress(void *dst, size_t cap, const void *src, size_t n);

/* Decode one LZ4 block of `n` bytes into `dst` (capacity `cap`): the
 * decoded size, or (size_t)-1 if it is malformed or decodes to more than
 * `cap` bytes (the reason in `why`, which may be NULL). Never reads or
 * writes outside the two buffers, whatever the input. */
size_t h5tx__lz4_decompress(void *dst, size_t cap, const void *src, size_t n, const char **why);

/* Whether to try compressing the next page of a stream of pages. Data that
 * zstd cannot shrink by an eighth (noisy floats save ~7 %) costs a full
 * compression per page for nothing, inside the commit; so after
 * H5TX_ZP_GIVE_UP pages in a row that did not pay, only one page in
 * H5TX_ZP_PROBE is tried, and the first probe that pays resumes trying
 * every page (docs/DECISIONS.md, "Format 2"). No allocation, no lock. */
#define H5TX_ZP_GIVE_UP 8
#define H5TX_ZP_PROBE 64
typedef struct h5tx__zpolicy {
  uint32_t misses;  /* consecutive pages that did not pay */
  uint32_t skipped; /* pages stored raw untried since the last probe */
  uint64_t tried, paid;
} h5tx__zpolicy;
void h5tx__zpolicy_init(h5tx__zpolicy *p);
/* 1: compress this page and report with h5tx__zpolicy_result; 0: store it
 * raw without trying. */
int h5tx__zpolicy_try(h5tx__zpolicy *p);
void h5tx__zpolicy_result(h5tx__zpolicy *p, int paid);

#endif
