/* quickstart.c - the page store in one page: create a store, write a file
 * in three commits, tag one, read every revision back, and show that a
 * reader keeps its revision while a writer commits.
 *
 *   h5tx_quickstart STORE.h5tx */
#include "h5tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static h5tx_error e;

static void die_on(int rc, const char *what) {
  if (rc) {
    fprintf(stderr, "quickstart: %s: %s\n", what, e.msg);
    exit(1);
  }
}

/* One commit: optionally truncate to `len`, then write `text` at `off`. */
static h5tx_rev commit(h5tx_store *s, uint64_t off, const char *text, int64_t len,
                       const char *msg) {
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  die_on(h5tx_writer_open(s, "notes/today.txt", &wo, &w, &e), "open writer");
  if (len >= 0) die_on(h5tx_writer_truncate(w, (uint64_t)len, &e), "truncate");
  die_on(h5tx_writer_write(w, off, text, strlen(text), &e), "write");
  h5tx_rev rev;
  die_on(h5tx_writer_commit(w, msg, &rev, &e), "commit");
  h5tx_writer_close(w);
  printf("committed revision %llu: %s\n", (unsigned long long)rev, msg);
  return rev;
}

static void show(h5tx_snap *sn) {
  h5tx_stat st;
  die_on(h5tx_snap_stat(sn, "notes/today.txt", &st, &e), "stat");
  char buf[256] = {0};
  size_t n = st.length < sizeof buf - 1 ? (size_t)st.length : sizeof buf - 1;
  die_on(h5tx_snap_read(sn, "notes/today.txt", 0, buf, n, &e), "read");
  printf("  @%llu  notes/today.txt (%llu bytes): \"%s\"\n", (unsigned long long)h5tx_snap_rev(sn),
         (unsigned long long)st.length, buf);
}

static int print_commit(void *arg, const h5tx_commit *c) {
  (void)arg;
  printf("  r%-3llu pid %u on %s: %s [%s]\n", (unsigned long long)c->rev, c->pid, c->host,
         c->message, c->nfiles ? c->files[0] : "");
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s STORE.h5tx\n", argv[0]);
    return 2;
  }
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  h5tx_store *s;
  die_on(h5tx_store_open(argv[1], &o, &s, &e), "open store");
  printf("store %s\n", argv[1]);

  h5tx_rev r1 = commit(s, 0, "hello", 0, "first words");
  commit(s, 5, ", world", -1, "append");
  die_on(h5tx_tag_set(s, "greeting", r1, &e), "tag");
  printf("tagged revision %llu as 'greeting'\n", (unsigned long long)r1);

  /* A reader opens head now and keeps it while the next commit lands. */
  h5tx_snap *reader;
  die_on(h5tx_snap_open(s, H5TX_HEAD, &reader, &e), "snapshot");
  commit(s, 0, "goodbye", 0, "rewrite");
  printf("a reader opened before the rewrite still sees its revision:\n");
  show(reader);
  h5tx_snap_close(reader);

  printf("every revision:\n");
  h5tx_rev head;
  die_on(h5tx_store_head(s, &head, &e), "head");
  for (h5tx_rev r = 1; r <= head; r++) {
    h5tx_snap *sn;
    die_on(h5tx_snap_open(s, r, &sn, &e), "snapshot");
    show(sn);
    h5tx_snap_close(sn);
  }
  h5tx_rev tagged;
  die_on(h5tx_rev_parse(s, "greeting", &tagged, &e), "tag lookup");
  printf("tag 'greeting' is revision %llu\n", (unsigned long long)tagged);
  printf("log, newest first:\n");
  die_on(h5tx_log(s, H5TX_HEAD, print_commit, NULL, &e), "log");
  h5tx_store_close(s);
  return 0;
}
