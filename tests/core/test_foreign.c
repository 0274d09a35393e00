/* test_foreign.c - h5tx_store_foreign(): the entries of a store's directory
 * that are not part of the store (plain files that a program wrote there,
 * directories, links), sorted, directories marked with '/'; none for a
 * fresh store, even after writers spilled and a reader pinned; the
 * callback's non-zero value stops the walk and is returned. */
#include "check.h"

#include <fcntl.h>

static h5tx_error e;

typedef struct seen {
  char names[8][64];
  int n, stop_at;
} seen;

static int collect(void *arg, const char *name) {
  seen *s = arg;
  if (s->n < 8) snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
  s->n++;
  return s->n == s->stop_at ? 42 : 0;
}

static void touch(const char *store, const char *name) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", store, name);
  int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  close(fd);
}

int main(void) {
  test_paths t = temp_paths();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.dirty_limit = 4096; /* the writer spills */
  h5tx_store *s;
  OK(h5tx_store_open(t.store, &o, &s, &e));
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "a.h5", &wo, &w, &e));
  static uint8_t buf[1 << 20];
  memset(buf, 7, sizeof buf);
  OK(h5tx_writer_write(w, 0, buf, sizeof buf, &e));
  h5tx_snap *snap;
  OK(h5tx_snap_open(s, H5TX_HEAD, &snap, &e));
  seen a = {.stop_at = -1};
  OK(h5tx_store_foreign(s, collect, &a, &e));
  CHECK(a.n == 0);
  OK(h5tx_writer_commit(w, "one", NULL, &e));
  h5tx_writer_close(w);
  h5tx_snap_close(snap);

  touch(t.store, "out.h5");
  touch(t.store, "Notes");
  char p[700];
  snprintf(p, sizeof p, "%s/runs", t.store);
  REQUIRE(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/dangling", t.store);
  REQUIRE(symlink("/nonexistent", p) == 0);
  seen b = {.stop_at = -1};
  OK(h5tx_store_foreign(s, collect, &b, &e));
  CHECK(b.n == 4);
  CHECK(strcmp(b.names[0], "Notes") == 0);
  CHECK(strcmp(b.names[1], "dangling") == 0);
  CHECK(strcmp(b.names[2], "out.h5") == 0);
  CHECK(strcmp(b.names[3], "runs/") == 0);
  seen c = {.stop_at = 2};
  CHECK(h5tx_store_foreign(s, collect, &c, &e) == 42);
  CHECK(c.n == 2);
  h5tx_store_close(s);
  remove_tree(t.dir);
  return check_done("core_foreign");
}
