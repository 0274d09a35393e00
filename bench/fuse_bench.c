/* fuse_bench.c - HDF5 reads and small commits through `h5tx mount`, against
 * the same file on local disk and against the h5tx driver in this process,
 * all in one run, interleaved per trial.
 *
 * Setup (once): one chunked float64 dataset of N MiB (default 256) in 1 MiB
 * chunks, written in 1 MiB slabs with identical HDF5 calls twice: with sec2
 * to DIR/plain.h5 (the local file) and with the h5tx driver to
 * DIR/s.h5tx/f.h5 (the store). The program then mounts the store with the
 * built h5tx command (fork/exec of `h5tx mount STORE MNT`, a daemon; the
 * command is --cli, default ../tools/h5tx next to this program) and checks
 * that MNT/@REV/f.h5 holds the bytes of plain.h5. Every mount is stopped
 * with `h5tx umount MNT` (falling back to `fusermount3 -uz`) on every way
 * out: normal end, errors (atexit), SIGINT/SIGTERM/SIGHUP.
 *
 * Four read paths, all HDF5 (chunk cache off, rdcc_nbytes 0, so that every
 * H5Dread goes to the file as one read per chunk touched, not through
 * HDF5's 1 MiB chunk cache):
 *   local   sec2 on DIR/plain.h5
 *   head    sec2 on MNT/f.h5 (head file through the mount)
 *   rev     sec2 on MNT/@REV/f.h5 (the revision the write made)
 *   driver  the h5tx driver in this process on STORE/f.h5@REV
 * Per trial, for each path (order rotated every trial):
 *   (a) sequential: H5Fopen + H5Dopen + one H5Dread of the whole dataset +
 *       closes, twice: cold then warm (the second pass, right after);
 *   (b) random: H5Fopen, K (256) H5Dreads of 64 KiB at random element
 *       offsets (fixed seed, new offsets each trial, the same for every
 *       path), closes; cold then warm, the same offsets.
 * Cold: unmount the store if it is mounted, sync, `echo 3 >
 * /proc/sys/vm/drop_caches`, mount again if the path needs the mount. The
 * unmount is needed because the daemon keeps the store's index mapped
 * (format 1 mapped all of the store's data): drop_caches leaves mapped pages
 * alone. That case is
 * measured as well, for the rev path: drop_caches with the daemon running,
 * then a third pass ("FUSE cache dropped, store map kept"). Without the
 * permission to drop caches, cold is reported as unavailable. The
 * residency of the file each cold pass reads (plain.h5 or the page log,
 * mincore) is checked before it. The daemon's store reads (.h5tx/stats
 * `reads`, `bytes`) are read before and after every pass through the mount.
 *
 * (c) Small commits, per trial, every row in turn (order rotated), after
 * reading the three files once (steady state: the pages a write merges
 * with are in memory, not behind the cold passes' drop_caches): C writes
 * of 4 KiB (new random bytes) at random 4 KiB-aligned offsets of a 1 MiB
 * file:
 *   local fsync   open(O_RDWR) + pwrite + fsync + close of DIR/small.bin
 *   local         open + pwrite + close (not durable: the baseline cost of
 *                 the calls)
 *   mount fsync   open + pwrite + fsync + close of MNT/small.bin: fsync
 *                 commits a revision
 *   mount close   open + pwrite + close: the close commits
 *   driver        H5Dwrite of 512 float64 (4 KiB) + H5Fflush on STORE/
 *                 small.h5 (1-D contiguous, kept open read-write): the
 *                 flush commits
 * h5tx commits are durable when they return with the store's durability
 * (sync unless --mount-config / --h5tx-config say otherwise). Median and
 * p90 per write, the count of store revisions per write (head of
 * .h5tx/stats) and a breakdown of the mount rows into open, pwrite, fsync
 * and close.
 *
 * Every read is checked against the data written. Tables give medians over
 * trials and ratios to sec2 on the local file as the median of per-trial
 * ratios [min-max]. Output: Markdown on stdout; progress on stderr.
 * --help for the options.
 */
#include "bench_h5.h"
#include "bench_util.h"

#include <H5FDh5tx.h>
#include <hdf5.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define CHUNK_ELEMS (MIB / sizeof(double)) /* 1 MiB chunks */
#define DSET "data"
#define SMALL_BYTES MIB /* the file the small commits write into */
#define SMALL_WRITE 4096
#define MAX_TRIALS 51
#define MAX_RANDOM 100000
#define MAX_COMMITS 100000
#define FUSE_MAGIC 0x65735546 /* statfs f_type of a FUSE mount */
#define LONGPATH 4200

static const char *progname = "h5tx_fuse_bench";

/* ---- configuration -------------------------------------------------------- */

typedef struct config {
  uint64_t size_mib;
  int trials;
  int nrand;           /* random reads per pass */
  uint64_t rand_bytes; /* bytes per random read */
  int commits;         /* small commits per row and trial */
  uint64_t seed;
  const char *dir;
  const char *cli;
  const char *mount_config; /* --mount-config: h5tx mount --config */
  const char *h5tx_config;  /* --h5tx-config: the driver's config */
  int threads;              /* --threads for h5tx mount, 0: its default */
  int no_cold;
  int verbose;
} config;

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options]\n"
          "Reads of an HDF5 dataset through `h5tx mount` (head file and @REV), cold and\n"
          "warm, sequential and random, against sec2 on the same file on local disk and\n"
          "against the h5tx driver in this process; and the latency of small commits\n"
          "through the mount (see the top of bench/fuse_bench.c). Mounts the store\n"
          "with the h5tx command and always unmounts it. Cold passes drop the page\n"
          "cache (root). Prints Markdown tables on stdout.\n"
          "\n"
          "  --size MIB          dataset size in MiB (default 256; 1 MiB chunks)\n"
          "  --trials N          trials; tables give medians (default 5)\n"
          "  --random K          random reads per pass (default 256)\n"
          "  --random-size BYTES bytes per random read, a multiple of 8, suffix K or M\n"
          "                      allowed (default 64K)\n"
          "  --commits C         small commits per row and trial (default 100)\n"
          "  --cli PATH          the h5tx command (default: ../tools/h5tx relative to\n"
          "                      this program)\n"
          "  --mount-config TEXT h5tx mount --config for the files written through the\n"
          "                      mount, e.g. 'durability=nosync'\n"
          "  --h5tx-config TEXT  the driver's config for its files, e.g. 'durability=nosync'\n"
          "  --threads N         h5tx mount --threads (default: the mount's, 10)\n"
          "  --no-cold           do not drop caches (cold reported as unavailable)\n"
          "  --dir DIR           where to work: a fresh directory is made in DIR and\n"
          "                      removed at the end (default $TMPDIR, else /tmp)\n"
          "  --seed N            seed of the data and of the offsets (default 42)\n"
          "  --verbose           print every pass on stderr\n"
          "  --help              this text\n",
          progname);
}

static void parse(config *c, int argc, char **argv) {
  memset(c, 0, sizeof *c);
  c->size_mib = 256;
  c->trials = 5;
  c->nrand = 256;
  c->rand_bytes = 64 * KIB;
  c->commits = 100;
  c->seed = 42;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--no-cold")) {
      c->no_cold = 1;
      continue;
    }
    if (!strcmp(a, "--verbose")) {
      c->verbose = 1;
      continue;
    }
    if (i + 1 >= argc) bench_usage_error(usage, "%s: unknown option or missing value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--size"))
      c->size_mib = bench_parse_num(a, v, 0);
    else if (!strcmp(a, "--trials"))
      c->trials = (int)bench_parse_num(a, v, 0);
    else if (!strcmp(a, "--random"))
      c->nrand = (int)bench_parse_num(a, v, 0);
    else if (!strcmp(a, "--random-size"))
      c->rand_bytes = bench_parse_num(a, v, 1);
    else if (!strcmp(a, "--commits"))
      c->commits = (int)bench_parse_num(a, v, 0);
    else if (!strcmp(a, "--cli"))
      c->cli = v;
    else if (!strcmp(a, "--mount-config"))
      c->mount_config = v;
    else if (!strcmp(a, "--h5tx-config"))
      c->h5tx_config = v;
    else if (!strcmp(a, "--threads"))
      c->threads = (int)bench_parse_num(a, v, 0);
    else if (!strcmp(a, "--dir"))
      c->dir = v;
    else if (!strcmp(a, "--seed"))
      c->seed = bench_parse_num(a, v, 0);
    else
      bench_usage_error(usage, "unknown option %s", a);
  }
  if (c->size_mib < 1 || c->size_mib > 64 * 1024)
    bench_usage_error(usage, "--size: want 1 to 65536 MiB");
  if (c->trials < 1 || c->trials > MAX_TRIALS)
    bench_usage_error(usage, "--trials: want 1 to %d", MAX_TRIALS);
  if (c->nrand < 1 || c->nrand > MAX_RANDOM)
    bench_usage_error(usage, "--random: want 1 to %d", MAX_RANDOM);
  if (c->rand_bytes < 8 || c->rand_bytes % 8 || c->rand_bytes > c->size_mib * MIB)
    bench_usage_error(usage, "--random-size: want a multiple of 8 up to the dataset size");
  if (c->commits < 1 || c->commits > MAX_COMMITS)
    bench_usage_error(usage, "--commits: want 1 to %d", MAX_COMMITS);
  if (c->threads < 0 || c->threads > 1000) bench_usage_error(usage, "--threads: want 1 to 1000");
}

/* ---- errors --------------------------------------------------------------- */

/* snprintf into a path buffer; a path that does not fit is an error. */
static void path_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_fmt(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap) bench_die("path too long: %s", out);
}

/* ---- the mount: start, stop, always stop ------------------------------------ */

static char cli_path[PATH_MAX];
static char fusermount_path[PATH_MAX]; /* "" when not found */
static char store_dir[LONGPATH], mnt_dir[LONGPATH];
static char *mount_argv[12];
static char threads_arg[16];
static volatile sig_atomic_t mounted;  /* a mount may be up at mnt_dir */
static volatile sig_atomic_t stop_sig; /* the signal asking us to stop */
static int mnt_fd = -1;                /* a raw descriptor on the mount, if open */

/* Run argv[0] with argv, stdin from /dev/null and stdout to our stderr
 * (quiet: both to /dev/null); returns its exit status, 128 + signal, or -1.
 * Only async-signal-safe calls: also used from the signal handler. */
static int spawn(char *const argv[], int quiet) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 0);
      dup2(quiet ? fd : 2, 1);
      if (quiet) dup2(fd, 2);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* `h5tx umount MNT`, and when that fails (files still open, a dead
 * daemon) a lazy `fusermount3 -uz MNT`. Async-signal-safe. Returns the
 * status of h5tx umount. */
static int unmount_now(int quiet) {
  char *um[] = {cli_path, "umount", mnt_dir, NULL};
  int rc = spawn(um, quiet);
  if (rc != 0 && fusermount_path[0]) {
    char *fu[] = {fusermount_path, "-uz", mnt_dir, NULL};
    spawn(fu, 1);
  }
  mounted = 0;
  return rc;
}

/* Whether a mount (alive, or of a dead daemon) is at mnt_dir. */
static int still_mounted(void) {
  struct statfs sf;
  if (statfs(mnt_dir, &sf) != 0) return errno == ENOTCONN;
  return (unsigned long)sf.f_type == FUSE_MAGIC;
}

static void at_exit_unmount(void) {
  if (!mounted) return;
  if (!still_mounted()) {
    mounted = 0;
    return;
  }
  if (mnt_fd >= 0) close(mnt_fd);
  H5close(); /* files on the mount would keep it busy */
  if (unmount_now(0) != 0) fprintf(stderr, "%s: unmounted %s lazily\n", progname, mnt_dir);
}

/* First signal: stop at the next step (exit runs the atexit unmount and
 * removes the work directory). A second one: unmount now and go. */
static void on_signal(int sig) {
  if (!stop_sig) {
    stop_sig = sig;
    return;
  }
  if (mounted) unmount_now(1);
  _exit(128 + sig);
}

static void check_stop(void) {
  if (!stop_sig) return;
  fprintf(stderr, "%s: interrupted (signal %d), cleaning up\n", progname, (int)stop_sig);
  exit(128 + stop_sig);
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++)
    if (sigaction(sigs[i], &sa, NULL) != 0) bench_die_errno("sigaction", "");
}

static int is_fuse_mount(const char *dir) {
  struct statfs sf;
  return statfs(dir, &sf) == 0 && (unsigned long)sf.f_type == FUSE_MAGIC;
}

static double mount_ms[4 * MAX_TRIALS + 8];
static int nmount;

static void do_mount(void) {
  if (mounted) return;
  check_stop();
  mounted = 1; /* from here on, every exit unmounts */
  double t0 = bench_now_s();
  int rc = spawn(mount_argv, 0);
  if (rc != 0) bench_die("%s mount %s %s: exit status %d", cli_path, store_dir, mnt_dir, rc);
  if (!is_fuse_mount(mnt_dir)) bench_die("%s: not a FUSE mount after h5tx mount", mnt_dir);
  if (nmount < (int)(sizeof mount_ms / sizeof *mount_ms))
    mount_ms[nmount++] = (bench_now_s() - t0) * 1e3;
}

static void do_unmount(void) {
  if (!mounted) return;
  int rc = unmount_now(0);
  if (rc != 0) bench_die("%s umount %s: exit status %d", cli_path, mnt_dir, rc);
}

/* Find `name` on $PATH into out (cap bytes); "" when it is not there. */
static void find_on_path(const char *name, char *out, size_t cap) {
  out[0] = 0;
  const char *p = getenv("PATH");
  if (!p) p = "/usr/bin:/bin";
  while (*p) {
    size_t n = strcspn(p, ":");
    char cand[PATH_MAX];
    snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, name);
    if (n && access(cand, X_OK) == 0) {
      snprintf(out, cap, "%s", cand);
      return;
    }
    p += n + (p[n] == ':');
  }
}

/* --cli, else ../tools/h5tx relative to this program. */
static void find_cli(const config *c) {
  if (c->cli) {
    snprintf(cli_path, sizeof cli_path, "%s", c->cli);
  } else {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) bench_die_errno("readlink", "/proc/self/exe");
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    path_fmt(cli_path, sizeof cli_path, "%s/../tools/h5tx", self);
  }
  char real[PATH_MAX];
  if (!realpath(cli_path, real) || access(real, X_OK) != 0)
    bench_die("the h5tx command %s is not there or not executable (--cli PATH)", cli_path);
  path_fmt(cli_path, sizeof cli_path, "%s", real);
}

/* ---- page cache ------------------------------------------------------------ */

/* sync + echo 3 > /proc/sys/vm/drop_caches; 0, or an errno. */
static int drop_caches(void) {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = write(fd, "3", 1) == 1 ? 0 : errno;
  close(fd);
  return rc;
}

/* ---- the mount's counters ---------------------------------------------------- */

typedef struct mstats {
  uint64_t reads, bytes, commits, head;
} mstats;

static mstats read_stats(void) {
  char p[LONGPATH + 32], text[1024];
  path_fmt(p, sizeof p, "%s/.h5tx/stats", mnt_dir);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) bench_die_errno("opening", p);
  ssize_t n = read(fd, text, sizeof text - 1);
  if (n < 0) bench_die_errno("reading", p);
  close(fd);
  text[n] = 0;
  mstats s;
  memset(&s, 0, sizeof s);
  int got = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char key[32];
    unsigned long long v;
    if (sscanf(line, "%31s %llu", key, &v) != 2) continue;
    if (!strcmp(key, "reads")) s.reads = v, got |= 1;
    if (!strcmp(key, "bytes")) s.bytes = v, got |= 2;
    if (!strcmp(key, "commits")) s.commits = v, got |= 4;
    if (!strcmp(key, "head")) s.head = v, got |= 8;
  }
  if (got != 15) bench_die("%s: unexpected contents", p);
  return s;
}

/* ---- data and files ------------------------------------------------------- */

static char plain_path[LONGPATH], driver_head[LONGPATH], driver_rev[LONGPATH];
static char mnt_head[LONGPATH], mnt_rev[LONGPATH], mdb_path[LONGPATH];
static char small_local[LONGPATH], small_mnt[LONGPATH], small_h5[LONGPATH];
static hid_t fapl_sec2 = H5I_INVALID_HID, fapl_h5tx = H5I_INVALID_HID;
static hid_t dapl_nocache = H5I_INVALID_HID;

typedef struct data {
  uint64_t nelem;
  size_t bytes;
  double *src, *dst;
  uint64_t relems; /* elements per random read */
  uint64_t *off;   /* element offsets of the random reads of this trial */
  int nrand;
} data;

/* Create `path` with `fapl`: the dataset chunked in 1 MiB chunks, written
 * in 1 MiB slabs (one H5Dwrite each), closed. */
static void write_dataset(const char *path, hid_t fapl, const data *d) {
  bench_h5_write(path, fapl, DSET, d->src, d->nelem, CHUNK_ELEMS, CHUNK_ELEMS);
}

/* The small file of the driver's commits: SMALL_BYTES of float64,
 * contiguous. */
static void write_small_h5(const char *path, hid_t fapl, uint64_t *rng) {
  hsize_t n = SMALL_BYTES / sizeof(double);
  double *x = bench_xmalloc(SMALL_BYTES);
  bench_fill_signal(x, n, 0, rng);
  hid_t space = bench_h5_id(H5Screate_simple(1, &n, NULL), "H5Screate_simple", path);
  hid_t f = bench_h5_id(H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate", path);
  hid_t dset =
      bench_h5_id(H5Dcreate2(f, DSET, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  "H5Dcreate2", path);
  bench_h5_ok(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x), "H5Dwrite",
              path);
  bench_h5_ok(H5Dclose(dset), "H5Dclose", path);
  bench_h5_ok(H5Fclose(f), "H5Fclose", path);
  bench_h5_ok(H5Sclose(space), "H5Sclose", path);
  free(x);
}

static void fill_random(void *buf, size_t n, uint64_t *rng) {
  unsigned char *p = buf;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = bench_splitmix64(rng);
    memcpy(p + i, &v, n - i < 8 ? n - i : 8);
  }
}

/* Create (or replace) plain file `path` with SMALL_BYTES of random bytes,
 * fsync'd unless it is on the mount (where the close commits). */
static void write_small_bin(const char *path, int do_fsync, uint64_t *rng) {
  unsigned char *b = bench_xmalloc(SMALL_BYTES);
  fill_random(b, SMALL_BYTES, rng);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) bench_die_errno("creating", path);
  if (write(fd, b, SMALL_BYTES) != (ssize_t)SMALL_BYTES) bench_die_errno("writing", path);
  if (do_fsync && fsync(fd) != 0) bench_die_errno("fsync of", path);
  if (close(fd) != 0) bench_die_errno("closing", path);
  free(b);
}

/* Whole files `a` and `b` byte for byte: 1 when equal. */
static int same_bytes(const char *a, const char *b) {
  int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
  if (fa < 0) bench_die_errno("opening", a);
  if (fb < 0) bench_die_errno("opening", b);
  mnt_fd = fb;
  size_t cap = 4 * MIB;
  char *x = bench_xmalloc(cap), *y = bench_xmalloc(cap);
  int same = 1;
  for (;;) {
    ssize_t n = read(fa, x, cap);
    if (n < 0) bench_die_errno("reading", a);
    ssize_t got = 0;
    while (got < n) { /* a FUSE read may return less */
      ssize_t m = read(fb, y + got, (size_t)(n - got));
      if (m < 0) bench_die_errno("reading", b);
      if (m == 0) break;
      got += m;
    }
    if (got != n || memcmp(x, y, (size_t)n) != 0) {
      same = 0;
      break;
    }
    if (n == 0) break;
  }
  free(x);
  free(y);
  close(fa);
  close(fb);
  mnt_fd = -1;
  return same;
}

/* Read file `path` once, to bring it into the page cache. */
static void read_whole(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) bench_die_errno("opening", path);
  if (strncmp(path, mnt_dir, strlen(mnt_dir)) == 0) mnt_fd = fd;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
  }
  if (n < 0) bench_die_errno("reading", path);
  mnt_fd = -1;
  close(fd);
}

/* ---- reads ------------------------------------------------------------------ */

enum path { P_LOCAL, P_HEAD, P_REV, P_DRIVER, NPATH };
static const char *const path_label[NPATH] = {"sec2, local file", "sec2, MNT/f.h5 (mount, head)",
                                              "sec2, MNT/@REV/f.h5 (mount, revision)",
                                              "h5tx driver in-process, STORE/f.h5@REV"};

static int on_mount(int p) { return p == P_HEAD || p == P_REV; }

static const char *path_file(int p) {
  switch (p) {
  case P_LOCAL: return plain_path;
  case P_HEAD: return mnt_head;
  case P_REV: return mnt_rev;
  default: return driver_rev;
  }
}

static hid_t path_fapl(int p) { return p == P_DRIVER ? fapl_h5tx : fapl_sec2; }

/* Open, read the whole dataset in one H5Dread, close: seconds. */
static double read_seq(int p, data *d) {
  const char *path = path_file(p);
  memset(d->dst, 0, d->bytes);
  double t0 = bench_now_s();
  hid_t f = bench_h5_id(H5Fopen(path, H5F_ACC_RDONLY, path_fapl(p)), "H5Fopen (read-only)", path);
  hid_t dset = bench_h5_id(H5Dopen2(f, DSET, dapl_nocache), "H5Dopen2", path);
  bench_h5_ok(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->dst), "H5Dread",
              path);
  bench_h5_ok(H5Dclose(dset), "H5Dclose", path);
  bench_h5_ok(H5Fclose(f), "H5Fclose", path);
  double t = bench_now_s() - t0;
  if (memcmp(d->dst, d->src, d->bytes) != 0)
    bench_die("%s: the dataset read differs from the data written", path);
  return t;
}

/* Open, the random reads one H5Dread each, close: seconds of the reads
 * alone (the open and close not included); *med_ms the median read. */
static double read_random(int p, data *d, double *med_ms) {
  const char *path = path_file(p);
  double *lat = bench_xmalloc((size_t)d->nrand * sizeof *lat);
  hsize_t count = d->relems;
  hid_t mspace = bench_h5_id(H5Screate_simple(1, &count, NULL), "H5Screate_simple", path);
  hid_t f = bench_h5_id(H5Fopen(path, H5F_ACC_RDONLY, path_fapl(p)), "H5Fopen (read-only)", path);
  hid_t dset = bench_h5_id(H5Dopen2(f, DSET, dapl_nocache), "H5Dopen2", path);
  hid_t fspace = bench_h5_id(H5Dget_space(dset), "H5Dget_space", path);
  double sum = 0;
  for (int i = 0; i < d->nrand; i++) {
    hsize_t start = d->off[i];
    double *out = d->dst + (size_t)i * d->relems;
    bench_h5_ok(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL),
                "H5Sselect_hyperslab", path);
    double t0 = bench_now_s();
    bench_h5_ok(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, out), "H5Dread",
                path);
    lat[i] = bench_now_s() - t0;
    sum += lat[i];
  }
  bench_h5_ok(H5Sclose(fspace), "H5Sclose", path);
  bench_h5_ok(H5Dclose(dset), "H5Dclose", path);
  bench_h5_ok(H5Fclose(f), "H5Fclose", path);
  bench_h5_ok(H5Sclose(mspace), "H5Sclose", path);
  for (int i = 0; i < d->nrand; i++)
    if (memcmp(d->dst + (size_t)i * d->relems, d->src + d->off[i], d->relems * sizeof(double)))
      bench_die("%s: random read %d differs from the data written", path, i);
  *med_ms = bench_median(lat, d->nrand) * 1e3;
  free(lat);
  return sum;
}

/* One pass: seconds, the median random read (ms) and the daemon's store
 * reads during it (mount paths). */
typedef struct pass {
  double s, med_ms;
  uint64_t reads, bytes;
} pass;

static pass run_pass(int p, int random, data *d) {
  check_stop();
  pass r;
  memset(&r, 0, sizeof r);
  mstats s0 = {0, 0, 0, 0}, s1;
  if (on_mount(p)) s0 = read_stats();
  r.s = random ? read_random(p, d, &r.med_ms) : read_seq(p, d);
  if (on_mount(p)) {
    s1 = read_stats();
    r.reads = s1.reads - s0.reads;
    r.bytes = s1.bytes - s0.bytes;
  }
  return r;
}

/* ---- small commits ------------------------------------------------------------ */

enum commit_row { C_LOCAL_FSYNC, C_LOCAL, C_MOUNT_FSYNC, C_MOUNT_CLOSE, C_DRIVER, NCOMMIT };
static const char *const commit_label[NCOMMIT] = {
    "local file: open + pwrite + fsync + close", "local file: open + pwrite + close",
    "mount, MNT/small.bin: open + pwrite + fsync (commits) + close",
    "mount, MNT/small.bin: open + pwrite + close (commits)",
    "h5tx driver in-process, STORE/small.h5 open read-write: H5Dwrite (4 KiB) + H5Fflush "
    "(commits)"};
enum { PH_OPEN, PH_WRITE, PH_FSYNC, PH_CLOSE, NPHASE };

typedef struct commit_res {
  double med_ms, p90_ms;
  double phase_ms[NPHASE]; /* medians */
  double revs_per_write;   /* store revisions per write (head of .h5tx/stats) */
} commit_res;

static void run_commits(const config *c, int row, uint64_t *rng, commit_res *out) {
  check_stop();
  int n = c->commits;
  double *lat = bench_xmalloc((size_t)n * sizeof *lat);
  double *ph[NPHASE];
  for (int k = 0; k < NPHASE; k++) {
    ph[k] = bench_xmalloc((size_t)n * sizeof *ph[k]);
    memset(ph[k], 0, (size_t)n * sizeof *ph[k]);
  }
  unsigned char buf[SMALL_WRITE];
  double dbuf[SMALL_WRITE / sizeof(double)];
  hsize_t dcount = SMALL_WRITE / sizeof(double);
  hid_t f = H5I_INVALID_HID, dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
  hid_t mspace = H5I_INVALID_HID;
  if (row == C_DRIVER) {
    f = bench_h5_id(H5Fopen(small_h5, H5F_ACC_RDWR, fapl_h5tx), "H5Fopen (read-write)", small_h5);
    dset = bench_h5_id(H5Dopen2(f, DSET, H5P_DEFAULT), "H5Dopen2", small_h5);
    fspace = bench_h5_id(H5Dget_space(dset), "H5Dget_space", small_h5);
    mspace = bench_h5_id(H5Screate_simple(1, &dcount, NULL), "H5Screate_simple", small_h5);
  }
  mstats s0 = read_stats();
  const char *path = row == C_MOUNT_FSYNC || row == C_MOUNT_CLOSE ? small_mnt : small_local;
  int do_fsync = row == C_LOCAL_FSYNC || row == C_MOUNT_FSYNC;
  for (int i = 0; i < n; i++) {
    uint64_t slot = bench_splitmix64(rng) % (SMALL_BYTES / SMALL_WRITE);
    if (row == C_DRIVER) {
      for (size_t j = 0; j < dcount; j++)
        dbuf[j] = (double)(bench_splitmix64(rng) >> 11) * 0x1.0p-53;
      hsize_t start = slot * dcount;
      bench_h5_ok(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &dcount, NULL),
                  "H5Sselect_hyperslab", small_h5);
      double t0 = bench_now_s();
      bench_h5_ok(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, dbuf), "H5Dwrite",
                  small_h5);
      double t1 = bench_now_s();
      bench_h5_ok(H5Fflush(f, H5F_SCOPE_LOCAL), "H5Fflush", small_h5);
      double t2 = bench_now_s();
      ph[PH_WRITE][i] = t1 - t0;
      ph[PH_FSYNC][i] = t2 - t1;
      lat[i] = t2 - t0;
      continue;
    }
    fill_random(buf, sizeof buf, rng);
    off_t off = (off_t)(slot * SMALL_WRITE);
    double t0 = bench_now_s();
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) bench_die_errno("opening (read-write)", path);
    if (path == small_mnt) mnt_fd = fd;
    double t1 = bench_now_s();
    if (pwrite(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf) bench_die_errno("pwrite", path);
    double t2 = bench_now_s();
    if (do_fsync && fsync(fd) != 0) bench_die_errno("fsync of", path);
    double t3 = bench_now_s();
    mnt_fd = -1;
    if (close(fd) != 0) bench_die_errno("closing", path);
    double t4 = bench_now_s();
    ph[PH_OPEN][i] = t1 - t0;
    ph[PH_WRITE][i] = t2 - t1;
    ph[PH_FSYNC][i] = t3 - t2;
    ph[PH_CLOSE][i] = t4 - t3;
    lat[i] = t4 - t0;
  }
  mstats s1 = read_stats();
  if (row == C_DRIVER) {
    bench_h5_ok(H5Sclose(mspace), "H5Sclose", small_h5);
    bench_h5_ok(H5Sclose(fspace), "H5Sclose", small_h5);
    bench_h5_ok(H5Dclose(dset), "H5Dclose", small_h5);
    bench_h5_ok(H5Fclose(f), "H5Fclose", small_h5);
  }
  out->revs_per_write = (double)(s1.head - s0.head) / n;
  for (int k = 0; k < NPHASE; k++) {
    out->phase_ms[k] = bench_median(ph[k], n) * 1e3;
    free(ph[k]);
  }
  out->med_ms = bench_median(lat, n) * 1e3;
  out->p90_ms = bench_quantile(lat, n, 0.9) * 1e3;
  free(lat);
}

/* ---- trials ------------------------------------------------------------------------ */

enum { COLD, WARM, NTEMP };

typedef struct trial {
  pass seq[NPATH][NTEMP], rnd[NPATH][NTEMP];
  pass seq_kept, rnd_kept; /* rev: drop_caches with the daemon running */
  double resid[NPATH][2];  /* [seq, rnd]: fraction resident before the cold pass */
  commit_res commit[NCOMMIT];
} trial;

static int cold_ok; /* caches can be dropped */

/* Before a cold pass of path p: no daemon (its map would keep the store in
 * memory), caches dropped, the mount back if p reads through it. Without
 * the permission to drop, only the mount state. Returns the residency of
 * the file p reads (plain.h5 or the page log). */
static double prepare(int p, int cold) {
  check_stop();
  if (cold && cold_ok) {
    do_unmount();
    int rc = drop_caches();
    if (rc) bench_die("dropping the page cache: %s", strerror(rc));
  }
  if (on_mount(p)) do_mount();
  return bench_resident(p == P_LOCAL ? plain_path : mdb_path);
}

static void verbose_pass(const config *c, int t, const char *what, int p, const char *temp,
                         const pass *r, const data *d, int random) {
  if (!c->verbose) return;
  double mib = random ? (double)d->nrand * (double)d->relems * 8 / MIB : (double)d->bytes / MIB;
  fprintf(stderr, "  trial %d %s %s %s: %.0f MiB/s", t + 1, what, path_label[p], temp, mib / r->s);
  if (random) fprintf(stderr, ", median read %.3f ms", r->med_ms);
  if (on_mount(p))
    fprintf(stderr, ", store reads %llu (%llu KiB)", (unsigned long long)r->reads,
            (unsigned long long)(r->bytes / KIB));
  fputc('\n', stderr);
}

static void run_trial(const config *c, int t, data *d, trial *tr, uint64_t *rng) {
  uint64_t span = d->nelem - d->relems + 1;
  for (int i = 0; i < d->nrand; i++)
    d->off[i] = bench_splitmix64(rng) % span;
  for (int random = 0; random < 2; random++) {
    const char *what = random ? "random" : "sequential";
    for (int k = 0; k < NPATH; k++) {
      int p = (k + t) % NPATH;
      pass *r = random ? tr->rnd[p] : tr->seq[p];
      tr->resid[p][random] = prepare(p, 1);
      r[COLD] = run_pass(p, random, d);
      verbose_pass(c, t, what, p, cold_ok ? "cold" : "first", &r[COLD], d, random);
      r[WARM] = run_pass(p, random, d);
      verbose_pass(c, t, what, p, "warm", &r[WARM], d, random);
      if (p == P_REV && cold_ok) {
        int rc = drop_caches();
        if (rc) bench_die("dropping the page cache: %s", strerror(rc));
        pass *kept = random ? &tr->rnd_kept : &tr->seq_kept;
        *kept = run_pass(p, random, d);
        verbose_pass(c, t, what, p, "after drop_caches, daemon running", kept, d, random);
      }
    }
  }
  /* The commits measure steady state: the pages they merge with in memory,
   * not behind the cold passes' drop_caches. */
  do_mount();
  char small_h5_mnt[LONGPATH + 16];
  path_fmt(small_h5_mnt, sizeof small_h5_mnt, "%s/small.h5", mnt_dir);
  read_whole(small_local);
  read_whole(small_mnt);
  read_whole(small_h5_mnt);
  for (int k = 0; k < NCOMMIT; k++) {
    int row = (k + t) % NCOMMIT;
    run_commits(c, row, rng, &tr->commit[row]);
    if (c->verbose)
      fprintf(stderr, "  trial %d commits %s: median %.3f ms, p90 %.3f ms, %.2f revisions each\n",
              t + 1, commit_label[row], tr->commit[row].med_ms, tr->commit[row].p90_ms,
              tr->commit[row].revs_per_write);
  }
}

/* ---- report -------------------------------------------------------------------- */

static double v_[MAX_TRIALS], w_[MAX_TRIALS];

static void print_reads(const config *c, const data *d, trial *tr, int random) {
  int n = c->trials;
  double mib = random ? (double)d->nrand * (double)d->relems * 8 / MIB : (double)d->bytes / MIB;
  char cell[64];
  if (random)
    printf("| path | cold MiB/s | ×local | cold ms per read | warm MiB/s | ×local | warm ms per "
           "read | store reads cold (KiB each) | store reads warm |\n"
           "|---|---|---|---|---|---|---|---|---|\n");
  else
    printf("| path | cold MiB/s | ×local | warm MiB/s | ×local | store reads cold (KiB each) | "
           "store reads warm |\n"
           "|---|---|---|---|---|---|---|\n");
  for (int p = 0; p < NPATH + 1; p++) {
    int kept = p == NPATH; /* the extra row: rev, daemon running across drop_caches */
    if (kept && !cold_ok) break;
    int q = kept ? P_REV : p;
    printf("| %s%s |", path_label[q], kept ? ", after drop_caches with the daemon running" : "");
    for (int temp = 0; temp < NTEMP; temp++) {
      if (kept && temp == WARM) {
        printf(random ? " - | - | - |" : " - | - |");
        continue;
      }
      if (temp == COLD && !cold_ok) {
        printf(random ? " unavailable | - | - |" : " unavailable | - |");
        continue;
      }
      for (int t = 0; t < n; t++) {
        const pass *a = kept ? (random ? &tr[t].rnd_kept : &tr[t].seq_kept)
                             : (random ? &tr[t].rnd[q][temp] : &tr[t].seq[q][temp]);
        const pass *b = random ? &tr[t].rnd[P_LOCAL][temp] : &tr[t].seq[P_LOCAL][temp];
        v_[t] = mib / a->s;
        w_[t] = mib / b->s;
      }
      bench_ratio_cell(cell, sizeof cell, v_, w_, n);
      printf(" %.0f | %s |", bench_median(v_, n), cell);
      if (random) {
        for (int t = 0; t < n; t++)
          v_[t] = kept ? tr[t].rnd_kept.med_ms : tr[t].rnd[q][temp].med_ms;
        printf(" %.3f |", bench_median(v_, n));
      }
    }
    for (int temp = 0; temp < NTEMP; temp++) {
      if (!on_mount(q) || (kept && temp == WARM) || (temp == COLD && !cold_ok)) {
        printf(" - |");
        continue;
      }
      for (int t = 0; t < n; t++) {
        const pass *a = kept ? (random ? &tr[t].rnd_kept : &tr[t].seq_kept)
                             : (random ? &tr[t].rnd[q][temp] : &tr[t].seq[q][temp]);
        v_[t] = (double)a->reads;
        w_[t] = a->reads ? (double)a->bytes / (double)a->reads / KIB : 0;
      }
      if (temp == COLD)
        printf(" %.0f (%.0f) |", bench_median(v_, n), bench_median(w_, n));
      else
        printf(" %.0f |", bench_median(v_, n));
    }
    printf("\n");
  }
}

static void print_commits(const config *c, trial *tr) {
  int n = c->trials;
  char cell[64];
  const char *mnt_dur = c->mount_config && strstr(c->mount_config, "durability=nosync")
                            ? "no (durability=nosync)"
                            : "yes (durability=sync)";
  const char *drv_dur = c->h5tx_config && strstr(c->h5tx_config, "durability=nosync")
                            ? "no (durability=nosync)"
                            : "yes (durability=sync)";
  const char *const durable[NCOMMIT] = {"yes", "no", mnt_dur, mnt_dur, drv_dur};
  printf("| write (4 KiB at a random 4 KiB-aligned offset of a 1 MiB file) | durable | median ms "
         "| p90 ms | ×local pwrite+fsync (median) | store revisions per write |\n"
         "|---|---|---|---|---|---|\n");
  for (int r = 0; r < NCOMMIT; r++) {
    for (int t = 0; t < n; t++) {
      v_[t] = tr[t].commit[r].med_ms;
      w_[t] = tr[t].commit[C_LOCAL_FSYNC].med_ms;
    }
    bench_ratio_cell(cell, sizeof cell, v_, w_, n);
    double med = bench_median(v_, n);
    for (int t = 0; t < n; t++)
      v_[t] = tr[t].commit[r].p90_ms;
    double p90 = bench_median(v_, n);
    for (int t = 0; t < n; t++)
      v_[t] = tr[t].commit[r].revs_per_write;
    printf("| %s | %s | %.3f | %.3f | %s | %.2f |\n", commit_label[r], durable[r], med, p90, cell,
           bench_median(v_, n));
  }
  printf("\nThe same, by call (medians, ms; the driver: H5Dwrite under pwrite, H5Fflush under "
         "fsync):\n\n| write | open | pwrite | fsync | close |\n|---|---|---|---|---|\n");
  for (int r = 0; r < NCOMMIT; r++) {
    printf("| %s |", commit_label[r]);
    for (int k = 0; k < NPHASE; k++) {
      for (int t = 0; t < n; t++)
        v_[t] = tr[t].commit[r].phase_ms[k];
      int none = (k == PH_FSYNC && (r == C_LOCAL || r == C_MOUNT_CLOSE)) ||
                 (r == C_DRIVER && (k == PH_OPEN || k == PH_CLOSE));
      if (none)
        printf(" - |");
      else
        printf(" %.3f |", bench_median(v_, n));
    }
    printf("\n");
  }
}

static void print_report(const config *c, const data *d, trial *tr, int argc, char **argv,
                         h5tx_rev rev, int identical, double secs) {
  unsigned maj, min, rel;
  bench_h5_ok(H5get_libversion(&maj, &min, &rel), "H5get_libversion", "-");
  int n = c->trials;
  printf("### h5tx mount: HDF5 reads and small commits\n\n");
  bench_print_machine(store_dir);
  bench_print_command(argc, argv);
  printf(" (%.0f s)\n", secs);
  printf("- data: one 1-D float64 dataset of %llu MiB (smooth signal + noise) in 1 MiB chunks, "
         "written once in 1 MiB slabs with sec2 (local file) and with the h5tx driver (store "
         "revision %llu, the store's defaults: 64 KiB pages, lz4 when it saves an eighth); "
         "MNT/@REV/f.h5 and the local file hold %s; HDF5 %u.%u.%u; reads with the chunk cache "
         "off (rdcc_nbytes 0: one read per chunk touched)\n",
         (unsigned long long)c->size_mib, (unsigned long long)rev,
         identical ? "the same bytes" : "DIFFERENT bytes (same dataset contents)", maj, min, rel);
  printf("- mount: `h5tx mount STORE MNT%s%s%s%s` (daemon), %s; mounted in %.0f ms (median of "
         "%d mounts)\n",
         c->mount_config ? " --config " : "", c->mount_config ? c->mount_config : "",
         c->threads ? " --threads " : "", c->threads ? threads_arg : "", cli_path,
         bench_median(mount_ms, nmount), nmount);
  printf("- cold: %s\n",
         cold_ok
             ? "before each cold pass the store is unmounted (the daemon maps the page log, and "
               "drop_caches leaves mapped pages), `sync; echo 3 > /proc/sys/vm/drop_caches`, "
               "and mounted again for the mount paths; warm: the same reads again right after"
             : "unavailable (no permission to drop the page cache, or --no-cold): the first "
               "pass is not cold and not reported");
  if (cold_ok) {
    double mx[2] = {0, 0};
    for (int t = 0; t < n; t++)
      for (int p = 0; p < NPATH; p++)
        for (int r = 0; r < 2; r++)
          if (tr[t].resid[p][r] > mx[r]) mx[r] = tr[t].resid[p][r];
    printf("- residency before the cold passes (mincore of plain.h5 or the page log), at most: "
           "%.1f %% sequential, %.1f %% random\n",
           mx[0] * 100, mx[1] * 100);
  }
  printf("- random: %d H5Dreads of %llu KiB per pass at random element offsets (new each trial, "
         "the same for every path; seed %llu); MiB/s over the reads alone (the open not "
         "included)\n",
         d->nrand, (unsigned long long)(d->relems * 8 / KIB), (unsigned long long)c->seed);
  printf("- small commits: %d per row and trial, new random bytes each, after the mount's warm "
         "passes and after reading small.bin, MNT/small.bin and MNT/small.h5 once (steady state: "
         "the pages a write merges with are in memory); the driver's file stays open across "
         "its writes, the others are opened for every write\n",
         c->commits);
  printf("- %d trials, the paths (and commit rows) in an order rotated every trial; figures are "
         "medians over trials; ×local is the median of the per-trial ratios to sec2 on the "
         "local file [min-max]. MiB/s: higher is better; ms: lower is better. Every read is "
         "checked against the data written. Store reads: read requests the daemon served "
         "(.h5tx/stats), median per pass.\n\n",
         n);
  printf("Sequential: H5Fopen + H5Dopen2 + one H5Dread of the whole dataset + closes.\n\n");
  print_reads(c, d, tr, 0);
  printf("\nRandom: %d × %llu KiB.\n\n", d->nrand, (unsigned long long)(d->relems * 8 / KIB));
  print_reads(c, d, tr, 1);
  printf("\nSmall commits:\n\n");
  print_commits(c, tr);
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  bench_init(progname);
  static config c;
  parse(&c, argc, argv);
  if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) bench_h5_die("H5Eset_auto2", "-");
  find_cli(&c);
  find_on_path("fusermount3", fusermount_path, sizeof fusermount_path);

  const char *wd = bench_make_workdir(c.dir, "h5tx-fuse-bench");
  /* Registered after the work directory's removal, so it runs before it:
   * nothing may be removed through a live mount. */
  if (atexit(at_exit_unmount) != 0) bench_die("atexit failed");
  install_signals();
  path_fmt(store_dir, sizeof store_dir, "%s/s.h5tx", wd);
  path_fmt(mnt_dir, sizeof mnt_dir, "%s/mnt", wd);
  path_fmt(plain_path, sizeof plain_path, "%s/plain.h5", wd);
  path_fmt(driver_head, sizeof driver_head, "%s/f.h5", store_dir);
  path_fmt(mdb_path, sizeof mdb_path, "%s/log", store_dir);
  path_fmt(mnt_head, sizeof mnt_head, "%s/f.h5", mnt_dir);
  path_fmt(small_local, sizeof small_local, "%s/small.bin", wd);
  path_fmt(small_mnt, sizeof small_mnt, "%s/small.bin", mnt_dir);
  path_fmt(small_h5, sizeof small_h5, "%s/small.h5", store_dir);
  if (mkdir(mnt_dir, 0755) != 0) bench_die_errno("mkdir", mnt_dir);
  int na = 0;
  mount_argv[na++] = cli_path;
  mount_argv[na++] = "mount";
  mount_argv[na++] = store_dir;
  mount_argv[na++] = mnt_dir;
  if (c.mount_config) {
    mount_argv[na++] = "--config";
    mount_argv[na++] = (char *)c.mount_config;
  }
  if (c.threads) {
    snprintf(threads_arg, sizeof threads_arg, "%d", c.threads);
    mount_argv[na++] = "--threads";
    mount_argv[na++] = threads_arg;
  }
  mount_argv[na] = NULL;

  fapl_sec2 = bench_h5_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(H5P_FILE_ACCESS)", "sec2");
  bench_h5_ok(H5Pset_fapl_sec2(fapl_sec2), "H5Pset_fapl_sec2", "sec2");
  fapl_h5tx = bench_h5_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(H5P_FILE_ACCESS)", "h5tx");
  bench_h5_ok(H5Pset_fapl_h5tx(fapl_h5tx, c.h5tx_config), "H5Pset_fapl_h5tx", "h5tx");
  dapl_nocache = bench_h5_id(H5Pcreate(H5P_DATASET_ACCESS), "H5Pcreate(H5P_DATASET_ACCESS)", "-");
  bench_h5_ok(H5Pset_chunk_cache(dapl_nocache, 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT),
              "H5Pset_chunk_cache", "-");

  cold_ok = !c.no_cold && drop_caches() == 0;
  if (!c.no_cold && !cold_ok)
    fprintf(stderr, "%s: cannot drop the page cache (%s): cold passes unavailable\n", progname,
            strerror(drop_caches()));

  fprintf(stderr, "%s: working in %s; writing %llu MiB twice ...\n", progname, wd,
          (unsigned long long)c.size_mib);
  static data d;
  d.bytes = (size_t)(c.size_mib * MIB);
  d.nelem = d.bytes / sizeof(double);
  d.relems = c.rand_bytes / sizeof(double);
  d.nrand = c.nrand;
  d.src = bench_xmalloc(d.bytes);
  size_t rbytes = (size_t)c.nrand * c.rand_bytes;
  d.dst = bench_xmalloc(d.bytes > rbytes ? d.bytes : rbytes);
  d.off = bench_xmalloc((size_t)c.nrand * sizeof *d.off);
  uint64_t rng = c.seed;
  bench_fill_signal(d.src, d.nelem, 0, &rng);
  double t_start = bench_now_s();
  write_dataset(plain_path, fapl_sec2, &d);
  write_dataset(driver_head, fapl_h5tx, &d);
  /* The revision the driver's write made (the head now), read through the
   * page store API with the store otherwise closed. */
  h5tx_rev rev;
  {
    h5tx_store_opts so;
    h5tx_store_opts_init(&so);
    so.read_only = 1;
    h5tx_store *s;
    h5tx_error err;
    bench_check(h5tx_store_open(store_dir, &so, &s, &err), "h5tx_store_open", &err);
    bench_check(h5tx_store_head(s, &rev, &err), "h5tx_store_head", &err);
    h5tx_store_close(s);
  }
  write_small_h5(small_h5, fapl_h5tx, &rng);
  write_small_bin(small_local, 1, &rng);

  do_mount();
  write_small_bin(small_mnt, 0, &rng); /* the close commits */
  path_fmt(mnt_rev, sizeof mnt_rev, "%s/@%llu/f.h5", mnt_dir, (unsigned long long)rev);
  path_fmt(driver_rev, sizeof driver_rev, "%s@%llu", driver_head, (unsigned long long)rev);
  int identical = same_bytes(plain_path, mnt_rev);
  if (!identical)
    fprintf(stderr, "%s: note: %s and %s differ in bytes; the dataset is checked on every read\n",
            progname, plain_path, mnt_rev);
  /* Check that every path reads the dataset before the trials. */
  for (int p = 0; p < NPATH; p++)
    read_seq(p, &d);

  static trial tr[MAX_TRIALS];
  for (int t = 0; t < c.trials; t++) {
    fprintf(stderr, "%s: trial %d of %d ...\n", progname, t + 1, c.trials);
    run_trial(&c, t, &d, &tr[t], &rng);
  }
  do_unmount();
  print_report(&c, &d, tr, argc, argv, rev, identical, bench_now_s() - t_start);

  bench_h5_ok(H5Pclose(dapl_nocache), "H5Pclose", "-");
  bench_h5_ok(H5Pclose(fapl_h5tx), "H5Pclose", "h5tx");
  bench_h5_ok(H5Pclose(fapl_sec2), "H5Pclose", "sec2");
  free(d.src);
  free(d.dst);
  free(d.off);
  return 0;
}
