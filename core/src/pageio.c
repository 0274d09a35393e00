/* pageio.c - page access shared by snapshots and writers (store.h): find
 * the newest version of a page at or below a revision, verify and decode
 * it, clamp a read to a file's length, look a file up at a revision. */
#include "store.h"

#include <stdlib.h>

int h5tx__page_find(h5tx__cur *c, uint64_t fid, uint64_t page, h5tx_rev rev, h5tx__val *key,
                    h5tx__val *val, h5tx_error *err) {
  uint8_t k[H5TX_PAGE_KEY];
  h5tx__page_key(k, fid, page, rev);
  int rc = h5tx__kv_seek(c, k, sizeof k, key, val, err);
  if (rc) return rc;
  if (key->n != H5TX_PAGE_KEY || memcmp(key->p, k, 16) != 0) return H5TX_ENOENT;
  return 0;
}

int h5tx__page_check(h5tx_store *s, const char *name, const h5tx__val *key, const h5tx__val *val,
                     h5tx__page_rec *rec, h5tx_error *err) {
  const char *why = NULL;
  if (h5tx__page_parse(key, val, rec, &why) == 0) return 0;
  const uint8_t *k = key->p;
  return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' page %llu revision %llu: %s", s->path,
                   name, (unsigned long long)h5tx__get_be64(k + 8),
                   (unsigned long long)h5tx__key_rev(key), why);
}

int h5tx__page_load(h5tx_store *s, h5tx__cur *c, const char *name, uint64_t fid, uint64_t page,
                    h5tx_rev rev, uint32_t ps, uint8_t *dst, h5tx_error *err) {
  h5tx__val k, v;
  int rc = h5tx__page_find(c, fid, page, rev, &k, &v, err);
  if (rc == H5TX_ENOENT) {
    memset(dst, 0, ps);
    return 0;
  }
  if (rc) return rc;
  h5tx__page_rec r;
  if ((rc = h5tx__page_check(s, name, &k, &v, &r, err))) return rc;
  const char *why = NULL;
  if (h5tx__page_decode(&r, dst, ps, &why) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' page %llu revision %llu: %s", s->path,
                     name, (unsigned long long)page, (unsigned long long)h5tx__key_rev(&k), why);
  return 0;
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
  h5tx__file_rec fr;
  rc = h5tx__kv_get(t, KV_FILES, fk, 8, &v, err);
  if (rc == H5TX_ENOENT || (rc == 0 && h5tx__file_parse(&v, &fr) != 0))
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' (id %llu) has no valid file record",
                     s->path, name, (unsigned long long)fid);
  if (rc) return rc;
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
