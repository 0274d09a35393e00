/* test_handles.c - handles of one store in one process share its index,
 * page log and live table (store.c's core), found again by store id: many
 * opens see each other's commits at once; handles with other options
 * (read-only, durability) share them too; a store deleted and made again
 * at the same path while a handle of the old one is open is a new store
 * (its directory's inode may be the old one's); a copy of a store
 * directory (same id) opened beside the original stays a separate store. */
#include "check.h"

static h5tx_error e;

static void read_text(h5tx_store *s, const char *name, char *buf, size_t cap) {
  h5tx_snap *sn;
  h5tx_stat st;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  OK(h5tx_snap_stat(sn, name, &st, &e));
  REQUIRE(st.length < cap);
  OK(h5tx_snap_read(sn, name, 0, buf, st.length, &e));
  buf[st.length] = 0;
  h5tx_snap_close(sn);
}

int main(void) {
  test_paths tp = temp_paths();
  char buf[64], copy[1200], cmd[3000];
  h5tx_store *a = open_store(tp.store, 4096, 0);
  put_text(a, "f", "first", H5TX_HEAD);
  /* many handles, one store */
  h5tx_store *h[20];
  h5tx_store_opts ro;
  h5tx_store_opts_init(&ro);
  ro.read_only = 1;
  for (int i = 0; i < 20; i++)
    OK(h5tx_store_open(tp.store, i % 2 ? &ro : NULL, &h[i], &e));
  put_text(h[0], "f", "second", H5TX_HEAD);
  for (int i = 0; i < 20; i++) {
    read_text(h[i], "f", buf, sizeof buf);
    CHECK(strcmp(buf, "second") == 0);
  }
  /* read-only handles refuse writes though they share the index */
  h5tx_writer *w;
  FAILS(h5tx_writer_open(h[1], "g", NULL, &w, &e), H5TX_EROFS, "read-only");
  FAILS(h5tx_tag_set(h[1], "t", H5TX_HEAD, &e), H5TX_EROFS, "read-only");
  for (int i = 0; i < 20; i++)
    h5tx_store_close(h[i]);

  /* a copy of the directory (same store id) is another store */
  snprintf(copy, sizeof copy, "%s/copy.h5tx", tp.dir);
  snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", tp.store, copy);
  REQUIRE(system(cmd) == 0);
  h5tx_store *c;
  OK(h5tx_store_open(copy, NULL, &c, &e));
  put_text(c, "f", "in the copy", H5TX_HEAD);
  read_text(a, "f", buf, sizeof buf);
  CHECK(strcmp(buf, "second") == 0);
  read_text(c, "f", buf, sizeof buf);
  CHECK(strcmp(buf, "in the copy") == 0);
  h5tx_store_close(c);

  /* deleted and made again while `a` is open: the new store, not the old */
  remove_tree(tp.store);
  h5tx_store *b = open_store(tp.store, 4096, 0);
  h5tx_snap *sn;
  h5tx_stat st;
  OK(h5tx_snap_open(b, H5TX_HEAD, &sn, &e));
  CHECK(h5tx_snap_rev(sn) == 0);
  FAILS(h5tx_snap_stat(sn, "f", &st, &e), H5TX_ENOENT, "no file 'f'");
  h5tx_snap_close(sn);
  put_text(b, "f", "new store", H5TX_HEAD);
  read_text(b, "f", buf, sizeof buf);
  CHECK(strcmp(buf, "new store") == 0);
  read_text(a, "f", buf, sizeof buf); /* the old handle still reads the old store */
  CHECK(strcmp(buf, "second") == 0);
  h5tx_store_close(b);
  h5tx_store_close(a);
  remove_tree(tp.dir);
  return check_done("core_handles");
}
