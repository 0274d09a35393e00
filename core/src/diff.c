/* diff.c - which pages of a file differ between two revisions: by the
 * places and content hashes of the versions they read, never by bytes. */
#include "admin.h"

#include <stdlib.h>

/* ---- diff ------------------------------------------------------------------------------ */

/* What a page holds at one revision: the place of the version it reads
 * (through the file's origins) and its content hash, or zeros. */
typedef struct page_state {
  int zero;
  uint64_t seg, off, content;
} page_state;

static int page_state_at(h5tx_store *s, h5tx__cur *c, const char *name, const h5tx_stat *st,
                         const page_chain *ch, uint64_t page, h5tx_rev rev, page_state *ps,
                         h5tx_error *err) {
  *ps = (page_state){1, 0, 0, 0};
  if (!st || page * st->page_size >= st->length) return 0;
  h5tx__place p;
  h5tx_error e = {0, ""};
  int rc = h5tx__chain_find(c, ch, page, &p, NULL, NULL, &e);
  if (rc == H5TX_ENOENT) return 0;
  if (rc)
    return h5tx__err(err, rc, "store %s: file '%s' page %llu revision %llu: %s", s->path, name,
                     (unsigned long long)page, (unsigned long long)rev, e.msg);
  if (p.enc == PLOG_ENC_ZERO) return 0;
  *ps = (page_state){0, p.seg, p.off, p.content};
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
  int ra = h5tx__stat(s, t, name, a, &sa, &ignore), rb = h5tx__stat(s, t, name, b, &sb, &ignore);
  if (ra == H5TX_EGONE || rb == H5TX_EGONE) { /* gc --file dropped that revision of it */
    if (err) *err = ignore;
    rc = H5TX_EGONE;
    goto out;
  }
  int has_a = ra == 0, has_b = rb == 0;
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
  page_chain ca = {0}, cb = {0};
  if (paged && ((rc = h5tx__chain_load(s, t, pa->file_id, a, &ca, err)) ||
                (rc = h5tx__chain_load(s, t, pb->file_id, b, &cb, err))))
    goto out;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err))) goto out;
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
      if (!changed && ((rc = page_state_at(s, c, name, pa, &ca, p, a, &x, err)) ||
                       (rc = page_state_at(s, c, name, pb, &cb, p, b, &y, err))))
        break;
      /* One payload read by both is the same; else by content hash. */
      if (!changed)
        changed = x.zero != y.zero ||
                  (!x.zero && !(x.seg == y.seg && x.off == y.off) && x.content != y.content);
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
