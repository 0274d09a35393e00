/* test_marker.c - white-box test of the store's marker (marker.h): format 1's
 * two lines and format 2's four (id, index engine) parse; a missing or
 * malformed id, a missing index line or an engine this build lacks are
 * H5TX_EFORMAT naming the problem; a newer format names `upgrade h5tx`;
 * lines after the fourth are ignored; what is written reads back, and two
 * new store ids differ. */
#include "check.h"
#include "marker.h"

static h5tx_error e;

#define ID_HEX "0123456789abcdef0123456789abcdef"

static int parse(const char *text, unsigned newest, h5tx__marker *m) {
  return h5tx__marker_parse("s.h5tx", text, strlen(text), newest, m, &e);
}

int main(void) {
  h5tx__marker m;
  /* format 1 */
  OK(parse("h5tx store\nformat 1\n", 2, &m));
  CHECK(m.format == 1);
  FAILS(parse("h5tx store\nformat 2\nid " ID_HEX "\nindex lmdb\n", 1, &m), H5TX_EFORMAT,
        "has format 2; this h5tx reads format 1 and older: upgrade h5tx");
  /* format 2 */
  OK(parse("h5tx store\nformat 2\nid " ID_HEX "\nindex lmdb\n", 2, &m));
  CHECK(m.format == 2 && strcmp(m.index, "lmdb") == 0);
  CHECK(m.id[0] == 0x01 && m.id[1] == 0x23 && m.id[7] == 0xef && m.id[15] == 0xef);
  OK(parse("h5tx store\nformat 2\nid " ID_HEX "\nindex lmdb\nlater 7\nmore\n", 2, &m));
  OK(parse("h5tx store\nformat 2\nid " ID_HEX "\nindex lmdb", 2, &m)); /* no final newline */
  FAILS(parse("h5tx store\nformat 2\n", 2, &m), H5TX_EFORMAT, "no id line");
  FAILS(parse("h5tx store\nformat 2\nindex lmdb\n", 2, &m), H5TX_EFORMAT, "no id line");
  FAILS(parse("h5tx store\nformat 2\nid " ID_HEX "\n", 2, &m), H5TX_EFORMAT, "no index line");
  FAILS(parse("h5tx store\nformat 2\nid 0123456789ABCDEF0123456789abcdef\nindex lmdb\n", 2, &m),
        H5TX_EFORMAT, "is not 32 lowercase hex digits");
  FAILS(parse("h5tx store\nformat 2\nid 0123\nindex lmdb\n", 2, &m), H5TX_EFORMAT,
        "id \"0123\" is not 32 lowercase hex digits");
  FAILS(parse("h5tx store\nformat 2\nid " ID_HEX "\nindex postgres\n", 2, &m), H5TX_EFORMAT,
        "index engine \"postgres\" is not one this h5tx has");
  /* foreign, zero and huge versions */
  FAILS(parse("h5tx store\nformat x\n", 2, &m), H5TX_EFORMAT, "is not an h5tx store (foreign");
  FAILS(parse("other\nformat 1\n", 2, &m), H5TX_EFORMAT, "is not an h5tx store (foreign");
  FAILS(parse("h5tx store\nform", 2, &m), H5TX_EFORMAT, "is not an h5tx store (foreign");
  FAILS(parse("h5tx store\nformat 000\n", 2, &m), H5TX_EFORMAT, "bad format version 0");
  FAILS(parse("h5tx store\nformat 12345678901234567890\n", 2, &m), H5TX_EFORMAT,
        "has format 12345678901234567890; this h5tx reads format 2");
  /* the digits end with the buffer, not with a NUL after it */
  char nonul[] = {'h',  '5', 't', 'x', ' ', 's', 't', 'o', 'r', 'e',
                  '\n', 'f', 'o', 'r', 'm', 'a', 't', ' ', '1', '7'};
  OK(h5tx__marker_parse("s.h5tx", nonul, sizeof nonul - 1, 2, &m, &e));
  CHECK(m.format == 1);

  /* written, read back; ids differ */
  test_paths tp = temp_paths();
  h5tx__marker w = {.format = 2, .index = "lmdb"}, w2, r;
  OK(h5tx__store_id_new(w.id, &e));
  OK(h5tx__store_id_new(w2.id, &e));
  CHECK(memcmp(w.id, w2.id, 16) != 0);
  OK(h5tx__marker_write(tp.dir, tp.store, &w, &e));
  OK(h5tx__marker_read(tp.dir, 2, &r, &e));
  CHECK(r.format == 2 && memcmp(r.id, w.id, 16) == 0 && strcmp(r.index, "lmdb") == 0);
  FAILS(h5tx__marker_read(tp.dir, 1, &r, &e), H5TX_EFORMAT, "upgrade h5tx");
  w.format = 1;
  OK(h5tx__marker_write(tp.dir, tp.store, &w, &e));
  OK(h5tx__marker_read(tp.dir, 2, &r, &e));
  CHECK(r.format == 1);
  FAILS(h5tx__marker_read(tp.store, 2, &r, &e), H5TX_EFORMAT, "no h5tx-store marker");
  remove_tree(tp.dir);
  return check_done("core_marker");
}
