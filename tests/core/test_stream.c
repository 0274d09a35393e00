/* test_stream.c - a commit far over the writer cache: its pages stream
 * into the page log while it writes (the log grows, head does not), the
 * writer reads them back, nothing is visible before the commit, the commit
 * is atomic and reads back exactly; pages streamed and then cut off by a
 * truncation read as zeros after the commit; an aborted writer's streamed
 * pages never show. */
#include "check_fs.h"

static h5tx_error e;

#define PS 4096
#define SIZE (12u << 20)
#define LIMIT (16 * PS)

/* Bytes of the page log's segments on disk. */
static uint64_t log_bytes(const char *store) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/log", store);
  return du_bytes(dir);
}

int main(void) {
  uint64_t rng = test_seed("core_spill");
  test_paths tp = temp_paths();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.dirty_limit = LIMIT;
  o.durability = H5TX_NOSYNC;
  h5tx_store *s;
  OK(h5tx_store_open(tp.store, &o, &s, &e));

  uint8_t *model = calloc(1, SIZE);
  REQUIRE(model);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "big.bin", &wo, &w, &e));
  uint64_t log0 = log_bytes(tp.store);
  /* Random blocks in random order, some overlapping pages already spilled. */
  uint8_t *block = malloc(1 << 16);
  for (int i = 0; i < 600; i++) {
    size_t n = 1 + rng_below(&rng, 1 << 16);
    uint64_t off = rng_below(&rng, SIZE - n);
    for (size_t j = 0; j < n; j++)
      block[j] = (uint8_t)(rng_next(&rng) >> (j % 5 == 0 ? 0 : 60));
    OK(h5tx_writer_write(w, off, block, n, &e));
    memcpy(model + off, block, n);
  }
  OK(h5tx_writer_truncate(w, SIZE, &e));
  /* Streamed: far more than the cache is in the log already. */
  CHECK(log_bytes(tp.store) > log0 + 4 * LIMIT);
  /* The writer reads its spilled pages back. */
  uint8_t *back = malloc(SIZE);
  OK(h5tx_writer_read(w, 0, back, SIZE, &e));
  CHECK(memcmp(back, model, SIZE) == 0);
  /* Nothing is visible before the commit. */
  h5tx_snap *sn;
  h5tx_stat st;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  FAILS(h5tx_snap_stat(sn, "big.bin", &st, &e), H5TX_ENOENT, "no file 'big.bin'");
  h5tx_snap_close(sn);
  h5tx_rev r;
  OK(h5tx_writer_commit(w, "big", &r, &e));
  CHECK(r == 1);
  /* Streamed pages cut off by a truncation, then the file grown again:
   * zeros there after the commit. */
  memset(block, 0x77, 1 << 16);
  for (uint64_t off = SIZE / 2; off + (1 << 16) <= SIZE; off += 1 << 16)
    OK(h5tx_writer_write(w, off, block, 1 << 16, &e));
  OK(h5tx_writer_truncate(w, SIZE / 2 + 100, &e));
  OK(h5tx_writer_truncate(w, SIZE, &e));
  memset(model + SIZE / 2, 0x77, 100);
  memset(model + SIZE / 2 + 100, 0, SIZE / 2 - 100);
  h5tx_rev r2;
  OK(h5tx_writer_commit(w, "cut", &r2, &e));
  CHECK(r2 == 2);
  /* A second transaction over the bound, then aborted: nothing of it stays. */
  for (int i = 0; i < 100; i++) {
    memset(block, 0x5A, 1 << 16);
    OK(h5tx_writer_write(w, rng_below(&rng, SIZE - (1 << 16)), block, 1 << 16, &e));
  }
  h5tx_writer_abort(w);
  OK(h5tx_writer_read(w, 0, back, SIZE, &e));
  CHECK(memcmp(back, model, SIZE) == 0);
  h5tx_writer_close(w);

  OK(h5tx_snap_open(s, r2, &sn, &e));
  OK(h5tx_snap_stat(sn, "big.bin", &st, &e));
  CHECK(st.length == SIZE);
  memset(back, 0xEE, SIZE);
  OK(h5tx_snap_read(sn, "big.bin", 0, back, SIZE, &e));
  CHECK(memcmp(back, model, SIZE) == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);

  /* Another process-level open sees the same (a fresh environment). */
  OK(h5tx_store_open(tp.store, NULL, &s, &e));
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  OK(h5tx_snap_read(sn, "big.bin", 0, back, SIZE, &e));
  CHECK(memcmp(back, model, SIZE) == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  free(block);
  free(back);
  free(model);
  remove_tree(tp.dir);
  return check_done("core_spill");
}
