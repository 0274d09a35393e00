/* usage.c - what a file holds at a snapshot, what the store holds. */
#include "admin.h"

#include <stdlib.h>

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
    if ((rc = h5tx__idx_value(IDX_PAGES, &k, &v, err)) || (rc = fn(arg, p, &k, &v, err))) return rc;
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
  h5tx__place p;
  const char *why;
  if (h5tx__place_parse(v->p, v->n, &p, &why) != 0) return 0;
  u->pages++;
  u->stored_bytes += p.stored;
  if (p.enc == PLOG_ENC_ZSTD) u->zstd_pages++;
  if (p.enc == PLOG_ENC_RAW) u->raw_pages++;
  if (p.enc == PLOG_ENC_ZERO) u->zero_pages++;
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
  if ((rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err)) == 0) {
    uint64_t npages = (st.length + st.page_size - 1) / st.page_size;
    rc = each_page(c, st.file_id, npages, h5tx_snap_rev(snap), usage_page, out, err);
    h5tx__kv_cursor_close(c);
  }
  h5tx__kv_done(t);
  return rc;
}

/* ---- usage of the whole store --------------------------------------------------------------- */

static int count_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)k;
  (void)err;
  h5tx_usage *u = arg;
  h5tx__place p;
  const char *why;
  h5tx__val vv = *v;
  if (h5tx__idx_value(IDX_PAGES, k, &vv, err) || h5tx__place_parse(vv.p, vv.n, &p, &why)) return 0;
  u->page_versions++;
  u->page_bytes += p.stored;
  return 0;
}

int h5tx_store_usage(h5tx_store *s, h5tx_usage *out, h5tx_error *err) {
  memset(out, 0, sizeof *out);
  int rc = h5tx__scan(s, IDX_PAGES, count_page, out, err);
  if (rc == 0) rc = h5tx__kv_space(s->kv, &out->db_bytes, &out->file_bytes, err);
  return rc;
}
