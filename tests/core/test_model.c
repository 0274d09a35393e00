/* test_model.c - randomized model test: random writes, truncates, removes,
 * aborts, commits, tags and garbage collections over several files, checked
 * after every commit against an in-memory model at every kept revision.
 * Runs twice: with dirty pages in memory, and with a tiny dirty bound so
 * that most of each transaction spills to the temporary file. */
#include "check.h"

#define NFILES 3
#define MAXLEN (24 * 1024)
#define COMMITS 90
#define PS 1024

static h5tx_error e;

typedef struct content {
  int exists;
  size_t len;
  uint8_t *bytes;
} content;

typedef struct revision {
  content f[NFILES];
  int kept; /* 0 once garbage-collected */
  int tagged;
} revision;

static const char *names[NFILES] = {"a.h5", "dir/b.h5", "dir/sub/c.bin"};
static revision revs[COMMITS * 2 + 2];
static h5tx_rev nrevs; /* revisions 0..nrevs-1 known */
static uint64_t rng;

static void content_copy(content *dst, const content *src) {
  dst->exists = src->exists;
  dst->len = src->len;
  dst->bytes = malloc(MAXLEN * 2);
  REQUIRE(dst->bytes);
  memcpy(dst->bytes, src->bytes, MAXLEN * 2);
}

static int content_equal(const content *a, const content *b) {
  return a->exists == b->exists &&
         (!a->exists || (a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0));
}

/* Fill `n` bytes with one of several patterns: random, zeros, runs. */
static void fill(uint8_t *p, size_t n) {
  switch (rng_below(&rng, 4)) {
  case 0: memset(p, 0, n); break;
  case 1: memset(p, (int)rng_below(&rng, 256), n); break;
  case 2:
    for (size_t i = 0; i < n; i++)
      p[i] = (uint8_t)(i / 7);
    break;
  default:
    for (size_t i = 0; i < n; i++)
      p[i] = (uint8_t)rng_next(&rng);
  }
}

/* Check file `i` of revision `r` through a snapshot. */
static void check_file(h5tx_snap *sn, h5tx_rev r, int i) {
  const content *c = &revs[r].f[i];
  h5tx_stat st;
  int rc = h5tx_snap_stat(sn, names[i], &st, &e);
  if (!c->exists) {
    if (rc != H5TX_ENOENT) {
      fprintf(stderr, "rev %llu: %s should not exist (rc %s)\n", (unsigned long long)r, names[i],
              h5tx_strerror(rc));
      CHECK(0);
    }
    return;
  }
  if (rc != 0) {
    fprintf(stderr, "rev %llu: %s: %s\n", (unsigned long long)r, names[i], e.msg);
    CHECK(0);
    return;
  }
  if (st.length != c->len) {
    fprintf(stderr, "rev %llu: %s length %llu, want %zu\n", (unsigned long long)r, names[i],
            (unsigned long long)st.length, c->len);
    CHECK(0);
    return;
  }
  static uint8_t buf[MAXLEN * 2 + PS];
  /* Read a little past the end: must be zeros. */
  memset(buf, 0xA5, sizeof buf);
  OK(h5tx_snap_read(sn, names[i], 0, buf, c->len + PS, &e));
  if (memcmp(buf, c->bytes, c->len) != 0 || !is_all(buf + c->len, PS, 0)) {
    size_t at = 0;
    while (at < c->len && buf[at] == c->bytes[at])
      at++;
    fprintf(stderr, "rev %llu: %s differs at byte %zu\n", (unsigned long long)r, names[i], at);
    CHECK(0);
  }
  /* An unaligned read in the middle. */
  if (c->len > 10) {
    size_t off = rng_below(&rng, c->len), n = rng_below(&rng, c->len - off) + 1;
    OK(h5tx_snap_read(sn, names[i], off, buf, n, &e));
    CHECK(memcmp(buf, c->bytes + off, n) == 0);
  }
}

static void check_all(h5tx_store *s) {
  h5tx_rev head;
  OK(h5tx_store_head(s, &head, &e));
  REQUIRE(head == nrevs - 1);
  for (h5tx_rev r = 1; r < nrevs; r++) {
    h5tx_snap *sn;
    int rc = h5tx_snap_open(s, r, &sn, &e);
    if (!revs[r].kept) {
      if (rc != H5TX_EGONE) {
        fprintf(stderr, "collected rev %llu opened with %s\n", (unsigned long long)r,
                h5tx_strerror(rc));
        CHECK(0);
      }
      if (rc == 0) h5tx_snap_close(sn);
      continue;
    }
    if (rc) {
      fprintf(stderr, "kept rev %llu: %s\n", (unsigned long long)r, e.msg);
      CHECK(0);
      continue;
    }
    for (int i = 0; i < NFILES; i++)
      check_file(sn, r, i);
    h5tx_snap_close(sn);
  }
}

/* One transaction on file `i`: returns 1 if it committed a new revision. */
static void transaction(h5tx_store *s, content *cur) {
  int i = (int)rng_below(&rng, NFILES);
  content *c = &cur[i];
  h5tx_rev head, r;
  OK(h5tx_store_head(s, &head, &e));
  int other = (int)rng_below(&rng, NFILES);
  if (c->exists && other != i && rng_below(&rng, 12) == 0) {
    /* Rename i over `other`: it takes i's content, i is gone. */
    OK(h5tx_rename(s, names[i], names[other], "rename", &r, &e));
    free(cur[other].bytes);
    content_copy(&cur[other], c);
    c->exists = 0;
    c->len = 0;
    memset(c->bytes, 0, MAXLEN * 2);
    goto committed;
  }
  if (c->exists && rng_below(&rng, 12) == 0) {
    OK(h5tx_remove(s, names[i], "remove", &r, &e));
    c->exists = 0;
    c->len = 0;
    memset(c->bytes, 0, MAXLEN * 2);
    goto committed;
  }
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.truncate = rng_below(&rng, 10) == 0;
  content next;
  content_copy(&next, c);
  int was = c->exists;
  OK(h5tx_writer_open(s, names[i], &wo, &w, &e));
  if (!next.exists) {
    next.exists = 1;
    next.len = 0;
    memset(next.bytes, 0, MAXLEN * 2);
  }
  if (wo.truncate) {
    memset(next.bytes, 0, MAXLEN * 2);
    next.len = 0;
  }
  int nops = 1 + (int)rng_below(&rng, 6);
  for (int k = 0; k < nops; k++) {
    if (rng_below(&rng, 4) == 0) {
      size_t len = rng_below(&rng, MAXLEN);
      OK(h5tx_writer_truncate(w, len, &e));
      if (len < next.len) memset(next.bytes + len, 0, MAXLEN * 2 - len);
      next.len = len;
    } else {
      size_t off = rng_below(&rng, MAXLEN), n = 1 + rng_below(&rng, MAXLEN / 3);
      if (rng_below(&rng, 3) == 0) { /* page-aligned, whole pages */
        off = off / PS * PS;
        n = (n / PS + 1) * PS;
      }
      uint8_t *data = malloc(n);
      fill(data, n);
      OK(h5tx_writer_write(w, off, data, n, &e));
      memcpy(next.bytes + off, data, n);
      if (off + n > next.len) next.len = off + n;
      free(data);
    }
    CHECK(h5tx_writer_length(w) == next.len);
  }
  /* The writer reads its own changes. */
  static uint8_t buf[MAXLEN * 2];
  OK(h5tx_writer_read(w, 0, buf, next.len, &e));
  CHECK(memcmp(buf, next.bytes, next.len) == 0);
  if (rng_below(&rng, 10) == 0) {
    h5tx_writer_abort(w);
    CHECK(h5tx_writer_length(w) == c->len);
    h5tx_writer_close(w);
    free(next.bytes);
    return;
  }
  OK(h5tx_writer_commit(w, "model", &r, &e));
  h5tx_writer_close(w);
  int changed = !was || !content_equal(&next, c);
  free(c->bytes);
  *c = next;
  if (!changed) {
    CHECK(r == head); /* nothing changed: no revision */
    return;
  }
committed:
  CHECK(r == head + 1);
  for (int j = 0; j < NFILES; j++)
    content_copy(&revs[r].f[j], &cur[j]);
  revs[r].kept = 1;
  nrevs = r + 1;
}

static void maybe_gc(h5tx_store *s) {
  if (rng_below(&rng, 8) != 0) return;
  if (rng_below(&rng, 3) == 0) {
    h5tx_rev t = 1 + rng_below(&rng, nrevs - 1);
    if (revs[t].kept) {
      char name[32];
      snprintf(name, sizeof name, "t%llu", (unsigned long long)t);
      OK(h5tx_tag_set(s, name, t, &e));
      revs[t].tagged = 1;
    }
  }
  h5tx_gc_opts g = {1 + rng_below(&rng, 6), 0, 0};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  uint64_t collected = 0;
  for (h5tx_rev r = 1; r < nrevs; r++) {
    if (!revs[r].kept || revs[r].tagged || r + g.keep_last >= nrevs) continue;
    revs[r].kept = 0;
    collected++;
  }
  CHECK(res.revisions_collected == collected);
}

static void run(const char *store, size_t dirty_limit) {
  h5tx_store *s = open_store(store, PS, dirty_limit);
  content cur[NFILES];
  memset(revs, 0, sizeof revs);
  for (int i = 0; i < NFILES; i++) {
    cur[i].exists = 0;
    cur[i].len = 0;
    cur[i].bytes = calloc(1, MAXLEN * 2);
    content_copy(&revs[0].f[i], &cur[i]);
  }
  revs[0].kept = 1;
  nrevs = 1;
  while (nrevs <= COMMITS) {
    transaction(s, cur);
    check_all(s);
    maybe_gc(s);
    check_all(s);
    if (check_failures) break;
  }
  for (h5tx_rev r = 0; r < nrevs; r++)
    for (int i = 0; i < NFILES; i++)
      free(revs[r].f[i].bytes);
  for (int i = 0; i < NFILES; i++)
    free(cur[i].bytes);
  h5tx_store_close(s);
}

int main(void) {
  rng = test_seed("core_model");
  test_paths tp = temp_paths();
  run(tp.store, 0);
  char store2[700];
  snprintf(store2, sizeof store2, "%s/spill.h5tx", tp.dir);
  run(store2, 3 * PS); /* three pages in memory, the rest spills */
  remove_tree(tp.dir);
  return check_done("core_model");
}
