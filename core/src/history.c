/* history.c - the commit log, tags, and revision specs ("42", "v1", "head"). */
#include "store.h"

#include <stdlib.h>

/* Names of the files a commit changed, resolved through the files table. */
static int commit_files(h5tx__txn *t, const h5tx__commit2 *c, char ***out, h5tx_error *err) {
  char **names = calloc(c->nfiles + 1, sizeof *names);
  if (!names) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < c->nfiles; i++) {
    uint8_t k[8];
    h5tx__be64(k, h5tx__get_le64(c->fids + 8 * i));
    h5tx__val v;
    h5tx__file2 f;
    int rc = h5tx__idx_get(t, IDX_FILES, k, 8, &v, err);
    if (rc == 0 && h5tx__file2_parse(v.p, v.n, &f) == 0) {
      names[i] = strndup(f.name, f.name_len);
    } else if (rc == 0 || rc == H5TX_ENOENT) {
      names[i] = strdup("?");
    } else {
      *out = names;
      return rc;
    }
    if (!names[i]) {
      *out = names;
      return h5tx__err(err, H5TX_ENOMEM, "out of memory");
    }
  }
  *out = names;
  return 0;
}

static void free_names(char **names) {
  if (!names) return;
  for (char **p = names; *p; p++)
    free(*p);
  free(names);
}

/* Read commit `r` in `t` and copy what h5tx_log hands out: host, message
 * and file names (freed by the caller, also on failure). */
static int load_commit(h5tx_store *s, h5tx__txn *t, h5tx_rev r, h5tx__commit2 *c, char **host,
                       char **msg, char ***names, h5tx_error *err) {
  uint8_t k[8];
  h5tx__be64(k, r);
  h5tx__val v;
  int rc = h5tx__idx_get(t, IDX_COMMITS, k, 8, &v, err);
  if (rc == H5TX_ENOENT || (rc == 0 && h5tx__commit2_parse(v.p, v.n, c) != 0))
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: commit record %llu missing or malformed",
                     s->path, (unsigned long long)r);
  if (rc) return rc;
  *host = strndup(c->host, c->host_len);
  *msg = strndup(c->msg, c->msg_len);
  if ((rc = commit_files(t, c, names, err))) return rc;
  if (!*host || !*msg) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  return 0;
}

int h5tx_log(h5tx_store *s, h5tx_rev from, h5tx_log_fn fn, void *arg, h5tx_error *err) {
  h5tx_rev head;
  int rc = h5tx_store_head(s, &head, err);
  if (rc) return rc;
  if (from == H5TX_HEAD || from > head) from = head;
  /* One short read transaction per commit, ended before the callback: a
   * caller may take its time (`h5tx log | less`), and a transaction held
   * meanwhile would keep LMDB from reusing any page freed since. */
  for (h5tx_rev r = from; r >= 1 && rc == 0; r--) {
    h5tx__txn *t;
    if ((rc = h5tx__kv_read(s->kv, &t, err))) break;
    h5tx__commit2 c;
    char *host = NULL, *msg = NULL, **names = NULL;
    rc = load_commit(s, t, r, &c, &host, &msg, &names, err);
    h5tx__kv_done(t); /* c's pointers into the index die here; copies stay */
    if (rc == 0) {
      h5tx_commit info = {r,
                          c.parent,
                          c.time_ns,
                          c.pid,
                          host,
                          msg,
                          c.nfiles,
                          (const char *const *)names,
                          c.bytes_added,
                          c.pages_added,
                          (c.flags & (H5TX_COMMIT_COLLECTED | H5TX_COMMIT_COLLECTING)) != 0};
      rc = fn(arg, &info);
    }
    free(host);
    free(msg);
    free_names(names);
  }
  return rc;
}

typedef struct tag_arg {
  h5tx_store *s;
  const char *name;
  h5tx_rev rev; /* 0: delete */
  int appended;
} tag_arg;

/* A tag change: a tag record in the page log (flushed first when the
 * store is `sync`, so repair finds every tag the index has), then the
 * index. */
static int tag_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  tag_arg *a = arg;
  h5tx_store *s = a->s;
  h5tx_rev head, rev = a->rev;
  int rc;
  size_t nl = strlen(a->name);
  if (rev) {
    if ((rc = h5tx__rev_check(s, t, rev, &head, err))) return rc;
    if (rev == H5TX_HEAD) rev = head;
  } else {
    h5tx__val v;
    rc = h5tx__idx_get(t, IDX_TAGS, a->name, nl, &v, err);
    if (rc == H5TX_ENOENT) return h5tx__err(err, rc, "store %s: no tag '%s'", s->path, a->name);
    if (rc) return rc;
  }
  if (!a->appended) { /* once: a replay appends nothing new */
    h5tx__buf b = {0};
    if (h5tx__ltag_encode(&b, a->name, nl, rev))
      return h5tx__err(err, H5TX_ENOMEM, "out of memory");
    h5tx__plog_rec r = {.kind = PLOG_TAG,
                        .enc = PLOG_ENC_RAW,
                        .raw = (uint32_t)b.n,
                        .payload = b.p,
                        .stored = (uint32_t)b.n};
    h5tx__place p;
    rc = h5tx__plog_append(s->log, 0, &r, 1, &p, err);
    h5tx__buf_free(&b);
    if (rc == 0 && s->durability == H5TX_SYNC) rc = h5tx__plog_flush(s->log, err);
    if (rc) return rc;
    a->appended = 1;
  }
  a->rev = rev;
  return h5tx__apply_tag(t, a->name, nl, rev, err);
}

static int tag_ro(h5tx_store *s, const char *name, h5tx_error *err) {
  return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot change tag '%s'", s->path,
                   name);
}

int h5tx_tag_set(h5tx_store *s, const char *name, h5tx_rev rev, h5tx_error *err) {
  int rc = h5tx__check_tag(name, err);
  if (rc) return rc;
  if (s->read_only) return tag_ro(s, name, err);
  if (rev == 0)
    return h5tx__err(err, H5TX_EINVAL, "store %s: tag '%s': revision 0 cannot be tagged", s->path,
                     name);
  tag_arg a = {s, name, rev, 0};
  return h5tx__kv_write(s->kv, tag_fn, &a, 0, err);
}

int h5tx_tag_delete(h5tx_store *s, const char *name, h5tx_error *err) {
  int rc = h5tx__check_tag(name, err);
  if (rc) return rc;
  if (s->read_only) return tag_ro(s, name, err);
  tag_arg a = {s, name, 0, 0};
  return h5tx__kv_write(s->kv, tag_fn, &a, 0, err);
}

int h5tx_tag_get(h5tx_store *s, const char *name, h5tx_rev *rev, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  h5tx__val v;
  rc = h5tx__idx_get(t, IDX_TAGS, name, strlen(name), &v, err);
  if (rc == H5TX_ENOENT)
    rc = h5tx__err(err, rc, "store %s: no tag '%s'", s->path, name);
  else if (rc == 0 && v.n != 8)
    rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: tag '%s' malformed", s->path, name);
  else if (rc == 0)
    *rev = h5tx__get_le64(v.p);
  h5tx__kv_done(t);
  return rc;
}

int h5tx_tags(h5tx_store *s, h5tx_tag_fn fn, void *arg, h5tx_error *err) {
  /* Copied out first: the callback runs with no transaction open. */
  typedef struct tag {
    char name[H5TX_MAX_TAG + 1];
    h5tx_rev rev;
  } tag;
  tag *v = NULL;
  size_t n = 0, cap = 0;
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_TAGS, &c, err)) == 0) {
    h5tx__val k, vv;
    for (rc = h5tx__kv_seek(c, NULL, 0, &k, &vv, err); rc == 0;
         rc = h5tx__kv_next(c, &k, &vv, err)) {
      if ((rc = h5tx__idx_value(IDX_TAGS, &k, &vv, err))) break;
      if (k.n > H5TX_MAX_TAG || vv.n != 8) {
        rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed tag entry", s->path);
        break;
      }
      if (h5tx__grow(&v, &cap, n, sizeof *v, 16)) {
        rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
        break;
      }
      memcpy(v[n].name, k.p, k.n);
      v[n].name[k.n] = 0;
      v[n].rev = h5tx__get_le64(vv.p);
      n++;
    }
    if (rc == H5TX_ENOENT) rc = 0;
    h5tx__kv_cursor_close(c);
  }
  h5tx__kv_done(t);
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = fn(arg, v[i].name, v[i].rev);
  free(v);
  return rc;
}

int h5tx_rev_parse(h5tx_store *s, const char *spec, h5tx_rev *rev, h5tx_error *err) {
  if (!spec || !*spec || strcmp(spec, "head") == 0) return h5tx_store_head(s, rev, err);
  size_t n = strlen(spec);
  if (strspn(spec, "0123456789") == n) {
    if (n > 19) return h5tx__err(err, H5TX_EINVAL, "revision '%s' is out of range", spec);
    h5tx_rev r = strtoull(spec, NULL, 10);
    h5tx__txn *t;
    int rc = h5tx__kv_read(s->kv, &t, err);
    if (rc) return rc;
    h5tx_rev head;
    rc = h5tx__rev_check(s, t, r, &head, err);
    h5tx__kv_done(t);
    if (rc == 0) *rev = r;
    return rc;
  }
  int rc = h5tx__check_tag(spec, err);
  if (rc) return rc;
  return h5tx_tag_get(s, spec, rev, err);
}
