/* test_powerloss.c - power loss under the store's real writer: libh5tx and
 * LMDB run unchanged in a child process, every write they did not flush is
 * dropped at a random point, and the store is reopened.
 *
 * How the layer works (power_shim.c, power_image.h):
 *  - The writer is a child process (this program re-executed with
 *    "writer") with power_shim.c in LD_PRELOAD. The shim watches the
 *    calls that write or flush a file under the store directory: write,
 *    pwrite, pwritev, writev (LMDB writes its data file with pwrite and
 *    writev; it runs with MDB_NOMETASYNC and without MDB_WRITEMAP, so a
 *    commit flushes its data pages with fdatasync and writes its meta page
 *    with a pwrite flushed by the next commit), fsync and fdatasync.
 *  - The durable image: when an fsync/fdatasync of a file succeeds, the
 *    shim copies the file's bytes into an image directory (keyed by name
 *    and inode); when one of a directory succeeds, it records the
 *    directory's entries (name, inode). A write through an O_SYNC/O_DSYNC
 *    descriptor counts as flushed too. Nothing else is durable: a file is
 *    in the image as of its last flush, a directory entry only once its
 *    directory was flushed after it was made (a segment the page log
 *    linked in but whose directory was not yet synced is absent after the
 *    cut; a file whose entry is durable but whose bytes were never flushed
 *    comes back empty). When an epoch starts, the whole store as the
 *    parent left it (closed, after its recovery synced everything) is the
 *    image.
 *  - The cut: the shim counts those calls and kills its own process
 *    (SIGKILL) right before or right after call number N, N seeded; a
 *    writer that ends its steps first kills itself with the store open.
 *    The test then moves the killed store aside and builds the store again
 *    from the image. In "drop" mode that is all: every unflushed write is
 *    gone. In "mixed" mode, as a disk's cache might have written back part
 *    of what was in flight, each 4 KiB block the dead process left
 *    different from the image comes from the image or from what it wrote
 *    (past the flushed length: its bytes, zeros or garbage), the length is
 *    the flushed one or the written one, and a directory change not yet
 *    flushed (a new name, a deletion) is kept or not, each at random.
 *    Then H5TX_TEST_BOOT changes (a reboot: core/src/apply2.c
 *    h5tx__boot_id) and the store is opened.
 *  - The writer makes steps from a seed: writes and truncates committed
 *    by a writer with `sync` or `nosync` at random, renames and removes
 *    (the store's default durability, random per round), tags set to head
 *    or deleted, gc now and then (keep_last 1-4), 4 KiB pages, a 64 KiB
 *    writer cache (pages stream into the log before the commit), writes
 *    up to 48 pages (direct writes). Before each step that makes a
 *    revision it reports "B rev" through a pipe, after its commit
 *    "C rev sync"; before a tag "T n rev", before a gc "G head". The
 *    parent runs the same steps on an in-memory model (file contents come
 *    from the seed), one copy per revision.
 * After each cut: the store opens without repair; head is at least the
 * last revision a `sync` commit reported (and the head the epoch started
 * from) and at most the last one started; every revision up to head reads
 * back byte for byte as the model has it (the same names, the same bytes;
 * only revisions below a gc's head may be gone, H5TX_EGONE); tags name
 * revisions at or below head that were given them; h5tx_verify finds no
 * damage. Up to 3 epochs (write, cut, reopen) per round on one store.
 * Seeded (H5TX_SEED replays); 40 rounds, H5TX_POWERLOSS_ROUNDS for a soak.
 * It found two bugs, both fixed (docs/DECISIONS.md, "Power loss under the
 * real writer"): a segment linked in before its header was flushed
 * (H5TX_SEED=1019), and an index whose newest meta page counts free pages
 * past the end of its file, refused as truncated (H5TX_SEED=175073255). */
#include "check_fault.h"
#include "pipes.h"
#include "power_image.h"

#include <signal.h>
#include <sys/wait.h>

static h5tx_error e;

#define NNAMES 3
#define NTAGS 3
#define PS 4096
#define MAX_STEPS 30
#define MAX_EPOCHS 3
#define MAX_REV (MAX_EPOCHS * MAX_STEPS + 1)
#define MAX_ENTRIES 64

static const char *const names[NNAMES] = {"a.h5", "b.h5", "d/c.h5"};

/* ---- the steps and the model ------------------------------------------- */

typedef struct model {
  uint8_t *data[NNAMES];
  uint64_t len[NNAMES];
  int exists[NNAMES];
} model;

enum { OP_WRITE, OP_RENAME, OP_REMOVE, OP_TAG, OP_UNTAG, OP_GC };

typedef struct wr {
  uint64_t off, len, seed; /* len 0: truncate to off */
} wr;

typedef struct step {
  int op, f, to, sync, nw;
  wr w[4];
  uint64_t keep;
} step;

static void fill(uint8_t *p, uint64_t n, uint64_t seed) {
  for (uint64_t i = 0; i < n; i += 8) {
    uint64_t v = rng_next(&seed);
    memcpy(p + i, &v, n - i < 8 ? n - i : 8);
  }
}

/* The next step on model `m` at revision `rev`. */
static void gen(uint64_t *rng, const model *m, h5tx_rev rev, step *st) {
  memset(st, 0, sizeof *st);
  unsigned p = (unsigned)rng_below(rng, 100);
  int some = -1;
  for (int i = 0; i < NNAMES; i++)
    if (m->exists[i] && (some < 0 || rng_below(rng, 2))) some = i;
  if (p >= 70 && p < 80 && some >= 0) {
    st->op = OP_RENAME;
    st->f = some;
    st->to = (some + 1 + (int)rng_below(rng, NNAMES - 1)) % NNAMES;
  } else if (p >= 80 && p < 86 && some >= 0) {
    st->op = OP_REMOVE;
    st->f = some;
  } else if (p >= 86 && p < 93 && rev > 0) {
    st->op = OP_TAG;
    st->f = (int)rng_below(rng, NTAGS);
  } else if (p >= 93 && p < 96) {
    st->op = OP_UNTAG;
    st->f = (int)rng_below(rng, NTAGS);
  } else if (p >= 96) {
    st->op = OP_GC;
    st->keep = 1 + rng_below(rng, 4);
  } else {
    st->op = OP_WRITE;
    st->f = (int)rng_below(rng, NNAMES);
    st->sync = (int)rng_below(rng, 2);
    st->nw = 1 + (int)rng_below(rng, 4);
    uint64_t len = m->exists[st->f] ? m->len[st->f] : 0;
    for (int i = 0; i < st->nw; i++) {
      wr *w = &st->w[i];
      if (i < st->nw - 1 && rng_below(rng, 5) == 0) { /* a truncate; the last one writes */
        w->off = rng_below(rng, len + 4 * PS + 1);
        len = w->off;
        continue;
      }
      w->off = rng_below(rng, len + 16 * PS);
      w->len = 1 + rng_below(rng, rng_below(rng, 4) == 0 ? 48 * PS : 3 * PS);
      w->seed = rng_next(rng);
      if (w->off + w->len > len) len = w->off + w->len;
    }
  }
}

static void set_len(model *m, int f, uint64_t len) {
  if (len > m->len[f]) {
    REQUIRE((m->data[f] = realloc(m->data[f], len)) != NULL);
    memset(m->data[f] + m->len[f], 0, len - m->len[f]);
  }
  m->len[f] = len;
}

static void drop(model *m, int f) {
  free(m->data[f]);
  m->data[f] = NULL;
  m->len[f] = 0;
  m->exists[f] = 0;
}

/* Step `st` on the model; *rev grows by one when it makes a revision. */
static void apply_model(model *m, const step *st, h5tx_rev *rev) {
  switch (st->op) {
  case OP_WRITE:
    m->exists[st->f] = 1;
    for (int i = 0; i < st->nw; i++) {
      const wr *w = &st->w[i];
      if (!w->len) {
        set_len(m, st->f, w->off);
        continue;
      }
      if (w->off + w->len > m->len[st->f]) set_len(m, st->f, w->off + w->len);
      fill(m->data[st->f] + w->off, w->len, w->seed);
    }
    ++*rev;
    break;
  case OP_RENAME:
    drop(m, st->to);
    m->data[st->to] = m->data[st->f];
    m->len[st->to] = m->len[st->f];
    m->exists[st->to] = 1;
    m->data[st->f] = NULL;
    drop(m, st->f);
    ++*rev;
    break;
  case OP_REMOVE:
    drop(m, st->f);
    ++*rev;
    break;
  default: break;
  }
}

static void model_copy(model *to, const model *from) {
  for (int i = 0; i < NNAMES; i++) {
    drop(to, i);
    to->exists[i] = from->exists[i];
    to->len[i] = from->len[i];
    if (from->len[i]) {
      REQUIRE((to->data[i] = malloc(from->len[i])) != NULL);
      memcpy(to->data[i], from->data[i], from->len[i]);
    }
  }
}

static void model_free(model *m) {
  for (int i = 0; i < NNAMES; i++)
    drop(m, i);
}

/* The model at revision `head` after the steps of `seed` from `m` at
 * *rev (both updated). */
static void run_until(model *m, h5tx_rev *rev, uint64_t seed, h5tx_rev head) {
  for (int i = 0; i < MAX_STEPS && *rev < head; i++) {
    step st;
    gen(&seed, m, *rev, &st);
    apply_model(m, &st, rev);
  }
  REQUIRE(*rev == head);
}

/* ---- the writer (child, with the shim) ---------------------------------- */

static void writer_step(h5tx_store *s, const step *st, h5tx_rev *rev, int store_sync, int fd) {
  h5tx_rev r = 0;
  char tag[8];
  snprintf(tag, sizeof tag, "t%d", st->f);
  switch (st->op) {
  case OP_WRITE: {
    say(fd, "B %llu\n", (unsigned long long)*rev + 1);
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    wo.durability = st->sync ? H5TX_SYNC : H5TX_NOSYNC;
    h5tx_writer *w;
    OK(h5tx_writer_open(s, names[st->f], &wo, &w, &e));
    uint8_t *buf = malloc(48 * PS);
    REQUIRE(buf != NULL);
    for (int i = 0; i < st->nw; i++) {
      const wr *x = &st->w[i];
      if (!x->len) {
        OK(h5tx_writer_truncate(w, x->off, &e));
        continue;
      }
      fill(buf, x->len, x->seed);
      OK(h5tx_writer_write(w, x->off, buf, x->len, &e));
    }
    free(buf);
    OK(h5tx_writer_commit(w, "write", &r, &e));
    h5tx_writer_close(w);
    REQUIRE(r == *rev + 1);
    say(fd, "C %llu %d\n", (unsigned long long)r, st->sync);
    break;
  }
  case OP_RENAME:
  case OP_REMOVE:
    say(fd, "B %llu\n", (unsigned long long)*rev + 1);
    if (st->op == OP_RENAME)
      OK(h5tx_rename(s, names[st->f], names[st->to], "rename", &r, &e));
    else
      OK(h5tx_remove(s, names[st->f], "remove", &r, &e));
    REQUIRE(r == *rev + 1);
    say(fd, "C %llu %d\n", (unsigned long long)r, store_sync);
    break;
  case OP_TAG:
    say(fd, "T %d %llu\n", st->f, (unsigned long long)*rev);
    OK(h5tx_tag_set(s, tag, *rev, &e));
    break;
  case OP_UNTAG: {
    int rc = h5tx_tag_delete(s, tag, &e);
    REQUIRE(rc == 0 || rc == H5TX_ENOENT);
    break;
  }
  case OP_GC: {
    say(fd, "G %llu\n", (unsigned long long)*rev);
    h5tx_gc_opts go = {.keep_last = st->keep};
    h5tx_gc_result gr;
    OK(h5tx_gc(s, &go, &gr, &e));
    break;
  }
  }
}

/* argv: writer STORE FD SYNC CHAIN, CHAIN "seed:head,...,seed": the seeds
 * of the epochs before this one with the heads they were cut at, then this
 * epoch's seed. */
static int writer_main(char **argv) {
  const char *store = argv[2];
  int fd = atoi(argv[3]), store_sync = atoi(argv[4]);
  model m = {0};
  h5tx_rev rev = 0;
  uint64_t seed = 0;
  for (const char *p = argv[5];;) {
    char *end;
    seed = strtoull(p, &end, 10);
    if (*end != ':') break;
    run_until(&m, &rev, seed, strtoull(end + 1, &end, 10));
    REQUIRE(*end == ',');
    p = end + 1;
  }
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.durability = store_sync ? H5TX_SYNC : H5TX_NOSYNC;
  o.dirty_limit = 16 * PS;
  h5tx_store *s;
  OK(h5tx_store_open(store, &o, &s, &e));
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  REQUIRE(head == rev);
  for (int i = 0; i < MAX_STEPS; i++) {
    step st;
    gen(&seed, &m, rev, &st);
    writer_step(s, &st, &rev, store_sync, fd);
    apply_model(&m, &st, &rev);
  }
  say(fd, "E\n");
  raise(SIGKILL); /* the power goes with the store open */
  return 1;
}

/* ---- the cut ------------------------------------------------------------ */

static uint8_t *slurp(const char *path, uint64_t *len) {
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  REQUIRE(fstat(fd, &st) == 0);
  uint8_t *b = malloc((size_t)st.st_size + 1);
  REQUIRE(b != NULL);
  REQUIRE(pread(fd, b, (size_t)st.st_size, 0) == st.st_size);
  close(fd);
  *len = (uint64_t)st.st_size;
  return b;
}

/* Write file `dst` from the flushed bytes `img` (NULL: none) and, in mixed
 * mode, what the dead process left in `live` (NULL: nothing). */
static void put_file(const char *img, const char *live, const char *dst, uint64_t *rng, int mixed) {
  uint64_t dl, ll = 0;
  uint8_t *d = img ? slurp(img, &dl) : NULL;
  if (!d) dl = 0;
  uint8_t *l = mixed && live ? slurp(live, &ll) : NULL;
  uint64_t out_len = l && rng_below(rng, 2) ? ll : dl;
  uint64_t cap = out_len > dl ? out_len : dl;
  uint8_t *out = calloc(1, cap + 1);
  REQUIRE(out != NULL);
  if (dl) memcpy(out, d, dl);
  if (l)
    for (uint64_t o = 0; o < out_len; o += 4096) {
      uint64_t n = out_len - o < 4096 ? out_len - o : 4096;
      uint64_t in_l = o >= ll ? 0 : (ll - o < n ? ll - o : n);
      int same = o + n <= dl && in_l == n && memcmp(d + o, l + o, n) == 0;
      if (same) continue;
      unsigned c = (unsigned)rng_below(rng, 4);
      if (c == 0 && o + n <= dl) continue; /* the flushed bytes */
      if (c == 3 && o >= dl) {             /* never written back: zeros or garbage */
        if (rng_below(rng, 2)) fill(out + o, n, rng_next(rng));
        continue;
      }
      memset(out + o, 0, n);
      if (in_l) memcpy(out + o, l + o, in_l);
    }
  int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(out_len == 0 || write(fd, out, (size_t)out_len) == (ssize_t)out_len);
  close(fd);
  free(d);
  free(l);
  free(out);
}

typedef struct entry {
  char type;
  unsigned long long ino;
  char name[256];
} entry;

/* The entries of directory `rel` the image holds. */
static int read_list(const char *image, const char *rel, entry *es) {
  char key[PATH_MAX], path[PATH_MAX + 700];
  pi_key(rel, key, sizeof key);
  snprintf(path, sizeof path, "%s/%s.dir", image, key);
  FILE *f = fopen(path, "re");
  int n = 0;
  while (f && n < MAX_ENTRIES &&
         fscanf(f, " %c %llu %255s", &es[n].type, &es[n].ino, es[n].name) == 3)
    n++;
  if (f) fclose(f);
  return n;
}

/* Build directory `rel` of the store at `store` from the image, and in
 * mixed mode from what the dead process left at `dead`. */
static void build_dir(const char *image, const char *store, const char *dead, const char *rel,
                      uint64_t *rng, int mixed) {
  char dir[PATH_MAX], ddir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s%s", store, rel);
  snprintf(ddir, sizeof ddir, "%s%s", dead, rel);
  REQUIRE(mkdir(dir, 0755) == 0);
  entry es[MAX_ENTRIES];
  int n = read_list(image, rel, es);
  char key[PATH_MAX], img[PATH_MAX * 2], live[PATH_MAX * 2], dst[PATH_MAX * 2], sub[PATH_MAX];
  for (int i = 0; i < n; i++) {
    snprintf(sub, sizeof sub, "%s/%s", rel, es[i].name);
    snprintf(live, sizeof live, "%s/%s", ddir, es[i].name);
    snprintf(dst, sizeof dst, "%s/%s", dir, es[i].name);
    struct stat st;
    int same = lstat(live, &st) == 0 && st.st_ino == es[i].ino;
    if (mixed && lstat(live, &st) != 0 && rng_below(rng, 2)) continue; /* its deletion landed */
    if (es[i].type == 'd') {
      build_dir(image, store, dead, sub, rng, mixed);
      continue;
    }
    pi_key(sub, key, sizeof key);
    snprintf(img, sizeof img, "%s/%s@%llu", image, key, es[i].ino);
    put_file(img, same ? live : NULL, dst, rng, mixed);
  }
  if (!mixed) return;
  /* files made since the directory's last flush: some entries landed */
  DIR *d = opendir(ddir);
  REQUIRE(d != NULL);
  struct dirent *de;
  while ((de = readdir(d))) {
    int known = 0;
    for (int i = 0; i < n && !known; i++)
      known = strcmp(es[i].name, de->d_name) == 0;
    struct stat st;
    snprintf(live, sizeof live, "%s/%s", ddir, de->d_name);
    if (known || lstat(live, &st) != 0 || !S_ISREG(st.st_mode) || rng_below(rng, 2)) continue;
    snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name);
    snprintf(dst, sizeof dst, "%s/%s", dir, de->d_name);
    pi_key(sub, key, sizeof key);
    snprintf(img, sizeof img, "%s/%s@%llu", image, key, (unsigned long long)st.st_ino);
    put_file(img, live, dst, rng, mixed);
  }
  closedir(d);
}

/* ---- the checks after the cut ------------------------------------------- */

typedef struct reports {
  h5tx_rev started, synced, gc_head;
  int ended;
  uint64_t tagged[NTAGS][MAX_REV + 1]; /* revisions each tag was given */
  int ntagged[NTAGS];
} reports;

static void hear_all(int fd, reports *rp) {
  char line[256];
  while (hear(fd, line, sizeof line)) {
    unsigned long long a = 0;
    int b = 0;
    if (sscanf(line, "B %llu", &a) == 1) {
      rp->started = a;
    } else if (sscanf(line, "C %llu %d", &a, &b) == 2) {
      if (b && a > rp->synced) rp->synced = a;
    } else if (sscanf(line, "T %d %llu", &b, &a) == 2) {
      REQUIRE(b >= 0 && b < NTAGS && rp->ntagged[b] <= MAX_REV);
      rp->tagged[b][rp->ntagged[b]++] = a;
    } else if (sscanf(line, "G %llu", &a) == 1) {
      if (a > rp->gc_head) rp->gc_head = a;
    } else if (strcmp(line, "E") == 0) {
      rp->ended = 1;
    } else {
      fprintf(stderr, "writer said '%s'\n", line);
      CHECK(0);
    }
  }
}

typedef struct listed {
  const model *m;
  int seen[NNAMES], bad;
} listed;

static int on_file(void *arg, const char *name, const h5tx_stat *st) {
  listed *l = arg;
  for (int i = 0; i < NNAMES; i++)
    if (strcmp(name, names[i]) == 0) {
      l->seen[i] = 1;
      if (!l->m->exists[i] || st->length != l->m->len[i]) l->bad = 1;
      return 0;
    }
  l->bad = 1;
  return 0;
}

/* Revision `r` reads back as `m`: the same names, the same bytes. */
static void check_rev(h5tx_store *s, h5tx_rev r, const model *m, h5tx_rev gc_head, int *gone) {
  h5tx_snap *snap;
  int rc = h5tx_snap_open(s, r, &snap, &e);
  if (rc == H5TX_EGONE && r < gc_head) {
    ++*gone;
    return;
  }
  if (rc) {
    fprintf(stderr, "revision %llu: %s: %s\n", (unsigned long long)r, h5tx_strerror(rc), e.msg);
    CHECK(0);
    return;
  }
  listed l = {.m = m};
  OK(h5tx_snap_list(snap, NULL, on_file, &l, &e));
  for (int i = 0; i < NNAMES; i++)
    if (m->exists[i] != l.seen[i]) l.bad = 1;
  if (l.bad)
    fprintf(stderr, "revision %llu: its files differ from the model\n", (unsigned long long)r);
  CHECK(!l.bad);
  for (int i = 0; i < NNAMES && !l.bad; i++) {
    if (!m->exists[i]) continue;
    uint8_t *buf = malloc(m->len[i] + 1);
    REQUIRE(buf != NULL);
    rc = h5tx_snap_read(snap, names[i], 0, buf, m->len[i], &e);
    if (rc)
      fprintf(stderr, "revision %llu, %s: %s: %s\n", (unsigned long long)r, names[i],
              h5tx_strerror(rc), e.msg);
    CHECK(rc == 0);
    if (rc == 0 && memcmp(buf, m->data[i], m->len[i]) != 0) {
      fprintf(stderr, "revision %llu, %s: bytes differ from the model\n", (unsigned long long)r,
              names[i]);
      CHECK(0);
    }
    free(buf);
  }
  h5tx_snap_close(snap);
}

typedef struct tag_check {
  const reports *rp;
  h5tx_rev head;
} tag_check;

static int on_tag(void *arg, const char *name, h5tx_rev rev) {
  tag_check *t = arg;
  int n = -1, given = 0;
  if (sscanf(name, "t%d", &n) != 1 || n < 0 || n >= NTAGS) {
    fprintf(stderr, "tag '%s' was never set\n", name);
    CHECK(0);
    return 0;
  }
  for (int i = 0; i < t->rp->ntagged[n]; i++)
    given |= t->rp->tagged[n][i] == rev;
  if (!given || rev > t->head)
    fprintf(stderr, "tag %s names revision %llu (head %llu), not one it was given\n", name,
            (unsigned long long)rev, (unsigned long long)t->head);
  CHECK(given && rev <= t->head);
  return 0;
}

typedef struct verify_ctx {
  const char *image;
  int damage;
} verify_ctx;

static void on_problem(void *arg, int kind, const char *problem) {
  verify_ctx *v = arg;
  printf("  verify %s: %s\n", kind == H5TX_VERIFY_DAMAGE ? "DAMAGE" : "note", problem);
  if (kind != H5TX_VERIFY_DAMAGE) return;
  v->damage++;
}

/* Open the store after the cut and check it; returns its head. */
static h5tx_rev check_store(const char *path, const char *image, h5tx_rev lo, h5tx_rev hi,
                            model *const *snaps, const reports *rp) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  h5tx_store *s;
  int rc = h5tx_store_open(path, &o, &s, &e);
  OK(rc);
  for (const char *r = h5tx_store_recovered(s); r && *r;) {
    const char *nl = strchr(r, '\n');
    int n = nl ? (int)(nl - r) : (int)strlen(r);
    printf("  recovered: %.*s\n", n, r);
    r += n + (nl != NULL);
  }
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  printf("  head %llu (at least %llu, at most %llu)\n", (unsigned long long)head,
         (unsigned long long)lo, (unsigned long long)hi);
  CHECK(head >= lo && head <= hi);
  int gone = 0;
  for (h5tx_rev r = 1; r <= head && r <= hi; r++)
    check_rev(s, r, snaps[r], rp->gc_head, &gone);
  if (gone) printf("  %d revisions collected by gc\n", gone);
  tag_check tc = {rp, head};
  OK(h5tx_tags(s, on_tag, &tc, &e));
  h5tx_verify_result vr;
  verify_ctx vc = {image, 0};
  OK(h5tx_verify(s, on_problem, NULL, &vc, &vr, &e));
  CHECK(vc.damage == 0);
  h5tx_store_close(s);
  return head;
}

/* ---- rounds ------------------------------------------------------------- */

static char *self_path;

/* Run the writer of one epoch with the shim, cut at call `cut`; collect its
 * reports. */
static void run_writer(const char *store, const char *image, int store_sync, const char *chain,
                       long cut, int after, reports *rp) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = spawn();
  if (pid == 0) {
    close(p[0]);
    char fd[16], sync[4], cutv[32];
    snprintf(fd, sizeof fd, "%d", p[1]);
    snprintf(sync, sizeof sync, "%d", store_sync);
    snprintf(cutv, sizeof cutv, "%ld", cut);
    preload(H5TX_POWER_SHIM);
    setenv("H5TX_POWER_STORE", store, 1);
    setenv("H5TX_POWER_IMAGE", image, 1);
    setenv("H5TX_POWER_CUT", cutv, 1);
    setenv("H5TX_POWER_AFTER", after ? "1" : "0", 1);
    char *args[] = {self_path, "writer", (char *)store, fd, sync, (char *)chain, NULL};
    execv("/proc/self/exe", args);
    perror("execv");
    _exit(1);
  }
  close(p[1]);
  hear_all(p[0], rp);
  close(p[0]);
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    fprintf(stderr, "the writer did not die of the power cut (status %#x)\n", status);
    CHECK(0);
  }
}

static void round_run(const char *dir, int round, uint64_t rseed) {
  char store[700], image[700], dead[720], chain[MAX_EPOCHS * 48] = "";
  snprintf(store, sizeof store, "%s/r%d.h5tx", dir, round);
  snprintf(dead, sizeof dead, "%s/r%d.dead", dir, round);
  int store_sync = (int)rng_below(&rseed, 2), epochs = 1 + (int)rng_below(&rseed, MAX_EPOCHS);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.durability = store_sync ? H5TX_SYNC : H5TX_NOSYNC;
  h5tx_store *s;
  OK(h5tx_store_open(store, &o, &s, &e));
  h5tx_store_close(s);
  model *snaps[MAX_REV + 1] = {0};
  for (int i = 0; i <= MAX_REV; i++)
    REQUIRE((snaps[i] = calloc(1, sizeof(model))) != NULL);
  h5tx_rev head = 0;
  reports rp = {0};
  for (int ep = 0; ep < epochs; ep++) {
    snprintf(image, sizeof image, "%s/r%d.image%d", dir, round, ep);
    REQUIRE(mkdir(image, 0755) == 0);
    REQUIRE(pi_image_tree(image, "", store) == 0);
    uint64_t eseed = rng_next(&rseed);
    long cut = 1 + (long)rng_below(&rseed, 500);
    int after = (int)rng_below(&rseed, 2), mixed = (int)rng_below(&rseed, 2);
    size_t cl = strlen(chain);
    snprintf(chain + cl, sizeof chain - cl, "%llu", (unsigned long long)eseed);
    char boot[32];
    snprintf(boot, sizeof boot, "%d", 4 * (round * MAX_EPOCHS + ep));
    setenv("H5TX_TEST_BOOT", boot, 1);
    rp.started = rp.synced = head;
    rp.ended = 0;
    run_writer(store, image, store_sync, chain, cut, after, &rp);
    /* the model of every revision the writer may have made */
    model m = {0};
    model_copy(&m, snaps[head]);
    h5tx_rev rev = head;
    uint64_t gs = eseed;
    for (int i = 0; i < MAX_STEPS && rev < rp.started; i++) {
      step st;
      gen(&gs, &m, rev, &st);
      apply_model(&m, &st, &rev);
      if (rev > MAX_REV) break;
      if (st.op <= OP_REMOVE) model_copy(snaps[rev], &m);
    }
    model_free(&m);
    REQUIRE(rev == rp.started);
    printf("round %d epoch %d: %s, cut %s call %ld%s, %s; revisions %llu-%llu started, last sync "
           "%llu\n",
           round, ep, store_sync ? "sync store" : "nosync store", after ? "after" : "before", cut,
           rp.ended ? " (not reached: cut at the end)" : "", mixed ? "mixed" : "drop",
           (unsigned long long)head + 1, (unsigned long long)rp.started,
           (unsigned long long)rp.synced);
    REQUIRE(rename(store, dead) == 0);
    build_dir(image, store, dead, "", &rseed, mixed);
    remove_tree(dead);
    snprintf(boot, sizeof boot, "%d", 4 * (round * MAX_EPOCHS + ep + 1));
    setenv("H5TX_TEST_BOOT", boot, 1); /* the reboot */
    h5tx_rev lo = rp.synced > head ? rp.synced : head;
    head = check_store(store, image, lo, rp.started, snaps, &rp);
    if (check_failures) {
      printf("round %d failed: the cut store is kept at %s, its image at %s\n", round, store,
             image);
      break;
    }
    remove_tree(image);
    cl = strlen(chain);
    snprintf(chain + cl, sizeof chain - cl, ":%llu,", (unsigned long long)head);
  }
  for (int i = 0; i <= MAX_REV; i++) {
    model_free(snaps[i]);
    free(snaps[i]);
  }
}

int main(int argc, char **argv) {
  if (argc >= 6 && strcmp(argv[1], "writer") == 0) return writer_main(argv);
  self_path = argv[0];
  signal(SIGPIPE, SIG_IGN);
  uint64_t seed = test_seed("core_powerloss");
  const char *n = getenv("H5TX_POWERLOSS_ROUNDS");
  int rounds = n && *n ? atoi(n) : 40;
  test_paths tp = temp_paths();
  for (int round = 0; round < rounds && !check_failures; round++) {
    uint64_t rseed = rng_next(&seed);
    round_run(tp.dir, round, rseed);
  }
  if (!check_failures) remove_tree(tp.dir);
  return check_done("core_powerloss");
}
