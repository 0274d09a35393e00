/* test_repair2.c - format 2's index rebuilt from the page log alone
 * (apply2.h): commits made as the store makes them (pages appended under a
 * write id, the log commit record appended, then applied to the index),
 * with a rename, a removal, tags and a voided commit; the index deleted and
 * repaired is entry for entry the index the commits wrote, and every page
 * reads back byte for byte at every revision. A damaged commit record stops
 * the rebuilt history before it and says so; tags past it are dropped with
 * a message. */
#include "apply2.h"
#include "check.h"
#include "internal.h"
#include "pages2.h"
#include "records.h"

#include <fcntl.h>

static h5tx_error e;
static const uint8_t sid[16] = "repair2-test-sid";
enum { PS = 4096, NP = 8, NREV = 5 };
static uint8_t model[NREV + 1][3][NP][PS]; /* [rev][fid][page] */

typedef struct pending {
  h5tx__place pl[NP];
  size_t n;
  uint64_t wid;
} pending;

static int pending_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n,
                         h5tx_error *err) {
  (void)err;
  pending *p = arg;
  *pl = wid == p->wid ? p->pl : NULL;
  *n = wid == p->wid ? p->n : 0;
  return 0;
}

typedef struct commit_arg {
  const h5tx__lcommit *c;
  const h5tx__place *at;
  pending *pg;
} commit_arg;

static int commit_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  commit_arg *a = arg;
  int rc = h5tx__apply_commit(t, a->c, a->at, pending_pages, a->pg, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", a->c->rev, err);
  return rc;
}

typedef struct tag_arg {
  const char *name;
  h5tx_rev rev;
} tag_arg;

static int tag_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  tag_arg *a = arg;
  return h5tx__apply_tag(t, a->name, strlen(a->name), a->rev, err);
}

static int init_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  int rc = h5tx__meta2_put(t, "head", 0, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_file_id", 1, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", 0, err);
  return rc;
}

static h5tx__place commit_places[NREV + 2];

/* One commit: write `pages` (a bit mask) of file `fid` with fresh bytes,
 * plus the given name operations. */
static void commit(h5tx__kv *kv, h5tx__plog *l, h5tx_rev rev, uint64_t fid, unsigned pages,
                   const h5tx__lop *extra, int nextra, uint64_t *seed, int voided) {
  pending pg = {.wid = h5tx__plog_write_id()};
  h5tx__plog_rec recs[NP];
  for (uint64_t f = 1; f <= 2; f++)
    memcpy(model[rev][f], model[rev - 1][f], sizeof model[rev][f]);
  for (int p = 0; p < NP; p++) {
    if (!(pages & (1u << p))) continue;
    for (int b = 0; b < PS; b++)
      model[rev][fid][p][b] = p % 3 == 0 ? (uint8_t)rng_next(seed) : (uint8_t)(b / 32 + rev);
    h5tx__page2_record(&recs[pg.n], (uint64_t)p, model[rev][fid][p], PS, H5TX_CODEC_NONE, 0, NULL,
                       NULL);
    pg.n++;
  }
  if (pg.n) OK(h5tx__plog_append(l, pg.wid, recs, pg.n, pg.pl, &e));
  h5tx__lcommit c = {.rev = rev,
                     .parent = rev - 1,
                     .time_ns = 1000 + rev,
                     .pid = 7,
                     .host = "h",
                     .host_len = 1,
                     .msg = "m",
                     .msg_len = 1};
  h5tx__buf b = {0};
  REQUIRE(h5tx__lcommit_begin(&b, &c) == 0);
  for (int i = 0; i < nextra; i++)
    REQUIRE(h5tx__lcommit_add(&b, &extra[i]) == 0);
  if (pg.n) {
    h5tx__lop lo = {.op = LOP_LENGTH, .fid = fid, .a = (uint64_t)NP * PS};
    h5tx__lop po = {.op = LOP_PAGES, .fid = fid, .a = pg.wid};
    REQUIRE(h5tx__lcommit_add(&b, &lo) == 0 && h5tx__lcommit_add(&b, &po) == 0);
  }
  h5tx__plog_rec cr = {.kind = PLOG_COMMIT,
                       .enc = PLOG_ENC_RAW,
                       .key = rev,
                       .raw = (uint32_t)b.n,
                       .payload = b.p,
                       .stored = (uint32_t)b.n};
  OK(h5tx__plog_append(l, pg.wid, &cr, 1, &commit_places[rev], &e));
  if (voided) {
    uint8_t z[8] = {0};
    h5tx__plog_rec vr = {
        .kind = PLOG_VOID, .enc = PLOG_ENC_RAW, .key = rev, .raw = 8, .payload = z, .stored = 8};
    h5tx__place vp;
    OK(h5tx__plog_append(l, pg.wid, &vr, 1, &vp, &e));
  } else {
    h5tx__lcommit d;
    const char *why;
    REQUIRE(h5tx__lcommit_parse(b.p, b.n, &d, &why) == 0);
    commit_arg a = {&d, &commit_places[rev], &pg};
    OK(h5tx__kv_write(kv, commit_fn, &a, 0, &e));
  }
  h5tx__buf_free(&b);
}

static void tag(h5tx__kv *kv, h5tx__plog *l, const char *name, h5tx_rev rev) {
  h5tx__buf b = {0};
  REQUIRE(h5tx__ltag_encode(&b, name, strlen(name), rev) == 0);
  h5tx__plog_rec r = {.kind = PLOG_TAG,
                      .enc = PLOG_ENC_RAW,
                      .raw = (uint32_t)b.n,
                      .payload = b.p,
                      .stored = (uint32_t)b.n};
  h5tx__place p;
  OK(h5tx__plog_append(l, 0, &r, 1, &p, &e));
  tag_arg a = {name, rev};
  OK(h5tx__kv_write(kv, tag_fn, &a, 0, &e));
  h5tx__buf_free(&b);
}

/* Every entry of every table, in order. */
static void dump(h5tx__kv *kv, h5tx__buf *out) {
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  out->n = 0;
  for (int tb = 0; tb < IDX_NTABLES; tb++) {
    h5tx__cur *c;
    OK(h5tx__kv_cursor(t, tb, &c, &e));
    h5tx__val k, v;
    int rc = h5tx__kv_seek(c, "", 0, &k, &v, &e);
    while (rc == 0) {
      uint8_t hdr[9] = {(uint8_t)tb};
      h5tx__le32(hdr + 1, (uint32_t)k.n);
      h5tx__le32(hdr + 5, (uint32_t)v.n);
      REQUIRE(h5tx__buf_add(out, hdr, 9) == 0 && h5tx__buf_add(out, k.p, k.n) == 0 &&
              h5tx__buf_add(out, v.p, v.n) == 0);
      rc = h5tx__kv_next(c, &k, &v, &e);
    }
    REQUIRE(rc == H5TX_ENOENT);
    h5tx__kv_cursor_close(c);
  }
  h5tx__kv_done(t);
}

static void check_pages(h5tx__kv *kv, h5tx__plog *l, h5tx_rev upto) {
  h5tx__txn *t;
  h5tx__cur *c;
  uint8_t buf[PS];
  OK(h5tx__kv_read(kv, &t, &e));
  OK(h5tx__kv_cursor(t, IDX_PAGES, &c, &e));
  for (h5tx_rev r = 1; r <= upto; r++)
    for (uint64_t f = 1; f <= 2; f++)
      for (int p = 0; p < NP; p++) {
        h5tx__place pl;
        int rc = h5tx__page2_find(c, f, (uint64_t)p, r, &pl, NULL, &e);
        if (rc == H5TX_ENOENT) {
          CHECK(is_all(model[r][f][p], PS, 0));
          continue;
        }
        OK(rc);
        OK(h5tx__page2_load(l, &pl, buf, PS, NULL, &e));
        if (memcmp(buf, model[r][f][p], PS) != 0) {
          fprintf(stderr, "file %llu page %d revision %llu differs\n", (unsigned long long)f, p,
                  (unsigned long long)r);
          check_failures++;
        }
      }
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
}

static char said[4096];
static void say(void *arg, const char *line) {
  (void)arg;
  printf("repair: %s\n", line);
  strncat(said, line, sizeof said - strlen(said) - 2);
  strcat(said, "\n");
}

static h5tx__kv *fresh_index(const char *dir) {
  REQUIRE(mkdir(dir, 0777) == 0);
  h5tx__kv *kv;
  OK(h5tx__idx_open(dir, 1, 0, &kv, &e));
  return kv;
}

int main(void) {
  uint64_t seed = test_seed("core_repair2");
  test_paths tp = temp_paths();
  char idir[700], ldir[700], rdir[700], r2dir[700];
  snprintf(idir, sizeof idir, "%s/index", tp.dir);
  snprintf(rdir, sizeof rdir, "%s/index-repaired", tp.dir);
  snprintf(r2dir, sizeof r2dir, "%s/index-repaired2", tp.dir);
  snprintf(ldir, sizeof ldir, "%s/log", tp.dir);
  h5tx__kv *kv = fresh_index(idir);
  OK(h5tx__kv_write(kv, init_fn, NULL, 0, &e));
  h5tx__plog *l;
  OK(h5tx__plog_open(ldir, sid, 1, 0, 0, &l, &e));

  h5tx__lop create_a[2] = {{.op = LOP_FILE, .fid = 1, .page_size = PS, .name = "a", .name_len = 1},
                           {.op = LOP_NAME, .fid = 1, .name = "a", .name_len = 1}};
  h5tx__lop create_b[2] = {
      {.op = LOP_FILE, .fid = 2, .page_size = PS, .name = "d/b", .name_len = 3},
      {.op = LOP_NAME, .fid = 2, .name = "d/b", .name_len = 3}};
  h5tx__lop rename_a[2] = {{.op = LOP_NAME, .fid = 1, .name = "c", .name_len = 1},
                           {.op = LOP_NAME, .fid = 0, .name = "a", .name_len = 1}};
  commit(kv, l, 1, 1, 0xff, create_a, 2, &seed, 0);
  commit(kv, l, 2, 1, 0x0a, NULL, 0, &seed, 0);
  tag(kv, l, "two", 2);
  commit(kv, l, 3, 2, 0x31, create_b, 2, &seed, 0);
  /* a commit whose index transaction failed: voided in the log */
  commit(kv, l, 4, 2, 0x02, NULL, 0, &seed, 1);
  memcpy(model[4], model[3], sizeof model[4]);
  commit(kv, l, 4, 1, 0x00, rename_a, 2, &seed, 0);
  commit(kv, l, 5, 2, 0xc0, NULL, 0, &seed, 0);
  tag(kv, l, "five", 5);
  tag(kv, l, "gone", 3);
  tag(kv, l, "gone", 0);
  check_pages(kv, l, NREV);
  h5tx__buf before = {0}, after = {0};
  dump(kv, &before);
  h5tx__kv_close(kv);
  h5tx__plog_close(l);

  /* the index is lost: rebuild it from the log */
  OK(h5tx__plog_open(ldir, sid, 0, 0, 0, &l, &e));
  h5tx__kv *rk = fresh_index(rdir);
  h5tx_rev head;
  OK(h5tx__repair_index(rk, l, say, NULL, &head, &e));
  CHECK(head == NREV);
  CHECK(said[0] == 0); /* nothing lost */
  dump(rk, &after);
  CHECK(before.n == after.n && memcmp(before.p, after.p, before.n) == 0);
  check_pages(rk, l, NREV);
  h5tx__kv_close(rk);

  /* a tag record in another segment (another process's), naming 5 */
  h5tx__plog *l2;
  OK(h5tx__plog_open(ldir, sid, 0, 0, 0, &l2, &e));
  h5tx__buf tb = {0};
  REQUIRE(h5tx__ltag_encode(&tb, "late", 4, 5) == 0);
  h5tx__plog_rec tr = {.kind = PLOG_TAG,
                       .enc = PLOG_ENC_RAW,
                       .raw = (uint32_t)tb.n,
                       .payload = tb.p,
                       .stored = (uint32_t)tb.n};
  h5tx__place tpl;
  OK(h5tx__plog_append(l2, 0, &tr, 1, &tpl, &e));
  CHECK(tpl.seg != commit_places[4].seg);
  h5tx__plog_close(l2);
  h5tx__buf_free(&tb);

  /* a damaged commit record (revision 4): the history stops at 3; the
   * rest of its segment is not trusted either */
  char seg[800];
  snprintf(seg, sizeof seg, "%s/%016llx.seg", ldir, (unsigned long long)commit_places[4].seg);
  int fd = open(seg, O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t b;
  REQUIRE(pread(fd, &b, 1, (off_t)commit_places[4].off + 20) == 1);
  b ^= 4;
  REQUIRE(pwrite(fd, &b, 1, (off_t)commit_places[4].off + 20) == 1);
  close(fd);
  said[0] = 0;
  rk = fresh_index(r2dir);
  OK(h5tx__repair_index(rk, l, say, NULL, &head, &e));
  CHECK(head == 3);
  CHECK(strstr(said, "fails its check") != NULL); /* the segment's damaged tail */
  CHECK(strstr(said, "revision 4: no intact commit record") != NULL);
  CHECK(strstr(said, "tag 'late'") != NULL);
  check_pages(rk, l, 3);
  h5tx__txn *t;
  OK(h5tx__kv_read(rk, &t, &e));
  uint64_t h = 0;
  OK(h5tx__meta2_get(t, "head", &h, &e));
  CHECK(h == 3);
  h5tx__val v;
  CHECK(h5tx__idx_get(t, IDX_TAGS, "two", 3, &v, &e) == 0 && h5tx__get_le64(v.p) == 2);
  memset(&e, 0, sizeof e);
  CHECK(h5tx__idx_get(t, IDX_TAGS, "five", 4, &v, &e) == H5TX_ENOENT);
  CHECK(h5tx__idx_get(t, IDX_TAGS, "gone", 4, &v, &e) == H5TX_ENOENT);
  CHECK(h5tx__idx_get(t, IDX_TAGS, "late", 4, &v, &e) == H5TX_ENOENT);
  h5tx__kv_done(t);
  h5tx__kv_close(rk);
  h5tx__plog_close(l);
  h5tx__buf_free(&before);
  h5tx__buf_free(&after);
  remove_tree(tp.dir);
  return check_done("core_repair2");
}
