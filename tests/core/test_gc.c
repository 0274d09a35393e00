/* test_gc.c - garbage collection frees space and never removes a version
 * that a kept revision (the newest N, head, one made since a time), a tag
 * or a live snapshot can read; a dry run reports the same and changes
 * nothing; phase 2 works in batches that let commits through. Snapshots
 * of other processes are tested in test_isolation.c, compaction of the
 * page log in test_compact.c. */
#include "check.h"
#include "check_fs.h"
#include "pipes.h"

#include <signal.h>
#include <sys/wait.h>

static h5tx_error e;

#define PS 4096
#define NPAGES 32
#define NREVS 12

static uint8_t content[NREVS + 1][NPAGES * PS];

static void check_rev(h5tx_store *s, h5tx_rev r, int readable) {
  h5tx_snap *sn;
  int rc = h5tx_snap_open(s, r, &sn, &e);
  if (!readable) {
    if (rc != H5TX_EGONE || !strstr(e.msg, "garbage-collected")) {
      fprintf(stderr, "revision %llu should be collected, got %s\n", (unsigned long long)r,
              h5tx_strerror(rc));
      CHECK(0);
    }
    if (rc == 0) h5tx_snap_close(sn);
    return;
  }
  if (rc) {
    fprintf(stderr, "revision %llu: %s\n", (unsigned long long)r, e.msg);
    CHECK(0);
    return;
  }
  static uint8_t buf[NPAGES * PS];
  OK(h5tx_snap_read(sn, "f.bin", 0, buf, sizeof buf, &e));
  if (memcmp(buf, content[r], sizeof buf) != 0) {
    fprintf(stderr, "revision %llu reads wrong bytes after gc\n", (unsigned long long)r);
    CHECK(0);
  }
  h5tx_snap_close(sn);
}

/* Bytes allocated to the page log of store `store` (what `du` counts). */
static uint64_t log_du(const char *store) {
  char dir[700];
  snprintf(dir, sizeof dir, "%s/log", store);
  return du_bytes(dir);
}

static void check_rev_gone(h5tx_store *s, h5tx_rev r) {
  h5tx_snap *sn;
  int rc = h5tx_snap_open(s, r, &sn, &e);
  CHECK(rc == H5TX_EGONE);
  if (rc == 0) h5tx_snap_close(sn);
}

/* Write `npages` pages of byte `fill` to `name` (created) in one commit. */
static h5tx_rev fill_file(h5tx_store *s, const char *name, int npages, int fill) {
  static uint8_t page[PS];
  memset(page, fill, sizeof page);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, name, &wo, &w, &e));
  for (int p = 0; p < npages; p++)
    OK(h5tx_writer_write(w, (uint64_t)p * PS, page, PS, &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, NULL, &r, &e));
  h5tx_writer_close(w);
  return r;
}

static uint64_t page_versions(h5tx_store *s) {
  h5tx_usage u;
  OK(h5tx_store_usage(s, &u, &e));
  return u.page_versions;
}

/* The page versions of a removed file are freed once no kept revision
 * reads them; a renamed file keeps its pages; a tag or a pin on a revision
 * from before the removal keeps them. */
static void test_removed_files(const char *dir) {
  char p[700];
  snprintf(p, sizeof p, "%s/removed.h5tx", dir);
  h5tx_store *s = open_store(p, PS, 0);
  fill_file(s, "gone", 3, 'g');                   /* 1 */
  fill_file(s, "gone", 3, 'h');                   /* 2: three more versions */
  fill_file(s, "moved", 2, 'm');                  /* 3 */
  h5tx_rev before = fill_file(s, "kept", 1, 'k'); /* 4 */
  OK(h5tx_tag_set(s, "before", before, &e));
  h5tx_rev removed;
  OK(h5tx_remove(s, "gone", NULL, &removed, &e));           /* 5 */
  OK(h5tx_rename(s, "moved", "dir/moved", NULL, NULL, &e)); /* 6 */
  fill_file(s, "kept", 1, 'l');                             /* 7 */
  CHECK(page_versions(s) == 6 + 2 + 2);

  /* The tag keeps revision 4, which reads "gone": its newest pages stay. */
  h5tx_gc_opts g = {1, 0, 0};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 5);  /* 1, 2, 3, 5, 6 */
  CHECK(page_versions(s) == 3 + 2 + 2); /* gone@2, moved, kept@4 and @7 */
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, before, &sn, &e));
  char buf[PS];
  OK(h5tx_snap_read(sn, "gone", 2 * PS, buf, PS, &e));
  CHECK(is_all(buf, PS, 'h'));
  /* A pin on revision 4 keeps them too, without the tag. */
  OK(h5tx_tag_delete(s, "before", &e));
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_pinned == 1 && res.versions_freed == 0);
  OK(h5tx_snap_read(sn, "gone", 0, buf, PS, &e));
  CHECK(is_all(buf, PS, 'h'));
  h5tx_snap_close(sn);

  /* Nothing reads them any more: freed, and counted. */
  uint64_t was = page_versions(s);
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 1 && res.versions_freed == 4); /* gone x3, kept@4 */
  CHECK(page_versions(s) == was - 4);
  CHECK(page_versions(s) == 2 + 1); /* dir/moved and kept at head */
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  OK(h5tx_snap_read(sn, "dir/moved", PS, buf, PS, &e));
  CHECK(is_all(buf, PS, 'm'));
  FAILS(h5tx_snap_read(sn, "gone", 0, buf, PS, &e), H5TX_ENOENT, "no file 'gone'");
  h5tx_snap_close(sn);
  /* A name removed and created again is a new file with its own pages. */
  fill_file(s, "gone", 1, 'n');
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(page_versions(s) == 2 + 1 + 1);
  (void)removed;
  h5tx_store_close(s);
}

/* --keep-last with a huge count keeps every revision (r + N must not wrap). */
static void test_keep_last_huge(const char *dir) {
  char p[700];
  snprintf(p, sizeof p, "%s/huge.h5tx", dir);
  h5tx_store *s = open_store(p, PS, 0);
  for (int i = 0; i < 4; i++)
    fill_file(s, "f", 1, 'a' + i);
  uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 3, (uint64_t)1 << 63};
  for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
    h5tx_gc_opts g = {huge[i], 0, 0};
    h5tx_gc_result res;
    OK(h5tx_gc(s, &g, &res, &e));
    if (res.revisions_collected != 0)
      fprintf(stderr, "keep_last %llu collected %llu\n", (unsigned long long)huge[i],
              (unsigned long long)res.revisions_collected);
    CHECK(res.revisions_collected == 0);
  }
  CHECK(page_versions(s) == 4);
  h5tx_gc_opts g = {3, 0, 0}; /* and an ordinary count still works */
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 1 && page_versions(s) == 3);
  h5tx_store_close(s);
}

/* Phase 2 drops versions in batches of at most 4096 per index transaction
 * and holds none between them: a gc in another process, stopped between
 * two batches (stop point gc-batch), lets a commit through; what it then
 * leaves is exactly what the kept revisions and the new one read. */
#define BPS 512
#define BPAGES 5000
static uint8_t bfile[3][BPAGES * BPS];

static h5tx_rev write_all(h5tx_store *s, uint8_t *bytes, uint64_t *rng) {
  for (size_t i = 0; i < sizeof bfile[0]; i++)
    bytes[i] = (uint8_t)rng_next(rng);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "big", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, bytes, sizeof bfile[0], &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, NULL, &r, &e));
  h5tx_writer_close(w);
  return r;
}

static void check_big(h5tx_store *s, h5tx_rev r, const uint8_t *bytes) {
  static uint8_t buf[BPAGES * BPS];
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r, &sn, &e));
  OK(h5tx_snap_read(sn, "big", 0, buf, sizeof buf, &e));
  CHECK(memcmp(buf, bytes, sizeof buf) == 0);
  h5tx_snap_close(sn);
}

/* A gc (keep head) in another process, stopped at `stop`: its pid, the
 * pipe it says 'S' on and the one that lets it go on. */
typedef struct gc_peer {
  pid_t pid;
  int up, down;
} gc_peer;

static gc_peer gc_stopped(const char *store, const char *stop, uint64_t collect, uint64_t free) {
  int up[2], down[2];
  REQUIRE(pipe(up) == 0 && pipe(down) == 0);
  pid_t pid = spawn();
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    char v[64];
    snprintf(v, sizeof v, "%s:%d:%d", stop, up[1], down[0]);
    setenv("H5TX_TEST_STOP", v, 1);
    h5tx_store *cs = open_store(store, BPS, 0);
    h5tx_gc_opts g = {1, 0, 0};
    h5tx_gc_result res;
    OK(h5tx_gc(cs, &g, &res, &e));
    CHECK(res.revisions_collected == collect && res.versions_freed == free);
    h5tx_store_close(cs);
    _exit(check_failures ? 1 : 0);
  }
  close(up[1]);
  close(down[0]);
  char c = 0;
  REQUIRE(read(up[0], &c, 1) == 1 && c == 'S');
  return (gc_peer){pid, up[0], down[1]};
}

static void gc_finish(gc_peer *g, int kill_it) {
  if (kill_it)
    kill(g->pid, SIGKILL);
  else
    REQUIRE(write(g->down, "g", 1) == 1);
  close(g->down);
  int status = 0;
  REQUIRE(waitpid(g->pid, &status, 0) == g->pid);
  if (kill_it)
    CHECK(WIFSIGNALED(status));
  else
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(g->up);
}

static void test_batches(const char *dir, uint64_t *rng) {
  char p[700];
  snprintf(p, sizeof p, "%s/batches.h5tx", dir);
  h5tx_store *s = open_store(p, BPS, 0);
  REQUIRE(write_all(s, bfile[0], rng) == 1);
  REQUIRE(write_all(s, bfile[1], rng) == 2);
  CHECK(page_versions(s) == 2 * BPAGES);
  gc_peer g = gc_stopped(p, "gc-batch", 1, BPAGES);
  /* gc stands between two batches: a commit goes through */
  alarm(60);
  REQUIRE(write_all(s, bfile[2], rng) == 3);
  alarm(0);
  /* the first batch dropped some of revision 1's versions, not all */
  uint64_t mid = page_versions(s);
  CHECK(mid > 2 * BPAGES && mid < 3 * BPAGES);
  gc_finish(&g, 0);
  /* revision 1 went; 2 (head when gc began) and 3 (made during it) stay */
  check_rev_gone(s, 1);
  check_big(s, 2, bfile[1]);
  check_big(s, 3, bfile[2]);
  CHECK(page_versions(s) == 2 * BPAGES);

  /* A gc killed between two batches: what it collects is collected before
   * the first version goes, for good: a later gc that would keep it (the
   * newest 10) does not bring it back half swept, and with nothing new to
   * collect it drops the rest. */
  g = gc_stopped(p, "gc-batch", 1, BPAGES);
  gc_finish(&g, 1);
  check_rev_gone(s, 2);
  check_big(s, 3, bfile[2]);
  mid = page_versions(s);
  CHECK(mid > BPAGES && mid < 2 * BPAGES);
  h5tx_gc_opts keep10 = {10, 0, 0};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &keep10, &res, &e));
  CHECK(res.revisions_collected == 0 && res.versions_freed == mid - BPAGES);
  check_rev_gone(s, 2);
  CHECK(page_versions(s) == BPAGES);
  check_big(s, 3, bfile[2]);
  h5tx_store_close(s);
}

int main(void) {
  uint64_t rng = test_seed("core_gc");
  test_paths tp = temp_paths();
  h5tx_store *s = open_store(tp.store, PS, 0);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "f.bin", &wo, &w, &e));
  uint64_t time_of[NREVS + 1];
  /* Revision r rewrites a random third of the pages with random bytes. */
  for (int r = 1; r <= NREVS; r++) {
    memcpy(content[r], content[r - 1], sizeof content[r]);
    for (int p = 0; p < NPAGES; p++) {
      if (r > 1 && rng_below(&rng, 3)) continue;
      for (int i = 0; i < PS; i++)
        content[r][p * PS + i] = (uint8_t)rng_next(&rng);
      OK(h5tx_writer_write(w, (uint64_t)p * PS, content[r] + p * PS, PS, &e));
    }
    h5tx_rev rev;
    OK(h5tx_writer_commit(w, NULL, &rev, &e));
    REQUIRE(rev == (h5tx_rev)r);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_of[r] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  }
  h5tx_writer_close(w);
  OK(h5tx_tag_set(s, "keep-me", 3, &e));
  h5tx_snap *pin;
  OK(h5tx_snap_open(s, 5, &pin, &e)); /* a live snapshot pins 5 */

  h5tx_usage before, after;
  OK(h5tx_store_usage(s, &before, &e));
  /* Dry run first: what it reports is what the real run then does. */
  h5tx_gc_opts g = {2, time_of[NREVS - 3] + 1, 1};
  h5tx_gc_result dry, real;
  OK(h5tx_gc(s, &g, &dry, &e));
  OK(h5tx_store_usage(s, &after, &e));
  CHECK(after.page_versions == before.page_versions);
  for (h5tx_rev r = 1; r <= NREVS; r++)
    check_rev(s, r, 1);
  g.dry_run = 0;
  OK(h5tx_gc(s, &g, &real, &e));
  /* Kept: 11, 12 (last 2), 10 (since time), 3 (tag), 5 (pinned). */
  int kept[NREVS + 1] = {0};
  kept[3] = kept[5] = kept[10] = kept[11] = kept[12] = 1;
  CHECK(real.revisions_collected == NREVS - 5);
  CHECK(dry.revisions_collected == real.revisions_collected);
  CHECK(dry.versions_freed == real.versions_freed && dry.bytes_freed == real.bytes_freed);
  CHECK(real.revisions_pinned >= 1);
  CHECK(real.versions_freed > 0 && real.bytes_freed > 0);
  OK(h5tx_store_usage(s, &after, &e));
  CHECK(after.page_versions == before.page_versions - real.versions_freed);
  CHECK(after.page_bytes == before.page_bytes - real.bytes_freed);
  for (h5tx_rev r = 1; r <= NREVS; r++)
    check_rev(s, r, kept[r]);
  /* The pinned snapshot still reads its revision. */
  static uint8_t buf[NPAGES * PS];
  OK(h5tx_snap_read(pin, "f.bin", 0, buf, sizeof buf, &e));
  CHECK(memcmp(buf, content[5], sizeof buf) == 0);
  /* A second gc with nothing new to drop frees nothing. */
  OK(h5tx_gc(s, &g, &real, &e));
  CHECK(real.revisions_collected == 0 && real.versions_freed == 0);

  /* Unpinned and untagged, 3 and 5 go too; head always stays. */
  h5tx_snap_close(pin);
  OK(h5tx_tag_delete(s, "keep-me", &e));
  h5tx_gc_opts g1 = {1, 0, 0};
  OK(h5tx_gc(s, &g1, &real, &e));
  CHECK(real.revisions_collected == 4); /* 3, 5, 10 and 11 */
  for (h5tx_rev r = 1; r < NREVS; r++)
    check_rev(s, r, 0);
  check_rev(s, NREVS, 1);
  /* Every page version left is one head reads: exactly NPAGES of them. */
  OK(h5tx_store_usage(s, &after, &e));
  CHECK(after.page_versions == NPAGES);

  /* Freed space is reused: rewriting everything several times more, then
   * collecting, leaves the index files no larger than twice what it was. */
  uint64_t file_before = after.index_bytes, log_before = log_du(tp.store);
  for (int k = 0; k < 3; k++) {
    OK(h5tx_writer_open(s, "f.bin", NULL, &w, &e));
    for (int p = 0; p < NPAGES; p++) {
      for (int i = 0; i < PS; i++)
        buf[i] = (uint8_t)rng_next(&rng);
      OK(h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e));
    }
    OK(h5tx_writer_commit(w, NULL, NULL, &e));
    h5tx_writer_close(w);
    OK(h5tx_gc(s, &g1, &real, &e));
  }
  OK(h5tx_store_usage(s, &after, &e));
  CHECK(after.page_versions == NPAGES);
  CHECK(after.index_bytes <= 2 * file_before);
  /* and so is the page log's: compaction gives the dead records back.
   * What stays is head's pages, each revision's commit record (a batch
   * of its own: 8 KiB) and segment headers; without compaction every
   * rewrite would stay too. */
  uint64_t log_after = log_du(tp.store);
  printf("page log: %llu bytes after gc, %llu before the rewrites; head holds %u\n",
         (unsigned long long)log_after, (unsigned long long)log_before, NPAGES * PS);
  CHECK(log_after <= 4 * NPAGES * PS);
  h5tx_store_close(s);
  test_removed_files(tp.dir);
  test_keep_last_huge(tp.dir);
  test_batches(tp.dir, &rng);
  remove_tree(tp.dir);
  return check_done("core_gc");
}
