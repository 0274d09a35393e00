/* test_kv.c - white-box test of the storage interface (kv.h) on LMDB: a
 * write that overflows the map is replayed whole in a grown map and
 * committed once; a map grown by another process is adopted; a failing
 * write function commits nothing; cursor deletes step the way gc.c needs;
 * a reader killed inside a read transaction does not stop page reuse in a
 * process that had the store open before it died. */
#include "check.h"
#include "internal.h"
#include "kv.h"

#include <signal.h>
#include <sys/wait.h>

static h5tx_error e;

typedef struct fill_arg {
  int calls;
  int n;       /* values to write */
  size_t size; /* bytes each */
  int fail_at; /* return an error after this many puts (-1: never) */
} fill_arg;

static int fill_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  fill_arg *a = arg;
  a->calls++;
  uint8_t *v = malloc(a->size);
  REQUIRE(v);
  int rc = 0;
  for (int i = 0; i < a->n && rc == 0; i++) {
    if (i == a->fail_at) {
      rc = h5tx__err(err, H5TX_EINVAL, "stop at %d", i);
      break;
    }
    memset(v, i & 0xff, a->size);
    uint8_t k[8];
    for (int j = 0; j < 8; j++)
      k[j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
    rc = h5tx__kv_put(t, KV_PAGES, k, 8, v, a->size, err);
  }
  free(v);
  return rc;
}

static int count(h5tx__kv *kv, int table) {
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  h5tx__cur *c;
  OK(h5tx__kv_cursor(t, table, &c, &e));
  h5tx__val k, v;
  int n = 0;
  for (int rc = h5tx__kv_seek(c, NULL, 0, &k, &v, &e); rc == 0; rc = h5tx__kv_next(c, &k, &v, &e))
    n++;
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
  return n;
}

/* Delete every even key with one cursor: each next after a delete must land
 * on the key right after the deleted one. */
static int del_even_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  int *seen = arg;
  *seen = 0;
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, KV_PAGES, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  int expect = 0;
  rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err);
  while (rc == 0) {
    int key = ((const uint8_t *)k.p)[7] | ((const uint8_t *)k.p)[6] << 8;
    if (key != expect) {
      fprintf(stderr, "cursor at key %d, expected %d\n", key, expect);
      CHECK(0);
    }
    (*seen)++;
    expect++;
    if (key % 2 == 0) {
      if ((rc = h5tx__kv_cursor_del(c, err))) break;
    }
    rc = h5tx__kv_next(c, &k, &v, err);
  }
  h5tx__kv_cursor_close(c);
  return rc == H5TX_ENOENT ? 0 : rc;
}

/* A process killed with a read transaction open keeps its LMDB reader
 * slot, and with it the oldest revision whose freed pages may be reused. */
static void test_killed_reader_reuse(void) {
  test_paths tp = temp_paths();
  REQUIRE(mkdir(tp.store, 0755) == 0);
  h5tx__kv *kv;
  OK(h5tx__kv_open(tp.store, 1, 0, 0, &kv, &e));
  fill_arg a = {0, 16, 64 * 1024, -1}; /* 1 MiB */
  OK(h5tx__kv_write(kv, fill_fn, &a, 0, &e));
  int p[2];
  REQUIRE(pipe(p) == 0);
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    h5tx__kv *ckv;
    h5tx__txn *t;
    h5tx_error ce = {0};
    if (h5tx__kv_open(tp.store, 0, 0, 0, &ckv, &ce) || h5tx__kv_read(ckv, &t, &ce)) _exit(1);
    if (write(p[1], "r", 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  close(p[1]);
  char c;
  REQUIRE(read(p[0], &c, 1) == 1);
  close(p[0]);
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, NULL, 0) == pid);
  /* Rewrite the same 1 MiB 40 times: with reuse the file stays small. */
  for (int i = 0; i < 40; i++) {
    fill_arg r = {0, 16, 64 * 1024, -1};
    OK(h5tx__kv_write(kv, fill_fn, &r, 0, &e));
  }
  uint64_t used, file;
  OK(h5tx__kv_space(kv, &used, &file, &e));
  printf("  after a killed reader and 40 MiB of rewrites: data.mdb %llu bytes\n",
         (unsigned long long)file);
  CHECK(file < (8u << 20));
  h5tx__kv_close(kv);
  remove_tree(tp.dir);
}

int main(void) {
  test_killed_reader_reuse();
  test_paths tp = temp_paths();
  REQUIRE(mkdir(tp.store, 0755) == 0);
  h5tx__kv *kv;
  OK(h5tx__kv_open(tp.store, 1, 0, 1u << 20, &kv, &e));
  uint64_t map0 = h5tx__kv_map_size(kv);

  /* 6 MiB into a 1 MiB map, no preparation: replayed in a grown map. */
  fill_arg a = {0, 96, 64 * 1024, -1};
  OK(h5tx__kv_write(kv, fill_fn, &a, 0, &e));
  CHECK(a.calls >= 2);
  CHECK(h5tx__kv_map_size(kv) > map0);
  CHECK(count(kv, KV_PAGES) == 96);

  /* A write function that fails commits nothing of what it put. */
  fill_arg f = {0, 200, 100, 150};
  int rc = h5tx__kv_write(kv, fill_fn, &f, 0, &e);
  CHECK(rc == H5TX_EINVAL && strstr(e.msg, "stop at 150"));
  CHECK(count(kv, KV_PAGES) == 96);

  /* Another process grows the map; this one adopts the new size. */
  h5tx__kv_close(kv);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    h5tx__kv *ckv;
    h5tx_error ce = {0};
    if (h5tx__kv_open(tp.store, 0, 0, 0, &ckv, &ce)) _exit(1);
    fill_arg big = {0, 400, 64 * 1024, -1};
    if (h5tx__kv_write(ckv, fill_fn, &big, 0, &ce)) _exit(2);
    h5tx__kv_close(ckv);
    _exit(0);
  }
  OK(h5tx__kv_open(tp.store, 0, 0, 1u << 20, &kv, &e));
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(count(kv, KV_PAGES) == 400);
  fill_arg small = {0, 1, 10, -1};
  OK(h5tx__kv_write(kv, fill_fn, &small, 0, &e)); /* a write after the resize */

  /* prepare() grows ahead: then the same kind of write runs once. */
  OK(h5tx__kv_prepare(kv, 64u << 20, &e));
  fill_arg once = {0, 800, 64 * 1024, -1};
  OK(h5tx__kv_write(kv, fill_fn, &once, 1, &e));
  CHECK(once.calls == 1);

  int seen = 0;
  OK(h5tx__kv_write(kv, del_even_fn, &seen, 0, &e));
  CHECK(seen == 800);
  CHECK(count(kv, KV_PAGES) == 400);
  h5tx__kv_close(kv);
  remove_tree(tp.dir);
  return check_done("core_kv");
}
