/* codec.c - zstd and lz4 compression and XXH3-64 hashing behind one small
 * API (codec.h). Shared by the page store and the zstd filter plugin. */
#include "codec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t's size, for stack states */
#include <limits.h>
#include <lz4.h>
#include <xxhash.h>
#include <zstd.h>

#if defined(H5TX_HASH_SIMD)
uint64_t h5tx__hash_avx2(const void *p, size_t len);
uint64_t h5tx__hash_avx512(const void *p, size_t len);

static uint64_t hash_first(const void *p, size_t len);
static uint64_t (*hash_fn)(const void *, size_t) = hash_first;

/* The first call picks the widest vector unit this CPU has. */
static uint64_t hash_first(const void *p, size_t len) {
  uint64_t (*f)(const void *, size_t) = XXH3_64bits;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    f = h5tx__hash_avx512;
  else if (__builtin_cpu_supports("avx2"))
    f = h5tx__hash_avx2;
  __atomic_store_n(&hash_fn, f, __ATOMIC_RELAXED);
  return f(p, len);
}

uint64_t h5tx__hash(const void *p, size_t len) {
  return __atomic_load_n(&hash_fn, __ATOMIC_RELAXED)(p, len);
}
#else
uint64_t h5tx__hash(const void *p, size_t len) { return XXH3_64bits(p, len); }
#endif

_Static_assert(sizeof(XXH3_state_t) <= sizeof(((h5tx__hasher *)0)->state),
               "h5tx__hasher too small for XXH3_state_t");
_Static_assert(_Alignof(XXH3_state_t) <= 64, "h5tx__hasher alignment");

void h5tx__hasher_init(h5tx__hasher *h) {
  XXH3_INITSTATE((XXH3_state_t *)h->state);
  XXH3_64bits_reset((XXH3_state_t *)h->state);
}

void h5tx__hasher_add(h5tx__hasher *h, const void *p, size_t len) {
  XXH3_64bits_update((XXH3_state_t *)h->state, p, len);
}

uint64_t h5tx__hasher_end(h5tx__hasher *h) { return XXH3_64bits_digest((XXH3_state_t *)h->state); }

size_t h5tx__zstd_bound(size_t n) { return ZSTD_compressBound(n); }

int h5tx__zstd_clamp(int level) {
  if (level < ZSTD_minCLevel()) return ZSTD_minCLevel();
  if (level > ZSTD_maxCLevel()) return ZSTD_maxCLevel();
  return level;
}

/* Contexts are reused from a small pool: creating one costs more than
 * compressing a small page. A pool, not thread-local contexts, because
 * threads that exit would leak theirs, and a thread-local destructor would
 * run after HDF5 has unloaded the filter plugin. */
#define POOL 16
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_CCtx *cpool[POOL];
static ZSTD_DCtx *dpool[POOL];
static int ncpool, ndpool;

/* When the library or plugin holding this pool is unloaded (HDF5 closes its
 * filter plugins at exit) or the process ends, the pooled contexts go. */
__attribute__((destructor)) static void pool_free(void) {
  pthread_mutex_lock(&pool_lock);
  while (ncpool)
    ZSTD_freeCCtx(cpool[--ncpool]);
  while (ndpool)
    ZSTD_freeDCtx(dpool[--ndpool]);
  pthread_mutex_unlock(&pool_lock);
}

static ZSTD_CCtx *cctx_get(void) {
  pthread_mutex_lock(&pool_lock);
  ZSTD_CCtx *c = ncpool ? cpool[--ncpool] : NULL;
  pthread_mutex_unlock(&pool_lock);
  return c ? c : ZSTD_createCCtx();
}

static void cctx_put(ZSTD_CCtx *c) {
  pthread_mutex_lock(&pool_lock);
  if (ncpool < POOL) cpool[ncpool++] = c, c = NULL;
  pthread_mutex_unlock(&pool_lock);
  ZSTD_freeCCtx(c);
}

static ZSTD_DCtx *dctx_get(void) {
  pthread_mutex_lock(&pool_lock);
  ZSTD_DCtx *d = ndpool ? dpool[--ndpool] : NULL;
  pthread_mutex_unlock(&pool_lock);
  return d ? d : ZSTD_createDCtx();
}

static void dctx_put(ZSTD_DCtx *d) {
  pthread_mutex_lock(&pool_lock);
  if (ndpool < POOL) dpool[ndpool++] = d, d = NULL;
  pthread_mutex_unlock(&pool_lock);
  ZSTD_freeDCtx(d);
}

static size_t compress_with(ZSTD_CCtx *cc, void *dst, size_t cap, const void *src, size_t n,
                            int level, int checksum, const char **why) {
  ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
  size_t r = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, h5tx__zstd_clamp(level));
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum != 0);
  if (!ZSTD_isError(r)) r = ZSTD_compress2(cc, dst, cap, src, n);
  if (ZSTD_isError(r)) {
    if (why) *why = ZSTD_getErrorName(r);
    return 0;
  }
  return r;
}

size_t h5tx__zstd_content_size(const void *src, size_t n) {
  unsigned long long cs = ZSTD_getFrameContentSize(src, n);
  if (cs == ZSTD_CONTENTSIZE_UNKNOWN || cs == ZSTD_CONTENTSIZE_ERROR) return (size_t)-1;
  return (size_t)cs;
}

static size_t decompress_with(ZSTD_DCtx *dc, void *dst, size_t cap, const void *src, size_t n,
                              const char **why) {
  unsigned long long cs = ZSTD_getFrameContentSize(src, n);
  if (cs == ZSTD_CONTENTSIZE_ERROR) {
    if (why) *why = "not a zstd frame";
    return (size_t)-1;
  }
  if (cs != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (cs > cap) {
      if (why) *why = "frame decodes to more bytes than expected";
      return (size_t)-1;
    }
    size_t r = ZSTD_decompressDCtx(dc, dst, cap, src, n);
    if (ZSTD_isError(r)) {
      if (why) *why = ZSTD_getErrorName(r);
      return (size_t)-1;
    }
    if (r != cs) {
      if (why) *why = "frame decoded to fewer bytes than it declares";
      return (size_t)-1;
    }
    return r;
  }
  /* No content size: stream it. */
  ZSTD_DCtx_reset(dc, ZSTD_reset_session_only);
  ZSTD_inBuffer in = {src, n, 0};
  ZSTD_outBuffer out = {dst, cap, 0};
  for (;;) {
    size_t r = ZSTD_decompressStream(dc, &out, &in);
    if (ZSTD_isError(r)) {
      if (why) *why = ZSTD_getErrorName(r);
      return (size_t)-1;
    }
    if (r == 0) break; /* frame complete */
    if (in.pos == in.size && out.pos < out.size) {
      if (why) *why = "truncated zstd frame";
      return (size_t)-1;
    }
    if (out.pos == out.size) {
      /* Output full but frame not done: too large or need flush. */
      uint8_t probe;
      ZSTD_outBuffer o2 = {&probe, 1, 0};
      r = ZSTD_decompressStream(dc, &o2, &in);
      if (ZSTD_isError(r)) {
        if (why) *why = ZSTD_getErrorName(r);
        return (size_t)-1;
      }
      if (o2.pos) {
        if (why) *why = "frame decodes to more bytes than expected";
        return (size_t)-1;
      }
      if (r == 0) break;
      if (in.pos == in.size) {
        if (why) *why = "truncated zstd frame";
        return (size_t)-1;
      }
    }
  }
  if (in.pos != in.size) {
    if (why) *why = "trailing bytes after the zstd frame";
    return (size_t)-1;
  }
  return out.pos;
}

size_t h5tx__zstd_compress(void *dst, size_t cap, const void *src, size_t n, int level,
                           int checksum, const char **why) {
  ZSTD_CCtx *c = cctx_get();
  if (!c) {
    if (why) *why = "out of memory for a zstd context";
    return 0;
  }
  size_t r = compress_with(c, dst, cap, src, n, level, checksum, why);
  cctx_put(c);
  return r;
}

size_t h5tx__zstd_decompress(void *dst, size_t cap, const void *src, size_t n, const char **why) {
  ZSTD_DCtx *d = dctx_get();
  if (!d) {
    if (why) *why = "out of memory for a zstd context";
    return (size_t)-1;
  }
  size_t r = decompress_with(d, dst, cap, src, n, why);
  dctx_put(d);
  return r;
}

int h5tx__zstd_decompress_alloc(const void *src, size_t n, size_t max, void **out, size_t *out_len,
                                const char **why) {
  *out = NULL;
  *out_len = 0;
  unsigned long long cs = ZSTD_getFrameContentSize(src, n);
  if (cs == ZSTD_CONTENTSIZE_ERROR) {
    if (why) *why = "not a zstd frame";
    return -1;
  }
  if (cs != ZSTD_CONTENTSIZE_UNKNOWN && cs > max) {
    if (why) *why = "frame declares more bytes than allowed";
    return -1;
  }
  /* Known size: exactly that. Unknown: start at 4x the input, grow by 2x. */
  size_t cap = cs != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)cs : (n < max / 4 ? n * 4 : max);
  if (cap == 0) cap = 1;
  for (;;) {
    uint8_t *buf = malloc(cap);
    if (!buf) {
      if (why) *why = "out of memory";
      return -1;
    }
    const char *w = NULL;
    size_t got = h5tx__zstd_decompress(buf, cap, src, n, &w);
    if (got != (size_t)-1) {
      *out = buf;
      *out_len = got;
      return 0;
    }
    free(buf);
    /* Only a frame of unknown size that did not fit is worth another try. */
    if (cs != ZSTD_CONTENTSIZE_UNKNOWN || !w || strstr(w, "more bytes than expected") == NULL ||
        cap >= max) {
      if (why) *why = w;
      return -1;
    }
    cap = cap > max / 2 ? max : cap * 2;
  }
}

size_t h5tx__lz4_compress(void *dst, size_t cap, const void *src, size_t n) {
  if (n > LZ4_MAX_INPUT_SIZE || cap > INT_MAX) return 0;
  int r = LZ4_compress_default(src, dst, (int)n, (int)cap);
  return r > 0 ? (size_t)r : 0;
}

size_t h5tx__lz4_decompress(void *dst, size_t cap, const void *src, size_t n, const char **why) {
  if (n > INT_MAX || cap > INT_MAX) {
    if (why) *why = "lz4 block too large";
    return (size_t)-1;
  }
  int r = LZ4_decompress_safe(src, dst, (int)n, (int)cap);
  if (r < 0) {
    if (why) *why = "lz4 block does not decode";
    return (size_t)-1;
  }
  return (size_t)r;
}

void h5tx__zpolicy_init(h5tx__zpolicy *p) { memset(p, 0, sizeof *p); }

int h5tx__zpolicy_try(h5tx__zpolicy *p) {
  if (p->misses < H5TX_ZP_GIVE_UP) return 1;
  if (++p->skipped < H5TX_ZP_PROBE) return 0;
  p->skipped = 0; /* a probe */
  return 1;
}

void h5tx__zpolicy_result(h5tx__zpolicy *p, int paid) {
  p->tried++;
  if (paid) {
    p->paid++;
    p->misses = 0;
    p->skipped = 0;
  } else if (p->misses < H5TX_ZP_GIVE_UP) {
    p->misses++;
  }
}
