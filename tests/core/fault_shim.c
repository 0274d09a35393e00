/* fault_shim.c - an LD_PRELOAD library for fault tests: it makes chosen
 * fsync/fdatasync calls on a store's index (data.mdb) or page log
 * segments, or writes of LMDB's meta pages, fail with EIO, as a failing disk would. LMDB and
 * libh5tx run unchanged; a test arms it through h5tx_test_fault(), found with dlsym, or - for a
 * process it does not run in, such as the mount's daemon - by making the file named by
 * H5TX_FAULT_SYNC_WHILE exist: while it does, the fsync/fdatasync calls on those files fail, after
 * as many as the number the file holds (0 when empty) went through. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { FAULT_SYNC, FAULT_META, NFAULTS };

/* Per kind: matching calls to let through first, then failures to make
 * (-1: every later one). */
static int skip[NFAULTS], count[NFAULTS];
static int hits[NFAULTS];

void h5tx_test_fault(int kind, int skip_n, int count_n);
int h5tx_test_fault_hits(int kind);

void h5tx_test_fault(int kind, int skip_n, int count_n) {
  skip[kind] = skip_n;
  count[kind] = count_n;
  hits[kind] = 0;
}

int h5tx_test_fault_hits(int kind) { return hits[kind]; }

static int is_data_mdb(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 9) return 0;
  target[n] = 0;
  return strcmp(target + n - 9, "/data.mdb") == 0;
}

/* A file whose flushes can be made to fail: the index's data.mdb or a
 * segment of the page log. */
static int is_flushed(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 4) return 0;
  target[n] = 0;
  return is_data_mdb(fd) || strcmp(target + n - 4, ".seg") == 0;
}

/* 1 if H5TX_FAULT_SYNC_WHILE names a file that exists now, and more syncs
 * were seen since it appeared than the number it holds. */
static int armed_by_file(int k) {
  static int seen; /* syncs of data.mdb since the file appeared */
  if (k != FAULT_SYNC) return 0;
  const char *f = getenv("H5TX_FAULT_SYNC_WHILE");
  FILE *fp = f && *f ? fopen(f, "r") : NULL;
  if (!fp) {
    seen = 0;
    return 0;
  }
  int let_through = 0;
  if (fscanf(fp, "%d", &let_through) != 1) let_through = 0;
  fclose(fp);
  return seen++ >= let_through;
}

/* 1 if this call of kind `k` on `fd` is to fail. */
static int trip(int k, int fd) {
  int mine = k == FAULT_SYNC ? is_flushed(fd) : is_data_mdb(fd);
  if (mine && armed_by_file(k)) {
    hits[k]++;
    return 1;
  }
  if (count[k] == 0 || !mine) return 0;
  if (skip[k] > 0) {
    skip[k]--;
    return 0;
  }
  if (count[k] > 0) count[k]--;
  hits[k]++;
  return 1;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

int fdatasync(int fd) {
  if (trip(FAULT_SYNC, fd)) {
    errno = EIO;
    return -1;
  }
  return REAL("fdatasync", int (*)(int))(fd);
}

int fsync(int fd) {
  if (trip(FAULT_SYNC, fd)) {
    errno = EIO;
    return -1;
  }
  return REAL("fsync", int (*)(int))(fd);
}

/* LMDB writes a meta page (page 0 or 1) with one small pwrite. */
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  if (off < 2 * 4096 && n < 4096 && trip(FAULT_META, fd)) {
    errno = EIO;
    return -1;
  }
  return REAL("pwrite", ssize_t(*)(int, const void *, size_t, off_t))(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }
