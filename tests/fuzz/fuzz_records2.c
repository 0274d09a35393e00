/* fuzz_records2.c - format 2's record decoders: the page place
 * (h5tx__place_parse), the page log's commit record (h5tx__lcommit_parse
 * and h5tx__lcommit_next), the index value check (h5tx__idx_value), the
 * tag record (h5tx__ltag_parse) and the `dedupe` entry (h5tx__dedupe_parse).
 * Input: byte 0 picks the decoder; the rest is the bytes. Promises checked:
 * no crash or sanitizer report; a refusal says why; an accepted commit
 * record's operations and names lie inside the input and number exactly
 * its count; re-encoding an accepted place gives the same bytes; a value
 * with a repaired check is accepted and cut by 8 bytes; an accepted dedupe
 * entry's key is its place's. */
#include "fuzz.h"

#include "dedupe.h"
#include "index.h"
#include "internal.h"
#include "records2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = size - 1;
  uint8_t *b = malloc(n ? n : 1); /* its own allocation: ASan sees overreads */
  if (!b) abort();
  memcpy(b, data + 1, n);
  const char *why = NULL;
  switch (data[0] % 5) {
  case 0: {
    h5tx__place p;
    if (h5tx__place_parse(b, n, &p, &why) != 0) {
      FUZZ_ASSERT(why && *why);
    } else {
      uint8_t again[H5TX_PLACE_VAL];
      h5tx__place_encode(again, &p);
      /* reserved bytes are not kept: compare the fields' bytes */
      FUZZ_ASSERT(again[0] == b[0] && again[1] == b[1] && memcmp(again + 4, b + 4, 8) == 0 &&
                  memcmp(again + 16, b + 16, 48) == 0);
    }
    break;
  }
  case 1: {
    h5tx__lcommit c;
    if (h5tx__lcommit_parse(b, n, &c, &why) != 0) {
      FUZZ_ASSERT(why && *why);
      break;
    }
    FUZZ_ASSERT((const uint8_t *)c.host + c.host_len <= b + n);
    FUZZ_ASSERT(c.ops + c.ops_len == b + n);
    h5tx__lcommit_it it = {0};
    h5tx__lop o;
    int r;
    uint32_t count = 0;
    while ((r = h5tx__lcommit_next(&c, &it, &o, &why)) == 1) {
      count++;
      FUZZ_ASSERT(o.op >= LOP_FILE && o.op <= LOP_REF);
      FUZZ_ASSERT(!o.name_len || ((const uint8_t *)o.name >= c.ops &&
                                  (const uint8_t *)o.name + o.name_len <= b + n));
    }
    if (r == 0)
      FUZZ_ASSERT(count == c.nops && it.pos == c.ops_len);
    else
      FUZZ_ASSERT(why && *why);
    break;
  }
  case 2: {
    if (n < 1) break;
    size_t klen = b[0] % (n + 1 > 64 ? 64 : n + 1);
    if (klen > n - 1) klen = n - 1;
    h5tx__val k = {b + 1, klen}, v = {b + 1 + klen, n - 1 - klen};
    h5tx_error err;
    int table = b[0] % IDX_NTABLES;
    if (h5tx__idx_value(table, &k, &v, &err) == 0) {
      FUZZ_ASSERT(v.n + H5TX_IDX_CHECK == n - 1 - klen);
    } else {
      FUZZ_ASSERT(err.code == H5TX_ECORRUPT);
      if (v.n >= H5TX_IDX_CHECK) {
        /* repaired, it must pass */
        uint8_t *vv = (uint8_t *)v.p;
        h5tx__le64(vv + v.n - 8, h5tx__idx_check(table, k.p, k.n, v.p, v.n - 8));
        FUZZ_ASSERT(h5tx__idx_value(table, &k, &v, &err) == 0);
      }
    }
    break;
  }
  case 3: {
    const char *name;
    size_t nlen;
    h5tx_rev rev;
    if (h5tx__ltag_parse(b, n, &name, &nlen, &rev) == 0)
      FUZZ_ASSERT((const uint8_t *)name + nlen == b + n);
    break;
  }
  case 4: { /* key (28 bytes when it can be), then the value */
    size_t klen = n < H5TX_DEDUPE_KEY ? n : H5TX_DEDUPE_KEY;
    h5tx__val k = {b, klen}, v = {b + klen, n - klen};
    h5tx__place p;
    uint64_t refs;
    if (h5tx__dedupe_parse(&k, &v, &p, &refs, &why) != 0) {
      FUZZ_ASSERT(why && *why);
    } else {
      uint8_t dk[H5TX_DEDUPE_KEY];
      h5tx__dedupe_key(dk, &p);
      FUZZ_ASSERT(klen == H5TX_DEDUPE_KEY && memcmp(dk, b, klen) == 0);
      FUZZ_ASSERT(p.enc != PLOG_ENC_ZERO && (v.n == H5TX_PLACE_VAL || v.n == H5TX_PLACE_VAL + 8));
    }
    break;
  }
  }
  free(b);
  return 0;
}
