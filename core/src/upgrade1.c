/* upgrade1.c - format 1 to format 2: one read transaction over the
 * format-1 index, one pass over each of its tables to group entries by
 * revision, then per revision: page payloads appended to the page log, a
 * log commit record, and h5tx__apply_commit (upgrade1.h). */
#include "upgrade1.h"

#include "codec.h"
#include "internal.h"
#include "pins.h"
#include "records.h"
#include "store2.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void (*h5tx__upgrade_test_hook)(const char *dir);

/* One format-1 entry that belongs to a revision. */
typedef struct item {
  h5tx_rev rev;
  int op;       /* LOP_FILE, LOP_NAME, LOP_LENGTH, or LOP_PAGES for a page version */
  uint64_t fid; /* file */
  uint64_t a;   /* length, page number */
  uint32_t ps;  /* FILE: page size */
  const char *name;
  size_t nlen;
  h5tx__val val; /* page record (points into the read transaction) */
} item;

typedef struct items {
  item *v;
  size_t n, cap;
} items;

static int add(items *it, const item *x, h5tx_error *err) {
  if (h5tx__grow(&it->v, &it->cap, it->n, sizeof *it->v, 1024))
    return h5tx__err(err, H5TX_ENOMEM, "upgrade: out of memory");
  it->v[it->n++] = *x;
  return 0;
}

static int by_rev(const void *a, const void *b) {
  const item *x = a, *y = b;
  if (x->rev != y->rev) return x->rev < y->rev ? -1 : 1;
  if (x->op != y->op) return x->op < y->op ? -1 : 1; /* FILE, NAME, LENGTH, PAGES */
  if (x->fid != y->fid) return x->fid < y->fid ? -1 : 1;
  return x->a < y->a ? -1 : x->a > y->a;
}

/* Every entry of the tables that grow with revisions, grouped. */
static int gather(h5tx__txn *t, items *it, h5tx_error *err) {
  h5tx__cur *c;
  h5tx__val k, v;
  int rc = 0, r;
  /* names: name 00 ~rev -> fid */
  if ((rc = h5tx__kv_cursor(t, KV_NAMES, &c, err))) return rc;
  for (r = h5tx__kv_seek(c, "", 0, &k, &v, err); r == 0 && rc == 0;
       r = h5tx__kv_next(c, &k, &v, err)) {
    if (k.n < 10 || v.n != 8 || ((const uint8_t *)k.p)[k.n - 9] != 0) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: a malformed names entry");
      break;
    }
    item x = {.rev = h5tx__key_rev(&k),
              .op = LOP_NAME,
              .fid = h5tx__get_le64(v.p),
              .name = k.p,
              .nlen = k.n - 9};
    rc = add(it, &x, err);
  }
  h5tx__kv_cursor_close(c);
  if (rc || (r && r != H5TX_ENOENT)) return rc ? rc : r;
  /* files: fid -> record, created at its revision */
  if ((rc = h5tx__kv_cursor(t, KV_FILES, &c, err))) return rc;
  for (r = h5tx__kv_seek(c, "", 0, &k, &v, err); r == 0 && rc == 0;
       r = h5tx__kv_next(c, &k, &v, err)) {
    h5tx__file_rec f;
    if (k.n != 8 || h5tx__file_parse(&v, &f) != 0) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: a malformed files entry");
      break;
    }
    item x = {.rev = f.created,
              .op = LOP_FILE,
              .fid = h5tx__get_be64(k.p),
              .ps = f.page_size,
              .name = (const char *)v.p + 16,
              .nlen = v.n - 16};
    rc = add(it, &x, err);
  }
  h5tx__kv_cursor_close(c);
  if (rc || (r && r != H5TX_ENOENT)) return rc ? rc : r;
  /* lengths: fid ~rev -> length */
  if ((rc = h5tx__kv_cursor(t, KV_LENGTHS, &c, err))) return rc;
  for (r = h5tx__kv_seek(c, "", 0, &k, &v, err); r == 0 && rc == 0;
       r = h5tx__kv_next(c, &k, &v, err)) {
    if (k.n != H5TX_LEN_KEY || v.n != 8) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: a malformed lengths entry");
      break;
    }
    item x = {.rev = h5tx__key_rev(&k),
              .op = LOP_LENGTH,
              .fid = h5tx__get_be64(k.p),
              .a = h5tx__get_le64(v.p)};
    rc = add(it, &x, err);
  }
  h5tx__kv_cursor_close(c);
  if (rc || (r && r != H5TX_ENOENT)) return rc ? rc : r;
  /* pages: fid page ~rev -> record */
  if ((rc = h5tx__kv_cursor(t, KV_PAGES, &c, err))) return rc;
  for (r = h5tx__kv_seek(c, "", 0, &k, &v, err); r == 0 && rc == 0;
       r = h5tx__kv_next(c, &k, &v, err)) {
    if (k.n != H5TX_PAGE_KEY) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: a malformed pages key");
      break;
    }
    const uint8_t *kp = k.p;
    item x = {.rev = h5tx__key_rev(&k),
              .op = LOP_PAGES,
              .fid = h5tx__get_be64(kp),
              .a = h5tx__get_be64(kp + 8),
              .val = v};
    rc = add(it, &x, err);
  }
  h5tx__kv_cursor_close(c);
  if (rc || (r && r != H5TX_ENOENT)) return rc ? rc : r;
  qsort(it->v, it->n, sizeof *it->v, by_rev);
  return 0;
}

/* The page records of one revision, by write id (one per file). */
typedef struct rev_pages {
  uint64_t wid[64];
  h5tx__place *pl[64];
  size_t n[64];
  int nw;
} rev_pages;

static int rev_pages_fn(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n,
                        h5tx_error *err) {
  (void)err;
  rev_pages *rp = arg;
  for (int i = 0; i < rp->nw; i++)
    if (rp->wid[i] == wid) {
      *pl = rp->pl[i];
      *n = rp->n[i];
      return 0;
    }
  *pl = NULL;
  *n = 0;
  return 0;
}

typedef struct up_arg {
  const h5tx__lcommit *c;
  const h5tx__place *at;
  rev_pages *rp;
  uint32_t flags;
} up_arg;

static int apply_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  up_arg *a = arg;
  int rc = h5tx__apply_commit(t, a->c, a->at, rev_pages_fn, a->rp, err);
  /* the collected flag, as format 1 had it */
  if (rc == 0 && (a->flags & H5TX_COMMIT_COLLECTED))
    rc = h5tx__commit2_flags(t, a->c->rev, H5TX_COMMIT_COLLECTED, err);
  return rc;
}

typedef struct meta_arg {
  h5tx__val defaults;
  uint64_t next_fid;
  h5tx_rev head;
} meta_arg;

static int meta_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  meta_arg *m = arg;
  uint8_t f[4];
  h5tx__le32(f, 2);
  int rc = h5tx__idx_put(t, IDX_META, "format", 6, f, 4, err);
  if (rc == 0 && m->defaults.n)
    rc = h5tx__idx_put(t, IDX_META, "defaults", 8, m->defaults.p, m->defaults.n, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_file_id", m->next_fid, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "head", m->head, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", m->head, err);
  uint8_t from[12]; /* LE32 the old format, LE64 when (ns since the epoch) */
  h5tx__le32(from, 1);
  h5tx__le64(from + 4, h5tx__now_ns());
  if (rc == 0) rc = h5tx__idx_put(t, IDX_META, "upgraded_from", 13, from, sizeof from, err);
  return rc;
}

typedef struct tag_arg {
  const char *name;
  size_t nlen;
  h5tx_rev rev;
} tag_arg;

static int tag_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  tag_arg *a = arg;
  return h5tx__apply_tag(t, a->name, a->nlen, a->rev, err);
}

/* Append the page versions items[i..j) (one file) of a revision. */
static int append_pages(h5tx__plog *l, const item *v, size_t n, uint32_t ps, uint64_t wid,
                        h5tx__place *out, h5tx_error *err) {
  h5tx__plog_rec recs[64];
  size_t done = 0;
  while (done < n) {
    size_t k = 0;
    for (; k < 64 && done + k < n; k++) {
      const item *x = &v[done + k];
      h5tx__page_rec pr;
      const char *why = NULL;
      uint8_t key[H5TX_PAGE_KEY];
      h5tx__page_key(key, x->fid, x->a, x->rev);
      h5tx__val kv = {key, sizeof key};
      if (h5tx__page_parse(&kv, &x->val, &pr, &why) != 0 || pr.raw_len != ps)
        return h5tx__err(err, H5TX_ECORRUPT,
                         "upgrade: file id %" PRIu64 " page %" PRIu64 " revision %" PRIu64 ": %s",
                         x->fid, x->a, x->rev, why ? why : "page size differs from the file's");
      h5tx__plog_rec *r = &recs[k];
      *r = (h5tx__plog_rec){.kind = PLOG_PAGE, .key = x->a, .raw = ps};
      if (pr.enc == H5TX_ENC_ZERO) {
        r->enc = PLOG_ENC_ZERO;
      } else {
        r->enc = pr.enc == H5TX_ENC_RAW ? PLOG_ENC_RAW : PLOG_ENC_ZSTD;
        r->payload = pr.payload;
        r->stored = (uint32_t)pr.payload_len;
        /* a raw page's content hash is the hash of its bytes: verified
         * already by the record checksum, recomputed so the log's check is
         * over what is there */
        r->content = pr.enc == H5TX_ENC_RAW ? h5tx__hash(pr.payload, pr.payload_len) : pr.content;
      }
    }
    int rc = h5tx__plog_append(l, wid, recs, k, out + done, err);
    if (rc) return rc;
    done += k;
  }
  return 0;
}

int h5tx__upgrade1(h5tx__kv *old, h5tx__kv *nkv, h5tx__plog *l, h5tx_rev *head, h5tx_error *err) {
  h5tx__txn *t;
  items it = {0};
  h5tx__buf b = {0};
  *head = 0;
  int rc = h5tx__kv_read(old, &t, err);
  if (rc) return rc;
  h5tx_rev h = 0;
  uint64_t next_fid = 1;
  meta_arg m = {0};
  rc = h5tx__meta_get(t, "head", &h, err);
  if (rc == 0) rc = h5tx__meta_get(t, "next_file_id", &next_fid, err);
  if (rc == 0) {
    int r = h5tx__kv_get(t, KV_META, "defaults", 8, &m.defaults, err);
    if (r && r != H5TX_ENOENT) rc = r;
  }
  if (rc == 0) rc = gather(t, &it, err);
  /* page sizes of the files, for the page records */
  size_t i = 0;
  for (h5tx_rev rev = 1; rc == 0 && rev <= h; rev++) {
    uint8_t ck[8];
    h5tx__val cv;
    h5tx__commit_rec cr;
    h5tx__be64(ck, rev);
    if ((rc = h5tx__kv_get(t, KV_COMMITS, ck, 8, &cv, err)) || h5tx__commit_parse(&cv, &cr) != 0) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: revision %" PRIu64 ": no readable commit record",
                     rev);
      break;
    }
    h5tx__lcommit c = {.rev = rev,
                       .parent = cr.parent,
                       .time_ns = cr.time_ns,
                       .pid = cr.pid,
                       .host = cr.host,
                       .host_len = cr.host_len,
                       .msg = cr.msg,
                       .msg_len = cr.msg_len};
    if (h5tx__lcommit_begin(&b, &c)) {
      rc = h5tx__err(err, H5TX_ENOMEM, "upgrade: out of memory");
      break;
    }
    rev_pages rp = {.nw = 0};
    size_t j = i;
    while (rc == 0 && j < it.n && it.v[j].rev == rev) {
      item *x = &it.v[j];
      h5tx__lop o = {.op = x->op,
                     .fid = x->fid,
                     .a = x->a,
                     .page_size = x->ps,
                     .name = x->name,
                     .name_len = x->nlen};
      if (x->op != LOP_PAGES) {
        if (h5tx__lcommit_add(&b, &o)) rc = h5tx__err(err, H5TX_ENOMEM, "upgrade: out of memory");
        j++;
        continue;
      }
      /* the page versions of one file at this revision */
      size_t e = j;
      while (e < it.n && it.v[e].rev == rev && it.v[e].op == LOP_PAGES && it.v[e].fid == x->fid)
        e++;
      uint8_t fk[8];
      h5tx__val fv;
      h5tx__file_rec fr;
      h5tx__be64(fk, x->fid);
      if ((rc = h5tx__kv_get(t, KV_FILES, fk, 8, &fv, err)) || h5tx__file_parse(&fv, &fr) != 0) {
        rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: file id %" PRIu64 ": no file record", x->fid);
        break;
      }
      if (rp.nw == 64) {
        rc =
            h5tx__err(err, H5TX_EINVAL, "upgrade: revision %" PRIu64 " changes over 64 files", rev);
        break;
      }
      int w = rp.nw++;
      rp.wid[w] = h5tx__plog_write_id();
      rp.n[w] = e - j;
      rp.pl[w] = malloc(sizeof(h5tx__place) * (e - j));
      if (!rp.pl[w]) {
        rc = h5tx__err(err, H5TX_ENOMEM, "upgrade: out of memory");
        break;
      }
      rc = append_pages(l, &it.v[j], e - j, fr.page_size, rp.wid[w], rp.pl[w], err);
      o.a = rp.wid[w];
      if (rc == 0 && h5tx__lcommit_add(&b, &o))
        rc = h5tx__err(err, H5TX_ENOMEM, "upgrade: out of memory");
      j = e;
    }
    h5tx__place at;
    if (rc == 0) {
      h5tx__plog_rec r = {.kind = PLOG_COMMIT,
                          .enc = PLOG_ENC_RAW,
                          .key = rev,
                          .raw = (uint32_t)b.n,
                          .payload = b.p,
                          .stored = (uint32_t)b.n};
      rc = h5tx__plog_append(l, rp.nw ? rp.wid[0] : 0, &r, 1, &at, err);
    }
    if (rc == 0 && (cr.flags & H5TX_COMMIT_COLLECTED)) {
      /* so that repair marks it collected too */
      h5tx__plog_rec r = {.kind = PLOG_COLLECTED, .enc = PLOG_ENC_ZERO, .key = rev};
      h5tx__place cat;
      rc = h5tx__plog_append(l, 0, &r, 1, &cat, err);
    }
    if (rc == 0) {
      h5tx__lcommit d;
      const char *why;
      if (h5tx__lcommit_parse(b.p, b.n, &d, &why) != 0)
        rc = h5tx__err(err, H5TX_ECORRUPT, "upgrade: revision %" PRIu64 ": %s", rev, why);
      up_arg a = {&d, &at, &rp, cr.flags};
      if (rc == 0) rc = h5tx__kv_write(nkv, apply_fn, &a, 0, err);
    }
    for (int w = 0; w < rp.nw; w++)
      free(rp.pl[w]);
    i = j;
  }
  /* tags */
  h5tx__cur *c;
  if (rc == 0 && (rc = h5tx__kv_cursor(t, KV_TAGS, &c, err)) == 0) {
    h5tx__val k, v;
    int r;
    for (r = h5tx__kv_seek(c, "", 0, &k, &v, err); r == 0 && rc == 0;
         r = h5tx__kv_next(c, &k, &v, err)) {
      tag_arg a = {k.p, k.n, v.n == 8 ? h5tx__get_le64(v.p) : 0};
      if (h5tx__ltag_encode(&b, a.name, a.nlen, a.rev)) {
        rc = h5tx__err(err, H5TX_ENOMEM, "upgrade: out of memory");
        break;
      }
      h5tx__plog_rec tr = {.kind = PLOG_TAG,
                           .enc = PLOG_ENC_RAW,
                           .raw = (uint32_t)b.n,
                           .payload = b.p,
                           .stored = (uint32_t)b.n};
      h5tx__place p;
      rc = h5tx__plog_append(l, 0, &tr, 1, &p, err);
      if (rc == 0) rc = h5tx__kv_write(nkv, tag_fn, &a, 0, err);
    }
    h5tx__kv_cursor_close(c);
    if (rc == 0 && r != H5TX_ENOENT) rc = r;
  }
  m.next_fid = next_fid;
  m.head = h;
  if (rc == 0) rc = h5tx__plog_flush(l, err);
  if (rc == 0) rc = h5tx__kv_write(nkv, meta_fn, &m, 1, err);
  h5tx__kv_done(t);
  free(it.v);
  h5tx__buf_free(&b);
  if (rc == 0) *head = h;
  return rc;
}

/* The format-2 store in `tmp`, filled from the format-1 store at `path`. */
static int convert_into(const char *path, const char *tmp, h5tx_rev *head, h5tx_error *err) {
  h5tx_store_opts o;
  memset(&o, 0, sizeof o);
  o.codec = o.durability = -1; /* the old store's defaults replace these */
  uint8_t id[16];
  char idir[4200], ldir[4200];
  int rc = h5tx__store2_fill(tmp, path, &o, id, err);
  if (rc) return rc;
  snprintf(idir, sizeof idir, "%s/index", tmp);
  snprintf(ldir, sizeof ldir, "%s/log", tmp);
  h5tx__kv *old = NULL, *nkv = NULL;
  h5tx__plog *l = NULL;
  if ((rc = h5tx__kv_open(path, 0, 1, 0, &old, err)) ||
      (rc = h5tx__idx_open(idir, 0, 0, &nkv, err)) ||
      (rc = h5tx__plog_open(ldir, id, 0, 0, 0, &l, err)))
    goto out;
  rc = h5tx__upgrade1(old, nkv, l, head, err);
out:
  if (l) h5tx__plog_close(l);
  if (nkv) h5tx__kv_close(nkv);
  if (old) h5tx__kv_close(old);
  if (rc) return rc;
  h5tx__pins *p;
  if ((rc = h5tx__pins_open(tmp, &p, err))) return rc;
  h5tx__pins_close(p);
  int e = h5tx__sync_dir(tmp);
  if (e)
    return h5tx__err(err, h5tx__errno_code(e), "cannot upgrade store %s: syncing %s: %s", path, tmp,
                     strerror(e));
  if (h5tx__upgrade_test_hook) h5tx__upgrade_test_hook(tmp);
  return h5tx__upgrade_check(path, tmp, id, err);
}

int h5tx__upgrade_store(const char *path, h5tx_rev *head, char *kept, size_t cap, h5tx_error *err) {
  h5tx__marker m;
  int rc = h5tx__marker_read(path, 2, &m, err);
  if (rc) return rc;
  if (m.format != 1)
    return h5tx__err(err, H5TX_EINVAL, "store %s has format %u already: nothing to upgrade", path,
                     m.format);
  char *parent, *base;
  if (h5tx__path_split(path, &parent, &base)) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  char tmp[4096];
  h5tx__pins *p = NULL;
  if ((rc = h5tx__pins_open(path, &p, err)) || (rc = h5tx__pins_idle(p, "upgrade", path, err)))
    goto out;
  if ((rc = h5tx__make_tmp_dir("cannot upgrade store", path, parent, base, tmp, sizeof tmp, err)))
    goto out;
  rc = convert_into(path, tmp, head, err);
  /* Still nobody in it: a writer that came meanwhile would lose its
   * commits in the kept directory. */
  if (rc == 0) rc = h5tx__pins_idle(p, "upgrade", path, err);
  if (rc) {
    h5tx__remove_tree(tmp);
    goto out;
  }
  snprintf(kept, cap, "%s/.%s.format1-%lld", parent, base, (long long)time(NULL));
  if (rename(path, kept) != 0) {
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot upgrade store %s: renaming it to %s: %s",
                   path, kept, strerror(errno));
    h5tx__remove_tree(tmp);
    goto out;
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    if (rename(kept, path) == 0) h5tx__remove_tree(tmp);
    rc = h5tx__err(err, h5tx__errno_code(e),
                   "cannot upgrade store %s: renaming %s into its place: %s (the format-1 store "
                   "is %s)",
                   path, tmp, strerror(e), access(path, F_OK) == 0 ? "back in place" : kept);
    goto out;
  }
  int e = h5tx__sync_dir(parent);
  if (e)
    rc = h5tx__err(err, h5tx__errno_code(e), "store %s upgraded, but syncing %s failed: %s", path,
                   parent, strerror(e));
out:
  h5tx__pins_close(p);
  free(parent);
  free(base);
  return rc;
}
