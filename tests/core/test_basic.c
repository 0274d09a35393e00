/* test_basic.c - the page store's API one call at a time: creating and
 * refusing stores, names, reads of holes and past the end, tags, the log,
 * listing, removal and re-creation, use after fork. */
#include "check.h"

#include <fcntl.h>
#include <sys/wait.h>

static h5tx_error e;

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  REQUIRE(f);
  fputs(text, f);
  fclose(f);
}

static void test_open_errors(const char *dir) {
  char p[1024];
  h5tx_store *s = NULL;
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  snprintf(p, sizeof p, "%s/missing.h5tx", dir);
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_ENOENT, "does not exist");
  o.create = 1;
  snprintf(p, sizeof p, "%s/badname", dir);
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_EINVAL, "must end in .h5tx");
  snprintf(p, sizeof p, "%s/no/such/parent.h5tx", dir);
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_ENOENT, "parent directory");
  o.page_size = 3000;
  snprintf(p, sizeof p, "%s/x.h5tx", dir);
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_EINVAL, "page size 3000");
  o.page_size = 0;
  /* A directory that is not a store. */
  snprintf(p, sizeof p, "%s/plain.h5tx", dir);
  REQUIRE(mkdir(p, 0755) == 0);
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_EFORMAT, "is not an h5tx store");
  /* A foreign marker. */
  char m[1100];
  snprintf(m, sizeof m, "%s/h5tx-store", p);
  write_file(m, "something else\n");
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_EFORMAT, "foreign");
  /* A plain file. */
  snprintf(p, sizeof p, "%s/file.h5tx", dir);
  write_file(p, "x");
  FAILS(h5tx_store_open(p, &o, &s, &e), H5TX_EFORMAT, "not a directory");
}

static void test_newer_format(const char *dir) {
  char p[1024], m[1100];
  snprintf(p, sizeof p, "%s/newer.h5tx", dir);
  h5tx_store *s = open_store(p, 4096, 0);
  h5tx_store_close(s);
  snprintf(m, sizeof m, "%s/h5tx-store", p);
  char keep[4096];
  FILE *f = fopen(m, "r");
  REQUIRE(f != NULL);
  size_t n = fread(keep, 1, sizeof keep - 1, f);
  keep[n] = 0;
  fclose(f);
  write_file(m, "h5tx store\nformat 3\n");
  FAILS(h5tx_store_open(p, NULL, &s, &e), H5TX_EFORMAT, "has format 3; this h5tx reads format 2");
  /* format 1: refused, naming the command that converts it */
  write_file(m, "h5tx store\nformat 1\n");
  FAILS(h5tx_store_open(p, NULL, &s, &e), H5TX_EFORMAT, "run `h5tx upgrade");
  write_file(m, keep);
  OK(h5tx_store_open(p, NULL, &s, &e));
  h5tx_store_close(s);
}

static void test_names(h5tx_store *s) {
  h5tx_writer *w = NULL;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  FAILS(h5tx_writer_open(s, "", &wo, &w, &e), H5TX_EINVAL, "empty file name");
  FAILS(h5tx_writer_open(s, "/abs.h5", &wo, &w, &e), H5TX_EINVAL, "absolute");
  FAILS(h5tx_writer_open(s, "a/../b.h5", &wo, &w, &e), H5TX_EINVAL, "'..' part");
  FAILS(h5tx_writer_open(s, "a//b.h5", &wo, &w, &e), H5TX_EINVAL, "empty");
  FAILS(h5tx_writer_open(s, "r.h5@3", &wo, &w, &e), H5TX_EINVAL, "'@'");
  FAILS(h5tx_writer_open(s, "dir/", &wo, &w, &e), H5TX_EINVAL, "ends in '/'");
  wo.create = 0;
  FAILS(h5tx_writer_open(s, "nothere.h5", &wo, &w, &e), H5TX_ENOENT, "no file 'nothere.h5'");
  wo.create = 1;
  wo.page_size = 1000;
  FAILS(h5tx_writer_open(s, "ok.h5", &wo, &w, &e), H5TX_EINVAL, "page size 1000");
}

/* Create `name` (empty) in one commit: its return code. */
static int create(h5tx_store *s, const char *name) {
  h5tx_writer *w = NULL;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  int rc = h5tx_writer_open(s, name, &wo, &w, &e);
  if (rc == 0) rc = h5tx_writer_commit(w, NULL, NULL, &e);
  h5tx_writer_close(w);
  return rc;
}

/* Names the mount cannot show are refused when they would be created
 * (docs/FORMAT.md, "Names"): a file and a file under it as a directory, the
 * root's .h5tx, control characters, parts over 255 bytes, names over the
 * index's key limit (refused at open, with the limit in the message). */
static void test_name_rules(const char *dir) {
  char p[1024];
  snprintf(p, sizeof p, "%s/names.h5tx", dir);
  h5tx_store *s = open_store(p, 4096, 0);
  h5tx_writer *w = NULL;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  /* Control characters would forge lines in `h5tx log` and ls. */
  FAILS(h5tx_writer_open(s, "a\nrevision 99", &wo, &w, &e), H5TX_EINVAL, "control character");
  FAILS(h5tx_writer_open(s, "tab\there", &wo, &w, &e), H5TX_EINVAL, "control character");
  FAILS(h5tx_writer_open(s, "del\x7f", &wo, &w, &e), H5TX_EINVAL, "control character");
  /* The mount's own directory at the root. */
  FAILS(h5tx_writer_open(s, ".h5tx", &wo, &w, &e), H5TX_EINVAL, "'.h5tx'");
  FAILS(h5tx_writer_open(s, ".h5tx/log", &wo, &w, &e), H5TX_EINVAL, "'.h5tx'");
  OK(create(s, "deep/.h5tx"));
  /* A part longer than a directory entry can be. */
  char part[300];
  memset(part, 'p', 256);
  part[256] = 0;
  FAILS(h5tx_writer_open(s, part, &wo, &w, &e), H5TX_EINVAL, "255");
  part[255] = 0;
  OK(create(s, part));
  /* The longest name the index can key: 502 bytes, refused above before
   * anything is written. */
  char longname[1100];
  size_t n = 0;
  while (n < 1024) {
    memset(longname + n, 'n', 99);
    longname[n + 99] = '/';
    n += 100;
  }
  longname[502] = 0;
  longname[501] = 'z'; /* no trailing '/' */
  OK(create(s, longname));
  longname[502] = 'z';
  longname[503] = 0;
  FAILS(h5tx_writer_open(s, longname, &wo, &w, &e), H5TX_EINVAL, "limit of 502 bytes");
  longname[1024] = 0;
  for (size_t i = 501; i < 1024; i++)
    longname[i] = i % 100 == 99 ? '/' : 'q';
  longname[1023] = 'q';
  FAILS(h5tx_writer_open(s, longname, &wo, &w, &e), H5TX_EINVAL, "limit of 502 bytes");
  FAILS(h5tx_remove(s, longname, NULL, NULL, &e), H5TX_EINVAL, "limit of 502 bytes");

  /* A file and a file under it as a directory cannot both exist. */
  OK(create(s, "x"));
  FAILS(h5tx_writer_open(s, "x/y", &wo, &w, &e), H5TX_EEXIST, "'x' is a file");
  FAILS(h5tx_writer_open(s, "x/y/z", &wo, &w, &e), H5TX_EEXIST, "'x' is a file");
  OK(create(s, "d/e/f"));
  FAILS(h5tx_writer_open(s, "d", &wo, &w, &e), H5TX_EEXIST, "'d/e/f'");
  FAILS(h5tx_writer_open(s, "d/e", &wo, &w, &e), H5TX_EEXIST, "'d/e/f'");
  OK(create(s, "d/e2")); /* siblings are fine */
  OK(create(s, "xy"));   /* and names that only share a prefix */
  /* Renames obey the same rule; the renamed file itself is gone after. */
  FAILS(h5tx_rename(s, "xy", "x/q", NULL, NULL, &e), H5TX_EEXIST, "'x' is a file");
  FAILS(h5tx_rename(s, "xy", "d", NULL, NULL, &e), H5TX_EEXIST, "'d/e");
  FAILS(h5tx_rename(s, "xy", "bad\nname", NULL, NULL, &e), H5TX_EINVAL, "control character");
  OK(h5tx_rename(s, "d/e/f", "d/e", NULL, NULL, &e)); /* d/e/f leaves d/e free */
  OK(h5tx_rename(s, "x", "x2/x", NULL, NULL, &e));
  OK(create(s, "x/y")); /* x is gone: x/y may exist now */
  /* Existing files open as before, with or without create. */
  wo.create = 0;
  OK(h5tx_writer_open(s, "x/y", &wo, &w, &e));
  h5tx_writer_close(w);

  /* Checked again at commit: a writer that opened `c` loses to one that
   * committed `c/d` meanwhile, and the reverse. */
  wo.create = 1;
  h5tx_writer *wc, *wd;
  OK(h5tx_writer_open(s, "c", &wo, &wc, &e));
  OK(h5tx_writer_open(s, "c/d", &wo, &wd, &e));
  OK(h5tx_writer_write(wc, 0, "c", 1, &e));
  OK(h5tx_writer_write(wd, 0, "d", 1, &e));
  OK(h5tx_writer_commit(wd, NULL, NULL, &e));
  FAILS(h5tx_writer_commit(wc, NULL, NULL, &e), H5TX_ECONFLICT, "'c/d'");
  h5tx_writer_close(wc);
  h5tx_writer_close(wd);
  OK(h5tx_writer_open(s, "k/l", &wo, &wd, &e));
  OK(h5tx_writer_open(s, "k", &wo, &wc, &e));
  OK(h5tx_writer_commit(wc, NULL, NULL, &e));
  FAILS(h5tx_writer_commit(wd, NULL, NULL, &e), H5TX_ECONFLICT, "'k' is a file");
  h5tx_writer_close(wc);
  h5tx_writer_close(wd);
  /* A writer based on an old revision is checked at its base too. */
  h5tx_rev old;
  OK(h5tx_store_head(s, &old, &e));
  OK(create(s, "m/n"));
  wo.base = old;
  FAILS(h5tx_writer_open(s, "m", &wo, &w, &e), H5TX_EEXIST, "'m/n'");
  h5tx_store_close(s);
}

/* Holes and bytes past the end read as zeros; partial pages merge. */
static void test_reads(h5tx_store *s) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "holes.bin", &wo, &w, &e));
  CHECK(h5tx_writer_page_size(w) == 4096);
  OK(h5tx_writer_write(w, 10 * 4096 + 5, "abc", 3, &e));
  OK(h5tx_writer_write(w, 1, "Z", 1, &e));
  char back[4];
  OK(h5tx_writer_read(w, 10 * 4096 + 4, back, 4, &e));
  CHECK(memcmp(back, "\0abc", 4) == 0);
  h5tx_rev r;
  OK(h5tx_writer_commit(w, "holes", &r, &e));
  h5tx_writer_close(w);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r, &sn, &e));
  CHECK(h5tx_snap_rev(sn) == r);
  h5tx_stat st;
  OK(h5tx_snap_stat(sn, "holes.bin", &st, &e));
  CHECK(st.length == 10 * 4096 + 8);
  CHECK(st.page_size == 4096);
  CHECK(st.created == r && st.changed == r);
  size_t n = 12 * 4096;
  uint8_t *buf = malloc(n);
  memset(buf, 0xEE, n);
  OK(h5tx_snap_read(sn, "holes.bin", 0, buf, n, &e));
  for (size_t i = 0; i < n; i++) {
    uint8_t want = i == 1               ? 'Z'
                   : i == 10 * 4096 + 5 ? 'a'
                   : i == 10 * 4096 + 6 ? 'b'
                   : i == 10 * 4096 + 7 ? 'c'
                                        : 0;
    if (buf[i] != want) {
      fprintf(stderr, "holes.bin byte %zu is %u, want %u\n", i, buf[i], want);
      CHECK(0);
      break;
    }
  }
  /* Entirely past the end. */
  memset(buf, 0xEE, 100);
  OK(h5tx_snap_read(sn, "holes.bin", 1u << 30, buf, 100, &e));
  CHECK(is_all(buf, 100, 0));
  FAILS(h5tx_snap_read(sn, "holes.bin", UINT64_MAX - 10, buf, 100, &e), H5TX_ERANGE, "overflows");
  FAILS(h5tx_snap_read(sn, "nope.bin", 0, buf, 1, &e), H5TX_ENOENT, "no file 'nope.bin'");
  /* Only two pages were stored: the holes take no space. */
  h5tx_usage u;
  OK(h5tx_store_usage(s, &u, &e));
  CHECK(u.page_versions == 2);
  free(buf);
  h5tx_snap_close(sn);
}

/* Offsets and lengths past H5TX_MAX_LENGTH (2^63 - 1, what off_t can
 * hold) are refused, never wrapped; the largest ones commit and read back. */
static void test_huge_offsets(h5tx_store *s) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "huge.bin", &wo, &w, &e));
  char buf[100];
  memset(buf, 'h', sizeof buf);
  FAILS(h5tx_writer_write(w, UINT64_MAX - 100, buf, 100, &e), H5TX_ERANGE, "huge.bin");
  FAILS(h5tx_writer_write(w, UINT64_MAX - 100, buf, 100, &e), H5TX_ERANGE, "9223372036854775807");
  FAILS(h5tx_writer_write(w, (uint64_t)INT64_MAX - 50, buf, 100, &e), H5TX_ERANGE, "huge.bin");
  FAILS(h5tx_writer_write(w, UINT64_MAX, buf, 0, &e), H5TX_ERANGE, "huge.bin");
  FAILS(h5tx_writer_truncate(w, UINT64_MAX - 5, &e), H5TX_ERANGE, "huge.bin");
  FAILS(h5tx_writer_truncate(w, (uint64_t)INT64_MAX + 1, &e), H5TX_ERANGE, "huge.bin");
  CHECK(h5tx_writer_length(w) == 0);
  CHECK(h5tx_writer_dirty(w)); /* a new file, still empty */
  /* The last bytes a file can hold. */
  uint64_t off = (uint64_t)INT64_MAX - sizeof buf;
  OK(h5tx_writer_write(w, off, buf, sizeof buf, &e));
  CHECK(h5tx_writer_length(w) == (uint64_t)INT64_MAX);
  h5tx_rev r;
  OK(h5tx_writer_commit(w, NULL, &r, &e));
  h5tx_writer_close(w);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r, &sn, &e));
  h5tx_stat st;
  OK(h5tx_snap_stat(sn, "huge.bin", &st, &e));
  CHECK(st.length == (uint64_t)INT64_MAX);
  char got[100] = {0};
  OK(h5tx_snap_read(sn, "huge.bin", off, got, sizeof got, &e));
  CHECK(memcmp(got, buf, sizeof buf) == 0);
  h5tx_snap_close(sn);
  OK(h5tx_remove(s, "huge.bin", NULL, NULL, &e));
}

typedef struct commit_watch {
  uint64_t calls, last_done, last_total;
  uint64_t stop_at; /* 0: never stop */
} commit_watch;

static int watch_commit(void *arg, uint64_t done, uint64_t total) {
  commit_watch *cw = arg;
  cw->calls++;
  if (done != cw->last_done + 1) cw->last_total = UINT64_MAX; /* one call per page, in order */
  cw->last_done = done;
  if (cw->last_total != UINT64_MAX) cw->last_total = total;
  return cw->stop_at && done == cw->stop_at ? 7 : 0;
}

/* A commit reports each page it handles; its callback can stop it before
 * the commit point: nothing is committed and the changes stay. */
static void test_commit_progress(h5tx_store *s) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "progress.bin", &wo, &w, &e));
  uint32_t ps = h5tx_writer_page_size(w);
  uint8_t *buf = malloc(10 * (size_t)ps);
  REQUIRE(buf);
  for (size_t i = 0; i < 10 * (size_t)ps; i++)
    buf[i] = (uint8_t)(i * 31 + i / ps);
  OK(h5tx_writer_write(w, 0, buf, 10 * (size_t)ps, &e));
  h5tx_rev head, r;
  OK(h5tx_store_head(s, &head, &e));
  commit_watch cw = {0, 0, 0, 5};
  FAILS(h5tx_writer_commit_progress(w, NULL, watch_commit, &cw, &r, &e), 7, "after 5 of 10 pages");
  CHECK(strstr(e.msg, "nothing was committed") != NULL);
  CHECK(cw.calls == 5);
  h5tx_rev now;
  OK(h5tx_store_head(s, &now, &e));
  CHECK(now == head);
  CHECK(h5tx_writer_dirty(w) && h5tx_writer_length(w) == 10 * (uint64_t)ps);
  cw = (commit_watch){0, 0, 0, 0};
  OK(h5tx_writer_commit_progress(w, "progress", watch_commit, &cw, &r, &e));
  CHECK(r == head + 1);
  CHECK(cw.calls == 10 && cw.last_done == 10 && cw.last_total == 10);
  h5tx_writer_close(w);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r, &sn, &e));
  uint8_t *got = malloc(10 * (size_t)ps);
  REQUIRE(got);
  OK(h5tx_snap_read(sn, "progress.bin", 0, got, 10 * (size_t)ps, &e));
  CHECK(memcmp(got, buf, 10 * (size_t)ps) == 0);
  h5tx_snap_close(sn);
  free(got);
  free(buf);
  OK(h5tx_remove(s, "progress.bin", NULL, NULL, &e));
}

static int count_tag(void *arg, const char *name, h5tx_rev rev) {
  (void)rev;
  if (strcmp(name, "v1") == 0 || strcmp(name, "v2") == 0) ++*(int *)arg;
  return 0;
}

static void test_tags(h5tx_store *s) {
  h5tx_rev head, r;
  OK(h5tx_store_head(s, &head, &e));
  OK(h5tx_tag_set(s, "v1", 1, &e));
  OK(h5tx_tag_set(s, "v2", H5TX_HEAD, &e));
  OK(h5tx_tag_get(s, "v2", &r, &e));
  CHECK(r == head);
  OK(h5tx_rev_parse(s, "v1", &r, &e));
  CHECK(r == 1);
  OK(h5tx_rev_parse(s, "1", &r, &e));
  CHECK(r == 1);
  OK(h5tx_rev_parse(s, "head", &r, &e));
  CHECK(r == head);
  int n = 0;
  OK(h5tx_tags(s, count_tag, &n, &e));
  CHECK(n == 2);
  FAILS(h5tx_tag_set(s, "123", 1, &e), H5TX_EINVAL, "all digits");
  FAILS(h5tx_tag_set(s, "a/b", 1, &e), H5TX_EINVAL, "'/'");
  FAILS(h5tx_tag_set(s, "future", head + 5, &e), H5TX_ENOENT, "no revision");
  FAILS(h5tx_rev_parse(s, "nosuchtag", &r, &e), H5TX_ENOENT, "no tag 'nosuchtag'");
  FAILS(h5tx_rev_parse(s, "99999", &r, &e), H5TX_ENOENT, "no revision 99999");
  OK(h5tx_tag_delete(s, "v2", &e));
  FAILS(h5tx_tag_delete(s, "v2", &e), H5TX_ENOENT, "no tag 'v2'");
  FAILS(h5tx_tag_get(s, "v2", &r, &e), H5TX_ENOENT, "no tag 'v2'");
}

typedef struct log_state {
  int n;
  h5tx_rev last;
  int ok;
} log_state;

static int log_cb(void *arg, const h5tx_commit *c) {
  log_state *ls = arg;
  if (ls->n > 0 && c->rev != ls->last - 1) ls->ok = 0; /* newest first, no gaps */
  if (c->parent != c->rev - 1) ls->ok = 0;
  if (c->pid != (uint32_t)getpid() || !c->host[0] || c->time_ns == 0) ls->ok = 0;
  if (c->nfiles != 1 || !c->files[0]) ls->ok = 0;
  if (c->rev == 1 && (strcmp(c->message, "holes") != 0 || strcmp(c->files[0], "holes.bin") != 0))
    ls->ok = 0;
  ls->last = c->rev;
  ls->n++;
  return 0;
}

static void test_log(h5tx_store *s) {
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  log_state ls = {0, 0, 1};
  OK(h5tx_log(s, H5TX_HEAD, log_cb, &ls, &e));
  CHECK(ls.ok);
  CHECK((h5tx_rev)ls.n == head);
  CHECK(ls.last == 1);
}

/* Rewrite all 512 pages of `f` (512 bytes each: records that fit LMDB's
 * leaf pages, whose space is reused one page at a time) with fresh bytes,
 * `n` times, one commit each. */
static void rewrite(h5tx_store *s, int n, uint64_t *rng) {
  static uint8_t page[512];
  for (int k = 0; k < n; k++) {
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "f", &wo, &w, &e));
    for (int p = 0; p < 512; p++) {
      for (size_t i = 0; i < sizeof page; i += 8) {
        uint64_t x = rng_next(rng);
        memcpy(page + i, &x, 8);
      }
      OK(h5tx_writer_write(w, (uint64_t)p * sizeof page, page, sizeof page, &e));
    }
    OK(h5tx_writer_commit(w, NULL, NULL, &e));
    h5tx_writer_close(w);
  }
}

static uint64_t data_file(h5tx_store *s) {
  h5tx_usage u;
  OK(h5tx_store_usage(s, &u, &e));
  return u.file_bytes;
}

typedef struct slow_reader {
  h5tx_store *s;
  uint64_t rng;
  int calls;
} slow_reader;

/* A log consumer that works between entries (as `h5tx log | less` waits
 * for its reader): 20 rewrites during its first callback. */
static int slow_log_cb(void *arg, const h5tx_commit *c) {
  (void)c;
  slow_reader *sr = arg;
  if (sr->calls++ == 0) rewrite(sr->s, 20, &sr->rng);
  return 0;
}

typedef struct slow_lister {
  slow_reader *sr;
  int n, in_order;
} slow_lister;

static int slow_list_cb(void *arg, const char *name, const h5tx_stat *st) {
  (void)st;
  slow_lister *sl = arg;
  char want[32];
  snprintf(want, sizeof want, "l/%03d", sl->n);
  if (strcmp(name, want) != 0) sl->in_order = 0;
  if (sl->n++ == 0) {
    rewrite(sl->sr->s, 20, &sl->sr->rng);
    OK(create(sl->sr->s, "l/new")); /* after the snapshot: not listed */
  }
  return 0;
}

/* h5tx_log holds no index read transaction while its callback runs, so
 * commits made meanwhile reuse the index pages they free: the data file
 * grows about as much as when nobody reads the log (held back, it grew
 * about 5 times as much here: 67 MB against 14 MB). */
static void test_log_holds_no_transaction(const char *dir) {
  char p[1024];
  snprintf(p, sizeof p, "%s/log.h5tx", dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = 512;
  o.codec = H5TX_CODEC_NONE;
  o.durability = H5TX_NOSYNC;
  h5tx_store *s;
  OK(h5tx_store_open(p, &o, &s, &e));
  slow_reader sr = {s, 42, 0};
  rewrite(s, 40, &sr.rng); /* to a steady state */
  uint64_t s1 = data_file(s);
  rewrite(s, 20, &sr.rng);
  uint64_t s2 = data_file(s);
  OK(h5tx_log(s, H5TX_HEAD, slow_log_cb, &sr, &e));
  uint64_t s3 = data_file(s);
  CHECK(sr.calls == 60); /* the log started at head 60 */
  if (s3 - s2 > 2 * (s2 - s1) + (1u << 20)) {
    fprintf(stderr, "data file grew %llu bytes during the log, %llu without it\n",
            (unsigned long long)(s3 - s2), (unsigned long long)(s2 - s1));
    CHECK(0);
  }
  /* Listing too: 600 files, more than one batch, listed once each in name
   * order, while the first callback commits (nothing new is listed: the
   * snapshot is pinned) without being held back. */
  for (int i = 0; i < 600; i++) {
    char name[32];
    snprintf(name, sizeof name, "l/%03d", i);
    OK(create(s, name));
  }
  rewrite(s, 20, &sr.rng);
  uint64_t s4 = data_file(s);
  rewrite(s, 20, &sr.rng);
  uint64_t s5 = data_file(s);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  slow_lister sl = {&sr, 0, 1};
  OK(h5tx_snap_list(sn, "l/", slow_list_cb, &sl, &e));
  h5tx_snap_close(sn);
  uint64_t s6 = data_file(s);
  CHECK(sl.n == 600 && sl.in_order);
  if (s6 - s5 > 2 * (s5 - s4) + (1u << 20)) {
    fprintf(stderr, "data file grew %llu bytes during the listing, %llu without it\n",
            (unsigned long long)(s6 - s5), (unsigned long long)(s5 - s4));
    CHECK(0);
  }
  h5tx_store_close(s);
}

typedef struct list_state {
  char names[8][64];
  uint64_t len[8];
  int n;
} list_state;

static int list_cb(void *arg, const char *name, const h5tx_stat *st) {
  list_state *ls = arg;
  if (ls->n < 8) {
    snprintf(ls->names[ls->n], 64, "%s", name);
    ls->len[ls->n] = st->length;
  }
  ls->n++;
  return 0;
}

static void test_list_remove(h5tx_store *s) {
  h5tx_rev r1 = put_text(s, "runs/a.h5", "first a", H5TX_HEAD);
  put_text(s, "runs/b.h5", "bb", H5TX_HEAD);
  put_text(s, "runs2/c.h5", "ccc", H5TX_HEAD);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  list_state ls = {0};
  OK(h5tx_snap_list(sn, "runs/", list_cb, &ls, &e));
  CHECK(ls.n == 2);
  CHECK(strcmp(ls.names[0], "runs/a.h5") == 0 && ls.len[0] == 7);
  CHECK(strcmp(ls.names[1], "runs/b.h5") == 0 && ls.len[1] == 2);
  h5tx_snap_close(sn);

  h5tx_rev rr;
  OK(h5tx_remove(s, "runs/a.h5", "remove a", &rr, &e));
  FAILS(h5tx_remove(s, "runs/a.h5", NULL, &rr, &e), H5TX_ENOENT, "no file 'runs/a.h5' at head");
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  memset(&ls, 0, sizeof ls);
  OK(h5tx_snap_list(sn, "runs/", list_cb, &ls, &e));
  CHECK(ls.n == 1 && strcmp(ls.names[0], "runs/b.h5") == 0);
  h5tx_stat st;
  FAILS(h5tx_snap_stat(sn, "runs/a.h5", &st, &e), H5TX_ENOENT, "no file 'runs/a.h5'");
  h5tx_snap_close(sn);

  /* Re-created: a new file id; the old revision still reads the old file. */
  h5tx_rev r3 = put_text(s, "runs/a.h5", "second", H5TX_HEAD);
  h5tx_stat st1, st3;
  char buf[16] = {0};
  OK(h5tx_snap_open(s, r1, &sn, &e));
  OK(h5tx_snap_stat(sn, "runs/a.h5", &st1, &e));
  OK(h5tx_snap_read(sn, "runs/a.h5", 0, buf, 7, &e));
  CHECK(memcmp(buf, "first a", 7) == 0);
  h5tx_snap_close(sn);
  OK(h5tx_snap_open(s, r3, &sn, &e));
  OK(h5tx_snap_stat(sn, "runs/a.h5", &st3, &e));
  OK(h5tx_snap_read(sn, "runs/a.h5", 0, buf, 8, &e));
  CHECK(memcmp(buf, "second\0\0", 8) == 0);
  CHECK(st3.file_id != st1.file_id && st3.length == 6);
  h5tx_snap_close(sn);
}

/* Rename: one commit, no data copied, the target replaced, old revisions
 * keep both names as they were, writers on either name block it. */
static void test_rename(h5tx_store *s) {
  h5tx_rev r1 = put_text(s, "mv/src.bin", "moving", H5TX_HEAD);
  h5tx_rev r2 = put_text(s, "mv/dst.bin", "old target", H5TX_HEAD);
  h5tx_usage before, after;
  OK(h5tx_store_usage(s, &before, &e));
  h5tx_rev r3;
  OK(h5tx_rename(s, "mv/src.bin", "mv/dst.bin", "rename", &r3, &e));
  CHECK(r3 == r2 + 1);
  OK(h5tx_store_usage(s, &after, &e));
  CHECK(after.page_versions == before.page_versions); /* nothing copied */
  h5tx_snap *sn;
  h5tx_stat st;
  char buf[16] = {0};
  OK(h5tx_snap_open(s, r3, &sn, &e));
  FAILS(h5tx_snap_stat(sn, "mv/src.bin", &st, &e), H5TX_ENOENT, "no file 'mv/src.bin'");
  OK(h5tx_snap_read(sn, "mv/dst.bin", 0, buf, 6, &e));
  CHECK(memcmp(buf, "moving", 6) == 0);
  h5tx_snap_close(sn);
  OK(h5tx_snap_open(s, r2, &sn, &e));
  OK(h5tx_snap_read(sn, "mv/src.bin", 0, buf, 6, &e));
  CHECK(memcmp(buf, "moving", 6) == 0);
  OK(h5tx_snap_read(sn, "mv/dst.bin", 0, buf, 10, &e));
  CHECK(memcmp(buf, "old target", 10) == 0);
  h5tx_snap_close(sn);
  (void)r1;
  FAILS(h5tx_rename(s, "mv/none.bin", "mv/x.bin", NULL, NULL, &e), H5TX_ENOENT,
        "no file 'mv/none.bin'");
  FAILS(h5tx_rename(s, "mv/dst.bin", "mv/dst.bin", NULL, NULL, &e), H5TX_EINVAL, "to itself");
  FAILS(h5tx_rename(s, "mv/dst.bin", "/abs", NULL, NULL, &e), H5TX_EINVAL, "absolute");
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "mv/busy.bin", &wo, &w, &e));
  FAILS(h5tx_rename(s, "mv/dst.bin", "mv/busy.bin", NULL, NULL, &e), H5TX_EBUSY, "being written");
  h5tx_writer_close(w);
  OK(h5tx_writer_open(s, "mv/dst.bin", NULL, &w, &e));
  FAILS(h5tx_rename(s, "mv/dst.bin", "mv/other.bin", NULL, NULL, &e), H5TX_EBUSY, "being written");
  h5tx_writer_close(w);
}

/* A commit that changes nothing makes no revision. */
static void test_no_change(h5tx_store *s) {
  h5tx_rev r0 = put_text(s, "same.txt", "unchanged", H5TX_HEAD);
  h5tx_writer *w;
  OK(h5tx_writer_open(s, "same.txt", NULL, &w, &e));
  OK(h5tx_writer_write(w, 0, "unchanged", 9, &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, "again", &r, &e));
  CHECK(r == r0);
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  CHECK(head == r0);
  /* Truncate and grow back to the same bytes: still nothing. */
  OK(h5tx_writer_truncate(w, 3, &e));
  OK(h5tx_writer_write(w, 3, "hanged", 6, &e));
  OK(h5tx_writer_commit(w, "again", &r, &e));
  CHECK(r == r0);
  /* Truncate shorter: a revision, and growing again reads zeros. */
  OK(h5tx_writer_truncate(w, 2, &e));
  OK(h5tx_writer_commit(w, "shrink", &r, &e));
  CHECK(r == r0 + 1);
  OK(h5tx_writer_truncate(w, 9, &e));
  OK(h5tx_writer_commit(w, "grow", &r, &e));
  CHECK(r == r0 + 2);
  char buf[9];
  OK(h5tx_writer_read(w, 0, buf, 9, &e));
  CHECK(memcmp(buf, "un\0\0\0\0\0\0\0", 9) == 0);
  h5tx_writer_close(w);
}

static void test_fork(h5tx_store *s) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    h5tx_rev head;
    h5tx_error ce = {0};
    int rc = h5tx_store_head(s, &head, &ce);
    _exit(rc == H5TX_EFORK && strstr(ce.msg, "after fork") ? 0 : 1);
  }
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
  test_paths tp = temp_paths();
  test_open_errors(tp.dir);
  test_newer_format(tp.dir);
  test_name_rules(tp.dir);
  test_log_holds_no_transaction(tp.dir);
  h5tx_store *s = open_store(tp.store, 4096, 0);
  /* Opening the same tp.store twice in one process shares one environment. */
  h5tx_store *s2;
  OK(h5tx_store_open(tp.store, NULL, &s2, &e));
  test_names(s);
  test_reads(s);
  test_huge_offsets(s);
  test_commit_progress(s);
  test_tags(s);
  test_log(s);
  test_list_remove(s2);
  test_no_change(s);
  test_rename(s);
  test_fork(s);
  h5tx_store_close(s2);
  h5tx_store_close(s);
  remove_tree(tp.dir);
  return check_done("core_basic");
}
