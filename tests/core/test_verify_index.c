/* test_verify_index.c - white-box: index entries that pass their checks but
 * contradict each other or the page log, written with the index API into a
 * store no handle has open, are each reported by h5tx_verify naming what is
 * wrong: a name of a file with no record, a length of one, a tag of a
 * revision past head, a commit whose parent is not the one before, a page
 * version in a segment that does not exist, one whose payload is not the
 * record its place says, a dedupe entry whose key is not its place, a file
 * created past head whose origin has no record. And a file whose pages
 * come through its origin (FORMAT.md, "Origin"; made here by applying a
 * commit record, as no entry point makes one yet): its usage counts the
 * pages it reads through the origin. */
#include "apply2.h"
#include "check_verify.h"
#include "index.h"
#include "pages2.h"
#include "records.h"
#include "records2.h"

static h5tx_error e;

#define PS 4096

/* The writes, inside one index write transaction. */
static int damage_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  uint8_t k[H5TX_NAME_KEY_MAX], v[H5TX_PLACE_VAL];
  int rc;
  /* names: ghost.bin at revision 1 is file 99 */
  size_t kl = h5tx__name_key(k, "ghost.bin", 9, 1);
  h5tx__le64(v, 99);
  if ((rc = h5tx__idx_put(t, IDX_NAMES, k, kl, v, 8, err))) return rc;
  /* lengths: file 77 at revision 2 */
  h5tx__len_key(k, 77, 2);
  h5tx__le64(v, 4096);
  if ((rc = h5tx__idx_put(t, IDX_LENGTHS, k, H5TX_LEN_KEY, v, 8, err))) return rc;
  /* files: odd.bin (id 55) created at revision 60, origin file 88 */
  h5tx__buf fb = {0};
  REQUIRE(h5tx__file2_encode(&fb, PS, 60, 88, 1, "odd.bin", 7) == 0);
  uint8_t fk[8];
  h5tx__be64(fk, 55);
  rc = h5tx__idx_put(t, IDX_FILES, fk, 8, fb.p, fb.n, err);
  h5tx__buf_free(&fb);
  if (rc) return rc;
  /* tags: 'future' names revision 50 */
  h5tx__le64(v, 50);
  if ((rc = h5tx__idx_put(t, IDX_TAGS, "future", 6, v, 8, err))) return rc;
  /* commits: revision 2's parent made 0 */
  uint8_t ck[8];
  h5tx__be64(ck, 2);
  h5tx__val cv;
  if ((rc = h5tx__idx_get(t, IDX_COMMITS, ck, 8, &cv, err))) return rc;
  uint8_t *copy = malloc(cv.n);
  REQUIRE(copy);
  memcpy(copy, cv.p, cv.n);
  h5tx__le64(copy + 8, 0);
  rc = h5tx__idx_put(t, IDX_COMMITS, ck, 8, copy, cv.n, err);
  free(copy);
  if (rc) return rc;
  /* pages: page 1 of revision 1 is page 0's place, page 9 of revision 1
   * lies in segment 0x77 */
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err))) return rc;
  h5tx__place p0;
  rc = h5tx__page2_find(c, 1, 0, 1, &p0, NULL, err);
  h5tx__kv_cursor_close(c);
  if (rc) return rc;
  h5tx__place wrong = p0;
  wrong.key = 1; /* the identity page 1 would have: the record check fails */
  if ((rc = h5tx__page2_put(t, 1, 1, 1, &wrong, err))) return rc;
  h5tx__place gone = p0;
  gone.seg = 0x77;
  if ((rc = h5tx__page2_put(t, 1, 9, 1, &gone, err))) return rc;
  /* dedupe: page 0's place under another content hash */
  uint8_t dk[H5TX_DEDUPE_KEY];
  h5tx__dedupe_key(dk, &p0);
  dk[0] ^= 1;
  h5tx__place_encode(v, &p0);
  return h5tx__idx_put(t, IDX_DEDUPE, dk, sizeof dk, v, sizeof v, err);
}

/* Revision 2: copy.bin, 4 pages long, created with origin f.bin (file 1)
 * at revision 1 and no pages of its own. */
static int copy_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  uint64_t fid = 0;
  int rc = h5tx__meta2_get(t, "next_file_id", &fid, err);
  if (rc) return rc;
  h5tx__lcommit c = {
      .rev = 2, .parent = 1, .time_ns = 1, .host = "h", .host_len = 1, .msg = "copy", .msg_len = 4};
  h5tx__lop ops[3] = {{.op = LOP_FILE,
                       .fid = fid,
                       .page_size = PS,
                       .a = 1,
                       .b = 1,
                       .name = "copy.bin",
                       .name_len = 8},
                      {.op = LOP_NAME, .fid = fid, .name = "copy.bin", .name_len = 8},
                      {.op = LOP_LENGTH, .fid = fid, .a = 4 * PS}};
  h5tx__buf b = {0};
  REQUIRE(h5tx__lcommit_begin(&b, &c) == 0);
  for (int i = 0; i < 3; i++)
    REQUIRE(h5tx__lcommit_add(&b, &ops[i]) == 0);
  h5tx__lcommit parsed;
  const char *why = NULL;
  REQUIRE(h5tx__lcommit_parse(b.p, b.n, &parsed, &why) == 0);
  h5tx__place at = {.seg = 1, .kind = PLOG_COMMIT};
  rc = h5tx__apply_commit(t, &parsed, &at, NULL, NULL, err);
  h5tx__buf_free(&b);
  return rc;
}

static void test_origin(const char *dir) {
  char path[700];
  snprintf(path, sizeof path, "%s/origin.h5tx", dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = H5TX_CODEC_NONE;
  h5tx_store *s;
  OK(h5tx_store_open(path, &o, &s, &e));
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "f.bin", &wo, &w, &e));
  uint8_t buf[PS];
  for (int p = 0; p < 4; p++) {
    memset(buf, 'a' + p, PS);
    OK(h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e));
  }
  OK(h5tx_writer_commit(w, NULL, NULL, &e));
  h5tx_writer_close(w);
  h5tx_store_close(s);
  char idx[800];
  snprintf(idx, sizeof idx, "%s/index", path);
  h5tx__kv *kv;
  OK(h5tx__idx_open(idx, 0, 0, &kv, &e));
  OK(h5tx__kv_write(kv, copy_fn, NULL, 1, &e));
  h5tx__kv_close(kv);

  OK(h5tx_store_open(path, NULL, &s, &e));
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, 2, &sn, &e));
  h5tx_file_usage u;
  OK(h5tx_snap_usage(sn, "copy.bin", &u, &e));
  CHECK(u.pages == 4 && u.raw_pages == 4 && u.stored_bytes == 4 * PS);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
}

int main(void) {
  test_paths tp = temp_paths();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = H5TX_CODEC_NONE;
  h5tx_store *s;
  OK(h5tx_store_open(tp.store, &o, &s, &e));
  /* r1: f.bin pages 0..9 (file id 1); r2: page 0 again */
  uint8_t buf[PS];
  for (int r = 1; r <= 2; r++) {
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "f.bin", &wo, &w, &e));
    for (int p = 0; p < (r == 1 ? 10 : 1); p++) {
      memset(buf, 'a' + p + r, PS);
      OK(h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e));
    }
    OK(h5tx_writer_commit(w, NULL, NULL, &e));
    h5tx_writer_close(w);
  }
  h5tx_stat st;
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, 1, &sn, &e));
  OK(h5tx_snap_stat(sn, "f.bin", &st, &e));
  REQUIRE(st.file_id == 1);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  findings clean = verify_store(tp.store);
  CHECK(clean.damage == 0 && clean.notes == 0);

  char dir[700];
  snprintf(dir, sizeof dir, "%s/index", tp.store);
  h5tx__kv *kv;
  OK(h5tx__idx_open(dir, 0, 0, &kv, &e));
  OK(h5tx__kv_write(kv, damage_fn, NULL, 1, &e));
  h5tx__kv_close(kv);

  findings f = verify_store(tp.store);
  CHECK(found(&f, "damage", "names: 'ghost.bin' at revision 1 names file id 99", "no file record"));
  CHECK(found(&f, "damage", "lengths: file id 77 at revision 2", "has no file record"));
  CHECK(found(&f, "damage", "tag 'future' names revision 50", "newer than head"));
  CHECK(found(&f, "damage", "commit 2: parent 0, not 1", ""));
  CHECK(found(&f, "damage", "file 'f.bin' page 1 revision 1: ", "checksum mismatch"));
  CHECK(found(&f, "damage", "file 'f.bin' page 9 revision 1: its segment is missing",
              "page log segment 0000000000000077"));
  CHECK(found(&f, "damage", "index table dedupe", "whose key is not its place"));
  CHECK(found(&f, "damage", "file 'odd.bin' (id 55): created at revision 60", "newer than head"));
  CHECK(found(&f, "damage", "file 'odd.bin' (id 55): its origin, file id 88", "no file record"));
  CHECK(f.damage == 9 && f.notes == 0);
  test_origin(tp.dir);
  remove_tree(tp.dir);
  return check_done("core_verify_index");
}
