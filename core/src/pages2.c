/* pages2.c - page versions in format 2: records for the page log, places
 * in the index, loads (docs/FORMAT.md, "pages — page place"). */
#include "pages2.h"

#include "internal.h"
#include "records.h"
#include "records2.h"

#include <inttypes.h>

void h5tx__page2_record(h5tx__plog_rec *r, uint64_t page_no, const uint8_t *page, uint32_t ps,
                        int codec, int level, h5tx__zpolicy *zp, uint8_t *scratch) {
  *r = (h5tx__plog_rec){.kind = PLOG_PAGE, .key = page_no, .raw = ps};
  if (h5tx__is_zero(page, ps)) {
    r->enc = PLOG_ENC_ZERO;
    return;
  }
  r->content = h5tx__hash(page, ps);
  if (codec != H5TX_CODEC_NONE && (!zp || h5tx__zpolicy_try(zp))) {
    /* an lz4 block larger than 7/8 of the page is not made at all */
    size_t z = codec == H5TX_CODEC_LZ4
                   ? h5tx__lz4_compress(scratch, ps - ps / 8, page, ps)
                   : h5tx__zstd_compress(scratch, h5tx__zstd_bound(ps), page, ps, level, 0, NULL);
    int paid = z && z <= ps - ps / 8;
    if (zp) h5tx__zpolicy_result(zp, paid);
    if (paid) {
      r->enc = codec == H5TX_CODEC_LZ4 ? PLOG_ENC_LZ4 : PLOG_ENC_ZSTD;
      r->payload = scratch;
      r->stored = (uint32_t)z;
      return;
    }
  }
  r->enc = PLOG_ENC_RAW;
  r->payload = page;
  r->stored = ps;
}

int h5tx__page2_put(h5tx__txn *t, uint64_t fid, uint64_t page, h5tx_rev rev, const h5tx__place *p,
                    h5tx_error *err) {
  uint8_t k[H5TX_PAGE_KEY], v[H5TX_PLACE_VAL];
  h5tx__page_key(k, fid, page, rev);
  h5tx__place_encode(v, p);
  return h5tx__idx_put(t, IDX_PAGES, k, sizeof k, v, sizeof v, err);
}

int h5tx__page2_find(h5tx__cur *c, uint64_t fid, uint64_t page, h5tx_rev rev, h5tx__place *p,
                     h5tx_rev *at, h5tx_error *err) {
  uint8_t k[H5TX_PAGE_KEY];
  h5tx__page_key(k, fid, page, rev);
  h5tx__val key, val;
  int rc = h5tx__kv_seek(c, k, sizeof k, &key, &val, err);
  if (rc) return rc;
  if (key.n != H5TX_PAGE_KEY || memcmp(key.p, k, 16) != 0) return H5TX_ENOENT;
  if ((rc = h5tx__idx_value(IDX_PAGES, &key, &val, err))) return rc;
  const char *why = NULL;
  if (h5tx__place_parse(val.p, val.n, p, &why) != 0)
    return h5tx__err(err, H5TX_ECORRUPT,
                     "file id %" PRIu64 " page %" PRIu64 " revision %" PRIu64 ": %s", fid, page,
                     h5tx__key_rev(&key), why);
  if (at) *at = h5tx__key_rev(&key);
  return 0;
}

int h5tx__page2_decode(const h5tx__place *p, const uint8_t *payload, uint8_t *dst,
                       h5tx_error *err) {
  const char *why = NULL;
  size_t n;
  switch (p->enc) {
  case PLOG_ENC_ZERO: memset(dst, 0, p->raw); return 0;
  case PLOG_ENC_RAW:
    if (p->stored != p->raw)
      return h5tx__err(err, H5TX_ECORRUPT,
                       "page log segment %016" PRIx64 " offset %" PRIu64
                       ": a raw page of %u bytes stored in %u",
                       p->seg, p->off, p->raw, p->stored);
    memcpy(dst, payload, p->raw);
    return 0;
  case PLOG_ENC_ZSTD:
    n = h5tx__zstd_decompress(dst, p->raw, payload, p->stored, &why);
    if (n == p->raw) return 0;
    return h5tx__err(err, H5TX_ECORRUPT, "page log segment %016" PRIx64 " offset %" PRIu64 ": %s",
                     p->seg, p->off,
                     n == (size_t)-1 ? (why ? why : "zstd frame does not decode")
                                     : "zstd frame decodes to another length");
  case PLOG_ENC_LZ4:
    n = h5tx__lz4_decompress(dst, p->raw, payload, p->stored, &why);
    if (n == p->raw) return 0;
    return h5tx__err(err, H5TX_ECORRUPT, "page log segment %016" PRIx64 " offset %" PRIu64 ": %s",
                     p->seg, p->off, n == (size_t)-1 ? why : "lz4 block decodes to fewer bytes");
  default:
    return h5tx__err(err, H5TX_EFORMAT,
                     "page log segment %016" PRIx64 " offset %" PRIu64
                     ": page encoding %u needs a newer h5tx",
                     p->seg, p->off, p->enc);
  }
}

int h5tx__page2_load(h5tx__plog *l, const h5tx__place *p, uint8_t *dst, uint32_t ps,
                     uint8_t *scratch, h5tx_error *err) {
  if (p->raw != ps)
    return h5tx__err(err, H5TX_ECORRUPT,
                     "page log segment %016" PRIx64 " offset %" PRIu64
                     ": a page of %u bytes where the file has pages of %u",
                     p->seg, p->off, p->raw, ps);
  switch (p->enc) {
  case PLOG_ENC_ZERO: memset(dst, 0, ps); return 0;
  case PLOG_ENC_RAW: return h5tx__plog_read(l, p, dst, err);
  case PLOG_ENC_ZSTD:
  case PLOG_ENC_LZ4: {
    if (p->stored > h5tx__zstd_bound(ps))
      return h5tx__err(err, H5TX_ECORRUPT,
                       "page log segment %016" PRIx64 " offset %" PRIu64
                       ": a frame of %u bytes for a page of %u",
                       p->seg, p->off, p->stored, ps);
    int rc = h5tx__plog_read(l, p, scratch, err);
    return rc ? rc : h5tx__page2_decode(p, scratch, dst, err);
  }
  default: return h5tx__page2_decode(p, NULL, dst, err);
  }
}
