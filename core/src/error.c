/* error.c - the one error type: codes, their names, and message helpers;
 * also the name rules every entry point checks (docs/FORMAT.md, "Names"),
 * and small helpers every part of the core shares (growing arrays, time,
 * temporary and removed directories). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <time.h>

int h5tx__err(h5tx_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int h5tx__errno_code(int e) {
  switch (e) {
  case ENOSPC:
  case EDQUOT:
  case EFBIG: return H5TX_ENOSPC;
  case ENOMEM: return H5TX_ENOMEM;
  case ENOENT: return H5TX_ENOENT;
  case EROFS:
  case EACCES:
  case EPERM: return H5TX_EROFS;
  default: return H5TX_EIO;
  }
}

int h5tx__sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int e = fsync(fd) != 0 ? errno : 0;
  close(fd);
  return e;
}

/* Make a new temporary directory `.BASE.tmp-PID-RANDOM` in `parent` (mode
 * 0777 less the umask; a setgid parent's group and bit are inherited). A
 * name left by a crashed creation, even by a process that had this pid,
 * is never reused. */
int h5tx__make_tmp_dir(const char *what, const char *path, const char *parent, const char *base,
                       char *tmp, size_t cap, h5tx_error *err) {
  uint64_t x = h5tx__now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)tmp;
  for (int tries = 0; tries < 100; tries++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    snprintf(tmp, cap, "%s/.%s.tmp-%d-%06llx", parent, base, (int)getpid(),
             (unsigned long long)(x >> 40));
    if (mkdir(tmp, 0777) == 0) return 0;
    if (errno != EEXIST) break;
  }
  return h5tx__err(err, h5tx__errno_code(errno), "%s %s: %s: %s", what, path, tmp, strerror(errno));
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

void h5tx__remove_tree(const char *dir) { nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

const char *h5tx__file_kind(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFREG: return "a regular file";
  case S_IFDIR: return "a directory";
  case S_IFIFO: return "a FIFO";
  case S_IFSOCK: return "a socket";
  case S_IFCHR: return "a character device";
  case S_IFBLK: return "a block device";
  case S_IFLNK: return "a symbolic link";
  default: return "an unknown kind of file";
  }
}

const char *h5tx_strerror(int code) {
  switch (code) {
  case H5TX_OK: return "H5TX_OK";
  case H5TX_EINVAL: return "H5TX_EINVAL";
  case H5TX_ENOENT: return "H5TX_ENOENT";
  case H5TX_EEXIST: return "H5TX_EEXIST";
  case H5TX_EBUSY: return "H5TX_EBUSY";
  case H5TX_ECONFLICT: return "H5TX_ECONFLICT";
  case H5TX_ECORRUPT: return "H5TX_ECORRUPT";
  case H5TX_EFORMAT: return "H5TX_EFORMAT";
  case H5TX_EIO: return "H5TX_EIO";
  case H5TX_ENOSPC: return "H5TX_ENOSPC";
  case H5TX_ENOMEM: return "H5TX_ENOMEM";
  case H5TX_EGONE: return "H5TX_EGONE";
  case H5TX_EROFS: return "H5TX_EROFS";
  case H5TX_EFORK: return "H5TX_EFORK";
  case H5TX_ERANGE: return "H5TX_ERANGE";
  case H5TX_ESYNC: return "H5TX_ESYNC";
  default: return "H5TX_E(unknown)";
  }
}

int h5tx__check_name(const char *name, h5tx_error *err) {
  if (!name || !*name) return h5tx__err(err, H5TX_EINVAL, "empty file name");
  size_t n = strlen(name);
  if (n > H5TX_MAX_NAME)
    return h5tx__err(err, H5TX_EINVAL,
                     "file name of %zu bytes is over the limit of %d bytes (the longest name "
                     "the store's index can key)",
                     n, H5TX_MAX_NAME);
  if (name[0] == '/')
    return h5tx__err(err, H5TX_EINVAL, "file name '%s' is absolute; names in a store are relative",
                     name);
  if (strchr(name, '@'))
    return h5tx__err(err, H5TX_EINVAL, "file name '%s' contains '@', which marks a revision", name);
  const char *p = name;
  while (*p) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
      return h5tx__err(err, H5TX_EINVAL, "file name '%s' has an empty, '.' or '..' part", name);
    if (!e) break;
    p = e + 1;
    if (!*p) return h5tx__err(err, H5TX_EINVAL, "file name '%s' ends in '/'", name);
  }
  return 0;
}

int h5tx__check_new_name(const char *name, h5tx_error *err) {
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  for (const unsigned char *c = (const unsigned char *)name; *c; c++)
    if (*c < 0x20 || *c == 0x7f)
      return h5tx__err(err, H5TX_EINVAL,
                       "file name contains control character 0x%02x at byte %zu; names may "
                       "not hold control characters",
                       *c, (size_t)((const char *)c - name));
  if (strncmp(name, ".h5tx", 5) == 0 && (name[5] == 0 || name[5] == '/'))
    return h5tx__err(err, H5TX_EINVAL,
                     "file name '%s': '.h5tx' at the root is reserved for the mount's own files",
                     name);
  for (const char *p = name;;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len > H5TX_MAX_PART)
      return h5tx__err(err, H5TX_EINVAL,
                       "file name '%s' has a part of %zu bytes; a part is at most %d bytes "
                       "(a directory entry's limit)",
                       name, len, H5TX_MAX_PART);
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

int h5tx__check_tag(const char *name, h5tx_error *err) {
  if (!name || !*name) return h5tx__err(err, H5TX_EINVAL, "empty tag name");
  size_t n = strlen(name);
  if (n > H5TX_MAX_TAG)
    return h5tx__err(err, H5TX_EINVAL, "tag name longer than %d bytes", H5TX_MAX_TAG);
  if (strchr(name, '/') || strchr(name, '@'))
    return h5tx__err(err, H5TX_EINVAL, "tag name '%s' contains '/' or '@'", name);
  if (strspn(name, "0123456789") == n)
    return h5tx__err(err, H5TX_EINVAL, "tag name '%s' is all digits and would read as a revision",
                     name);
  if (strcmp(name, "head") == 0) return h5tx__err(err, H5TX_EINVAL, "tag name 'head' is reserved");
  return 0;
}

int h5tx__grow(void *pv, size_t *cap, size_t n, size_t size, size_t first) {
  if (n < *cap) return 0;
  size_t nc = *cap ? *cap * 2 : first;
  while (nc <= n)
    nc *= 2;
  void *nv = realloc(*(void **)pv, nc * size);
  if (!nv) return -1;
  *(void **)pv = nv;
  *cap = nc;
  return 0;
}

uint64_t h5tx__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int h5tx__page_size_ok(uint64_t ps) {
  return ps >= H5TX_MIN_PAGE_SIZE && ps <= H5TX_MAX_PAGE_SIZE && !(ps & (ps - 1));
}

int h5tx__check_options(const char *prefix, uint32_t ps, int codec, int durability,
                        h5tx_error *err) {
  if (ps && !h5tx__page_size_ok(ps))
    return h5tx__err(err, H5TX_EINVAL, "%spage size %u is not a power of two in %u..%u", prefix, ps,
                     H5TX_MIN_PAGE_SIZE, H5TX_MAX_PAGE_SIZE);
  if (codec != -1 && codec != H5TX_CODEC_NONE && codec != H5TX_CODEC_ZSTD &&
      codec != H5TX_CODEC_LZ4)
    return h5tx__err(err, H5TX_EINVAL, "%sunknown codec %d", prefix, codec);
  if (durability != -1 && durability != H5TX_SYNC && durability != H5TX_NOSYNC)
    return h5tx__err(err, H5TX_EINVAL, "%sunknown durability %d", prefix, durability);
  return 0;
}
