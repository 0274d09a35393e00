/* test_sharedfs.c - a store on a file system whose locks may not reach
 * across hosts is refused, by open and by create, with a message naming
 * the file system and why. The file system is a real FUSE mount
 * (fuse_dirfs.c); SKIPPED where this process may not mount FUSE. */
#include "check.h"

#include <signal.h>
#include <sys/vfs.h>
#include <sys/wait.h>

static h5tx_error e;

#define FUSE_MAGIC 0x65735546

static int on_fuse(const char *dir) {
  struct statfs fs;
  return statfs(dir, &fs) == 0 && (unsigned)fs.f_type == FUSE_MAGIC;
}

int main(void) {
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    printf("core_sharedfs: SKIPPED (no usable /dev/fuse)\n");
    return 77;
  }
  test_paths tp = temp_paths();
  char mnt[700];
  snprintf(mnt, sizeof mnt, "%s/mnt", tp.dir);
  REQUIRE(mkdir(mnt, 0755) == 0);
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl(H5TX_FUSE_DIRFS, H5TX_FUSE_DIRFS, mnt, (char *)NULL);
    _exit(127);
  }
  /* Wait (with a deadline) for the mount to appear, or the helper to fail. */
  int mounted = 0;
  for (int i = 0; i < 1000 && !mounted; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      printf("core_sharedfs: SKIPPED (cannot mount FUSE here: helper exited %d)\n",
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      remove_tree(tp.dir);
      return 77;
    }
    mounted = on_fuse(mnt);
    if (!mounted) {
      struct timespec d = {0, 10 * 1000 * 1000};
      nanosleep(&d, NULL);
    }
  }
  REQUIRE(mounted);

  char store[800], fresh[800];
  snprintf(store, sizeof store, "%s/s.h5tx", mnt);
  snprintf(fresh, sizeof fresh, "%s/new.h5tx", mnt);
  h5tx_store *s = NULL;
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  unsetenv("H5TX_ALLOW_SHARED_FS");
  FAILS(h5tx_store_open(store, &o, &s, &e), H5TX_EINVAL, "fuse");
  printf("  open: %s\n", e.msg);
  CHECK(strstr(e.msg, "one host") != NULL);
  CHECK(strstr(e.msg, mnt) != NULL); /* names where it is mounted */
  o.create = 1;
  FAILS(h5tx_store_open(fresh, &o, &s, &e), H5TX_EINVAL, "one host");
  printf("  create: %s\n", e.msg);
  /* The escape hatch for a FUSE file system that is local after all. */
  setenv("H5TX_ALLOW_SHARED_FS", "1", 1);
  o.create = 0;
  FAILS(h5tx_store_open(store, &o, &s, &e), H5TX_EFORMAT, "marker");
  unsetenv("H5TX_ALLOW_SHARED_FS");

  int st;
  char cmd[2000];
  snprintf(cmd, sizeof cmd, "fusermount3 -u '%s'", mnt);
  if (system(cmd) != 0) kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
  remove_tree(tp.dir);
  return check_done("core_sharedfs");
}
