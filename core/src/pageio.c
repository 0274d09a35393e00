/* pageio.c - page access shared by snapshots and writers (store.h): find
 * the newest version of a page at or below a revision, load it from the
 * page log with its check verified (one page, or runs of raw pages), clamp
 * a read to a file's length, look a file up at a revision. */
#include "store.h"

#include "pages2.h"

#include <stdio.h>
#include <stdlib.h>

int h5tx__page_find(h5tx_store *s, h5tx__cur *c, const char *name, uint64_t fid, uint64_t page,
                    h5tx_rev rev, h5tx__place *p, h5tx_rev *at, h5tx_error *err) {
  int rc = h5tx__page2_find(c, fid, page, rev, p, at, err);
  if (rc == H5TX_ECORRUPT && err) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, rc, "store %s: file '%s': %s", s->path, name, why);
  }
  return rc;
}

int h5tx__page_fail(h5tx_store *s, const char *name, uint64_t page, h5tx_rev at, int rc,
                    h5tx_error *err) {
  if (rc == H5TX_ENOENT) /* the segment is gone */
    return h5tx__err(err, H5TX_ECORRUPT,
                     "store %s: file '%s' page %llu revision %llu: its page log segment is gone",
                     s->path, name, (unsigned long long)page, (unsigned long long)at);
  if (err && (rc == H5TX_ECORRUPT || rc == H5TX_EFORMAT)) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, rc, "store %s: file '%s' page %llu revision %llu: %s", s->path, name,
              (unsigned long long)page, (unsigned long long)at, why);
  }
  return rc;
}

int h5tx__page_get(h5tx_store *s, const char *name, const h5tx__place *p, uint64_t page,
                   h5tx_rev at, uint8_t *dst, uint32_t ps, uint8_t *zbuf, int first,
                   h5tx_error *err) {
  int rc = h5tx__page2_load(s->log, p, dst, ps, zbuf, err);
  if (rc == H5TX_ENOENT && first) return H5TX__SEG_GONE;
  return rc ? h5tx__page_fail(s, name, page, at, rc, err) : 0;
}

int h5tx__read_clamp(const char *store, const char *name, uint64_t off, size_t *len, void *buf,
                     uint64_t length, h5tx_error *err) {
  if (off + *len < off)
    return h5tx__err(err, H5TX_ERANGE, "store %s: file '%s': read at %llu + %zu overflows", store,
                     name, (unsigned long long)off, *len);
  if (off >= length) {
    memset(buf, 0, *len);
    *len = 0;
  } else if (off + *len > length) {
    size_t inside = (size_t)(length - off);
    memset((uint8_t *)buf + inside, 0, *len - inside);
    *len = inside;
  }
  return 0;
}

int h5tx__stat(h5tx_store *s, h5tx__txn *t, const char *name, h5tx_rev rev, h5tx_stat *st,
               h5tx_error *err) {
  uint64_t fid = 0;
  int rc = h5tx__name_lookup(t, name, rev, &fid, NULL, err);
  if (rc == H5TX_ENOENT || (rc == 0 && fid == 0))
    return h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at revision %llu", s->path, name,
                     (unsigned long long)rev);
  if (rc) return rc;
  uint8_t fk[8];
  h5tx__be64(fk, fid);
  h5tx__val v;
  h5tx__file2 fr;
  rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err);
  if (rc == H5TX_ENOENT || (rc == 0 && h5tx__file2_parse(v.p, v.n, &fr) != 0))
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' (id %llu) has no valid file record",
                     s->path, name, (unsigned long long)fid);
  if (rc) return rc;
  if (fr.cut && rev < fr.cut)
    return h5tx__err(err, H5TX_EGONE,
                     "store %s: file '%s' at revision %llu: its history before revision %llu was "
                     "dropped (gc --file)",
                     s->path, name, (unsigned long long)rev, (unsigned long long)fr.cut);
  rc = h5tx__length_lookup(t, fid, rev, &st->length, &st->changed, err);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' has no length at revision %llu",
                     s->path, name, (unsigned long long)rev);
  if (rc) return rc;
  st->file_id = fid;
  st->page_size = fr.page_size;
  st->created = fr.created;
  return 0;
}

int h5tx__run_flush(h5tx_store *s, const char *name, h5tx__run *r, int first, h5tx_error *err) {
  if (r->n == 0) return 0;
  int rc = h5tx__plog_read_run(s->log, r->p, r->n, r->dst, err);
  if (rc == H5TX_ENOENT && first) {
    r->n = 0;
    return H5TX__SEG_GONE;
  }
  if (rc) {
    /* Which page: read them one by one for the message. */
    for (size_t i = 0; i < r->n; i++) {
      h5tx_error e1 = {0};
      int r1 = h5tx__plog_read(s->log, &r->p[i], r->dst[i], &e1);
      if (r1) {
        if (err) *err = e1;
        rc = h5tx__page_fail(s, name, r->page[i], r->at[i], r1, err);
        break;
      }
    }
  }
  r->n = 0;
  return rc;
}

int h5tx__run_add(h5tx_store *s, const char *name, h5tx__run *r, const h5tx__place *p, void *dst,
                  uint64_t page, h5tx_rev at, int first, h5tx_error *err) {
  int rc = r->n == H5TX__RUN_MAX ? h5tx__run_flush(s, name, r, first, err) : 0;
  if (rc) return rc;
  r->p[r->n] = *p;
  r->dst[r->n] = dst;
  r->page[r->n] = page;
  r->at[r->n++] = at;
  return 0;
}
