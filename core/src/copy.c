/* copy.c - commits that make a file's content another's without storing
 * payload (docs/DECISIONS.md, "Dedupe, copy and restore"): h5tx_copy gives
 * a name a new file whose pages share the stored records of a file at a
 * revision; h5tx_restore makes a file's old revision its head again,
 * changing only the pages that differ; h5tx_revert undoes one commit's
 * changes of names and contents. All are REF operations (and tombstones
 * for pages that must read as zeros) in one commit. */
#include "store.h"

#include "apply2.h"
#include "pages2.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct copy_arg {
  h5tx_store *s;
  const char *src, *dst, *msg;
  h5tx_rev rev; /* of src; H5TX_HEAD: head */
  h5tx__logged lg;
  uint64_t wid;      /* of the tombstones diff_ops appends (one per file) */
  h5tx__place *tomb; /* their places */
  size_t ntomb, nref;
  /* each file's tombstones, for its PAGES operation (revert: several) */
  struct tombs {
    uint64_t wid;
    size_t from, n; /* tomb[from, from + n) */
  } * tw;
  size_t ntw;
  h5tx_rev out;
} copy_arg;

static int oom(h5tx_error *err) { return h5tx__err(err, H5TX_ENOMEM, "out of memory"); }

static int tomb_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n, h5tx_error *err) {
  (void)err;
  copy_arg *a = arg;
  *pl = NULL;
  *n = 0;
  for (size_t i = 0; i < a->ntw; i++)
    if (a->tw[i].wid == wid) {
      *pl = a->tomb + a->tw[i].from;
      *n = a->tw[i].n;
    }
  return 0;
}

/* The version of page `p` of `fid` at `rev`: *found 0 for none or zeros. */
static int version(h5tx__cur *c, uint64_t fid, uint64_t p, h5tx_rev rev, h5tx__place *pl,
                   int *found, h5tx_error *err) {
  int rc = h5tx__page2_find(c, fid, p, rev, pl, NULL, err);
  *found = rc == 0 && pl->enc != PLOG_ENC_ZERO;
  return rc == H5TX_ENOENT ? 0 : rc;
}

static int same_record(const h5tx__place *x, const h5tx__place *y) {
  return x->seg == y->seg && x->off == y->off && x->wid == y->wid && x->key == y->key &&
         x->check == y->check;
}

static uint64_t pages_of(uint64_t len, uint32_t ps) { return len / ps + (len % ps != 0); }

/* The operations that make file `to` (`to_len` long at `head`; 0 for a new
 * file) read as file `from` at `rev` (`from_len` long): a REF for every
 * page whose version differs, a tombstone (appended to the log here under
 * a->wid) for every page that must read as zeros and does not. */
static int diff_ops(copy_arg *a, h5tx__txn *t, h5tx__buf *b, uint64_t from, h5tx_rev rev,
                    uint64_t from_len, uint64_t to, h5tx_rev head, uint64_t to_len, uint64_t fid,
                    uint32_t ps, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err);
  if (rc) return rc;
  uint64_t nf = pages_of(from_len, ps), nt = to ? pages_of(to_len, ps) : 0;
  uint64_t n = nf > nt ? nf : nt;
  uint64_t *zero = NULL;
  size_t nz = 0, cz = 0;
  for (uint64_t p = 0; p < n && rc == 0; p++) {
    h5tx__place sp, tp;
    int sf = 0, tf = 0;
    if (p < nf) rc = version(c, from, p, rev, &sp, &sf, err);
    if (rc == 0 && p < nt) rc = version(c, to, p, head, &tp, &tf, err);
    if (rc || (!sf && !tf) || (sf && tf && same_record(&sp, &tp))) continue;
    if (sf) {
      h5tx__lop o = {.op = LOP_REF, .fid = fid, .a = p, .place = sp};
      if (h5tx__lcommit_add(b, &o)) rc = oom(err);
      a->nref++;
    } else if (h5tx__grow(&zero, &cz, nz, sizeof *zero, 64)) {
      rc = oom(err);
    } else {
      zero[nz++] = p;
    }
  }
  h5tx__kv_cursor_close(c);
  /* the tombstones: records of no payload, appended as a writer's are,
   * under a write id of this file's own */
  size_t first = a->ntomb;
  a->wid = 0;
  for (size_t i = 0; i < nz && rc == 0; i += 64) {
    h5tx__plog_rec r[64];
    size_t k = nz - i < 64 ? nz - i : 64;
    for (size_t j = 0; j < k; j++)
      r[j] =
          (h5tx__plog_rec){.kind = PLOG_PAGE, .enc = PLOG_ENC_ZERO, .key = zero[i + j], .raw = ps};
    h5tx__place *np = realloc(a->tomb, (a->ntomb + k) * sizeof *np);
    if (!np) {
      rc = oom(err);
      break;
    }
    a->tomb = np;
    if (!a->wid) a->wid = h5tx__plog_write_id();
    rc = h5tx__plog_append(a->s->log, a->wid, r, k, a->tomb + a->ntomb, err);
    if (rc == 0) a->ntomb += k;
  }
  free(zero);
  if (rc == 0 && a->ntomb > first) {
    struct tombs *grown = realloc(a->tw, (a->ntw + 1) * sizeof *grown);
    if (!grown) return oom(err);
    a->tw = grown;
    a->tw[a->ntw++] = (struct tombs){a->wid, first, a->ntomb - first};
    h5tx__lop o = {.op = LOP_PAGES, .fid = fid, .a = a->wid};
    if (h5tx__lcommit_add(b, &o)) rc = oom(err);
  }
  return rc;
}

static int copy_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  copy_arg *a = arg;
  h5tx_store *s = a->s;
  /* a replay of the transaction starts over (its tombstones are left
   * behind in the log, as an aborted writer's are) */
  a->wid = 0;
  a->ntomb = a->nref = a->ntw = 0;
  int rc = h5tx__lease_check(s, a->dst, err);
  if (rc) return rc;
  h5tx_rev head, rev = a->rev;
  if ((rc = h5tx__rev_check(s, t, rev, &head, err))) return rc;
  if (rev == H5TX_HEAD) rev = head;
  h5tx_stat from;
  if ((rc = h5tx__stat(s, t, a->src, rev, &from, err))) return rc;
  uint64_t to = 0, to_len = 0;
  rc = h5tx__name_lookup(t, a->dst, head, &to, NULL, err);
  if (rc && rc != H5TX_ENOENT) return rc;
  if (to && (rc = h5tx__length_lookup(t, to, head, &to_len, NULL, err))) return rc;
  h5tx__lcommit c;
  h5tx__buf b = {0};
  h5tx__commit_head(&c, head + 1, head, a->msg);
  int bad = h5tx__lcommit_begin(&b, &c);
  uint64_t fid = to;
  if (to != from.file_id) {
    /* a new file under dst (replacing the one there, as rename does) */
    if ((rc = h5tx__name_clash(t, s->path, a->dst, NULL, head, H5TX_EEXIST, err)) ||
        (rc = h5tx__meta2_get(t, "next_file_id", &fid, err))) {
      h5tx__buf_free(&b);
      return rc;
    }
    size_t nl = strlen(a->dst);
    h5tx__lop fo = {
        .op = LOP_FILE, .fid = fid, .page_size = from.page_size, .name = a->dst, .name_len = nl};
    h5tx__lop no = {.op = LOP_NAME, .fid = fid, .name = a->dst, .name_len = nl};
    bad = bad || h5tx__lcommit_add(&b, &fo) || h5tx__lcommit_add(&b, &no);
    if (!bad && to) rc = h5tx__mark_changed(t, &b, to, head, err);
    to = 0;
    to_len = 0;
  }
  h5tx__lop lo = {.op = LOP_LENGTH, .fid = fid, .a = from.length};
  bad = bad || h5tx__lcommit_add(&b, &lo);
  if (bad && rc == 0) rc = oom(err);
  if (rc == 0)
    rc = diff_ops(a, t, &b, from.file_id, rev, from.length, to, head, to_len, fid, from.page_size,
                  err);
  if (rc == 0 && fid == from.file_id && !a->nref && !a->ntomb && to_len == from.length) {
    a->out = head; /* it reads so already: no revision */
  } else if (rc == 0) {
    rc = h5tx__log_commit(s, t, &b, a->ntw ? a->tw[0].wid : 0, tomb_pages, a,
                          s->durability == H5TX_SYNC, &a->lg, err);
    if (rc == 0) a->out = head + 1;
  }
  h5tx__buf_free(&b);
  return rc;
}

static int run(h5tx_store *s, const char *src, h5tx_rev rev, const char *dst, const char *message,
               h5tx_rev *new_rev, h5tx_error *err) {
  if (s->read_only)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot write '%s'", s->path,
                     dst);
  copy_arg a = {.s = s, .src = src, .dst = dst, .msg = message, .rev = rev};
  int rc = h5tx__kv_write(s->kv, copy_fn, &a, 0, err);
  if (rc) h5tx__log_void(s, &a.lg, s->durability == H5TX_SYNC);
  free(a.tomb);
  free(a.tw);
  if (rc == 0 && new_rev) *new_rev = a.out;
  return rc;
}

int h5tx_copy(h5tx_store *s, const char *from, h5tx_rev rev, const char *to, const char *message,
              h5tx_rev *new_rev, h5tx_error *err) {
  int rc = h5tx__check_name(from, err);
  if (rc == 0) rc = h5tx__check_new_name(to, err);
  if (rc) return rc;
  if (strcmp(from, to) == 0 && (rev == H5TX_HEAD || rev == 0))
    return h5tx__err(err, H5TX_EINVAL, "store %s: cannot copy '%s' onto itself", s->path, from);
  return run(s, from, rev, to, message, new_rev, err);
}

int h5tx_restore(h5tx_store *s, const char *name, h5tx_rev rev, const char *message,
                 h5tx_rev *new_rev, h5tx_error *err) {
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  if (rev == H5TX_HEAD || rev == 0)
    return h5tx__err(err, H5TX_EINVAL, "store %s: restore '%s': name the revision to restore",
                     s->path, name);
  return run(s, name, rev, name, message, new_rev, err);
}

/* ---- revert ---------------------------------------------------------------- */

/* A name whose entry revision R wrote: what it named before (at R's
 * parent) and at R. */
typedef struct touched {
  char *name;
  uint64_t before, after;
} touched;

typedef struct revert_arg {
  copy_arg c;
  h5tx_rev rev;
  touched *t;
  size_t nt, ct;
} revert_arg;

static void touched_free(revert_arg *r) {
  for (size_t i = 0; i < r->nt; i++)
    free(r->t[i].name);
  free(r->t);
  r->t = NULL;
  r->nt = r->ct = 0;
}

/* The names revision `rev` changed (a scan of `names`: it holds an entry
 * only where a name changed, so it is small beside `pages`). */
static int names_of(h5tx__txn *t, revert_arg *r, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_NAMES, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  int got = h5tx__kv_seek(c, "", 0, &k, &v, err);
  while (got == 0 && rc == 0) {
    h5tx__val vv = v;
    if ((rc = h5tx__idx_value(IDX_NAMES, &k, &vv, err))) break;
    if (k.n < 10 || vv.n != 8) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: index table names: a malformed entry",
                     r->c.s->path);
      break;
    }
    if (h5tx__key_rev(&k) == r->rev) {
      if (h5tx__grow(&r->t, &r->ct, r->nt, sizeof *r->t, 8) ||
          !(r->t[r->nt].name = strndup(k.p, k.n - 9))) {
        rc = oom(err);
        break;
      }
      r->t[r->nt].after = h5tx__get_le64(vv.p);
      r->t[r->nt++].before = 0;
    }
    got = h5tx__kv_next(c, &k, &v, err);
  }
  h5tx__kv_cursor_close(c);
  return rc ? rc : got == H5TX_ENOENT ? 0 : got;
}

/* Does file `fid` read the same at revisions `x` and `y` (same length,
 * the same record or zeros for every page)? */
static int same_content(h5tx__txn *t, uint64_t fid, h5tx_rev x, h5tx_rev y, int *same,
                        h5tx_error *err) {
  uint64_t lx, ly;
  uint8_t fk[8];
  h5tx__val v;
  h5tx__file2 fr;
  *same = 0;
  int rc = h5tx__length_lookup(t, fid, x, &lx, NULL, err);
  if (rc == 0) rc = h5tx__length_lookup(t, fid, y, &ly, NULL, err);
  if (rc || lx != ly) return rc == H5TX_ENOENT ? 0 : rc;
  h5tx__be64(fk, fid);
  if ((rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err))) return rc;
  if (h5tx__file2_parse(v.p, v.n, &fr) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "file id %llu: malformed file record",
                     (unsigned long long)fid);
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err))) return rc;
  int differ = 0;
  for (uint64_t p = 0, n = pages_of(lx, fr.page_size); p < n && rc == 0 && !differ; p++) {
    h5tx__place px, py;
    int fx, fy;
    rc = version(c, fid, p, x, &px, &fx, err);
    if (rc == 0) rc = version(c, fid, p, y, &py, &fy, err);
    differ = rc == 0 && (fx != fy || (fx && !same_record(&px, &py)));
  }
  h5tx__kv_cursor_close(c);
  *same = rc == 0 && !differ;
  return rc;
}

static int conflict(copy_arg *a, h5tx_rev rev, const char *what, const char *name, h5tx_rev by,
                    h5tx_error *err) {
  return h5tx__err(err, H5TX_ECONFLICT,
                   "store %s: cannot revert revision %llu: %s '%s' was changed again by revision "
                   "%llu; nothing was committed",
                   a->s->path, (unsigned long long)rev, what, name, (unsigned long long)by);
}

static int revert_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  revert_arg *r = arg;
  copy_arg *a = &r->c;
  h5tx_store *s = a->s;
  a->wid = 0;
  a->ntomb = a->nref = a->ntw = 0;
  touched_free(r);
  h5tx_rev head;
  int rc = h5tx__rev_check(s, t, r->rev, &head, err);
  if (rc) return rc;
  if (r->rev == 0 || r->rev == H5TX_HEAD)
    return h5tx__err(err, H5TX_EINVAL, "store %s: revert: name the revision to undo", s->path);
  uint8_t ck[8];
  h5tx__val v;
  h5tx__commit2 cr;
  h5tx__be64(ck, r->rev);
  if ((rc = h5tx__idx_get(t, IDX_COMMITS, ck, 8, &v, err))) return rc;
  if (h5tx__commit2_parse(v.p, v.n, &cr) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: revision %llu: malformed commit record",
                     s->path, (unsigned long long)r->rev);
  h5tx_rev parent = cr.parent, ph;
  if (parent && (rc = h5tx__rev_check(s, t, parent, &ph, err))) return rc;
  uint64_t nf = cr.nfiles, *fids = malloc((nf ? nf : 1) * 8);
  if (!fids) return oom(err);
  for (uint64_t i = 0; i < nf; i++)
    fids[i] = h5tx__get_le64(cr.fids + 8 * i);
  /* every name and file the revision changed, unchanged since */
  rc = names_of(t, r, err);
  for (size_t i = 0; i < r->nt && rc == 0; i++) {
    h5tx_rev at = 0;
    uint64_t now;
    rc = h5tx__name_lookup(t, r->t[i].name, head, &now, &at, err);
    if (rc == 0 && at != r->rev) rc = conflict(a, r->rev, "name", r->t[i].name, at, err);
    if (rc == 0 && parent) {
      rc = h5tx__name_lookup(t, r->t[i].name, parent, &r->t[i].before, NULL, err);
      if (rc == H5TX_ENOENT) rc = 0;
    }
  }
  for (uint64_t i = 0; i < nf && rc == 0; i++) {
    h5tx_rev at = 0;
    uint64_t len;
    rc = h5tx__length_lookup(t, fids[i], head, &len, &at, err);
    /* a later rename or removal writes a length entry too: only a change
     * of content is a conflict */
    int same = 0;
    if (rc == 0 && at != r->rev) rc = same_content(t, fids[i], r->rev, head, &same, err);
    if (rc == 0 && at != r->rev && !same) {
      /* named by its name as made (a rename changes its length entry too) */
      char id[600];
      uint8_t fk[8];
      h5tx__file2 fr;
      h5tx__be64(fk, fids[i]);
      if (h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err) == 0 && h5tx__file2_parse(v.p, v.n, &fr) == 0)
        snprintf(id, sizeof id, "%.*s", (int)(fr.name_len < 512 ? fr.name_len : 512), fr.name);
      else
        snprintf(id, sizeof id, "id %llu", (unsigned long long)fids[i]);
      rc = conflict(a, r->rev, "file", id, at, err);
    }
  }
  h5tx__lcommit c;
  h5tx__buf b = {0};
  h5tx__commit_head(&c, head + 1, head, a->msg);
  if (rc == 0 && h5tx__lcommit_begin(&b, &c)) rc = oom(err);
  /* names back as they were */
  for (size_t i = 0; i < r->nt && rc == 0; i++) {
    h5tx__lop o = {.op = LOP_NAME,
                   .fid = r->t[i].before,
                   .name = r->t[i].name,
                   .name_len = strlen(r->t[i].name)};
    if (h5tx__lcommit_add(&b, &o)) rc = oom(err);
  }
  /* contents back as they were, for files that existed before; a file the
   * revision made only loses its name (and writers of it conflict) */
  for (uint64_t i = 0; i < nf && rc == 0; i++) {
    uint64_t before = 0, now = 0;
    if (parent && (rc = h5tx__length_lookup(t, fids[i], parent, &before, NULL, err)) != 0) {
      if (rc != H5TX_ENOENT) break;
      rc = h5tx__mark_changed(t, &b, fids[i], head, err);
      continue;
    }
    if (!parent) {
      rc = h5tx__mark_changed(t, &b, fids[i], head, err);
      continue;
    }
    if ((rc = h5tx__length_lookup(t, fids[i], head, &now, NULL, err))) break;
    uint8_t fk[8];
    h5tx__file2 fr;
    h5tx__be64(fk, fids[i]);
    if ((rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err))) break;
    if (h5tx__file2_parse(v.p, v.n, &fr) != 0) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: file id %llu: malformed file record", s->path,
                     (unsigned long long)fids[i]);
      break;
    }
    h5tx__lop lo = {.op = LOP_LENGTH, .fid = fids[i], .a = before};
    if (h5tx__lcommit_add(&b, &lo)) {
      rc = oom(err);
      break;
    }
    rc =
        diff_ops(a, t, &b, fids[i], parent, before, fids[i], head, now, fids[i], fr.page_size, err);
  }
  if (rc == 0)
    rc = h5tx__log_commit(s, t, &b, a->ntw ? a->tw[0].wid : 0, tomb_pages, a,
                          s->durability == H5TX_SYNC, &a->lg, err);
  h5tx__buf_free(&b);
  free(fids);
  if (rc == 0) a->out = head + 1;
  return rc;
}

int h5tx_revert(h5tx_store *s, h5tx_rev rev, const char *message, h5tx_rev *rev_out,
                h5tx_error *err) {
  if (s->read_only)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot revert", s->path);
  revert_arg r = {.c = {.s = s, .msg = message}, .rev = rev};
  int rc = h5tx__kv_write(s->kv, revert_fn, &r, 0, err);
  if (rc) h5tx__log_void(s, &r.c.lg, s->durability == H5TX_SYNC);
  free(r.c.tomb);
  free(r.c.tw);
  touched_free(&r);
  if (rc == 0 && rev_out) *rev_out = r.c.out;
  return rc;
}
