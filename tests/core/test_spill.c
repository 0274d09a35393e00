/* test_spill.c - a transaction far over the writer's in-memory dirty bound
 * spills to a temporary file and still commits atomically and reads back
 * exactly; the same commit outgrows a tiny initial LMDB map, which must
 * grow without the caller noticing. */
#include "check.h"

#include <dirent.h>

static h5tx_error e;

#define PS 4096
#define SIZE (12u << 20)
#define LIMIT (16 * PS)

/* Number of open descriptors of this process on deleted files under `dir`
 * (the spill file is an unlinked temporary file in the store directory). */
static int spill_fds(const char *dir) {
  DIR *d = opendir("/proc/self/fd");
  REQUIRE(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char link[300], target[1200];
    snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
    ssize_t k = readlink(link, target, sizeof target - 1);
    if (k <= 0) continue;
    target[k] = 0;
    if (strncmp(target, dir, strlen(dir)) == 0 && strstr(target, "(deleted)")) n++;
  }
  closedir(d);
  return n;
}

int main(void) {
  uint64_t rng = test_seed("core_spill");
  test_paths tp = temp_paths();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.dirty_limit = LIMIT;
  o.map_size = 1u << 20; /* far below what the commit needs */
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
  CHECK(spill_fds(tp.store) == 1);
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
  /* A second transaction over the bound, then aborted: nothing of it stays. */
  for (int i = 0; i < 100; i++) {
    memset(block, 0x5A, 1 << 16);
    OK(h5tx_writer_write(w, rng_below(&rng, SIZE - (1 << 16)), block, 1 << 16, &e));
  }
  h5tx_writer_abort(w);
  OK(h5tx_writer_read(w, 0, back, SIZE, &e));
  CHECK(memcmp(back, model, SIZE) == 0);
  h5tx_writer_close(w);
  CHECK(spill_fds(tp.store) == 0);

  OK(h5tx_snap_open(s, r, &sn, &e));
  OK(h5tx_snap_stat(sn, "big.bin", &st, &e));
  CHECK(st.length == SIZE);
  memset(back, 0xEE, SIZE);
  OK(h5tx_snap_read(sn, "big.bin", 0, back, SIZE, &e));
  CHECK(memcmp(back, model, SIZE) == 0);
  h5tx_snap_close(sn);
  h5tx_usage u;
  OK(h5tx_store_usage(s, &u, &e));
  CHECK(u.index_bytes + u.log_bytes > (4u << 20)); /* what was written is on disk */
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
