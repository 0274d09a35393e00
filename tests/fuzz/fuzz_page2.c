/* fuzz_page2.c - format 2's page payload decoder (h5tx__page2_decode), as
 * a reader hands it a payload whose record check passed (so any bytes a
 * writer, a bug or an attacker put there). Input: byte 0 picks the page
 * size (512 << (b % 6)) and the encoding ((b >> 4) % 6: zero, raw, zstd,
 * external, lz4, and one this build does not know); the rest is the
 * payload. Promises checked: no crash or sanitizer report; a rejected
 * payload is H5TX_ECORRUPT or H5TX_EFORMAT with a message; an accepted one
 * fills exactly the page, the same bytes on a second decode, zeros for a
 * zero page, the payload itself for a raw one. */
#include "fuzz.h"

#include "h5tx.h"
#include "pages2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint32_t ps = 512u << (data[0] % 6);
  uint8_t enc = (uint8_t)((data[0] >> 4) % (PLOG_ENC_LAST + 2));
  size_t n = size - 1;
  uint8_t *payload = malloc(n ? n : 1); /* its own allocation: ASan sees overreads */
  uint8_t *page = malloc(ps), *again = malloc(ps);
  if (!payload || !page || !again) abort();
  memcpy(payload, data + 1, n);
  h5tx__place p = {.kind = PLOG_PAGE, .enc = enc, .raw = ps, .stored = (uint32_t)n};
  h5tx_error e = {0};
  int rc = h5tx__page2_decode(&p, payload, page, &e);
  if (rc) {
    FUZZ_ASSERT((rc == H5TX_ECORRUPT || rc == H5TX_EFORMAT) && e.msg[0]);
  } else {
    FUZZ_ASSERT(enc != PLOG_ENC_EXTERNAL && enc <= PLOG_ENC_LAST);
    memset(again, 0xA5, ps);
    FUZZ_ASSERT(h5tx__page2_decode(&p, payload, again, &e) == 0);
    FUZZ_ASSERT(memcmp(page, again, ps) == 0);
    if (enc == PLOG_ENC_ZERO)
      for (uint32_t i = 0; i < ps; i++)
        FUZZ_ASSERT(page[i] == 0);
    if (enc == PLOG_ENC_RAW) FUZZ_ASSERT(n == ps && memcmp(page, payload, ps) == 0);
  }
  free(payload);
  free(page);
  free(again);
  return 0;
}
