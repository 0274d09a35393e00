/* test_zpolicy.c - the compression policy (codec.h): every page is tried
 * until H5TX_ZP_GIVE_UP pages in a row did not pay; then one page in
 * H5TX_ZP_PROBE is tried, and a probe that pays resumes trying every page.
 * End to end: a commit of noisy pages followed by compressible ones still
 * stores the compressible ones compressed. */
#include "check.h"
#include "codec.h"

static h5tx_error e;

int main(void) {
  h5tx__zpolicy p;
  h5tx__zpolicy_init(&p);
  /* paying pages: always tried */
  for (int i = 0; i < 100; i++) {
    CHECK(h5tx__zpolicy_try(&p) == 1);
    h5tx__zpolicy_result(&p, 1);
  }
  /* misses: tried until GIVE_UP in a row */
  for (int i = 0; i < H5TX_ZP_GIVE_UP; i++) {
    CHECK(h5tx__zpolicy_try(&p) == 1);
    h5tx__zpolicy_result(&p, 0);
  }
  /* then one in PROBE */
  int tried = 0, first_probe = -1;
  for (int i = 0; i < 10 * H5TX_ZP_PROBE; i++)
    if (h5tx__zpolicy_try(&p)) {
      if (first_probe < 0) first_probe = i;
      tried++;
      h5tx__zpolicy_result(&p, 0);
    }
  CHECK(tried == 10);
  CHECK(first_probe == H5TX_ZP_PROBE - 1);
  CHECK(p.tried == 100 + H5TX_ZP_GIVE_UP + 10 && p.paid == 100);
  /* a probe that pays resumes */
  int i = 0;
  while (!h5tx__zpolicy_try(&p))
    i++;
  CHECK(i == H5TX_ZP_PROBE - 1);
  h5tx__zpolicy_result(&p, 1);
  for (int k = 0; k < 20; k++) {
    CHECK(h5tx__zpolicy_try(&p) == 1);
    h5tx__zpolicy_result(&p, 1);
  }
  /* a miss among hits does not give up */
  h5tx__zpolicy_result(&p, 0);
  CHECK(h5tx__zpolicy_try(&p) == 1);

  /* End to end: 256 noisy pages, then 256 compressible ones, one commit. */
  uint64_t seed = test_seed("core_zpolicy");
  test_paths tp = temp_paths();
  h5tx_store *s = open_store(tp.store, 4096, 64 << 20);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.codec = H5TX_CODEC_ZSTD;
  OK(h5tx_writer_open(s, "f", &wo, &w, &e));
  enum { N = 256, PS = 4096 };
  uint8_t *buf = malloc((size_t)2 * N * PS);
  REQUIRE(buf);
  for (size_t k = 0; k < (size_t)N * PS; k += 8) {
    uint64_t v = rng_next(&seed);
    memcpy(buf + k, &v, 8);
  }
  for (size_t k = 0; k < (size_t)N * PS; k++)
    buf[(size_t)N * PS + k] = (uint8_t)(k / 100 % 7);
  OK(h5tx_writer_write(w, 0, buf, (size_t)2 * N * PS, &e));
  h5tx_rev rev;
  OK(h5tx_writer_commit(w, "mixed", &rev, &e));
  h5tx_writer_close(w);
  h5tx_usage u;
  OK(h5tx_store_usage(s, &u, &e));
  /* noisy pages raw (N * PS), compressible ones mostly compressed: well
   * under half of their raw size in all */
  printf("page bytes %llu for %d raw bytes\n", (unsigned long long)u.page_bytes, 2 * N * PS);
  CHECK(u.page_bytes < (uint64_t)N * PS + (uint64_t)N * PS / 4);
  CHECK(u.page_bytes >= (uint64_t)N * PS);
  uint8_t *back = malloc((size_t)2 * N * PS);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, rev, &sn, &e));
  OK(h5tx_snap_read(sn, "f", 0, back, (size_t)2 * N * PS, &e));
  CHECK(memcmp(back, buf, (size_t)2 * N * PS) == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  free(back);
  free(buf);
  remove_tree(tp.dir);
  return check_done("core_zpolicy");
}
