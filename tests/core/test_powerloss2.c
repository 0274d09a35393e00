/* test_powerloss2.c - power loss under format 2 (index + page log), and
 * recovery at open with no repair step (h5tx__recover_index).
 *
 * How the layer works: the test makes commits as the store makes them
 * (f2_commit.h), sync or nosync at random, and keeps what a power cut at
 * a random moment T (after commit t) could leave on disk:
 *  - the index: LMDB flushes its data pages on every commit and its meta
 *    page with the next one (MDB_NOMETASYNC), so the index file is the one
 *    as of commit t or as of commit t-1 (a copy of data.mdb is kept after
 *    every commit; one of the two is put back);
 *  - the page log: everything up to the segment's length at its last flush
 *    survives; of what was written after it, any part may be lost: nothing,
 *    a prefix, or any 4 KiB blocks turned to zeros or garbage.
 * Then the store's index and log are reopened and recovered. Promises: it
 * opens without repair at a committed revision, at least the last sync
 * commit before T and at most t, and every revision up to that head reads
 * back byte for byte as committed (never a checksum error in a revision it
 * claims to have). Seeded; 40 rounds. */
#include "check.h"

#include <fcntl.h>

static h5tx_error e;

#include "f2_commit.h"

static void copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(in >= 0 && out >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    REQUIRE(write(out, buf, (size_t)n) == n);
  close(in);
  close(out);
}

static off_t size_of(const char *path) {
  struct stat st;
  REQUIRE(stat(path, &st) == 0);
  return st.st_size;
}

static void quiet(void *arg, const char *line) {
  (void)arg;
  printf("  recovery: %s\n", line);
}

static int init_store(h5tx__txn *t, void *arg, h5tx_error *err) { return init_fn(t, arg, err); }

int main(void) {
  uint64_t seed = test_seed("core_powerloss2");
  test_paths tp = temp_paths();
  int rolled_forward = 0, rolled_back = 0;
  for (int round = 0; round < 40; round++) {
    char dir[800], idir[900], ldir[900], snap[2][900], data[1000], seg[1000];
    snprintf(dir, sizeof dir, "%s/r%d", tp.dir, round);
    REQUIRE(mkdir(dir, 0777) == 0);
    snprintf(idir, sizeof idir, "%s/index", dir);
    snprintf(ldir, sizeof ldir, "%s/log", dir);
    snprintf(snap[0], sizeof snap[0], "%s/snap0", dir);
    snprintf(snap[1], sizeof snap[1], "%s/snap1", dir);
    snprintf(data, sizeof data, "%s/data.mdb", idir);
    REQUIRE(mkdir(idir, 0777) == 0);
    h5tx__kv *kv;
    h5tx__plog *l;
    OK(h5tx__idx_open(idir, 1, 0, &kv, &e));
    OK(h5tx__kv_write(kv, init_store, NULL, 1, &e));
    OK(h5tx__plog_open(ldir, sid, 1, 0, 0, &l, &e));
    copy_file(data, snap[0]);
    int t = 1 + (int)rng_below(&seed, 12);
    h5tx_rev last_sync = 0;
    off_t flushed = 4096;
    int have_b = 0;
    for (int r = 1; r <= t; r++) {
      int sync = rng_below(&seed, 2) == 0;
      uint64_t fid = r == 1 ? 1 : 1 + rng_below(&seed, 2);
      h5tx__lop create[2] = {
          {.op = LOP_FILE,
           .fid = fid,
           .page_size = PS,
           .name = fid == 1 ? "a" : "b",
           .name_len = 1},
          {.op = LOP_NAME, .fid = fid, .name = fid == 1 ? "a" : "b", .name_len = 1}};
      int creates = r == 1 || (fid == 2 && !have_b);
      if (fid == 2) have_b = 1;
      unsigned pages = (unsigned)(1 + rng_below(&seed, 255));
      commit(kv, l, (h5tx_rev)r, fid, pages, creates ? create : NULL, creates ? 2 : 0, &seed, 0,
             sync);
      snprintf(seg, sizeof seg, "%s/%016llx.seg", ldir, (unsigned long long)commit_places[r].seg);
      if (sync) {
        last_sync = (h5tx_rev)r;
        flushed = size_of(seg);
      }
      copy_file(data, snap[r % 2]);
    }
    /* the cut */
    off_t full = size_of(seg);
    h5tx__plog_close(l); /* it seals: a power cut does not */
    h5tx__kv_close(kv);
    int fd = open(seg, O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, full) == 0);
    int mode = (int)rng_below(&seed, 4);
    if (mode == 0) {
      REQUIRE(ftruncate(fd, flushed) == 0);
    } else if (mode == 1) {
      REQUIRE(ftruncate(fd, flushed + (off_t)rng_below(&seed, (uint64_t)(full - flushed) + 1)) ==
              0);
    } else {
      uint8_t blk[4096];
      for (off_t o = flushed; o < full; o += 4096)
        if (rng_below(&seed, 3) == 0) {
          for (size_t i = 0; i < sizeof blk; i++)
            blk[i] = mode == 2 ? 0 : (uint8_t)rng_next(&seed);
          REQUIRE(pwrite(fd, blk, sizeof blk, o) == (ssize_t)sizeof blk);
        }
    }
    close(fd);
    int older = t > 1 && rng_below(&seed, 2);
    copy_file(snap[(t - older) % 2], data);
    char lock[1000];
    snprintf(lock, sizeof lock, "%s/lock.mdb", idir);
    unlink(lock);
    printf("round %d: %d commits, last sync %llu, index as of %d, log mode %d\n", round, t,
           (unsigned long long)last_sync, t - older, mode);
    /* reboot (recovery reads the log only after one: h5tx__boot_id) */
    char boot[32];
    snprintf(boot, sizeof boot, "%d", 1000 + round);
    setenv("H5TX_TEST_BOOT", boot, 1);
    /* reopen and recover */
    OK(h5tx__idx_open(idir, 0, 0, &kv, &e));
    OK(h5tx__plog_open(ldir, sid, 0, 0, 0, &l, &e));
    h5tx_rev head = 0;
    OK(h5tx__recover_index(kv, l, quiet, NULL, &head, &e));
    printf("  head %llu\n", (unsigned long long)head);
    CHECK(head >= last_sync);
    CHECK(head <= (h5tx_rev)t);
    if (head > (h5tx_rev)(t - older)) rolled_forward++;
    if (head < (h5tx_rev)(t - older)) rolled_back++;
    check_pages(kv, l, head);
    /* a second recovery changes nothing */
    h5tx_rev again = 0;
    OK(h5tx__recover_index(kv, l, quiet, NULL, &again, &e));
    CHECK(again == head);
    h5tx__plog_close(l);
    h5tx__kv_close(kv);
  }
  printf("rounds that rolled forward: %d, back: %d\n", rolled_forward, rolled_back);
  remove_tree(tp.dir);
  return check_done("core_powerloss2");
}
