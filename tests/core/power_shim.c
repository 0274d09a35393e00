/* power_shim.c - an LD_PRELOAD library for test_powerloss.c: it keeps the
 * durable image (power_image.h) of one store as the real libh5tx and LMDB
 * write it, and cuts the power (SIGKILL of its own process) at a chosen
 * write or flush. Armed by the environment of the process it is loaded in:
 *  - H5TX_POWER_STORE: the store directory (a real path, no symbolic links);
 *    only descriptors of files and directories under it count;
 *  - H5TX_POWER_IMAGE: the image directory;
 *  - H5TX_POWER_CUT: the number of the call (write, pwrite, pwritev, writev,
 *    fsync, fdatasync on the store's files, counted from 1) at which the
 *    process is killed; 0 or unset: never;
 *  - H5TX_POWER_AFTER: 1 to kill right after that call returned (with what
 *    it made durable in the image), else right before it is made.
 * A successful fsync/fdatasync of a file copies the file's bytes into the
 * image, of a directory its entries; so does a write through a descriptor
 * opened O_SYNC/O_DSYNC. A link or rename under the store gives the new
 * name the flushed bytes the old one had (the file is the same; whether the
 * new name survives is its directory's flush). Nothing else reaches the
 * image: what the store
 * wrote and did not flush is what a power cut may take. msync is not
 * watched: LMDB runs without MDB_WRITEMAP and the store's other mapping
 * (the readers table) is never flushed on purpose. */
#include "power_image.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/uio.h>

static char store[PATH_MAX], image[PATH_MAX];
static size_t store_len;
static long cut_at, calls;
static int cut_after;
static __thread int inside; /* the shim's own file calls are not counted */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void power_init(void) {
  const char *s = getenv("H5TX_POWER_STORE"), *i = getenv("H5TX_POWER_IMAGE");
  const char *c = getenv("H5TX_POWER_CUT"), *a = getenv("H5TX_POWER_AFTER");
  if (!s || !i || !*s || !*i) return;
  snprintf(store, sizeof store, "%s", s);
  snprintf(image, sizeof image, "%s", i);
  store_len = strlen(store);
  cut_at = c ? atol(c) : 0;
  cut_after = a && atoi(a) == 1;
}

/* The path of `fd` inside the store ("" for the store itself) into `rel`
 * and its absolute path into `abs`; 0 when it is not under the store (or
 * was deleted: its bytes can no longer come back). */
static int mine(int fd, char *abs, size_t cap, const char **rel) {
  if (!store_len || inside || fd < 0) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, abs, cap - 1);
  if (n <= 0) return 0;
  abs[n] = 0;
  if (strncmp(abs, store, store_len) != 0 || (abs[store_len] && abs[store_len] != '/')) return 0;
  if (n > 10 && strcmp(abs + n - 10, " (deleted)") == 0) return 0;
  *rel = abs + store_len;
  return 1;
}

/* Count a call; the power goes before it when it is the chosen one. */
static long tick(void) {
  long n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
  if (n == cut_at && !cut_after) raise(SIGKILL);
  return n;
}

static void tock(long n) {
  if (n == cut_at) raise(SIGKILL);
}

/* What `fd` holds now is durable: into the image. */
static void durable(int fd, const char *abs, const char *rel) {
  struct stat st;
  inside = 1;
  pthread_mutex_lock(&mu);
  if (fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      pi_list_dir(image, rel, abs);
    else if (S_ISREG(st.st_mode)) {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      int rfd = open(link, O_RDONLY | O_CLOEXEC); /* fd may be write-only */
      if (rfd >= 0) {
        pi_image_file(image, rel, st.st_ino, rfd);
        close(rfd);
      }
    }
  }
  pthread_mutex_unlock(&mu);
  inside = 0;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

static int flush(const char *name, int fd) {
  char abs[PATH_MAX];
  const char *rel;
  int m = mine(fd, abs, sizeof abs, &rel);
  long n = m ? tick() : 0;
  int rc = REAL(name, int (*)(int))(fd);
  if (m) {
    int e = errno;
    if (rc == 0) durable(fd, abs, rel);
    tock(n);
    errno = e;
  }
  return rc;
}

int fsync(int fd) { return flush("fsync", fd); }
int fdatasync(int fd) { return flush("fdatasync", fd); }

/* Around a write on `fd`: before (returns the call's number, 0 if not
 * watched) and after. */
static long write_before(int fd, char *abs, size_t cap, const char **rel) {
  return mine(fd, abs, cap, rel) ? tick() : 0;
}

static void write_after(long n, int fd, const char *abs, const char *rel, ssize_t rc) {
  if (!n) return;
  int e = errno;
  int fl = fcntl(fd, F_GETFL);
  if (rc > 0 && fl >= 0 && (fl & (O_SYNC | O_DSYNC))) durable(fd, abs, rel);
  tock(n);
  errno = e;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
  char abs[PATH_MAX];
  const char *rel = NULL;
  long n = write_before(fd, abs, sizeof abs, &rel);
  ssize_t rc = REAL("pwrite", ssize_t(*)(int, const void *, size_t, off_t))(fd, buf, len, off);
  write_after(n, fd, abs, rel, rc);
  return rc;
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) {
  return pwrite(fd, buf, len, off);
}

ssize_t write(int fd, const void *buf, size_t len) {
  char abs[PATH_MAX];
  const char *rel = NULL;
  long n = write_before(fd, abs, sizeof abs, &rel);
  ssize_t rc = REAL("write", ssize_t(*)(int, const void *, size_t))(fd, buf, len);
  write_after(n, fd, abs, rel, rc);
  return rc;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  char abs[PATH_MAX];
  const char *rel = NULL;
  long n = write_before(fd, abs, sizeof abs, &rel);
  ssize_t rc =
      REAL("pwritev", ssize_t(*)(int, const struct iovec *, int, off_t))(fd, iov, cnt, off);
  write_after(n, fd, abs, rel, rc);
  return rc;
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
  return pwritev(fd, iov, cnt, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  char abs[PATH_MAX];
  const char *rel = NULL;
  long n = write_before(fd, abs, sizeof abs, &rel);
  ssize_t rc = REAL("writev", ssize_t(*)(int, const struct iovec *, int))(fd, iov, cnt);
  write_after(n, fd, abs, rel, rc);
  return rc;
}

/* The flushed bytes of `from` (if any) are also those of `to`: call after
 * link(from, to) or rename(from, to) succeeded. */
static void same_file(const char *from, const char *to) {
  char a[PATH_MAX], b[PATH_MAX], key[PATH_MAX], img[PATH_MAX * 2 + 64];
  struct stat st;
  if (!store_len || inside || !realpath(to, b) || stat(b, &st) != 0 || !S_ISREG(st.st_mode)) return;
  /* `from` is gone after a rename: its directory and name are enough */
  const char *slash = strrchr(from, '/');
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - from) : 1, slash ? from : ".");
  if (!realpath(dir, a)) return;
  size_t n = strlen(a);
  snprintf(a + n, sizeof a - n, "/%s", slash ? slash + 1 : from);
  if (strncmp(a, store, store_len) != 0 || strncmp(b, store, store_len) != 0) return;
  pi_key(a + store_len, key, sizeof key);
  snprintf(img, sizeof img, "%s/%s@%llu", image, key, (unsigned long long)st.st_ino);
  inside = 1;
  pthread_mutex_lock(&mu);
  int fd = open(img, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    pi_image_file(image, b + store_len, st.st_ino, fd);
    close(fd);
  }
  pthread_mutex_unlock(&mu);
  inside = 0;
}

int link(const char *from, const char *to) {
  int rc = REAL("link", int (*)(const char *, const char *))(from, to);
  if (rc == 0) {
    int e = errno;
    same_file(from, to);
    errno = e;
  }
  return rc;
}

int rename(const char *from, const char *to) {
  int rc = REAL("rename", int (*)(const char *, const char *))(from, to);
  if (rc == 0) {
    int e = errno;
    same_file(from, to);
    errno = e;
  }
  return rc;
}
