/* test_corrupt.c - damage to a format-2 store on disk is an error naming
 * what it hit, never wrong bytes, and h5tx_verify reports it: a byte
 * flipped in a page payload in the page log (reads fail naming store, file,
 * page and revision; the other pages and revisions read right), a byte
 * flipped in index values (a commit record, a page place), a segment cut
 * short (the pages past the cut), a torn tail that a killed writer left (a
 * note, not damage), and a segment deleted. */
#include "check_fs.h"
#include "check_verify.h"

#include <signal.h>
#include <sys/wait.h>

static h5tx_error e;

#define PS 4096
#define FILE_NAME "data/run.h5"

/* Page `p` at revision `r` holds a pattern unique to (p, r). */
static void pattern(uint8_t *buf, int p, int r) {
  char cell[17];
  for (int i = 0; i < PS; i += 16) {
    snprintf(cell, sizeof cell, "P%04dR%04d-%05d", p, r, i / 16);
    memcpy(buf + i, cell, 16);
  }
}

static h5tx_store *open_raw(const char *path) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = H5TX_CODEC_NONE; /* raw pages, so the test can find their bytes */
  h5tx_store *s;
  OK(h5tx_store_open(path, &o, &s, &e));
  return s;
}

/* Write pages [first, last] of revision `r` as one commit with message
 * "MSG-R<r>-UNIQUE". */
static h5tx_rev write_rev(h5tx_store *s, int first, int last, int r) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, FILE_NAME, &wo, &w, &e));
  uint8_t buf[PS];
  for (int p = first; p <= last; p++) {
    pattern(buf, p, r);
    OK(h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e));
  }
  char msg[32];
  snprintf(msg, sizeof msg, "MSG-R%04d-UNIQUE", r);
  h5tx_rev rev;
  OK(h5tx_writer_commit(w, msg, &rev, &e));
  REQUIRE(rev == (h5tx_rev)r);
  h5tx_writer_close(w);
  return rev;
}

/* A store at dir/name: r1 pages 0..5, r2 pages 2..3 rewritten, closed (its
 * segment sealed). */
static void make_store(char *path, size_t cap, const char *dir, const char *name) {
  snprintf(path, cap, "%s/%s", dir, name);
  h5tx_store *s = open_raw(path);
  write_rev(s, 0, 5, 1);
  write_rev(s, 2, 3, 2);
  h5tx_store_close(s);
}

/* Page `p` reads as written at revision `want` when read at `rev`. */
static void reads_right(h5tx_store *s, h5tx_rev rev, int p, int want) {
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, rev, &sn, &e));
  uint8_t buf[PS], exp[PS];
  OK(h5tx_snap_read(sn, FILE_NAME, (uint64_t)p * PS, buf, PS, &e));
  pattern(exp, p, want);
  if (memcmp(buf, exp, PS) != 0) {
    fprintf(stderr, "page %d at revision %llu is not what revision %d wrote\n", p,
            (unsigned long long)rev, want);
    CHECK(0);
  }
  h5tx_snap_close(sn);
}

/* Reading page `p` at `rev` fails with H5TX_ECORRUPT and a message holding
 * `part` and `more`. */
static void read_fails(h5tx_store *s, h5tx_rev rev, int p, const char *part, const char *more) {
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, rev, &sn, &e));
  uint8_t buf[PS];
  FAILS(h5tx_snap_read(sn, FILE_NAME, (uint64_t)p * PS, buf, PS, &e), H5TX_ECORRUPT, part);
  if (!strstr(e.msg, more)) {
    fprintf(stderr, "read of page %d at %llu: '%s' lacks '%s'\n", p, (unsigned long long)rev, e.msg,
            more);
    CHECK(0);
  }
  h5tx_snap_close(sn);
}

/* A byte flipped in the payload of page 3 of revision 2. */
static void test_payload(const char *dir) {
  char path[700];
  make_store(path, sizeof path, dir, "payload.h5tx");
  REQUIRE(flip_in_log(path, "P0003R0002-00100", 5, 0x20));

  h5tx_store *s;
  OK(h5tx_store_open(path, NULL, &s, &e));
  char want[800];
  snprintf(want, sizeof want, "store %s: file '" FILE_NAME "' page 3 revision 2: ", path);
  read_fails(s, 2, 3, want, "checksum mismatch (page log segment");
  /* A read spanning the bad page fails as a whole: never wrong bytes. */
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, 2, &sn, &e));
  static uint8_t big[6 * PS];
  FAILS(h5tx_snap_read(sn, FILE_NAME, 0, big, sizeof big, &e), H5TX_ECORRUPT, "page 3 revision 2");
  h5tx_snap_close(sn);
  /* Every other page still reads right, at both revisions. */
  for (int p = 0; p <= 5; p++) {
    if (p != 3) reads_right(s, 2, p, p == 2 ? 2 : 1);
    reads_right(s, 1, p, 1);
  }
  /* A writer that must merge with the bad page fails the same way. */
  h5tx_writer *w;
  OK(h5tx_writer_open(s, FILE_NAME, NULL, &w, &e));
  FAILS(h5tx_writer_write(w, 3 * PS + 1, "x", 1, &e), H5TX_ECORRUPT, "page 3 revision 2");
  /* Overwriting the whole page needs no old bytes: it commits and heals
   * head, while revision 2 stays damaged. */
  uint8_t buf[PS];
  pattern(buf, 3, 3);
  OK(h5tx_writer_write(w, 3 * PS, buf, PS, &e));
  h5tx_rev r3;
  OK(h5tx_writer_commit(w, NULL, &r3, &e));
  h5tx_writer_close(w);
  reads_right(s, r3, 3, 3);
  read_fails(s, 2, 3, "page 3 revision 2", "checksum mismatch (page log segment");
  h5tx_store_close(s);

  /* verify: the payload, the batch that holds it (its segment was sealed,
   * so that is damage), what follows it in that segment (page 2 of
   * revision 2, the commit record of revision 2): readable, but past where
   * recovery and repair stop. Nothing of revision 1 or 3. */
  findings f = verify_store(path);
  CHECK(found(&f, "damage",
              "file '" FILE_NAME "' page 3 revision 2: ", "checksum mismatch (page log segment"));
  CHECK(found(&f, "damage", "page log segment", "damaged batch at offset"));
  CHECK(found(&f, "damage", "in a sealed segment", "a record fails its check"));
  CHECK(found(&f, "damage", "page 2 revision 2: ", "beyond the segment's valid part"));
  CHECK(found(&f, "damage", "commit 2: ", "no intact commit record"));
  CHECK(!found(&f, "damage", "cut short", ""));
  CHECK(!found(&f, "damage", "revision 1", "") && !found(&f, "damage", "revision 3", ""));
  CHECK(!found(&f, "damage", "commit 1", "") && !found(&f, "damage", "commit 3", ""));
  CHECK(f.notes == 0);
  CHECK(f.res.page_versions == 6 + 2 + 1 && f.res.segments == 2);
}

/* Bytes flipped in index values: the commit record of revision 1 (found by
 * its message) and the place of page 3 of revision 2 (in `pages` and in
 * `dedupe`, found by its segment and offset). */
static void test_index(const char *dir) {
  char path[700];
  make_store(path, sizeof path, dir, "index.h5tx");
  char seg[1400];
  uint64_t num, off;
  REQUIRE(find_in_log(path, "P0003R0002-00000", seg, sizeof seg, &num, &off));
  /* The place's first 32 bytes: version 2, raw, raw and stored length,
   * segment, offset (docs/FORMAT.md, "pages — page place"). */
  uint8_t place[32] = {2, 1};
  for (int i = 0; i < 4; i++) {
    place[4 + i] = (uint8_t)(PS >> (8 * i));
    place[8 + i] = (uint8_t)(PS >> (8 * i));
  }
  for (int i = 0; i < 8; i++) {
    place[16 + i] = (uint8_t)(num >> (8 * i));
    place[24 + i] = (uint8_t)(off >> (8 * i));
  }
  /* (at least: LMDB may keep stale copies in free pages) */
  CHECK(flip_in_index(path, place, sizeof place, 25, 0x10) >= 2); /* pages and dedupe */
  CHECK(flip_in_index(path, "MSG-R0001-UNIQUE", 16, 6, 0x01) >= 1);

  h5tx_store *s;
  OK(h5tx_store_open(path, NULL, &s, &e));
  /* The damaged commit record: revision 1 cannot be opened. */
  h5tx_snap *sn;
  FAILS(h5tx_snap_open(s, 1, &sn, &e), H5TX_ECORRUPT, "commits");
  /* Head (revision 2) opens; its page 3 fails, naming the file and the
   * index table, never returning the bytes of the wrong place; its other
   * pages read, those revision 1 wrote too. */
  char want[800];
  snprintf(want, sizeof want, "store %s: file '" FILE_NAME "'", path);
  read_fails(s, H5TX_HEAD, 3, want, "index table pages");
  reads_right(s, H5TX_HEAD, 2, 2);
  reads_right(s, H5TX_HEAD, 0, 1);
  h5tx_store_close(s);

  findings f = verify_store(path);
  CHECK(found(&f, "damage", "file '" FILE_NAME "' page 3 revision 2: ", "value check mismatch"));
  CHECK(found(&f, "damage", "index table dedupe key", "value check mismatch"));
  CHECK(found(&f, "damage", "index table commits key 0000000000000001", "value check mismatch"));
  CHECK(f.damage == 3 && f.notes == 0);
}

/* The sealed segment cut short inside the batch of revision 2's pages. */
static void test_truncated(const char *dir) {
  char path[700];
  make_store(path, sizeof path, dir, "cut.h5tx");
  char seg[1400];
  uint64_t num, off;
  REQUIRE(find_in_log(path, "P0003R0002-00000", seg, sizeof seg, &num, &off));
  REQUIRE(truncate(seg, (off_t)off) == 0); /* page 2 of r2 stays, page 3 goes */

  h5tx_store *s;
  OK(h5tx_store_open(path, NULL, &s, &e));
  char want[800];
  snprintf(want, sizeof want, "store %s: file '" FILE_NAME "' page 3 revision 2: ", path);
  read_fails(s, 2, 3, want, "ends before the record");
  for (int p = 0; p <= 5; p++)
    reads_right(s, 1, p, 1);
  reads_right(s, 2, 2, 2); /* its bytes are still there */
  h5tx_store_close(s);

  /* No seal at the end any more: the cut reads as a torn tail (a note),
   * and what the index points at past it is damage. */
  findings f = verify_store(path);
  CHECK(found(&f, "note", "page log segment", "torn tail at offset"));
  CHECK(found(&f, "damage", "file '" FILE_NAME "' page 3 revision 2: ", "ends before the record"));
  CHECK(found(&f, "damage", "page 2 revision 2: ", "beyond the segment's valid part"));
  CHECK(found(&f, "damage", "commit 2: ", "no intact commit record"));
  CHECK(found(&f, "damage", "page log segment", "cut short: the index has seen"));
  CHECK(!found(&f, "damage", "revision 1", "") && !found(&f, "damage", "commit 1", ""));
}

/* A writer killed while it streams pages, its segment's tail then torn: a
 * note, no damage, and every revision reads right. */
static void test_killed_writer(const char *dir) {
  char path[700];
  make_store(path, sizeof path, dir, "killed.h5tx");
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    h5tx_store_opts o;
    h5tx_store_opts_init(&o);
    o.dirty_limit = 4 * PS; /* stream pages into the log as they come */
    h5tx_store *s;
    if (h5tx_store_open(path, &o, &s, &e)) _exit(2);
    h5tx_writer *w;
    if (h5tx_writer_open(s, FILE_NAME, NULL, &w, &e)) _exit(3);
    uint8_t buf[PS];
    for (int p = 0; p < 40; p++) {
      pattern(buf, p, 9);
      if (h5tx_writer_write(w, (uint64_t)p * PS, buf, PS, &e)) _exit(4);
    }
    if (write(fds[1], "k", 1) != 1) _exit(5);
    pause(); /* killed here: nothing committed, the segment unsealed */
    _exit(6);
  }
  close(fds[1]);
  char c;
  REQUIRE(read(fds[0], &c, 1) == 1);
  close(fds[0]);
  kill(pid, SIGKILL);
  int st;
  REQUIRE(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
  /* The writer's segment (it holds what it streamed): cut inside its last
   * batch, as a power cut or a kill in mid-append leaves it. */
  char seg[1400];
  uint64_t num, off;
  REQUIRE(find_in_log(path, "P0000R0009-00000", seg, sizeof seg, &num, &off));
  struct stat sb;
  REQUIRE(stat(seg, &sb) == 0 && sb.st_size > 3 * 4096);
  REQUIRE(truncate(seg, sb.st_size - 4096) == 0);

  findings f = verify_store(path);
  CHECK(f.damage == 0);
  CHECK(f.notes == 1 && found(&f, "note", "torn tail at offset", "its writer stopped"));
  h5tx_store *s;
  OK(h5tx_store_open(path, NULL, &s, &e));
  for (int p = 0; p <= 5; p++) {
    reads_right(s, 1, p, 1);
    reads_right(s, 2, p, p == 2 || p == 3 ? 2 : 1);
  }
  h5tx_store_close(s);
}

/* The segment of revision 1 deleted: its pages fail at every revision that
 * reads them, revision 2's own pages still read. */
static void test_deleted(const char *dir) {
  char path[700];
  snprintf(path, sizeof path, "%s/deleted.h5tx", dir);
  h5tx_store *s = open_raw(path);
  write_rev(s, 0, 5, 1);
  h5tx_store_close(s); /* revision 2 goes to a segment of its own */
  s = open_raw(path);
  write_rev(s, 2, 3, 2);
  h5tx_store_close(s);
  char seg[1400];
  uint64_t num, off;
  REQUIRE(find_in_log(path, "P0000R0001-00000", seg, sizeof seg, &num, &off));
  REQUIRE(unlink(seg) == 0);

  OK(h5tx_store_open(path, NULL, &s, &e));
  char want[800];
  snprintf(want, sizeof want, "store %s: file '" FILE_NAME "' page 0 revision 1: ", path);
  read_fails(s, 2, 0, want, "segment is gone");
  read_fails(s, 1, 3, "page 3 revision 1: ", "segment is gone");
  reads_right(s, 2, 2, 2);
  reads_right(s, 2, 3, 2);
  h5tx_store_close(s);

  findings f = verify_store(path);
  for (int p = 0; p <= 5; p++) {
    char what[64];
    snprintf(what, sizeof what, "page %d revision 1: ", p);
    CHECK(found(&f, "damage", what, "segment is missing"));
  }
  CHECK(found(&f, "damage", "commit 1: ", "the segment is missing"));
  CHECK(!found(&f, "damage", "revision 2", "") && !found(&f, "damage", "commit 2", ""));
  CHECK(f.damage == 7 && f.notes == 0 && f.res.segments == 1);
}

int main(void) {
  test_paths tp = temp_paths();
  test_payload(tp.dir);
  test_index(tp.dir);
  test_truncated(tp.dir);
  test_killed_writer(tp.dir);
  test_deleted(tp.dir);
  remove_tree(tp.dir);
  return check_done("core_corrupt");
}
