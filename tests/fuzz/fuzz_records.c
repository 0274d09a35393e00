/* fuzz_records.c - the decoders of the index's other records, as read from
 * disk: commit records (h5tx__commit_parse), file records
 * (h5tx__file_parse) and lease records (h5tx__lease_parse). Byte 0 picks
 * the decoder; the rest is the record. Promises checked: no crash or
 * sanitizer report; every accepted record's pieces lie inside it, and
 * encoding what was decoded gives back the same bytes (commit, lease). */
#include "fuzz.h"

#include "records.h"

static void commit(const uint8_t *rec, size_t n) {
  h5tx__val v = {rec, n};
  h5tx__commit_rec c;
  if (h5tx__commit_parse(&v, &c) != 0) return;
  const uint8_t *end = rec + n;
  FUZZ_ASSERT((const uint8_t *)c.host >= rec && (const uint8_t *)c.host + c.host_len <= end);
  FUZZ_ASSERT((const uint8_t *)c.msg >= rec && (const uint8_t *)c.msg + c.msg_len <= end);
  FUZZ_ASSERT(c.fids >= rec && c.fids + 8 * (size_t)c.nfiles <= end);
  FUZZ_ASSERT(h5tx__commit_size(&c) == n);
  uint8_t *again = malloc(n);
  if (!again) abort();
  h5tx__commit_encode(again, &c);
  /* Bytes 36..39 are reserved: written as zero, ignored when read. */
  memcpy(again + 36, rec + 36, 4);
  FUZZ_ASSERT(memcmp(again, rec, n) == 0);
  free(again);
}

static void file(const uint8_t *rec, size_t n) {
  h5tx__val v = {rec, n};
  h5tx__file_rec f;
  if (h5tx__file_parse(&v, &f) != 0) return;
  FUZZ_ASSERT(f.page_size >= H5TX_MIN_PAGE_SIZE && f.page_size <= H5TX_MAX_PAGE_SIZE);
  FUZZ_ASSERT((f.page_size & (f.page_size - 1)) == 0);
}

static void lease(const uint8_t *rec, size_t n) {
  h5tx__val v = {rec, n};
  h5tx__lease_rec l;
  if (h5tx__lease_parse(&v, &l) != 0) return;
  size_t hl = strlen(l.host);
  FUZZ_ASSERT(hl < sizeof l.host && hl <= n - 40);
  if (hl != n - 40) return; /* a NUL inside the host name: not round-trippable */
  uint8_t again[40 + sizeof l.host];
  size_t m = h5tx__lease_encode(again, &l);
  FUZZ_ASSERT(m == n);
  memcpy(again + 4, rec + 4, 4); /* reserved */
  FUZZ_ASSERT(memcmp(again, rec, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = size - 1;
  uint8_t *rec = malloc(n ? n : 1); /* its own allocation: ASan sees overreads */
  if (!rec) abort();
  memcpy(rec, data + 1, n);
  switch (data[0] % 3) {
  case 0: commit(rec, n); break;
  case 1: file(rec, n); break;
  case 2: lease(rec, n); break;
  }
  free(rec);
  return 0;
}
