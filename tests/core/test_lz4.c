/* test_lz4.c - lz4 pages (page encoding 4, docs/FORMAT.md): a page made
 * into a record with codec lz4 is an lz4 block when it saves an eighth and
 * raw when it does not, and decodes back byte for byte, for every page size
 * from 512 B to 1 MiB; a corrupt block (cut short, a byte flipped at each
 * place, a match reaching before the page, one that decodes to fewer or
 * more bytes than the page) is H5TX_ECORRUPT naming its place in the log
 * and "lz4", never a crash or bytes past the page (ASan build). */
#include "check.h"
#include "pages2.h"

static uint64_t seed;

static void fill(uint8_t *b, size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    if (kind == 0) b[i] = (uint8_t)(i / 512 + 1); /* runs */
    if (kind == 1) b[i] = (uint8_t) "h5tx lz4 text page "[i % 19];
    if (kind == 2) b[i] = (uint8_t)rng_next(&seed); /* noise */
  }
}

/* Decode `payload` (n bytes) as the lz4 page of a place with pages of ps
 * bytes: its result, into `out` (ps bytes + a guard the decoder must not
 * touch). */
static int decode(const uint8_t *payload, size_t n, uint32_t ps, uint8_t *out, h5tx_error *e) {
  h5tx__place p = {.kind = PLOG_PAGE,
                   .enc = PLOG_ENC_LZ4,
                   .raw = ps,
                   .stored = (uint32_t)n,
                   .seg = 7,
                   .off = 4096};
  memset(out + ps, 0x5A, 64);
  int rc = h5tx__page2_decode(&p, payload, out, e);
  CHECK(is_all(out + ps, 64, 0x5A));
  return rc;
}

static void round_trip(uint32_t ps) {
  uint8_t *page = malloc(ps), *scratch = malloc(h5tx__zstd_bound(ps)), *out = malloc(ps + 64);
  REQUIRE(page && scratch && out);
  for (int kind = 0; kind < 3; kind++) {
    fill(page, ps, kind);
    h5tx__plog_rec r;
    h5tx__page2_record(&r, 3, page, ps, H5TX_CODEC_LZ4, 0, NULL, scratch);
    if (kind == 2) { /* noise: lz4 cannot save an eighth */
      CHECK(r.enc == PLOG_ENC_RAW && r.payload == page && r.stored == ps);
      continue;
    }
    CHECK(r.enc == PLOG_ENC_LZ4 && r.payload == scratch && r.stored <= ps - ps / 8);
    CHECK(r.content == h5tx__hash(page, ps));
    h5tx_error e = {0};
    OK(decode(scratch, r.stored, ps, out, &e));
    CHECK(memcmp(out, page, ps) == 0);
  }
  free(page);
  free(scratch);
  free(out);
}

static void corrupt(void) {
  enum { PS = 4096 };
  static uint8_t page[PS], block[PS], bad[PS + 64], out[2 * PS + 64];
  fill(page, PS, 1);
  size_t n = h5tx__lz4_compress(block, sizeof block, page, PS);
  REQUIRE(n > 0 && n < PS / 4);
  h5tx_error e = {0};
  /* cut short: every length but the whole */
  for (size_t cut = 0; cut < n; cut++)
    FAILS(decode(block, cut, PS, out, &e), H5TX_ECORRUPT,
          "page log segment 0000000000000007 offset 4096: lz4 block");
  /* a byte flipped at each place: an error or some page, never more */
  int failed = 0;
  for (size_t at = 0; at < n; at++) {
    memcpy(bad, block, n);
    bad[at] ^= (uint8_t)(1u << (at % 8));
    int rc = decode(bad, n, PS, out, &e);
    CHECK(rc == 0 || rc == H5TX_ECORRUPT);
    if (rc) CHECK(strstr(e.msg, "lz4 block") != NULL);
    failed += rc != 0;
  }
  CHECK(failed > 0);
  /* a match at offset 0, and one reaching before the page */
  static const uint8_t off0[] = {0x1F, 'A', 0x00, 0x00, 0xFF, 0xFF, 0x50, 'A', 'A', 'A', 'A', 'A'};
  FAILS(decode(off0, sizeof off0, 512, out, &e), H5TX_ECORRUPT, "lz4 block does not decode");
  static const uint8_t back[] = {0x1F, 'A', 0x09, 0x00, 0xFF, 0xE8, 0x50, 'A', 'A', 'A', 'A', 'A'};
  FAILS(decode(back, sizeof back, 512, out, &e), H5TX_ECORRUPT, "lz4 block does not decode");
  /* a valid block of another length: fewer bytes than the page, more */
  FAILS(decode(block, n, 2 * PS, out, &e), H5TX_ECORRUPT, "lz4 block decodes to fewer bytes");
  FAILS(decode(block, n, PS / 2, out, &e), H5TX_ECORRUPT, "lz4 block does not decode");
}

int main(void) {
  seed = test_seed("core_lz4");
  for (uint32_t ps = 512; ps <= (1u << 20); ps *= 2)
    round_trip(ps);
  corrupt();
  return check_done("core_lz4");
}
