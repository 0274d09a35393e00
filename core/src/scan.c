/* scan.c - scans of a table in batches of short read transactions, and
 * the table of file records, for the inspection files (admin.h). */
#include "admin.h"

#include <stdlib.h>

#define BATCH 512

/* ---- batched scans ------------------------------------------------------- */

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
int h5tx__scan(h5tx_store *s, int table, scan_fn fn, void *arg, h5tx_error *err) {
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

int h5tx__count_entries(h5tx_store *s, int table, uint64_t *n, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  rc = h5tx__kv_count(t, table, n, err);
  h5tx__kv_done(t);
  return rc;
}

int h5tx__load_file(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
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
const file_info *h5tx__file_find(const file_table *ft, uint64_t id) {
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

void h5tx__files_free(file_table *ft) {
  for (size_t i = 0; i < ft->n; i++)
    free(ft->v[i].name);
  free(ft->v);
}
