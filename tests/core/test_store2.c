/* test_store2.c - white-box test of a format-2 store's files (store2.h): a
 * filled directory has a format-2 marker with a fresh store id, an index
 * whose meta repeats format and id and holds the defaults given and the
 * starting counters, and an empty page log of that id; an index that
 * disagrees with the marker (format or id) is H5TX_EFORMAT naming both. */
#include "apply2.h"
#include "check.h"
#include "pagelog.h"
#include "store2.h"

static h5tx_error e;

/* As h5tx_store_opts_init (libh5tx, not linked here): nothing given. */
static void opts_none(h5tx_store_opts *o) {
  memset(o, 0, sizeof *o);
  o->codec = o->durability = -1;
}

static void fill(const char *dir, const h5tx_store_opts *o, uint8_t id[16]) {
  REQUIRE(mkdir(dir, 0777) == 0);
  OK(h5tx__store2_fill(dir, "t.h5tx", o, id, &e));
}

int main(void) {
  test_paths tp = temp_paths();
  char a[700], b[700], idir[800], ldir[800];
  snprintf(a, sizeof a, "%s/a", tp.dir);
  snprintf(b, sizeof b, "%s/b", tp.dir);
  h5tx_store_opts o;
  opts_none(&o);
  o.page_size = 4096;
  o.durability = H5TX_NOSYNC;
  uint8_t ida[16], idb[16];
  fill(a, &o, ida);
  opts_none(&o);
  fill(b, &o, idb);
  CHECK(memcmp(ida, idb, 16) != 0);

  h5tx__marker m;
  OK(h5tx__marker_read(a, 2, &m, &e));
  CHECK(m.format == 2 && memcmp(m.id, ida, 16) == 0 && strcmp(m.index, "lmdb") == 0);
  snprintf(idir, sizeof idir, "%s/index", a);
  snprintf(ldir, sizeof ldir, "%s/log", a);
  h5tx__kv *kv;
  OK(h5tx__idx_open(idir, 0, 0, &kv, &e));
  h5tx__defaults d;
  OK(h5tx__store2_meta(kv, a, &m, &d, &e));
  CHECK(d.page_size == 4096 && d.codec == H5TX_CODEC_LZ4 && d.level == 3 &&
        d.durability == H5TX_NOSYNC);
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  const char *words[] = {"head", "durable", "next_file_id", "next_branch_id"};
  const uint64_t want[] = {0, 0, 1, 1};
  for (int i = 0; i < 4; i++) {
    uint64_t v = 99;
    OK(h5tx__meta2_get(t, words[i], &v, &e));
    CHECK(v == want[i]);
  }
  h5tx__kv_done(t);
  /* disagreement */
  h5tx__marker mb;
  OK(h5tx__marker_read(b, 2, &mb, &e));
  FAILS(h5tx__store2_meta(kv, a, &mb, &d, &e), H5TX_EFORMAT, "its marker has store id");
  h5tx__marker m1 = m;
  m1.format = 1;
  FAILS(h5tx__store2_meta(kv, a, &m1, &d, &e), H5TX_EFORMAT,
        "its marker says format 1, its index format 2");
  h5tx__kv_close(kv);
  /* the log is there, empty, of this id */
  h5tx__plog *l;
  OK(h5tx__plog_open(ldir, ida, 0, 0, 0, &l, &e));
  uint64_t *segs = NULL;
  size_t nseg = 99;
  OK(h5tx__plog_segments(l, &segs, &nseg, &e));
  CHECK(nseg == 0);
  free(segs);
  h5tx__plog_close(l);
  /* a directory already holding an index is not filled again */
  uint8_t id2[16];
  FAILS(h5tx__store2_fill(a, "t.h5tx", &o, id2, &e), H5TX_EEXIST, "index");
  remove_tree(tp.dir);
  return check_done("core_store2");
}
