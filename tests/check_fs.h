/* check_fs.h - file-system helpers the tests share: finding and damaging
 * bytes of a store on disk (page log segments, index), a small private
 * tmpfs to fill up, and what `du` counts. */
#ifndef H5TX_CHECK_FS_H
#define H5TX_CHECK_FS_H

#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>

/* Bytes allocated (st_blocks) to the files directly in `dir`: what `du`
 * adds up for a store's page log. */
static inline uint64_t du_bytes(const char *dir) {
  DIR *d = opendir(dir);
  REQUIRE(d != NULL);
  uint64_t total = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char p[1200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (de->d_name[0] != '.' && stat(p, &st) == 0) total += (uint64_t)st.st_blocks * 512;
  }
  closedir(d);
  return total;
}

/* Flip bits `mask` of byte `at` of every occurrence of the `n` bytes at
 * `needle` in file `path`; returns how many there were. Call it while no
 * handle of the store is open in this process (closing a file LMDB has
 * open would drop its locks). */
static inline int flip_in_file(const char *path, const void *needle, size_t n, size_t at,
                               uint8_t mask) {
  int fd = open(path, O_RDWR);
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(fstat(fd, &st) == 0);
  int hits = 0;
  if (st.st_size > 0) {
    uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(m != MAP_FAILED);
    /* find them all first: a flip may make another occurrence */
    size_t offs[64], k = 0;
    for (uint8_t *p = m; k < 64;) {
      uint8_t *hit = memmem(p, (size_t)st.st_size - (size_t)(p - m), needle, n);
      if (!hit) break;
      offs[k++] = (size_t)(hit - m);
      p = hit + 1;
    }
    for (size_t i = 0; i < k; i++)
      m[offs[i] + at] ^= mask;
    hits = (int)k;
    munmap(m, (size_t)st.st_size);
  }
  close(fd);
  return hits;
}

/* The segment of the store's page log (`log/SSSSSSSSSSSSSSSS.seg`) whose
 * bytes hold `needle`: its path into `seg`, its number into *num and the
 * needle's offset in it into *off; returns 1 if found. */
static inline int find_in_log(const char *store, const char *needle, char *seg, size_t cap,
                              uint64_t *num, uint64_t *off) {
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/log", store);
  DIR *d = opendir(dir);
  REQUIRE(d);
  int found = 0;
  struct dirent *de;
  while (!found && (de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n != 20 || strcmp(de->d_name + 16, ".seg") != 0) continue;
    snprintf(seg, cap, "%s/%s", dir, de->d_name);
    int fd = open(seg, O_RDONLY);
    REQUIRE(fd >= 0);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    if (st.st_size > 0) {
      uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
      REQUIRE(m != MAP_FAILED);
      uint8_t *hit = memmem(m, (size_t)st.st_size, needle, strlen(needle));
      if (hit) {
        *off = (uint64_t)(hit - m);
        *num = strtoull(de->d_name, NULL, 16);
        found = 1;
      }
      munmap(m, (size_t)st.st_size);
    }
    close(fd);
  }
  closedir(d);
  return found;
}

/* Flip bits `mask` of byte `at` of `needle` in the store's page log (a
 * payload); returns 1 if found. */
static inline int flip_in_log(const char *store, const char *needle, size_t at, uint8_t mask) {
  char seg[1400];
  uint64_t num, off;
  return find_in_log(store, needle, seg, sizeof seg, &num, &off) &&
         flip_in_file(seg, needle, strlen(needle), at, mask) > 0;
}

/* The same for every occurrence of `n` bytes in the store's index (index
 * values); returns how many there were. */
static inline int flip_in_index(const char *store, const void *needle, size_t n, size_t at,
                                uint8_t mask) {
  char path[1100];
  snprintf(path, sizeof path, "%s/index/data.mdb", store);
  return flip_in_file(path, needle, n, at, mask);
}

/* Mount a tmpfs of `size` (e.g. "8m") on a new directory made from `dir`
 * (a mkdtemp template), in a private mount namespace so it vanishes with
 * the process. Returns 0, or prints why the test is skipped and returns 77
 * (ctest's SKIP_RETURN_CODE) when this process may not mount. */
static inline int small_tmpfs(char *dir, const char *size, const char *test) {
  REQUIRE(mkdtemp(dir));
  char opts[64];
  snprintf(opts, sizeof opts, "size=%s", size);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
    printf("%s: SKIPPED: cannot mount a small tmpfs here (%s); needs CAP_SYS_ADMIN\n", test,
           strerror(errno));
    rmdir(dir);
    return 77;
  }
  return 0;
}

/* Fill the file system holding `path` with a plain file until it is full. */
static inline void fill_disk(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  static uint8_t junk[65536];
  memset(junk, 0xAB, sizeof junk);
  for (;;) {
    ssize_t w = write(fd, junk, sizeof junk);
    if (w < 0 && errno == ENOSPC) break;
    REQUIRE(w > 0);
  }
  close(fd);
}

#endif
