/* diff.c - which pages of a file differ between two revisions. */
#include "admin.h"

#include <stdlib.h>

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
  h5tx__place p;
  h5tx_rev at = 0;
  int rc = h5tx__page_find(s, c, name, st->file_id, page, rev, &p, &at, err);
  if (rc == H5TX_ENOENT) return 0;
  if (rc) return rc;
  if (p.enc == PLOG_ENC_ZERO) return 0;
  ps->zero = 0;
  ps->version = at;
  ps->content = p.content;
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
