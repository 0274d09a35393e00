/* store.c - opening and creating stores: the directory, its format marker,
 * the LMDB environment, the store's defaults; head and usage. */
#include "store.h"

#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "h5tx-store"
#define MARKER_HEAD "h5tx store\n"

void h5tx_store_opts_init(h5tx_store_opts *o) {
  memset(o, 0, sizeof *o);
  o->durability = -1;
  o->codec = -1;
  o->level = 0;
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Read the marker: 0, or H5TX_EFORMAT / H5TX_ENOENT with a message. */
static int check_marker(const char *path, h5tx_error *err) {
  char mp[4096], buf[256];
  snprintf(mp, sizeof mp, "%s/" MARKER, path);
  int fd = open(mp, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (no %s marker)", path, MARKER);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) n = 0;
  buf[n] = 0;
  unsigned ver = 0;
  if (strncmp(buf, MARKER_HEAD, strlen(MARKER_HEAD)) != 0 ||
      sscanf(buf + strlen(MARKER_HEAD), "format %u", &ver) != 1)
    return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (foreign %s marker)", path,
                     MARKER);
  if (ver > H5TX_FORMAT_VERSION)
    return h5tx__err(err, H5TX_EFORMAT,
                     "store %s has format %u; this h5tx reads format %d and older: upgrade h5tx",
                     path, ver, H5TX_FORMAT_VERSION);
  if (ver == 0) return h5tx__err(err, H5TX_EFORMAT, "store %s: bad format version 0", path);
  return 0;
}

typedef struct init_arg {
  const h5tx_store_opts *o;
} init_arg;

static int write_defaults(h5tx__txn *t, uint32_t ps, int codec, int level, int dur,
                          h5tx_error *err) {
  uint8_t d[16];
  h5tx__le32(d, ps);
  h5tx__le32(d + 4, (uint32_t)codec);
  h5tx__le32(d + 8, (uint32_t)level);
  h5tx__le32(d + 12, (uint32_t)dur);
  return h5tx__kv_put(t, KV_META, "defaults", 8, d, 16, err);
}

static int init_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  const h5tx_store_opts *o = ((init_arg *)arg)->o;
  uint8_t f[4];
  h5tx__le32(f, H5TX_FORMAT_VERSION);
  int rc = h5tx__kv_put(t, KV_META, "format", 6, f, 4, err);
  if (!rc) rc = h5tx__meta_put(t, "head", 0, err);
  if (!rc) rc = h5tx__meta_put(t, "next_file_id", 1, err);
  if (!rc)
    rc = write_defaults(t, o->page_size ? o->page_size : H5TX_DEFAULT_PAGE_SIZE,
                        o->codec >= 0 ? o->codec : H5TX_CODEC_ZSTD, o->level ? o->level : 3,
                        o->durability >= 0 ? o->durability : H5TX_SYNC, err);
  return rc;
}

static int check_opts(const char *path, const h5tx_store_opts *o, h5tx_error *err) {
  uint32_t ps = o->page_size;
  if (ps && (ps < H5TX_MIN_PAGE_SIZE || ps > H5TX_MAX_PAGE_SIZE || (ps & (ps - 1))))
    return h5tx__err(err, H5TX_EINVAL, "store %s: page size %u is not a power of two in %u..%u",
                     path, ps, H5TX_MIN_PAGE_SIZE, H5TX_MAX_PAGE_SIZE);
  if (o->codec != -1 && o->codec != H5TX_CODEC_NONE && o->codec != H5TX_CODEC_ZSTD)
    return h5tx__err(err, H5TX_EINVAL, "store %s: unknown codec %d", path, o->codec);
  if (o->durability != -1 && o->durability != H5TX_SYNC && o->durability != H5TX_NOSYNC)
    return h5tx__err(err, H5TX_EINVAL, "store %s: unknown durability %d", path, o->durability);
  return 0;
}

/* Create the store at `path` in a temporary directory renamed into place. */
static int create_store(const char *path, const h5tx_store_opts *o, h5tx_error *err) {
  if (!ends_with(path, ".h5tx") || strlen(path) <= 5)
    return h5tx__err(err, H5TX_EINVAL, "cannot create store %s: a store's name must end in .h5tx",
                     path);
  char *dup = strdup(path);
  if (!dup) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  char *base = strdup(basename(dup));
  char *parent = strdup(dirname(dup));
  free(dup);
  char tmp[4096];
  int rc = 0;
  struct stat st;
  if (!base || !parent) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto out;
  }
  if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = h5tx__err(err, H5TX_ENOENT, "cannot create store %s: parent directory %s does not exist",
                   path, parent);
    goto out;
  }
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%d", parent, base, (int)getpid());
  if (mkdir(tmp, 0755) != 0) {
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot create store %s: %s: %s", path, tmp,
                   strerror(errno));
    goto out;
  }
  char mp[4200];
  snprintf(mp, sizeof mp, "%s/" MARKER, tmp);
  FILE *f = fopen(mp, "we");
  if (!f || fprintf(f, MARKER_HEAD "format %d\n", H5TX_FORMAT_VERSION) < 0 || fflush(f) != 0 ||
      fsync(fileno(f)) != 0) {
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot create store %s: writing marker: %s", path,
                   strerror(errno));
    if (f) fclose(f);
    goto cleanup;
  }
  fclose(f);
  h5tx__kv *kv;
  rc = h5tx__kv_open(tmp, 1, 0, 0, &kv, err);
  if (rc) goto cleanup;
  init_arg a = {o};
  rc = h5tx__kv_write(kv, init_fn, &a, 1, err);
  h5tx__kv_close(kv);
  if (rc) goto cleanup;
  if (rename(tmp, path) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {
      rc = 0; /* another process created it first: use theirs */
      goto cleanup;
    }
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot create store %s: %s", path,
                   strerror(errno));
    goto cleanup;
  }
  int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  goto out;
cleanup:
  unlink(mp);
  snprintf(mp, sizeof mp, "%s/data.mdb", tmp);
  unlink(mp);
  snprintf(mp, sizeof mp, "%s/lock.mdb", tmp);
  unlink(mp);
  rmdir(tmp);
out:
  free(base);
  free(parent);
  return rc;
}

typedef struct defaults {
  uint32_t page_size;
  int codec, level, durability;
} defaults;

static int read_meta(h5tx_store *s, defaults *d, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  uint64_t fmt = 0;
  rc = h5tx__meta_get(t, "format", &fmt, err);
  if (rc == H5TX_ENOENT)
    rc = h5tx__err(err, H5TX_EFORMAT, "store %s: no format record in meta (not an h5tx store?)",
                   s->path);
  else if (rc == 0 && fmt != H5TX_FORMAT_VERSION)
    rc = h5tx__err(err, H5TX_EFORMAT, "store %s: meta says format %llu, this h5tx reads format %d",
                   s->path, (unsigned long long)fmt, H5TX_FORMAT_VERSION);
  h5tx__val v;
  if (rc == 0) {
    rc = h5tx__kv_get(t, KV_META, "defaults", 8, &v, err);
    if (rc == 0 && v.n == 16) {
      const uint8_t *p = v.p;
      d->page_size = h5tx__get_le32(p);
      d->codec = (int)h5tx__get_le32(p + 4);
      d->level = (int)h5tx__get_le32(p + 8);
      d->durability = (int)h5tx__get_le32(p + 12);
    } else if (rc == 0 || rc == H5TX_ENOENT) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: meta/defaults missing or malformed", s->path);
    }
  }
  h5tx__kv_done(t);
  return rc;
}

int h5tx_store_open(const char *path, const h5tx_store_opts *opts, h5tx_store **out,
                    h5tx_error *err) {
  h5tx_store_opts def;
  if (!opts) {
    h5tx_store_opts_init(&def);
    opts = &def;
  }
  if (!path || !*path) return h5tx__err(err, H5TX_EINVAL, "empty store path");
  int rc = check_opts(path, opts, err);
  if (rc) return rc;
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT)
      return h5tx__err(err, h5tx__errno_code(errno), "store %s: %s", path, strerror(errno));
    if (!opts->create) return h5tx__err(err, H5TX_ENOENT, "store %s does not exist", path);
    if (opts->read_only)
      return h5tx__err(err, H5TX_EINVAL, "store %s does not exist and cannot be created read-only",
                       path);
    if ((rc = create_store(path, opts, err))) return rc;
  } else if (!S_ISDIR(st.st_mode)) {
    return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (not a directory)", path);
  }
  if ((rc = check_marker(path, err))) return rc;

  h5tx_store *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  }
  s->read_only = opts->read_only;
  int writable_dir = access(path, W_OK) == 0;
  rc = h5tx__kv_open(path, 0, !writable_dir, opts->map_size, &s->kv, err);
  if (rc) goto fail;
  defaults d = {0, 0, 0, 0};
  if ((rc = read_meta(s, &d, err))) goto fail;
  s->page_size = opts->page_size ? opts->page_size : d.page_size;
  s->codec = opts->codec >= 0 ? opts->codec : d.codec;
  s->level = opts->level ? opts->level : d.level;
  s->durability = opts->durability >= 0 ? opts->durability : d.durability;
  s->dirty_limit = opts->dirty_limit ? opts->dirty_limit : (256u << 20);
  if (!writable_dir) {
    s->read_only = 1; /* cannot write LMDB nor the reader table */
  } else if ((rc = h5tx__pins_open(path, &s->pins, err))) {
    goto fail;
  }
  *out = s;
  return 0;
fail:
  h5tx_store_close(s);
  return rc;
}

void h5tx_store_close(h5tx_store *s) {
  if (!s) return;
  h5tx__pins_close(s->pins);
  h5tx__kv_close(s->kv);
  free(s->path);
  free(s);
}

const char *h5tx_store_path(const h5tx_store *s) { return s->path; }

int h5tx_store_head(h5tx_store *s, h5tx_rev *out, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  rc = h5tx__meta_get(t, "head", out, err);
  if (rc == H5TX_ENOENT) rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: no head record", s->path);
  h5tx__kv_done(t);
  return rc;
}

int h5tx__rev_check(h5tx_store *s, h5tx__txn *t, h5tx_rev rev, h5tx_rev *head, h5tx_error *err) {
  int rc = h5tx__meta_get(t, "head", head, err);
  if (rc == H5TX_ENOENT) return h5tx__err(err, H5TX_ECORRUPT, "store %s: no head record", s->path);
  if (rc) return rc;
  if (rev == H5TX_HEAD || rev == 0) return 0;
  if (rev > *head)
    return h5tx__err(err, H5TX_ENOENT, "store %s: no revision %llu (head is %llu)", s->path,
                     (unsigned long long)rev, (unsigned long long)*head);
  uint8_t k[8];
  h5tx__be64(k, rev);
  h5tx__val v;
  rc = h5tx__kv_get(t, KV_COMMITS, k, 8, &v, err);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: revision %llu has no commit record", s->path,
                     (unsigned long long)rev);
  if (rc) return rc;
  if (v.n < 8)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: commit record %llu malformed", s->path,
                     (unsigned long long)rev);
  uint32_t flags = h5tx__get_le32((const uint8_t *)v.p + H5TX_COMMIT_FLAGS_OFF);
  if (flags & (H5TX_COMMIT_COLLECTED | H5TX_COMMIT_COLLECTING))
    return h5tx__err(err, H5TX_EGONE, "store %s: revision %llu was garbage-collected", s->path,
                     (unsigned long long)rev);
  return 0;
}
