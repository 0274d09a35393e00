/* test_crash.c - crash safety: a writer process SIGKILLed at random moments.
 *
 * A child process commits in a loop to two files; the changes of commit k are
 * a function of (seed, k) only: writes of random, zero and compressible bytes
 * at random offsets, truncations that shrink or grow, up to 384 KiB per file
 * in 4 KiB pages. It reports "about k" before each commit and "committed k R"
 * after it. The parent kills it at a random moment, then, with no repair step,
 * opens the store and checks that
 * - head is exactly the state after the last reported commit k, or after k+1
 *   when "about k+1" was reported (the commit landed, its report did not),
 *   byte for byte and length for length, and its commit message names it;
 * - every revision committed in the round reads its own state;
 * - a random sample of older revisions still reads theirs.
 * Sixty rounds run on one store; each new child takes over the dead one's
 * leases and continues from what is committed. Some rounds commit with
 * H5TX_SYNC, some with a small dirty limit so writers spill to disk. An
 * observer process keeps the store open throughout, so LMDB's lock file
 * lives on across the kills, and checks head at the end. */
#include "check.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#define PAGE 4096u
#define MAX_LEN (384u << 10)
#define NFILES 2
#define MAX_EDITS 6
#define ROUNDS 60
#define CKPT 32 /* the parent keeps the state after every CKPT-th commit */

static const char *const names[NFILES] = {"a.dat", "dir/b.dat"};

/* One change: a truncation to `off`, or a write of `len` bytes at `off`
 * whose bytes come from `fill`. */
typedef struct edit {
  int trunc;
  uint64_t off, len, fill;
} edit;

/* What commit k does: edits of one file. */
typedef struct plan {
  int file, n;
  edit e[MAX_EDITS];
} plan;

/* Both files after some commit; each buffer is MAX_LEN bytes, zero past len. */
typedef struct state {
  uint64_t len[NFILES];
  uint8_t *buf[NFILES];
} state;

/* Bytes of a write: random, zeros, a short repeated pattern, or random over
 * four symbols, chosen by the low bits of `f`. */
static void fill(uint8_t *b, size_t n, uint64_t f) {
  uint64_t r = f;
  switch (f & 3) {
  case 0:
    for (size_t i = 0; i < n; i += 8) {
      uint64_t x = rng_next(&r);
      memcpy(b + i, &x, n - i < 8 ? n - i : 8);
    }
    break;
  case 1: memset(b, 0, n); break;
  case 2: {
    uint8_t pat[64];
    size_t period = 1 + (size_t)rng_below(&r, sizeof pat);
    for (size_t j = 0; j < period; j++)
      pat[j] = (uint8_t)rng_next(&r);
    for (size_t i = 0; i < n; i++)
      b[i] = pat[i % period];
    break;
  }
  default: {
    static const uint8_t sym[4] = {0x00, 0x01, 0x7f, 0xfe};
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
      if (i % 32 == 0) x = rng_next(&r);
      b[i] = sym[x & 3];
      x >>= 2;
    }
  }
  }
}

static void make_plan(uint64_t seed, uint64_t k, plan *p) {
  uint64_t r = seed ^ (k * 0xA24BAED4963EE407ull);
  p->file = (int)rng_below(&r, NFILES);
  p->n = 1 + (int)rng_below(&r, MAX_EDITS);
  for (int i = 0; i < p->n; i++) {
    edit *e = &p->e[i];
    int last = i == p->n - 1;
    e->trunc = !last && rng_below(&r, 5) == 0;
    if (e->trunc) {
      e->off = rng_below(&r, MAX_LEN + 1);
      e->len = e->fill = 0;
      continue;
    }
    uint64_t size = rng_below(&r, 20);
    e->len = 1 + rng_below(&r, size < 14 ? 8192 : size < 19 ? 65536 : 262144);
    e->fill = rng_next(&r);
    /* The last edit writes at least 64 random bytes, so that every commit
     * changes the file and makes a revision. */
    if (last) {
      e->len += 64;
      e->fill &= ~(uint64_t)3;
    }
    e->off = rng_below(&r, MAX_LEN - e->len + 1);
  }
}

static state *state_new(void) {
  state *st = calloc(1, sizeof *st);
  REQUIRE(st);
  for (int f = 0; f < NFILES; f++)
    REQUIRE((st->buf[f] = calloc(1, MAX_LEN)) != NULL);
  return st;
}

static void state_copy(state *dst, const state *src) {
  for (int f = 0; f < NFILES; f++) {
    dst->len[f] = src->len[f];
    memcpy(dst->buf[f], src->buf[f], MAX_LEN);
  }
}

static void state_free(state *st) {
  if (!st) return;
  for (int f = 0; f < NFILES; f++)
    free(st->buf[f]);
  free(st);
}

/* Apply commit k to the model. */
static void state_apply(state *st, uint64_t seed, uint64_t k) {
  plan p;
  make_plan(seed, k, &p);
  uint8_t *b = st->buf[p.file];
  uint64_t *len = &st->len[p.file];
  for (int i = 0; i < p.n; i++) {
    const edit *e = &p.e[i];
    if (e->trunc) {
      if (e->off < *len) memset(b + e->off, 0, *len - e->off);
      *len = e->off;
    } else {
      fill(b + e->off, e->len, e->fill);
      if (e->off + e->len > *len) *len = e->off + e->len;
    }
  }
}

/* ---- the child: commit forever, reporting on `fd` ---------------------- */

static void report(int fd, const char *fmt, unsigned long long a, unsigned long long b) {
  char line[96];
  int n = snprintf(line, sizeof line, fmt, a, b);
  /* One write per line, shorter than PIPE_BUF: never torn. */
  if (write(fd, line, (size_t)n) != n) _exit(3);
}

static void child_run(const char *path, uint64_t seed, uint64_t k, int sync, size_t dirty_limit,
                      int fd) {
  alarm(120); /* watchdog: a hung child dies, and the parent sees SIGALRM */
  h5tx_error e = {0};
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.durability = sync ? H5TX_SYNC : H5TX_NOSYNC;
  o.dirty_limit = dirty_limit;
  h5tx_store *s = NULL;
  OK(h5tx_store_open(path, &o, &s, &e));
  /* The previous child died holding both leases: they are taken over. */
  h5tx_writer *w[NFILES];
  for (int f = 0; f < NFILES; f++)
    OK(h5tx_writer_open(s, names[f], NULL, &w[f], &e));
  uint8_t *data = malloc(MAX_LEN);
  REQUIRE(data);
  for (;; k++) {
    plan p;
    make_plan(seed, k, &p);
    h5tx_writer *wr = w[p.file];
    for (int i = 0; i < p.n; i++) {
      const edit *ed = &p.e[i];
      if (ed->trunc) {
        OK(h5tx_writer_truncate(wr, ed->off, &e));
      } else {
        fill(data, ed->len, ed->fill);
        OK(h5tx_writer_write(wr, ed->off, data, ed->len, &e));
      }
    }
    char msg[48];
    snprintf(msg, sizeof msg, "commit %llu", (unsigned long long)k);
    report(fd, "about %llu\n", k, 0);
    h5tx_rev rev = 0;
    OK(h5tx_writer_commit(wr, msg, &rev, &e));
    report(fd, "committed %llu %llu\n", k, rev);
  }
}

/* ---- the parent: what it knows of the history ------------------------- */

typedef struct history {
  uint64_t seed;
  h5tx_rev *rev; /* rev[k]: the revision commit k made; rev[0]: after setup */
  size_t rev_cap;
  state **ckpt; /* ckpt[i]: the state after commit i * CKPT */
  size_t nckpt;
  uint64_t done; /* commits verified so far */
  state *cur;    /* the state after commit `done` */
} history;

static void set_rev(history *h, uint64_t k, h5tx_rev rev) {
  if (k >= h->rev_cap) {
    size_t cap = h->rev_cap ? h->rev_cap * 2 : 256;
    while (cap <= k)
      cap *= 2;
    REQUIRE((h->rev = realloc(h->rev, cap * sizeof *h->rev)) != NULL);
    h->rev_cap = cap;
  }
  h->rev[k] = rev;
}

/* The state after commit k <= done, from the nearest checkpoint. */
static void state_at(const history *h, uint64_t k, state *out) {
  uint64_t c = k / CKPT;
  REQUIRE(c < h->nckpt);
  state_copy(out, h->ckpt[c]);
  for (uint64_t j = c * CKPT + 1; j <= k; j++)
    state_apply(out, h->seed, j);
}

/* Advance `cur` by one commit and keep a checkpoint when due. */
static void advance(history *h) {
  h->done++;
  state_apply(h->cur, h->seed, h->done);
  if (h->done % CKPT == 0) {
    REQUIRE(h->nckpt == h->done / CKPT);
    REQUIRE((h->ckpt = realloc(h->ckpt, (h->nckpt + 1) * sizeof *h->ckpt)) != NULL);
    h->ckpt[h->nckpt] = state_new();
    state_copy(h->ckpt[h->nckpt++], h->cur);
  }
}

static int head_message(void *arg, const h5tx_commit *c) {
  snprintf(arg, 64, "%s", c->message);
  return 1; /* head only */
}

/* Check that `snap` holds `st`, the state after commit k, in both files:
 * length, every byte, and zeros past the end. */
static void check_snap(h5tx_snap *snap, const state *st, uint64_t k) {
  static uint8_t rbuf[MAX_LEN + PAGE];
  h5tx_error e = {0};
  for (int f = 0; f < NFILES; f++) {
    h5tx_stat hs;
    OK(h5tx_snap_stat(snap, names[f], &hs, &e));
    OK(h5tx_snap_read(snap, names[f], 0, rbuf, sizeof rbuf, &e));
    size_t diff = 0;
    while (diff < sizeof rbuf && rbuf[diff] == (diff < MAX_LEN ? st->buf[f][diff] : 0))
      diff++;
    if (hs.length != st->len[f] || diff != sizeof rbuf)
      fprintf(stderr,
              "revision %llu (after commit %llu), file %s: length %llu, expected %llu; first "
              "differing byte at %zu\n",
              (unsigned long long)h5tx_snap_rev(snap), (unsigned long long)k, names[f],
              (unsigned long long)hs.length, (unsigned long long)st->len[f], diff);
    CHECK(hs.length == st->len[f]);
    CHECK(diff == sizeof rbuf);
  }
}

/* The same for revision `rev` (or H5TX_HEAD). */
static void check_rev(h5tx_store *s, h5tx_rev rev, const state *st, uint64_t k) {
  h5tx_error e = {0};
  h5tx_snap *snap = NULL;
  OK(h5tx_snap_open(s, rev, &snap, &e));
  if (rev != H5TX_HEAD) CHECK(h5tx_snap_rev(snap) == rev);
  check_snap(snap, st, k);
  h5tx_snap_close(snap);
}

/* What the child reported in one round. */
typedef struct round_log {
  uint64_t about;     /* the last k announced */
  uint64_t committed; /* the last k reported committed */
  int bad;
} round_log;

static void parse_line(history *h, round_log *rl, const char *line) {
  unsigned long long k, rev;
  if (sscanf(line, "about %llu", &k) == 1) {
    CHECK(k == rl->committed + 1 && rl->about == rl->committed);
    rl->about = k;
  } else if (sscanf(line, "committed %llu %llu", &k, &rev) == 2) {
    CHECK(k == rl->about && k == rl->committed + 1);
    /* One committer, and every commit changes something: consecutive. */
    CHECK(rev == h->rev[k - 1] + 1);
    set_rev(h, k, rev);
    rl->committed = k;
  } else {
    fprintf(stderr, "child said: %s", line);
    rl->bad = 1;
  }
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Choose a kill time: at once, after a yield, or after spinning for a time
 * spread log-uniformly over 1 us .. 4 ms, which covers the length of a
 * commit with either durability. (This only picks a moment; it waits for
 * nothing.) */
static void random_delay(uint64_t *kr) {
  uint64_t kind = rng_below(kr, 4);
  if (kind == 0) return;
  if (kind == 1) {
    sched_yield();
    return;
  }
  uint64_t ns = ((uint64_t)1000 << rng_below(kr, 13)) + rng_below(kr, 1000);
  uint64_t t0 = now_ns();
  while (now_ns() - t0 < ns) {
  }
}

typedef struct stats {
  uint64_t mid_commit;  /* kills between "about" and "committed" */
  uint64_t unreported;  /* ... whose commit had landed */
  uint64_t sync_rounds; /* rounds committing with H5TX_SYNC */
} stats;

static void run_round(history *h, const char *path, int round, uint64_t *kr, stats *sx) {
  int sync = round % 3 == 2;
  size_t dirty_limit = round % 4 == 1 ? 3 * PAGE : 0;
  sx->sync_rounds += sync;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child_run(path, h->seed, h->done + 1, sync, dirty_limit, fds[1]);
    _exit(1);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  REQUIRE(in);
  round_log rl = {h->done, h->done, 0};
  /* Kill after a random number of report lines (none in some rounds: then
   * the child dies opening the store or taking the leases over). */
  uint64_t lines = rng_below(kr, 8) == 0 ? 0 : rng_below(kr, 60);
  char line[128];
  for (uint64_t i = 0; i < lines && fgets(line, sizeof line, in); i++)
    parse_line(h, &rl, line);
  random_delay(kr);
  REQUIRE(kill(pid, SIGKILL) == 0);
  while (fgets(line, sizeof line, in)) /* what it said before it died */
    parse_line(h, &rl, line);
  fclose(in);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
    fprintf(stderr, "round %d: child ended with status 0x%x, not by our SIGKILL\n", round, status);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  CHECK(!rl.bad);

  h5tx_error e = {0};
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_rev head = 0;
  OK(h5tx_store_head(s, &head, &e));
  /* Every commit reported in this round reads its state. */
  while (h->done < rl.committed) {
    advance(h);
    check_rev(s, h->rev[h->done], h->cur, h->done);
  }
  if (rl.about > rl.committed) sx->mid_commit++;
  if (head == h->rev[h->done] + 1) {
    /* The announced commit landed before the child could report it. */
    CHECK(rl.about == rl.committed + 1);
    sx->unreported++;
    set_rev(h, h->done + 1, head);
    advance(h);
  } else {
    if (head != h->rev[h->done])
      fprintf(stderr, "round %d: head is %llu, last reported commit %llu made %llu\n", round,
              (unsigned long long)head, (unsigned long long)h->done,
              (unsigned long long)h->rev[h->done]);
    CHECK(head == h->rev[h->done]);
  }
  check_rev(s, H5TX_HEAD, h->cur, h->done);
  if (h->done > 0) {
    char msg[64] = "", want[64];
    CHECK(h5tx_log(s, H5TX_HEAD, head_message, msg, &e) == 1);
    snprintf(want, sizeof want, "commit %llu", (unsigned long long)h->done);
    CHECK(strcmp(msg, want) == 0);
  }
  /* Older revisions are intact. */
  state *old = state_new();
  for (int i = 0; i < 3 && h->done > 0; i++) {
    uint64_t k = 1 + rng_below(kr, h->done);
    state_at(h, k, old);
    check_rev(s, h->rev[k], old, k);
  }
  state_free(old);
  h5tx_store_close(s); /* closed before the next fork */
}

/* ---- the observer: has the store open through every crash -------------- */

/* A process that holds the store open, with a snapshot of the empty files,
 * from before the first round to after the last: so LMDB's lock file is
 * never started afresh, and a writer killed holding LMDB's write lock leaves
 * it to the next writer to recover. Told the number of the last commit, it
 * checks head against its own replay, and its old snapshot. */
static int observer_main(const char *path, uint64_t seed, int in, int out) {
  check_failures = 0;
  alarm(300); /* watchdog */
  h5tx_error e = {0};
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_snap *first = NULL;
  OK(h5tx_snap_open(s, H5TX_HEAD, &first, &e));
  REQUIRE(write(out, "ready\n", 6) == 6);
  FILE *f = fdopen(in, "r");
  unsigned long long final = 0;
  REQUIRE(f && fscanf(f, "final %llu", &final) == 1);
  fclose(f);
  state *st = state_new();
  check_snap(first, st, 0);
  for (uint64_t k = 1; k <= final; k++)
    state_apply(st, seed, k);
  check_rev(s, H5TX_HEAD, st, final);
  state_free(st);
  h5tx_snap_close(first);
  h5tx_store_close(s);
  return check_failures ? 1 : 0;
}

int main(void) {
  uint64_t seed = test_seed("core_crash");
  signal(SIGPIPE, SIG_IGN); /* a dead peer is reported, not fatal */
  char path[600];
  temp_store(path, sizeof path);
  h5tx_error e = {0};

  /* Rounds continue from revision rev[0]: both files created, empty. */
  h5tx_store *s = open_store(path, PAGE, 0);
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  for (int f = 0; f < NFILES; f++) {
    h5tx_writer *w = NULL;
    OK(h5tx_writer_open(s, names[f], &wo, &w, &e));
    OK(h5tx_writer_commit(w, "create", NULL, &e));
    h5tx_writer_close(w);
  }
  history h = {.seed = seed};
  h5tx_rev head = 0;
  OK(h5tx_store_head(s, &head, &e));
  CHECK(head == NFILES);
  h5tx_store_close(s);
  set_rev(&h, 0, head);
  h.cur = state_new();
  REQUIRE((h.ckpt = malloc(sizeof *h.ckpt)) != NULL);
  h.ckpt[0] = state_new();
  h.nckpt = 1;

  int to_obs[2], from_obs[2];
  REQUIRE(pipe(to_obs) == 0 && pipe(from_obs) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t observer = fork();
  REQUIRE(observer >= 0);
  if (observer == 0) {
    close(to_obs[1]);
    close(from_obs[0]);
    exit(observer_main(path, seed, to_obs[0], from_obs[1]));
  }
  close(to_obs[0]);
  close(from_obs[1]);
  char ready[8] = "";
  REQUIRE(read(from_obs[0], ready, 6) == 6 && memcmp(ready, "ready\n", 6) == 0);
  close(from_obs[0]);

  uint64_t kr = seed ^ 0x5DEECE66Dull; /* kill times */
  stats sx = {0, 0, 0};
  for (int round = 0; round < ROUNDS; round++)
    run_round(&h, path, round, &kr, &sx);

  char final[64];
  int n = snprintf(final, sizeof final, "final %llu\n", (unsigned long long)h.done);
  REQUIRE(write(to_obs[1], final, (size_t)n) == n);
  close(to_obs[1]);
  int status = 0;
  REQUIRE(waitpid(observer, &status, 0) == observer);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "observer ended with status 0x%x\n", status);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("core_crash: %d rounds, %llu commits, %llu kills mid-commit, %llu of them after the "
         "commit landed, %llu rounds with H5TX_SYNC\n",
         ROUNDS, (unsigned long long)h.done, (unsigned long long)sx.mid_commit,
         (unsigned long long)sx.unreported, (unsigned long long)sx.sync_rounds);
  CHECK(h.done > 0);

  for (size_t i = 0; i < h.nckpt; i++)
    state_free(h.ckpt[i]);
  free(h.ckpt);
  state_free(h.cur);
  free(h.rev);
  char dir[600];
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = 0;
  remove_tree(dir);
  return check_done("core_crash");
}
