/* test_dedupe.c - identical pages are stored once (docs/FORMAT.md,
 * "Identical pages are stored once"; DECISIONS.md "Dedupe, copy and
 * restore"): three writes of the same bytes through the three write paths
 * (one large write, page writes streamed past the writer cache, small
 * unaligned writes) store the payload once; h5tx_copy and h5tx_restore
 * store none; every file reads back byte for byte before and after gc with
 * compaction and after repair rebuilds the index; a writer that shares a
 * record gc collected before its commit gets a conflict, never wrong
 * bytes. */
#include "check.h"
#include "check_verify.h"

static h5tx_error e;

#define PS 4096
#define NP 96
#define LEN ((size_t)NP * PS)

static uint8_t data[LEN], other[LEN], buf[LEN];

static uint64_t log_bytes(h5tx_store *s) {
  h5tx_usage u;
  OK(h5tx_store_usage(s, &u, &e));
  return u.log_bytes;
}

/* Random bytes zstd cannot shrink, with some zero pages. */
static void fill(uint8_t *p, uint64_t *rng) {
  for (size_t i = 0; i < LEN; i += 8) {
    uint64_t v = rng_next(rng);
    memcpy(p + i, &v, 8);
  }
  for (int k = 0; k < 6; k++)
    memset(p + rng_below(rng, NP) * PS, 0, PS);
}

/* Write `len` bytes of `src` as file `name` (made anew) in one commit:
 * mode 0 one write, 1 page by page, 2 in unaligned pieces. */
static h5tx_rev put(h5tx_store *s, const char *name, const uint8_t *src, size_t len, int mode) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.truncate = 1;
  OK(h5tx_writer_open(s, name, &wo, &w, &e));
  size_t step = mode == 0 ? len : mode == 1 ? PS : 1000;
  for (size_t off = 0; off < len; off += step)
    OK(h5tx_writer_write(w, off, src + off, off + step > len ? len - off : step, &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, name, &r, &e));
  h5tx_writer_close(w);
  return r;
}

/* File `name` at `rev` is `len` bytes equal to `want`. */
static void same(h5tx_store *s, const char *name, h5tx_rev rev, const uint8_t *want, size_t len,
                 const char *what) {
  h5tx_snap *sn;
  h5tx_stat st;
  OK(h5tx_snap_open(s, rev, &sn, &e));
  int rc = h5tx_snap_stat(sn, name, &st, &e);
  if (rc == 0) rc = h5tx_snap_read(sn, name, 0, buf, len, &e);
  if (rc) printf("%s: %s\n", what, e.msg);
  CHECK(rc == 0);
  if (rc == 0) {
    CHECK(st.length == len);
    int eq = memcmp(buf, want, len) == 0;
    if (!eq) printf("%s: '%s' at %llu differs\n", what, name, (unsigned long long)rev);
    CHECK(eq);
  }
  h5tx_snap_close(sn);
}

static h5tx_rev head_of(h5tx_store *s) {
  h5tx_rev h;
  OK(h5tx_store_head(s, &h, &e));
  return h;
}

/* A writer's shared page whose record compaction moves (a store of its
 * own: no aborted writer's records keep gc from compacting) before the
 * writer reads it back and commits. */
static void shared_across_compaction(uint64_t *rng) {
  test_paths tp = temp_paths();
  h5tx_store *s = open_store(tp.store, PS, 16 * PS);
  uint8_t *third = malloc(LEN), *junk = malloc(4 * LEN);
  REQUIRE(third && junk);
  fill(third, rng);
  for (int k = 0; k < 4; k++)
    fill(junk + (size_t)k * LEN, rng);
  put(s, "junk.bin", junk, 4 * LEN, 0);
  put(s, "s.bin", third, 8 * PS, 0);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_remove(s, "junk.bin", NULL, NULL, &e)); /* before the writer's base */
  OK(h5tx_writer_open(s, "t.bin", &wo, &w, &e));
  uint64_t lt = log_bytes(s);
  OK(h5tx_writer_write(w, 0, third, 8 * PS, &e)); /* shares s.bin's records */
  CHECK(log_bytes(s) == lt);
  uint64_t before = log_bytes(s);
  h5tx_gc_opts go = {.keep_last = 1};
  h5tx_gc_result gr;
  OK(h5tx_gc(s, &go, &gr, &e));
  uint64_t after = log_bytes(s);
  printf("log: %llu bytes before gc, %llu after (a writer open)\n", (unsigned long long)before,
         (unsigned long long)after);
  CHECK(after < before / 2);
  OK(h5tx_writer_read(w, 0, buf, 8 * PS, &e));
  CHECK(memcmp(buf, third, 8 * PS) == 0);
  OK(h5tx_writer_write(w, 3 * PS + 1, "y", 1, &e)); /* a partial page: read, then written */
  h5tx_rev rt;
  OK(h5tx_writer_commit(w, NULL, &rt, &e));
  h5tx_writer_close(w);
  third[3 * PS + 1] = 'y';
  same(s, "t.bin", rt, third, 8 * PS, "shared across a compaction");
  findings f = verify_store(tp.store);
  CHECK(f.damage == 0);
  h5tx_store_close(s);
  free(third);
  free(junk);
  remove_tree(tp.dir);
}

int main(void) {
  uint64_t rng = test_seed("core_dedupe");
  test_paths tp = temp_paths();
  h5tx_store *s = open_store(tp.store, PS, 16 * PS);
  fill(data, &rng);
  fill(other, &rng);

  /* 1. the same bytes three times, through the three write paths */
  h5tx_rev r1 = put(s, "a.bin", data, LEN, 0);
  uint64_t l1 = log_bytes(s);
  CHECK(l1 > LEN / 2);
  h5tx_usage u1;
  OK(h5tx_store_usage(s, &u1, &e));
  h5tx_rev rb = put(s, "b.bin", data, LEN, 1);
  h5tx_rev rc3 = put(s, "c.bin", data, LEN, 2);
  uint64_t l3 = log_bytes(s);
  printf("log: %llu bytes after one write, %llu after three\n", (unsigned long long)l1,
         (unsigned long long)l3);
  CHECK(l3 - l1 < LEN / 8);
  h5tx_usage u3;
  OK(h5tx_store_usage(s, &u3, &e));
  CHECK(u3.live_bytes == u1.live_bytes);
  same(s, "a.bin", r1, data, LEN, "first write");
  same(s, "b.bin", rb, data, LEN, "page writes");
  same(s, "c.bin", rc3, data, LEN, "unaligned writes");

  /* 2. copy: a new file sharing every record */
  h5tx_rev rd;
  OK(h5tx_copy(s, "a.bin", r1, "d.bin", "copy", &rd, &e));
  CHECK(rd == rc3 + 1);
  CHECK(log_bytes(s) - l3 < LEN / 8);
  same(s, "d.bin", rd, data, LEN, "copy");
  FAILS(h5tx_copy(s, "a.bin", H5TX_HEAD, "a.bin", NULL, NULL, &e), H5TX_EINVAL, "onto itself");
  FAILS(h5tx_copy(s, "nope.bin", H5TX_HEAD, "x.bin", NULL, NULL, &e), H5TX_ENOENT, "nope.bin");
  FAILS(h5tx_copy(s, "a.bin", 999, "x.bin", NULL, NULL, &e), H5TX_ENOENT, "no revision 999");
  FAILS(h5tx_copy(s, "a.bin", H5TX_HEAD, "d.bin/x", NULL, NULL, &e), H5TX_EEXIST, "d.bin");
  /* the copy changes apart from its source */
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  OK(h5tx_writer_open(s, "d.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, 3 * PS + 5, "changed", 7, &e));
  h5tx_rev rd2;
  OK(h5tx_writer_commit(w, NULL, &rd2, &e));
  h5tx_writer_close(w);
  same(s, "a.bin", rd2, data, LEN, "source after the copy changed");

  /* 3. restore */
  uint8_t *v5 = malloc(LEN), *v6 = malloc(LEN);
  REQUIRE(v5 && v6);
  memcpy(v5, data, LEN);
  memcpy(v5 + 10 * PS, other, 10 * PS);
  OK(h5tx_writer_open(s, "a.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, 10 * PS, other, 10 * PS, &e));
  h5tx_rev r5;
  OK(h5tx_writer_commit(w, NULL, &r5, &e));
  size_t l6 = 30 * PS + 100;
  OK(h5tx_writer_truncate(w, l6, &e));
  h5tx_rev r6;
  OK(h5tx_writer_commit(w, NULL, &r6, &e));
  h5tx_writer_close(w);
  memcpy(v6, v5, l6);
  uint64_t lr = log_bytes(s);
  h5tx_rev r7;
  OK(h5tx_restore(s, "a.bin", r1, "back to the first", &r7, &e));
  CHECK(r7 == r6 + 1);
  same(s, "a.bin", r7, data, LEN, "restored first revision");
  same(s, "a.bin", r6, v6, l6, "the truncated revision, unchanged");
  h5tx_rev r8;
  OK(h5tx_restore(s, "a.bin", r5, NULL, &r8, &e));
  same(s, "a.bin", r8, v5, LEN, "restored second revision");
  h5tx_rev r9;
  OK(h5tx_restore(s, "a.bin", r6, NULL, &r9, &e));
  same(s, "a.bin", r9, v6, l6, "restored truncated revision");
  CHECK(log_bytes(s) - lr < LEN / 8);
  /* pages the restore cut off read as zeros when the file grows again */
  OK(h5tx_writer_open(s, "a.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, LEN - 1, "z", 1, &e));
  h5tx_rev r10;
  OK(h5tx_writer_commit(w, NULL, &r10, &e));
  h5tx_writer_close(w);
  memset(v6 + l6, 0, LEN - l6);
  v6[LEN - 1] = 'z';
  same(s, "a.bin", r10, v6, LEN, "grown after a restore that cut it");
  /* nothing differs: no revision */
  h5tx_rev r11;
  OK(h5tx_restore(s, "a.bin", r10, NULL, &r11, &e));
  CHECK(r11 == r10 && head_of(s) == r10);
  /* revert the growth of r10, then the revert: no payload either way; r9
   * cannot be reverted, r10 changed the file after it */
  uint64_t lv = log_bytes(s);
  h5tx_rev rv1, rv2;
  OK(h5tx_revert(s, r10, NULL, &rv1, &e));
  same(s, "a.bin", rv1, v6, l6, "r10 reverted");
  OK(h5tx_revert(s, rv1, NULL, &rv2, &e));
  same(s, "a.bin", rv2, v6, LEN, "the revert reverted");
  FAILS(h5tx_revert(s, r9, NULL, NULL, &e), H5TX_ECONFLICT, "'a.bin' was changed again");
  CHECK(log_bytes(s) - lv < LEN / 8);
  r10 = rv2;
  FAILS(h5tx_restore(s, "a.bin", H5TX_HEAD, NULL, NULL, &e), H5TX_EINVAL, "name the revision");
  FAILS(h5tx_restore(s, "d.bin", r1, NULL, NULL, &e), H5TX_ENOENT, "no file 'd.bin'");
  /* a live writer holds the name */
  OK(h5tx_writer_open(s, "a.bin", &wo, &w, &e));
  FAILS(h5tx_restore(s, "a.bin", r1, NULL, NULL, &e), H5TX_EBUSY, "a.bin");
  h5tx_writer_close(w);
  /* removed, then restored: a copy of the file it named */
  h5tx_rev r12, r13;
  OK(h5tx_remove(s, "a.bin", NULL, &r12, &e));
  OK(h5tx_restore(s, "a.bin", r1, NULL, &r13, &e));
  CHECK(r13 == r12 + 1);
  same(s, "a.bin", r13, data, LEN, "restored after removal");
  /* a writer based before the restore conflicts */
  wo.base = r12 - 1;
  OK(h5tx_writer_open(s, "a.bin", &wo, &w, &e));
  uint8_t other0 = (uint8_t)(data[0] ^ 0xff); /* a change, whatever the data */
  OK(h5tx_writer_write(w, 0, &other0, 1, &e));
  FAILS(h5tx_writer_commit(w, NULL, NULL, &e), H5TX_ECONFLICT, "a.bin");
  h5tx_writer_close(w);
  wo.base = H5TX_HEAD;

  /* 4. gc with compaction keeps every shared record that a version names */
  OK(h5tx_remove(s, "b.bin", NULL, NULL, &e));
  OK(h5tx_remove(s, "c.bin", NULL, NULL, &e));
  h5tx_gc_opts go = {.keep_last = 1};
  h5tx_gc_result gr;
  OK(h5tx_gc(s, &go, &gr, &e));
  printf("gc: %llu revisions, %llu versions, %llu bytes\n",
         (unsigned long long)gr.revisions_collected, (unsigned long long)gr.versions_freed,
         (unsigned long long)gr.bytes_freed);
  CHECK(gr.revisions_collected > 0);
  h5tx_rev h = head_of(s);
  same(s, "a.bin", h, data, LEN, "after gc");
  memcpy(v5, data, LEN);
  memcpy(v5 + 3 * PS + 5, "changed", 7);
  same(s, "d.bin", h, v5, LEN, "copy after gc");
  /* records still shared after gc: a new write of the same bytes stores
   * nothing */
  uint64_t lg = log_bytes(s);
  h5tx_rev re = put(s, "e.bin", data, LEN, 0);
  CHECK(log_bytes(s) - lg < LEN / 8);
  same(s, "e.bin", re, data, LEN, "written after gc");
  findings f = verify_store(tp.store);
  CHECK(f.damage == 0);

  /* a page sharing a stored record, then written with its base bytes
   * again (8 whole pages: straight from the buffer) reads as its base */
  put(s, "o.bin", other, 8 * PS, 0);
  h5tx_rev before_o = head_of(s);
  OK(h5tx_writer_open(s, "e.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, other, 8 * PS, &e));
  OK(h5tx_writer_write(w, 0, data, 8 * PS, &e));
  uint8_t flip = (uint8_t)(data[20 * PS] ^ 0xff); /* a byte that differs, whatever the data */
  OK(h5tx_writer_write(w, 20 * PS, &flip, 1, &e));
  h5tx_rev ro;
  OK(h5tx_writer_commit(w, NULL, &ro, &e));
  h5tx_writer_close(w);
  CHECK(ro == before_o + 1);
  memcpy(v5, data, LEN);
  v5[20 * PS] = flip;
  same(s, "e.bin", ro, v5, LEN, "shared, then written back");
  OK(h5tx_writer_open(s, "e.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, 20 * PS, data + 20 * PS, 1, &e));
  OK(h5tx_writer_commit(w, NULL, NULL, &e));
  h5tx_writer_close(w);
  memcpy(v5, data, LEN);
  memcpy(v5 + 3 * PS + 5, "changed", 7);

  /* a writer that streams changed pages out and then writes the old bytes
   * back (zero pages too) changed nothing: no revision */
  h5tx_rev before_w = head_of(s);
  OK(h5tx_writer_open(s, "e.bin", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, other, 40 * PS, &e)); /* over the 16-page cache */
  for (size_t p = 0; p < 40; p++)
    OK(h5tx_writer_write(w, p * PS, other + (p + 1) * PS, PS, &e)); /* page by page */
  OK(h5tx_writer_write(w, 0, data, 40 * PS, &e));
  h5tx_rev rw;
  OK(h5tx_writer_commit(w, NULL, &rw, &e));
  h5tx_writer_close(w);
  CHECK(rw == before_w && head_of(s) == before_w);
  same(s, "e.bin", before_w, data, LEN, "written back");

  /* 5. a writer sharing a record gc collects before its commit */
  h5tx_writer *w2;
  wo.create = 1;
  OK(h5tx_writer_open(s, "g.bin", &wo, &w2, &e));
  wo.create = 0;
  put(s, "f.bin", other, LEN, 0);
  OK(h5tx_writer_write(w2, 0, other, LEN, &e));
  OK(h5tx_remove(s, "f.bin", NULL, NULL, &e));
  uint64_t before = log_bytes(s);
  OK(h5tx_gc(s, &go, &gr, &e));
  printf("log: %llu bytes before gc, %llu after\n", (unsigned long long)before,
         (unsigned long long)log_bytes(s));
  h5tx_rev hg = head_of(s);
  FAILS(h5tx_writer_commit(w2, NULL, NULL, &e), H5TX_ECONFLICT, "collected by gc");
  CHECK(head_of(s) == hg);
  h5tx_writer_abort(w2);
  h5tx_writer_close(w2);

  /* compaction copies the shared records forward (the segment is mostly
   * dead once the junk is collected): reads follow them */
  uint8_t *junk = malloc(4 * LEN);
  REQUIRE(junk);
  for (int k = 0; k < 4; k++)
    fill(junk + (size_t)k * LEN, &rng);
  put(s, "junk.bin", junk, 4 * LEN, 0);
  free(junk);
  OK(h5tx_remove(s, "junk.bin", NULL, NULL, &e));
  before = log_bytes(s);
  OK(h5tx_gc(s, &go, &gr, &e));
  uint64_t after = log_bytes(s);
  printf("log: %llu bytes before gc, %llu after\n", (unsigned long long)before,
         (unsigned long long)after);
  CHECK(after < before / 2);
  h = head_of(s);
  same(s, "a.bin", h, data, LEN, "a.bin after compaction");
  same(s, "d.bin", h, v5, LEN, "d.bin after compaction");
  same(s, "e.bin", h, data, LEN, "e.bin after compaction");

  /* 6. repair rebuilds the same from the log, finding shared records
   * where compaction put them */
  h = head_of(s);
  h5tx_store_close(s);
  h5tx_rev rh;
  OK(h5tx_store_repair(tp.store, NULL, NULL, &rh, &e));
  CHECK(rh == h);
  s = open_store(tp.store, PS, 16 * PS);
  same(s, "a.bin", h, data, LEN, "a.bin after repair");
  same(s, "d.bin", h, v5, LEN, "d.bin after repair");
  same(s, "e.bin", h, data, LEN, "e.bin after repair");
  f = verify_store(tp.store);
  CHECK(f.damage == 0);
  h5tx_store_close(s);
  free(v5);
  free(v6);
  remove_tree(tp.dir);
  shared_across_compaction(&rng);
  return check_done("core_dedupe");
}
