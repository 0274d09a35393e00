/* test_upgrade1.c - format 1 to format 2 (upgrade1.h), on the format-1
 * store checked in as tests/data/format1-small.tar.gz (made by the format-1
 * code, tests/data/make_format1_store.sh: noisy, compressible and zero
 * pages, a truncation, tags, a gc that collected revisions). Converted,
 * every file at every readable revision has the sha256 the format-1 code's
 * `h5tx export` gave (format1-small.sha256); messages, times, hosts,
 * parents, collected flags and tags are those of the format-1 records; the
 * in-place upgrade is refused while the store is in use and keeps the old
 * store aside; repair rebuilds the same index; a damaged format-1 page
 * record fails the upgrade naming it. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>

static h5tx_error e;

#include "f2_commit.h"
#include "pins.h"
#include "store2.h"
#include "upgrade1.h"

enum { FPS = 4096 };

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

/* sha256 of `n` bytes, as 64 hex digits, by sha256sum. */
static void sha256(const uint8_t *p, size_t n, const char *tmpdir, char out[65]) {
  char f[900], cmd[2000];
  snprintf(f, sizeof f, "%s/sha-input", tmpdir);
  FILE *fp = fopen(f, "wb");
  REQUIRE(fp && fwrite(p, 1, n, fp) == n && fclose(fp) == 0);
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", f);
  FILE *pp = popen(cmd, "r");
  REQUIRE(pp && fscanf(pp, "%64s", out) == 1);
  pclose(pp);
}

/* Every commit of the format-1 store `old` against the upgraded index. */
static int compare_commits(h5tx__kv *old, h5tx__kv *kv) {
  h5tx__txn *t, *t2;
  h5tx__cur *c;
  h5tx__val k, v, v2;
  int n = 0;
  OK(h5tx__kv_read(old, &t, &e));
  OK(h5tx__kv_read(kv, &t2, &e));
  OK(h5tx__kv_cursor(t, KV_COMMITS, &c, &e));
  for (int rc = h5tx__kv_seek(c, "", 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e)) {
    h5tx__commit_rec c1;
    h5tx__commit2 c2;
    REQUIRE(h5tx__commit_parse(&v, &c1) == 0);
    OK(h5tx__idx_get(t2, IDX_COMMITS, k.p, k.n, &v2, &e));
    REQUIRE(h5tx__commit2_parse(v2.p, v2.n, &c2) == 0);
    CHECK(c1.parent == c2.parent && c1.time_ns == c2.time_ns && c1.pid == c2.pid);
    CHECK(c1.host_len == c2.host_len && memcmp(c1.host, c2.host, c1.host_len) == 0);
    CHECK(c1.msg_len == c2.msg_len && memcmp(c1.msg, c2.msg, c1.msg_len) == 0);
    CHECK(!!(c1.flags & H5TX_COMMIT_COLLECTED) == !!(c2.flags & H5TX_COMMIT_COLLECTED));
    n++;
  }
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t2);
  h5tx__kv_done(t);
  return n;
}

/* Every tag of the format-1 store `old` against the upgraded index. */
static int compare_tags(h5tx__kv *old, h5tx__kv *kv) {
  h5tx__txn *t, *t2;
  h5tx__cur *c;
  h5tx__val k, v, v2;
  int n = 0;
  OK(h5tx__kv_read(old, &t, &e));
  OK(h5tx__kv_read(kv, &t2, &e));
  OK(h5tx__kv_cursor(t, KV_TAGS, &c, &e));
  for (int rc = h5tx__kv_seek(c, "", 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e)) {
    OK(h5tx__idx_get(t2, IDX_TAGS, k.p, k.n, &v2, &e));
    CHECK(v.n == 8 && v2.n == 8 && h5tx__get_le64(v.p) == h5tx__get_le64(v2.p));
    n++;
  }
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t2);
  h5tx__kv_done(t);
  return n;
}

/* Upgrade the format-1 store `store` into DIR/index and DIR/log, then
 * compare every file at every revision format1-small.sha256 lists, every
 * commit and tag. */
static void upgrade_and_compare(const char *store, const char *dir, h5tx_rev want_head,
                                int want_commits, int want_tags) {
  char idir[900], ldir[900];
  snprintf(idir, sizeof idir, "%s/index", dir);
  snprintf(ldir, sizeof ldir, "%s/log", dir);
  REQUIRE(mkdir(idir, 0777) == 0);
  h5tx__kv *old, *kv;
  h5tx__plog *l;
  OK(h5tx__kv_open(store, 0, 1, 0, &old, &e));
  OK(h5tx__idx_open(idir, 1, 0, &kv, &e));
  OK(h5tx__plog_open(ldir, sid, 1, 0, 0, &l, &e));
  h5tx_rev head = 0;
  OK(h5tx__upgrade1(old, kv, l, &head, &e));
  CHECK(head == want_head);
  FILE *sums = fopen(H5TX_FORMAT1_SUMS, "r");
  REQUIRE(sums);
  char want[65], spec[600], got[65];
  int files = 0;
  while (fscanf(sums, "%64s %599s", want, spec) == 2) {
    char *at = strrchr(spec, '@');
    REQUIRE(at);
    *at = 0;
    h5tx_rev r = strtoull(at + 1, NULL, 10);
    uint64_t len = 0;
    uint8_t *b = f2_read(kv, l, spec, r, &len);
    CHECK(b != NULL);
    if (!b) continue;
    sha256(b, len, dir, got);
    if (strcmp(got, want) != 0)
      fprintf(stderr, "%s at revision %llu differs\n", spec, (unsigned long long)r);
    CHECK(strcmp(got, want) == 0);
    free(b);
    files++;
  }
  fclose(sums);
  printf("%s: %d files at their revisions compared\n", store, files);
  CHECK(files >= 4);
  uint64_t len;
  CHECK(f2_read(kv, l, "no-such-file", head, &len) == NULL);
  CHECK(compare_commits(old, kv) == want_commits);
  CHECK(compare_tags(old, kv) == want_tags);
  h5tx__kv_close(old);
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

/* Flip a byte in the payload of the first page record that is not a
 * zero page (format 1: a 24-byte header, then the payload). */
static int flip_page(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  h5tx__cur *c;
  h5tx__val k, v;
  int rc = h5tx__kv_cursor(t, KV_PAGES, &c, err);
  if (rc) return rc;
  for (rc = h5tx__kv_seek(c, "", 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err))
    if (v.n > H5TX_PAGE_HDR + 8) break;
  REQUIRE(rc == 0);
  uint8_t key[H5TX_PAGE_KEY], *val = malloc(v.n);
  REQUIRE(k.n == H5TX_PAGE_KEY && val);
  memcpy(key, k.p, k.n);
  memcpy(val, v.p, v.n);
  val[H5TX_PAGE_HDR + 5] ^= 1;
  h5tx__kv_cursor_close(c);
  rc = h5tx__kv_put(t, KV_PAGES, key, sizeof key, val, v.n, err);
  free(val);
  return rc;
}

static void say_line(void *arg, const char *line) {
  (void)arg;
  printf("repair: %s\n", line);
}

/* ---- the comparison before the rename (h5tx__upgrade_check) ---- */

typedef struct edit {
  int table;
  uint8_t key[64];
  size_t klen;
  uint8_t val[8];
  int del_fid; /* delete every page version of the first file instead */
} edit;

/* The first entry of `table` in the index `idir`: key and 8-byte value. */
static void first_entry(const char *idir, int table, edit *ed) {
  h5tx__kv *kv;
  h5tx__txn *t;
  h5tx__cur *c;
  h5tx__val k, v;
  OK(h5tx__idx_open(idir, 0, 1, &kv, &e));
  OK(h5tx__kv_read(kv, &t, &e));
  OK(h5tx__kv_cursor(t, table, &c, &e));
  OK(h5tx__kv_seek(c, "", 0, &k, &v, &e));
  OK(h5tx__idx_value(table, &k, &v, &e));
  REQUIRE(k.n <= sizeof ed->key && v.n == 8);
  ed->table = table;
  memcpy(ed->key, k.p, k.n);
  ed->klen = k.n;
  memcpy(ed->val, v.p, 8);
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
  h5tx__kv_close(kv);
}

static int edit_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  edit *ed = arg;
  if (!ed->del_fid) return h5tx__idx_put(t, ed->table, ed->key, ed->klen, ed->val, 8, err);
  /* every page version of the file of the first pages key */
  h5tx__cur *c;
  h5tx__val k, v;
  int rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err);
  if (rc) return rc;
  uint8_t fid[8], key[H5TX_PAGE_KEY];
  rc = h5tx__kv_seek(c, "", 0, &k, &v, err);
  REQUIRE(rc == 0 && k.n == H5TX_PAGE_KEY);
  memcpy(fid, k.p, 8);
  while (rc == 0 && k.n == H5TX_PAGE_KEY && memcmp(k.p, fid, 8) == 0) {
    memcpy(key, k.p, sizeof key);
    rc = h5tx__kv_del(t, IDX_PAGES, key, sizeof key, err);
    if (rc == 0) rc = h5tx__kv_seek(c, key, sizeof key, &k, &v, err);
  }
  h5tx__kv_cursor_close(c);
  return rc == H5TX_ENOENT ? 0 : rc;
}

static void apply_edit(const char *idir, edit *ed) {
  h5tx__kv *kv;
  OK(h5tx__idx_open(idir, 0, 0, &kv, &e));
  OK(h5tx__kv_write(kv, edit_fn, ed, 1, &e));
  h5tx__kv_close(kv);
}

/* The converted store in `dir` (index/ and log/, converted from `store`
 * by upgrade_and_compare) passes the comparison; each change of it fails
 * the comparison, naming what differs: a tag moved, a length changed, a
 * file's pages gone (the bytes differ, every record still checks). */
static void check_refuses_changes(const char *store, const char *dir) {
  char idir[900];
  snprintf(idir, sizeof idir, "%s/index", dir);
  OK(h5tx__upgrade_check(store, dir, sid, &e));
  edit tag = {0}, len = {0};
  first_entry(idir, IDX_TAGS, &tag);
  edit moved = tag;
  h5tx__le64(moved.val, h5tx__get_le64(tag.val) == 1 ? 2 : 1);
  apply_edit(idir, &moved);
  FAILS(h5tx__upgrade_check(store, dir, sid, &e), H5TX_ECORRUPT,
        "the converted store differs from the format-1 store: tag '");
  CHECK(strstr(e.msg, "names another revision in the new store; the format-1 store is unchanged"));
  apply_edit(idir, &tag);
  OK(h5tx__upgrade_check(store, dir, sid, &e));
  /* the newest length of the first file: what head reads */
  first_entry(idir, IDX_LENGTHS, &len);
  edit longer = len;
  h5tx__le64(longer.val, h5tx__get_le64(len.val) + 1);
  apply_edit(idir, &longer);
  FAILS(h5tx__upgrade_check(store, dir, sid, &e), H5TX_ECORRUPT, " bytes in the format-1 store, ");
  apply_edit(idir, &len);
  OK(h5tx__upgrade_check(store, dir, sid, &e));
  edit gone = {.del_fid = 1};
  apply_edit(idir, &gone);
  FAILS(h5tx__upgrade_check(store, dir, sid, &e), H5TX_ECORRUPT,
        "in the format-1 store, 0x00 in the new one");
  printf("refused: %s\n", e.msg);
}

/* The hook of the in-place upgrade: the new store's first file loses its
 * pages before the comparison. */
static void lose_pages(const char *dir) {
  char idir[4200];
  snprintf(idir, sizeof idir, "%s/index", dir);
  edit gone = {.del_fid = 1};
  apply_edit(idir, &gone);
}

/* sha256 of the store directory's files but its lock and live table. */
static void tree_sum(const char *dir, char out[65]) {
  char cmd[2000];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && find . -type f ! -name lock.mdb ! -name readers -print0 | sort -z | "
           "xargs -0 sha256sum | sha256sum",
           dir);
  FILE *pp = popen(cmd, "r");
  REQUIRE(pp && fscanf(pp, "%64s", out) == 1);
  pclose(pp);
}

/* Entries of `dir` whose names start with `prefix`. */
static int count_entries(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  REQUIRE(d);
  int n = 0;
  for (struct dirent *de; (de = readdir(d));)
    n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

int main(void) {
  test_paths tp = temp_paths();
  h5tx_store *s;
  /* the store checked in (tests/data, made by the format-1 code) */
  char cmd[2000], up2[800], small[900];
  snprintf(up2, sizeof up2, "%s/up2", tp.dir);
  REQUIRE(mkdir(up2, 0777) == 0);
  snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", H5TX_FORMAT1_STORE, up2);
  REQUIRE(system(cmd) == 0);
  snprintf(small, sizeof small, "%s/small.h5tx", up2);
  upgrade_and_compare(small, up2, 6, 6, 2);
  check_refuses_changes(small, up2);

  /* the in-place upgrade refuses when the comparison finds a difference,
   * leaving the format-1 store as it was and nothing beside it */
  {
    char up5[800], small5[900], before[65], after[65];
    snprintf(up5, sizeof up5, "%s/up5", tp.dir);
    REQUIRE(mkdir(up5, 0777) == 0);
    snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", H5TX_FORMAT1_STORE, up5);
    REQUIRE(system(cmd) == 0);
    snprintf(small5, sizeof small5, "%s/small.h5tx", up5);
    tree_sum(small5, before);
    h5tx__upgrade_test_hook = lose_pages;
    char kept5[1200];
    h5tx_rev h5 = 0;
    FAILS(h5tx__upgrade_store(small5, &h5, kept5, sizeof kept5, &e), H5TX_ECORRUPT,
          "the converted store differs from the format-1 store: revision ");
    CHECK(strstr(e.msg, "; the format-1 store is unchanged") != NULL);
    h5tx__upgrade_test_hook = NULL;
    tree_sum(small5, after);
    CHECK(strcmp(before, after) == 0);
    h5tx__marker m5;
    OK(h5tx__marker_read(small5, 2, &m5, &e));
    CHECK(m5.format == 1);
    CHECK(count_entries(up5, ".small.h5tx.") == 0);
    /* and without the change it goes through */
    OK(h5tx__upgrade_store(small5, &h5, kept5, sizeof kept5, &e));
    CHECK(h5 == 6);
  }

  /* the checked-in store upgraded in place: refused while in use, then a
   * format-2 store with a new id where it was, the old one kept aside */
  char up3[800], small3[900], kept[1200];
  snprintf(up3, sizeof up3, "%s/up3", tp.dir);
  REQUIRE(mkdir(up3, 0777) == 0);
  snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", H5TX_FORMAT1_STORE, up3);
  REQUIRE(system(cmd) == 0);
  snprintf(small3, sizeof small3, "%s/small.h5tx", up3);
  h5tx_rev uhead = 0;
  {
    /* a reader of the format-1 store (an older h5tx) holds a pin */
    h5tx__pins *busy;
    int slot;
    OK(h5tx__pins_open(small3, &busy, &e));
    OK(h5tx__pin(busy, 6, &slot, &e));
    FAILS(h5tx__upgrade_store(small3, &uhead, kept, sizeof kept, &e), H5TX_EBUSY,
          "reads revision 6");
    h5tx__pins_close(busy);
  }
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
  /* the kept store is the old one: format 1, refused by the library */
  FAILS(h5tx_store_open(kept, NULL, &s, &e), H5TX_EFORMAT, "run `h5tx upgrade ");
  {
    h5tx__kv *k1;
    h5tx__txn *t1;
    uint64_t kh = 0;
    OK(h5tx__kv_open(kept, 0, 1, 0, &k1, &e));
    OK(h5tx__kv_read(k1, &t1, &e));
    OK(h5tx__meta_get(t1, "head", &kh, &e));
    CHECK(kh == 6);
    h5tx__kv_done(t1);
    h5tx__kv_close(k1);
  }

  /* 4. a damaged format-1 page record fails the upgrade, naming it: one
   * byte of a stored page record of a fresh copy of the checked-in store
   * flipped through the format-1 tables */
  char up4[800], small4[900];
  snprintf(up4, sizeof up4, "%s/up4", tp.dir);
  REQUIRE(mkdir(up4, 0777) == 0);
  snprintf(cmd, sizeof cmd, "tar -xzf '%s' -C '%s'", H5TX_FORMAT1_STORE, up4);
  REQUIRE(system(cmd) == 0);
  snprintf(small4, sizeof small4, "%s/small.h5tx", up4);
  {
    h5tx__kv *k4;
    OK(h5tx__kv_open(small4, 0, 0, 0, &k4, &e));
    OK(h5tx__kv_write(k4, flip_page, NULL, 1, &e));
    h5tx__kv_close(k4);
  }
  char idir2[800], ldir2[800];
  h5tx__kv *old, *kv;
  h5tx__plog *l;
  h5tx_rev head;
  snprintf(idir2, sizeof idir2, "%s/index2", tp.dir);
  snprintf(ldir2, sizeof ldir2, "%s/log2", tp.dir);
  REQUIRE(mkdir(idir2, 0777) == 0);
  OK(h5tx__kv_open(small4, 0, 1, 0, &old, &e));
  OK(h5tx__idx_open(idir2, 1, 0, &kv, &e));
  OK(h5tx__plog_open(ldir2, sid, 1, 0, 0, &l, &e));
  FAILS(h5tx__upgrade1(old, kv, l, &head, &e), H5TX_ECORRUPT, "upgrade: file id 1 page");
  h5tx__kv_close(old);
  h5tx__kv_close(kv);
  h5tx__plog_close(l);
  remove_tree(tp.dir);
  return check_done("core_upgrade1");
}
