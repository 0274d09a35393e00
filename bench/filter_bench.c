/* filter_bench.c - the zstd filter (32015) against HDF5's deflate, in one
 * run: compression ratio and write/read MiB/s on realistic arrays (smooth
 * floats, noisy floats, integer counters, mostly zeros), for zstd levels
 * 1/3/9/19, shuffle+zstd 3, deflate 1/6 and shuffle+deflate 6. Datasets are
 * written to an in-memory HDF5 file (core driver, no backing store), so the
 * figures are the filters' cost, not the disk's. Medians over trials.
 *
 *   h5tx_filter_bench [--mib N] [--trials T] [--chunk-kib K]
 * HDF5_PLUGIN_PATH must name the directory holding libh5zstd.so. */
#include "bench_util.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define ZSTD_ID 32015
#define MAXT 15

typedef struct codec {
  const char *name;
  int shuffle;
  int zstd;    /* level, or 0 for none */
  int deflate; /* level, or -1 for none */
} codec;

static const codec codecs[] = {
    {"none", 0, 0, -1},     {"zstd 1", 0, 1, -1},   {"zstd 3", 0, 3, -1},
    {"zstd 9", 0, 9, -1},   {"zstd 19", 0, 19, -1}, {"shuffle + zstd 3", 1, 3, -1},
    {"deflate 1", 0, 0, 1}, {"deflate 6", 0, 0, 6}, {"shuffle + deflate 6", 1, 0, 6},
};
#define NCODECS (sizeof codecs / sizeof *codecs)

static const char *const kinds[] = {"smooth float64", "noisy float64", "int64 counters",
                                    "mostly-zero float64"};
#define NKINDS 4

static uint64_t rng = 42;
static double uniform(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng >> 11) * 0x1.0p-53;
}

/* The arrays: what measured data tends to look like. */
static void make(int kind, void *buf, size_t n) {
  double *d = buf;
  int64_t *c = buf;
  int64_t count = 0;
  for (size_t i = 0; i < n; i++)
    switch (kind) {
    case 0: d[i] = 20.0 + 5.0 * sin(i * 1e-4) + 0.5 * sin(i * 3e-3); break;
    case 1:
      d[i] = 20.0 + 5.0 * sin(i * 1e-4) +
             0.05 * sqrt(-2 * log(uniform() + 1e-300)) * cos(6.283185 * uniform());
      break;
    case 2:
      count += (int64_t)(uniform() * 8);
      c[i] = count;
      break;
    default: d[i] = uniform() < 0.02 ? uniform() * 1000 : 0.0;
    }
}

static void need(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "filter_bench: %s failed\n", what);
    H5Eprint2(H5E_DEFAULT, stderr);
    exit(1);
  }
}

/* One write + read of `buf` through `c`; returns seconds and the ratio. */
static void run(const codec *c, hid_t type, const void *buf, size_t n, hsize_t chunk, void *back,
                double *w, double *r, double *ratio) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  need(H5Pset_fapl_core(fapl, 64 << 20, 0) >= 0, "core driver");
  hid_t f = H5Fcreate("filter_bench.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  need(f >= 0, "create");
  hsize_t dims[1] = {n};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  need(H5Pset_chunk(dcpl, 1, &chunk) >= 0, "chunk");
  if (c->shuffle) need(H5Pset_shuffle(dcpl) >= 0, "shuffle");
  if (c->zstd) {
    unsigned cd = (unsigned)c->zstd;
    need(H5Pset_filter(dcpl, ZSTD_ID, H5Z_FLAG_MANDATORY, 1, &cd) >= 0, "zstd filter");
  }
  if (c->deflate >= 0) need(H5Pset_deflate(dcpl, (unsigned)c->deflate) >= 0, "deflate");
  hid_t d = H5Dcreate2(f, "x", type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  need(d >= 0, "dataset (is HDF5_PLUGIN_PATH set?)");
  double t0 = bench_now_s();
  need(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "write");
  need(H5Dclose(d) >= 0, "close");
  *w = bench_now_s() - t0;
  d = H5Dopen2(f, "x", H5P_DEFAULT);
  hsize_t stored = H5Dget_storage_size(d);
  /* Read through a fresh chunk cache: no chunk is served from memory. */
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  H5Pset_chunk_cache(dapl, 0, 0, 1.0);
  H5Dclose(d);
  d = H5Dopen2(f, "x", dapl);
  t0 = bench_now_s();
  need(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0, "read");
  *r = bench_now_s() - t0;
  need(memcmp(buf, back, n * 8) == 0, "round trip (data differs)");
  *ratio = (double)(n * 8) / (double)stored;
  H5Pclose(dapl);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Fclose(f);
  H5Pclose(fapl);
}

int main(int argc, char **argv) {
  bench_init("filter_bench");
  size_t mib = 64;
  int trials = 3;
  size_t chunk_kib = 1024;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--mib") && i + 1 < argc)
      mib = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--trials") && i + 1 < argc)
      trials = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--chunk-kib") && i + 1 < argc)
      chunk_kib = (size_t)atol(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--mib N] [--trials T (<= %d)] [--chunk-kib K]\n", argv[0], MAXT);
      return 2;
    }
  }
  if (trials < 1 || trials > MAXT || mib == 0 || chunk_kib == 0) {
    fprintf(stderr, "filter_bench: bad options\n");
    return 2;
  }
  size_t n = mib * 1024 * 1024 / 8;
  hsize_t chunk = chunk_kib * 1024 / 8;
  void *buf = malloc(n * 8), *back = malloc(n * 8);
  need(buf && back, "memory");
  struct utsname u;
  uname(&u);
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  printf("- machine: nproc %ld, %s %s; HDF5 %u.%u.%u; in-memory file (core driver)\n",
         sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, maj, min, rel);
  printf("- command: `");
  for (int i = 0; i < argc; i++)
    printf("%s%s", i ? " " : "", argv[i]);
  printf("`\n- %zu MiB per array in %zu KiB chunks, median of %d trials; ratio = raw / stored\n\n",
         mib, chunk_kib, trials);
  for (int k = 0; k < NKINDS; k++) {
    make(k, buf, n);
    hid_t type = k == 2 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    printf("### %s\n\n| filter | ratio | write MiB/s | read MiB/s |\n|---|---|---|---|\n",
           kinds[k]);
    for (size_t c = 0; c < NCODECS; c++) {
      double ws[MAXT], rs[MAXT], ratio = 0;
      for (int t = 0; t < trials; t++)
        run(&codecs[c], type, buf, n, chunk, back, &ws[t], &rs[t], &ratio);
      printf("| %s | %.2f | %.0f | %.0f |\n", codecs[c].name, ratio,
             (double)mib / bench_median(ws, trials), (double)mib / bench_median(rs, trials));
      fflush(stdout);
    }
    printf("\n");
  }
  free(buf);
  free(back);
  return 0;
}
