/* test_compact.c - gc gives space back (docs/FORMAT.md, "Garbage
 * collection"): many revisions of a file (random bytes, a truncation, zero
 * pages, a second file removed again) written through several store
 * handles, then gc keeping only head, a tag and a pinned snapshot. The
 * page log's size on disk must shrink to well under half; every kept
 * revision reads back byte for byte as the model says, before gc, after
 * it (the pinned snapshot too, which was open across it) and after the
 * index is rebuilt from the compacted log by repair, where the collected
 * revisions come back collected. */
#include "check.h"
#include "check_fs.h"
#include "pipes.h"

#include "apply2.h"
#include "records.h"
#include "records2.h"
#include "store2.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static h5tx_error e;

#define PS 4096
#define NPAGES 64
#define NREVS 30         /* revisions of f.bin */
#define HEAD (NREVS + 1) /* h.bin written, with the last tag changes */
#define HPAGES 16
#define TAGGED 6 /* its zero page 10 shares its offset with page 11 */
#define PINNED 12

static uint8_t model[HEAD + 1][NPAGES * PS];
static uint64_t length[HEAD + 1];
static uint8_t hfile[HPAGES * PS];

static int count_segments(const char *dir) {
  DIR *d = opendir(dir);
  REQUIRE(d != NULL);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    n += strstr(de->d_name, ".seg") != NULL;
  closedir(d);
  return n;
}

/* Revision r of f.bin reads as the model says, through snapshot `sn`. */
static void check_snap(h5tx_snap *sn, h5tx_rev r, const char *when) {
  static uint8_t buf[NPAGES * PS];
  h5tx_stat st;
  int rc = h5tx_snap_stat(sn, "f.bin", &st, &e);
  if (rc) {
    fprintf(stderr, "%s: revision %llu: %s\n", when, (unsigned long long)r, e.msg);
    CHECK(0);
    return;
  }
  CHECK(st.length == length[r]);
  memset(buf, 0xee, sizeof buf);
  rc = h5tx_snap_read(sn, "f.bin", 0, buf, length[r], &e);
  if (rc) {
    fprintf(stderr, "%s: revision %llu: %s\n", when, (unsigned long long)r, e.msg);
    CHECK(0);
    return;
  }
  if (memcmp(buf, model[r], length[r]) != 0) {
    fprintf(stderr, "%s: revision %llu reads wrong bytes\n", when, (unsigned long long)r);
    CHECK(0);
  }
}

static void check_rev(h5tx_store *s, h5tx_rev r, int readable, const char *when) {
  h5tx_snap *sn;
  int rc = h5tx_snap_open(s, r, &sn, &e);
  if (!readable) {
    if (rc != H5TX_EGONE) {
      fprintf(stderr, "%s: revision %llu should be collected, got %s\n", when,
              (unsigned long long)r, h5tx_strerror(rc));
      CHECK(0);
    }
    if (rc == 0) h5tx_snap_close(sn);
    return;
  }
  if (rc) {
    fprintf(stderr, "%s: revision %llu: %s\n", when, (unsigned long long)r, e.msg);
    CHECK(0);
    return;
  }
  check_snap(sn, r, when);
  h5tx_snap_close(sn);
}

/* The tags of a store as "name=rev " pairs, in name order. */
static int tag_cb(void *arg, const char *name, h5tx_rev rev) {
  char *out = arg;
  size_t n = strlen(out);
  snprintf(out + n, 512 - n, "%s=%llu ", name, (unsigned long long)rev);
  return 0;
}

static void check_tags(h5tx_store *s, const char *want, const char *when) {
  char got[512] = "";
  OK(h5tx_tags(s, tag_cb, got, &e));
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "%s: tags '%s', want '%s'\n", when, got, want);
    CHECK(0);
  }
}

static int seg_exists(const char *store, uint64_t seg) {
  char p[800];
  struct stat st;
  snprintf(p, sizeof p, "%s/log/%016llx.seg", store, (unsigned long long)seg);
  return stat(p, &st) == 0;
}

/* The index after compaction (the store closed): every `dedupe` entry
 * names the record of a `pages` entry, and every `pages` entry of a record
 * with bytes has one; commit records and `segments` entries name segments
 * that exist. */
static void check_index(const char *store, const char *when) {
  char dir[700];
  snprintf(dir, sizeof dir, "%s/index", store);
  h5tx__kv *kv;
  OK(h5tx__idx_open(dir, 0, 1, &kv, &e));
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  h5tx__cur *c;
  h5tx__val k, v;
  uint64_t with_bytes = 0, entries = 0;
  OK(h5tx__kv_cursor(t, IDX_PAGES, &c, &e));
  for (int rc = h5tx__kv_seek(c, NULL, 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e)) {
    h5tx__place p;
    const char *why;
    OK(h5tx__idx_value(IDX_PAGES, &k, &v, &e));
    REQUIRE(h5tx__place_parse(v.p, v.n, &p, &why) == 0);
    if (p.enc == PLOG_ENC_ZERO) continue;
    with_bytes++;
    uint8_t dk[H5TX_DEDUPE_KEY];
    h5tx__dedupe_key(dk, &p);
    h5tx__val dv;
    int rc2 = h5tx__idx_get(t, IDX_DEDUPE, dk, sizeof dk, &dv, &e);
    if (rc2 != 0 || dv.n != v.n + 8 || memcmp(dv.p, v.p, v.n) != 0) {
      fprintf(stderr, "%s: segment %llu offset %llu: no dedupe entry naming it\n", when,
              (unsigned long long)p.seg, (unsigned long long)p.off);
      CHECK(0);
    }
  }
  h5tx__kv_cursor_close(c);
  OK(h5tx__kv_cursor(t, IDX_DEDUPE, &c, &e));
  for (int rc = h5tx__kv_seek(c, NULL, 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e))
    entries++;
  h5tx__kv_cursor_close(c);
  /* every commit record's log place and every segments entry names a
   * segment that is there */
  OK(h5tx__kv_cursor(t, IDX_COMMITS, &c, &e));
  for (int rc = h5tx__kv_seek(c, NULL, 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e)) {
    h5tx__commit2 cr;
    OK(h5tx__idx_value(IDX_COMMITS, &k, &v, &e));
    REQUIRE(h5tx__commit2_parse(v.p, v.n, &cr) == 0);
    if (!seg_exists(store, cr.seg)) {
      fprintf(stderr, "%s: revision %llu: its commit record's segment %llu is gone\n", when,
              (unsigned long long)h5tx__get_be64(k.p), (unsigned long long)cr.seg);
      CHECK(0);
    }
  }
  h5tx__kv_cursor_close(c);
  OK(h5tx__kv_cursor(t, IDX_SEGMENTS, &c, &e));
  for (int rc = h5tx__kv_seek(c, NULL, 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e))
    if (!seg_exists(store, h5tx__get_be64(k.p))) {
      fprintf(stderr, "%s: segments names segment %llu, which is gone\n", when,
              (unsigned long long)h5tx__get_be64(k.p));
      CHECK(0);
    }
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
  h5tx__kv_close(kv);
  if (entries != with_bytes)
    fprintf(stderr, "%s: %llu dedupe entries for %llu records\n", when, (unsigned long long)entries,
            (unsigned long long)with_bytes);
  CHECK(entries == with_bytes);
}

static void say_repair(void *arg, const char *line) {
  (void)arg;
  printf("repair: %s\n", line);
}

static void on_problem(void *arg, int kind, const char *problem) {
  printf("verify %s: %s: %s\n", (const char *)arg, kind == H5TX_VERIFY_DAMAGE ? "damage" : "note",
         problem);
}

/* h5tx_verify finds no damage. */
static void verify_clean(h5tx_store *s, const char *when) {
  h5tx_verify_result vr;
  OK(h5tx_verify(s, on_problem, NULL, (void *)when, &vr, &e));
  CHECK(vr.problems == 0);
}

/* Repair the store, then remove the index it moved aside (as a user
 * would: a second repair in the same second would want its name). */
static h5tx_rev repair(const char *store) {
  h5tx_rev head = 0;
  OK(h5tx__repair_store(store, say_repair, NULL, &head, &e));
  DIR *d = opendir(store);
  REQUIRE(d != NULL);
  struct dirent *de;
  while ((de = readdir(d)))
    if (strncmp(de->d_name, "index.damaged-", 14) == 0) {
      char p[1200];
      snprintf(p, sizeof p, "%s/%s", store, de->d_name);
      remove_tree(p);
    }
  closedir(d);
  return head;
}

/* ---- gc in another process while commits, reopens and reads go on ------ */

#define CREVS 48
#define CPAGES 32
static uint8_t cmodel[CREVS + 1][CPAGES * PS];

/* Every revision reads its model or is collected; head is never gone. */
static void check_all_or_gone(h5tx_store *s, h5tx_rev head, const char *when) {
  static uint8_t buf[CPAGES * PS];
  for (h5tx_rev r = 1; r <= head; r++) {
    h5tx_snap *sn;
    int rc = h5tx_snap_open(s, r, &sn, &e);
    if (rc == H5TX_EGONE && r < head) continue;
    if (rc) {
      fprintf(stderr, "%s: revision %llu: %s\n", when, (unsigned long long)r, e.msg);
      CHECK(0);
      continue;
    }
    rc = h5tx_snap_read(sn, "c.bin", 0, buf, sizeof buf, &e);
    if (rc || memcmp(buf, cmodel[r], sizeof buf) != 0) {
      fprintf(stderr, "%s: revision %llu: %s\n", when, (unsigned long long)r,
              rc ? e.msg : "wrong bytes");
      CHECK(0);
    }
    h5tx_snap_close(sn);
  }
}

/* The child: gc (keep the newest 2) again and again until the parent
 * closes `stop`; then says how many runs it made. */
static void gc_loop(const char *path, int stop, int up) {
  h5tx_store *cs = open_store(path, PS, 0);
  h5tx_gc_opts g = {2, 0, 0};
  unsigned runs = 0;
  for (;;) {
    struct pollfd pf = {stop, POLLIN, 0};
    if (poll(&pf, 1, 0) > 0) break; /* end of file: the parent is done */
    h5tx_gc_result res;
    if (h5tx_gc(cs, &g, &res, &e) != 0) {
      fprintf(stderr, "gc run %u: %s\n", runs, e.msg);
      CHECK(0);
      break;
    }
    runs++;
  }
  h5tx_store_close(cs);
  say(up, "%u\n", runs);
}

static void test_concurrent(const char *dir, uint64_t *rng) {
  char path[700];
  snprintf(path, sizeof path, "%s/concurrent.h5tx", dir);
  /* two pages of memory: the rest of a commit streams into the log */
  h5tx_store *s = open_store(path, PS, 2 * PS);
  int stop[2], up[2];
  REQUIRE(pipe(stop) == 0 && pipe(up) == 0);
  pid_t pid = spawn();
  if (pid == 0) {
    close(stop[1]);
    close(up[0]);
    gc_loop(path, stop[0], up[1]);
    _exit(check_failures ? 1 : 0);
  }
  close(stop[0]);
  close(up[1]);
  h5tx_snap *old = NULL;
  uint64_t written = 0;
  for (h5tx_rev r = 1; r <= CREVS; r++) {
    memcpy(cmodel[r], cmodel[r - 1], sizeof cmodel[r]);
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "c.bin", &wo, &w, &e));
    for (int p = 0; p < CPAGES; p++) {
      /* a quarter of the pages, at least one (no change: no revision) */
      if (r > 1 && p != (int)(r % CPAGES) && rng_below(rng, 4)) continue;
      uint8_t *pg = cmodel[r] + (size_t)p * PS;
      for (int i = 0; i < PS; i++)
        pg[i] = (uint8_t)rng_next(rng);
      /* whole pages only: a partial one would read its base version, and
       * a writer's base read does not look a moved record up again yet */
      OK(h5tx_writer_write(w, (uint64_t)p * PS, pg, PS, &e));
      written += PS;
    }
    h5tx_rev got;
    OK(h5tx_writer_commit(w, NULL, &got, &e));
    h5tx_writer_close(w);
    if (got != r)
      fprintf(stderr, "commit %llu made revision %llu\n", (unsigned long long)r,
              (unsigned long long)got);
    REQUIRE(got == r);
    /* every revision reads right or is gone, whatever gc is doing */
    check_all_or_gone(s, r, "during gc");
    if (r == CREVS / 2) OK(h5tx_tag_set(s, "half", r, &e));
    if (r % 6 == 0) {
      /* every handle of this process closed, so the next one has a new
       * page log handle and segment: the old one is sealed, free to be
       * compacted (the tag keeps CREVS / 2 meanwhile) */
      if (old) h5tx_snap_close(old);
      h5tx_store_close(s);
      s = open_store(path, PS, 2 * PS);
      old = NULL;
      if (r >= CREVS / 2) OK(h5tx_snap_open(s, CREVS / 2, &old, &e)); /* and a pin */
    }
  }
  close(stop[1]);
  char line[64];
  REQUIRE(hear(up[0], line, sizeof line));
  printf("concurrent: %s gc runs during %d commits\n", line, CREVS);
  close(up[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* without its tag, the pin alone keeps CREVS / 2 through a gc */
  OK(h5tx_tag_delete(s, "half", &e));
  h5tx_gc_opts g = {2, 0, 0};
  OK(h5tx_gc(s, &g, NULL, &e));
  static uint8_t buf[CPAGES * PS];
  OK(h5tx_snap_read(old, "c.bin", 0, buf, sizeof buf, &e));
  CHECK(memcmp(buf, cmodel[CREVS / 2], sizeof buf) == 0);
  h5tx_snap_close(old);
  OK(h5tx_gc(s, &g, NULL, &e));
  check_all_or_gone(s, CREVS, "after gc");
  verify_clean(s, "concurrent, after gc");
  h5tx_store_close(s);
  /* two revisions kept of the 48: the space came back. What stays is
   * their pages and every commit record (8 KiB each: a batch of its own),
   * a batch header per write copied; without compaction every page
   * written stays. */
  char logdir[720];
  snprintf(logdir, sizeof logdir, "%s/log", path);
  uint64_t left = du_bytes(logdir);
  printf("concurrent: %llu page bytes written, %llu bytes of log left\n",
         (unsigned long long)written, (unsigned long long)left);
  CHECK(left * 4 < written * 3);
  h5tx_rev head = 0;
  OK(h5tx__repair_store(path, say_repair, NULL, &head, &e));
  CHECK(head == CREVS);
  s = open_store(path, PS, 0);
  check_all_or_gone(s, CREVS, "after repair");
  h5tx_store_close(s);
}

/* ---- a gc killed in the middle of a compaction -------------------------- */

#define KREVS 12
#define KPAGES 16
static uint8_t kmodel[KREVS + 1][KPAGES * PS];

/* Every revision of k.bin reads its model, or (all but head) is gone;
 * `exact`: all but head are gone. */
static void check_k(h5tx_store *s, int exact, const char *when) {
  static uint8_t buf[KPAGES * PS];
  for (h5tx_rev r = 1; r <= KREVS; r++) {
    h5tx_snap *sn;
    int rc = h5tx_snap_open(s, r, &sn, &e);
    if (r < KREVS && (exact || rc == H5TX_EGONE)) {
      if (rc != H5TX_EGONE)
        fprintf(stderr, "%s: revision %llu readable\n", when, (unsigned long long)r);
      CHECK(rc == H5TX_EGONE);
      if (rc == 0) h5tx_snap_close(sn);
      continue;
    }
    OK(rc);
    OK(h5tx_snap_read(sn, "k.bin", 0, buf, sizeof buf, &e));
    if (memcmp(buf, kmodel[r], sizeof buf) != 0)
      fprintf(stderr, "%s: revision %llu reads wrong bytes\n", when, (unsigned long long)r);
    CHECK(memcmp(buf, kmodel[r], sizeof buf) == 0);
    h5tx_snap_close(sn);
  }
}

/* Killed after the copies are flushed (stop point compact-copied) or after
 * the index names them (compact-repointed), before any segment is deleted:
 * every revision still reads right, the next gc finishes the job, and
 * repair rebuilds the same store from the log with its duplicates. */
static void test_killed(const char *dir, uint64_t *rng, const char *stop) {
  char path[700], logdir[720];
  snprintf(path, sizeof path, "%s/killed-%s.h5tx", dir, stop);
  snprintf(logdir, sizeof logdir, "%s/log", path);
  h5tx_store *s = open_store(path, PS, 0);
  for (h5tx_rev r = 1; r <= KREVS; r++) {
    for (size_t i = 0; i < sizeof kmodel[r]; i++)
      kmodel[r][i] = (uint8_t)rng_next(rng);
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "k.bin", &wo, &w, &e));
    OK(h5tx_writer_write(w, 0, kmodel[r], sizeof kmodel[r], &e));
    REQUIRE(h5tx_writer_commit(w, NULL, NULL, &e) == 0);
    h5tx_writer_close(w);
  }
  h5tx_store_close(s); /* its segment sealed */
  uint64_t before = du_bytes(logdir);
  int up[2], down[2];
  REQUIRE(pipe(up) == 0 && pipe(down) == 0);
  pid_t pid = spawn();
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    char v[64];
    snprintf(v, sizeof v, "%s:%d:%d", stop, up[1], down[0]);
    setenv("H5TX_TEST_STOP", v, 1);
    h5tx_store *cs = open_store(path, PS, 0);
    h5tx_gc_opts g = {1, 0, 0};
    OK(h5tx_gc(cs, &g, NULL, &e));
    _exit(1); /* never gets here: killed at the stop */
  }
  close(up[1]);
  close(down[0]);
  char c = 0;
  REQUIRE(read(up[0], &c, 1) == 1 && c == 'S');
  kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  close(up[0]);
  close(down[1]);
  /* nothing deleted yet: copies and originals both there */
  CHECK(du_bytes(logdir) > before);
  s = open_store(path, PS, 0);
  check_k(s, 0, "killed");
  h5tx_store_close(s);
  /* repair reads every record twice over: the same revisions */
  CHECK(repair(path) == KREVS);
  s = open_store(path, PS, 0);
  check_k(s, 1, "repaired with the copies");
  h5tx_gc_opts g = {1, 0, 0};
  OK(h5tx_gc(s, &g, NULL, &e));
  verify_clean(s, stop);
  h5tx_store_close(s);
  uint64_t after = du_bytes(logdir);
  printf("killed at %s: log %llu bytes before, %llu after the next gc\n", stop,
         (unsigned long long)before, (unsigned long long)after);
  CHECK(after * 2 < before);
  check_index(path, stop);
  CHECK(repair(path) == KREVS);
  s = open_store(path, PS, 0);
  check_k(s, 1, "repaired after the next gc");
  h5tx_store_close(s);
}

/* ---- a damaged index value stops gc, named ------------------------------ */

static int damage_first_page(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  uint8_t key[H5TX_PAGE_KEY], bad[H5TX_PLACE_VAL + H5TX_IDX_CHECK];
  rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err);
  if (rc == 0) memcpy(key, k.p, sizeof key);
  h5tx__kv_cursor_close(c);
  if (rc) return rc;
  memset(bad, 0xab, sizeof bad);
  return h5tx__kv_put(t, IDX_PAGES, key, sizeof key, bad, sizeof bad, err);
}

static void test_damaged(const char *dir) {
  char path[700], idir[720];
  snprintf(path, sizeof path, "%s/damaged.h5tx", dir);
  snprintf(idir, sizeof idir, "%s/index", path);
  h5tx_store *s = open_store(path, PS, 0);
  for (int r = 1; r <= 3; r++) {
    char text[2 * PS];
    memset(text, 'a' + r, sizeof text - 1);
    text[sizeof text - 1] = 0;
    put_text(s, "x.bin", text, H5TX_HEAD);
  }
  h5tx_store_close(s);
  h5tx__kv *kv;
  OK(h5tx__idx_open(idir, 0, 0, &kv, &e));
  OK(h5tx__kv_write(kv, damage_first_page, NULL, 1, &e));
  h5tx__kv_close(kv);
  s = open_store(path, PS, 0);
  h5tx_gc_opts g = {1, 0, 0};
  FAILS(h5tx_gc(s, &g, NULL, &e), H5TX_ECORRUPT, "pages");
  CHECK(strstr(e.msg, path) && strstr(e.msg, "check mismatch"));
  printf("damaged: %s\n", e.msg);
  h5tx_store_close(s);
}

/* ---- versions read through a copy's origin stay -------------------------- */

static int no_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n, h5tx_error *err) {
  (void)arg, (void)wid, (void)err;
  *pl = NULL;
  *n = 0;
  return 0;
}

/* Revision 4: file 2, "copy.bin", a copy of file 1 as of revision 1
 * (docs/FORMAT.md, "Origin"), made as a commit would make it. */
static int copy_commit(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  h5tx__lcommit c = {.rev = 4, .parent = 3, .host = "h", .host_len = 1, .msg = "", .msg_len = 0};
  h5tx__buf b = {0};
  h5tx__lop ops[3] = {{.op = LOP_FILE,
                       .fid = 2,
                       .page_size = PS,
                       .a = 1,
                       .b = 1,
                       .name = "copy.bin",
                       .name_len = 8},
                      {.op = LOP_NAME, .fid = 2, .name = "copy.bin", .name_len = 8},
                      {.op = LOP_LENGTH, .fid = 2, .a = PS}};
  REQUIRE(h5tx__lcommit_begin(&b, &c) == 0);
  for (int i = 0; i < 3; i++)
    REQUIRE(h5tx__lcommit_add(&b, &ops[i]) == 0);
  h5tx__lcommit pc;
  const char *why;
  REQUIRE(h5tx__lcommit_parse(b.p, b.n, &pc, &why) == 0);
  h5tx__place at = {0};
  int rc = h5tx__apply_commit(t, &pc, &at, no_pages, NULL, err);
  h5tx__buf_free(&b);
  return rc;
}

static int has_version(h5tx__kv *kv, uint64_t fid, uint64_t page, h5tx_rev rev) {
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  uint8_t k[H5TX_PAGE_KEY];
  h5tx__page_key(k, fid, page, rev);
  h5tx__val v;
  int rc = h5tx__idx_get(t, IDX_PAGES, k, sizeof k, &v, &e);
  h5tx__kv_done(t);
  REQUIRE(rc == 0 || rc == H5TX_ENOENT);
  return rc == 0;
}

static void test_origin(const char *dir) {
  char path[700], idir[720];
  snprintf(path, sizeof path, "%s/origin.h5tx", dir);
  snprintf(idir, sizeof idir, "%s/index", path);
  h5tx_store *s = open_store(path, PS, 0);
  for (int r = 1; r <= 3; r++) {
    char text[PS];
    memset(text, '0' + r, sizeof text - 1);
    text[sizeof text - 1] = 0;
    REQUIRE(put_text(s, "a.bin", text, H5TX_HEAD) == (h5tx_rev)r);
  }
  h5tx_store_close(s);
  h5tx__kv *kv;
  OK(h5tx__idx_open(idir, 0, 0, &kv, &e));
  OK(h5tx__kv_write(kv, copy_commit, NULL, 1, &e));
  h5tx__kv_close(kv);
  /* keep head (4) only: of file 1's versions, 3 is what head reads and 1
   * what the copy reads through its origin; 2 goes */
  s = open_store(path, PS, 0);
  h5tx_gc_opts g = {1, 0, 0};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 3 && res.versions_freed == 1);
  h5tx_store_close(s);
  OK(h5tx__idx_open(idir, 0, 1, &kv, &e));
  CHECK(has_version(kv, 1, 0, 1));
  CHECK(!has_version(kv, 1, 0, 2));
  CHECK(has_version(kv, 1, 0, 3));
  h5tx__kv_close(kv);
}

int main(void) {
  uint64_t rng = test_seed("core_compact");
  test_paths tp = temp_paths();
  char logdir[700];
  snprintf(logdir, sizeof logdir, "%s/log", tp.store);
  h5tx_store *s = open_store(tp.store, PS, 0);
  /* Revision r: a random half of the pages rewritten with random bytes;
   * revision 5 cuts the file to 40 pages (tombstones), revision 6 writes
   * zeros over page 10 (a record of no bytes, at the offset of page 11's
   * record) and extends the file again; g.bin lives from revision 3 to 9. A new store handle
   * (a new segment) every 8 revisions. */
  h5tx_rev r = 0;
  while (r < NREVS) {
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "f.bin", &wo, &w, &e));
    h5tx_rev next = r + 1;
    memcpy(model[next], model[r], sizeof model[next]);
    length[next] = NPAGES * PS;
    if (next == 5) {
      length[next] = 40 * PS;
      memset(model[next] + length[next], 0, (NPAGES - 40) * PS);
      OK(h5tx_writer_truncate(w, length[next], &e));
    } else {
      for (int p = 0; p < NPAGES; p++) {
        int zero = next == 6 && p == 10;
        int must = zero || next == 1 || (next == 6 && (p == 11 || p >= 40));
        if (!must && rng_below(&rng, 2)) continue;
        uint8_t *pg = model[next] + (size_t)p * PS;
        for (int i = 0; i < PS; i++)
          pg[i] = zero ? 0 : (uint8_t)rng_next(&rng);
        OK(h5tx_writer_write(w, (uint64_t)p * PS, pg, PS, &e));
      }
    }
    h5tx_rev got;
    OK(h5tx_writer_commit(w, NULL, &got, &e));
    h5tx_writer_close(w);
    REQUIRE(got == next);
    r = next;
    if (r == 1) {
      OK(h5tx_tag_set(s, "moved", 1, &e));
      OK(h5tx_tag_set(s, "gone", 1, &e));
    }
    if (r == 2 || r == 8) {
      /* g.bin: created at 3, removed at 9 (each a revision of its own) */
      memcpy(model[r + 1], model[r], sizeof model[r]);
      length[r + 1] = length[r];
      if (r == 2) {
        char text[3 * PS];
        memset(text, 'g', sizeof text);
        text[sizeof text - 1] = 0;
        REQUIRE(put_text(s, "g.bin", text, H5TX_HEAD) == 3);
      } else {
        h5tx_rev rm;
        OK(h5tx_remove(s, "g.bin", NULL, &rm, &e));
        REQUIRE(rm == 9);
      }
      r++;
    }
    if (r % 8 == 0 || r == 9) {
      h5tx_store_close(s);
      s = open_store(tp.store, PS, 0);
    }
  }
  /* Tags set in the first segment and changed in a segment of their own,
   * which holds only tag records and so is not worth compacting: repair
   * must not bring the old values back from records copied forward past
   * it. */
  h5tx_store_close(s);
  s = open_store(tp.store, PS, 0);
  OK(h5tx_tag_set(s, "kept", TAGGED, &e));
  OK(h5tx_tag_set(s, "moved", TAGGED, &e));
  OK(h5tx_tag_delete(s, "gone", &e));
  /* ... in a segment that is mostly live: h.bin, which head reads */
  for (size_t i = 0; i < sizeof hfile; i++)
    hfile[i] = (uint8_t)rng_next(&rng);
  {
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "h.bin", &wo, &w, &e));
    OK(h5tx_writer_write(w, 0, hfile, sizeof hfile, &e));
    h5tx_rev got;
    OK(h5tx_writer_commit(w, NULL, &got, &e));
    h5tx_writer_close(w);
    REQUIRE(got == HEAD);
    memcpy(model[HEAD], model[NREVS], sizeof model[HEAD]);
    length[HEAD] = length[NREVS];
  }
  /* gc runs in this handle: its segment, with the tag changes and h.bin,
   * stays (mostly live); HEAD is a nosync commit above `durable` */
  h5tx_snap *pin;
  OK(h5tx_snap_open(s, PINNED, &pin, &e)); /* pinned before gc */
  for (h5tx_rev k = 1; k <= HEAD; k++)
    check_rev(s, k, 1, "before gc");

  uint64_t before = du_bytes(logdir);
  int segs_before = count_segments(logdir);
  h5tx_gc_opts g = {1, 0, 0};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  uint64_t after = du_bytes(logdir);
  printf("log: %llu bytes in %d segments before gc, %llu in %d after; %llu versions freed\n",
         (unsigned long long)before, segs_before, (unsigned long long)after, count_segments(logdir),
         (unsigned long long)res.versions_freed);
  CHECK(res.revisions_collected == HEAD - 3);
  CHECK(res.revisions_pinned == 1);
  /* Kept: about 3 x 64 pages of the ~30 x 32 written. */
  CHECK(after * 2 < before);
  int kept[HEAD + 1] = {0};
  kept[TAGGED] = kept[PINNED] = kept[HEAD] = 1;
  check_snap(pin, PINNED, "pinned across gc");
  verify_clean(s, "after gc");
  for (h5tx_rev k = 1; k <= HEAD; k++)
    check_rev(s, k, kept[k], "after gc");
  /* A second gc finds nothing more to free and keeps the size. */
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 0 && res.versions_freed == 0);
  CHECK(du_bytes(logdir) <= after + 64 * 1024);
  check_snap(pin, PINNED, "pinned across a second gc");
  h5tx_snap_close(pin);
  h5tx_store_close(s);
  check_index(tp.store, "after gc");

  /* Reopened after a "reboot" (the boot id recovery compares): recovery
   * reads every segment and checks the revisions above `durable` against
   * the log, where their commit and page records may sit at new places;
   * it must find them all and roll nothing back. */
  setenv("H5TX_TEST_BOOT", "7777", 1);
  s = open_store(tp.store, PS, 0);
  unsetenv("H5TX_TEST_BOOT");
  const char *said = h5tx_store_recovered(s);
  if (said) printf("recovery after gc: %s", said);
  CHECK(!said || !strstr(said, "rolled back"));
  for (h5tx_rev k = 1; k <= HEAD; k++)
    check_rev(s, k, kept[k], "reopened after gc");
  check_tags(s, "kept=6 moved=6 ", "reopened after gc");
  h5tx_store_close(s);

  /* The index rebuilt from the compacted log: the same kept revisions,
   * byte for byte; the collected ones collected. */
  h5tx_rev head = 0;
  OK(h5tx__repair_store(tp.store, say_repair, NULL, &head, &e));
  CHECK(head == HEAD);
  s = open_store(tp.store, PS, 0);
  for (h5tx_rev k = 1; k <= HEAD; k++)
    check_rev(s, k, kept[k], "after repair");
  check_tags(s, "kept=6 moved=6 ", "after repair");
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  char buf[16];
  FAILS(h5tx_snap_read(sn, "g.bin", 0, buf, sizeof buf, &e), H5TX_ENOENT, "g.bin");
  static uint8_t hbuf[HPAGES * PS];
  OK(h5tx_snap_read(sn, "h.bin", 0, hbuf, sizeof hbuf, &e));
  CHECK(memcmp(hbuf, hfile, sizeof hbuf) == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  test_concurrent(tp.dir, &rng);
  test_killed(tp.dir, &rng, "compact-copied");
  test_killed(tp.dir, &rng, "compact-repointed");
  test_damaged(tp.dir);
  test_origin(tp.dir);
  remove_tree(tp.dir);
  return check_done("core_compact");
}
