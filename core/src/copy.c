/* copy.c - commits that make a file's content another's without storing
 * payload (docs/DECISIONS.md, "Copy and restore"): h5tx_copy gives a name
 * a new file whose pages share the stored records of a file at a revision;
 * h5tx_restore makes a file's old revision its head again, changing only
 * the pages that differ. Both are REF operations (and tombstones for pages
 * that must read as zeros) in one commit. */
#include "store.h"

#include "apply2.h"
#include "pages2.h"

#include <stdlib.h>

typedef struct copy_arg {
  h5tx_store *s;
  const char *src, *dst, *msg;
  h5tx_rev rev; /* of src; H5TX_HEAD: head */
  h5tx__logged lg;
  uint64_t wid;      /* of the tombstones this commit appends */
  h5tx__place *tomb; /* their places */
  size_t ntomb, nref;
  h5tx_rev out;
} copy_arg;

static int oom(h5tx_error *err) { return h5tx__err(err, H5TX_ENOMEM, "out of memory"); }

static int tomb_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n, h5tx_error *err) {
  (void)err;
  copy_arg *a = arg;
  *pl = wid == a->wid ? a->tomb : NULL;
  *n = wid == a->wid ? a->ntomb : 0;
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
  /* the tombstones: records of no payload, appended as a writer's are */
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
  if (rc == 0 && a->ntomb) {
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
  a->ntomb = a->nref = 0;
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
    rc = h5tx__log_commit(s, t, &b, a->ntomb ? a->wid : 0, tomb_pages, a,
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
