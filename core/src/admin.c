/* admin.c - looking at a store rather than using it: per-file usage, page
 * differences between revisions, full verification, statistics, leases and
 * readers. Long scans run in batches of short read transactions. */
#include "store.h"

#include "codec.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 512

/* ---- batched scans ------------------------------------------------------- */

/* Called per record by scan(); non-zero stops the scan and is returned. */
typedef int (*scan_fn)(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err);

#define BATCH_BYTES (8u << 20)

/* Records copied out of one read transaction. */
typedef struct batch {
  uint8_t *buf;
  size_t used, cap;
  struct {
    size_t off, kn, vn;
  } rec[BATCH];
  int n;
} batch;

static int batch_add(batch *b, const h5tx__val *k, const h5tx__val *v) {
  size_t need = b->used + k->n + v->n;
  if (need > b->cap) {
    size_t cap = b->cap ? b->cap : 1u << 16;
    while (cap < need)
      cap *= 2;
    uint8_t *nb = realloc(b->buf, cap);
    if (!nb) return -1;
    b->buf = nb;
    b->cap = cap;
  }
  memcpy(b->buf + b->used, k->p, k->n);
  memcpy(b->buf + b->used + k->n, v->p, v->n);
  b->rec[b->n].off = b->used;
  b->rec[b->n].kn = k->n;
  b->rec[b->n].vn = v->n;
  b->n++;
  b->used = need;
  return 0;
}

/* Visit every record of `table` in key order: up to BATCH records (or
 * BATCH_BYTES) are copied out of one short read transaction, which ends
 * before `fn` sees them, so no transaction is held while a caller's
 * callback runs; the next batch resumes after the last key seen. */
static int scan(h5tx_store *s, int table, scan_fn fn, void *arg, h5tx_error *err) {
  uint8_t last[H5TX_NAME_KEY_MAX + 64];
  size_t lastn = 0;
  int started = 0, rc = 0, end = 0;
  batch *b = calloc(1, sizeof *b);
  if (!b) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  while (!end && rc == 0) {
    h5tx__txn *t;
    if ((rc = h5tx__kv_read(s->kv, &t, err))) break;
    h5tx__cur *c;
    if ((rc = h5tx__kv_cursor(t, table, &c, err))) {
      h5tx__kv_done(t);
      break;
    }
    h5tx__val k, v;
    rc = h5tx__kv_seek(c, started ? last : NULL, started ? lastn : 0, &k, &v, err);
    if (rc == 0 && started && k.n == lastn && memcmp(k.p, last, lastn) == 0)
      rc = h5tx__kv_next(c, &k, &v, err);
    b->n = 0;
    b->used = 0;
    while (rc == 0 && b->n < BATCH && b->used < BATCH_BYTES) {
      if (k.n > sizeof last) {
        rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: key of %zu bytes", s->path, k.n);
        break;
      }
      if (batch_add(b, &k, &v)) {
        rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
        break;
      }
      memcpy(last, k.p, k.n);
      lastn = k.n;
      started = 1;
      rc = h5tx__kv_next(c, &k, &v, err);
    }
    h5tx__kv_cursor_close(c);
    h5tx__kv_done(t);
    if (rc == H5TX_ENOENT) {
      rc = 0;
      end = 1;
    }
    for (int i = 0; i < b->n && rc == 0; i++) {
      h5tx__val rk = {b->buf + b->rec[i].off, b->rec[i].kn};
      h5tx__val rv = {b->buf + b->rec[i].off + b->rec[i].kn, b->rec[i].vn};
      rc = fn(arg, &rk, &rv, err);
    }
  }
  free(b->buf);
  free(b);
  return rc;
}

static int count_entries(h5tx_store *s, int table, uint64_t *n, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  rc = h5tx__kv_count(t, table, n, err);
  h5tx__kv_done(t);
  return rc;
}

/* ---- file ids ------------------------------------------------------------------ */

/* Every file record: id, page size, name. */
typedef struct file_info {
  uint64_t id;
  uint32_t page_size;
  char *name;
} file_info;

typedef struct file_table {
  file_info *v;
  size_t n, cap;
  int bad;
  h5tx_problem_fn problem;
  void *arg;
  const char *store;
} file_table;

static void report(file_table *ft, uint64_t *count, const char *fmt, ...) H5TX_PRINTF(3, 4);
static void report(file_table *ft, uint64_t *count, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ++*count;
  if (ft->problem) ft->problem(ft->arg, msg);
}

static int load_file(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  file_table *ft = arg;
  h5tx__file_rec fr;
  if (k->n != 8 || h5tx__file_parse(v, &fr) != 0) {
    ft->bad++;
    return 0;
  }
  if (ft->n == ft->cap) {
    size_t cap = ft->cap ? ft->cap * 2 : 64;
    file_info *nv = realloc(ft->v, cap * sizeof *nv);
    if (!nv) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
    ft->v = nv;
    ft->cap = cap;
  }
  file_info *fi = &ft->v[ft->n];
  fi->id = h5tx__get_be64(k->p);
  fi->page_size = fr.page_size;
  fi->name = strndup((const char *)v->p + 16, v->n - 16);
  if (!fi->name) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  ft->n++;
  return 0;
}

/* Files are stored in id order, so the table is sorted. */
static const file_info *file_find(const file_table *ft, uint64_t id) {
  size_t a = 0, b = ft->n;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (ft->v[m].id < id)
      a = m + 1;
    else
      b = m;
  }
  return a < ft->n && ft->v[a].id == id ? &ft->v[a] : NULL;
}

static void files_free(file_table *ft) {
  for (size_t i = 0; i < ft->n; i++)
    free(ft->v[i].name);
  free(ft->v);
}

/* ---- usage ----------------------------------------------------------------------- */

/* The newest version <= rev of each stored page of file `fid` below page
 * `npages`, holes skipped: calls fn(key, value) per page. */
typedef int (*page_fn)(void *arg, uint64_t page, const h5tx__val *k, const h5tx__val *v,
                       h5tx_error *err);

static int each_page(h5tx__cur *c, uint64_t fid, uint64_t npages, h5tx_rev rev, page_fn fn,
                     void *arg, h5tx_error *err) {
  uint64_t p = 0;
  while (p < npages) {
    uint8_t key[H5TX_PAGE_KEY];
    h5tx__page_key(key, fid, p, rev);
    h5tx__val k, v;
    int rc = h5tx__kv_seek(c, key, sizeof key, &k, &v, err);
    if (rc == H5TX_ENOENT) return 0;
    if (rc) return rc;
    if (k.n != H5TX_PAGE_KEY || h5tx__get_be64(k.p) != fid) return 0;
    uint64_t kp = h5tx__get_be64((const uint8_t *)k.p + 8);
    if (kp != p) { /* nothing <= rev for page p: go to the next stored page */
      p = kp;
      continue;
    }
    if ((rc = fn(arg, p, &k, &v, err))) return rc;
    p++;
  }
  return 0;
}

static int usage_page(void *arg, uint64_t page, const h5tx__val *k, const h5tx__val *v,
                      h5tx_error *err) {
  (void)page;
  (void)k;
  (void)err;
  h5tx_file_usage *u = arg;
  u->pages++;
  u->stored_bytes += v->n;
  int enc = v->n >= 2 ? ((const uint8_t *)v->p)[1] : -1;
  if (enc == H5TX_ENC_ZSTD) u->zstd_pages++;
  if (enc == H5TX_ENC_RAW) u->raw_pages++;
  if (enc == H5TX_ENC_ZERO) u->zero_pages++;
  return 0;
}

int h5tx_snap_usage(h5tx_snap *snap, const char *name, h5tx_file_usage *out, h5tx_error *err) {
  memset(out, 0, sizeof *out);
  h5tx_stat st;
  int rc = h5tx_snap_stat(snap, name, &st, err);
  if (rc) return rc;
  h5tx_store *s = h5tx__snap_store(snap);
  h5tx__txn *t;
  if ((rc = h5tx__kv_read(s->kv, &t, err))) return rc;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, KV_PAGES, &c, err)) == 0) {
    uint64_t npages = (st.length + st.page_size - 1) / st.page_size;
    rc = each_page(c, st.file_id, npages, h5tx_snap_rev(snap), usage_page, out, err);
    h5tx__kv_cursor_close(c);
  }
  h5tx__kv_done(t);
  return rc;
}

/* ---- diff ------------------------------------------------------------------------------ */

/* What a page holds at one revision: a version (its revision) and content
 * hash, or zeros. */
typedef struct page_state {
  int zero;
  h5tx_rev version;
  uint64_t content;
} page_state;

static int page_state_at(h5tx_store *s, h5tx__cur *c, const char *name, const h5tx_stat *st,
                         uint64_t page, h5tx_rev rev, page_state *ps, h5tx_error *err) {
  ps->zero = 1;
  ps->version = 0;
  ps->content = 0;
  if (!st || page * st->page_size >= st->length) return 0;
  h5tx__val k, v;
  int rc = h5tx__page_find(c, st->file_id, page, rev, &k, &v, err);
  if (rc == H5TX_ENOENT) return 0;
  if (rc) return rc;
  h5tx__page_rec r;
  if ((rc = h5tx__page_check(s, name, &k, &v, &r, err))) return rc;
  if (r.enc == H5TX_ENC_ZERO) return 0;
  ps->zero = 0;
  ps->version = h5tx__key_rev(&k);
  ps->content = r.content;
  return 0;
}

typedef struct diff_run {
  uint64_t first, count, offset, length;
} diff_run;

int h5tx_diff(h5tx_store *s, const char *name, h5tx_rev a, h5tx_rev b, h5tx_diff_fn fn, void *arg,
              h5tx_error *err) {
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  diff_run *runs = NULL;
  size_t nruns = 0, cap = 0;
  h5tx__txn *t;
  if ((rc = h5tx__kv_read(s->kv, &t, err))) return rc;
  h5tx_rev head;
  if ((rc = h5tx__rev_check(s, t, a, &head, err)) || (rc = h5tx__rev_check(s, t, b, &head, err)))
    goto out;
  if (a == H5TX_HEAD) a = head;
  if (b == H5TX_HEAD) b = head;
  h5tx_stat sa, sb;
  h5tx_error ignore;
  int has_a = h5tx__stat(s, t, name, a, &sa, &ignore) == 0;
  int has_b = h5tx__stat(s, t, name, b, &sb, &ignore) == 0;
  if (!has_a && !has_b) {
    rc = h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at revision %llu or %llu", s->path,
                   name, (unsigned long long)a, (unsigned long long)b);
    goto out;
  }
  const h5tx_stat *pa = has_a ? &sa : NULL, *pb = has_b ? &sb : NULL;
  uint64_t la = pa ? pa->length : 0, lb = pb ? pb->length : 0;
  uint64_t lmin = la < lb ? la : lb, lmax = la < lb ? lb : la;
  /* Page by page only when both revisions cut the file the same way; a
   * file missing on one side, or re-created with another page size, differs
   * as a whole. */
  int paged = pa && pb && pa->page_size == pb->page_size;
  uint32_t ps = (pa ? pa : pb)->page_size;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, KV_PAGES, &c, err))) goto out;
  uint64_t npages = (lmax + ps - 1) / ps, run = UINT64_MAX;
  /* Runs are collected and handed out after the transaction ends. */
  for (uint64_t p = 0; p <= npages && rc == 0; p++) {
    int changed = 0;
    if (p < npages && !paged) {
      changed = 1;
    } else if (p < npages) {
      /* Bytes in [lmin, lmax) exist in one revision only. */
      changed = lmin != lmax && (p + 1) * ps > lmin;
      page_state x, y;
      if (!changed && ((rc = page_state_at(s, c, name, pa, p, a, &x, err)) ||
                       (rc = page_state_at(s, c, name, pb, p, b, &y, err))))
        break;
      /* One stored version read by both is the same; else by content. */
      if (!changed)
        changed = x.zero != y.zero ||
                  (!x.zero && !(pa->file_id == pb->file_id && x.version == y.version) &&
                   x.content != y.content);
    }
    if (changed && run == UINT64_MAX) run = p;
    if (!changed && run != UINT64_MAX) {
      uint64_t off = run * ps, end = p * ps < lmax ? p * ps : lmax;
      if (h5tx__grow(&runs, &cap, nruns, sizeof *runs, 64)) {
        rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
        break;
      }
      runs[nruns++] = (diff_run){run, p - run, off, end - off};
      run = UINT64_MAX;
    }
  }
  h5tx__kv_cursor_close(c);
out:
  h5tx__kv_done(t);
  for (size_t i = 0; i < nruns && rc == 0; i++)
    rc = fn(arg, runs[i].first, runs[i].count, runs[i].offset, runs[i].length);
  free(runs);
  return rc;
}

/* ---- verify
 * -------------------------------------------------------------------------------------- */

typedef struct verify_arg {
  h5tx_store *s;
  file_table files;
  h5tx_rev head;
  uint8_t *buf;
  uint32_t buf_size;
  h5tx_verify_result *out;
  h5tx_progress_fn progress;
  void *parg;
  uint64_t total;
  h5tx_rev now; /* the newest head seen (va.head: the pinned one) */
} verify_arg;

/* Records of revisions after the pinned head were added by commits that
 * landed during the scan: not judged. A record newer than head as it is
 * now is damage (a commit's records and head move together): 0 then, so
 * the caller reports it. */
static int after_pin(verify_arg *va, h5tx_rev rev) {
  if (rev <= va->head) return 0;
  if (rev > va->now) {
    h5tx_rev h;
    if (h5tx_store_head(va->s, &h, NULL) == 0 && h > va->now) va->now = h;
  }
  return rev <= va->now;
}

static int verify_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  verify_arg *va = arg;
  if (k->n == H5TX_PAGE_KEY && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->page_versions++;
  va->out->bytes += v->n;
  if (va->progress && va->out->page_versions % 256 == 0)
    va->progress(va->parg, va->out->page_versions, va->total);
  if (k->n != H5TX_PAGE_KEY) {
    report(&va->files, &va->out->problems, "store %s: pages: key of %zu bytes, not 24", va->s->path,
           k->n);
    return 0;
  }
  const uint8_t *kp = k->p;
  uint64_t fid = h5tx__get_be64(kp), page = h5tx__get_be64(kp + 8);
  h5tx_rev rev = h5tx__key_rev(k);
  const file_info *fi = file_find(&va->files, fid);
  if (!fi) {
    report(&va->files, &va->out->problems,
           "store %s: page %llu revision %llu belongs to file id %llu, which has no file record",
           va->s->path, (unsigned long long)page, (unsigned long long)rev, (unsigned long long)fid);
    return 0;
  }
  const char *name = fi->name;
  if (rev > va->head)
    report(&va->files, &va->out->problems,
           "store %s: file '%s' page %llu revision %llu: newer than head %llu", va->s->path, name,
           (unsigned long long)page, (unsigned long long)rev, (unsigned long long)va->now);
  h5tx__page_rec r;
  const char *why = NULL;
  if (h5tx__page_parse(k, v, &r, &why) != 0 ||
      (r.raw_len == fi->page_size && h5tx__page_decode(&r, va->buf, fi->page_size, &why) != 0) ||
      (r.raw_len != fi->page_size && (why = "record length differs from the file's page size"))) {
    report(&va->files, &va->out->problems, "store %s: file '%s' page %llu revision %llu: %s",
           va->s->path, name, (unsigned long long)page, (unsigned long long)rev, why);
  }
  (void)err;
  return 0;
}

static int verify_name(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  if (k->n >= 10 && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->records++;
  if (k->n < 10 || ((const uint8_t *)k->p)[k->n - 9] != 0 || v->n != 8) {
    report(&va->files, &va->out->problems, "store %s: names: malformed entry", va->s->path);
    return 0;
  }
  uint64_t fid = h5tx__get_le64(v->p);
  h5tx_rev rev = h5tx__key_rev(k);
  if ((fid && !file_find(&va->files, fid)) || rev > va->head)
    report(&va->files, &va->out->problems,
           "store %s: names: '%.*s' at revision %llu names file id %llu%s", va->s->path,
           (int)(k->n - 9), (const char *)k->p, (unsigned long long)rev, (unsigned long long)fid,
           rev > va->head ? ", newer than head" : ", which has no file record");
  return 0;
}

static int verify_length(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  if (k->n == H5TX_LEN_KEY && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->records++;
  if (k->n != H5TX_LEN_KEY || v->n != 8) {
    report(&va->files, &va->out->problems, "store %s: lengths: malformed entry", va->s->path);
    return 0;
  }
  uint64_t fid = h5tx__get_be64(k->p);
  h5tx_rev rev = h5tx__key_rev(k);
  if (!file_find(&va->files, fid) || rev > va->head)
    report(&va->files, &va->out->problems, "store %s: lengths: file id %llu at revision %llu%s",
           va->s->path, (unsigned long long)fid, (unsigned long long)rev,
           rev > va->head ? " is newer than head" : " has no file record");
  return 0;
}

typedef struct commit_check {
  verify_arg *va;
  h5tx_rev expect;
} commit_check;

static int verify_commit(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  commit_check *cc = arg;
  verify_arg *va = cc->va;
  h5tx__commit_rec c;
  h5tx_rev rev = k->n == 8 ? h5tx__get_be64(k->p) : 0;
  if (after_pin(va, rev)) return 0;
  va->out->records++;
  if (k->n != 8 || h5tx__commit_parse(v, &c) != 0) {
    report(&va->files, &va->out->problems, "store %s: commit record %llu malformed", va->s->path,
           (unsigned long long)rev);
    cc->expect = rev + 1;
    return 0;
  }
  if (rev != cc->expect)
    report(&va->files, &va->out->problems, "store %s: commit records %llu..%llu missing",
           va->s->path, (unsigned long long)cc->expect, (unsigned long long)rev - 1);
  if (c.parent != rev - 1 || rev > va->head)
    report(&va->files, &va->out->problems, "store %s: commit %llu: parent %llu%s", va->s->path,
           (unsigned long long)rev, (unsigned long long)c.parent,
           rev > va->head ? ", newer than head" : ", not rev - 1");
  for (uint32_t i = 0; i < c.nfiles; i++) {
    uint64_t fid = h5tx__get_le64(c.fids + 8 * i);
    if (!file_find(&va->files, fid))
      report(&va->files, &va->out->problems, "store %s: commit %llu: file id %llu unknown",
             va->s->path, (unsigned long long)rev, (unsigned long long)fid);
  }
  cc->expect = rev + 1;
  return 0;
}

static int verify_tag(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  h5tx_rev rev = v->n == 8 ? h5tx__get_le64(v->p) : 0;
  if (after_pin(va, rev)) return 0; /* a tag set during the scan */
  va->out->records++;
  if (v->n != 8 || rev > va->head)
    report(&va->files, &va->out->problems, "store %s: tag '%.*s' names revision %llu%s",
           va->s->path, (int)k->n, (const char *)k->p, (unsigned long long)rev,
           v->n != 8 ? " (malformed)" : ", newer than head");
  return 0;
}

int h5tx_verify(h5tx_store *s, h5tx_problem_fn problem, h5tx_progress_fn progress, void *arg,
                h5tx_verify_result *out, h5tx_error *err) {
  h5tx_verify_result dummy;
  if (!out) out = &dummy;
  memset(out, 0, sizeof *out);
  verify_arg va = {.s = s, .out = out, .progress = progress, .parg = arg};
  va.files.problem = problem;
  va.files.arg = arg;
  va.files.store = s->path;
  /* One revision, pinned so that gc keeps it while the scan runs; the
   * files table is read after the pin, so it knows every file of it. */
  h5tx_snap *pin = NULL;
  int rc = h5tx_snap_open(s, H5TX_HEAD, &pin, err);
  if (rc) return rc;
  va.head = va.now = h5tx_snap_rev(pin);
  rc = scan(s, KV_FILES, load_file, &va.files, err);
  if (rc) goto out;
  for (int i = 0; i < va.files.bad; i++)
    report(&va.files, &out->problems, "store %s: files: malformed file record", s->path);
  uint32_t maxps = H5TX_MIN_PAGE_SIZE;
  for (size_t i = 0; i < va.files.n; i++)
    if (va.files.v[i].page_size > maxps) maxps = va.files.v[i].page_size;
  if (!(va.buf = malloc(maxps))) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto out;
  }
  va.buf_size = maxps;
  if ((rc = count_entries(s, KV_PAGES, &va.total, err))) goto out;
  if ((rc = scan(s, KV_PAGES, verify_page, &va, err))) goto out;
  if (progress) progress(arg, out->page_versions, va.total);
  if ((rc = scan(s, KV_NAMES, verify_name, &va, err))) goto out;
  if ((rc = scan(s, KV_LENGTHS, verify_length, &va, err))) goto out;
  commit_check cc = {&va, 1};
  if ((rc = scan(s, KV_COMMITS, verify_commit, &cc, err))) goto out;
  if (cc.expect != va.head + 1)
    report(&va.files, &out->problems, "store %s: head is %llu but commits end at %llu", s->path,
           (unsigned long long)va.head, (unsigned long long)cc.expect - 1);
  rc = scan(s, KV_TAGS, verify_tag, &va, err);
out:
  h5tx_snap_close(pin);
  free(va.buf);
  files_free(&va.files);
  return rc;
}

/* ---- usage of the whole store --------------------------------------------------------------- */

static int count_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)k;
  (void)err;
  h5tx_usage *u = arg;
  u->page_versions++;
  u->page_bytes += v->n;
  return 0;
}

int h5tx_store_usage(h5tx_store *s, h5tx_usage *out, h5tx_error *err) {
  memset(out, 0, sizeof *out);
  int rc = scan(s, KV_PAGES, count_page, out, err);
  if (rc == 0) rc = h5tx__kv_space(s->kv, &out->db_bytes, &out->file_bytes, err);
  return rc;
}

/* ---- statistics, leases, readers ---------------------------------------------------------------
 */

typedef struct stats_arg {
  h5tx_stats *st;
  file_table files;
} stats_arg;

static int stats_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)k;
  (void)err;
  h5tx_stats *st = ((stats_arg *)arg)->st;
  st->page_versions++;
  st->stored_bytes += v->n;
  const uint8_t *d = v->p;
  if (v->n >= H5TX_PAGE_HDR && d[1] == H5TX_ENC_ZSTD) {
    st->zstd_bytes += v->n - H5TX_PAGE_HDR;
    st->zstd_raw_bytes += h5tx__get_le32(d + 4);
  }
  return 0;
}

static int stats_commit(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)k;
  (void)err;
  stats_arg *sa = arg;
  h5tx__commit_rec c;
  if (h5tx__commit_parse(v, &c) != 0) return 0;
  sa->st->revisions++;
  if (c.flags & (H5TX_COMMIT_COLLECTED | H5TX_COMMIT_COLLECTING)) sa->st->collected++;
  if (c.nfiles == 1) {
    const file_info *fi = file_find(&sa->files, h5tx__get_le64(c.fids));
    if (fi) sa->st->written_bytes += c.pages_added * fi->page_size;
  }
  return 0;
}

static int stats_tag(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)k;
  (void)v;
  (void)err;
  ((stats_arg *)arg)->st->tags++;
  return 0;
}

static int stats_file(void *arg, const char *name, const h5tx_stat *st) {
  (void)name;
  h5tx_stats *s = arg;
  s->files++;
  s->logical_bytes += st->length;
  return 0;
}

static int count_lease(void *arg, const h5tx_lease *l) {
  if (l->alive) ++*(uint32_t *)arg;
  return 0;
}

static void count_reader(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since) {
  (void)pid;
  (void)rev;
  (void)since;
  ++*(uint32_t *)arg;
}

int h5tx_store_stats(h5tx_store *s, h5tx_stats *out, h5tx_error *err) {
  memset(out, 0, sizeof *out);
  stats_arg sa = {.st = out};
  int rc = scan(s, KV_FILES, load_file, &sa.files, err);
  if (rc == 0) rc = scan(s, KV_PAGES, stats_page, &sa, err);
  if (rc == 0) rc = scan(s, KV_COMMITS, stats_commit, &sa, err);
  if (rc == 0) rc = scan(s, KV_TAGS, stats_tag, &sa, err);
  h5tx_snap *snap = NULL;
  if (rc == 0) rc = h5tx_snap_open(s, H5TX_HEAD, &snap, err);
  if (rc == 0) {
    out->head = h5tx_snap_rev(snap);
    rc = h5tx_snap_list(snap, NULL, stats_file, out, err);
    h5tx_snap_close(snap); /* not counted below: closed first */
  }
  if (rc == 0) rc = h5tx__kv_space(s->kv, &out->db_bytes, &out->file_bytes, err);
  if (rc == 0) rc = h5tx_leases(s, count_lease, &out->leases, err);
  if (rc == 0 && s->pins) h5tx__pins_scan(s->pins, count_reader, &out->readers);
  files_free(&sa.files);
  return rc;
}

typedef struct reader_arg {
  h5tx_reader_fn fn;
  void *arg;
  int rc;
} reader_arg;

static void each_reader(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since) {
  reader_arg *ra = arg;
  if (ra->rc == 0) ra->rc = ra->fn(ra->arg, pid, rev, since);
}

int h5tx_readers(h5tx_store *s, h5tx_reader_fn fn, void *arg, h5tx_error *err) {
  (void)err;
  if (!s->pins) return 0;
  reader_arg ra = {fn, arg, 0};
  h5tx__pins_scan(s->pins, each_reader, &ra);
  return ra.rc;
}
