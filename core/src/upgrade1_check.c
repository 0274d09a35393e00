/* upgrade1_check.c - the comparison `h5tx upgrade` makes before it puts a
 * converted store in place (upgrade1.h, h5tx__upgrade_check): the head,
 * every commit record (parent, time, pid, host, message, collected flag),
 * every tag, the set of file names, and every file at every revision the
 * format-1 store can read, byte for byte, each read once from the format-1
 * index and once from the new format-2 index and page log. The first
 * difference is the error, naming the revision, file, byte or record. */
#include "upgrade1.h"

#include "codec.h"
#include "internal.h"
#include "pages2.h"
#include "records.h"
#include "records2.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cmp {
  const char *path;   /* the format-1 store, for messages */
  h5tx__txn *t1, *t2; /* read transactions: format 1, format 2 */
  h5tx__cur *p1, *p2; /* their pages tables */
  h5tx__plog *l;      /* the new page log */
  uint8_t *a, *b, *scratch;
  uint32_t cap; /* page size the buffers hold */
  char **names; /* every file name format 1 has (at any revision) */
  size_t nnames, names_cap;
  h5tx_error *err;
} cmp;

static int differ(cmp *c, const char *fmt, ...) H5TX_PRINTF(2, 3);
static int differ(cmp *c, const char *fmt, ...) {
  char what[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return h5tx__err(c->err, H5TX_ECORRUPT,
                   "cannot upgrade store %s: the converted store differs from the format-1 store: "
                   "%s; the format-1 store is unchanged",
                   c->path, what);
}

/* Format 1: the file id of `name` at `rev` (0: no such file then). */
static int f1_name(cmp *c, const char *name, h5tx_rev rev, uint64_t *fid) {
  uint8_t key[H5TX_NAME_KEY_MAX];
  size_t nlen = strlen(name), kl = h5tx__name_key(key, name, nlen, rev);
  h5tx__cur *cur;
  h5tx__val k, v;
  *fid = 0;
  int rc = h5tx__kv_cursor(c->t1, KV_NAMES, &cur, c->err);
  if (rc) return rc;
  rc = h5tx__kv_seek(cur, key, kl, &k, &v, c->err);
  if (rc == 0 && k.n == kl && memcmp(k.p, key, nlen + 1) == 0) {
    if (v.n != 8)
      rc = h5tx__err(c->err, H5TX_ECORRUPT, "upgrade: a malformed format-1 names entry of '%s'",
                     name);
    else
      *fid = h5tx__get_le64(v.p);
  }
  h5tx__kv_cursor_close(cur);
  return rc == H5TX_ENOENT ? 0 : rc;
}

/* Format 1: the length of file `fid` at `rev` (0 if it has none). */
static int f1_length(cmp *c, uint64_t fid, h5tx_rev rev, uint64_t *len) {
  uint8_t key[H5TX_LEN_KEY];
  h5tx__len_key(key, fid, rev);
  h5tx__cur *cur;
  h5tx__val k, v;
  *len = 0;
  int rc = h5tx__kv_cursor(c->t1, KV_LENGTHS, &cur, c->err);
  if (rc) return rc;
  rc = h5tx__kv_seek(cur, key, sizeof key, &k, &v, c->err);
  if (rc == 0 && k.n == sizeof key && memcmp(k.p, key, 8) == 0) {
    if (v.n != 8)
      rc = h5tx__err(c->err, H5TX_ECORRUPT,
                     "upgrade: a malformed format-1 lengths entry of file id %" PRIu64, fid);
    else
      *len = h5tx__get_le64(v.p);
  }
  h5tx__kv_cursor_close(cur);
  return rc == H5TX_ENOENT ? 0 : rc;
}

/* Format 1: page `p` of file `fid` at `rev` into c->a (zeros if never
 * written). */
static int f1_page(cmp *c, uint64_t fid, uint64_t p, h5tx_rev rev, uint32_t ps) {
  uint8_t key[H5TX_PAGE_KEY];
  h5tx__page_key(key, fid, p, rev);
  h5tx__val k, v;
  int rc = h5tx__kv_seek(c->p1, key, sizeof key, &k, &v, c->err);
  if (rc == H5TX_ENOENT || (rc == 0 && (k.n != sizeof key || memcmp(k.p, key, 16) != 0))) {
    memset(c->a, 0, ps);
    return 0;
  }
  if (rc) return rc;
  h5tx__page_rec pr;
  const char *why = NULL;
  if (h5tx__page_parse(&k, &v, &pr, &why) != 0 || h5tx__page_decode(&pr, c->a, ps, &why) != 0)
    return h5tx__err(c->err, H5TX_ECORRUPT,
                     "upgrade: format-1 file id %" PRIu64 " page %" PRIu64 " at revision %" PRIu64
                     ": %s",
                     fid, p, h5tx__key_rev(&k), why ? why : "unreadable");
  return 0;
}

/* Format 2: page size of file `fid`. */
static int f2_page_size(cmp *c, uint64_t fid, uint32_t *ps) {
  uint8_t fk[8];
  h5tx__val v;
  h5tx__file2 f;
  h5tx__be64(fk, fid);
  int rc = h5tx__idx_get(c->t2, IDX_FILES, fk, 8, &v, c->err);
  if (rc == H5TX_ENOENT) return differ(c, "file id %" PRIu64 " has no files record", fid);
  if (rc) return rc;
  if (h5tx__file2_parse(v.p, v.n, &f) != 0)
    return differ(c, "file id %" PRIu64 " has a malformed files record", fid);
  *ps = f.page_size;
  return 0;
}

static int f1_page_size(cmp *c, uint64_t fid, uint32_t *ps) {
  uint8_t fk[8];
  h5tx__val v;
  h5tx__file_rec f;
  h5tx__be64(fk, fid);
  int rc = h5tx__kv_get(c->t1, KV_FILES, fk, 8, &v, c->err);
  if (rc == 0 && h5tx__file_parse(&v, &f) != 0) rc = H5TX_ENOENT;
  if (rc == H5TX_ENOENT)
    return h5tx__err(c->err, H5TX_ECORRUPT, "upgrade: format-1 file id %" PRIu64 ": no file record",
                     fid);
  if (rc == 0) *ps = f.page_size;
  return rc;
}

/* File `name` (format-1 id fid1, format-2 id fid2) at `rev`, byte for byte. */
static int compare_file(cmp *c, const char *name, h5tx_rev rev, uint64_t fid1, uint64_t fid2) {
  uint32_t ps1 = 0, ps2 = 0;
  uint64_t len1, len2;
  int rc;
  if ((rc = f1_page_size(c, fid1, &ps1)) || (rc = f2_page_size(c, fid2, &ps2))) return rc;
  if (ps1 != ps2)
    return differ(c, "file '%s' has page size %u in the format-1 store, %u in the new one", name,
                  ps1, ps2);
  if ((rc = f1_length(c, fid1, rev, &len1))) return rc;
  rc = h5tx__length_lookup(c->t2, fid2, rev, &len2, NULL, c->err);
  if (rc == H5TX_ENOENT) len2 = 0, rc = 0;
  if (rc) return rc;
  if (len1 != len2)
    return differ(c,
                  "revision %" PRIu64 ", file '%s': %" PRIu64
                  " bytes in the format-1 store, %" PRIu64 " in the new one",
                  rev, name, len1, len2);
  if (ps1 > c->cap) {
    free(c->a);
    free(c->b);
    free(c->scratch);
    c->a = malloc(ps1);
    c->b = malloc(ps1);
    c->scratch = malloc(ps1 + ps1 / 8 + 512);
    c->cap = c->a && c->b && c->scratch ? ps1 : 0;
    if (!c->cap) return h5tx__err(c->err, H5TX_ENOMEM, "upgrade: out of memory");
  }
  uint64_t np = len1 / ps1 + (len1 % ps1 != 0);
  for (uint64_t p = 0; p < np; p++) {
    if ((rc = f1_page(c, fid1, p, rev, ps1))) return rc;
    h5tx__place pl;
    rc = h5tx__page2_find(c->p2, fid2, p, rev, &pl, NULL, c->err);
    if (rc == H5TX_ENOENT)
      memset(c->b, 0, ps1), rc = 0;
    else if (rc == 0)
      rc = h5tx__page2_load(c->l, &pl, c->b, ps1, c->scratch, c->err);
    if (rc) return rc;
    size_t n = len1 - p * ps1 < ps1 ? (size_t)(len1 - p * ps1) : ps1;
    if (memcmp(c->a, c->b, n) == 0) continue;
    size_t i = 0;
    while (c->a[i] == c->b[i])
      i++;
    return differ(c,
                  "revision %" PRIu64 ", file '%s': byte %" PRIu64
                  " is 0x%02x in the format-1 store, 0x%02x in the new one",
                  rev, name, p * ps1 + i, c->a[i], c->b[i]);
  }
  return 0;
}

/* The distinct names of names table `table` of `t` (format 1 or 2), in key
 * order, into *out; `check`: format 2's values carry a check. */
static int list_names(cmp *c, h5tx__txn *t, int table, int check, char ***out, size_t *n,
                      size_t *cap) {
  h5tx__cur *cur;
  h5tx__val k, v;
  int rc = h5tx__kv_cursor(t, table, &cur, c->err), r;
  if (rc) return rc;
  for (r = h5tx__kv_seek(cur, "", 0, &k, &v, c->err); r == 0 && rc == 0;
       r = h5tx__kv_next(cur, &k, &v, c->err)) {
    if (check && (rc = h5tx__idx_value(table, &k, &v, c->err))) break;
    if (k.n < 10 || ((const uint8_t *)k.p)[k.n - 9] != 0) {
      rc = h5tx__err(c->err, H5TX_ECORRUPT, "upgrade: a malformed names key in the %s store",
                     check ? "new" : "format-1");
      break;
    }
    size_t nl = k.n - 9;
    if (*n && strlen((*out)[*n - 1]) == nl && memcmp((*out)[*n - 1], k.p, nl) == 0) continue;
    if (h5tx__grow(out, cap, *n, sizeof **out, 64) || !((*out)[*n] = strndup(k.p, nl))) {
      rc = h5tx__err(c->err, H5TX_ENOMEM, "upgrade: out of memory");
      break;
    }
    (*n)++;
  }
  h5tx__kv_cursor_close(cur);
  return rc ? rc : r == H5TX_ENOENT ? 0 : r;
}

static void free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The same file names, ever. */
static int compare_names(cmp *c) {
  char **n2 = NULL;
  size_t nn2 = 0, cap2 = 0;
  int rc = list_names(c, c->t1, KV_NAMES, 0, &c->names, &c->nnames, &c->names_cap);
  if (rc == 0) rc = list_names(c, c->t2, IDX_NAMES, 1, &n2, &nn2, &cap2);
  for (size_t i = 0; rc == 0 && (i < c->nnames || i < nn2); i++) {
    if (i < c->nnames && i < nn2 && strcmp(c->names[i], n2[i]) == 0) continue;
    if (i < c->nnames && (i >= nn2 || strcmp(c->names[i], n2[i]) < 0))
      rc = differ(c, "file '%s' is missing from the new store", c->names[i]);
    else
      rc = differ(c, "file '%s' is in the new store only", n2[i]);
  }
  free_names(n2, nn2);
  return rc;
}

/* Commit `rev`'s record in both; *collected: format 1's flag. */
static int compare_commit(cmp *c, h5tx_rev rev, int *collected) {
  uint8_t ck[8];
  h5tx__val v1, v2;
  h5tx__commit_rec a;
  h5tx__commit2 b;
  h5tx__be64(ck, rev);
  int rc = h5tx__kv_get(c->t1, KV_COMMITS, ck, 8, &v1, c->err);
  if (rc == 0 && h5tx__commit_parse(&v1, &a) != 0) rc = H5TX_ENOENT;
  if (rc == H5TX_ENOENT)
    return h5tx__err(c->err, H5TX_ECORRUPT,
                     "upgrade: revision %" PRIu64 ": no readable format-1 commit record", rev);
  if (rc) return rc;
  rc = h5tx__idx_get(c->t2, IDX_COMMITS, ck, 8, &v2, c->err);
  if (rc == H5TX_ENOENT || (rc == 0 && h5tx__commit2_parse(v2.p, v2.n, &b) != 0))
    return differ(c, "revision %" PRIu64 " has no commit record in the new store", rev);
  if (rc) return rc;
  const char *field = NULL;
  if (a.parent != b.parent)
    field = "parent";
  else if (a.time_ns != b.time_ns)
    field = "time";
  else if (a.pid != b.pid)
    field = "pid";
  else if (a.host_len != b.host_len || memcmp(a.host, b.host, a.host_len) != 0)
    field = "host";
  else if (a.msg_len != b.msg_len || memcmp(a.msg, b.msg, a.msg_len) != 0)
    field = "message";
  else if (!(a.flags & H5TX_COMMIT_COLLECTED) != !(b.flags & H5TX_COMMIT_COLLECTED))
    field = "collected flag";
  if (field) return differ(c, "revision %" PRIu64 ": the commit's %s differs", rev, field);
  *collected = (a.flags & H5TX_COMMIT_COLLECTED) != 0;
  return 0;
}

/* Every tag of `ta` (table `tab_a`) in `tb` with the same revision. */
static int tags_in(cmp *c, h5tx__txn *ta, int tab_a, int chk_a, h5tx__txn *tb, int tab_b, int chk_b,
                   const char *a_name, const char *b_name) {
  h5tx__cur *cur;
  h5tx__val k, v, w;
  int rc = h5tx__kv_cursor(ta, tab_a, &cur, c->err), r;
  if (rc) return rc;
  for (r = h5tx__kv_seek(cur, "", 0, &k, &v, c->err); r == 0 && rc == 0;
       r = h5tx__kv_next(cur, &k, &v, c->err)) {
    if (chk_a && (rc = h5tx__idx_value(tab_a, &k, &v, c->err))) break;
    int g = chk_b ? h5tx__idx_get(tb, tab_b, k.p, k.n, &w, c->err)
                  : h5tx__kv_get(tb, tab_b, k.p, k.n, &w, c->err);
    int len = k.n > 200 ? 200 : (int)k.n;
    if (g == H5TX_ENOENT)
      rc = differ(c, "tag '%.*s' is in the %s store, not in the %s one", len, (const char *)k.p,
                  a_name, b_name);
    else if (g)
      rc = g;
    else if (v.n != 8 || w.n != 8 || h5tx__get_le64(v.p) != h5tx__get_le64(w.p))
      rc = differ(c, "tag '%.*s' names another revision in the new store", len, (const char *)k.p);
  }
  h5tx__kv_cursor_close(cur);
  return rc ? rc : r == H5TX_ENOENT ? 0 : r;
}

static int compare(cmp *c) {
  uint64_t h1 = 0, h2 = 0;
  int rc = h5tx__meta_get(c->t1, "head", &h1, c->err);
  if (rc == 0) rc = h5tx__meta2_get(c->t2, "head", &h2, c->err);
  if (rc) return rc;
  if (h1 != h2)
    return differ(c,
                  "head is revision %" PRIu64 " in the format-1 store, %" PRIu64 " in the new one",
                  h1, h2);
  if ((rc = tags_in(c, c->t1, KV_TAGS, 0, c->t2, IDX_TAGS, 1, "format-1", "new")) ||
      (rc = tags_in(c, c->t2, IDX_TAGS, 1, c->t1, KV_TAGS, 0, "new", "format-1")) ||
      (rc = compare_names(c)))
    return rc;
  if ((rc = h5tx__kv_cursor(c->t1, KV_PAGES, &c->p1, c->err)) ||
      (rc = h5tx__kv_cursor(c->t2, IDX_PAGES, &c->p2, c->err)))
    return rc;
  for (h5tx_rev rev = 1; rc == 0 && rev <= h1; rev++) {
    int collected = 0;
    if ((rc = compare_commit(c, rev, &collected)) || collected) continue;
    for (size_t i = 0; rc == 0 && i < c->nnames; i++) {
      const char *name = c->names[i];
      uint64_t fid1 = 0, fid2 = 0;
      if ((rc = f1_name(c, name, rev, &fid1))) break;
      rc = h5tx__name_lookup(c->t2, name, rev, &fid2, NULL, c->err);
      if (rc == H5TX_ENOENT) fid2 = 0, rc = 0;
      if (rc) break;
      if (!fid1 != !fid2)
        rc = differ(c, "revision %" PRIu64 ": file '%s' is in the %s store only", rev, name,
                    fid1 ? "format-1" : "new");
      else if (fid1)
        rc = compare_file(c, name, rev, fid1, fid2);
    }
  }
  return rc;
}

int h5tx__upgrade_check(const char *path, const char *dir, const uint8_t sid[16], h5tx_error *err) {
  char idir[4200], ldir[4200];
  snprintf(idir, sizeof idir, "%s/index", dir);
  snprintf(ldir, sizeof ldir, "%s/log", dir);
  cmp c = {.path = path, .err = err};
  h5tx__kv *old = NULL, *nkv = NULL;
  int rc;
  if ((rc = h5tx__kv_open(path, 0, 1, 0, &old, err)) ||
      (rc = h5tx__idx_open(idir, 0, 1, &nkv, err)) ||
      (rc = h5tx__plog_open(ldir, sid, 0, 1, 0, &c.l, err)) ||
      (rc = h5tx__kv_read(old, &c.t1, err)) || (rc = h5tx__kv_read(nkv, &c.t2, err)))
    goto out;
  rc = compare(&c);
out:
  if (rc && err && !strstr(err->msg, "differs from the format-1 store")) {
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", err->msg);
    h5tx__err(err, rc,
              "cannot upgrade store %s: the converted store could not be compared with it: %s; "
              "the format-1 store is unchanged",
              path, m);
  }
  if (c.p1) h5tx__kv_cursor_close(c.p1);
  if (c.p2) h5tx__kv_cursor_close(c.p2);
  if (c.t1) h5tx__kv_done(c.t1);
  if (c.t2) h5tx__kv_done(c.t2);
  if (c.l) h5tx__plog_close(c.l);
  if (nkv) h5tx__kv_close(nkv);
  if (old) h5tx__kv_close(old);
  free_names(c.names, c.nnames);
  free(c.a);
  free(c.b);
  free(c.scratch);
  return rc;
}
