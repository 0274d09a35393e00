/* test_threads.c - one store handle shared by threads: reader threads open
 * snapshots at head and check each sees exactly one revision's bytes (never
 * a mix) while a writer thread commits (its pages streamed into the page
 * log, its commits applied to the index) under them. */
#include "check.h"

#include <pthread.h>

#define PS 4096
#define NPAGES 64
#define COMMITS 60
#define READERS 3

static h5tx_store *store;
static int done;
static int bad;

/* Revision r: bytes [0, 8) hold r; the rest of page p is (r * 7 + p). */
static void fill(uint8_t *buf, uint64_t r) {
  for (int p = 0; p < NPAGES; p++)
    memset(buf + p * PS, (int)((r * 7 + (uint64_t)p) & 0xff), PS);
  memcpy(buf, &r, 8);
}

static void *reader(void *arg) {
  (void)arg;
  h5tx_error e = {0};
  uint8_t *buf = malloc(NPAGES * PS), *want = malloc(NPAGES * PS);
  int reads = 0;
  while (!__atomic_load_n(&done, __ATOMIC_SEQ_CST) || reads < 5) {
    h5tx_snap *sn;
    OK(h5tx_snap_open(store, H5TX_HEAD, &sn, &e));
    OK(h5tx_snap_read(sn, "shared.bin", 0, buf, NPAGES * PS, &e));
    uint64_t r;
    memcpy(&r, buf, 8);
    fill(want, r);
    if (r != h5tx_snap_rev(sn) || memcmp(buf, want, NPAGES * PS) != 0) {
      fprintf(stderr, "snapshot %llu read revision %llu's header with other bytes\n",
              (unsigned long long)h5tx_snap_rev(sn), (unsigned long long)r);
      __atomic_add_fetch(&bad, 1, __ATOMIC_SEQ_CST);
    }
    h5tx_snap_close(sn);
    reads++;
  }
  free(buf);
  free(want);
  return NULL;
}

int main(void) {
  test_paths tp = temp_paths();
  h5tx_error e = {0};
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = H5TX_CODEC_NONE;
  o.durability = H5TX_NOSYNC;
  OK(h5tx_store_open(tp.store, &o, &store, &e));
  uint8_t *buf = malloc(NPAGES * PS);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(store, "shared.bin", &wo, &w, &e));
  fill(buf, 1);
  OK(h5tx_writer_write(w, 0, buf, NPAGES * PS, &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, NULL, &r, &e));
  REQUIRE(r == 1);
  pthread_t t[READERS];
  for (int i = 0; i < READERS; i++)
    REQUIRE(pthread_create(&t[i], NULL, reader, NULL) == 0);
  for (uint64_t k = 2; k <= COMMITS; k++) {
    fill(buf, k);
    OK(h5tx_writer_write(w, 0, buf, NPAGES * PS, &e));
    OK(h5tx_writer_commit(w, NULL, &r, &e));
    CHECK(r == k);
  }
  __atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
  for (int i = 0; i < READERS; i++)
    pthread_join(t[i], NULL);
  h5tx_writer_close(w);
  CHECK(bad == 0);
  h5tx_store_close(store);
  free(buf);
  remove_tree(tp.dir);
  return check_done("core_threads");
}
