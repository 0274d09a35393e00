/* test_liveness.c - whether the holder of a pin or a lease is alive is
 * decided by the kernel. Parts (argv[1], all when absent):
 *   race   two processes claiming the last free reader slot, one stopped
 *          between the steps of its claim: at most one gets it, and gc keeps
 *          every revision a successful claimer pinned;
 *   kill   a claimer killed at each step of its claim leaks no slot;
 *   lease  two writers of one file, the first stopped or killed in the
 *          middle of its claim of the lease;
 *   pidns  a reader and a writer in another PID namespace (with their own
 *          /proc, as in a container) look alive to gc and to other writers;
 *   handles store handles of one process share the table and a descriptor;
 *   gone   a snapshot whose pin was lost reads H5TX_EGONE, never old bytes;
 *   spared a pinned revision that gc flagged, then spared, reads on between
 *          gc's phases and after;
 *   fork   a fork child that frees its parent's writer (with spilled pages),
 *          snapshot and store changes nothing of the parent's;
 *   sync   taking and dropping a lease costs no flush;
 *   preflush a durable commit that finds another under way flushes its page
 *          records before the index lock (3 flushes), a lone one does not (2);
 *   stress readers pin head and read it while commits and gc (keep the
 *          last one) run: every read is exactly its revision (seeded).
 * Processes are stopped between steps with the library's H5TX_TEST_STOP
 * hook and driven through pipes. */

#include "check.h"
#include "pipes.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

static h5tx_error e;
static char store_path[600];
static h5tx_rev r1, r2, r3; /* "f" holds "one", "two", "three" */

/* ---- flushes, counted: exported by this executable (ENABLE_EXPORTS), so
 * libh5tx's and LMDB's calls land here first. */

static long syncs;
#define COUNTED(ret, name, params, args)                                                           \
  ret name params {                                                                                \
    static ret(*real) params;                                                                      \
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, #name);                                          \
    __atomic_add_fetch(&syncs, 1, __ATOMIC_SEQ_CST);                                               \
    return real args;                                                                              \
  }
static long datasyncs; /* fdatasync alone: the page log's and the index's data flushes */
int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
  __atomic_add_fetch(&syncs, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&datasyncs, 1, __ATOMIC_SEQ_CST);
  return real(fd);
}
COUNTED(int, fsync, (int fd), (fd))
COUNTED(int, msync, (void *a, size_t n, int f), (a, n, f))

/* ---- pipes ---------------------------------------------------------------------------------- */

typedef struct peer {
  pid_t pid;
  int up, down; /* the parent reads `up`, writes `down` */
} peer;

typedef void (*peer_fn)(int up, int down, h5tx_rev rev);

/* Fork a process running fn(rev); stopped at `stop` (NULL: never). */
static peer spawn_peer(peer_fn fn, h5tx_rev rev, const char *stop) {
  int u[2], d[2];
  REQUIRE(pipe(u) == 0 && pipe(d) == 0);
  pid_t pid = spawn();
  if (pid == 0) {
    /* Keep only our two pipe ends: another peer's would hold its pipe open. */
    for (int fd = 3; fd < 1024; fd++)
      if (fd != u[1] && fd != d[0]) close(fd);
    if (stop) {
      char v[128];
      snprintf(v, sizeof v, "%s:%d:%d", stop, u[1], d[0]);
      setenv("H5TX_TEST_STOP", v, 1);
    }
    fn(u[1], d[0], rev);
    _exit(check_failures ? 1 : 0);
  }
  close(u[1]);
  close(d[0]);
  return (peer){pid, u[0], d[1]};
}

/* Wait for the one byte a stopped peer writes. */
static void wait_stopped(peer *p) {
  char c = 0;
  REQUIRE(read(p->up, &c, 1) == 1 && c == 'S');
}

static void release(peer *p) { REQUIRE(write(p->down, "g", 1) == 1); }

static void finish(peer *p, int killed) {
  if (killed) kill(p->pid, SIGKILL);
  close(p->down); /* the peer sees end of file and exits */
  int status = 0;
  REQUIRE(waitpid(p->pid, &status, 0) == p->pid);
  if (!killed) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fprintf(stderr, "peer %d ended with status 0x%x\n", (int)p->pid, status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  close(p->up);
}

/* The text of "f" in `sn` into `buf`, or an error code. */
static int read_f(h5tx_snap *sn, char *buf, size_t cap, h5tx_error *err) {
  h5tx_stat st;
  int rc = h5tx_snap_stat(sn, "f", &st, err);
  if (rc) return rc;
  size_t n = st.length < cap - 1 ? (size_t)st.length : cap - 1;
  rc = h5tx_snap_read_stat(sn, "f", &st, 0, buf, n, err);
  buf[rc ? 0 : n] = 0;
  return rc;
}

/* A reader: pins `rev`, says "pinned R TEXT" (or "fail CODE MSG"); then on
 * each line "read" says "read TEXT" (or "fail CODE MSG"), until end of file. */
static void reader(int up, int down, h5tx_rev rev) {
  h5tx_error er = {0};
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_snap *sn = NULL;
  char text[64], line[64];
  int rc = h5tx_snap_open(s, rev, &sn, &er);
  if (rc == 0) rc = read_f(sn, text, sizeof text, &er);
  if (rc) {
    say(up, "fail %d %s\n", rc, er.msg);
  } else {
    say(up, "pinned %llu %s\n", (unsigned long long)h5tx_snap_rev(sn), text);
    while (hear(down, line, sizeof line) && strcmp(line, "read") == 0) {
      rc = read_f(sn, text, sizeof text, &er);
      if (rc)
        say(up, "fail %d %s\n", rc, er.msg);
      else
        say(up, "read %s\n", text);
    }
  }
  h5tx_snap_close(sn);
  h5tx_store_close(s);
}

static void expect_line(peer *p, const char *want) {
  char line[256];
  int got = hear(p->up, line, sizeof line);
  if (!got || strcmp(line, want) != 0)
    fprintf(stderr, "peer %d: expected '%s', got %s'%s'\n", (int)p->pid, want,
            got ? "" : "end of file ", line);
  CHECK(got && strcmp(line, want) == 0);
}

/* ---- the reader table, filled --------------------------------------------------------------- */

typedef struct filled {
  h5tx_snap **v;
  size_t n;
} filled;

/* Pin head until the reader table is full, then free one slot. */
static filled fill_table(h5tx_store *s) {
  filled f = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    if (f.n == cap) {
      cap = cap ? cap * 2 : 1024;
      REQUIRE((f.v = realloc(f.v, cap * sizeof *f.v)) != NULL);
    }
    int rc = h5tx_snap_open(s, H5TX_HEAD, &f.v[f.n], &e);
    if (rc == H5TX_EBUSY) break;
    OK(rc);
    REQUIRE(++f.n < 100000);
  }
  CHECK(strstr(e.msg, "reader table full") != NULL);
  REQUIRE(f.n > 1);
  h5tx_snap_close(f.v[--f.n]);
  return f;
}

static void unfill(filled *f) {
  for (size_t i = 0; i < f->n; i++)
    h5tx_snap_close(f->v[i]);
  free(f->v);
}

/* Clock ticks since boot when this process started (/proc/self/stat). */
static unsigned long long start_ticks(void) {
  char buf[1024];
  FILE *fp = fopen("/proc/self/stat", "re");
  REQUIRE(fp);
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long long v = 0;
  int field = 2;
  for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " "))
    if (++field == 22) {
      v = strtoull(t, NULL, 10);
      break;
    }
  return v;
}

/* Poll until the boot clock is past this process's start tick, so that a
 * process forked now has another start time than this one. */
static void tick_past_start(void) {
  unsigned long long st = start_ticks();
  long hz = sysconf(_SC_CLK_TCK);
  for (int i = 0; i < 1000000; i++) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    unsigned long long now =
        (unsigned long long)ts.tv_sec * (unsigned long long)hz +
        (unsigned long long)ts.tv_nsec / (1000000000ull / (unsigned long long)hz);
    if (now > st + 1) return;
    sched_yield();
  }
}

static h5tx_gc_result gc_keep1(h5tx_store *s) {
  h5tx_gc_opts g = {.keep_last = 1};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  return res;
}

/* ---- parts ---------------------------------------------------------------------------------- */

static void part_race(void) {
  h5tx_store *s = open_store(store_path, 4096, 0);
  filled f = fill_table(s);
  tick_past_start();
  /* A takes the last free slot and stops before it publishes its pin. */
  peer a = spawn_peer(reader, r1, "pin-claim");
  wait_stopped(&a);
  /* B looks for a slot meanwhile. */
  peer b = spawn_peer(reader, r2, NULL);
  char lb[256];
  REQUIRE(hear(b.up, lb, sizeof lb));
  int b_pinned = strncmp(lb, "pinned", 6) == 0;
  if (!b_pinned) CHECK(strstr(lb, "reader table full") != NULL);
  release(&a);
  expect_line(&a, "pinned 1 one");
  /* Revisions 1 and 2 are not kept unless pinned. */
  gc_keep1(s);
  say(a.down, "read\n");
  expect_line(&a, "read one");
  if (b_pinned) {
    say(b.down, "read\n");
    expect_line(&b, "read two");
  }
  finish(&a, 0);
  finish(&b, 0);
  unfill(&f);
  h5tx_store_close(s);
}

static void part_kill(const char *point) {
  h5tx_store *s = open_store(store_path, 4096, 0);
  filled f = fill_table(s);
  tick_past_start();
  peer a = spawn_peer(reader, r3, point);
  wait_stopped(&a);
  finish(&a, 1);
  /* The dead claimer's slot is free again. */
  peer b = spawn_peer(reader, r3, NULL);
  expect_line(&b, "pinned 3 three");
  say(b.down, "read\n");
  expect_line(&b, "read three");
  finish(&b, 0);
  unfill(&f);
  h5tx_store_close(s);
}

/* In a new PID and mount namespace with its own /proc: pin revision 1 and
 * hold the writer of "f" (says "writer" first), then act as reader(). */
static void ns_reader(int up, int down, h5tx_rev rev) {
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) {
    say(up, "skip unshare(CLONE_NEWPID|CLONE_NEWNS): %s\n", strerror(errno));
    return;
  }
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    /* pid 1 of the new namespace */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("proc", "/proc", "proc", 0, NULL) != 0) {
      say(up, "skip mounting /proc in a new mount namespace: %s\n", strerror(errno));
      _exit(0);
    }
    h5tx_error er = {0};
    h5tx_store *s = open_store(store_path, 4096, 0);
    h5tx_writer *w;
    OK(h5tx_writer_open(s, "f", NULL, &w, &er));
    say(up, "writer %d\n", (int)getpid());
    reader(up, down, rev);
    h5tx_writer_close(w);
    h5tx_store_close(s);
    _exit(check_failures ? 1 : 0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int part_pidns(void) {
  peer a = spawn_peer(ns_reader, r1, NULL);
  char line[256];
  REQUIRE(hear(a.up, line, sizeof line));
  if (strncmp(line, "skip", 4) == 0) {
    printf("core_liveness pidns: SKIPPED: %s\n", line + 5);
    finish(&a, 0);
    return 77;
  }
  CHECK(strcmp(line, "writer 1") == 0);
  expect_line(&a, "pinned 1 one");
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_writer *w = NULL;
  FAILS(h5tx_writer_open(s, "f", NULL, &w, &e), H5TX_EBUSY, "file 'f' is being written by pid 1");
  h5tx_writer_close(w);
  h5tx_gc_result res = gc_keep1(s);
  CHECK(res.revisions_pinned >= 1);
  say(a.down, "read\n");
  expect_line(&a, "read one");
  finish(&a, 0);
  h5tx_store_close(s);
  return 0;
}

static void part_gone(void) {
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r1, &sn, &e));
  char text[64];
  OK(read_f(sn, text, sizeof text, &e));
  CHECK(strcmp(text, "one") == 0);
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.base = r1;
  OK(h5tx_writer_open(s, "f", &wo, &w, &e));
  /* Lose every pin, as a bug or a stray writer of the table would. */
  char path[700];
  snprintf(path, sizeof path, "%s/readers", store_path);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(fstat(fd, &st) == 0 && st.st_size > 64);
  size_t n = (size_t)st.st_size - 64;
  char *zero = calloc(1, n);
  REQUIRE(zero && pwrite(fd, zero, n, 64) == (ssize_t)n);
  free(zero);
  close(fd);
  h5tx_gc_result res = gc_keep1(s);
  CHECK(res.revisions_collected >= 1);
  char want[64];
  snprintf(want, sizeof want, "revision %llu", (unsigned long long)r1);
  h5tx_stat hs;
  FAILS(h5tx_snap_stat(sn, "f", &hs, &e), H5TX_EGONE, want);
  hs.length = 3;
  hs.page_size = 4096;
  FAILS(h5tx_snap_read_stat(sn, "f", &hs, 0, text, 3, &e), H5TX_EGONE, want);
  h5tx_snap_close(sn);
  /* A writer's base too. */
  FAILS(h5tx_writer_read(w, 0, text, 3, &e), H5TX_EGONE, want);
  h5tx_rev r;
  FAILS(h5tx_writer_write(w, 3, "!", 1, &e), H5TX_EGONE, want); /* merges with the base */
  char full[4096];
  memset(full, 'x', sizeof full);
  OK(h5tx_writer_write(w, 0, full, sizeof full, &e)); /* needs nothing of it */
  FAILS(h5tx_writer_commit(w, NULL, &r, &e), H5TX_EGONE, want);
  h5tx_writer_close(w);
  h5tx_store_close(s);
}

#define FORK_PAGES 8

static void fill_page(char *p, int i) { memset(p, 'a' + i, 4096); }

/* A process that tries to open a writer on `rev`... on "big": says its code. */
static void try_writer(int up, int down, h5tx_rev rev) {
  (void)down;
  (void)rev;
  h5tx_error er = {0};
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_writer *w = NULL;
  int rc = h5tx_writer_open(s, "big", NULL, &w, &er);
  say(up, "writer %d\n", rc);
  h5tx_writer_close(w);
  h5tx_store_close(s);
}

/* A gc peer: collects all but the newest revision, then says what it did. */
static void gc_peer(int up, int down, h5tx_rev rev) {
  (void)down, (void)rev;
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_gc_result res = gc_keep1(s);
  say(up, "collected %llu pinned %llu\n", (unsigned long long)res.revisions_collected,
      (unsigned long long)res.revisions_pinned);
  h5tx_store_close(s);
}

/* A pinned revision that gc flagged in its first phase and then spared (it
 * saw the pin) reads on while gc is between its phases, and after. */
static void part_spared(void) {
  h5tx_store *s = open_store(store_path, 4096, 0);
  peer g = spawn_peer(gc_peer, 0, "gc-phase1,gc-phase2");
  wait_stopped(&g); /* gc has scanned the pins: none on r1 yet */
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r1, &sn, &e));
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.base = r1;
  OK(h5tx_writer_open(s, "f", &wo, &w, &e)); /* its base, r1, is pinned too */
  release(&g);
  wait_stopped(&g); /* r1 and r2 flagged; the rescan saw r1's pins: r1 is spared */
  char text[64];
  OK(read_f(sn, text, sizeof text, &e));
  CHECK(strcmp(text, "one") == 0);
  memset(text, 0, sizeof text);
  OK(h5tx_writer_read(w, 0, text, 3, &e));
  CHECK(strcmp(text, "one") == 0);
  release(&g);
  char line[64];
  CHECK(hear(g.up, line, sizeof line) && strcmp(line, "collected 1 pinned 1") == 0);
  finish(&g, 0);
  OK(read_f(sn, text, sizeof text, &e));
  CHECK(strcmp(text, "one") == 0);
  h5tx_writer_close(w);
  h5tx_snap_close(sn);
  h5tx_snap *gone;
  char want[64];
  snprintf(want, sizeof want, "revision %llu", (unsigned long long)r2);
  FAILS(h5tx_snap_open(s, r2, &gone, &e), H5TX_EGONE, want);
  h5tx_store_close(s);
}

static void part_fork(void) {
  /* One page in memory, the others spilled. */
  h5tx_store *s = open_store(store_path, 4096, 4096);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r1, &sn, &e));
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.truncate = 1;
  OK(h5tx_writer_open(s, "big", &wo, &w, &e));
  char page[4096];
  for (int i = 0; i < FORK_PAGES; i++) {
    fill_page(page, i);
    OK(h5tx_writer_write(w, (uint64_t)i * 4096, page, sizeof page, &e));
  }
  pid_t pid = spawn();
  if (pid == 0) {
    /* The child may read, but not change, what it inherited. */
    OK(h5tx_writer_read(w, 4096, page, sizeof page, &e));
    CHECK(is_all(page, sizeof page, 'b'));
    FAILS(h5tx_writer_write(w, 0, "x", 1, &e), H5TX_EFORK, "fork");
    FAILS(h5tx_writer_truncate(w, 1, &e), H5TX_EFORK, "fork");
    h5tx_rev r;
    FAILS(h5tx_writer_commit(w, NULL, &r, &e), H5TX_EFORK, "fork");
    h5tx_writer_abort(w);
    h5tx_writer_close(w);
    h5tx_snap_close(sn);
    h5tx_store_close(s);
    /* _exit: the store's LMDB environment is the parent's, which the child
     * leaves alone (LeakSanitizer would call that a leak at exit). */
    _exit(check_failures ? 1 : 0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* The writer's lease is still the parent's. */
  peer p = spawn_peer(try_writer, 0, NULL);
  char want[32];
  snprintf(want, sizeof want, "writer %d", H5TX_EBUSY);
  expect_line(&p, want);
  finish(&p, 0);
  h5tx_rev rev;
  OK(h5tx_writer_commit(w, NULL, &rev, &e));
  h5tx_writer_close(w);
  h5tx_snap *hs;
  OK(h5tx_snap_open(s, rev, &hs, &e));
  for (int i = 0; i < FORK_PAGES; i++) {
    OK(h5tx_snap_read(hs, "big", (uint64_t)i * 4096, page, sizeof page, &e));
    if (!is_all(page, sizeof page, (uint8_t)('a' + i)))
      fprintf(stderr, "page %d of the commit is not what the parent wrote\n", i);
    CHECK(is_all(page, sizeof page, (uint8_t)('a' + i)));
  }
  h5tx_snap_close(hs);
  /* The parent's pin on revision 1 survived the child's close. */
  h5tx_gc_result res = gc_keep1(s);
  CHECK(res.revisions_pinned >= 1);
  char text[64];
  OK(read_f(sn, text, sizeof text, &e));
  CHECK(strcmp(text, "one") == 0);
  h5tx_snap_close(sn);
  h5tx_store_close(s);
}

/* A writer of "f": says "writer 0" or "writer CODE MSG", then holds the
 * lease until end of file. */
static void hold_writer(int up, int down, h5tx_rev rev) {
  (void)rev;
  h5tx_error er = {0};
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_writer *w = NULL;
  int rc = h5tx_writer_open(s, "f", NULL, &w, &er);
  if (rc)
    say(up, "writer %d %s\n", rc, er.msg);
  else
    say(up, "writer 0\n");
  char line[16];
  while (hear(down, line, sizeof line)) {
  }
  h5tx_writer_close(w);
  h5tx_store_close(s);
}

/* Poll until `p` has written something or some OFD lock request is
 * blocked (/proc/locks shows it with "->"); 0 if neither within 30 s. */
static int answers_or_blocks(peer *p) {
  for (int i = 0; i < 30000; i++) {
    struct pollfd pf = {p->up, POLLIN, 0};
    if (poll(&pf, 1, 0) == 1) return 1;
    FILE *fp = fopen("/proc/locks", "re");
    char line[256];
    int blocked = 0;
    while (fp && fgets(line, sizeof line, fp))
      if (strstr(line, "-> OFDLCK")) blocked = 1;
    if (fp) fclose(fp);
    if (blocked) return 1;
    poll(NULL, 0, 1);
  }
  return 0;
}

/* Two writers of one file, the first stopped in the middle of its claim:
 * the second waits for it and is then refused by its pid; a claimer
 * killed there leaves the lease free. */
static void part_lease(void) {
  peer a = spawn_peer(hold_writer, 0, "lease-claim");
  wait_stopped(&a);
  peer b = spawn_peer(hold_writer, 0, NULL);
  /* Let B get as far as it can: it answers (no mutual exclusion), or it
   * waits for A's lock (a blocked lock shows in /proc/locks). */
  CHECK(answers_or_blocks(&b));
  release(&a);
  expect_line(&a, "writer 0");
  char line[256], want[64];
  REQUIRE(hear(b.up, line, sizeof line));
  snprintf(want, sizeof want, "writer %d ", H5TX_EBUSY);
  CHECK(strncmp(line, want, strlen(want)) == 0);
  snprintf(want, sizeof want, "being written by pid %d on host", (int)a.pid);
  if (!strstr(line, want)) fprintf(stderr, "got '%s', want '%s'\n", line, want);
  CHECK(strstr(line, want) != NULL);
  finish(&b, 0);
  finish(&a, 0);

  a = spawn_peer(hold_writer, 0, "lease-claim");
  wait_stopped(&a);
  finish(&a, 1);
  b = spawn_peer(hold_writer, 0, NULL);
  expect_line(&b, "writer 0");
  finish(&b, 0);
}

static int open_fds(void) {
  int n = 0;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) != -1) n++;
  return n;
}

/* Store handles of one process share the table: a pin taken through one
 * counts for gc through another, a lease taken through one is refused
 * through another, and a handle costs no descriptor of its own. */
static void part_handles(void) {
  h5tx_store *a = open_store(store_path, 4096, 0), *b = open_store(store_path, 4096, 0);
  h5tx_snap *sn;
  OK(h5tx_snap_open(a, r1, &sn, &e));
  h5tx_gc_result res = gc_keep1(b);
  CHECK(res.revisions_pinned == 1);
  char text[64];
  OK(read_f(sn, text, sizeof text, &e));
  CHECK(strcmp(text, "one") == 0);
  h5tx_writer *w, *w2 = NULL;
  OK(h5tx_writer_open(a, "f", NULL, &w, &e));
  char want[64];
  snprintf(want, sizeof want, "being written by pid %d", (int)getpid());
  FAILS(h5tx_writer_open(b, "f", NULL, &w2, &e), H5TX_EBUSY, want);
  h5tx_writer_close(w);
  OK(h5tx_writer_open(b, "f", NULL, &w2, &e));
  h5tx_writer_close(w2);
  int before = open_fds();
  h5tx_store *more[50];
  for (int i = 0; i < 50; i++)
    more[i] = open_store(store_path, 4096, 0);
  int grown = open_fds() - before;
  if (grown) fprintf(stderr, "50 more store handles opened %d descriptors\n", grown);
  CHECK(grown < 50);
  for (int i = 0; i < 50; i++)
    h5tx_store_close(more[i]);
  h5tx_snap_close(sn);
  h5tx_store_close(b);
  h5tx_store_close(a);
}

/* ---- stress: readers of head while commits and gc run ------------------------------------------
 */

#define STRESS_LEN 5000 /* two pages */
#define STRESS_ROUNDS 300
#define STRESS_READERS 3

/* What "f" holds at revision r of the stress part. */
static void stress_text(char *buf, h5tx_rev r) {
  char tag[32];
  int n = snprintf(tag, sizeof tag, "<rev %llu>", (unsigned long long)r);
  for (int i = 0; i < STRESS_LEN; i++)
    buf[i] = tag[i % n];
}

/* STRESS_ROUNDS times: pin head (once the stress commits began), read "f"
 * twice with a random pause between: both reads must be exactly what that
 * revision holds. Says "ok N" at the end. */
static void stress_reader(int up, int down, h5tx_rev seed) {
  (void)down;
  uint64_t rng = seed;
  h5tx_error er = {0};
  h5tx_store *s = open_store(store_path, 4096, 0);
  static char got[STRESS_LEN], want[STRESS_LEN];
  int n = 0;
  for (long i = 0; n < STRESS_ROUNDS && i < 10000000; i++) {
    h5tx_snap *sn;
    OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &er));
    h5tx_rev r = h5tx_snap_rev(sn);
    if (r <= r3) { /* before the stress commits */
      h5tx_snap_close(sn);
      continue;
    }
    stress_text(want, r);
    for (int k = 0; k < 2; k++) {
      OK(h5tx_snap_read(sn, "f", 0, got, STRESS_LEN, &er));
      if (memcmp(got, want, STRESS_LEN) != 0)
        fprintf(stderr, "revision %llu read wrong bytes\n", (unsigned long long)r);
      CHECK(memcmp(got, want, STRESS_LEN) == 0);
      for (uint64_t y = rng_below(&rng, 2000); y > 0; y--)
        sched_yield();
    }
    h5tx_snap_close(sn);
    n++;
  }
  h5tx_store_close(s);
  say(up, "ok %d\n", n);
}

static void part_stress(void) {
  uint64_t seed = test_seed("core_liveness stress");
  peer rd[STRESS_READERS];
  for (int i = 0; i < STRESS_READERS; i++)
    rd[i] = spawn_peer(stress_reader, seed + (uint64_t)i, NULL);
  h5tx_store *s = open_store(store_path, 4096, 0);
  static char text[STRESS_LEN];
  uint64_t rng = seed ^ 0x5eed;
  int live = STRESS_READERS;
  struct pollfd pf[STRESS_READERS];
  for (int round = 0; live > 0 && round < 100000; round++) {
    h5tx_rev head;
    OK(h5tx_store_head(s, &head, &e));
    stress_text(text, head + 1);
    h5tx_writer *w;
    OK(h5tx_writer_open(s, "f", NULL, &w, &e));
    OK(h5tx_writer_write(w, 0, text, STRESS_LEN, &e));
    h5tx_rev r;
    OK(h5tx_writer_commit(w, NULL, &r, &e));
    CHECK(r == head + 1);
    h5tx_writer_close(w);
    if (rng_below(&rng, 2)) gc_keep1(s);
    live = 0;
    for (int i = 0; i < STRESS_READERS; i++)
      pf[i] = (struct pollfd){rd[i].up, POLLIN, 0};
    poll(pf, STRESS_READERS, 0);
    for (int i = 0; i < STRESS_READERS; i++)
      if (!(pf[i].revents & (POLLIN | POLLHUP))) live++;
  }
  gc_keep1(s);
  for (int i = 0; i < STRESS_READERS; i++) {
    char line[64];
    CHECK(hear(rd[i].up, line, sizeof line) && strncmp(line, "ok ", 3) == 0);
    finish(&rd[i], 0);
  }
  h5tx_store_close(s);
}

static void part_sync(void) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.durability = H5TX_SYNC;
  h5tx_store *s;
  OK(h5tx_store_open(store_path, &o, &s, &e));
  __atomic_store_n(&syncs, 0, __ATOMIC_SEQ_CST);
  for (int i = 0; i < 5; i++) {
    h5tx_writer *w;
    OK(h5tx_writer_open(s, "f", NULL, &w, &e));
    h5tx_writer_close(w);
  }
  long n = __atomic_load_n(&syncs, __ATOMIC_SEQ_CST);
  if (n) fprintf(stderr, "5 writer opens and closes flushed %ld times\n", n);
  CHECK(n == 0);
  /* The count works: a durable commit flushes. */
  h5tx_writer *w;
  OK(h5tx_writer_open(s, "f", NULL, &w, &e));
  OK(h5tx_writer_write(w, 0, "four", 4, &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, NULL, &r, &e));
  h5tx_writer_close(w);
  CHECK(__atomic_load_n(&syncs, __ATOMIC_SEQ_CST) > 0);
  h5tx_store_close(s);
}

/* ---- a sync commit that finds another under way ------------------------------------------------
 */

/* A durable commit of file "c<rev>" (the store's first segment of this
 * process made by a first commit, so its creation's flushes do not count);
 * says "flushed N" with the data flushes of the second commit. */
static void committer(int up, int down, h5tx_rev rev) {
  (void)down;
  h5tx_error er = {0};
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.durability = H5TX_SYNC;
  h5tx_store *s = NULL;
  h5tx_writer *w = NULL;
  char name[32];
  snprintf(name, sizeof name, "c%llu", (unsigned long long)rev);
  int rc = h5tx_store_open(store_path, &o, &s, &er);
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  if (rc == 0) rc = h5tx_writer_open(s, name, &wo, &w, &er);
  /* the first commit, before the stop: unsetenv keeps it going */
  char *stop = getenv("H5TX_TEST_STOP") ? strdup(getenv("H5TX_TEST_STOP")) : NULL;
  unsetenv("H5TX_TEST_STOP");
  if (rc == 0) rc = h5tx_writer_write(w, 0, "first", 5, &er);
  if (rc == 0) rc = h5tx_writer_commit(w, NULL, NULL, &er);
  if (stop) setenv("H5TX_TEST_STOP", stop, 1);
  free(stop);
  if (rc == 0) rc = h5tx_writer_write(w, 0, "second", 6, &er);
  __atomic_store_n(&datasyncs, 0, __ATOMIC_SEQ_CST);
  if (rc == 0) rc = h5tx_writer_commit(w, NULL, NULL, &er);
  if (rc)
    say(up, "fail %d %s\n", rc, er.msg);
  else
    say(up, "flushed %ld\n", __atomic_load_n(&datasyncs, __ATOMIC_SEQ_CST));
  h5tx_writer_close(w);
  h5tx_store_close(s);
}

/* A lone durable commit flushes twice (page log, then the index, both in
 * the index's write lock); one that finds another commit under way flushes
 * its page records first, while it would wait for that lock anyway, so
 * only the commit record's flush is left for inside it (three in all). */
static void part_preflush(void) {
  peer a = spawn_peer(committer, 1, "commit-enter");
  wait_stopped(&a); /* a's second commit is under way, alone */
  peer b = spawn_peer(committer, 2, "commit-enter");
  wait_stopped(&b); /* b's second commit has seen a's */
  release(&b);
  expect_line(&b, "flushed 3");
  finish(&b, 0);
  release(&a);
  expect_line(&a, "flushed 2");
  finish(&a, 0);
  h5tx_store *s = open_store(store_path, 4096, 0);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  char buf[16] = {0};
  for (int i = 1; i <= 2; i++) {
    char name[8];
    snprintf(name, sizeof name, "c%d", i);
    OK(h5tx_snap_read(sn, name, 0, buf, 6, &e));
    CHECK(memcmp(buf, "second", 6) == 0);
  }
  h5tx_snap_close(sn);
  h5tx_store_close(s);
}

/* A fresh store in which "f" holds "one", "two", "three" at 1, 2, 3. */
static test_paths fresh_store(void) {
  test_paths tp = temp_paths();
  snprintf(store_path, sizeof store_path, "%s", tp.store);
  h5tx_store *s = open_store(store_path, 4096, 0);
  r1 = put_text(s, "f", "one", H5TX_HEAD);
  r2 = put_text(s, "f", "two", H5TX_HEAD);
  r3 = put_text(s, "f", "three", H5TX_HEAD);
  REQUIRE(r1 == 1 && r2 == 2 && r3 == 3);
  h5tx_store_close(s); /* no store handle across fork() */
  return tp;
}

int main(int argc, char **argv) {
  static const char *const parts[] = {"race", "kill", "lease",  "handles", "gone",    "spared",
                                      "fork", "sync", "stress", "pidns",   "preflush"};
  const char *only = argc > 1 ? argv[1] : NULL;
  signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    const char *p = parts[i];
    if (only ? strcmp(only, p) != 0 : strcmp(p, "pidns") == 0) continue;
    test_paths tp = fresh_store();
    printf("core_liveness: %s\n", p);
    fflush(stdout);
    if (strcmp(p, "race") == 0) part_race();
    if (strcmp(p, "kill") == 0) {
      part_kill("pin-claim");
      part_kill("pin-publish");
    }
    if (strcmp(p, "lease") == 0) part_lease();
    if (strcmp(p, "handles") == 0) part_handles();
    if (strcmp(p, "gone") == 0) part_gone();
    if (strcmp(p, "spared") == 0) part_spared();
    if (strcmp(p, "fork") == 0) part_fork();
    if (strcmp(p, "sync") == 0) part_sync();
    if (strcmp(p, "preflush") == 0) part_preflush();
    if (strcmp(p, "stress") == 0) part_stress();
    if (strcmp(p, "pidns") == 0) rc = part_pidns();
    remove_tree(tp.dir);
  }
  if (rc == 77 && !check_failures) return 77;
  return check_done("core_liveness");
}
