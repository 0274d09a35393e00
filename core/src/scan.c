/* scan.c - scans of an index table in batches of short read transactions,
 * and the table of file records, for the inspection files (admin.h). */
#include "admin.h"

#include "pages2.h"

#include <stdarg.h>
#include <stdio.h>
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

static void file_bad(file_table *ft, const char *fmt, ...) H5TX_PRINTF(2, 3);
static void file_bad(file_table *ft, const char *fmt, ...) {
  ft->bad++;
  if (!ft->on_bad) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ft->on_bad(ft->arg, msg);
}

int h5tx__load_file(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  file_table *ft = arg;
  h5tx__val val = *v;
  h5tx_error e = {0, ""};
  if (h5tx__idx_value(IDX_FILES, k, &val, &e) != 0) {
    file_bad(ft, "store %s: %s", ft->store, e.msg);
    return 0;
  }
  h5tx__file2 fr;
  if (k->n != 8 || h5tx__file2_parse(val.p, val.n, &fr) != 0) {
    file_bad(ft, "store %s: index table files: file id %llu: malformed file record", ft->store,
             k->n == 8 ? (unsigned long long)h5tx__get_be64(k->p) : 0ull);
    return 0;
  }
  if (h5tx__grow(&ft->v, &ft->cap, ft->n, sizeof *ft->v, 64))
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  file_info *fi = &ft->v[ft->n];
  fi->id = h5tx__get_be64(k->p);
  fi->page_size = fr.page_size;
  fi->created = fr.created;
  fi->origin_fid = fr.origin_fid;
  fi->origin_rev = fr.origin_rev;
  fi->name = strndup(fr.name, fr.name_len);
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

/* ---- pages read through origins ------------------------------------------- */

int h5tx__chain_load(h5tx_store *s, h5tx__txn *t, uint64_t fid, h5tx_rev rev, page_chain *ch,
                     h5tx_error *err) {
  ch->n = 0;
  while (fid) {
    if (ch->n == H5TX_ORIGIN_MAX + 1)
      return h5tx__err(err, H5TX_ECORRUPT,
                       "store %s: file id %llu: a chain of more than %d origins", s->path,
                       (unsigned long long)ch->fid[0], H5TX_ORIGIN_MAX);
    ch->fid[ch->n] = fid;
    ch->rev[ch->n] = rev;
    ch->n++;
    uint8_t fk[8];
    h5tx__be64(fk, fid);
    h5tx__val v;
    h5tx__file2 fr;
    int rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err);
    if (rc == H5TX_ENOENT || (rc == 0 && h5tx__file2_parse(v.p, v.n, &fr) != 0))
      return h5tx__err(err, H5TX_ECORRUPT, "store %s: file id %llu has no valid file record",
                       s->path, (unsigned long long)fid);
    if (rc) return rc;
    fid = fr.origin_fid;
    rev = fr.origin_rev;
  }
  return 0;
}

int h5tx__chain_find(h5tx__cur *c, const page_chain *ch, uint64_t page, h5tx__place *p,
                     h5tx_rev *at, size_t *link, h5tx_error *err) {
  for (size_t i = 0; i < ch->n; i++) {
    int rc = h5tx__page2_find(c, ch->fid[i], page, ch->rev[i], p, at, err);
    if (rc == H5TX_ENOENT) continue;
    if (rc == 0 && link) *link = i;
    return rc;
  }
  return H5TX_ENOENT;
}
