/* test_faults.c - outcomes reported when the disk fails under a commit,
 * with real LMDB and failures injected by fault_shim.c (LD_PRELOAD):
 *  - a flush that fails under a `sync` commit (the page log's or the
 *    index's): nothing is committed (H5TX_EIO), the writer keeps its
 *    changes, and a reopen finds the same head; the same writer's retry
 *    commits into a fresh segment, so the revision reads right even when
 *    the bytes the failed flush left are gone from the old one;
 *  - a failed meta-page write (LMDB's MDB_PANIC): the store is reopened on
 *    its next use, in the same long-lived process. */
#include "check_fault.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static h5tx_error e;

static h5tx_writer *open_writer(h5tx_store *s, const char *name) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, name, &wo, &w, &e));
  return w;
}

static h5tx_store *open_sync(const char *path) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = 4096;
  o.durability = H5TX_SYNC;
  h5tx_store *s;
  OK(h5tx_store_open(path, &o, &s, &e));
  return s;
}

/* A flush that fails under a `sync` commit (`pass` flushes let through
 * first: 0 fails the page log's flush, 1 the index's): nothing is
 * committed, head stays, the writer keeps its changes and commits them
 * later; reopened (recovery runs), the store is still at that head, the
 * failed attempt voided in the log. */
static void test_sync_fails(int pass) {
  test_paths tp = temp_paths();
  h5tx_store *s = open_sync(tp.store);
  h5tx_writer *w = open_writer(s, "a.h5");
  h5tx_rev r1, r2 = 0, r3 = 0, head;
  OK(h5tx_writer_write(w, 0, "one", 3, &e));
  OK(h5tx_writer_commit(w, "one", &r1, &e));
  OK(h5tx_writer_write(w, 0, "two", 3, &e));
  fault(FAULT_SYNC, pass, 1);
  memset(&e, 0, sizeof e);
  int rc = h5tx_writer_commit(w, "two", &r2, &e);
  fault(FAULT_SYNC, 0, 0);
  printf("  commit with flush %d failing: %s: %s\n", pass + 1, h5tx_strerror(rc), e.msg);
  CHECK(rc == H5TX_EIO);
  CHECK(strstr(e.msg, "nothing") && strstr(e.msg, "committed"));
  OK(h5tx_store_head(s, &head, &e));
  CHECK(head == r1);
  CHECK(h5tx_writer_base(w) == r1 && h5tx_writer_dirty(w));
  h5tx_writer_close(w);
  h5tx_store_close(s);
  s = open_sync(tp.store);
  OK(h5tx_store_head(s, &head, &e));
  CHECK(head == r1);
  if (h5tx_store_recovered(s)) printf("  recovery said: %s", h5tx_store_recovered(s));
  w = open_writer(s, "a.h5");
  OK(h5tx_writer_write(w, 0, "six", 3, &e));
  OK(h5tx_writer_commit(w, "three", &r3, &e));
  CHECK(r3 == r1 + 1);
  h5tx_writer_close(w);
  h5tx_snap *sn;
  char buf[4] = {0};
  OK(h5tx_snap_open(s, r3, &sn, &e));
  OK(h5tx_snap_read(sn, "a.h5", 0, buf, 3, &e));
  CHECK(strcmp(buf, "six") == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  remove_tree(tp.dir);
}

static void test_panic_reopens(void) {
  test_paths tp = temp_paths();
  h5tx_store *s = open_sync(tp.store);
  h5tx_writer *w = open_writer(s, "a.h5");
  h5tx_rev r1, r2, head;
  OK(h5tx_writer_write(w, 0, "one", 3, &e));
  OK(h5tx_writer_commit(w, "one", &r1, &e));
  OK(h5tx_writer_write(w, 0, "two", 3, &e));
  fault(FAULT_META, 0, 1);
  memset(&e, 0, sizeof e);
  int rc = h5tx_writer_commit(w, "two", &r2, &e);
  int hit = fault_hits(FAULT_META);
  fault(FAULT_META, 0, 0);
  printf("  commit with a failed meta write: %s: %s\n", h5tx_strerror(rc), e.msg);
  CHECK(hit == 1);
  CHECK(rc == H5TX_EIO);
  /* A reopen that fails says so, with its cause, on every call: here the
   * data file is cut short before the next use... */
  char dp[700], keep[700], cmd[1600];
  snprintf(dp, sizeof dp, "%s/index/data.mdb", tp.store);
  snprintf(keep, sizeof keep, "%s/data.keep", tp.dir);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", dp, keep);
  REQUIRE(system(cmd) == 0);
  REQUIRE(truncate(dp, 4096 * 3) == 0);
  for (int i = 0; i < 2; i++) {
    FAILS(h5tx_store_head(s, &head, &e), H5TX_ECORRUPT, "reopening it failed");
    CHECK(strstr(e.msg, "LMDB panic") && strstr(e.msg, "truncated"));
  }
  printf("  after the panic, data.mdb cut: %s\n", e.msg);
  /* ...and once the file is back, the same handle works again. */
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", keep, dp);
  REQUIRE(system(cmd) == 0);
  /* Same process, same handle: the engine is usable again. */
  memset(&e, 0, sizeof e);
  rc = h5tx_store_head(s, &head, &e);
  if (rc) printf("  head after the panic: %s: %s\n", h5tx_strerror(rc), e.msg);
  CHECK(rc == 0 && head == r1);
  memset(&e, 0, sizeof e);
  rc = h5tx_writer_commit(w, "two again", &r2, &e);
  if (rc) printf("  commit after the panic: %s: %s\n", h5tx_strerror(rc), e.msg);
  CHECK(rc == 0 && r2 == r1 + 1);
  h5tx_writer_close(w);
  h5tx_snap *sn;
  char buf[4] = {0};
  if (h5tx_snap_open(s, H5TX_HEAD, &sn, &e) == 0) {
    OK(h5tx_snap_read(sn, "a.h5", 0, buf, 3, &e));
    CHECK(strcmp(buf, "two") == 0);
    h5tx_snap_close(sn);
  } else {
    CHECK(!"snapshot after the panic");
  }
  h5tx_store_close(s);
  remove_tree(tp.dir);
}

/* The newest segment of the store's page log: its path and size. */
static void newest_segment(const char *store, char *path, size_t cap, off_t *size, int *count) {
  char dir[700];
  snprintf(dir, sizeof dir, "%s/log", store);
  DIR *d = opendir(dir);
  REQUIRE(d);
  char best[64] = "";
  *count = 0;
  for (struct dirent *de; (de = readdir(d));) {
    size_t n = strlen(de->d_name);
    if (n != 20 || strcmp(de->d_name + 16, ".seg") != 0) continue;
    (*count)++;
    if (strcmp(de->d_name, best) > 0) memcpy(best, de->d_name, 21);
  }
  closedir(d);
  REQUIRE(best[0]);
  snprintf(path, cap, "%s/%s", dir, best);
  struct stat st;
  REQUIRE(stat(path, &st) == 0);
  *size = st.st_size;
}

/* A `sync` commit whose page-log flush fails, retried by the same writer:
 * the retry commits into a fresh segment, never trusting the bytes the
 * failed flush left behind. Then those bytes are zeroed in the old segment
 * (what Linux may do: drop the dirty pages of a failed writeback and clear
 * the error, so a later fdatasync succeeds), and a reopened store still
 * reads the revision right. */
static void test_sync_retry_fresh_segment(void) {
  test_paths tp = temp_paths();
  h5tx_store *s = open_sync(tp.store);
  h5tx_writer *w = open_writer(s, "a.h5");
  h5tx_rev r1, r2 = 0;
  char big[3 * 4096];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (char)('a' + i % 23);
  OK(h5tx_writer_write(w, 0, big, sizeof big, &e));
  OK(h5tx_writer_commit(w, "one", &r1, &e));
  char seg[900], seg_after[900];
  off_t flushed, failed_end, size_now;
  int nseg, nseg_after;
  newest_segment(tp.store, seg, sizeof seg, &flushed, &nseg);
  OK(h5tx_writer_write(w, 0, "two", 3, &e));
  OK(h5tx_writer_write(w, 2 * 4096 + 5, "TWO", 3, &e));
  fault(FAULT_SYNC, 0, 1);
  memset(&e, 0, sizeof e);
  int rc = h5tx_writer_commit(w, "two", &r2, &e);
  fault(FAULT_SYNC, 0, 0);
  printf("  commit with the page log's flush failing: %s: %s\n", h5tx_strerror(rc), e.msg);
  CHECK(rc == H5TX_EIO);
  struct stat st;
  REQUIRE(stat(seg, &st) == 0);
  failed_end = st.st_size;
  CHECK(failed_end > flushed); /* the pages and the commit record went there */
  /* the same writer tries again */
  OK(h5tx_writer_commit(w, "two again", &r2, &e));
  CHECK(r2 == r1 + 1);
  newest_segment(tp.store, seg_after, sizeof seg_after, &size_now, &nseg_after);
  CHECK(nseg_after > nseg && strcmp(seg_after, seg) != 0);
  h5tx_writer_close(w);
  h5tx_store_close(s);
  /* the bytes the failed flush did not get to disk, gone */
  int fd = open(seg, O_WRONLY);
  REQUIRE(fd >= 0);
  static const char zero[1 << 16];
  for (off_t o = flushed; o < failed_end; o += (off_t)sizeof zero) {
    size_t n = failed_end - o < (off_t)sizeof zero ? (size_t)(failed_end - o) : sizeof zero;
    REQUIRE(pwrite(fd, zero, n, o) == (ssize_t)n);
  }
  close(fd);
  s = open_sync(tp.store);
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  CHECK(head == r2);
  h5tx_snap *sn;
  char want[sizeof big], got[sizeof big];
  memcpy(want, big, sizeof big);
  memcpy(want, "two", 3);
  memcpy(want + 2 * 4096 + 5, "TWO", 3);
  OK(h5tx_snap_open(s, r2, &sn, &e));
  memset(&e, 0, sizeof e);
  rc = h5tx_snap_read(sn, "a.h5", 0, got, sizeof got, &e);
  if (rc) printf("  reading revision %llu: %s\n", (unsigned long long)r2, e.msg);
  CHECK(rc == 0 && memcmp(got, want, sizeof got) == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  remove_tree(tp.dir);
}

int main(int argc, char **argv) {
  (void)argc;
  int rc = fault_load(argv, "core_faults");
  if (rc) return rc;
  test_sync_fails(0);
  test_sync_fails(1);
  test_sync_retry_fresh_segment();
  test_panic_reopens();
  return check_done("core_faults");
}
