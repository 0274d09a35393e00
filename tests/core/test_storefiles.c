/* test_storefiles.c - the files of a store and what opening it reports:
 * a bad, foreign, unreadable or FIFO marker, a missing or truncated
 * data.mdb or lock.mdb (an error, never a signal, and nothing created), a
 * leftover temporary directory of a crashed creation, modes that follow the
 * umask and the directory's group, a user who may not write lock.mdb, and
 * LMDB reader slots of killed processes. Each risky open runs in a child
 * process with a deadline, so a hang or a signal is a failure, not a
 * stuck or crashed test. */
#include "check_fs.h"

#include <grp.h>
#include <signal.h>
#include <sys/wait.h>

static h5tx_error e;

/* Run fn(arg) in a child; its exit status (0..255), or 1000 + signal when
 * a signal killed it, or 2000 when it outlived `secs` seconds. */
static int in_child(int (*fn)(void *), void *arg, int secs) {
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = fn(arg);
    fflush(NULL);
    _exit(rc);
  }
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    REQUIRE(r >= 0);
    if (r == pid) return WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : WEXITSTATUS(st);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec >= secs) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return 2000;
    }
    struct timespec d = {0, 5 * 1000 * 1000};
    nanosleep(&d, NULL); /* polling a condition with a deadline */
  }
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  REQUIRE(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static h5tx_store *open_ro(const char *path, int *rc) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.read_only = 1;
  h5tx_store *s = NULL;
  memset(&e, 0, sizeof e);
  *rc = h5tx_store_open(path, &o, &s, &e);
  return s;
}

/* A store with a few files and revisions, closed. */
static void make_store(const char *path) {
  h5tx_store *s = open_store(path, 4096, 0);
  uint8_t buf[4096];
  for (int r = 0; r < 6; r++) {
    h5tx_writer *w;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    char name[32];
    snprintf(name, sizeof name, "f%d.h5", r % 3);
    OK(h5tx_writer_open(s, name, &wo, &w, &e));
    for (int p = 0; p < 12; p++) {
      memset(buf, 'a' + (r + p) % 26, sizeof buf);
      OK(h5tx_writer_write(w, (uint64_t)p * sizeof buf, buf, sizeof buf, &e));
    }
    OK(h5tx_writer_commit(w, name, NULL, &e));
    h5tx_writer_close(w);
  }
  h5tx_store_close(s);
}

/* ---- the marker ------------------------------------------------------------ */

static int open_expect(void *arg) {
  const char **a = arg; /* store, expected message part */
  int rc;
  h5tx_store *s = open_ro(a[0], &rc);
  if (rc == 0) {
    h5tx_store_close(s);
    fprintf(stderr, "open of %s succeeded, expected '%s'\n", a[0], a[1]);
    return 1;
  }
  if (!strstr(e.msg, a[1])) {
    fprintf(stderr, "open of %s: '%s', expected '%s'\n", a[0], e.msg, a[1]);
    return 1;
  }
  return 0;
}

static void test_marker(void) {
  test_paths tp = temp_paths();
  make_store(tp.store);
  char mp[700];
  snprintf(mp, sizeof mp, "%s/h5tx-store", tp.store);

  /* A format number beyond 32 bits is named as written. */
  write_file(mp, "h5tx store\nformat 99999999999\n");
  const char *a1[] = {tp.store, "format 99999999999"};
  CHECK(in_child(open_expect, a1, 20) == 0);

  /* A FIFO: an error at once, not a process blocked in open(). */
  REQUIRE(unlink(mp) == 0 && mkfifo(mp, 0644) == 0);
  const char *a2[] = {tp.store, "not a regular file"};
  int st = in_child(open_expect, a2, 20);
  if (st == 2000) fprintf(stderr, "open with a FIFO marker hung\n");
  CHECK(st == 0);
  REQUIRE(unlink(mp) == 0);
  write_file(mp, "h5tx store\nformat 1\n");
  remove_tree(tp.dir);
}

static int as_user_open(void *arg) {
  const char **a = arg; /* store, expected part, uid, gid */
  gid_t g = (gid_t)atoi(a[3]);
  if (setgroups(1, &g) != 0 || setgid(g) != 0 || setuid((uid_t)atoi(a[2])) != 0) return 3;
  return open_expect(arg);
}

static void test_unreadable_marker(void) {
  if (geteuid() != 0) {
    printf("unreadable marker: SKIPPED (needs root to run as another user)\n");
    return;
  }
  test_paths tp = temp_paths();
  make_store(tp.store);
  char mp[700];
  snprintf(mp, sizeof mp, "%s/h5tx-store", tp.store);
  REQUIRE(chmod(tp.dir, 0755) == 0 && chmod(tp.store, 0755) == 0 && chmod(mp, 0600) == 0);
  const char *a[] = {tp.store, "Permission denied", "64101", "64101"};
  CHECK(in_child(as_user_open, a, 20) == 0);
  remove_tree(tp.dir);
}

/* ---- data.mdb and lock.mdb ------------------------------------------------- */

static void test_missing_data(void) {
  test_paths tp = temp_paths();
  make_store(tp.store);
  char dp[700];
  snprintf(dp, sizeof dp, "%s/index/data.mdb", tp.store);
  REQUIRE(unlink(dp) == 0);
  int rc;
  h5tx_store *s = open_ro(tp.store, &rc);
  CHECK(rc == H5TX_ECORRUPT && strstr(e.msg, "data.mdb") && strstr(e.msg, "missing"));
  if (rc) fprintf(stderr, "  read-only open: %s\n", e.msg);
  h5tx_store_close(s);
  CHECK(!exists(dp)); /* a read-only open created nothing */
  /* A read-write open does not create a new, empty index either. */
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  FAILS(h5tx_store_open(tp.store, &o, &s, &e), H5TX_ECORRUPT, "missing");
  CHECK(!exists(dp));
  remove_tree(tp.dir);
}

/* Open read-only and read every file at every revision: 0 (all read), 2
 * (a clear error at open or read), other: a wrong result. */
static int read_all(void *arg) {
  const char *store = arg;
  int rc;
  h5tx_store *s = open_ro(store, &rc);
  if (rc) {
    printf("    open: %s: %s\n", h5tx_strerror(rc), e.msg);
    return rc == H5TX_ECORRUPT || rc == H5TX_EFORMAT ? 2 : 4;
  }
  h5tx_rev head;
  if ((rc = h5tx_store_head(s, &head, &e))) return 2;
  for (h5tx_rev r = 1; r <= head; r++) {
    h5tx_snap *sn;
    if ((rc = h5tx_snap_open(s, r, &sn, &e))) return 2;
    for (int f = 0; f < 3; f++) {
      char name[32];
      uint8_t buf[4096];
      snprintf(name, sizeof name, "f%d.h5", f);
      for (int p = 0; p < 12; p++) {
        rc = h5tx_snap_read(sn, name, (uint64_t)p * sizeof buf, buf, sizeof buf, &e);
        if (rc && rc != H5TX_ENOENT) return 2;
      }
    }
    h5tx_snap_close(sn);
  }
  h5tx_store_close(s);
  return 0;
}

static void copy_file(const char *from, const char *to) {
  char cmd[1600];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
  REQUIRE(system(cmd) == 0);
}

static void test_truncated_data(void) {
  test_paths tp = temp_paths();
  make_store(tp.store);
  char dp[700], keep[700];
  snprintf(dp, sizeof dp, "%s/index/data.mdb", tp.store);
  snprintf(keep, sizeof keep, "%s/data.keep", tp.dir);
  copy_file(dp, keep);
  struct stat st;
  REQUIRE(stat(dp, &st) == 0);
  off_t full = st.st_size;
  off_t sizes[] = {0, 1, 4095, 4096, 8192, 12288, full / 2, full - 4096, full - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    copy_file(keep, dp);
    REQUIRE(truncate(dp, sizes[i]) == 0);
    printf("  data.mdb truncated to %lld of %lld bytes\n", (long long)sizes[i], (long long)full);
    /* Below half the file, pages the index needs are gone: an error. Near
     * the end the cut may only take space LMDB does not use yet. */
    int r = in_child(read_all, tp.store, 60);
    int want_error = sizes[i] <= full / 2;
    if (want_error ? r != 2 : r != 0 && r != 2)
      fprintf(stderr, "  -> child status %d, want %s\n", r,
              want_error ? "a clear error (2)" : "all read (0) or a clear error (2)");
    CHECK(want_error ? r == 2 : r == 0 || r == 2);
    REQUIRE(stat(dp, &st) == 0);
    CHECK(st.st_size == sizes[i]); /* nothing written to it */
  }
  copy_file(keep, dp);
  CHECK(in_child(read_all, tp.store, 60) == 0);
  remove_tree(tp.dir);
}

/* A damaged meta page of data.mdb is named as such, not blamed on the
 * lock file or reported as a bad environment. */
static void test_damaged_meta(void) {
  test_paths tp = temp_paths();
  make_store(tp.store);
  char dp[700], keep[700];
  snprintf(dp, sizeof dp, "%s/index/data.mdb", tp.store);
  snprintf(keep, sizeof keep, "%s/data.keep", tp.dir);
  copy_file(dp, keep);
  long offs[] = {16, 20, 4096 + 16, 4096 + 20}; /* magic, version of meta 0 and 1 */
  for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
    copy_file(keep, dp);
    int fd = open(dp, O_RDWR);
    uint8_t b;
    REQUIRE(fd >= 0 && pread(fd, &b, 1, offs[i]) == 1);
    b ^= 0x5a;
    REQUIRE(pwrite(fd, &b, 1, offs[i]) == 1 && close(fd) == 0);
    const char *a[] = {tp.store, "index/data.mdb"};
    int r = in_child(open_expect, a, 20);
    if (r) fprintf(stderr, "  byte %ld of data.mdb damaged: child status %d\n", offs[i], r);
    CHECK(r == 0);
  }
  remove_tree(tp.dir);
}

static void test_truncated_lock(void) {
  test_paths tp = temp_paths();
  make_store(tp.store);
  char lp[700], keep[700];
  snprintf(lp, sizeof lp, "%s/index/lock.mdb", tp.store);
  snprintf(keep, sizeof keep, "%s/lock.keep", tp.dir);
  copy_file(lp, keep);
  off_t sizes[] = {0, 1, 100, 191, 4096, 65535};
  for (int held = 0; held < 2; held++) {
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
      copy_file(keep, lp);
      pid_t holder = -1;
      int hp[2] = {-1, -1}, rp[2] = {-1, -1};
      if (held) {
        REQUIRE(pipe(hp) == 0 && pipe(rp) == 0);
        fflush(NULL);
        holder = fork();
        REQUIRE(holder >= 0);
        if (holder == 0) {
          close(hp[1]);
          close(rp[0]);
          h5tx_store *s = open_store(tp.store, 4096, 0);
          h5tx_rev head;
          OK(h5tx_store_head(s, &head, &e));
          if (write(rp[1], "r", 1) != 1) _exit(3);
          char c;
          while (read(hp[0], &c, 1) > 0) {
          }
          _exit(0);
        }
        close(hp[0]);
        close(rp[1]);
        char c;
        REQUIRE(read(rp[0], &c, 1) == 1);
        close(rp[0]);
      }
      REQUIRE(truncate(lp, sizes[i]) == 0);
      printf("  lock.mdb truncated to %lld bytes%s\n", (long long)sizes[i],
             held ? " while another process holds the store" : "");
      int r = in_child(read_all, tp.store, 60);
      if (r != 0 && r != 2) fprintf(stderr, "  -> child status %d, want 0 or 2\n", r);
      CHECK(r == 0 || r == 2);
      if (held) {
        kill(holder, SIGKILL);
        close(hp[1]);
        waitpid(holder, NULL, 0);
      }
    }
  }
  remove_tree(tp.dir);
}

/* ---- creation --------------------------------------------------------------- */

static void test_leftover_tmp(void) {
  test_paths tp = temp_paths();
  int p[2];
  REQUIRE(pipe(p) == 0);
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) != 0) _exit(3);
    h5tx_store_opts o;
    h5tx_store_opts_init(&o);
    o.create = 1;
    h5tx_store *s;
    if (h5tx_store_open(tp.store, &o, &s, &e)) {
      fprintf(stderr, "create after a crashed creation by the same pid: %s\n", e.msg);
      _exit(1);
    }
    h5tx_store_close(s);
    _exit(0);
  }
  close(p[0]);
  /* What a crashed creation by a process with this pid left behind. */
  char tmp[800];
  snprintf(tmp, sizeof tmp, "%s/.t.h5tx.tmp-%d", tp.dir, (int)pid);
  REQUIRE(mkdir(tmp, 0755) == 0);
  close(p[1]);
  int st;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  remove_tree(tp.dir);
}

/* ---- modes, groups, other users ---------------------------------------------- */

#define GROUP 64110
#define MEMBER 64111
#define OTHER 64112

static int create_umask(void *arg) {
  umask(002);
  h5tx_store *s = open_store(arg, 4096, 0);
  put_text(s, "a.h5", "shared", H5TX_HEAD);
  h5tx_store_close(s);
  return 0;
}

static int member_writes(void *arg) {
  gid_t g = GROUP;
  if (setgroups(1, &g) != 0 || setgid(OTHER) != 0 || setuid(MEMBER) != 0) return 3;
  umask(002);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  h5tx_store *s;
  if (h5tx_store_open(arg, &o, &s, &e)) {
    fprintf(stderr, "group member: open: %s\n", e.msg);
    return 1;
  }
  h5tx_error e2 = {0};
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  if (h5tx_writer_open(s, "b.h5", &wo, &w, &e2) || h5tx_writer_write(w, 0, "member", 6, &e2) ||
      h5tx_writer_commit(w, "member", NULL, &e2)) {
    fprintf(stderr, "group member: write: %s\n", e2.msg);
    return 1;
  }
  h5tx_writer_close(w);
  h5tx_store_close(s);
  return 0;
}

static int other_reads(void *arg) {
  gid_t g = OTHER;
  if (setgroups(1, &g) != 0 || setgid(OTHER) != 0 || setuid(OTHER) != 0) return 3;
  int rc;
  h5tx_store *s = open_ro(arg, &rc);
  if (rc == 0) { /* reading works: then every revision must read */
    h5tx_snap *sn;
    char buf[8] = {0};
    rc = h5tx_snap_open(s, 1, &sn, &e) || h5tx_snap_read(sn, "a.h5", 0, buf, 6, &e);
    if (rc || strcmp(buf, "shared") != 0) return 1;
    h5tx_snap_close(sn);
    h5tx_store_close(s);
    return 0;
  }
  printf("  other user: %s\n", e.msg);
  /* Otherwise the message names the file and the missing permission. */
  return strstr(e.msg, "lock.mdb") && strstr(e.msg, "write permission") ? 0 : 1;
}

static int mode_of(const char *dir, const char *name) {
  char p[800];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void test_modes(void) {
  test_paths tp = temp_paths();
  REQUIRE(chmod(tp.dir, 0755) == 0);
  CHECK(in_child(create_umask, tp.store, 60) == 0);
  const char *files[] = {"h5tx-store", "index/data.mdb", "index/lock.mdb"};
  CHECK(mode_of(tp.store, ".") == 0775);
  for (int i = 0; i < 3; i++) {
    int m = mode_of(tp.store, files[i]);
    if (m != 0664) fprintf(stderr, "  %s has mode %o under umask 002, want 664\n", files[i], m);
    CHECK(m == 0664);
  }
  if (geteuid() != 0) {
    printf("group sharing: SKIPPED (needs root to run as other users)\n");
    remove_tree(tp.dir);
    return;
  }
  remove_tree(tp.store);
  /* A setgid directory of the group: the store and its files get the group. */
  REQUIRE(chown(tp.dir, 0, GROUP) == 0 && chmod(tp.dir, 02775) == 0);
  CHECK(in_child(create_umask, tp.store, 60) == 0);
  for (int i = 0; i < 3; i++) {
    char p[800];
    snprintf(p, sizeof p, "%s/%s", tp.store, files[i]);
    struct stat st;
    CHECK(stat(p, &st) == 0 && st.st_gid == GROUP);
  }
  CHECK(in_child(member_writes, tp.store, 60) == 0);
  CHECK(in_child(other_reads, tp.store, 60) == 0);
  remove_tree(tp.dir);
}

/* ---- killed readers ----------------------------------------------------------- */

static void test_killed_readers(void) {
  test_paths tp = temp_paths();
  make_store(tp.store);
  /* This process keeps the store open throughout, so LMDB never starts a
   * fresh reader table; then more readers are killed than it has slots
   * (1022). */
  int rc0;
  h5tx_store *keep = open_ro(tp.store, &rc0);
  REQUIRE(rc0 == 0);
  h5tx_rev head0;
  OK(h5tx_store_head(keep, &head0, &e));
  for (int i = 0; i < 1100; i++) {
    int p[2];
    REQUIRE(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(p[0]);
      int rc;
      h5tx_store *s = open_ro(tp.store, &rc);
      h5tx_rev head;
      if (rc || h5tx_store_head(s, &head, &e)) {
        if (write(p[1], "x", 1) != 1) _exit(3);
        fprintf(stderr, "  reader %d: %s\n", i, e.msg);
        _exit(1);
      }
      if (write(p[1], "r", 1) != 1) _exit(3);
      pause();
      _exit(0);
    }
    close(p[1]);
    char c = 0;
    REQUIRE(read(p[0], &c, 1) == 1);
    close(p[0]);
    kill(pid, SIGKILL);
    REQUIRE(waitpid(pid, NULL, 0) == pid);
    if (c != 'r') {
      fprintf(stderr, "  reader %d of killed readers failed\n", i);
      CHECK(c == 'r');
      break;
    }
  }
  h5tx_store_close(keep);
  remove_tree(tp.dir);
}

int main(void) {
  test_marker();
  test_unreadable_marker();
  test_missing_data();
  test_truncated_data();
  test_damaged_meta();
  test_truncated_lock();
  test_leftover_tmp();
  test_modes();
  test_killed_readers();
  return check_done("core_storefiles");
}
