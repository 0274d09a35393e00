/* bench_util.c - the helpers shared by the benchmark programs of bench/
 * (core_bench.c, hdf5_bench.c, filter_bench.c); see bench_util.h. */
#include "bench_util.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *progname = "bench";
static char workdir[4096]; /* removed at exit when set */

void bench_init(const char *name) { progname = name; }

/* ---- errors ---------------------------------------------------------------- */

/* "PROGNAME: MESSAGE\n" on stderr. */
static void message(const char *fmt, va_list ap) {
  fprintf(stderr, "%s: ", progname);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  message(fmt, ap);
  va_end(ap);
  exit(1);
}

void bench_die_errno(const char *what, const char *path) {
  bench_die("%s %s: %s", what, path, strerror(errno));
}

void bench_usage_error(void (*usage)(FILE *), const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  message(fmt, ap);
  va_end(ap);
  usage(stderr);
  exit(2);
}

void bench_check(int rc, const char *what, const h5tx_error *err) {
  if (rc == 0) return;
  fprintf(stderr, "%s: %s failed: %s: %s\n", progname, what, h5tx_strerror(rc), err->msg);
  exit(1);
}

void *bench_xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) bench_die("out of memory (%zu bytes)", n);
  return p;
}

uint64_t bench_parse_num(const char *opt, const char *s, int suffixes) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || s[0] == '-') bench_die("%s: not a number: '%s'", opt, s);
  if (suffixes && (*end == 'K' || *end == 'k')) {
    v *= 1024ull;
    end++;
  } else if (suffixes && (*end == 'M' || *end == 'm')) {
    v *= 1024ull * 1024ull;
    end++;
  }
  if (*end) bench_die("%s: not a number: '%s'", opt, s);
  return v;
}

/* ---- time and statistics ----------------------------------------------------- */

double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_quantile(double *v, int n, double q) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  if (q == 0.5 && n % 2 == 0) return (v[n / 2 - 1] + v[n / 2]) / 2;
  int k = (int)ceil(q * n) - 1;
  return v[k < 0 ? 0 : k];
}

double bench_median(const double *v, int n) {
  if (n <= 0) return NAN;
  double *tmp = bench_xmalloc((size_t)n * sizeof *v);
  memcpy(tmp, v, (size_t)n * sizeof *v);
  double m = bench_quantile(tmp, n, 0.5);
  free(tmp);
  return m;
}

void bench_ratio_cell(char *out, size_t cap, const double *a, const double *b, int n) {
  if (n <= 0) {
    snprintf(out, cap, "-");
    return;
  }
  double *q = bench_xmalloc((size_t)n * sizeof *q);
  double lo = a[0] / b[0], hi = lo;
  for (int t = 0; t < n; t++) {
    q[t] = a[t] / b[t];
    if (q[t] < lo) lo = q[t];
    if (q[t] > hi) hi = q[t];
  }
  snprintf(out, cap, "%.2f [%.2f-%.2f]", bench_median(q, n), lo, hi);
  free(q);
}

/* ---- work directory ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  if (remove(path) != 0 && errno != ENOENT)
    fprintf(stderr, "%s: removing %s: %s\n", progname, path, strerror(errno));
  return 0;
}

void bench_rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void cleanup(void) {
  if (workdir[0]) bench_rm_rf(workdir);
}

const char *bench_make_workdir(const char *dir, const char *prefix) {
  const char *base = dir;
  if (!base) base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  snprintf(workdir, sizeof workdir, "%s/%s-XXXXXX", base, prefix);
  if (!mkdtemp(workdir)) {
    int e = errno;
    workdir[0] = 0;
    errno = e;
    bench_die_errno("creating a directory in", base);
  }
  atexit(cleanup);
  return workdir;
}

/* ---- data ---------------------------------------------------------------------- */

uint64_t bench_splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) { return (double)(bench_splitmix64(s) >> 11) * 0x1.0p-53; }

void bench_fill_signal(double *x, size_t n, uint64_t t0, uint64_t *rng) {
  const double two_pi = 6.283185307179586;
  for (size_t i = 0; i < n; i += 2) {
    double u1 = uniform01(rng), u2 = uniform01(rng);
    double r = sqrt(-2 * log(u1 > 0 ? u1 : 0x1.0p-53)) * 0.01;
    double g[2] = {r * cos(two_pi * u2), r * sin(two_pi * u2)};
    for (size_t j = 0; j < 2 && i + j < n; j++) {
      double t = (double)(t0 + i + j);
      x[i + j] = 100 + 40 * sin(two_pi * t / 8192) + 7 * sin(two_pi * t / 331) + t * 1e-7 + g[j];
    }
  }
}

int bench_parse_data(const char *opt, const char *s) {
  if (strcmp(s, "noisy") == 0) return BENCH_DATA_NOISY;
  if (strcmp(s, "compressible") == 0) return BENCH_DATA_COMPRESSIBLE;
  bench_die("%s: 'noisy' or 'compressible', not '%s'", opt, s);
}

const char *bench_data_desc(int kind) {
  return kind == BENCH_DATA_COMPRESSIBLE
             ? "compressible: the smooth signal by 1 MiB region in turn integer-valued, rounded "
               "to a quarter, and mostly zero (1 value in 64 kept)"
             : "smooth signal + noise";
}

void bench_fill_data(int kind, double *x, size_t n, uint64_t t0, uint64_t *rng) {
  bench_fill_signal(x, n, t0, rng);
  if (kind != BENCH_DATA_COMPRESSIBLE) return;
  const uint64_t region = (1u << 20) / sizeof(double);
  for (size_t i = 0; i < n; i++) {
    uint64_t t = t0 + i;
    switch ((t / region) % 3) {
    case 0: x[i] = floor(x[i]); break;
    case 1: x[i] = round(x[i] * 4) / 4; break;
    default:
      if (t % 64) x[i] = 0;
      break;
    }
  }
}

/* ---- report headers -------------------------------------------------------------- */

static const char *fs_name(long type) {
  switch ((unsigned long)type) {
  case 0xEF53: return "ext4";
  case 0x58465342: return "xfs";
  case 0x9123683E: return "btrfs";
  case 0x01021994: return "tmpfs";
  case 0x794C7630: return "overlayfs";
  default: return "other";
  }
}

static void cpu_model(char *out, size_t cap) {
  snprintf(out, cap, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !colon) continue;
    colon += 1 + (colon[1] == ' ');
    colon[strcspn(colon, "\n")] = 0;
    snprintf(out, cap, "%s", colon);
    break;
  }
  fclose(f);
}

void bench_print_machine(const char *dir) {
  struct utsname u;
  if (uname(&u) != 0) bench_die_errno("uname", "");
  char cpu[256];
  cpu_model(cpu, sizeof cpu);
  double ram =
      (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (double)(1ull << 30);
  struct statfs sf;
  const char *fs = statfs(dir, &sf) == 0 ? fs_name((long)sf.f_type) : "?";
  printf("- machine: nproc %ld, %s %s %s, %s, %.1f GiB RAM; work directory on %s\n",
         sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine, cpu, ram, fs);
}

void bench_print_command(int argc, char **argv) {
  printf("- command: `");
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int quote = a[strcspn(a, " \t'\"$")] != 0;
    printf(quote ? "%s'%s'" : "%s%s", i ? " " : "", a);
  }
  printf("`");
}

/* Pages of file `path` in the page cache (mincore; mapping it here reads
 * nothing) into *in, its pages into *all. */
static void resident_file(const char *path, size_t *in, size_t *all) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) bench_die_errno("opening", path);
  struct stat st;
  if (fstat(fd, &st) != 0) bench_die_errno("stat of", path);
  size_t len = (size_t)st.st_size, pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg;
  if (len == 0) {
    close(fd);
    return;
  }
  void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) bench_die_errno("mapping", path);
  unsigned char *vec = bench_xmalloc(n);
  if (mincore(m, len, vec) != 0) bench_die_errno("mincore on", path);
  for (size_t i = 0; i < n; i++)
    *in += vec[i] & 1;
  *all += n;
  free(vec);
  munmap(m, len);
}

double bench_resident(const char *path) {
  size_t in = 0, all = 0;
  struct stat st;
  if (stat(path, &st) != 0) bench_die_errno("stat of", path);
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d) bench_die_errno("listing", path);
    struct dirent *de;
    while ((de = readdir(d))) {
      char f[8192];
      struct stat fs;
      snprintf(f, sizeof f, "%s/%s", path, de->d_name);
      if (de->d_name[0] != '.' && stat(f, &fs) == 0 && S_ISREG(fs.st_mode))
        resident_file(f, &in, &all);
    }
    closedir(d);
  } else {
    resident_file(path, &in, &all);
  }
  return all ? (double)in / (double)all : 0;
}
