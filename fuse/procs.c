/* procs.c - what the daemon learns about the processes that call it, from
 * /proc (of the daemon's PID namespace, in which FUSE numbers callers):
 * the process (thread group) of a calling thread, whether it is exiting and
 * whether a signal killed it, and whether it still holds a descriptor of
 * one of the mount's inodes. The commit rule (writers.c) is built on these;
 * the README ("When a close commits") says what they cannot see. */
#include "fs_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_EXITING_FLAG 0x00000004u /* include/linux/sched.h */
#define PF_SIGNALED_FLAG 0x00000400u

/* Read small file `path` into `buf` (NUL-terminated). Returns its length,
 * or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  return (ssize_t)n;
}

/* The value after `key` at the start of a line of `text`, or NULL. */
static const char *field(const char *text, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, key, kl) == 0) return p + kl;
  return NULL;
}

int h5tx_fuse__proc_get(pid_t tid, h5tx_fuse__proc *out) {
  memset(out, 0, sizeof *out);
  if (tid <= 0) return -1; /* a caller outside the daemon's PID namespace */
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  const char *tg = field(buf, "Tgid:"), *uid = field(buf, "Uid:");
  if (!tg) return -1;
  out->tgid = (pid_t)strtol(tg, NULL, 10);
  unsigned long r = 0, e = 0, s = 0;
  int uids = uid && sscanf(uid, "%lu %lu %lu", &r, &e, &s) == 3;
  /* /proc/PID/stat shows exit_code only to a caller that may ptrace the
   * task (ptrace_may_access): the same user, or root. */
  uid_t me = geteuid();
  int may_see_code = me == 0 || (uids && r == me && e == me && s == me);

  snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  const char *p = strrchr(buf, ')'); /* after the command name */
  if (!p) return -1;
  /* fields from 3 (state) on; flags is field 9, exit_code field 52 */
  unsigned long flags = 0;
  long exit_code = 0;
  int nf = 3;
  for (p++; *p && nf <= 52; nf++) {
    while (*p == ' ')
      p++;
    if (nf == 9) flags = strtoul(p, NULL, 10);
    if (nf == 52) exit_code = strtol(p, NULL, 10);
    while (*p && *p != ' ')
      p++;
  }
  out->exiting = (flags & PF_EXITING_FLAG) != 0;
  if (out->exiting) {
    /* exit_code is waitpid()'s status: a signal number in its low bits.
     * Where it cannot be seen, PF_SIGNALED says a fatal signal took this
     * thread (also a thread killed by another thread's exit_group). */
    if (may_see_code && nf > 52)
      out->killed = (exit_code & 0x7f) != 0;
    else
      out->killed = (flags & PF_SIGNALED_FLAG) != 0;
  }
  out->known = 1;
  return 0;
}

/* The device (major:minor) of mount `mnt_id` in /proc/TID/mountinfo. */
static int mount_dev(pid_t tid, long mnt_id, unsigned *major, unsigned *minor) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)tid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  char line[4096];
  int rc = -1;
  while (rc && fgets(line, sizeof line, f)) {
    long id;
    unsigned ma, mi;
    if (sscanf(line, "%ld %*d %u:%u", &id, &ma, &mi) == 3 && id == mnt_id) {
      *major = ma;
      *minor = mi;
      rc = 0;
    }
  }
  fclose(f);
  return rc;
}

int h5tx_fuse__proc_holds(pid_t tid, const h5tx_fuse__mountid *m, const uint64_t *inos, size_t n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fdinfo", (int)tid);
  DIR *d = opendir(path);
  if (!d) return -1;
  int found = 0;
  struct dirent *de;
  while (!found && (de = readdir(d))) {
    if (!isdigit((unsigned char)de->d_name[0])) continue;
    char fpath[320], buf[1024];
    snprintf(fpath, sizeof fpath, "%s/%s", path, de->d_name);
    if (read_small(fpath, buf, sizeof buf) <= 0) continue; /* closed meanwhile */
    const char *mi = field(buf, "mnt_id:"), *in = field(buf, "ino:");
    if (!mi || !in) continue;
    long mnt_id = strtol(mi, NULL, 10);
    uint64_t ino = strtoull(in, NULL, 10);
    int ours = 0;
    for (size_t i = 0; i < n && !ours; i++)
      ours = inos[i] == ino;
    if (!ours) continue;
    /* the same inode number on another file system is not ours: the
     * mount's device decides, through the caller's own mount table (a
     * mount namespace numbers its mounts anew) */
    unsigned ma, mn;
    if (mnt_id == m->mnt_id ||
        (mount_dev(tid, mnt_id, &ma, &mn) == 0 && ma == m->major && mn == m->minor))
      found = 1;
  }
  closedir(d);
  return found;
}

int h5tx_fuse__mountid_of(const char *mnt, h5tx_fuse__mountid *out) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return -1;
  char line[8192];
  int rc = -1;
  while (fgets(line, sizeof line, f)) {
    long id;
    unsigned ma, mi;
    char point[4096];
    if (sscanf(line, "%ld %*d %u:%u %*s %4095s", &id, &ma, &mi, point) != 4) continue;
    h5tx_fuse__unescape(point);
    if (strcmp(point, mnt) != 0 || !strstr(line, " - fuse.h5tx ")) continue;
    out->mnt_id = id; /* the last one: mounted over any before it */
    out->major = ma;
    out->minor = mi;
    rc = 0;
  }
  fclose(f);
  return rc;
}
