/* core_bench.c - the h5tx page store against plain POSIX I/O, in one run.
 *
 * What it measures, on the same file system and in the same process:
 *  - big write: N MiB (default 256) of float64 data (a smooth signal plus
 *    noise, so zstd has something to do but not much) written in 1 MiB
 *    calls. POSIX: open + pwrite (+ fsync for "sync"). h5tx: writer_open
 *    (create) + h5tx_writer_write + h5tx_writer_commit with durability
 *    H5TX_SYNC or H5TX_NOSYNC. Reported in MiB/s.
 *  - full read: the same bytes read back in 1 MiB calls, right after the
 *    write, with nothing dropped from the page cache (the table says how
 *    much of the file was resident before reading). POSIX: pread. h5tx: a
 *    snapshot at head and h5tx_snap_read. Checked against what was written.
 *  - small commits: C (default 200) revisions, each overwriting one random
 *    4 KiB-aligned 64 KiB range with new data (fixed seed, same ranges and
 *    bytes for both). POSIX: pwrite + fsync ("sync") or pwrite alone
 *    ("nosync"). h5tx: h5tx_writer_write + h5tx_writer_commit on the writer
 *    that made the big write. Median and p90 ms per commit.
 *  - what the store holds after the big write (h5tx_store_usage) against
 *    the logical bytes.
 * Every trial runs the baseline and h5tx back to back (their order swapped
 * every other trial) so machine noise hits both; tables give medians over
 * trials, and ratios h5tx/POSIX are medians of the per-trial ratios.
 *
 * --sweep-page-size runs the big write, the read and the small commits for
 * page sizes 4 KiB .. 1 MiB instead, to see what the default of 64 KiB buys.
 *
 * Output: Markdown on stdout; progress on stderr. --help for the options.
 */
#include "bench_util.h"

#include <h5tx.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define CHUNK MIB             /* bytes per write/read call */
#define PATCH (64 * KIB)      /* bytes per small commit */
#define PATCH_ALIGN (4 * KIB) /* alignment of small commits */
#define FILE_NAME "data/signal.bin"
#define MAX_TRIALS 101

/* ---- configuration ------------------------------------------------------ */

typedef struct config {
  uint64_t size_mib;
  int trials;
  int commits;
  uint32_t page_size;
  int codec;
  int level;
  int sweep;
  int durs[2]; /* durabilities to run */
  int ndurs;
  uint64_t seed;
  int data; /* --data: BENCH_DATA_NOISY or _COMPRESSIBLE */
  const char *dir;
} config;

static const char *progname = "h5tx_core_bench";
static const char *workdir; /* made by bench_make_workdir, removed at exit */

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options]\n"
          "Benchmarks the h5tx page store against plain POSIX I/O on the same disk:\n"
          "big sequential write, full read, and small commits (see the top of\n"
          "bench/core_bench.c). Prints Markdown tables on stdout.\n"
          "\n"
          "  --size MIB          bytes to write, in MiB (default 256)\n"
          "  --trials N          trials; tables give medians (default 5)\n"
          "  --commits N         small commits per trial (default 200)\n"
          "  --dir DIR           where to work: a fresh directory is made in DIR and\n"
          "                      removed at the end (default $TMPDIR, else /tmp)\n"
          "  --page-size BYTES   h5tx page size, suffix K or M allowed (default 64K)\n"
          "  --codec none|zstd|lz4\n"
          "                      h5tx page codec (default: the store's default)\n"
          "  --level N           zstd level (default: the store's, 3)\n"
          "  --durability sync|nosync|both\n"
          "                      commit durability to measure (default both; the\n"
          "                      sweep uses sync unless nosync is given)\n"
          "  --seed N            seed of the data and of the commit offsets (default 42)\n"
          "  --data noisy|compressible\n"
          "                      noisy floats (default), or compressible values (integer-\n"
          "                      valued, rounded to a quarter, mostly zero)\n"
          "  --sweep-page-size   run page sizes 4K 16K 64K 256K 1M with zstd instead\n"
          "  --help              this text\n",
          progname);
}

/* ---- page cache ----------------------------------------------------------- */

/* ---- data ----------------------------------------------------------------- */

typedef struct dataset {
  size_t bytes;
  uint8_t *src;   /* what the big write writes */
  uint8_t *dst;   /* where reads go */
  uint8_t *patch; /* commits x PATCH bytes: what the small commits write */
  uint64_t *off;  /* offset of each small commit */
  int commits;
} dataset;

static void dataset_make(dataset *d, const config *c) {
  d->bytes = (size_t)(c->size_mib * MIB);
  d->commits = c->commits;
  d->src = bench_xmalloc(d->bytes);
  d->dst = bench_xmalloc(d->bytes);
  d->patch = bench_xmalloc((size_t)c->commits * PATCH);
  d->off = bench_xmalloc((size_t)c->commits * sizeof *d->off);
  uint64_t rng = c->seed;
  bench_fill_data(c->data, (double *)d->src, d->bytes / 8, 0, &rng);
  /* New data for the patches: the same signal further on, other noise. */
  bench_fill_data(c->data, (double *)d->patch, (size_t)c->commits * PATCH / 8, d->bytes / 8, &rng);
  uint64_t slots = (d->bytes - PATCH) / PATCH_ALIGN + 1;
  for (int i = 0; i < c->commits; i++)
    d->off[i] = bench_splitmix64(&rng) % slots * PATCH_ALIGN;
  memset(d->dst, 0, d->bytes);
}

static void dataset_free(dataset *d) {
  free(d->src);
  free(d->dst);
  free(d->patch);
  free(d->off);
}

static void verify(const dataset *d, const char *who) {
  if (memcmp(d->dst, d->src, d->bytes) != 0)
    bench_die("%s: data read back differs from data written", who);
}

/* ---- results -------------------------------------------------------------- */

typedef struct run_result {
  double write_s;  /* open + writes (+ fsync / commit) */
  double commit_s; /* h5tx: the commit alone */
  double read_s;   /* open + reads */
  double resident; /* fraction of the file(s) in page cache before reading */
  double lat_med_ms, lat_p90_ms;
  h5tx_usage usage;          /* h5tx: after the big write */
  uint64_t patch_bytes;      /* h5tx: page record bytes the small commits added */
  uint64_t patch_disk_bytes; /* h5tx: bytes on disk (index and log) the small commits added */
} run_result;

static double mibps(uint64_t bytes, double s) { return (double)bytes / MIB / s; }

static void latencies(double *lat, int n, run_result *r) {
  for (int i = 0; i < n; i++)
    lat[i] *= 1e3;
  r->lat_med_ms = bench_quantile(lat, n, 0.5);
  r->lat_p90_ms = bench_quantile(lat, n, 0.9);
}

/* ---- POSIX baseline -------------------------------------------------------- */

static void pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off, const char *path) {
  while (n) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) bench_die_errno("writing", path);
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
}

static void pread_all(int fd, uint8_t *p, size_t n, uint64_t off, const char *path) {
  while (n) {
    ssize_t r = pread(fd, p, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) bench_die_errno("reading", path);
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
}

static void posix_run(const config *c, dataset *d, int durability, run_result *r) {
  char path[4200];
  snprintf(path, sizeof path, "%s/posix.bin", workdir);
  int do_sync = durability == H5TX_SYNC;

  double t0 = bench_now_s();
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) bench_die_errno("creating", path);
  for (size_t off = 0; off < d->bytes; off += CHUNK)
    pwrite_all(fd, d->src + off, CHUNK, off, path);
  if (do_sync && fsync(fd) != 0) bench_die_errno("fsync of", path);
  r->write_s = bench_now_s() - t0;
  if (close(fd) != 0) bench_die_errno("closing", path);

  r->resident = bench_resident(path);
  memset(d->dst, 0, d->bytes);
  t0 = bench_now_s();
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) bench_die_errno("opening", path);
  for (size_t off = 0; off < d->bytes; off += CHUNK)
    pread_all(fd, d->dst + off, CHUNK, off, path);
  r->read_s = bench_now_s() - t0;
  close(fd);
  verify(d, "POSIX");

  double *lat = bench_xmalloc((size_t)c->commits * sizeof *lat);
  if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) bench_die_errno("opening", path);
  for (int i = 0; i < c->commits; i++) {
    t0 = bench_now_s();
    pwrite_all(fd, d->patch + (size_t)i * PATCH, PATCH, d->off[i], path);
    if (do_sync && fsync(fd) != 0) bench_die_errno("fsync of", path);
    lat[i] = bench_now_s() - t0;
  }
  close(fd);
  latencies(lat, c->commits, r);
  free(lat);
  if (unlink(path) != 0) bench_die_errno("removing", path);
  sync(); /* leave no writeback behind for the next measurement */
}

/* ---- h5tx ------------------------------------------------------------------- */

static void h5tx_run(const config *c, dataset *d, uint32_t page_size, int codec, int durability,
                     run_result *r) {
  char path[4200], mdb[4300];
  snprintf(path, sizeof path, "%s/bench.h5tx", workdir);
  snprintf(mdb, sizeof mdb, "%s/log", path); /* the page log's segments */
  h5tx_error err;
  int rc;

  h5tx_store_opts so;
  h5tx_store_opts_init(&so);
  so.create = 1;
  h5tx_store *s;
  bench_check(h5tx_store_open(path, &so, &s, &err), "h5tx_store_open", &err);

  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.page_size = page_size;
  wo.codec = codec;
  wo.level = c->level;
  wo.durability = durability;

  double t0 = bench_now_s();
  h5tx_writer *w;
  bench_check(h5tx_writer_open(s, FILE_NAME, &wo, &w, &err), "h5tx_writer_open", &err);
  for (size_t off = 0; off < d->bytes; off += CHUNK) {
    rc = h5tx_writer_write(w, off, d->src + off, CHUNK, &err);
    bench_check(rc, "h5tx_writer_write", &err);
  }
  double t1 = bench_now_s();
  h5tx_rev rev;
  bench_check(h5tx_writer_commit(w, "big write", &rev, &err), "h5tx_writer_commit", &err);
  double t2 = bench_now_s();
  r->write_s = t2 - t0;
  r->commit_s = t2 - t1;
  bench_check(h5tx_store_usage(s, &r->usage, &err), "h5tx_store_usage", &err);

  r->resident = bench_resident(mdb);
  memset(d->dst, 0, d->bytes);
  t0 = bench_now_s();
  h5tx_snap *snap;
  bench_check(h5tx_snap_open(s, H5TX_HEAD, &snap, &err), "h5tx_snap_open", &err);
  for (size_t off = 0; off < d->bytes; off += CHUNK) {
    rc = h5tx_snap_read(snap, FILE_NAME, off, d->dst + off, CHUNK, &err);
    bench_check(rc, "h5tx_snap_read", &err);
  }
  h5tx_snap_close(snap);
  r->read_s = bench_now_s() - t0;
  verify(d, "h5tx");

  double *lat = bench_xmalloc((size_t)c->commits * sizeof *lat);
  for (int i = 0; i < c->commits; i++) {
    t0 = bench_now_s();
    rc = h5tx_writer_write(w, d->off[i], d->patch + (size_t)i * PATCH, PATCH, &err);
    bench_check(rc, "h5tx_writer_write", &err);
    bench_check(h5tx_writer_commit(w, NULL, &rev, &err), "h5tx_writer_commit", &err);
    lat[i] = bench_now_s() - t0;
  }
  latencies(lat, c->commits, r);
  free(lat);
  h5tx_usage after;
  bench_check(h5tx_store_usage(s, &after, &err), "h5tx_store_usage", &err);
  r->patch_bytes = after.page_bytes - r->usage.page_bytes;
  r->patch_disk_bytes =
      (after.index_bytes + after.log_bytes) - (r->usage.index_bytes + r->usage.log_bytes);

  /* The newest revision must hold the last patch. */
  if (c->commits > 0) {
    int last = c->commits - 1;
    bench_check(h5tx_snap_open(s, H5TX_HEAD, &snap, &err), "h5tx_snap_open", &err);
    rc = h5tx_snap_read(snap, FILE_NAME, d->off[last], d->dst, PATCH, &err);
    bench_check(rc, "h5tx_snap_read", &err);
    h5tx_snap_close(snap);
    if (memcmp(d->dst, d->patch + (size_t)last * PATCH, PATCH) != 0)
      bench_die("h5tx: the last small commit does not read back");
  }
  h5tx_writer_close(w);
  h5tx_store_close(s);
  bench_rm_rf(path);
  sync();
}

/* ---- the header: machine, command, settings -------------------------------- */

static void print_header(const config *c, int argc, char **argv, const char *title) {
  printf("### %s\n\n", title);
  bench_print_machine(workdir);
  bench_print_command(argc, argv);
  printf("\n");
  printf("- data: %llu MiB of float64 (%s) in %llu MiB calls; h5tx ",
         (unsigned long long)c->size_mib, bench_data_desc(c->data),
         (unsigned long long)(CHUNK / MIB));
  if (c->sweep)
    printf("codec zstd");
  else
    printf("page size %u B, codec %s", c->page_size,
           c->codec == H5TX_CODEC_ZSTD   ? "zstd"
           : c->codec == H5TX_CODEC_LZ4  ? "lz4"
           : c->codec == H5TX_CODEC_NONE ? "none"
                                         : "the store's default");
  if (c->level) printf(" level %d", c->level);
  printf("\n- small commits: %d per trial, each %llu KiB at a random %llu KiB-aligned offset "
         "(seed %llu)\n",
         c->commits, (unsigned long long)(PATCH / KIB), (unsigned long long)(PATCH_ALIGN / KIB),
         (unsigned long long)c->seed);
  printf("- %d trials, baseline and h5tx interleaved in each; figures are medians over trials; "
         "h5tx/POSIX is the median of the per-trial ratios [min-max]. MiB/s: higher is better; "
         "ms: lower is better.\n\n",
         c->trials);
}

/* One table row: POSIX and h5tx medians and the per-trial ratio h5tx/POSIX. */
static void row(const char *label, const double *posix, const double *h5, int n, const char *fmt) {
  char ratio[64];
  bench_ratio_cell(ratio, sizeof ratio, h5, posix, n);
  printf("| %s | ", label);
  printf(fmt, bench_median(posix, n));
  printf(" | ");
  printf(fmt, bench_median(h5, n));
  printf(" | %s |\n", ratio);
}

/* ---- default mode ------------------------------------------------------------ */

static const char *dur_name(int d) { return d == H5TX_SYNC ? "sync" : "nosync"; }

static void run_default(const config *c, dataset *d, int argc, char **argv) {
  static run_result px[2][MAX_TRIALS], hx[2][MAX_TRIALS];
  for (int t = 0; t < c->trials; t++) {
    for (int k = 0; k < c->ndurs; k++) {
      int dur = c->durs[k];
      fprintf(stderr, "trial %d/%d, %s ...\n", t + 1, c->trials, dur_name(dur));
      if (t % 2 == 0) {
        posix_run(c, d, dur, &px[k][t]);
        h5tx_run(c, d, c->page_size, c->codec, dur, &hx[k][t]);
      } else {
        h5tx_run(c, d, c->page_size, c->codec, dur, &hx[k][t]);
        posix_run(c, d, dur, &px[k][t]);
      }
    }
  }

  print_header(c, argc, argv, "h5tx page store against POSIX pwrite/pread");
  printf("| measure | POSIX | h5tx | h5tx/POSIX |\n|---|---|---|---|\n");
  int n = c->trials;
  double a[MAX_TRIALS], b[MAX_TRIALS];
  char label[256];
  for (int k = 0; k < c->ndurs; k++) {
    const char *dn = dur_name(c->durs[k]);
    for (int t = 0; t < n; t++) {
      a[t] = mibps(d->bytes, px[k][t].write_s);
      b[t] = mibps(d->bytes, hx[k][t].write_s);
    }
    snprintf(label, sizeof label,
             "write MiB/s, %s (POSIX: open + pwrite%s; h5tx: writer_open + writes + commit)", dn,
             c->durs[k] == H5TX_SYNC ? " + fsync" : "");
    row(label, a, b, n, "%.0f");
  }
  for (int k = 0; k < c->ndurs; k++) {
    for (int t = 0; t < n; t++) {
      a[t] = mibps(d->bytes, px[k][t].read_s);
      b[t] = mibps(d->bytes, hx[k][t].read_s);
    }
    snprintf(label, sizeof label, "read MiB/s, after the %s write (POSIX: pread; h5tx: snapshot)",
             dur_name(c->durs[k]));
    row(label, a, b, n, "%.0f");
  }
  for (int k = 0; k < c->ndurs; k++) {
    const char *dn = dur_name(c->durs[k]);
    const char *what = c->durs[k] == H5TX_SYNC ? "pwrite + fsync" : "pwrite";
    for (int t = 0; t < n; t++) {
      a[t] = px[k][t].lat_med_ms;
      b[t] = hx[k][t].lat_med_ms;
    }
    snprintf(label, sizeof label, "small commit ms, %s, median (POSIX: %s)", dn, what);
    row(label, a, b, n, "%.3f");
    for (int t = 0; t < n; t++) {
      a[t] = px[k][t].lat_p90_ms;
      b[t] = hx[k][t].lat_p90_ms;
    }
    snprintf(label, sizeof label, "small commit ms, %s, p90 (POSIX: %s)", dn, what);
    row(label, a, b, n, "%.3f");
  }

  /* Storage: the same for every trial and durability but for the index's
   * free space; give the medians of the first durability's runs. */
  double rec[MAX_TRIALS], idx[MAX_TRIALS], lg[MAX_TRIALS], patch[MAX_TRIALS], pdb[MAX_TRIALS];
  double commit[MAX_TRIALS], res_p[MAX_TRIALS], res_h[MAX_TRIALS];
  for (int t = 0; t < n; t++) {
    const run_result *r = &hx[0][t];
    rec[t] = (double)r->usage.page_bytes;
    idx[t] = (double)r->usage.index_bytes;
    lg[t] = (double)r->usage.log_bytes;
    patch[t] = (double)r->patch_bytes / c->commits;
    pdb[t] = (double)r->patch_disk_bytes / c->commits;
    commit[t] = r->commit_s / r->write_s;
    res_p[t] = px[0][t].resident;
    res_h[t] = hx[0][t].resident;
  }
  double logical = (double)d->bytes;
  printf("\n| store after the big write (%s) | MiB | / logical |\n|---|---|---|\n",
         dur_name(c->durs[0]));
  printf("| logical bytes | %.1f | 1.000 |\n", logical / MIB);
  printf("| page records (h5tx_usage.page_bytes) | %.1f | %.3f |\n", bench_median(rec, n) / MIB,
         bench_median(rec, n) / logical);
  printf("| page log segments (log_bytes) | %.1f | %.3f |\n", bench_median(lg, n) / MIB,
         bench_median(lg, n) / logical);
  printf("| index files (index_bytes) | %.1f | %.3f |\n", bench_median(idx, n) / MIB,
         bench_median(idx, n) / logical);
  printf("| per small commit (%llu KiB logical): page records added | %.3f | %.3f |\n",
         (unsigned long long)(PATCH / KIB), bench_median(patch, n) / MIB,
         bench_median(patch, n) / PATCH);
  printf("| per small commit: bytes on disk added (index and log) | %.3f | %.3f |\n",
         bench_median(pdb, n) / MIB, bench_median(pdb, n) / PATCH);
  printf("\nPage cache before the reads: POSIX file %.0f %% resident, the store's page log %.0f %% "
         "resident (medians), so reads measure memory and code paths, not the disk. "
         "The h5tx commit takes %.0f %% of the h5tx write time.\n\n",
         100 * bench_median(res_p, n), 100 * bench_median(res_h, n), 100 * bench_median(commit, n));
}

/* ---- page size sweep ------------------------------------------------------------ */

#define NSWEEP 5
static const uint32_t sweep_sizes[NSWEEP] = {4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB};

static void run_sweep(const config *c, dataset *d, int argc, char **argv) {
  static run_result px[MAX_TRIALS], hx[NSWEEP][MAX_TRIALS];
  int dur = c->durs[0];
  for (int t = 0; t < c->trials; t++) {
    fprintf(stderr, "trial %d/%d: POSIX ...\n", t + 1, c->trials);
    if (t % 2 == 0) posix_run(c, d, dur, &px[t]);
    for (int k = 0; k < NSWEEP; k++) {
      int i = t % 2 == 0 ? k : NSWEEP - 1 - k; /* alternate the order too */
      fprintf(stderr, "trial %d/%d: page size %u ...\n", t + 1, c->trials, sweep_sizes[i]);
      h5tx_run(c, d, sweep_sizes[i], H5TX_CODEC_ZSTD, dur, &hx[i][t]);
    }
    if (t % 2 == 1) posix_run(c, d, dur, &px[t]);
  }

  print_header(c, argc, argv, "h5tx page size sweep (zstd)");
  int n = c->trials;
  double a[MAX_TRIALS], b[MAX_TRIALS], ra[MAX_TRIALS], rb[MAX_TRIALS], la[MAX_TRIALS],
      lb[MAX_TRIALS], s1[MAX_TRIALS], s2[MAX_TRIALS], s3[MAX_TRIALS], s4[MAX_TRIALS];
  for (int t = 0; t < n; t++) {
    a[t] = mibps(d->bytes, px[t].write_s);
    ra[t] = mibps(d->bytes, px[t].read_s);
    la[t] = px[t].lat_med_ms;
  }
  printf("Durability %s: POSIX writes %s; small commits are pwrite%s.\n\n", dur_name(dur),
         dur == H5TX_SYNC ? "end with fsync" : "have no fsync", dur == H5TX_SYNC ? " + fsync" : "");
  printf("| page size | write MiB/s | h5tx/POSIX | read MiB/s | h5tx/POSIX | records / logical | "
         "on disk / logical | small commit ms (median) | h5tx/POSIX | KiB of records per small "
         "commit | "
         "KiB on disk per small commit |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  printf("| POSIX | %.0f | 1 | %.0f | 1 | - | - | %.3f | 1 | %llu | %llu |\n", bench_median(a, n),
         bench_median(ra, n), bench_median(la, n), (unsigned long long)(PATCH / KIB),
         (unsigned long long)(PATCH / KIB));
  for (int k = 0; k < NSWEEP; k++) {
    double wr[MAX_TRIALS], rr[MAX_TRIALS], lr[MAX_TRIALS];
    for (int t = 0; t < n; t++) {
      const run_result *r = &hx[k][t];
      b[t] = mibps(d->bytes, r->write_s);
      rb[t] = mibps(d->bytes, r->read_s);
      lb[t] = r->lat_med_ms;
      wr[t] = b[t] / a[t];
      rr[t] = rb[t] / ra[t];
      lr[t] = lb[t] / la[t];
      s1[t] = (double)r->usage.page_bytes / (double)d->bytes;
      s2[t] = (double)(r->usage.index_bytes + r->usage.log_bytes) / (double)d->bytes;
      s3[t] = (double)r->patch_bytes / c->commits / KIB;
      s4[t] = (double)r->patch_disk_bytes / c->commits / KIB;
    }
    char ps[32];
    if (sweep_sizes[k] >= MIB)
      snprintf(ps, sizeof ps, "%llu MiB", (unsigned long long)(sweep_sizes[k] / MIB));
    else
      snprintf(ps, sizeof ps, "%llu KiB", (unsigned long long)(sweep_sizes[k] / KIB));
    printf("| %s | %.0f | %.2f | %.0f | %.2f | %.3f | %.3f | %.3f | %.2f | %.1f | %.1f |\n", ps,
           bench_median(b, n), bench_median(wr, n), bench_median(rb, n), bench_median(rr, n),
           bench_median(s1, n), bench_median(s2, n), bench_median(lb, n), bench_median(lr, n),
           bench_median(s3, n), bench_median(s4, n));
  }
  printf("\n");
}

/* ---- options and main --------------------------------------------------------- */

static void parse(config *c, int argc, char **argv) {
  memset(c, 0, sizeof *c);
  c->size_mib = 256;
  c->trials = 5;
  c->commits = 200;
  c->page_size = H5TX_DEFAULT_PAGE_SIZE;
  c->codec = -1; /* the store's default */
  c->seed = 42;
  int dur = -1; /* -1: both */
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (strcmp(o, "--sweep-page-size") == 0) {
      c->sweep = 1;
      continue;
    }
    if (i + 1 >= argc) bench_usage_error(usage, "unknown option or missing value: %s", o);
    const char *v = argv[++i];
    if (strcmp(o, "--size") == 0)
      c->size_mib = bench_parse_num(o, v, 0);
    else if (strcmp(o, "--trials") == 0)
      c->trials = (int)bench_parse_num(o, v, 0);
    else if (strcmp(o, "--commits") == 0)
      c->commits = (int)bench_parse_num(o, v, 0);
    else if (strcmp(o, "--dir") == 0)
      c->dir = v;
    else if (strcmp(o, "--page-size") == 0)
      c->page_size = (uint32_t)bench_parse_num(o, v, 1);
    else if (strcmp(o, "--level") == 0)
      c->level = (int)bench_parse_num(o, v, 0);
    else if (strcmp(o, "--seed") == 0)
      c->seed = bench_parse_num(o, v, 0);
    else if (strcmp(o, "--data") == 0)
      c->data = bench_parse_data(o, v);
    else if (strcmp(o, "--codec") == 0) {
      if (strcmp(v, "zstd") == 0)
        c->codec = H5TX_CODEC_ZSTD;
      else if (strcmp(v, "lz4") == 0)
        c->codec = H5TX_CODEC_LZ4;
      else if (strcmp(v, "none") == 0)
        c->codec = H5TX_CODEC_NONE;
      else
        bench_die("--codec: 'none', 'zstd' or 'lz4', not '%s'", v);
    } else if (strcmp(o, "--durability") == 0) {
      if (strcmp(v, "sync") == 0)
        dur = H5TX_SYNC;
      else if (strcmp(v, "nosync") == 0)
        dur = H5TX_NOSYNC;
      else if (strcmp(v, "both") == 0)
        dur = -1;
      else
        bench_die("--durability: 'sync', 'nosync' or 'both', not '%s'", v);
    } else {
      bench_usage_error(usage, "unknown option %s", o);
    }
  }
  if (c->size_mib < 1 || c->size_mib > (1u << 20)) bench_die("--size: 1 to 1048576 MiB");
  if (c->trials < 1 || c->trials > MAX_TRIALS) bench_die("--trials: 1 to %d", MAX_TRIALS);
  if (c->commits < 1 || c->commits > 1000000) bench_die("--commits: 1 to 1000000");
  /* The page size itself is checked by h5tx_writer_open. */
  if (dur < 0 && !c->sweep) {
    c->durs[0] = H5TX_SYNC;
    c->durs[1] = H5TX_NOSYNC;
    c->ndurs = 2;
  } else {
    c->durs[0] = dur < 0 ? H5TX_SYNC : dur;
    c->ndurs = 1;
  }
}

int main(int argc, char **argv) {
  bench_init(progname);
  config c;
  parse(&c, argc, argv);
  workdir = bench_make_workdir(c.dir, "h5tx-bench");
  fprintf(stderr, "%s: working in %s; generating %llu MiB of data ...\n", progname, workdir,
          (unsigned long long)c.size_mib);
  dataset d;
  dataset_make(&d, &c);
  if (c.sweep)
    run_sweep(&c, &d, argc, argv);
  else
    run_default(&c, &d, argc, argv);
  dataset_free(&d);
  return 0;
}
