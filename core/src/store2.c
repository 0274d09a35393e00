/* store2.c - a format-2 store's files made at creation and checked against
 * each other at open (store2.h). */
#include "store2.h"

#include "codec.h"

#include "apply2.h"
#include "pagelog.h"
#include "pins.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct init_arg {
  h5tx__defaults d;
  const uint8_t *id;
} init_arg;

static h5tx__defaults defaults_of(const h5tx_store_opts *o) {
  h5tx__defaults d = {o->page_size ? o->page_size : H5TX_DEFAULT_PAGE_SIZE,
                      o->codec >= 0 ? o->codec : H5TX__CODEC_DEFAULT,
                      o->level ? o->level : H5TX__ZSTD_DEFAULT_LEVEL,
                      o->durability >= 0 ? o->durability : H5TX_SYNC};
  return d;
}

/* meta of a new index: format, store id, defaults, the starting counters */
static int init_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  const init_arg *a = arg;
  uint8_t f[4], d[16];
  h5tx__le32(f, 2);
  h5tx__le32(d, a->d.page_size);
  h5tx__le32(d + 4, (uint32_t)a->d.codec);
  h5tx__le32(d + 8, (uint32_t)a->d.level);
  h5tx__le32(d + 12, (uint32_t)a->d.durability);
  int rc = h5tx__idx_put(t, IDX_META, "format", 6, f, sizeof f, err);
  if (rc == 0) rc = h5tx__idx_put(t, IDX_META, "store_id", 8, a->id, 16, err);
  if (rc == 0) rc = h5tx__idx_put(t, IDX_META, "defaults", 8, d, sizeof d, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "head", 0, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", 0, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_file_id", 1, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_branch_id", 1, err);
  return rc;
}

static int sync_err(const char *verb, const char *store, const char *dir, int e, h5tx_error *err) {
  return h5tx__err(err, h5tx__errno_code(e), "cannot %s store %s: syncing directory %s: %s", verb,
                   store, dir, strerror(e));
}

int h5tx__store2_fill(const char *dir, const char *store, const h5tx_store_opts *o, uint8_t id[16],
                      h5tx_error *err) {
  h5tx__marker m = {.format = 2, .index = "lmdb"};
  int rc = h5tx__store_id_new(m.id, err);
  if (rc) return rc;
  memcpy(id, m.id, 16);
  char idir[4200], ldir[4200];
  snprintf(idir, sizeof idir, "%s/index", dir);
  snprintf(ldir, sizeof ldir, "%s/log", dir);
  if (mkdir(idir, 0777) != 0)
    return h5tx__err(err, errno == EEXIST ? H5TX_EEXIST : h5tx__errno_code(errno),
                     "cannot create store %s: %s: %s", store, idir, strerror(errno));
  h5tx__kv *kv;
  if ((rc = h5tx__idx_open(idir, 1, 0, &kv, err))) return rc;
  init_arg a = {defaults_of(o), m.id};
  rc = h5tx__kv_write(kv, init_fn, &a, 1, err);
  h5tx__kv_close(kv);
  if (rc) return rc;
  h5tx__plog *l;
  if ((rc = h5tx__plog_open(ldir, m.id, 1, 0, 0, &l, err))) return rc;
  h5tx__plog_close(l);
  int e;
  if ((e = h5tx__sync_dir(idir))) return sync_err("create", store, idir, e, err);
  if ((e = h5tx__sync_dir(ldir))) return sync_err("create", store, ldir, e, err);
  /* The marker last: a directory with a marker has its index and log. */
  return h5tx__marker_write(dir, store, &m, err);
}

static void hex(const uint8_t *id, char out[33]) {
  for (int i = 0; i < 16; i++)
    snprintf(out + 2 * i, 3, "%02x", id[i]);
}

int h5tx__store2_meta(h5tx__kv *kv, const char *store, const h5tx__marker *m, h5tx__defaults *d,
                      h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(kv, &t, err);
  if (rc) return rc;
  h5tx__val v;
  rc = h5tx__idx_get(t, IDX_META, "format", 6, &v, err);
  if (rc == H5TX_ENOENT || (rc == 0 && v.n != 4))
    rc = h5tx__err(err, H5TX_EFORMAT, "store %s: its index has no format record in meta", store);
  else if (rc == 0 && h5tx__get_le32(v.p) != m->format)
    rc = h5tx__err(err, H5TX_EFORMAT, "store %s: its marker says format %u, its index format %u",
                   store, m->format, (unsigned)h5tx__get_le32(v.p));
  if (rc == 0) {
    rc = h5tx__idx_get(t, IDX_META, "store_id", 8, &v, err);
    if (rc == H5TX_ENOENT || (rc == 0 && v.n != 16)) {
      rc = h5tx__err(err, H5TX_EFORMAT, "store %s: its index has no store id in meta", store);
    } else if (rc == 0 && memcmp(v.p, m->id, 16) != 0) {
      char a[33], b[33];
      hex(m->id, a);
      hex(v.p, b);
      rc = h5tx__err(err, H5TX_EFORMAT,
                     "store %s: its marker has store id %s, its index %s (an index of another "
                     "store?)",
                     store, a, b);
    }
  }
  if (rc == 0) {
    rc = h5tx__idx_get(t, IDX_META, "defaults", 8, &v, err);
    if (rc == 0 && v.n == 16) {
      d->page_size = h5tx__get_le32(v.p);
      d->codec = (int)h5tx__get_le32((const uint8_t *)v.p + 4);
      d->level = (int)h5tx__get_le32((const uint8_t *)v.p + 8);
      d->durability = (int)h5tx__get_le32((const uint8_t *)v.p + 12);
      h5tx_error why = {0, ""};
      if (!h5tx__page_size_ok(d->page_size) || d->codec < 0 || d->durability < 0 ||
          h5tx__check_options("", d->page_size, d->codec, d->level, d->durability, &why))
        rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: meta/defaults are out of range: %s", store,
                       why.msg[0] ? why.msg : "a page size, codec or durability not given");
    } else if (rc == 0 || rc == H5TX_ENOENT) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: meta/defaults missing or malformed", store);
    }
  }
  h5tx__kv_done(t);
  return rc;
}

static void say(h5tx__say_fn sayf, void *arg, const char *fmt, ...) H5TX_PRINTF(3, 4);
static void say(h5tx__say_fn sayf, void *arg, const char *fmt, ...) {
  char line[4400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (sayf) sayf(arg, line);
}

/* The defaults kept in the damaged index `dir` of store `path`, if it can
 * still be read and agrees with marker `m`. */
static int old_defaults(const char *dir, const char *path, const h5tx__marker *m,
                        h5tx__defaults *d) {
  h5tx__kv *kv;
  h5tx_error e = {0};
  if (h5tx__idx_open(dir, 0, 1, &kv, &e)) return -1;
  int rc = h5tx__store2_meta(kv, path, m, d, &e);
  h5tx__kv_close(kv);
  return rc;
}

int h5tx__repair_store(const char *path, h5tx__say_fn sayf, void *say_arg, h5tx_rev *head,
                       h5tx_error *err) {
  h5tx__marker m;
  *head = 0;
  int rc = h5tx__marker_read(path, 2, &m, err);
  if (rc == 0) rc = h5tx__marker_need2(path, &m, err);
  if (rc) return rc;
  h5tx__pins *p = NULL;
  if ((rc = h5tx__pins_open(path, &p, err)) || (rc = h5tx__pins_idle(p, "repair", path, err))) {
    h5tx__pins_close(p);
    return rc;
  }
  char idir[4200], ldir[4200], aside[4300];
  snprintf(idir, sizeof idir, "%s/index", path);
  snprintf(ldir, sizeof ldir, "%s/log", path);
  /* index.damaged-TIME, or -TIME-K when an earlier repair kept one there */
  long long now = (long long)time(NULL);
  int moved = -1;
  for (int k = 0; k < 1000 && moved != 0; k++) {
    int n = snprintf(aside, sizeof aside, "%s/index.damaged-%lld", path, now);
    if (k && n > 0 && (size_t)n < sizeof aside) snprintf(aside + n, sizeof aside - n, "-%d", k);
    if ((moved = rename(idir, aside)) != 0 && errno != ENOTEMPTY && errno != EEXIST) break;
  }
  h5tx_store_opts none = {.codec = -1, .durability = -1};
  init_arg a = {defaults_of(&none), m.id};
  if (moved == 0) {
    say(sayf, say_arg, "the old index is kept in %s", aside);
    if (old_defaults(aside, path, &m, &a.d) != 0)
      say(sayf, say_arg,
          "the old index's defaults (page size, codec, level, durability) could not be read: "
          "the built-in ones are used");
  } else if (errno != ENOENT) {
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot repair store %s: moving %s aside: %s",
                   path, idir, strerror(errno));
  } else {
    say(sayf, say_arg, "the store had no index; the built-in defaults are used");
  }
  h5tx__kv *kv = NULL;
  h5tx__plog *l = NULL;
  if (rc == 0 && mkdir(idir, 0777) != 0)
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot repair store %s: %s: %s", path, idir,
                   strerror(errno));
  if (rc == 0) rc = h5tx__idx_open(idir, 1, 0, &kv, err);
  if (rc == 0) rc = h5tx__kv_write(kv, init_fn, &a, 0, err);
  if (rc == 0) rc = h5tx__plog_open(ldir, m.id, 0, 0, 0, &l, err);
  if (rc == 0) rc = h5tx__repair_index(kv, l, sayf, say_arg, head, err);
  if (l) h5tx__plog_close(l);
  if (kv) h5tx__kv_close(kv);
  int e;
  if (rc == 0 && (e = h5tx__sync_dir(idir))) rc = sync_err("repair", path, idir, e, err);
  if (rc == 0 && (e = h5tx__sync_dir(path))) rc = sync_err("repair", path, path, e, err);
  h5tx__pins_close(p);
  return rc;
}
