/* test_lease.c - one writer per file: a live holder (this process or
 * another) is refused with its name; a killed holder's lease is taken over;
 * a writer on a stale base gets a conflict error instead of overwriting. */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>

static h5tx_error e;

static void test_same_process(h5tx_store *s) {
  h5tx_writer *w1, *w2;
  OK(h5tx_writer_open(s, "f.h5", NULL, &w1, &e));
  char want[64];
  snprintf(want, sizeof want, "being written by pid %d on host", (int)getpid());
  FAILS(h5tx_writer_open(s, "f.h5", NULL, &w2, &e), H5TX_EBUSY, want);
  FAILS(h5tx_remove(s, "f.h5", NULL, NULL, &e), H5TX_EBUSY, "file 'f.h5' is being written");
  /* Another file is free. */
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, "g.h5", &wo, &w2, &e));
  h5tx_writer_close(w2);
  h5tx_writer_close(w1);
  OK(h5tx_writer_open(s, "f.h5", NULL, &w2, &e)); /* released on close */
  h5tx_writer_close(w2);
}

/* A child takes the lease, reports, then waits until killed. */
static void test_other_process(const char *store) {
  int to_parent[2], to_child[2];
  REQUIRE(pipe(to_parent) == 0 && pipe(to_child) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    h5tx_store *cs = open_store(store, 4096, 0);
    h5tx_writer *w;
    OK(h5tx_writer_open(cs, "f.h5", NULL, &w, &e));
    OK(h5tx_writer_write(w, 0, "uncommitted", 11, &e));
    char c = 'L';
    REQUIRE(write(to_parent[1], &c, 1) == 1);
    /* Hold the lease until the parent kills us (read blocks forever). */
    REQUIRE(read(to_child[0], &c, 1) >= 0);
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  char c;
  REQUIRE(read(to_parent[0], &c, 1) == 1 && c == 'L');
  h5tx_store *s = open_store(store, 4096, 0);
  h5tx_writer *w;
  char want[64];
  snprintf(want, sizeof want, "being written by pid %d on host", (int)pid);
  FAILS(h5tx_writer_open(s, "f.h5", NULL, &w, &e), H5TX_EBUSY, want);
  REQUIRE(kill(pid, SIGKILL) == 0);
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  /* The holder is dead: its lease is taken over, its changes are gone. */
  OK(h5tx_writer_open(s, "f.h5", NULL, &w, &e));
  char buf[11];
  OK(h5tx_writer_read(w, 0, buf, 11, &e));
  CHECK(memcmp(buf, "uncommitted", 11) != 0);
  h5tx_writer_close(w);
  close(to_parent[0]);
  close(to_child[1]);
  h5tx_store_close(s);
}

/* A zombie (killed, not yet reaped) holds nothing either. */
static void test_zombie(const char *store) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    h5tx_store *cs = open_store(store, 4096, 0);
    h5tx_writer *w;
    OK(h5tx_writer_open(cs, "z.h5", NULL, &w, &e));
    char c = 'L';
    REQUIRE(write(p[1], &c, 1) == 1);
    for (;;)
      pause();
  }
  close(p[1]);
  char c;
  REQUIRE(read(p[0], &c, 1) == 1);
  REQUIRE(kill(pid, SIGKILL) == 0);
  siginfo_t si;
  /* Wait until it is dead but leave it unreaped. */
  REQUIRE(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
  h5tx_store *s = open_store(store, 4096, 0);
  h5tx_writer *w;
  OK(h5tx_writer_open(s, "z.h5", NULL, &w, &e));
  h5tx_writer_close(w);
  h5tx_store_close(s);
  REQUIRE(waitpid(pid, NULL, 0) == pid);
  close(p[0]);
}

static void test_conflict(h5tx_store *s) {
  h5tx_rev r1 = put_text(s, "c.h5", "one", H5TX_HEAD);
  h5tx_rev r2 = put_text(s, "c.h5", "two", H5TX_HEAD);
  /* A writer based on r1 (before r2 changed the file) must not win. */
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.base = r1;
  OK(h5tx_writer_open(s, "c.h5", &wo, &w, &e));
  char buf[3];
  OK(h5tx_writer_read(w, 0, buf, 3, &e));
  CHECK(memcmp(buf, "one", 3) == 0);
  OK(h5tx_writer_write(w, 0, "ONE", 3, &e));
  char want[128];
  snprintf(want, sizeof want,
           "file 'c.h5' was changed by revision %llu after this writer's base %llu",
           (unsigned long long)r2, (unsigned long long)r1);
  h5tx_rev r;
  FAILS(h5tx_writer_commit(w, NULL, &r, &e), H5TX_ECONFLICT, want);
  h5tx_writer_close(w);
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, H5TX_HEAD, &sn, &e));
  OK(h5tx_snap_read(sn, "c.h5", 0, buf, 3, &e));
  CHECK(memcmp(buf, "two", 3) == 0); /* nothing overwritten */
  h5tx_snap_close(sn);

  /* A base that is old for the store but current for the file is fine. */
  h5tx_rev r3 = put_text(s, "other.h5", "x", H5TX_HEAD);
  CHECK(r3 == r2 + 1);
  r = put_text(s, "c.h5", "three", r2);
  CHECK(r == r3 + 1);

  /* Creating a file that appeared after the writer's base conflicts too. */
  wo.base = r3;
  wo.create = 1;
  OK(h5tx_writer_open(s, "new.h5", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, "mine", 4, &e));
  h5tx_writer_close(w); /* releases the lease, nothing committed */
  h5tx_rev rn = put_text(s, "new.h5", "theirs", H5TX_HEAD);
  OK(h5tx_writer_open(s, "new.h5", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, "mine", 4, &e));
  snprintf(want, sizeof want, "file 'new.h5' was created by revision %llu", (unsigned long long)rn);
  FAILS(h5tx_writer_commit(w, NULL, &r, &e), H5TX_ECONFLICT, want);
  h5tx_writer_close(w);
}

int main(void) {
  test_paths tp = temp_paths();
  h5tx_store *s = open_store(tp.store, 4096, 0);
  put_text(s, "f.h5", "base", H5TX_HEAD);
  put_text(s, "z.h5", "base", H5TX_HEAD);
  test_same_process(s);
  test_conflict(s);
  h5tx_store_close(s); /* never hold a tp.store across fork() */
  test_other_process(tp.store);
  test_zombie(tp.store);
  remove_tree(tp.dir);
  return check_done("core_lease");
}
