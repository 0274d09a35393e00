/* usage.c - what a file holds at a snapshot (the places of the page
 * versions it reads), what the store holds (page versions, the payloads
 * they point at) and what it takes on disk (index files, log segments). */
#include "admin.h"
#include "dedupe.h"

#include "pages2.h"

#include <stdlib.h>

/* ---- usage of one file at a snapshot ---------------------------------------------------- */

static void count_place(h5tx_file_usage *u, const h5tx__place *p) {
  u->pages++;
  u->stored_bytes += p->stored;
  if (p->enc == PLOG_ENC_ZSTD) u->zstd_pages++;
  if (p->enc == PLOG_ENC_LZ4) u->lz4_pages++;
  if (p->enc == PLOG_ENC_RAW) u->raw_pages++;
  if (p->enc == PLOG_ENC_ZERO) u->zero_pages++;
}

/* The newest version <= rev of page `page` of the chain's only file, or the
 * next page that has stored versions at all: a file with no origin is
 * walked one seek per stored page, so a hole costs nothing. 0 with *pl
 * (*next = page), 1 with *next the next stored page (none: UINT64_MAX). */
static int own_page(h5tx__cur *c, const page_chain *ch, uint64_t page, h5tx__place *pl,
                    uint64_t *next, h5tx_error *err) {
  uint8_t key[H5TX_PAGE_KEY];
  h5tx__page_key(key, ch->fid[0], page, ch->rev[0]);
  h5tx__val k, v;
  *next = UINT64_MAX;
  int rc = h5tx__kv_seek(c, key, sizeof key, &k, &v, err);
  if (rc == H5TX_ENOENT) return 1;
  if (rc) return rc;
  if (k.n != H5TX_PAGE_KEY || h5tx__get_be64(k.p) != ch->fid[0]) return 1;
  uint64_t kp = h5tx__get_be64((const uint8_t *)k.p + 8);
  if (kp != page) { /* nothing <= rev for this page */
    *next = kp;
    return 1;
  }
  *next = page;
  const char *why = NULL;
  if ((rc = h5tx__idx_value(IDX_PAGES, &k, &v, err))) return rc;
  if (h5tx__place_parse(v.p, v.n, pl, &why) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "index table pages: page %llu revision %llu: %s",
                     (unsigned long long)page, (unsigned long long)h5tx__key_rev(&k), why);
  return 0;
}

static int file_usage(h5tx__cur *c, const page_chain *ch, uint64_t npages, h5tx_file_usage *u,
                      h5tx_error *err) {
  for (uint64_t p = 0; p < npages;) {
    h5tx__place pl;
    int rc;
    if (ch->n == 1) {
      uint64_t next;
      if ((rc = own_page(c, ch, p, &pl, &next, err)) < 0) return rc;
      if (rc == 1) {
        p = next > p ? next : p + 1;
        continue;
      }
    } else if ((rc = h5tx__chain_find(c, ch, p, &pl, NULL, NULL, err)) == H5TX_ENOENT) {
      p++;
      continue;
    } else if (rc) {
      return rc;
    }
    count_place(u, &pl);
    p++;
  }
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
  page_chain ch;
  h5tx__cur *c = NULL;
  h5tx_error e = {0, ""};
  if ((rc = h5tx__chain_load(s, t, st.file_id, h5tx_snap_rev(snap), &ch, err)) == 0 &&
      (rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err)) == 0) {
    uint64_t npages = st.length / st.page_size + (st.length % st.page_size != 0);
    if ((rc = file_usage(c, &ch, npages, out, &e)))
      h5tx__err(err, rc, "store %s: file '%s' at revision %llu: %s", s->path, name,
                (unsigned long long)h5tx_snap_rev(snap), e.msg);
    h5tx__kv_cursor_close(c);
  }
  h5tx__kv_done(t);
  return rc;
}

/* ---- usage of the whole store --------------------------------------------------------------- */

static int count_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  h5tx_usage *u = arg;
  h5tx__val pv = *v;
  h5tx__place p;
  const char *why;
  u->page_versions++;
  if (h5tx__idx_value(IDX_PAGES, k, &pv, NULL) == 0 && h5tx__place_parse(pv.p, pv.n, &p, &why) == 0)
    u->page_bytes += p.stored;
  return 0;
}

static int count_live(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  h5tx__val pv = *v;
  h5tx__place p;
  uint64_t refs;
  const char *why;
  if (h5tx__idx_value(IDX_DEDUPE, k, &pv, NULL) == 0 &&
      h5tx__dedupe_parse(k, &pv, &p, &refs, &why) == 0)
    *(uint64_t *)arg += p.stored;
  return 0;
}

int h5tx__live_bytes(h5tx_store *s, uint64_t *live, h5tx_error *err) {
  *live = 0;
  return h5tx__scan(s, IDX_DEDUPE, count_live, live, err);
}

int h5tx__space(h5tx_store *s, uint64_t *index_bytes, uint64_t *log_bytes, uint64_t *segments,
                h5tx_error *err) {
  uint64_t used;
  *log_bytes = *segments = 0;
  int rc = h5tx__kv_space(s->kv, &used, index_bytes, err);
  if (rc) return rc;
  uint64_t *segs;
  size_t n;
  if ((rc = h5tx__plog_segments(s->log, &segs, &n, err))) return rc;
  for (size_t i = 0; i < n && rc == 0; i++) {
    uint64_t b;
    rc = h5tx__plog_size(s->log, segs[i], &b, err);
    if (rc == H5TX_ENOENT) { /* deleted (compaction) since it was listed */
      rc = 0;
      continue;
    }
    if (rc == 0) {
      *log_bytes += b;
      ++*segments;
    }
  }
  free(segs);
  return rc;
}

int h5tx_store_usage(h5tx_store *s, h5tx_usage *out, h5tx_error *err) {
  memset(out, 0, sizeof *out);
  int rc = h5tx__scan(s, IDX_PAGES, count_page, out, err);
  if (rc == 0) rc = h5tx__live_bytes(s, &out->live_bytes, err);
  if (rc == 0) rc = h5tx__space(s, &out->index_bytes, &out->log_bytes, &out->segments, err);
  return rc;
}
