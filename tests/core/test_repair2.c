/* test_repair2.c - format 2's index rebuilt from the page log alone
 * (apply2.h): commits made as the store makes them (pages appended under a
 * write id, the log commit record appended, then applied to the index),
 * with a rename, a removal, tags and a voided commit; the index deleted and
 * repaired is entry for entry the index the commits wrote, and every page
 * reads back byte for byte at every revision. A damaged commit record stops
 * the rebuilt history before it and says so; tags past it are dropped with
 * a message. */
#include "check.h"

#include <fcntl.h>

static h5tx_error e;

#include "f2_commit.h"

enum { NREV = 5 };
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
  commit(kv, l, 1, 1, 0xff, create_a, 2, &seed, 0, 1);
  commit(kv, l, 2, 1, 0x0a, NULL, 0, &seed, 0, 1);
  tag(kv, l, "two", 2);
  commit(kv, l, 3, 2, 0x31, create_b, 2, &seed, 0, 1);
  /* a commit whose index transaction failed: voided in the log */
  commit(kv, l, 4, 2, 0x02, NULL, 0, &seed, 1, 1);
  memcpy(model[4], model[3], sizeof model[4]);
  commit(kv, l, 4, 1, 0x00, rename_a, 2, &seed, 0, 1);
  commit(kv, l, 5, 2, 0xc0, NULL, 0, &seed, 0, 1);
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
