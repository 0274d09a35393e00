/* fuse_dirfs.c - the smallest FUSE file system a test needs to stand for
 * "another host's file system": a root holding one empty directory,
 * s.h5tx. Run as `fuse_dirfs MOUNTPOINT` (foreground, single-threaded);
 * unmount with fusermount3 -u. */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <string.h>
#include <sys/stat.h>

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  if (strcmp(path, "/") == 0 || strcmp(path, "/s.h5tx") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  return -ENOENT;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  if (strcmp(path, "/") == 0) fill(buf, "s.h5tx", NULL, 0, 0);
  return 0;
}

static const struct fuse_operations ops = {.getattr = fs_getattr, .readdir = fs_readdir};

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char *args[] = {argv[0], "-f", "-s", argv[1], NULL};
  return fuse_main(4, args, &ops, NULL);
}
