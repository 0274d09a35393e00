/* test_upgrade1.c - format 1 to format 2 (upgrade1.h). A format-1 store is
 * made with the format-1 code (the library as it is until the switch; the
 * store left behind by this test is the kind checked in for after it):
 * several revisions of noisy, compressible and zero pages, a truncation, a
 * rename, a removal, tags, and a gc that collected revisions. Converted,
 * every file at every readable revision reads byte for byte the same
 * through format 2's index and log; messages, times, hosts, parents,
 * collected flags and tags are kept. A damaged format-1 page record fails
 * the upgrade naming it. */
#include "check.h"

#include <fcntl.h>
#include <time.h>

static h5tx_error e;

#include "f2_commit.h"
#include "store2.h"
#include "upgrade1.h"

enum { FPS = 4096 };

static void write_file(h5tx_store *s, const char *name, uint64_t off, const uint8_t *p, size_t n,
                       int64_t trunc, const char *msg) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, name, &wo, &w, &e));
  if (trunc >= 0) OK(h5tx_writer_truncate(w, (uint64_t)trunc, &e));
  if (n) OK(h5tx_writer_write(w, off, p, n, &e));
  h5tx_rev rev;
  OK(h5tx_writer_commit(w, msg, &rev, &e));
  h5tx_writer_close(w);
}

/* Format 2: the bytes of `name` at `rev` (malloc'd), or NULL if absent. */
static uint8_t *f2_read(h5tx__kv *kv, h5tx__plog *l, const char *name, h5tx_rev rev,
                        uint64_t *len) {
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  h5tx__cur *c;
  OK(h5tx__kv_cursor(t, IDX_NAMES, &c, &e));
  uint8_t nk[H5TX_NAME_KEY_MAX];
  size_t kl = h5tx__name_key(nk, name, strlen(name), rev);
  h5tx__val k, v;
  int rc = h5tx__kv_seek(c, nk, kl, &k, &v, &e);
  uint64_t fid = 0;
  if (rc == 0 && k.n == kl && memcmp(k.p, nk, kl - 8) == 0) {
    OK(h5tx__idx_value(IDX_NAMES, &k, &v, &e));
    fid = h5tx__get_le64(v.p);
  }
  h5tx__kv_cursor_close(c);
  if (!fid) {
    h5tx__kv_done(t);
    return NULL;
  }
  uint8_t fk[8], lk[H5TX_LEN_KEY];
  h5tx__be64(fk, fid);
  OK(h5tx__idx_get(t, IDX_FILES, fk, 8, &v, &e));
  uint32_t ps = h5tx__get_le32(v.p);
  OK(h5tx__kv_cursor(t, IDX_LENGTHS, &c, &e));
  h5tx__len_key(lk, fid, rev);
  OK(h5tx__kv_seek(c, lk, sizeof lk, &k, &v, &e));
  REQUIRE(memcmp(k.p, lk, 8) == 0);
  OK(h5tx__idx_value(IDX_LENGTHS, &k, &v, &e));
  *len = h5tx__get_le64(v.p);
  h5tx__kv_cursor_close(c);
  uint64_t np = (*len + ps - 1) / ps;
  uint8_t *buf = calloc(np ? np * ps : 1, 1), *scratch = malloc(ps + ps / 8 + 512);
  REQUIRE(buf && scratch);
  OK(h5tx__kv_cursor(t, IDX_PAGES, &c, &e));
  for (uint64_t p = 0; p < np; p++) {
    h5tx__place pl;
    int r = h5tx__page2_find(c, fid, p, rev, &pl, NULL, &e);
    if (r == H5TX_ENOENT) continue;
    OK(r);
    OK(h5tx__page2_load(l, &pl, buf + p * ps, ps, scratch, &e));
  }
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
  free(scratch);
  return buf;
}

typedef struct cmp_arg {
  h5tx_snap *sn;
  h5tx__kv *kv;
  h5tx__plog *l;
  h5tx_rev rev;
  int files;
} cmp_arg;

static int cmp_file(void *arg, const char *name, const h5tx_stat *st) {
  cmp_arg *a = arg;
  uint8_t *one = malloc(st->length ? st->length : 1);
  REQUIRE(one);
  OK(h5tx_snap_read(a->sn, name, 0, one, st->length, &e));
  uint64_t len = 0;
  uint8_t *two = f2_read(a->kv, a->l, name, a->rev, &len);
  CHECK(two != NULL);
  if (two) {
    CHECK(len == st->length);
    if (len == st->length && memcmp(one, two, len) != 0) {
      fprintf(stderr, "%s at revision %llu differs\n", name, (unsigned long long)a->rev);
      check_failures++;
    }
  }
  a->files++;
  free(one);
  free(two);
  return 0;
}

typedef struct log_arg {
  h5tx__kv *kv;
  int n;
} log_arg;

static int cmp_commit(void *arg, const h5tx_commit *c) {
  log_arg *a = arg;
  h5tx__txn *t;
  OK(h5tx__kv_read(a->kv, &t, &e));
  uint8_t ck[8];
  h5tx__val v;
  h5tx__be64(ck, c->rev);
  OK(h5tx__idx_get(t, IDX_COMMITS, ck, 8, &v, &e));
  const uint8_t *d = v.p;
  size_t hl = h5tx__get_le16(d + 28), ml = h5tx__get_le16(d + 30);
  CHECK(h5tx__get_le64(d + 8) == c->parent && h5tx__get_le64(d + 16) == c->time_ns &&
        h5tx__get_le32(d + 24) == c->pid);
  CHECK(hl == strlen(c->host) && memcmp(d + 88, c->host, hl) == 0);
  CHECK(ml == strlen(c->message) && memcmp(d + 88 + hl, c->message, ml) == 0);
  CHECK(!!(h5tx__get_le32(d + 4) & 1) == !!c->collected);
  h5tx__kv_done(t);
  a->n++;
  return 0;
}

typedef struct tag_cmp {
  h5tx__kv *kv;
  int n;
} tag_cmp;

static int cmp_tag(void *arg, const char *name, h5tx_rev rev) {
  tag_cmp *a = arg;
  h5tx__txn *t;
  h5tx__val v;
  OK(h5tx__kv_read(a->kv, &t, &e));
  OK(h5tx__idx_get(t, IDX_TAGS, name, strlen(name), &v, &e));
  CHECK(h5tx__get_le64(v.p) == rev);
  h5tx__kv_done(t);
  a->n++;
  return 0;
}

/* Upgrade the format-1 store `store` into DIR/index and DIR/log, then
 * compare every file at every readable revision, every commit and tag. */
static void upgrade_and_compare(const char *store, const char *dir, h5tx_rev want_head,
                                int want_commits, int want_tags, const char *const *absent) {
  char idir[800], ldir[800];
  snprintf(idir, sizeof idir, "%s/index", dir);
  snprintf(ldir, sizeof ldir, "%s/log", dir);
  REQUIRE(mkdir(idir, 0777) == 0);
  h5tx__kv *old, *kv;
  h5tx__plog *l;
  h5tx_store *s;
  OK(h5tx__kv_open(store, 0, 1, 0, &old, &e));
  OK(h5tx__idx_open(idir, 1, 0, &kv, &e));
  OK(h5tx__plog_open(ldir, sid, 1, 0, 0, &l, &e));
  h5tx_rev head = 0;
  OK(h5tx__upgrade1(old, kv, l, &head, &e));
  CHECK(head == want_head);
  h5tx__kv_close(old);
  OK(h5tx_store_open(store, NULL, &s, &e));
  int readable = 0, files = 0;
  for (h5tx_rev r = 1; r <= head; r++) {
    h5tx_snap *sn;
    memset(&e, 0, sizeof e);
    int rc = h5tx_snap_open(s, r, &sn, &e);
    if (rc == H5TX_EGONE) continue;
    OK(rc);
    cmp_arg a = {sn, kv, l, r, 0};
    OK(h5tx_snap_list(sn, "", cmp_file, &a, &e));
    h5tx_snap_close(sn);
    readable++;
    files += a.files;
  }
  printf("%s: %d readable revisions, %d files compared\n", store, readable, files);
  CHECK(readable >= 2 && files >= 4);
  uint64_t len;
  CHECK(f2_read(kv, l, "no-such-file", head, &len) == NULL);
  for (; absent && *absent; absent++) /* removed or renamed by head */
    CHECK(f2_read(kv, l, *absent, head, &len) == NULL);
  log_arg la = {kv, 0};
  OK(h5tx_log(s, H5TX_HEAD, cmp_commit, &la, &e));
  CHECK(la.n == want_commits);
  tag_cmp tc = {kv, 0};
  OK(h5tx_tags(s, cmp_tag, &tc, &e));
  CHECK(tc.n == want_tags);
  h5tx_store_close(s);
  h5tx__plog_close(l);
  h5tx__kv_close(kv);
}

/* All of table `table` of the index in `dir` as one byte string (each key
 * and value with its length), so two indexes compare with memcmp. */
static uint8_t *dump_table(const char *dir, int table, size_t *n) {
  h5tx__kv *kv;
  h5tx__txn *t;
  h5tx__cur *c;
  h5tx__val k, v;
  OK(h5tx__idx_open(dir, 0, 1, &kv, &e));
  OK(h5tx__kv_read(kv, &t, &e));
  OK(h5tx__kv_cursor(t, table, &c, &e));
  uint8_t *out = NULL;
  *n = 0;
  int rc = h5tx__kv_seek(c, "", 0, &k, &v, &e);
  while (rc == 0) {
    out = realloc(out, *n + 16 + k.n + v.n);
    REQUIRE(out);
    h5tx__le64(out + *n, k.n);
    memcpy(out + *n + 8, k.p, k.n);
    h5tx__le64(out + *n + 8 + k.n, v.n);
    memcpy(out + *n + 16 + k.n, v.p, v.n);
    *n += 16 + k.n + v.n;
    rc = h5tx__kv_next(c, &k, &v, &e);
  }
  CHECK(rc == H5TX_ENOENT);
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
  h5tx__kv_close(kv);
  return out;
}

static void say_line(void *arg, const char *line) {
  (void)arg;
  printf("repair: %s\n", line);
}

int main(void) {
  uint64_t seed = test_seed("core_upgrade1");
  test_paths tp = temp_paths();
  /* 1. a format-1 store, made by the format-1 code */
  h5tx_store *s = open_store(tp.store, FPS, 1 << 20);
  enum { N = 40 };
  uint8_t *buf = malloc((size_t)N * FPS);
  REQUIRE(buf);
  for (size_t i = 0; i < (size_t)N * FPS; i++)
    buf[i] = i < 15 * FPS ? (uint8_t)rng_next(&seed) : i < 30 * FPS ? (uint8_t)(i / 50) : 0;
  write_file(s, "a.h5", 0, buf, (size_t)N * FPS, -1, "create a");
  write_file(s, "a.h5", 5 * FPS + 17, buf + 20 * FPS, 3 * FPS, -1, "modify a");
  write_file(s, "d/b.h5", 0, buf + 16 * FPS, 7 * FPS + 5, -1, "create b");
  write_file(s, "a.h5", 0, NULL, 0, 10 * FPS + 100, "truncate a");
  h5tx_rev rev;
  OK(h5tx_rename(s, "a.h5", "c.h5", "rename a to c", &rev, &e));
  OK(h5tx_remove(s, "d/b.h5", "remove b", &rev, &e));
  write_file(s, "c.h5", 12 * FPS, buf, 6 * FPS, -1, "grow c");
  OK(h5tx_tag_set(s, "v1", 2, &e));
  OK(h5tx_tag_set(s, "last", H5TX_HEAD, &e));
  h5tx_gc_opts go = {.keep_last = 3};
  h5tx_gc_result gr;
  OK(h5tx_gc(s, &go, &gr, &e));
  CHECK(gr.revisions_collected > 0);
  h5tx_store_close(s);

  /* 2-3. upgrade beside it and compare */
  char up[800];
  snprintf(up, sizeof up, "%s/up", tp.dir);
  REQUIRE(mkdir(up, 0777) == 0);
  const char *const gone[] = {"a.h5", "d/b.h5", NULL};
  upgrade_and_compare(tp.store, up, 7, 7, 2, gone);

  /* the store checked in (tests/data, made by the format-1 code) */
  char cmd[2000], up2[800], small[900];
  snprintf(up2, sizeof up2, "%s/up2", tp.dir);
  REQUIRE(mkdir(up2, 0777) == 0);
  snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", H5TX_FORMAT1_STORE, up2);
  REQUIRE(system(cmd) == 0);
  snprintf(small, sizeof small, "%s/small.h5tx", up2);
  upgrade_and_compare(small, up2, 6, 6, 2, NULL);

  /* the checked-in store upgraded in place: refused while in use, then a
   * format-2 store with a new id where it was, the old one kept aside */
  char up3[800], small3[900], kept[1200];
  snprintf(up3, sizeof up3, "%s/up3", tp.dir);
  REQUIRE(mkdir(up3, 0777) == 0);
  snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", H5TX_FORMAT1_STORE, up3);
  REQUIRE(system(cmd) == 0);
  snprintf(small3, sizeof small3, "%s/small.h5tx", up3);
  h5tx_rev uhead = 0;
  h5tx_snap *busy;
  OK(h5tx_store_open(small3, NULL, &s, &e));
  OK(h5tx_snap_open(s, 6, &busy, &e));
  FAILS(h5tx__upgrade_store(small3, &uhead, kept, sizeof kept, &e), H5TX_EBUSY, "reads revision 6");
  h5tx_snap_close(busy);
  h5tx_store_close(s);
  OK(h5tx__upgrade_store(small3, &uhead, kept, sizeof kept, &e));
  CHECK(uhead == 6);
  h5tx__marker m3, mk;
  OK(h5tx__marker_read(small3, 2, &m3, &e));
  CHECK(m3.format == 2);
  OK(h5tx__marker_read(kept, 2, &mk, &e));
  CHECK(mk.format == 1);
  {
    char idir3[1000];
    snprintf(idir3, sizeof idir3, "%s/index", small3);
    h5tx__kv *kv3;
    h5tx__defaults d3;
    OK(h5tx__idx_open(idir3, 0, 1, &kv3, &e));
    OK(h5tx__store2_meta(kv3, small3, &m3, &d3, &e));
    h5tx__txn *t3;
    uint64_t h3 = 0;
    OK(h5tx__kv_read(kv3, &t3, &e));
    OK(h5tx__meta2_get(t3, "head", &h3, &e));
    /* upgraded_from: LE32 1, LE64 time (FORMAT.md, "meta") */
    h5tx__val uf;
    OK(h5tx__idx_get(t3, IDX_META, "upgraded_from", 13, &uf, &e));
    CHECK(uf.n == 12);
    if (uf.n == 12) {
      uint64_t at = h5tx__get_le64((const uint8_t *)uf.p + 4) / 1000000000u;
      CHECK(h5tx__get_le32(uf.p) == 1);
      CHECK(at <= (uint64_t)time(NULL) && at + 600 >= (uint64_t)time(NULL));
    }
    h5tx__kv_done(t3);
    CHECK(h3 == 6);
    h5tx__kv_close(kv3);
  }
  FAILS(h5tx__upgrade_store(small3, &uhead, kept, sizeof kept, &e), H5TX_EINVAL,
        "has format 2 already");
  /* repair rebuilds the same index from the log, defaults kept */
  {
    const int tables[] = {IDX_NAMES, IDX_FILES, IDX_PAGES, IDX_LENGTHS, IDX_COMMITS, IDX_TAGS};
    char idir3[1000];
    snprintf(idir3, sizeof idir3, "%s/index", small3);
    uint8_t *before[6];
    size_t nb[6];
    for (int i = 0; i < 6; i++)
      before[i] = dump_table(idir3, tables[i], &nb[i]);
    h5tx__kv *kv3;
    h5tx__defaults d_before, d_after;
    OK(h5tx__idx_open(idir3, 0, 1, &kv3, &e));
    OK(h5tx__store2_meta(kv3, small3, &m3, &d_before, &e));
    h5tx__kv_close(kv3);
    h5tx_rev rhead = 0;
    OK(h5tx__repair_store(small3, say_line, NULL, &rhead, &e));
    CHECK(rhead == 6);
    for (int i = 0; i < 6; i++) {
      size_t na;
      uint8_t *after = dump_table(idir3, tables[i], &na);
      CHECK(nb[i] > 0 || tables[i] == IDX_TAGS);
      if (na != nb[i] || memcmp(after, before[i], na) != 0)
        fprintf(stderr, "repaired index differs in table %s\n", h5tx__idx_table(tables[i]));
      CHECK(na == nb[i] && memcmp(after, before[i], na) == 0);
      free(after);
      free(before[i]);
    }
    OK(h5tx__idx_open(idir3, 0, 1, &kv3, &e));
    OK(h5tx__store2_meta(kv3, small3, &m3, &d_after, &e));
    h5tx__kv_close(kv3);
    CHECK(memcmp(&d_before, &d_after, sizeof d_after) == 0);
    /* format 1 is refused, naming the upgrade */
    FAILS(h5tx__repair_store(kept, say_line, NULL, &rhead, &e), H5TX_EFORMAT, "run `h5tx upgrade ");
  }
  OK(h5tx_store_open(kept, NULL, &s, &e)); /* the kept store is the old one */
  h5tx_rev kh = 0;
  OK(h5tx_store_head(s, &kh, &e));
  CHECK(kh == 6);
  h5tx_store_close(s);

  /* 4. a damaged format-1 page record fails the upgrade, naming it */
  char data[800];
  snprintf(data, sizeof data, "%s/data.mdb", tp.store);
  int fd = open(data, O_RDWR);
  REQUIRE(fd >= 0);
  /* the noisy bytes of page 0 are stored raw: find them and flip one */
  struct stat st;
  REQUIRE(fstat(fd, &st) == 0);
  uint8_t *img = malloc((size_t)st.st_size);
  REQUIRE(pread(fd, img, (size_t)st.st_size, 0) == st.st_size);
  off_t at = -1;
  for (off_t o = 0; o + 64 <= st.st_size; o++)
    if (memcmp(img + o, buf + 100, 64) == 0) {
      at = o;
      break;
    }
  REQUIRE(at >= 0);
  img[at] ^= 1;
  REQUIRE(pwrite(fd, img + at, 1, at) == 1);
  close(fd);
  free(img);
  char idir2[800], ldir2[800];
  h5tx__kv *old, *kv;
  h5tx__plog *l;
  h5tx_rev head;
  snprintf(idir2, sizeof idir2, "%s/index2", tp.dir);
  snprintf(ldir2, sizeof ldir2, "%s/log2", tp.dir);
  REQUIRE(mkdir(idir2, 0777) == 0);
  OK(h5tx__kv_open(tp.store, 0, 1, 0, &old, &e));
  OK(h5tx__idx_open(idir2, 1, 0, &kv, &e));
  OK(h5tx__plog_open(ldir2, sid, 1, 0, 0, &l, &e));
  FAILS(h5tx__upgrade1(old, kv, l, &head, &e), H5TX_ECORRUPT, "upgrade: file id 1 page");
  h5tx__kv_close(old);
  h5tx__kv_close(kv);
  h5tx__plog_close(l);
  free(buf);
  remove_tree(tp.dir);
  return check_done("core_upgrade1");
}
