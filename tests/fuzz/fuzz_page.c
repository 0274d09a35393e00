/* fuzz_page.c - the page record decoder (h5tx__page_parse, then
 * h5tx__page_decode), as a store's index hands it bytes read from disk.
 * Input: byte 0 picks the page size (512 << (b % 6)) and whether to repair
 * the record checksum (bit 7) and the content hash (bit 6), so that
 * mutations reach the payload decoders (zstd) and their accepting paths
 * instead of stopping at a checksum; bytes 1..24 are the key, the
 * rest is the record. Promises checked: no crash or sanitizer report; a
 * rejected record says why; an accepted one fills exactly page_size bytes:
 * a raw page's are its payload (the record checksum covers them; its
 * content hash field is not checked here, and the upgrade recomputes it),
 * a zstd page's hash to the record's content hash, a zero page's are
 * zeros. */
#include "fuzz.h"

#include "codec.h"
#include "records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 + H5TX_PAGE_KEY) return 0;
  uint32_t page_size = 512u << (data[0] % 6);
  int repair = data[0] & 0x80;
  uint8_t key[H5TX_PAGE_KEY];
  memcpy(key, data + 1, sizeof key);
  size_t n = size - 1 - H5TX_PAGE_KEY;
  uint8_t *rec = malloc(n ? n : 1); /* its own allocation: ASan sees overreads */
  if (!rec) abort();
  memcpy(rec, data + 1 + H5TX_PAGE_KEY, n);
  if ((data[0] & 0x40) && n >= H5TX_PAGE_HDR) {
    /* Repair the content hash too (of the payload as the writer would have
     * hashed it), so that mutated payloads can also be accepted. */
    uint8_t *tmp = malloc(page_size);
    const char *ignored;
    if (!tmp) abort();
    if (rec[1] == H5TX_ENC_RAW && n - H5TX_PAGE_HDR == page_size)
      h5tx__le64(rec + 8, h5tx__hash(rec + H5TX_PAGE_HDR, page_size));
    if (rec[1] == H5TX_ENC_ZSTD && h5tx__zstd_decompress(tmp, page_size, rec + H5TX_PAGE_HDR,
                                                         n - H5TX_PAGE_HDR, &ignored) == page_size)
      h5tx__le64(rec + 8, h5tx__hash(tmp, page_size));
    free(tmp);
  }
  if (repair && n >= H5TX_PAGE_HDR) {
    /* The record checksum: key || header bytes 0..15 || payload (FORMAT.md). */
    h5tx__hasher h;
    h5tx__hasher_init(&h);
    h5tx__hasher_add(&h, key, sizeof key);
    h5tx__hasher_add(&h, rec, 16);
    h5tx__hasher_add(&h, rec + H5TX_PAGE_HDR, n - H5TX_PAGE_HDR);
    h5tx__le64(rec + 16, h5tx__hasher_end(&h));
  }
  h5tx__val k = {key, sizeof key}, v = {rec, n};
  h5tx__page_rec r;
  const char *why = NULL;
  if (h5tx__page_parse(&k, &v, &r, &why) != 0) {
    FUZZ_ASSERT(why && *why);
  } else {
    FUZZ_ASSERT(r.payload >= rec && r.payload + r.payload_len <= rec + n);
    uint8_t *page = malloc(page_size);
    if (!page) abort();
    why = NULL;
    if (h5tx__page_decode(&r, page, page_size, &why) != 0) {
      FUZZ_ASSERT(why && *why);
    } else if (r.enc == H5TX_ENC_ZERO) {
      FUZZ_ASSERT(h5tx__is_zero(page, page_size));
    } else if (r.enc == H5TX_ENC_RAW) {
      FUZZ_ASSERT(r.payload_len == page_size && memcmp(page, r.payload, page_size) == 0);
    } else {
      FUZZ_ASSERT(h5tx__hash(page, page_size) == r.content);
    }
    free(page);
  }
  free(rec);
  return 0;
}
