/* index.c - format 2's index tables over kv.h: value checks and batched
 * gets (docs/FORMAT.md, "The index"). */
#include "index.h"

#include "codec.h"
#include "internal.h"

#include <stdio.h>

static const char *const tables[IDX_NTABLES] = {"meta",     "names",    "files",    "pages",
                                                "lengths",  "commits",  "tags",     "dedupe",
                                                "segments", "branches", "externals"};

const char *h5tx__idx_table(int table) {
  return table >= 0 && table < IDX_NTABLES ? tables[table] : "?";
}

int h5tx__idx_open(const char *dir, int create, int read_only, h5tx__kv **out, h5tx_error *err) {
  return h5tx__kv_open_tables(dir, tables, IDX_NTABLES, create, read_only, 0, out, err);
}

uint64_t h5tx__idx_check(int table, const void *key, size_t klen, const void *val, size_t vlen) {
  h5tx__hasher h;
  uint8_t tb = (uint8_t)table;
  h5tx__hasher_init(&h);
  h5tx__hasher_add(&h, &tb, 1);
  h5tx__hasher_add(&h, key, klen);
  h5tx__hasher_add(&h, val, vlen);
  return h5tx__hasher_end(&h);
}

int h5tx__idx_put(h5tx__txn *t, int table, const void *key, size_t klen, const void *val,
                  size_t vlen, h5tx_error *err) {
  void *where;
  int rc = h5tx__kv_reserve(t, table, key, klen, vlen + H5TX_IDX_CHECK, &where, err);
  if (rc) return rc;
  if (vlen) memcpy(where, val, vlen);
  h5tx__le64((uint8_t *)where + vlen, h5tx__idx_check(table, key, klen, val, vlen));
  return 0;
}

/* Up to 24 hex digits of a key, for messages. */
static void key_hex(const h5tx__val *k, char *buf, size_t cap) {
  const uint8_t *p = k->p;
  size_t n = k->n < 24 ? k->n : 24, o = 0;
  for (size_t i = 0; i < n && o + 3 < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%02x", p[i]);
  if (k->n > n && o + 4 < cap) snprintf(buf + o, cap - o, "...");
}

int h5tx__idx_value(int table, const h5tx__val *k, h5tx__val *v, h5tx_error *err) {
  if (v->n < H5TX_IDX_CHECK ||
      h5tx__get_le64((const uint8_t *)v->p + v->n - H5TX_IDX_CHECK) !=
          h5tx__idx_check(table, k->p, k->n, v->p, v->n - H5TX_IDX_CHECK)) {
    char hex[64] = "";
    key_hex(k, hex, sizeof hex);
    return h5tx__err(err, H5TX_ECORRUPT, "index table %s key %s: value check mismatch",
                     h5tx__idx_table(table), hex);
  }
  v->n -= H5TX_IDX_CHECK;
  return 0;
}

int h5tx__idx_get(h5tx__txn *t, int table, const void *key, size_t klen, h5tx__val *val,
                  h5tx_error *err) {
  int rc = h5tx__kv_get(t, table, key, klen, val, err);
  if (rc) return rc;
  h5tx__val k = {key, klen};
  return h5tx__idx_value(table, &k, val, err);
}

int h5tx__idx_get_many(h5tx__txn *t, int table, const h5tx__val *keys, size_t n, h5tx__val *vals,
                       h5tx_error *err) {
  for (size_t i = 0; i < n; i++) {
    int rc = h5tx__idx_get(t, table, keys[i].p, keys[i].n, &vals[i], err);
    if (rc == H5TX_ENOENT)
      vals[i] = (h5tx__val){NULL, 0};
    else if (rc)
      return rc;
  }
  return 0;
}
