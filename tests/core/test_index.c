/* test_index.c - white-box test of format 2's index (index.h over LMDB):
 * every value is stored with a check over table, key and value, so a value
 * under another key, in another table or with a flipped byte is
 * H5TX_ECORRUPT naming table and key, never wrong data; batched gets; the
 * format-2 table set is not taken for format 1's. */
#include "check.h"
#include "index.h"
#include "internal.h"

static h5tx_error e;

static int fill_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  int rc = 0;
  for (uint64_t i = 0; i < 100 && rc == 0; i++) {
    uint8_t k[8], v[16];
    h5tx__be64(k, i);
    h5tx__le64(v, i * 3);
    h5tx__le64(v + 8, ~i);
    rc = h5tx__idx_put(t, IDX_PAGES, k, 8, v, sizeof v, err);
    if (rc == 0) rc = h5tx__idx_put(t, IDX_LENGTHS, k, 8, v, 8, err);
  }
  return rc;
}

/* Copy the stored bytes (check included) of pages key 5 under pages key
 * 200 and under lengths key 5, and flip a byte of pages key 7's value. */
static int damage_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  uint8_t k[8];
  h5tx__val v;
  h5tx__be64(k, 5);
  int rc = h5tx__kv_get(t, IDX_PAGES, k, 8, &v, err);
  if (rc) return rc;
  uint8_t copy[64];
  REQUIRE(v.n <= sizeof copy);
  memcpy(copy, v.p, v.n);
  size_t n = v.n;
  h5tx__be64(k, 200);
  if ((rc = h5tx__kv_put(t, IDX_PAGES, k, 8, copy, n, err))) return rc;
  h5tx__be64(k, 5);
  if ((rc = h5tx__kv_put(t, IDX_LENGTHS, k, 8, copy, n, err))) return rc;
  h5tx__be64(k, 7);
  if ((rc = h5tx__kv_get(t, IDX_PAGES, k, 8, &v, err))) return rc;
  memcpy(copy, v.p, v.n);
  copy[3] ^= 0x40;
  return h5tx__kv_put(t, IDX_PAGES, k, 8, copy, v.n, err);
}

int main(void) {
  test_paths tp = temp_paths();
  char dir[700];
  snprintf(dir, sizeof dir, "%s/index", tp.dir);
  REQUIRE(mkdir(dir, 0777) == 0);
  h5tx__kv *kv;
  OK(h5tx__idx_open(dir, 1, 0, &kv, &e));
  OK(h5tx__kv_write(kv, fill_fn, NULL, 1, &e));
  h5tx__kv_close(kv);

  /* the format-1 table set does not open a format-2 index */
  FAILS(h5tx__kv_open(dir, 0, 0, 0, &kv, &e), H5TX_EFORMAT, "leases");

  OK(h5tx__idx_open(dir, 0, 0, &kv, &e));
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  for (uint64_t i = 0; i < 100; i++) {
    uint8_t k[8];
    h5tx__be64(k, i);
    h5tx__val v;
    OK(h5tx__idx_get(t, IDX_PAGES, k, 8, &v, &e));
    CHECK(v.n == 16 && h5tx__get_le64(v.p) == i * 3 &&
          h5tx__get_le64((const uint8_t *)v.p + 8) == ~i);
  }
  /* batched gets, present and absent */
  uint8_t kb[4][8];
  h5tx__val keys[4], vals[4];
  uint64_t want[4] = {3, 1000, 99, 0};
  for (int i = 0; i < 4; i++) {
    h5tx__be64(kb[i], want[i]);
    keys[i] = (h5tx__val){kb[i], 8};
  }
  OK(h5tx__idx_get_many(t, IDX_LENGTHS, keys, 4, vals, &e));
  CHECK(vals[0].n == 8 && h5tx__get_le64(vals[0].p) == 9);
  CHECK(vals[1].p == NULL && vals[1].n == 0);
  CHECK(vals[2].n == 8 && h5tx__get_le64(vals[2].p) == 297);
  CHECK(vals[3].n == 8 && h5tx__get_le64(vals[3].p) == 0);
  /* seek + verify */
  h5tx__cur *c;
  OK(h5tx__kv_cursor(t, IDX_PAGES, &c, &e));
  h5tx__val k, v;
  OK(h5tx__kv_seek(c, kb[0], 8, &k, &v, &e));
  OK(h5tx__idx_value(IDX_PAGES, &k, &v, &e));
  CHECK(v.n == 16 && h5tx__get_le64(v.p) == 9);
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);

  OK(h5tx__kv_write(kv, damage_fn, NULL, 1, &e));
  OK(h5tx__kv_read(kv, &t, &e));
  uint8_t key[8];
  h5tx__val got;
  h5tx__be64(key, 200); /* pages 5's value under key 200 */
  FAILS(h5tx__idx_get(t, IDX_PAGES, key, 8, &got, &e), H5TX_ECORRUPT,
        "index table pages key 00000000000000c8: value check mismatch");
  h5tx__be64(key, 5); /* a pages value in the lengths table, same key */
  FAILS(h5tx__idx_get(t, IDX_LENGTHS, key, 8, &got, &e), H5TX_ECORRUPT,
        "index table lengths key 0000000000000005");
  h5tx__be64(key, 7); /* a flipped byte */
  FAILS(h5tx__idx_get(t, IDX_PAGES, key, 8, &got, &e), H5TX_ECORRUPT, "value check mismatch");
  keys[0] = (h5tx__val){key, 8};
  FAILS(h5tx__idx_get_many(t, IDX_PAGES, keys, 1, vals, &e), H5TX_ECORRUPT, "pages");
  h5tx__be64(key, 5); /* the original is intact */
  OK(h5tx__idx_get(t, IDX_PAGES, key, 8, &got, &e));
  CHECK(got.n == 16 && h5tx__get_le64(got.p) == 15);
  /* a value shorter than a check */
  h5tx__val shortv = {"abc", 3}, sk = {key, 8};
  FAILS(h5tx__idx_value(IDX_META, &sk, &shortv, &e), H5TX_ECORRUPT, "index table meta");
  h5tx__kv_done(t);
  h5tx__kv_close(kv);
  remove_tree(tp.dir);
  return check_done("core_index");
}
