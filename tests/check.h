/* check.h - the few macros and helpers h5tx's C tests share: checks that
 * print where and why they failed, temporary stores, a seeded PRNG. */
#ifndef H5TX_CHECK_H
#define H5TX_CHECK_H

#include "h5tx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int check_failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                     \
      check_failures++;                                                                            \
    }                                                                                              \
  } while (0)

/* Fatal: stop the test now. */
#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);                   \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* An h5tx call that must succeed; `e` is an h5tx_error in scope. */
#define OK(call)                                                                                   \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != 0) {                                                                                \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, h5tx_strerror(rc_),      \
              e.msg);                                                                              \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* An h5tx call that must fail with code `want` and a message containing `part`. */
#define FAILS(call, want, part)                                                                    \
  do {                                                                                             \
    memset(&e, 0, sizeof e);                                                                       \
    int rc_ = (call);                                                                              \
    if (rc_ != (want) || e.code != (want) || !strstr(e.msg, (part))) {                             \
      fprintf(stderr, "%s:%d: %s -> %s '%s', expected %s with '%s'\n", __FILE__, __LINE__, #call,  \
              h5tx_strerror(rc_), e.msg, h5tx_strerror(want), part);                               \
      check_failures++;                                                                            \
    }                                                                                              \
  } while (0)

static inline int check_done(const char *name) {
  if (check_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

/* A fresh directory under $TMPDIR (or /tmp); the store path inside is
 * written to `store` ("<dir>/t.h5tx"). */
static inline void temp_store(char *store, size_t cap) {
  const char *tmp = getenv("TMPDIR");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/h5tx-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  REQUIRE(mkdtemp(dir) != NULL);
  snprintf(store, cap, "%s/t.h5tx", dir);
}

/* A fresh temporary directory and a store path inside it. */
typedef struct test_paths {
  char store[600];
  char dir[600];
} test_paths;

static inline test_paths temp_paths(void) {
  test_paths t;
  temp_store(t.store, sizeof t.store);
  snprintf(t.dir, sizeof t.dir, "%s", t.store);
  *strrchr(t.dir, '/') = 0;
  return t;
}

/* Remove a test directory tree (the parent of a temp_store path). */
static inline void remove_tree(const char *path) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

/* 1 if all `n` bytes at `p` equal `v`. */
static inline int is_all(const void *p, size_t n, uint8_t v) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != v) return 0;
  return 1;
}

/* splitmix64: small, seedable, good enough for test data. */
static inline uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint64_t rng_below(uint64_t *s, uint64_t n) { return n ? rng_next(s) % n : 0; }

/* Seed from $H5TX_SEED or the clock; printed so a failure can be replayed. */
static inline uint64_t test_seed(const char *name) {
  const char *env = getenv("H5TX_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  printf("%s: seed %" PRIu64 " (replay with H5TX_SEED=%" PRIu64 ")\n", name, seed, seed);
  fflush(stdout);
  return seed;
}

/* Open (creating) a store with small pages for tests. */
static inline h5tx_store *open_store(const char *path, uint32_t page_size, size_t dirty_limit) {
  h5tx_error e = {0};
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = page_size;
  o.dirty_limit = dirty_limit;
  o.durability = H5TX_NOSYNC;
  h5tx_store *s = NULL;
  OK(h5tx_store_open(path, &o, &s, &e));
  return s;
}

/* Make file `name` hold exactly `text` in one commit on base `base`
 * (H5TX_HEAD for head); the commit message is the name. Returns the
 * revision. */
static inline h5tx_rev put_text(h5tx_store *s, const char *name, const char *text, h5tx_rev base) {
  h5tx_error e = {0};
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.truncate = 1;
  wo.base = base;
  OK(h5tx_writer_open(s, name, &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, text, strlen(text), &e));
  h5tx_rev r;
  OK(h5tx_writer_commit(w, name, &r, &e));
  h5tx_writer_close(w);
  return r;
}

#endif
