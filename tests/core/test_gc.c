/* test_gc.c - garbage collection frees space and never removes a version
 * that a kept revision (the newest N, head, one made since a time), a tag
 * or a live snapshot can read; a dry run reports the same and changes
 * nothing. Snapshots of other processes are tested in test_isolation.c. */
#include "check.h"

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
   * collecting, leaves the data file no larger than twice what it was. */
  uint64_t file_before = after.file_bytes;
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
  CHECK(after.file_bytes <= 2 * file_before);
  h5tx_store_close(s);
  remove_tree(tp.dir);
  return check_done("core_gc");
}
