/* test_isolation.c - snapshot isolation and pins across processes.
 *
 * 1. A reader process pins revision R (a snapshot at head) while a writer
 *    process commits R+1 .. R+NREV, each changing most pages of the file and
 *    alternately shrinking and growing it (once to zero). After every notice
 *    from the writer the reader reads the whole file from its snapshot and
 *    checks it is R's, byte for byte and length for length, and opens a new
 *    snapshot at head that must hold the newest committed content.
 * 2. The writer then runs gc (keep_last = 1) while the reader still holds R:
 *    R is kept because it is pinned and still reads right, the revisions
 *    around it are gone (H5TX_EGONE) for the reader too. Once the reader has
 *    closed its snapshot (its process still alive), a second gc, run by the
 *    parent, collects R.
 * 3. A snapshot pinned by a process that is then SIGKILLed: while the
 *    process lives gc keeps its revision; once it is dead gc collects it.
 * Processes synchronise only through pipes and waitpid(). */
#include "check.h"
#include "pipes.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#define PAGE 4096u
#define MAX_LEN (512u << 10)
#define NREV 20 /* revisions the writer commits after R */

static const char *const FILE_NAME = "data/x.bin";

/* ver[i]: the file's content at revision R + i; MAX_LEN bytes, zero past
 * len. Computed before any fork, so every process knows them. */
typedef struct version {
  uint64_t len;
  uint8_t *buf;
} version;

static version ver[NREV + 1];

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t s = a ^ (b * 0x9E3779B97F4A7C15ull) ^ (c * 0xC2B2AE3D27D4EB4Full);
  return rng_next(&s);
}

/* Version 0 is 300 KiB and a bit; odd versions shrink to 25-75%, even ones
 * grow; version 4 ends on a page boundary, version 9 is empty. */
static uint64_t version_len(uint64_t seed, int i, uint64_t prev) {
  uint64_t r = hash3(seed, (uint64_t)i, 0);
  if (i == 0) return (300u << 10) + 123;
  if (i == 9) return 0;
  uint64_t len = i % 2 ? prev / 4 + rng_below(&r, prev / 2 + 1)
                       : prev + (8u << 10) + rng_below(&r, 200u << 10);
  if (len > MAX_LEN) len = MAX_LEN - rng_below(&r, PAGE);
  if (i == 4) len -= len % PAGE;
  return len;
}

/* Does version i (re)write page p? All of version 0, about 3 pages in 4
 * of later versions. */
static int page_changes(uint64_t seed, int i, uint64_t p) {
  return i == 0 || hash3(seed, (uint64_t)i, p + 1) % 4 != 0;
}

/* A page's new bytes: random in its first half, a pattern in the second
 * (so that zstd has something to compress). */
static void page_bytes(uint8_t *dst, size_t n, uint64_t seed, int i, uint64_t p) {
  uint64_t r = hash3(seed ^ 0xABCDu, (uint64_t)i, p), x = 0;
  for (size_t j = 0; j < n; j++) {
    if (j < PAGE / 2) {
      if (j % 8 == 0) x = rng_next(&r);
      dst[j] = (uint8_t)(x >> (8 * (j % 8)));
    } else {
      dst[j] = (uint8_t)(j * (uint64_t)(i + 1) + p);
    }
  }
}

static size_t page_len(uint64_t len, uint64_t p) {
  return len - p * PAGE < PAGE ? (size_t)(len - p * PAGE) : PAGE;
}

/* Version i is version i-1 cut or grown (with zeros) to its length, with
 * its changed pages rewritten. */
static void build_versions(uint64_t seed) {
  uint64_t prev = 0;
  for (int i = 0; i <= NREV; i++) {
    version *v = &ver[i];
    REQUIRE((v->buf = calloc(1, MAX_LEN)) != NULL);
    v->len = version_len(seed, i, prev);
    if (i > 0) memcpy(v->buf, ver[i - 1].buf, v->len < prev ? v->len : prev);
    for (uint64_t p = 0; p * PAGE < v->len; p++)
      if (page_changes(seed, i, p)) page_bytes(v->buf + p * PAGE, page_len(v->len, p), seed, i, p);
    prev = v->len;
  }
}

/* Make the writer's file version i, given that it holds version i-1: set
 * the length (shrinking cuts, growing reads zeros), rewrite changed pages. */
static void write_version(h5tx_writer *w, uint64_t seed, int i) {
  h5tx_error e = {0};
  const version *v = &ver[i];
  OK(h5tx_writer_truncate(w, v->len, &e));
  for (uint64_t p = 0; p * PAGE < v->len; p++)
    if (page_changes(seed, i, p))
      OK(h5tx_writer_write(w, p * PAGE, v->buf + p * PAGE, page_len(v->len, p), &e));
  CHECK(h5tx_writer_length(w) == v->len);
}

/* Read the whole file from `snap` in chunks of random sizes (so reads start
 * and end inside pages), past its end too, and compare with version i. */
static void check_version(h5tx_snap *snap, int i, uint64_t *r) {
  h5tx_error e = {0};
  const version *v = &ver[i];
  h5tx_stat st;
  OK(h5tx_snap_stat(snap, FILE_NAME, &st, &e));
  if (st.length != v->len)
    fprintf(stderr, "pid %d: revision %llu: length %llu, expected version %d's %llu\n",
            (int)getpid(), (unsigned long long)h5tx_snap_rev(snap), (unsigned long long)st.length,
            i, (unsigned long long)v->len);
  CHECK(st.length == v->len);
  static uint8_t buf[3 * PAGE + 1000];
  uint64_t end = v->len + PAGE; /* zeros past the end */
  for (uint64_t off = 0; off < end;) {
    size_t n = 1 + (size_t)rng_below(r, sizeof buf);
    if (n > end - off) n = (size_t)(end - off);
    OK(h5tx_snap_read_stat(snap, FILE_NAME, &st, off, buf, n, &e));
    for (size_t j = 0; j < n; j++) {
      uint8_t want = off + j < v->len ? v->buf[off + j] : 0;
      if (buf[j] != want) {
        fprintf(stderr, "pid %d: revision %llu: byte %llu is %u, expected %u (version %d)\n",
                (int)getpid(), (unsigned long long)h5tx_snap_rev(snap),
                (unsigned long long)(off + j), buf[j], want, i);
        CHECK(buf[j] == want);
        return;
      }
    }
    off += n;
  }
}

/* ---- pipes: one line per message ---------------------------------------- */

/* Expect the line `want` on `fd`. */
static void expect(int fd, const char *want) {
  char line[128];
  int got = hear(fd, line, sizeof line);
  if (!got || strcmp(line, want) != 0)
    fprintf(stderr, "pid %d: expected '%s', got %s'%s'\n", (int)getpid(), want,
            got ? "" : "end of file ", line);
  CHECK(got && strcmp(line, want) == 0);
}

/* Wait for `pid`; CHECK it exited with 0. */
static void reap(pid_t pid, const char *who) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "%s (pid %d) ended with status 0x%x\n", who, (int)pid, status);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- part 1 and 2: the reader and the writer ---------------------------- */

typedef struct pipes {
  int to_parent, from_parent; /* reader <-> parent */
  int from_writer, to_writer; /* reader <-> writer */
} pipes;

static int reader_main(const char *path, uint64_t seed, h5tx_rev r, const pipes *io) {
  h5tx_error e = {0};
  uint64_t rr = seed ^ 0x1234u; /* read chunk sizes */
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_snap *old = NULL;
  OK(h5tx_snap_open(s, H5TX_HEAD, &old, &e));
  CHECK(h5tx_snap_rev(old) == r);
  check_version(old, 0, &rr);
  say(io->to_parent, "pinned %llu\n", (unsigned long long)h5tx_snap_rev(old));

  char line[128];
  int seen = 0;
  while (seen < NREV && hear(io->from_writer, line, sizeof line)) {
    int i = 0;
    unsigned long long rev = 0;
    if (sscanf(line, "commit %d %llu", &i, &rev) != 2) break;
    CHECK(i == seen + 1 && rev == r + (h5tx_rev)i);
    seen = i;
    /* The pinned snapshot still sees R, whatever was committed since. */
    check_version(old, 0, &rr);
    CHECK(h5tx_snap_rev(old) == r);
    /* A new snapshot sees the newest commit (the writer may be ahead). */
    h5tx_snap *now = NULL;
    OK(h5tx_snap_open(s, H5TX_HEAD, &now, &e));
    h5tx_rev h = h5tx_snap_rev(now);
    CHECK(h >= rev && h <= r + NREV);
    if (h >= rev && h <= r + NREV) check_version(now, (int)(h - r), &rr);
    h5tx_snap_close(now);
  }
  CHECK(seen == NREV);
  say(io->to_writer, "checked\n");

  expect(io->from_writer, "gc");
  /* gc ran with keep_last = 1: R survived because it is pinned here. */
  check_version(old, 0, &rr);
  h5tx_snap *x = NULL;
  FAILS(h5tx_snap_open(s, r + 1, &x, &e), H5TX_EGONE, "garbage-collected");
  h5tx_snap_close(x);
  x = NULL;
  FAILS(h5tx_snap_open(s, r - 1, &x, &e), H5TX_EGONE, "garbage-collected");
  h5tx_snap_close(x);
  OK(h5tx_snap_open(s, H5TX_HEAD, &x, &e));
  CHECK(h5tx_snap_rev(x) == r + NREV);
  check_version(x, NREV, &rr);
  h5tx_snap_close(x);

  h5tx_snap_close(old);
  say(io->to_parent, "closed\n");
  expect(io->from_parent, "quit"); /* stay alive while the parent collects */
  h5tx_store_close(s);
  return check_failures ? 1 : 0;
}

static int writer_main(const char *path, uint64_t seed, h5tx_rev r, int to_reader,
                       int from_reader) {
  h5tx_error e = {0};
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_writer *w = NULL;
  OK(h5tx_writer_open(s, FILE_NAME, NULL, &w, &e));
  CHECK(h5tx_writer_base(w) == r);
  CHECK(h5tx_writer_length(w) == ver[0].len);
  for (int i = 1; i <= NREV; i++) {
    write_version(w, seed, i);
    h5tx_rev rev = 0;
    OK(h5tx_writer_commit(w, "next version", &rev, &e));
    CHECK(rev == r + (h5tx_rev)i);
    say(to_reader, "commit %d %llu\n", i, (unsigned long long)rev);
  }
  expect(from_reader, "checked");
  /* Only head is kept by age; R is kept by the reader's pin; the other
   * revisions (before R and between R and head) go. */
  h5tx_gc_opts g = {.keep_last = 1};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == (r - 1) + (NREV - 1));
  CHECK(res.revisions_pinned == 1);
  CHECK(res.versions_freed > 0 && res.bytes_freed > 0);
  say(to_reader, "gc\n");
  h5tx_writer_close(w);
  h5tx_store_close(s);
  return check_failures ? 1 : 0;
}

/* Replace the file's content by version i in one commit. */
static h5tx_rev commit_version(h5tx_store *s, int i, h5tx_writer_opts *o) {
  h5tx_error e = {0};
  h5tx_writer *w = NULL;
  OK(h5tx_writer_open(s, FILE_NAME, o, &w, &e));
  OK(h5tx_writer_truncate(w, ver[i].len, &e));
  OK(h5tx_writer_write(w, 0, ver[i].buf, ver[i].len, &e));
  h5tx_rev rev = 0;
  OK(h5tx_writer_commit(w, "version", &rev, &e));
  h5tx_writer_close(w);
  return rev;
}

static int collected_cb(void *arg, const h5tx_commit *c) {
  h5tx_rev *keep = arg; /* the one revision that must not be collected */
  if (c->collected != (c->rev != *keep))
    fprintf(stderr, "revision %llu: collected %d\n", (unsigned long long)c->rev, c->collected);
  CHECK(c->collected == (c->rev != *keep));
  return 0;
}

/* Parts 1 and 2. Returns R + NREV, the head. */
static h5tx_rev isolation(const char *path, uint64_t seed) {
  h5tx_error e = {0};
  /* Two revisions of other content, then R. */
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  commit_version(s, NREV, &wo);
  commit_version(s, 3, NULL);
  h5tx_rev r = commit_version(s, 0, NULL);
  CHECK(r == 3);
  h5tx_store_close(s); /* nothing open across fork */

  int rp[2], pr[2], wr[2], rw[2];
  REQUIRE(pipe(rp) == 0 && pipe(pr) == 0 && pipe(wr) == 0 && pipe(rw) == 0);
  pid_t reader = spawn();
  if (reader == 0) {
    close(rp[0]);
    close(pr[1]);
    close(wr[1]);
    close(rw[0]);
    pipes io = {rp[1], pr[0], wr[0], rw[1]};
    exit(reader_main(path, seed, r, &io));
  }
  close(rp[1]);
  close(pr[0]);
  close(wr[0]);
  close(rw[1]);
  char want[64];
  snprintf(want, sizeof want, "pinned %llu", (unsigned long long)r);
  expect(rp[0], want);

  pid_t writer = spawn();
  if (writer == 0) {
    close(rp[0]);
    close(pr[1]);
    exit(writer_main(path, seed, r, wr[1], rw[0]));
  }
  close(wr[1]);
  close(rw[0]);
  reap(writer, "writer");

  /* The reader closed its snapshot and lives on: R is no longer pinned. */
  expect(rp[0], "closed");
  s = open_store(path, PAGE, 0);
  h5tx_gc_opts g = {.keep_last = 1};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 1);
  CHECK(res.revisions_pinned == 0);
  h5tx_snap *x = NULL;
  FAILS(h5tx_snap_open(s, r, &x, &e), H5TX_EGONE, "garbage-collected");
  h5tx_snap_close(x);
  uint64_t rr = seed;
  OK(h5tx_snap_open(s, H5TX_HEAD, &x, &e));
  CHECK(h5tx_snap_rev(x) == r + NREV);
  check_version(x, NREV, &rr);
  h5tx_snap_close(x);
  h5tx_rev head = r + NREV;
  OK(h5tx_log(s, H5TX_HEAD, collected_cb, &head, &e));
  h5tx_store_close(s);

  say(pr[1], "quit\n");
  close(pr[1]);
  close(rp[0]);
  reap(reader, "reader");
  return head;
}

/* ---- part 3: a pin whose process was killed ------------------------------- */

static void killed_pin(const char *path, uint64_t seed, h5tx_rev head) {
  h5tx_error e = {0};
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_rev r2 = commit_version(s, 1, NULL);
  CHECK(r2 == head + 1);
  h5tx_store_close(s);

  int up[2], down[2];
  REQUIRE(pipe(up) == 0 && pipe(down) == 0);
  pid_t pid = spawn();
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    uint64_t rr = seed;
    s = open_store(path, PAGE, 0);
    h5tx_snap *snap = NULL;
    OK(h5tx_snap_open(s, H5TX_HEAD, &snap, &e));
    check_version(snap, 1, &rr);
    say(up[1], "pinned %llu\n", (unsigned long long)h5tx_snap_rev(snap));
    char line[16];
    hear(down[0], line, sizeof line); /* blocks until killed */
    _exit(2);
  }
  close(up[1]);
  close(down[0]);
  char want[64];
  snprintf(want, sizeof want, "pinned %llu", (unsigned long long)r2);
  expect(up[0], want);

  /* While the pinning process lives, gc keeps r2 though it is not head. */
  s = open_store(path, PAGE, 0);
  h5tx_rev r3 = commit_version(s, 2, NULL);
  CHECK(r3 == r2 + 1);
  h5tx_gc_opts g = {.keep_last = 1};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 1); /* head before r2 */
  CHECK(res.revisions_pinned == 1);
  uint64_t rr = seed;
  h5tx_snap *x = NULL;
  OK(h5tx_snap_open(s, r2, &x, &e));
  check_version(x, 1, &rr);
  h5tx_snap_close(x);

  REQUIRE(kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  close(up[0]);
  close(down[1]);

  /* Its pin is a dead process's: r2 goes. */
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_collected == 1);
  CHECK(res.revisions_pinned == 0);
  x = NULL;
  FAILS(h5tx_snap_open(s, r2, &x, &e), H5TX_EGONE, "garbage-collected");
  h5tx_snap_close(x);
  OK(h5tx_snap_open(s, H5TX_HEAD, &x, &e));
  CHECK(h5tx_snap_rev(x) == r3);
  check_version(x, 2, &rr);
  h5tx_snap_close(x);
  h5tx_store_close(s);
}

int main(void) {
  uint64_t seed = test_seed("core_isolation");
  signal(SIGPIPE, SIG_IGN); /* a dead peer is reported, not fatal */
  build_versions(seed);
  char path[600];
  temp_store(path, sizeof path);

  h5tx_rev head = isolation(path, seed);
  killed_pin(path, seed, head);

  for (int i = 0; i <= NREV; i++)
    free(ver[i].buf);
  char dir[600];
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = 0;
  remove_tree(dir);
  return check_done("core_isolation");
}
