/* soak_writer.c - the C side of the crash soak (soak.py runs it):
 *
 *   soak_writer capi STORE NAME SEED     commit random edits of NAME through
 *                                        the C API, forever
 *   soak_writer vfd STORE NAME SEED      grow dataset "log" of HDF5 file NAME
 *                                        through the driver and flush, forever
 *   soak_writer digest STORE NAME        print head's "REV LEN HASH" of NAME
 *   soak_writer hash FILE...             print "LEN HASH" of plain files
 *   soak_writer vfd-check STORE NAME     print the count N of head's "log",
 *                                        after checking every value
 *
 * Writers report on stdout, one write(2) per line, before they go on, so a
 * SIGKILL can never lose a report of something that happened:
 *   "about K LEN HASH" before commit K, "committed K REV LEN HASH" after it
 *   (capi); "about N" before the flush that commits N values, "committed N"
 *   after it (vfd). A state is the file's whole content (LEN bytes whose
 *   hash is HASH), or the dataset's N values value(0..N-1); a dataset about
 *   to outgrow MAX_VALUES starts over from 0.
 * Exit status: 0, 1 on a failed check or call (message on stderr). */
#include "h5tx.h"

#include "H5FDh5tx.h"
#include <hdf5.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LEN (1u << 20)
#define MAX_WRITE (96u << 10)
#define MAX_VALUES 200000 /* the HDF5 writers' dataset (soak_h5py.py too) */

static int fail(const char *what, const h5tx_error *e) {
  fprintf(stderr, "soak_writer: %s: %s\n", what, e ? e->msg : "");
  return 1;
}

/* splitmix64, as the C tests use: every random choice follows from SEED. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t rng_below(uint64_t *s, uint64_t n) { return n ? rng_next(s) % n : 0; }

/* FNV-1a 64 with the length folded in: the state's identity in reports. */
static uint64_t digest(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull ^ n;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* One report line, in one write(2): a pipe keeps it even if we die next. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n <= 0 || (size_t)n >= sizeof line || write(1, line, (size_t)n) != n) _exit(3);
}

/* ---- capi --------------------------------------------------------------- */

/* Random bytes, zeros or a short pattern (so zstd, raw and zero pages all
 * occur). */
static void fill(uint8_t *b, size_t n, uint64_t *rng) {
  uint64_t kind = rng_below(rng, 3), pat = rng_next(rng);
  for (size_t i = 0; i < n; i++) {
    if (kind == 0 && i % 8 == 0) pat = rng_next(rng);
    b[i] = kind == 1 ? 0 : (uint8_t)(pat >> (8 * (i % 8)));
  }
}

static int capi(const char *path, const char *name, uint64_t seed) {
  h5tx_error e = {0, ""};
  h5tx_store_opts so;
  h5tx_store_opts_init(&so);
  so.page_size = 4096;
  so.dirty_limit = rng_below(&seed, 2) ? 64u << 10 : 0; /* sometimes spill to disk */
  h5tx_store *s;
  if (h5tx_store_open(path, &so, &s, &e)) return fail("open store", &e);
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.durability = rng_below(&seed, 2) ? H5TX_SYNC : H5TX_NOSYNC;
  h5tx_writer *w;
  if (h5tx_writer_open(s, name, &wo, &w, &e)) return fail("open writer", &e);
  uint8_t *buf = calloc(MAX_LEN, 1), *tmp = malloc(MAX_WRITE);
  if (!buf || !tmp) return fail("out of memory", NULL);
  uint64_t len = h5tx_writer_length(w);
  if (len > MAX_LEN) return fail("file longer than the soak makes it", NULL);
  if (len && h5tx_writer_read(w, 0, buf, len, &e)) return fail("read head", &e);
  for (uint64_t k = 1;; k++) {
    int edits = 1 + (int)rng_below(&seed, 4);
    for (int i = 0; i < edits; i++) {
      if (rng_below(&seed, 8) == 0) {
        uint64_t to = rng_below(&seed, MAX_LEN + 1);
        if (to < len) memset(buf + to, 0, len - to);
        len = to;
        if (h5tx_writer_truncate(w, to, &e)) return fail("truncate", &e);
      } else {
        uint64_t n = 1 + rng_below(&seed, MAX_WRITE);
        uint64_t off = rng_below(&seed, MAX_LEN - n + 1);
        fill(tmp, n, &seed);
        memcpy(buf + off, tmp, n);
        if (off + n > len) len = off + n;
        if (h5tx_writer_write(w, off, tmp, n, &e)) return fail("write", &e);
      }
    }
    uint64_t h = digest(buf, len);
    report("about %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n", k, len, h);
    h5tx_rev rev;
    char msg[64];
    snprintf(msg, sizeof msg, "soak %" PRIu64, k);
    if (h5tx_writer_commit(w, msg, &rev, &e)) return fail("commit", &e);
    report("committed %" PRIu64 " %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n", k, rev, len, h);
  }
}

static int head_digest(const char *path, const char *name) {
  h5tx_error e = {0, ""};
  h5tx_store_opts so;
  h5tx_store_opts_init(&so);
  so.read_only = 1;
  h5tx_store *s;
  if (h5tx_store_open(path, &so, &s, &e)) return fail("open store", &e);
  h5tx_snap *snap;
  if (h5tx_snap_open(s, H5TX_HEAD, &snap, &e)) return fail("open head", &e);
  h5tx_stat st;
  int rc = h5tx_snap_stat(snap, name, &st, &e);
  if (rc == H5TX_ENOENT) {
    printf("%" PRIu64 " - -\n", h5tx_snap_rev(snap));
  } else if (rc) {
    return fail("stat", &e);
  } else {
    uint8_t *buf = malloc(st.length ? st.length : 1);
    if (!buf) return fail("out of memory", NULL);
    if (h5tx_snap_read(snap, name, 0, buf, st.length, &e)) return fail("read head", &e);
    printf("%" PRIu64 " %" PRIu64 " %016" PRIx64 "\n", h5tx_snap_rev(snap), st.length,
           digest(buf, st.length));
    free(buf);
  }
  h5tx_snap_close(snap);
  h5tx_store_close(s);
  return 0;
}

static int file_digest(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail(path, NULL);
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  if (!buf || ferror(f)) return fail(path, NULL);
  fclose(f);
  printf("%zu %016" PRIx64 "\n", n, digest(buf, n));
  free(buf);
  return 0;
}

/* ---- vfd ---------------------------------------------------------------- */

static int64_t value(uint64_t i) { return (int64_t)(i * 2654435761u % 1000003); }

static hid_t fapl_for(const char *store, int latest) {
  char cfg[4200];
  snprintf(cfg, sizeof cfg, "store=%s", store);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_h5tx(fapl, cfg) < 0) return -1;
  if (latest && H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) return -1;
  return fapl;
}

static int vfd(const char *store, const char *name, uint64_t seed) {
  hid_t fapl = fapl_for(store, 1);
  hid_t f = -1, d = -1;
  H5E_BEGIN_TRY { f = H5Fopen(name, H5F_ACC_RDWR, fapl); }
  H5E_END_TRY;
  if (f < 0) {
    f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hsize_t dims[1] = {0}, max[1] = {H5S_UNLIMITED}, chunk[1] = {1024};
    hid_t sp = H5Screate_simple(1, dims, max), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    if (f >= 0) d = H5Dcreate2(f, "log", H5T_NATIVE_INT64, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
  } else {
    d = H5Dopen2(f, "log", H5P_DEFAULT);
  }
  if (f < 0 || d < 0) return fail("open or create the HDF5 file through the driver", NULL);
  hid_t sp = H5Dget_space(d);
  hsize_t n;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  H5Sclose(sp);
  static int64_t buf[20000];
  for (;;) {
    hsize_t add = 1 + rng_below(&seed, 20000), total = n + add;
    if (total > MAX_VALUES) { /* start over, so rounds stay short */
      n = 0;
      total = add;
    }
    for (hsize_t i = 0; i < add; i++)
      buf[i] = value(n + i);
    hsize_t off[1] = {n}, cnt[1] = {add};
    if (H5Dset_extent(d, &total) < 0) return fail("extend", NULL);
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    if (H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, buf) < 0) return fail("write", NULL);
    H5Sclose(ms);
    H5Sclose(fs);
    report("about %llu\n", (unsigned long long)total);
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return fail("flush (commit)", NULL);
    report("committed %llu\n", (unsigned long long)total);
    n = total;
  }
}

static int vfd_check(const char *store, const char *name) {
  hid_t fapl = fapl_for(store, 0);
  hid_t f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  hid_t d = f < 0 ? -1 : H5Dopen2(f, "log", H5P_DEFAULT);
  if (d < 0) return fail("head does not open as HDF5 with dataset 'log'", NULL);
  hid_t sp = H5Dget_space(d);
  hsize_t n;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  H5Sclose(sp);
  int64_t *v = malloc((n ? n : 1) * sizeof *v);
  if (!v || (n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0))
    return fail("read 'log'", NULL);
  for (hsize_t i = 0; i < n; i++)
    if (v[i] != value(i)) {
      fprintf(stderr, "soak_writer: log[%llu] = %lld, want %lld\n", (unsigned long long)i,
              (long long)v[i], (long long)value(i));
      return 1;
    }
  free(v);
  H5Dclose(d);
  H5Fclose(f);
  H5Pclose(fapl);
  printf("%llu\n", (unsigned long long)n);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "capi") == 0 && argc == 5)
    return capi(argv[2], argv[3], strtoull(argv[4], 0, 0));
  if (strcmp(mode, "vfd") == 0 && argc == 5) return vfd(argv[2], argv[3], strtoull(argv[4], 0, 0));
  if (strcmp(mode, "digest") == 0 && argc == 4) return head_digest(argv[2], argv[3]);
  if (strcmp(mode, "vfd-check") == 0 && argc == 4) return vfd_check(argv[2], argv[3]);
  if (strcmp(mode, "hash") == 0 && argc >= 3) {
    for (int i = 2; i < argc; i++)
      if (file_digest(argv[i])) return 1;
    return 0;
  }
  fprintf(stderr, "usage: soak_writer capi|vfd STORE NAME SEED | digest|vfd-check STORE NAME | "
                  "hash FILE...\n");
  return 2;
}
