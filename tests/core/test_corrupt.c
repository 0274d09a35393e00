/* test_corrupt.c - a byte flipped inside a stored page is reported as a
 * checksum error naming store, file, page and revision; the other pages and
 * revisions still read correctly. */
#include "check_fs.h"

static h5tx_error e;

#define PS 4096

/* Page `p` at revision `r` holds a pattern unique to (p, r). */
static void pattern(uint8_t *buf, int p, int r) {
  char cell[17];
  for (int i = 0; i < PS; i += 16) {
    snprintf(cell, sizeof cell, "P%04dR%04d-%05d", p, r, i / 16);
    memcpy(buf + i, cell, 16);
  }
}

int main(void) {
  test_paths tp = temp_paths();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = H5TX_CODEC_NONE; /* raw pages, so the test can find their bytes */
  h5tx_store *s;
  OK(h5tx_store_open(tp.store, &o, &s, &e));
  uint8_t buf[PS];
  /* r1: pages 0..5; r2: pages 2..3 rewritten. */
  for (int r = 1; r <= 2; r++) {
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    OK(h5tx_writer_open(s, "data/run.h5", &wo, &w, &e));
    for (int p = r == 1 ? 0 : 2; p <= (r == 1 ? 5 : 3); p++) {
      pattern(buf, p, r);
      OK(h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e));
    }
    h5tx_rev rev;
    OK(h5tx_writer_commit(w, NULL, &rev, &e));
    REQUIRE(rev == (h5tx_rev)r);
    h5tx_writer_close(w);
  }
  h5tx_store_close(s);

  /* Damage page 3 of revision 2, in the middle of its payload. */
  REQUIRE(flip_in_store(tp.store, "P0003R0002-00100", 5, 0x20));

  OK(h5tx_store_open(tp.store, NULL, &s, &e));
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, 2, &sn, &e));
  char want[800];
  snprintf(want, sizeof want, "store %s: file 'data/run.h5' page 3 revision 2: checksum mismatch",
           tp.store);
  FAILS(h5tx_snap_read(sn, "data/run.h5", 3 * PS + 10, buf, 100, &e), H5TX_ECORRUPT, want);
  /* A read spanning the bad page fails as a whole: never wrong bytes. */
  static uint8_t big[6 * PS];
  FAILS(h5tx_snap_read(sn, "data/run.h5", 0, big, sizeof big, &e), H5TX_ECORRUPT,
        "page 3 revision 2");
  /* Every other page still reads right, at both revisions. */
  uint8_t want_buf[PS];
  for (int p = 0; p <= 5; p++) {
    if (p == 3) continue;
    OK(h5tx_snap_read(sn, "data/run.h5", (uint64_t)p * PS, buf, PS, &e));
    pattern(want_buf, p, p == 2 ? 2 : 1);
    CHECK(memcmp(buf, want_buf, PS) == 0);
  }
  h5tx_snap_close(sn);
  OK(h5tx_snap_open(s, 1, &sn, &e));
  OK(h5tx_snap_read(sn, "data/run.h5", 3 * PS, buf, PS, &e));
  pattern(want_buf, 3, 1);
  CHECK(memcmp(buf, want_buf, PS) == 0);
  h5tx_snap_close(sn);

  /* A writer that must merge with the bad page fails the same way. */
  h5tx_writer *w;
  OK(h5tx_writer_open(s, "data/run.h5", NULL, &w, &e));
  FAILS(h5tx_writer_write(w, 3 * PS + 1, "x", 1, &e), H5TX_ECORRUPT, "page 3 revision 2");
  /* Overwriting the whole page needs no old bytes: it commits and heals
   * head, while revision 2 stays damaged. */
  pattern(buf, 3, 3);
  OK(h5tx_writer_write(w, 3 * PS, buf, PS, &e));
  h5tx_rev r3;
  OK(h5tx_writer_commit(w, NULL, &r3, &e));
  h5tx_writer_close(w);
  OK(h5tx_snap_open(s, r3, &sn, &e));
  OK(h5tx_snap_read(sn, "data/run.h5", 3 * PS, buf, PS, &e));
  pattern(want_buf, 3, 3);
  CHECK(memcmp(buf, want_buf, PS) == 0);
  h5tx_snap_close(sn);
  OK(h5tx_snap_open(s, 2, &sn, &e));
  FAILS(h5tx_snap_read(sn, "data/run.h5", 3 * PS, buf, PS, &e), H5TX_ECORRUPT, "page 3 revision 2");
  h5tx_snap_close(sn);
  h5tx_store_close(s);
  remove_tree(tp.dir);
  return check_done("core_corrupt");
}
