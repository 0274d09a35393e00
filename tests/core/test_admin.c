/* test_admin.c - inspecting a store: per-file usage (holes, zero, raw and
 * compressed pages), page differences between revisions (including an
 * identical rewrite, growth, removal and re-creation), verification of a
 * clean and of a damaged store, statistics, leases and readers. */
#include "check_fs.h"
#include "check_verify.h"

static h5tx_error e;

#define PS 4096

typedef struct runs {
  int n;
  uint64_t first[16], count[16], off[16], len[16];
} runs;

static int collect(void *arg, uint64_t first, uint64_t count, uint64_t off, uint64_t len) {
  runs *r = arg;
  if (r->n < 16) {
    r->first[r->n] = first;
    r->count[r->n] = count;
    r->off[r->n] = off;
    r->len[r->n] = len;
  }
  r->n++;
  return 0;
}

static runs diff(h5tx_store *s, const char *name, h5tx_rev a, h5tx_rev b) {
  runs r = {0};
  OK(h5tx_diff(s, name, a, b, collect, &r, &e));
  return r;
}

static void fill(uint8_t *p, size_t n, int seed, int compressible) {
  uint64_t x = (uint64_t)seed * 7919 + 1;
  for (size_t i = 0; i < n; i++)
    p[i] = compressible ? (uint8_t)(i / 64 + seed) : (uint8_t)(rng_next(&x));
}

static h5tx_rev write_pages(h5tx_store *s, const char *name, int first, int count, int seed,
                            int compressible) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, name, &wo, &w, &e));
  uint8_t buf[PS];
  for (int p = first; p < first + count; p++) {
    fill(buf, PS, seed + p, compressible);
    OK(h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e));
  }
  h5tx_rev r;
  OK(h5tx_writer_commit(w, "pages", &r, &e));
  h5tx_writer_close(w);
  return r;
}

typedef struct problems {
  int n;
  char first[1024];
} problems;

static void on_problem(void *arg, int kind, const char *msg) {
  problems *p = arg;
  if (kind != H5TX_VERIFY_DAMAGE) return;
  if (!p->n) snprintf(p->first, sizeof p->first, "%s", msg);
  p->n++;
}

static int lease_seen(void *arg, const h5tx_lease *l) {
  if (strcmp(l->name, "f.bin") == 0 && l->pid == (uint32_t)getpid() && l->alive) ++*(int *)arg;
  return 0;
}

static int reader_seen(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since) {
  if (pid == (uint32_t)getpid() && rev == 1 && since > 0) ++*(int *)arg;
  return 0;
}

/* A store written while verify runs: its progress callback (called with no
 * transaction open) commits new revisions, a new file, a tag, and collects
 * garbage. Verify judges one pinned revision and finds nothing wrong. */
typedef struct busy {
  h5tx_store *s;
  int calls;
  problems pr;
} busy;

static void busy_problem(void *arg, int kind, const char *msg) {
  on_problem(&((busy *)arg)->pr, kind, msg);
}

static void busy_progress(void *arg, uint64_t done, uint64_t total) {
  (void)done;
  (void)total;
  busy *b = arg;
  b->calls++;
  char name[32];
  snprintf(name, sizeof name, "new%d.bin", b->calls);
  h5tx_rev r = write_pages(b->s, name, 0, 2, b->calls, 0);
  write_pages(b->s, "big.bin", 0, 1, 100 + b->calls, 0);
  OK(h5tx_tag_set(b->s, name, r, &e));
  h5tx_gc_opts g = {1, 0, 0};
  h5tx_gc_result res;
  OK(h5tx_gc(b->s, &g, &res, &e));
}

static void test_verify_while_written(const char *dir) {
  char p[700];
  snprintf(p, sizeof p, "%s/busy.h5tx", dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.durability = H5TX_NOSYNC;
  busy b = {0};
  OK(h5tx_store_open(p, &o, &b.s, &e));
  for (int k = 0; k < 4; k++)
    write_pages(b.s, "big.bin", 0, 600, k, 0); /* 2400 versions: many batches */
  h5tx_rev head;
  OK(h5tx_store_head(b.s, &head, &e));
  h5tx_verify_result vr;
  OK(h5tx_verify(b.s, busy_problem, busy_progress, &b, &vr, &e));
  if (b.pr.n) fprintf(stderr, "verify while written: %d problems, first: %s\n", b.pr.n, b.pr.first);
  CHECK(b.calls >= 3); /* it did write while verifying (gc shrinks what is left to verify) */
  CHECK(vr.problems == 0 && b.pr.n == 0);
  CHECK(vr.page_versions >= 600);
  /* Afterwards, quiet, the whole store is clean too. */
  memset(&b.pr, 0, sizeof b.pr);
  OK(h5tx_verify(b.s, busy_problem, NULL, &b, &vr, &e));
  CHECK(vr.problems == 0 && b.pr.n == 0);
  h5tx_store_close(b.s);
}

int main(void) {
  test_paths tp = temp_paths();
  h5tx_store *s = open_store(tp.store, PS, 0);
  /* r1: pages 0-3 compressible, 6-7 random (page 4-5 holes). */
  h5tx_rev r1 = write_pages(s, "f.bin", 0, 4, 1, 1);
  CHECK(r1 == 1);
  h5tx_writer *w;
  OK(h5tx_writer_open(s, "f.bin", NULL, &w, &e));
  uint8_t buf[PS];
  fill(buf, PS, 9, 0);
  OK(h5tx_writer_write(w, 6 * PS, buf, PS, &e));
  OK(h5tx_writer_write(w, 7 * PS, buf, PS, &e));
  h5tx_rev r2;
  OK(h5tx_writer_commit(w, NULL, &r2, &e));
  /* r3: page 1 zeroed, page 2 rewritten identically, page 3 changed. */
  memset(buf, 0, PS);
  OK(h5tx_writer_write(w, 1 * PS, buf, PS, &e));
  fill(buf, PS, 1 + 2, 1);
  OK(h5tx_writer_write(w, 2 * PS, buf, PS, &e));
  fill(buf, PS, 77, 1);
  OK(h5tx_writer_write(w, 3 * PS, buf, PS, &e));
  h5tx_rev r3;
  OK(h5tx_writer_commit(w, NULL, &r3, &e));
  CHECK(r2 == 2 && r3 == 3);

  /* Usage at r3: pages 0,1(zero),2,3,6,7 stored; 4,5 holes. */
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r3, &sn, &e));
  h5tx_file_usage u;
  OK(h5tx_snap_usage(sn, "f.bin", &u, &e));
  CHECK(u.pages == 6);
  CHECK(u.zero_pages == 1);
  CHECK(u.lz4_pages == 3 && u.zstd_pages == 0 && u.raw_pages == 2); /* lz4: the default */
  CHECK(u.stored_bytes > 2 * PS && u.stored_bytes < 4 * PS);
  h5tx_snap_close(sn);

  /* Leases and readers while a writer and a snapshot are open. */
  int seen = 0;
  OK(h5tx_leases(s, lease_seen, &seen, &e));
  CHECK(seen == 1);
  OK(h5tx_snap_open(s, r1, &sn, &e));
  seen = 0;
  OK(h5tx_readers(s, reader_seen, &seen, &e));
  CHECK(seen == 1);
  h5tx_stats st;
  OK(h5tx_store_stats(s, &st, &e));
  CHECK(st.head == r3 && st.revisions == 3 && st.collected == 0);
  CHECK(st.files == 1 && st.logical_bytes == 8 * PS);
  CHECK(st.leases == 1);
  CHECK(st.readers >= 2);               /* the snapshot and the writer's base */
  CHECK(st.page_versions == 4 + 2 + 2); /* r1: 4, r2: 2, r3: pages 1 and 3 */
  CHECK(st.written_bytes == st.page_versions * PS);
  CHECK(st.lz4_bytes < st.lz4_raw_bytes && st.zstd_bytes == 0);
  /* What the store takes: every payload once (pages 6 and 7 of r2 are the
   * same bytes: one payload if they share it), in the log's segments,
   * which hold headers too; an index. */
  CHECK(st.live_bytes <= st.stored_bytes && st.live_bytes + PS >= st.stored_bytes);
  CHECK(st.segments >= 1 && st.log_bytes > st.live_bytes && st.index_bytes > 0);
  h5tx_usage su;
  OK(h5tx_store_usage(s, &su, &e));
  CHECK(su.page_versions == st.page_versions && su.page_bytes == st.stored_bytes);
  CHECK(su.live_bytes == st.live_bytes && su.segments == st.segments);
  CHECK(su.log_bytes == st.log_bytes && su.index_bytes == st.index_bytes);
  h5tx_snap_close(sn);
  h5tx_writer_close(w);
  OK(h5tx_store_stats(s, &st, &e));
  CHECK(st.leases == 0);

  /* Diffs. */
  runs d = diff(s, "f.bin", r1, r1);
  CHECK(d.n == 0);
  d = diff(s, "f.bin", r1, r2); /* grew from 4 to 8 pages: pages 4..7 */
  CHECK(d.n == 1 && d.first[0] == 4 && d.count[0] == 4 && d.off[0] == 4 * PS && d.len[0] == 4 * PS);
  d = diff(s, "f.bin", r2, r3); /* page 1 and page 3, not page 2 */
  CHECK(d.n == 2 && d.first[0] == 1 && d.count[0] == 1 && d.first[1] == 3 && d.count[1] == 1);
  d = diff(s, "f.bin", r3, r2); /* symmetric */
  CHECK(d.n == 2 && d.first[0] == 1 && d.first[1] == 3);
  d = diff(s, "f.bin", r1, H5TX_HEAD);
  CHECK(d.n == 2 && d.first[0] == 1 && d.count[0] == 1 && d.first[1] == 3 && d.count[1] == 5);
  FAILS(h5tx_diff(s, "nope.bin", r1, r3, collect, &d, &e), H5TX_ENOENT, "no file 'nope.bin'");
  FAILS(h5tx_diff(s, "f.bin", r1, 99, collect, &d, &e), H5TX_ENOENT, "no revision 99");
  h5tx_rev r4;
  OK(h5tx_remove(s, "f.bin", NULL, &r4, &e));
  d = diff(s, "f.bin", r3, r4); /* removed: everything */
  CHECK(d.n == 1 && d.first[0] == 0 && d.count[0] == 8);
  h5tx_rev r5 = write_pages(s, "f.bin", 0, 1, 1, 1); /* re-created, page 0 as in r1 */
  d = diff(s, "f.bin", r1, r5);                      /* same page 0 bytes, shorter: pages 1..3 */
  CHECK(d.n == 1 && d.first[0] == 1 && d.count[0] == 3);

  /* Verify: clean, then with one page damaged. */
  problems pr = {0};
  h5tx_verify_result vr;
  OK(h5tx_verify(s, on_problem, NULL, &pr, &vr, &e));
  CHECK(vr.problems == 0 && pr.n == 0 && vr.notes == 0);
  CHECK(vr.page_versions == 9 && vr.records > 0);
  /* 8 page records (r5's page 0 shares r1's) and 5 commit records */
  CHECK(vr.segments >= 1 && vr.log_records >= 8 + 5);
  h5tx_store_close(s);

  /* A store with raw pages, so the test can find one page's bytes. */
  char raw[700];
  snprintf(raw, sizeof raw, "%.600s/raw.h5tx", tp.dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.codec = H5TX_CODEC_NONE;
  o.page_size = PS;
  OK(h5tx_store_open(raw, &o, &s, &e));
  OK(h5tx_writer_open(
      s, "d/x.bin",
      &(h5tx_writer_opts){.create = 1, .base = H5TX_HEAD, .codec = -1, .durability = -1}, &w, &e));
  for (int p = 0; p < 3; p++) {
    char cell[PS], one[17];
    for (int i = 0; i < PS; i += 16) {
      snprintf(one, sizeof one, "PAGE%02d-CELL%05d", p, i / 16);
      memcpy(cell + i, one, 16);
    }
    OK(h5tx_writer_write(w, (uint64_t)p * PS, cell, PS, &e));
  }
  OK(h5tx_writer_commit(w, NULL, NULL, &e));
  h5tx_writer_close(w);
  /* Three distinct raw pages: 3 pages of payload, in one segment of the
   * log (with its header and the batches' headers). */
  h5tx_usage ru;
  OK(h5tx_store_usage(s, &ru, &e));
  CHECK(ru.page_versions == 3 && ru.page_bytes == 3 * PS && ru.live_bytes == 3 * PS);
  CHECK(ru.segments == 1 && ru.log_bytes >= 3 * PS + 2 * 4096);
  h5tx_store_close(s);
  REQUIRE(flip_in_log(raw, "PAGE01-CELL00009", 3, 0x40));
  findings f = verify_store(raw);
  /* the page, and the batch holding it: its segment stops there for
   * recovery and repair, so its other pages and the commit record after it
   * too */
  CHECK(found(&f, "damage",
              "file 'd/x.bin' page 1 revision 1: ", "checksum mismatch (page log segment"));
  CHECK(found(&f, "damage", "damaged batch at offset", "a record fails its check"));
  CHECK(found(&f, "damage", "page 0 revision 1: ", "beyond the segment's valid part"));
  CHECK(f.res.page_versions == 3 && f.damage >= 2);
  test_verify_while_written(tp.dir);
  remove_tree(tp.dir);
  return check_done("core_admin");
}
