/* power_image.h - the "durable image" of a store that test_powerloss.c and
 * its LD_PRELOAD shim (power_shim.c) share: what a power cut would leave of
 * the store's files, kept in an image directory beside it.
 *
 * The image holds, for a file of the store, its bytes as of its last
 * fsync/fdatasync, in "<key>@<inode>" (key: the path inside the store with
 * '/' turned into '%', so "index/data.mdb" is "%index%data.mdb"); and for a
 * directory, its entries as of its last fsync, in "<key>.dir", one line
 * "<d|f> <inode> <name>" each. Both are written to a temporary name and
 * renamed, so a process killed while it writes one leaves the older one.
 * A file is keyed by name and inode so that a name deleted and made again
 * (a segment number reused after compaction) is a different file. */
#ifndef H5TX_POWER_IMAGE_H
#define H5TX_POWER_IMAGE_H

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The key of `rel` (a path inside the store: "" for the store itself, else
 * "/index/data.mdb" and so on). */
static inline void pi_key(const char *rel, char *key, size_t cap) {
  const char *r = *rel ? rel : "/";
  size_t i = 0;
  for (; r[i] && i + 1 < cap; i++)
    key[i] = r[i] == '/' ? '%' : r[i];
  key[i] = 0;
}

/* Copy everything `src` holds (read with pread) into `dst`, through a
 * temporary file renamed over it. Returns 0 or -1. */
static inline int pi_copy_fd(int src, const char *dst) {
  char tmp[PATH_MAX * 3];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid());
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return -1;
  char buf[1 << 16];
  off_t off = 0;
  ssize_t n;
  int bad = 0;
  while (!bad && (n = pread(src, buf, sizeof buf, off)) > 0) {
    bad = write(out, buf, (size_t)n) != n;
    off += n;
  }
  if (n < 0) bad = 1;
  if (close(out) != 0) bad = 1;
  if (!bad && rename(tmp, dst) == 0) return 0;
  unlink(tmp);
  return -1;
}

/* Record file `rel` (inode `ino`, readable through `fd`) as durable now. */
static inline int pi_image_file(const char *image, const char *rel, ino_t ino, int fd) {
  char key[PATH_MAX], dst[PATH_MAX * 2 + 64];
  pi_key(rel, key, sizeof key);
  snprintf(dst, sizeof dst, "%s/%s@%llu", image, key, (unsigned long long)ino);
  return pi_copy_fd(fd, dst);
}

/* Record the entries directory `abs` (`rel` in the store) has now as
 * durable: regular files and directories, "." and ".." left out. */
static inline int pi_list_dir(const char *image, const char *rel, const char *abs) {
  char key[PATH_MAX], dst[PATH_MAX * 2 + 64], tmp[PATH_MAX * 3];
  pi_key(rel, key, sizeof key);
  snprintf(dst, sizeof dst, "%s/%s.dir", image, key);
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid());
  DIR *d = opendir(abs);
  if (!d) return -1;
  FILE *f = fopen(tmp, "we");
  if (!f) {
    closedir(d);
    return -1;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char p[PATH_MAX * 2];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", abs, de->d_name);
    if (lstat(p, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) continue;
    fprintf(f, "%c %llu %s\n", S_ISDIR(st.st_mode) ? 'd' : 'f', (unsigned long long)st.st_ino,
            de->d_name);
  }
  closedir(d);
  if (fclose(f) != 0 || rename(tmp, dst) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Record the whole tree under `abs` (`rel` in the store) as durable: every
 * directory's entries and every file's bytes. */
static inline int pi_image_tree(const char *image, const char *rel, const char *abs) {
  if (pi_list_dir(image, rel, abs) != 0) return -1;
  DIR *d = opendir(abs);
  if (!d) return -1;
  struct dirent *de;
  int rc = 0;
  while (rc == 0 && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char p[PATH_MAX * 2], r[PATH_MAX * 2];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", abs, de->d_name);
    snprintf(r, sizeof r, "%s/%s", rel, de->d_name);
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode))
      rc = pi_image_tree(image, r, p);
    else if (S_ISREG(st.st_mode)) {
      int fd = open(p, O_RDONLY | O_CLOEXEC);
      rc = fd < 0 ? -1 : pi_image_file(image, r, st.st_ino, fd);
      if (fd >= 0) close(fd);
    }
  }
  closedir(d);
  return rc;
}

#endif
