/* test_diskfull.c - a full disk fails the commit cleanly (H5TX_ENOSPC with
 * a message), loses nothing committed before, keeps the writer's changes,
 * and the same commit succeeds once space is free again. Runs on a 6 MiB
 * tmpfs mounted in a private mount namespace; without the privilege to do
 * that, the test reports itself skipped (exit 77), never passed. */
#include "check_fs.h"

static h5tx_error e;

#define PS 65536

static void random_fill(uint8_t *p, size_t n, uint64_t *rng) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng_next(rng);
    memcpy(p + i, &v, n - i < 8 ? n - i : 8);
  }
}

int main(void) {
  uint64_t rng = test_seed("core_diskfull");
  char dir[] = "/tmp/h5tx-diskfull-XXXXXX";
  int skip = small_tmpfs(dir, "6m", "core_diskfull");
  if (skip) return skip;
  char store[200], ballast[200];
  snprintf(store, sizeof store, "%s/full.h5tx", dir);
  snprintf(ballast, sizeof ballast, "%s/ballast", dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = H5TX_CODEC_NONE;
  h5tx_store *s;
  OK(h5tx_store_open(store, &o, &s, &e));

  size_t n1 = 1u << 20, n2 = 2u << 20;
  uint8_t *a = malloc(n1), *b = malloc(n2), *back = malloc(n1 + n2);
  random_fill(a, n1, &rng);
  random_fill(b, n2, &rng);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "data.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, a, n1, &e));
  h5tx_rev r1, r;
  OK(h5tx_writer_commit(w, "fits", &r1, &e));

  fill_disk(ballast);
  /* A large write goes to the page log as it is made (writer cache, or
   * straight from the caller's buffer): on a full disk the write itself
   * or else the commit fails, naming the full disk. A failed write leaves
   * the writer as it was. */
  memset(&e, 0, sizeof e);
  int wrc = h5tx_writer_write(w, n1, b, n2, &e);
  if (wrc) {
    CHECK(wrc == H5TX_ENOSPC && strstr(e.msg, "disk full"));
    CHECK(h5tx_writer_length(w) == n1);
    OK(h5tx_writer_read(w, 0, back, n1, &e));
    CHECK(memcmp(back, a, n1) == 0);
    printf("core_diskfull: the write failed: %s\n", e.msg);
  } else {
    FAILS(h5tx_writer_commit(w, "does not fit", &r, &e), H5TX_ENOSPC, "disk full");
  }
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  CHECK(head == r1);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  h5tx_stat st;
  OK(h5tx_snap_stat(sn, "data.bin", &st, &e));
  CHECK(st.length == n1);
  OK(h5tx_snap_read(sn, "data.bin", 0, back, n1, &e));
  CHECK(memcmp(back, a, n1) == 0);
  h5tx_snap_close(sn);

  /* Space again: the same writer commits what it still holds (the write
   * made again if it had failed). */
  REQUIRE(unlink(ballast) == 0);
  if (wrc) OK(h5tx_writer_write(w, n1, b, n2, &e));
  OK(h5tx_writer_commit(w, "fits now", &r, &e));
  CHECK(r == r1 + 1);
  h5tx_writer_close(w);
  h5tx_store_close(s);
  OK(h5tx_store_open(store, NULL, &s, &e));
  OK(h5tx_snap_open(s, r, &sn, &e));
  OK(h5tx_snap_read(sn, "data.bin", 0, back, n1 + n2, &e));
  CHECK(memcmp(back, a, n1) == 0 && memcmp(back + n1, b, n2) == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  free(a);
  free(b);
  free(back);
  umount(dir);
  rmdir(dir);
  return check_done("core_diskfull");
}
