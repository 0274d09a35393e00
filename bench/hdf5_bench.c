/* hdf5_bench.c - HDF5 through the h5tx driver against HDF5's own drivers,
 * every driver in the same process, interleaved per trial.
 *
 * Drivers (rows): sec2 (in place, no fsync), sec2 + fsync after close, core
 * (backing store on), Onion with 4 KiB and 64 KiB pages (HDF5 >= 1.14 only;
 * files created through Onion), h5tx with durability sync and nosync
 * ("STORE.h5tx/f.h5" through H5Pset_fapl_h5tx).
 *
 * Two modes, one run each:
 *  - simple (default): write then read one float64 dataset of N MiB
 *    (default 256), chunked in 1 MiB chunks and contiguous. Write: H5Fcreate
 *    .. H5Dwrite of each 1 MiB slab in order .. H5Fclose (+ fsync for the
 *    fsync row). Read: H5Fopen (read-only) .. H5Dread (one call, the whole
 *    dataset) .. H5Fclose. MiB/s and the ratio to sec2.
 *  - anchors: the workload of ANCHORS.md, exactly: the dataset chunked in
 *    1 MiB chunks, written fully (in 1 MiB slabs) and closed; then R (20)
 *    revisions, each opening the file read-write, overwriting one contiguous
 *    1 % block at a random element offset (fixed seed) and closing; then the
 *    state after revision K (10) is opened read-only and the whole dataset
 *    read (h5tx: "f.h5@REV", REV the store head after the K-th close; Onion:
 *    revision_num K + 1). For sec2 and core, which keep no history, the file
 *    as it is is opened and read. Reports the
 *    initial write MiB/s, revision ms (median of the R open-write-close), the
 *    growth per revision (files on disk; h5tx: index and page log on disk,
 *    and page records), "open old rev" ms (H5Fopen + H5Dopen) and the full read MiB/s
 *    (H5Dread), and the CPU time per revision; then checks the targets
 *    "Where h5tx should land" of ANCHORS.md and prints PASS or MISS for each.
 *    sync() runs after the initial write and after every driver, outside
 *    the timings, so that no writeback lands in the next measurement.
 *
 * Data: float64 of a smooth signal plus Gaussian noise (as core_bench.c).
 * Every read is checked against what was written at the revision it reads
 * (XXH3 of the whole dataset). Each trial runs every driver once, in an order
 * rotated every trial; tables give medians over trials, and ratios are the
 * medians of the per-trial ratios [min-max].
 *
 * Output: Markdown on stdout; progress on stderr. --help for the options.
 */
#include "bench_h5.h"
#include "bench_util.h"

#include <H5FDh5tx.h>
#include <h5tx.h>
#include <hdf5.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#if defined(H5TX_BENCH_ONION) && H5_VERSION_GE(1, 14, 0)
#define HAVE_ONION 1
#else
#define HAVE_ONION 0
#endif

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define CHUNK_BYTES MIB /* HDF5 chunk size */
#define CHUNK_ELEMS (CHUNK_BYTES / sizeof(double))
#define CORE_INCREMENT (64 * MIB) /* core driver: memory grows by this */
#define DSET "data"
#define MAX_TRIALS 101
#define MAX_REVS 1000
#define MAX_DRIVERS 12
#define MAX_ONION 4

/* ---- configuration ------------------------------------------------------ */

enum mode { MODE_SIMPLE, MODE_ANCHORS };

enum kind { K_SEC2, K_SEC2_FSYNC, K_CORE, K_ONION, K_H5TX_SYNC, K_H5TX_NOSYNC };

typedef struct driver {
  enum kind kind;
  uint32_t onion_page; /* Onion page size */
  char label[96];      /* row label */
  char stem[32];       /* file (or store) name in the work directory */
} driver;

typedef struct config {
  enum mode mode;
  uint64_t size_mib;
  int trials;
  int revisions;
  int old_rev;
  uint32_t onion_pages[MAX_ONION];
  int nonion;
  uint32_t h5tx_page;
  const char *h5tx_extra; /* --h5tx-config: more config for both h5tx rows */
  const char *only;       /* --drivers list, or NULL for all */
  uint64_t seed;
  int data; /* --data: BENCH_DATA_NOISY or _COMPRESSIBLE */
  const char *dir;
  int verbose; /* --verbose: every measurement on stderr */
  driver drv[MAX_DRIVERS];
  int ndrv;
} config;

static const char *progname = "h5tx_hdf5_bench";
static const char *workdir; /* made by bench_make_workdir, removed at exit */
static hid_t backing_fapl = H5I_INVALID_HID;

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options]\n"
          "Benchmarks HDF5 through the h5tx driver against HDF5's sec2, core and (HDF5 >=\n"
          "1.14) Onion drivers, all in this process, interleaved per trial (see the top\n"
          "of bench/hdf5_bench.c). Prints Markdown tables on stdout.\n"
          "\n"
          "  --mode simple|anchors\n"
          "                      simple (default): write then read one dataset, chunked\n"
          "                      and contiguous; anchors: the ANCHORS.md workload (write,\n"
          "                      revisions of 1 %% blocks, read an old revision)\n"
          "  --size MIB          dataset size in MiB (default 256)\n"
          "  --trials N          trials; tables give medians (default 5 simple, 9 anchors)\n"
          "  --revisions N       anchors: revisions after the initial write (default 20)\n"
          "  --old-rev K         anchors: read the state after the K-th revision (default 10)\n"
          "  --onion-page-size LIST\n"
          "                      Onion page sizes, comma-separated, suffix K or M allowed\n"
          "                      (default 4K,64K; HDF5 >= 1.14 only)\n"
          "  --h5tx-page-size BYTES\n"
          "                      h5tx page size of the file created (default: the store's,\n"
          "                      64K)\n"
          "  --h5tx-config TEXT  more h5tx config for both h5tx rows, e.g. 'codec=none'\n"
          "                      (appended after durability and page_size)\n"
          "  --drivers LIST      only these rows, comma-separated, of: sec2, sec2-fsync, core,\n"
          "                      onion, h5tx-sync, h5tx-nosync (sec2 always runs: ratios\n"
          "                      are to it)\n"
          "  --dir DIR           where to work: a fresh directory is made in DIR and\n"
          "                      removed at the end (default $TMPDIR, else /tmp)\n"
          "  --seed N            seed of the data and of the block offsets (default 42)\n"
          "  --data noisy|compressible\n"
          "                      noisy floats (default), or compressible values (integer-\n"
          "                      valued, rounded to a quarter, mostly zero)\n"
          "  --verbose           print every trial's figures on stderr\n"
          "  --help              this text\n",
          progname);
}

/* ---- errors and small helpers ------------------------------------------- */

/* CPU time of this process (user + system), seconds. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return 0;
    bench_die_errno("stat of", path);
  }
  return (uint64_t)st.st_size;
}

static void fsync_path(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) bench_die_errno("opening", path);
  if (fsync(fd) != 0) bench_die_errno("fsync of", path);
  if (close(fd) != 0) bench_die_errno("closing", path);
}

/* ---- data ----------------------------------------------------------------- */

typedef struct dataset {
  uint64_t nelem; /* elements of the dataset */
  size_t bytes;   /* nelem * 8 */
  double *src;    /* the initial contents */
  double *dst;    /* where reads go */
  uint64_t blk;   /* elements per revision block (1 %) */
  double *patch;  /* revisions x blk: what each revision writes */
  uint64_t *off;  /* element offset of each revision's block */
  int revisions;
  XXH64_hash_t h_initial; /* hash of the initial contents */
  XXH64_hash_t h_old;     /* ... after `old_rev` revisions */
  XXH64_hash_t h_final;   /* ... after all revisions */
  double rewrote;         /* bytes of chunks HDF5 rewrites per revision, mean */
} dataset;

static XXH64_hash_t hash_data(const double *x, size_t bytes) { return XXH3_64bits(x, bytes); }

static void dataset_make(dataset *d, const config *c) {
  d->bytes = (size_t)(c->size_mib * MIB);
  d->nelem = d->bytes / sizeof(double);
  d->blk = d->nelem / 100;
  d->revisions = c->revisions;
  d->src = bench_xmalloc(d->bytes);
  d->dst = bench_xmalloc(d->bytes);
  d->patch = bench_xmalloc((size_t)c->revisions * d->blk * sizeof(double));
  d->off = bench_xmalloc((size_t)c->revisions * sizeof *d->off);
  uint64_t rng = c->seed;
  bench_fill_data(c->data, d->src, d->nelem, 0, &rng);
  d->h_initial = hash_data(d->src, d->bytes);
  if (c->mode != MODE_ANCHORS) return;
  /* New data for the revisions: the same signal further on, other noise. */
  bench_fill_data(c->data, d->patch, (size_t)c->revisions * d->blk, d->nelem, &rng);
  double chunks = 0;
  for (int i = 0; i < c->revisions; i++) {
    d->off[i] = bench_splitmix64(&rng) % (d->nelem - d->blk + 1);
    chunks += (double)((d->off[i] + d->blk - 1) / CHUNK_ELEMS - d->off[i] / CHUNK_ELEMS + 1);
  }
  d->rewrote = chunks / c->revisions * CHUNK_BYTES;
  /* What each revision must read back: apply the blocks in order. */
  memcpy(d->dst, d->src, d->bytes);
  for (int i = 0; i < c->revisions; i++) {
    memcpy(d->dst + d->off[i], d->patch + (size_t)i * d->blk, d->blk * sizeof(double));
    if (i + 1 == c->old_rev) d->h_old = hash_data(d->dst, d->bytes);
  }
  d->h_final = hash_data(d->dst, d->bytes);
}

static void dataset_free(dataset *d) {
  free(d->src);
  free(d->dst);
  free(d->patch);
  free(d->off);
}

static void verify(const dataset *d, XXH64_hash_t want, const char *who, const char *what) {
  if (hash_data(d->dst, d->bytes) != want)
    bench_die("%s: %s: the data read back differs from the data written", who, what);
}

/* ---- drivers ------------------------------------------------------------- */

static int is_h5tx(const driver *d) { return d->kind == K_H5TX_SYNC || d->kind == K_H5TX_NOSYNC; }

/* The name HDF5 opens: a plain path, or "DIR/STEM.h5tx/f.h5[@REV]". */
static void driver_path(const driver *d, h5tx_rev rev, char *out, size_t cap) {
  if (!is_h5tx(d))
    snprintf(out, cap, "%s/%s.h5", workdir, d->stem);
  else if (rev == H5TX_HEAD)
    snprintf(out, cap, "%s/%s.h5tx/f.h5", workdir, d->stem);
  else
    snprintf(out, cap, "%s/%s.h5tx/f.h5@%llu", workdir, d->stem, (unsigned long long)rev);
}

static void store_path(const driver *d, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s.h5tx", workdir, d->stem);
}

/* Remove what a driver left in the work directory, then let writeback
 * finish so that the next measurement starts clean. */
static void driver_clean(const driver *d) {
  char p[4400], q[4500];
  if (is_h5tx(d)) {
    store_path(d, p, sizeof p);
    bench_rm_rf(p);
  } else {
    driver_path(d, H5TX_HEAD, p, sizeof p);
    const char *ext[] = {"", ".onion", ".onion.recovery"};
    for (int i = 0; i < 3; i++) {
      snprintf(q, sizeof q, "%s%s", p, ext[i]);
      if (unlink(q) != 0 && errno != ENOENT) bench_die_errno("removing", q);
    }
  }
  sync();
}

/* A file access list for driver `d`; `onion_rev` is the Onion revision to
 * open (H5FD_ONION_FAPL_INFO_REVISION_ID_LATEST to write a new one). */
static hid_t make_fapl(const config *c, const driver *d, uint64_t onion_rev) {
  hid_t fapl = bench_h5_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(H5P_FILE_ACCESS)", d->label);
  char cfg[H5FD_H5TX_CONFIG_MAX];
  switch (d->kind) {
  case K_SEC2:
  case K_SEC2_FSYNC: bench_h5_ok(H5Pset_fapl_sec2(fapl), "H5Pset_fapl_sec2", d->label); break;
  case K_CORE:
    bench_h5_ok(H5Pset_fapl_core(fapl, CORE_INCREMENT, 1), "H5Pset_fapl_core", d->label);
    break;
  case K_ONION: {
#if HAVE_ONION
    H5FD_onion_fapl_info_t info;
    memset(&info, 0, sizeof info);
    info.version = H5FD_ONION_FAPL_INFO_VERSION_CURR;
    info.backing_fapl_id = backing_fapl;
    info.page_size = d->onion_page;
    info.store_target = H5FD_ONION_STORE_TARGET_ONION;
    info.revision_num = onion_rev;
    info.force_write_open = 0;
    info.creation_flags = 0;
    snprintf(info.comment, sizeof info.comment, "%s", progname);
    bench_h5_ok(H5Pset_fapl_onion(fapl, &info), "H5Pset_fapl_onion", d->label);
#else
    (void)onion_rev;
    bench_die("Onion needs HDF5 >= 1.14");
#endif
    break;
  }
  case K_H5TX_SYNC:
  case K_H5TX_NOSYNC:
    snprintf(cfg, sizeof cfg, "durability=%s", d->kind == K_H5TX_SYNC ? "sync" : "nosync");
    if (c->h5tx_page)
      snprintf(cfg + strlen(cfg), sizeof cfg - strlen(cfg), ";page_size=%u", c->h5tx_page);
    if (c->h5tx_extra) snprintf(cfg + strlen(cfg), sizeof cfg - strlen(cfg), ";%s", c->h5tx_extra);
    bench_h5_ok(H5Pset_fapl_h5tx(fapl, cfg), "H5Pset_fapl_h5tx", d->label);
    break;
  }
  return fapl;
}

/* Create the file, write the whole dataset in 1 MiB slabs (one H5Dwrite
 * each, in order), close (and fsync for the fsync row). Returns the seconds
 * it took. Not one H5Dwrite of it all: on this kind of VM a single 256 MiB
 * pwrite() runs at 400-700 MiB/s instead of ~4.5 GB/s whenever memory was
 * freed just before (reproduced without HDF5), which made the sec2 baseline
 * of the contiguous layout bimodal. */
static double write_file(const config *c, const driver *d, const dataset *ds, int chunked) {
  char path[4400];
  driver_path(d, H5TX_HEAD, path, sizeof path);
  hid_t fapl = make_fapl(c, d, UINT64_MAX);
  double t0 = bench_now_s();
  bench_h5_write(path, fapl, DSET, ds->src, ds->nelem, chunked ? CHUNK_ELEMS : 0, CHUNK_ELEMS);
  if (d->kind == K_SEC2_FSYNC) fsync_path(path);
  double t = bench_now_s() - t0;
  bench_h5_ok(H5Pclose(fapl), "H5Pclose", path);
  return t;
}

/* Open `path` read-only and read the whole dataset into ds->dst: seconds for
 * H5Fopen + H5Dopen in *open_s, for H5Dread in *read_s, for everything
 * (with the closes) returned. */
static double read_file(const char *path, hid_t fapl, dataset *ds, double *open_s, double *read_s) {
  memset(ds->dst, 0, ds->bytes);
  double t0 = bench_now_s();
  hid_t f = bench_h5_id(H5Fopen(path, H5F_ACC_RDONLY, fapl), "H5Fopen (read-only)", path);
  hid_t dset = bench_h5_id(H5Dopen2(f, DSET, H5P_DEFAULT), "H5Dopen2", path);
  double t1 = bench_now_s();
  bench_h5_ok(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->dst), "H5Dread",
              path);
  double t2 = bench_now_s();
  bench_h5_ok(H5Dclose(dset), "H5Dclose", path);
  bench_h5_ok(H5Fclose(f), "H5Fclose", path);
  double t3 = bench_now_s();
  if (open_s) *open_s = t1 - t0;
  if (read_s) *read_s = t2 - t1;
  return t3 - t0;
}

/* One revision: open read-write, overwrite block `i`, close (and fsync for
 * the fsync row). Returns the seconds it took, and in *cpu the CPU seconds
 * this process spent meanwhile. */
static double revise(const config *c, const driver *d, const dataset *ds, int i, double *cpu) {
  char path[4400];
  driver_path(d, H5TX_HEAD, path, sizeof path);
  hid_t fapl = make_fapl(c, d, UINT64_MAX);
  hsize_t start = ds->off[i], count = ds->blk;
  hid_t mspace = bench_h5_id(H5Screate_simple(1, &count, NULL), "H5Screate_simple", path);

  double c0 = cpu_s(), t0 = bench_now_s();
  hid_t f = bench_h5_id(H5Fopen(path, H5F_ACC_RDWR, fapl), "H5Fopen (read-write)", path);
  hid_t dset = bench_h5_id(H5Dopen2(f, DSET, H5P_DEFAULT), "H5Dopen2", path);
  hid_t fspace = bench_h5_id(H5Dget_space(dset), "H5Dget_space", path);
  bench_h5_ok(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL),
              "H5Sselect_hyperslab", path);
  bench_h5_ok(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT,
                       ds->patch + (size_t)i * ds->blk),
              "H5Dwrite (block)", path);
  bench_h5_ok(H5Sclose(fspace), "H5Sclose", path);
  bench_h5_ok(H5Dclose(dset), "H5Dclose", path);
  bench_h5_ok(H5Fclose(f), "H5Fclose", path);
  if (d->kind == K_SEC2_FSYNC) fsync_path(path);
  double t = bench_now_s() - t0;
  *cpu = cpu_s() - c0;

  bench_h5_ok(H5Sclose(mspace), "H5Sclose", path);
  bench_h5_ok(H5Pclose(fapl), "H5Pclose", path);
  return t;
}

/* What a driver keeps on disk. */
typedef struct space {
  uint64_t files;   /* non-h5tx: bytes of the file(s) (Onion: .h5 + .onion) */
  h5tx_usage usage; /* h5tx */
  h5tx_rev head;    /* h5tx: head revision of the store */
} space;

static void measure(const driver *d, space *out) {
  memset(out, 0, sizeof *out);
  char p[4400], q[4500];
  if (!is_h5tx(d)) {
    driver_path(d, H5TX_HEAD, p, sizeof p);
    snprintf(q, sizeof q, "%s.onion", p);
    out->files = file_size(p) + file_size(q);
    return;
  }
  store_path(d, p, sizeof p);
  h5tx_store_opts so;
  h5tx_store_opts_init(&so);
  so.read_only = 1;
  h5tx_store *s;
  h5tx_error err;
  bench_check(h5tx_store_open(p, &so, &s, &err), "h5tx_store_open", &err);
  bench_check(h5tx_store_head(s, &out->head, &err), "h5tx_store_head", &err);
  bench_check(h5tx_store_usage(s, &out->usage, &err), "h5tx_store_usage", &err);
  h5tx_store_close(s);
}

/* ---- simple mode ---------------------------------------------------------- */

typedef struct simple_res {
  double write_s[2], read_s[2]; /* [0] chunked, [1] contiguous */
} simple_res;

static void simple_run(const config *c, const driver *d, dataset *ds, simple_res *r) {
  char path[4400];
  driver_path(d, H5TX_HEAD, path, sizeof path);
  for (int layout = 0; layout < 2; layout++) {
    r->write_s[layout] = write_file(c, d, ds, layout == 0);
    /* Onion: the latest revision, the creation (revision_num 1). */
    hid_t fapl = make_fapl(c, d, UINT64_MAX);
    r->read_s[layout] = read_file(path, fapl, ds, NULL, NULL);
    bench_h5_ok(H5Pclose(fapl), "H5Pclose", path);
    verify(ds, ds->h_initial, d->label, layout == 0 ? "chunked read" : "contiguous read");
    if (c->verbose)
      fprintf(stderr, "  %s, %s: write %.0f MiB/s, read %.0f MiB/s\n", d->label,
              layout == 0 ? "chunked" : "contiguous", (double)ds->bytes / MIB / r->write_s[layout],
              (double)ds->bytes / MIB / r->read_s[layout]);
    driver_clean(d);
  }
}

/* ---- anchors mode ---------------------------------------------------------- */

typedef struct anchor_res {
  double write_s;
  double rev_med_ms, rev_p90_ms, rev_first_ms, rev_last_ms;
  double rev_cpu_ms;  /* median CPU ms of the process per revision */
  double growth;      /* bytes per revision: files, or h5tx index + page log */
  double page_growth; /* h5tx: bytes of page records per revision */
  double idx_growth;  /* h5tx: index files per revision */
  double commits;     /* h5tx: store revisions per open-write-close */
  double open_s, read_s;
  uint64_t read_rev; /* h5tx / Onion: the revision read */
} anchor_res;

static void anchors_run(const config *c, const driver *d, dataset *ds, anchor_res *r) {
  char path[4400];
  driver_path(d, H5TX_HEAD, path, sizeof path);
  memset(r, 0, sizeof *r);
  r->write_s = write_file(c, d, ds, 1);
  space s0, s1, si;
  measure(d, &s0);
  /* Let the initial write's writeback finish, so that it does not land in
   * the revisions' times (a page under writeback blocks the next write to
   * it). */
  sync();

  double lat[MAX_REVS], cpu[MAX_REVS];
  h5tx_rev old = H5TX_HEAD;
  for (int i = 0; i < c->revisions; i++) {
    lat[i] = revise(c, d, ds, i, &cpu[i]) * 1e3;
    cpu[i] *= 1e3;
    if (is_h5tx(d) && i + 1 == c->old_rev) {
      measure(d, &si);
      old = si.head;
    }
  }
  measure(d, &s1);
  r->rev_med_ms = bench_median(lat, c->revisions);
  r->rev_cpu_ms = bench_median(cpu, c->revisions);
  double tmp[MAX_REVS];
  memcpy(tmp, lat, (size_t)c->revisions * sizeof *lat);
  r->rev_p90_ms = bench_quantile(tmp, c->revisions, 0.9);
  int k = c->revisions < 5 ? c->revisions : 5;
  r->rev_first_ms = bench_median(lat, k);
  r->rev_last_ms = bench_median(lat + c->revisions - k, k);
  if (is_h5tx(d)) {
    r->growth = ((double)(s1.usage.index_bytes + s1.usage.log_bytes) -
                 (double)(s0.usage.index_bytes + s0.usage.log_bytes)) /
                c->revisions;
    r->page_growth = ((double)s1.usage.page_bytes - (double)s0.usage.page_bytes) / c->revisions;
    r->idx_growth = ((double)s1.usage.index_bytes - (double)s0.usage.index_bytes) / c->revisions;
    r->commits = (double)(s1.head - s0.head) / c->revisions;
  } else {
    r->growth = ((double)s1.files - (double)s0.files) / c->revisions;
  }

  /* Open the old revision (sec2 and core: the file as it is) and read it. */
  char rpath[4400];
  hid_t fapl;
  XXH64_hash_t want = ds->h_final;
  const char *what = "full read of the file after the last revision";
  if (is_h5tx(d)) {
    driver_path(d, old, rpath, sizeof rpath);
    fapl = make_fapl(c, d, UINT64_MAX);
    r->read_rev = old;
    want = ds->h_old;
    what = "full read of the old revision";
  } else {
    snprintf(rpath, sizeof rpath, "%s", path);
    /* Onion numbers its revisions from 1, the creation (0 is the original
     * file, here empty): the state after revision K is revision_num K + 1. */
    fapl = make_fapl(c, d, (uint64_t)c->old_rev + 1);
    if (d->kind == K_ONION) {
      r->read_rev = (uint64_t)c->old_rev + 1;
      want = ds->h_old;
      what = "full read of the old revision";
    }
  }
  read_file(rpath, fapl, ds, &r->open_s, &r->read_s);
  verify(ds, want, d->label, what);
  if (c->verbose) {
    fprintf(stderr, "  %s: write %.0f MiB/s; revisions ms:", d->label,
            (double)ds->bytes / MIB / r->write_s);
    for (int i = 0; i < c->revisions; i++)
      fprintf(stderr, " %.2f", lat[i]);
    fprintf(stderr, "; growth %.3f MiB/rev; open %.2f ms; read %.0f MiB/s\n", r->growth / MIB,
            r->open_s * 1e3, (double)ds->bytes / MIB / r->read_s);
  }
#if HAVE_ONION
  if (d->kind == K_ONION) {
    /* Revision 1 is the creation, then one per open-write-close. */
    uint64_t n = 0;
    bench_h5_ok(H5FDonion_get_revision_count(path, fapl, &n), "H5FDonion_get_revision_count", path);
    if (n != (uint64_t)c->revisions + 1)
      bench_die("%s: %llu Onion revisions, expected %d", d->label, (unsigned long long)n,
                c->revisions + 1);
  }
#endif
  bench_h5_ok(H5Pclose(fapl), "H5Pclose", rpath);
  if (is_h5tx(d) || d->kind == K_ONION) {
    /* Not timed: the head (latest revision) must hold every revision. */
    fapl = make_fapl(c, d, UINT64_MAX);
    read_file(path, fapl, ds, NULL, NULL);
    verify(ds, ds->h_final, d->label, "full read of the last revision");
    bench_h5_ok(H5Pclose(fapl), "H5Pclose", path);
  }
  driver_clean(d);
}

/* ---- the header: machine, command, settings -------------------------------- */

static void print_header(const config *c, const dataset *ds, int argc, char **argv,
                         double elapsed) {
  unsigned maj, min, rel;
  bench_h5_ok(H5get_libversion(&maj, &min, &rel), "H5get_libversion", "-");

  printf("### %s, HDF5 %u.%u.%u\n\n",
         c->mode == MODE_SIMPLE ? "Write and read one dataset" : "ANCHORS.md workload", maj, min,
         rel);
  bench_print_machine(workdir);
  bench_print_command(argc, argv);
  printf(" (%.0f s)\n", elapsed);
  printf("- data: one 1-D float64 dataset of %llu MiB (%s), written in 1 MiB "
         "slabs (one H5Dwrite each); chunks of %llu MiB%s; default file creation and access "
         "properties; core "
         "increment %llu MiB%s\n",
         (unsigned long long)c->size_mib, bench_data_desc(c->data),
         (unsigned long long)(CHUNK_BYTES / MIB), c->mode == MODE_SIMPLE ? " or contiguous" : "",
         (unsigned long long)(CORE_INCREMENT / MIB),
         HAVE_ONION ? "; Onion backed by sec2" : "; no Onion (HDF5 < 1.14)");
  printf("- h5tx: `H5Pset_fapl_h5tx(fapl, \"durability=sync|nosync");
  if (c->h5tx_page) printf(";page_size=%u", c->h5tx_page);
  if (c->h5tx_extra) printf(";%s", c->h5tx_extra);
  printf("\")`, file \"STORE.h5tx/f.h5\"; otherwise the store's defaults (64 KiB pages, "
         "lz4 when it saves an eighth of a page)\n");
  char onion_note[96] = "";
  if (HAVE_ONION)
    snprintf(onion_note, sizeof onion_note,
             "Onion: revision_num %d, as Onion's revision 1 is the creation; ", c->old_rev + 1);
  if (c->mode == MODE_ANCHORS)
    printf("- revisions: %d, each H5Fopen (read-write) + H5Dwrite of %llu contiguous elements "
           "(%.2f MiB, 1 %%) at a random element offset (seed %llu) + H5Fclose; HDF5 rewrites "
           "whole chunks: %.2f MiB per revision on average for these offsets; then the state "
           "after revision %d is opened read-only (%sh5tx: the store revision made by the %d-th "
           "close; sec2 and core keep no history: the file as it is)\n",
           c->revisions, (unsigned long long)ds->blk, (double)ds->blk * 8 / MIB,
           (unsigned long long)c->seed, ds->rewrote / MIB, c->old_rev, onion_note, c->old_rev);
  printf("- %d trials, every driver once per trial in the same process, order rotated every "
         "trial; figures are medians over trials; \"×sec2\" is the median of the per-trial "
         "ratios to sec2 [min-max]. MiB/s: higher is better; ms: lower is better. Every read "
         "is checked (XXH3) against what was written at the revision it reads.\n\n",
         c->trials);
}

static double ratio_median(const double *a, const double *b, int n) {
  double q[MAX_TRIALS] = {0};
  for (int t = 0; t < n; t++)
    q[t] = a[t] / b[t];
  return bench_median(q, n);
}

/* Run every driver once per trial, rotating the order. */
static void run_trials(const config *c, dataset *ds, void *res, size_t res_size,
                       void (*fn)(const config *, const driver *, dataset *, void *)) {
  for (int t = 0; t < c->trials; t++) {
    for (int j = 0; j < c->ndrv; j++) {
      int k = (j + t) % c->ndrv;
      fprintf(stderr, "trial %d/%d: %s ...\n", t + 1, c->trials, c->drv[k].label);
      fn(c, &c->drv[k], ds, (char *)res + ((size_t)k * MAX_TRIALS + (size_t)t) * res_size);
    }
  }
}

static void simple_fn(const config *c, const driver *d, dataset *ds, void *r) {
  simple_run(c, d, ds, r);
}

static void anchors_fn(const config *c, const driver *d, dataset *ds, void *r) {
  anchors_run(c, d, ds, r);
}

static void report_simple(const config *c, const dataset *ds, simple_res (*res)[MAX_TRIALS]) {
  int n = c->trials;
  const char *lname[2] = {"chunked (1 MiB chunks)", "contiguous"};
  for (int layout = 0; layout < 2; layout++) {
    printf("| %s | write MiB/s | ×sec2 | read MiB/s | ×sec2 |\n|---|---|---|---|---|\n",
           lname[layout]);
    double w0[MAX_TRIALS], r0[MAX_TRIALS];
    for (int t = 0; t < n; t++) {
      w0[t] = (double)ds->bytes / MIB / res[0][t].write_s[layout];
      r0[t] = (double)ds->bytes / MIB / res[0][t].read_s[layout];
    }
    for (int k = 0; k < c->ndrv; k++) {
      double w[MAX_TRIALS], rd[MAX_TRIALS];
      for (int t = 0; t < n; t++) {
        w[t] = (double)ds->bytes / MIB / res[k][t].write_s[layout];
        rd[t] = (double)ds->bytes / MIB / res[k][t].read_s[layout];
      }
      char a[64], b[64];
      bench_ratio_cell(a, sizeof a, w, w0, n);
      bench_ratio_cell(b, sizeof b, rd, r0, n);
      printf("| %s | %.0f | %s | %.0f | %s |\n", c->drv[k].label, bench_median(w, n), a,
             bench_median(rd, n), b);
    }
    printf("\n");
  }
  printf("Write: H5Fcreate + H5Dcreate2 + H5Dwrite of each 1 MiB slab + H5Fclose (+ fsync of "
         "the file for \"sec2 + fsync\"; h5tx commits on close). Read: H5Fopen (read-only) + "
         "H5Dopen2 + one H5Dread of the whole dataset + closes, right after the write (page cache "
         "warm for every driver).%s\n\n",
         HAVE_ONION
             ? " Onion files are created through Onion and read at their latest revision (the "
               "creation)."
             : "");
}

static int find_kind(const config *c, enum kind kd) {
  for (int k = 0; k < c->ndrv; k++)
    if (c->drv[k].kind == kd) return k;
  return -1;
}

static void report_anchors(const config *c, const dataset *ds, anchor_res (*res)[MAX_TRIALS]) {
  int n = c->trials;
  double mib = (double)ds->bytes / MIB;
  static double W[MAX_DRIVERS][MAX_TRIALS], R[MAX_DRIVERS][MAX_TRIALS], G[MAX_DRIVERS][MAX_TRIALS],
      O[MAX_DRIVERS][MAX_TRIALS], F[MAX_DRIVERS][MAX_TRIALS];
  for (int k = 0; k < c->ndrv; k++)
    for (int t = 0; t < n; t++) {
      const anchor_res *r = &res[k][t];
      W[k][t] = mib / r->write_s;
      R[k][t] = r->rev_med_ms;
      G[k][t] = r->growth / MIB;
      O[k][t] = r->open_s * 1e3;
      F[k][t] = mib / r->read_s;
    }

  printf("| driver | initial write MiB/s | revision ms | growth per revision MiB | open old rev "
         "ms | full read MiB/s |\n|---|---|---|---|---|---|\n");
  for (int k = 0; k < c->ndrv; k++) {
    const driver *d = &c->drv[k];
    char wnote[64] = "", rnote[64] = "";
    if (d->kind == K_ONION) snprintf(wnote, sizeof wnote, " (created through Onion)");
    if (d->kind == K_ONION || is_h5tx(d))
      snprintf(rnote, sizeof rnote, " (revision %llu)", (unsigned long long)res[k][0].read_rev);
    printf("| %s | %.0f%s | %.2f | %.2f | %.2f | %.0f%s |\n", d->label, bench_median(W[k], n),
           wnote, bench_median(R[k], n), bench_median(G[k], n), bench_median(O[k], n),
           bench_median(F[k], n), rnote);
  }

  printf("\nRatios to sec2 in place (median of per-trial ratios [min-max]; revision and open: "
         "lower is better):\n\n");
  printf(
      "| driver | initial write | revision | open old rev | full read |\n|---|---|---|---|---|\n");
  for (int k = 1; k < c->ndrv; k++) {
    char a[64], b[64], e[64], f[64];
    bench_ratio_cell(a, sizeof a, W[k], W[0], n);
    bench_ratio_cell(b, sizeof b, R[k], R[0], n);
    bench_ratio_cell(e, sizeof e, O[k], O[0], n);
    bench_ratio_cell(f, sizeof f, F[k], F[0], n);
    printf("| %s | %s | %s | %s | %s |\n", c->drv[k].label, a, b, e, f);
  }

  printf("\nRevisions in detail (medians over trials):\n\n");
  printf(
      "| driver | revision ms, median | p90 | first 5 | last 5 | CPU ms per revision | growth "
      "per revision MiB | growth / HDF5 rewrote (%.2f MiB) |\n|---|---|---|---|---|---|---|---|\n",
      ds->rewrote / MIB);
  for (int k = 0; k < c->ndrv; k++) {
    double p90[MAX_TRIALS], f5[MAX_TRIALS], l5[MAX_TRIALS], gr[MAX_TRIALS], cp[MAX_TRIALS];
    for (int t = 0; t < n; t++) {
      p90[t] = res[k][t].rev_p90_ms;
      f5[t] = res[k][t].rev_first_ms;
      l5[t] = res[k][t].rev_last_ms;
      cp[t] = res[k][t].rev_cpu_ms;
      gr[t] = res[k][t].growth / ds->rewrote;
    }
    printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f |\n", c->drv[k].label,
           bench_median(R[k], n), bench_median(p90, n), bench_median(f5, n), bench_median(l5, n),
           bench_median(cp, n), bench_median(G[k], n), bench_median(gr, n));
  }
  int have_h5tx = 0;
  for (int k = 0; k < c->ndrv; k++)
    if (is_h5tx(&c->drv[k])) {
      if (!have_h5tx)
        printf("\n| h5tx store, per revision | index + page log on disk MiB | page records "
               "(page_bytes) MiB | index files (index_bytes) MiB | store revisions per "
               "open-write-close "
               "|\n|---|---|---|---|---|\n");
      have_h5tx = 1;
      double pg[MAX_TRIALS], md[MAX_TRIALS], cm[MAX_TRIALS];
      for (int t = 0; t < n; t++) {
        pg[t] = res[k][t].page_growth / MIB;
        md[t] = res[k][t].idx_growth / MIB;
        cm[t] = res[k][t].commits;
      }
      printf("| %s | %.3f | %.3f | %.3f | %.2f |\n", c->drv[k].label, bench_median(G[k], n),
             bench_median(pg, n), bench_median(md, n), bench_median(cm, n));
    }

  /* The targets of ANCHORS.md, "Where h5tx should land". */
  printf("\nTargets (ANCHORS.md, \"Where h5tx should land\"), on the median of the per-trial "
         "ratios:\n\n| target | measured | ratio [min-max] | bound | verdict |\n"
         "|---|---|---|---|---|\n");
  int ks = find_kind(c, K_H5TX_SYNC), kn = find_kind(c, K_H5TX_NOSYNC);
  int kf = find_kind(c, K_SEC2_FSYNC);
  char cell[64];
  double q;
  if (ks >= 0 && kf >= 0) {
    bench_ratio_cell(cell, sizeof cell, R[ks], R[kf], n);
    q = ratio_median(R[ks], R[kf], n);
    printf(
        "| durable revision: h5tx sync vs sec2 + fsync (ms) | %.2f vs %.2f | %s | ≤ 1.00 | %s |\n",
        bench_median(R[ks], n), bench_median(R[kf], n), cell, q <= 1.0 ? "PASS" : "MISS");
  }
  if (kn >= 0) {
    bench_ratio_cell(cell, sizeof cell, R[kn], R[0], n);
    q = ratio_median(R[kn], R[0], n);
    printf("| nosync revision: h5tx nosync vs sec2 in place (ms) | %.2f vs %.2f | %s | ≤ 1.50 | "
           "%s |\n",
           bench_median(R[kn], n), bench_median(R[0], n), cell, q <= 1.5 ? "PASS" : "MISS");
  }
  for (int j = 0; j < 2; j++) {
    int k = j == 0 ? ks : kn;
    if (k < 0) continue;
    double rw[MAX_TRIALS];
    for (int t = 0; t < n; t++)
      rw[t] = ds->rewrote / MIB;
    bench_ratio_cell(cell, sizeof cell, G[k], rw, n);
    q = ratio_median(G[k], rw, n);
    printf("| growth per revision: %s, on disk vs HDF5 rewrote (MiB) | %.3f vs %.3f | "
           "%s | ≤ 1.02 | %s |\n",
           c->drv[k].label, bench_median(G[k], n), ds->rewrote / MIB, cell,
           q <= 1.02 ? "PASS" : "MISS");
  }
  for (int j = 0; j < 2; j++) {
    int k = j == 0 ? ks : kn;
    if (k < 0) continue;
    bench_ratio_cell(cell, sizeof cell, F[k], F[0], n);
    q = ratio_median(F[k], F[0], n);
    printf("| old revision read: %s vs sec2 (MiB/s) | %.0f vs %.0f | %s | ≥ 0.95 | %s |\n",
           c->drv[k].label, bench_median(F[k], n), bench_median(F[0], n), cell,
           q >= 0.95 ? "PASS" : "MISS");
  }
  printf("\nRevision: H5Fopen (read-write) + H5Dopen2 + H5Dwrite of the block + closes (+ fsync "
         "of the file for \"sec2 + fsync\"); h5tx commits one revision on H5Fclose. Open old rev: "
         "H5Fopen (read-only) + H5Dopen2. CPU ms: user + system time of the process during the "
         "revision (median over revisions, then over "
         "trials); the rest of the revision ms is waiting, mostly for fsync / fdatasync. Full "
         "read: one "
         "H5Dread of the whole dataset. Growth: "
         "bytes on disk after the last revision minus after the initial write, over the "
         "revisions (Onion: .h5 + .onion; h5tx: its index and page log on disk).\n\n");
}

/* ---- options and main --------------------------------------------------------- */

/* Is row `name` asked for by --drivers? */
static int wanted(const config *c, const char *name) {
  if (!c->only || strcmp(name, "sec2") == 0) return 1;
  size_t len = strlen(name);
  for (const char *p = c->only; *p;) {
    size_t n = strcspn(p, ",");
    if (n == len && strncmp(p, name, n) == 0) return 1;
    p += n + (p[n] == ',');
  }
  return 0;
}

static void add_driver(config *c, enum kind kd, uint32_t page, const char *label,
                       const char *stem) {
  if (c->ndrv >= MAX_DRIVERS) bench_die("too many drivers");
  driver *d = &c->drv[c->ndrv++];
  memset(d, 0, sizeof *d);
  d->kind = kd;
  d->onion_page = page;
  snprintf(d->label, sizeof d->label, "%s", label);
  snprintf(d->stem, sizeof d->stem, "%s", stem);
}

static void setup_drivers(config *c) {
  static const char *known[] = {"sec2", "sec2-fsync", "core", "onion", "h5tx-sync", "h5tx-nosync"};
  if (c->only)
    for (const char *p = c->only; *p;) {
      size_t n = strcspn(p, ",");
      int ok = 0;
      for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        ok |= strlen(known[i]) == n && strncmp(p, known[i], n) == 0;
      if (!ok) bench_die("--drivers: unknown driver '%.*s'", (int)n, p);
      p += n + (p[n] == ',');
    }
  add_driver(c, K_SEC2, 0, "sec2 (in place, no history, no fsync)", "sec2");
  if (wanted(c, "sec2-fsync")) add_driver(c, K_SEC2_FSYNC, 0, "sec2 + fsync after close", "fsync");
  if (wanted(c, "core")) add_driver(c, K_CORE, 0, "core (backing store on)", "core");
#if HAVE_ONION
  if (wanted(c, "onion"))
    for (int i = 0; i < c->nonion; i++) {
      char label[64], stem[32];
      uint32_t p = c->onion_pages[i];
      if (p >= MIB && p % MIB == 0)
        snprintf(label, sizeof label, "Onion, %u MiB pages", (unsigned)(p / MIB));
      else if (p >= KIB && p % KIB == 0)
        snprintf(label, sizeof label, "Onion, %u KiB pages", (unsigned)(p / KIB));
      else
        snprintf(label, sizeof label, "Onion, %u B pages", p);
      snprintf(stem, sizeof stem, "onion-%u", p);
      add_driver(c, K_ONION, p, label, stem);
    }
#else
  if (c->only && strstr(c->only, "onion"))
    fprintf(stderr, "%s: Onion needs HDF5 >= 1.14; no Onion rows\n", progname);
#endif
  if (wanted(c, "h5tx-sync")) add_driver(c, K_H5TX_SYNC, 0, "h5tx sync", "h5tx-sync");
  if (wanted(c, "h5tx-nosync")) add_driver(c, K_H5TX_NOSYNC, 0, "h5tx nosync", "h5tx-nosync");
}

static void parse(config *c, int argc, char **argv) {
  memset(c, 0, sizeof *c);
  c->mode = MODE_SIMPLE;
  c->size_mib = 256;
  c->revisions = 20;
  c->old_rev = 10;
  c->seed = 42;
  c->onion_pages[0] = 4 * KIB;
  c->onion_pages[1] = 64 * KIB;
  c->nonion = 2;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (strcmp(o, "--verbose") == 0) {
      c->verbose = 1;
      continue;
    }
    if (i + 1 >= argc) bench_usage_error(usage, "unknown option or missing value: %s", o);
    const char *v = argv[++i];
    if (strcmp(o, "--mode") == 0) {
      if (strcmp(v, "simple") == 0)
        c->mode = MODE_SIMPLE;
      else if (strcmp(v, "anchors") == 0)
        c->mode = MODE_ANCHORS;
      else
        bench_die("--mode: 'simple' or 'anchors', not '%s'", v);
    } else if (strcmp(o, "--size") == 0)
      c->size_mib = bench_parse_num(o, v, 0);
    else if (strcmp(o, "--trials") == 0)
      c->trials = (int)bench_parse_num(o, v, 0);
    else if (strcmp(o, "--revisions") == 0)
      c->revisions = (int)bench_parse_num(o, v, 0);
    else if (strcmp(o, "--old-rev") == 0)
      c->old_rev = (int)bench_parse_num(o, v, 0);
    else if (strcmp(o, "--h5tx-page-size") == 0)
      c->h5tx_page = (uint32_t)bench_parse_num(o, v, 1);
    else if (strcmp(o, "--h5tx-config") == 0)
      c->h5tx_extra = v;
    else if (strcmp(o, "--drivers") == 0)
      c->only = v;
    else if (strcmp(o, "--dir") == 0)
      c->dir = v;
    else if (strcmp(o, "--seed") == 0)
      c->seed = bench_parse_num(o, v, 0);
    else if (strcmp(o, "--data") == 0)
      c->data = bench_parse_data(o, v);
    else if (strcmp(o, "--onion-page-size") == 0) {
      c->nonion = 0;
      char buf[256];
      snprintf(buf, sizeof buf, "%s", v);
      for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
           tok = strtok_r(NULL, ",", &save)) {
        if (c->nonion >= MAX_ONION) bench_die("--onion-page-size: at most %d sizes", MAX_ONION);
        uint64_t p = bench_parse_num(o, tok, 1);
        if (p < 1 || p > (1u << 30) || (p & (p - 1)))
          bench_die("--onion-page-size: %s is not a power of two", tok);
        c->onion_pages[c->nonion++] = (uint32_t)p;
      }
      if (!c->nonion) bench_die("--onion-page-size: no size given");
    } else {
      bench_usage_error(usage, "unknown option %s", o);
    }
  }
  if (!c->trials) c->trials = c->mode == MODE_ANCHORS ? 9 : 5;
  if (c->size_mib < 1 || c->size_mib > (1u << 20)) bench_die("--size: 1 to 1048576 MiB");
  if (c->trials < 1 || c->trials > MAX_TRIALS) bench_die("--trials: 1 to %d", MAX_TRIALS);
  if (c->revisions < 1 || c->revisions > MAX_REVS) bench_die("--revisions: 1 to %d", MAX_REVS);
  if (c->old_rev < 1 || c->old_rev > c->revisions)
    bench_die("--old-rev: 1 to --revisions (%d)", c->revisions);
  if (c->mode == MODE_ANCHORS && c->size_mib < 2)
    bench_die("--size: at least 2 MiB in anchors mode");
  /* The h5tx page size itself is checked by H5Pset_fapl_h5tx. */
  setup_drivers(c);
}

int main(int argc, char **argv) {
  bench_init(progname);
  static config c;
  parse(&c, argc, argv);
  if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) bench_h5_die("H5Eset_auto2", "-");
  workdir = bench_make_workdir(c.dir, "h5tx-hdf5-bench");
  backing_fapl =
      bench_h5_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(H5P_FILE_ACCESS)", "Onion backing");
  bench_h5_ok(H5Pset_fapl_sec2(backing_fapl), "H5Pset_fapl_sec2", "Onion backing");
  /* Check every driver's settings (e.g. a bad h5tx config) before the work. */
  for (int k = 0; k < c.ndrv; k++)
    bench_h5_ok(H5Pclose(make_fapl(&c, &c.drv[k], UINT64_MAX)), "H5Pclose", c.drv[k].label);
  fprintf(stderr, "%s: working in %s; generating %llu MiB of data ...\n", progname, workdir,
          (unsigned long long)c.size_mib);
  dataset ds;
  dataset_make(&ds, &c);
  double t0 = bench_now_s();
  if (c.mode == MODE_SIMPLE) {
    static simple_res res[MAX_DRIVERS][MAX_TRIALS];
    run_trials(&c, &ds, res, sizeof res[0][0], simple_fn);
    print_header(&c, &ds, argc, argv, bench_now_s() - t0);
    report_simple(&c, &ds, res);
  } else {
    static anchor_res res[MAX_DRIVERS][MAX_TRIALS];
    run_trials(&c, &ds, res, sizeof res[0][0], anchors_fn);
    print_header(&c, &ds, argc, argv, bench_now_s() - t0);
    report_anchors(&c, &ds, res);
  }
  dataset_free(&ds);
  bench_h5_ok(H5Pclose(backing_fapl), "H5Pclose", "Onion backing");
  return 0;
}
