/* test_crash.c - a writer process extending a chunked dataset through HDF5
 * and flushing in a loop is SIGKILLed at random moments, dozens of rounds.
 * After each kill, with no repair step, the file opens (read-only and
 * read-write, libver=latest: no "already open for write", no h5clear) and
 * holds exactly the last flushed state (or the one in flight, if the kill
 * came after the commit but before the report). If H5TX_H5DUMP names an
 * HDF5 1.14 h5dump and H5TX_PLUGIN_DIR the driver plugin's directory, that
 * unmodified h5dump must dump the file after every kill too. */
#include "vfd_check.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define ROUNDS 30

static char fname[800];

static int64_t value(uint64_t i) { return (int64_t)(i * 2654435761u % 1000003); }

/* Child: open (or create), then grow "log" by a random count and flush,
 * reporting "about N" before and "flushed N" after each flush. */
static void child(int out, uint64_t seed) {
  hid_t fapl = h5tx_fapl("durability=nosync", 1);
  hid_t f = H5Fopen(fname, H5F_ACC_RDWR, fapl);
  hid_t d;
  if (f < 0) {
    f = H5Fcreate(fname, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hsize_t dims[1] = {0}, max[1] = {H5S_UNLIMITED}, chunk[1] = {4096};
    hid_t sp = H5Screate_simple(1, dims, max);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    d = H5Dcreate2(f, "log", H5T_NATIVE_INT64, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
  } else {
    d = H5Dopen2(f, "log", H5P_DEFAULT);
  }
  if (f < 0 || d < 0) _exit(2);
  hid_t sp = H5Dget_space(d);
  hsize_t n;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  H5Sclose(sp);
  static int64_t buf[20000];
  for (;;) {
    hsize_t add = 1 + rng_below(&seed, 20000);
    for (hsize_t i = 0; i < add; i++)
      buf[i] = value(n + i);
    hsize_t total = n + add;
    if (H5Dset_extent(d, &total) < 0) _exit(3);
    hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &n, NULL, &add, NULL);
    hid_t ms = H5Screate_simple(1, &add, NULL);
    if (H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, buf) < 0) _exit(4);
    H5Sclose(ms);
    H5Sclose(fs);
    char msg[64];
    int len = snprintf(msg, sizeof msg, "about %llu\n", (unsigned long long)total);
    if (write(out, msg, (size_t)len) != len) _exit(5);
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) _exit(6);
    len = snprintf(msg, sizeof msg, "flushed %llu\n", (unsigned long long)total);
    if (write(out, msg, (size_t)len) != len) _exit(7);
    n = total;
  }
}

/* Length of "log" and whether all its values are right; -1 if unreadable. */
static long long check_file(unsigned flags) {
  hid_t fapl = h5tx_fapl(NULL, 1);
  hid_t f = H5Fopen(fname, flags, fapl);
  H5Pclose(fapl);
  if (f < 0) {
    fprintf(stderr, "cannot open %s after a kill: %s\n", fname, h5_capture());
    return -1;
  }
  hid_t d = H5Dopen2(f, "log", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  int64_t *v = malloc((n + 1) * sizeof *v);
  long long rc = (long long)n;
  if (n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) rc = -1;
  for (hsize_t i = 0; rc >= 0 && i < n; i++)
    if (v[i] != value(i)) {
      fprintf(stderr, "log[%llu] is %lld, want %lld\n", (unsigned long long)i, (long long)v[i],
              (long long)value(i));
      rc = -1;
    }
  free(v);
  H5Sclose(sp);
  H5Dclose(d);
  if (H5Fclose(f) < 0) rc = -1;
  return rc;
}

int main(void) {
  uint64_t rng = test_seed("vfd_crash");
  test_paths tp = temp_paths();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(fname, sizeof fname, "%s/crash.h5", tp.store);
  const char *h5dump = getenv("H5TX_H5DUMP"), *plugins = getenv("H5TX_PLUGIN_DIR");
  if (!plugins) h5dump = NULL;
  unsigned long long flushed = 0; /* last length known flushed */
  int created = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int p[2];
    REQUIRE(pipe(p) == 0);
    uint64_t seed = rng_next(&rng);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(p[0]);
      child(p[1], seed);
    }
    close(p[1]);
    /* Let it report a random number of lines, then a random moment more. */
    FILE *in = fdopen(p[0], "r");
    unsigned long long about = 0, got = 0;
    int lines = (int)rng_below(&rng, 8) + (created ? 0 : 2);
    char buf[64];
    for (int i = 0; i < lines && fgets(buf, sizeof buf, in); i++) {
      if (sscanf(buf, "about %llu", &got) == 1) about = got;
      if (sscanf(buf, "flushed %llu", &got) == 1) flushed = got, created = 1;
    }
    struct timespec ts = {0, (long)rng_below(&rng, 3000000)};
    nanosleep(&ts, NULL); /* picks the moment of the kill; waits for nothing */
    kill(pid, SIGKILL);
    while (fgets(buf, sizeof buf, in)) {
      if (sscanf(buf, "about %llu", &got) == 1) about = got;
      if (sscanf(buf, "flushed %llu", &got) == 1) flushed = got, created = 1;
    }
    fclose(in);
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (!created) continue; /* killed before its first flush */
    long long n = check_file(H5F_ACC_RDONLY);
    int ok = n >= 0 && ((unsigned long long)n == flushed || (unsigned long long)n == about);
    if (!ok) {
      fprintf(stderr, "round %d: length %lld, last flushed %llu, in flight %llu\n", round, n,
              flushed, about);
      CHECK(0);
      break;
    }
    flushed = (unsigned long long)n;      /* an in-flight commit that landed counts */
    CHECK(check_file(H5F_ACC_RDWR) == n); /* opens for writing too: no h5clear */
    if (h5dump) {
      char cmd[2000];
      snprintf(cmd, sizeof cmd,
               "HDF5_PLUGIN_PATH='%s' HDF5_DRIVER=h5tx '%s' -H '%s' > /dev/null 2>&1", plugins,
               h5dump, fname);
      if (system(cmd) != 0) {
        fprintf(stderr, "round %d: %s fails on the file\n", round, h5dump);
        CHECK(0);
      }
    }
  }
  CHECK(created);
  printf("vfd_crash: %d rounds, final length %llu, h5dump %s\n", ROUNDS, flushed,
         h5dump ? "checked" : "not available in this build");
  remove_tree(tp.dir);
  return check_done("vfd_crash");
}
