/* proc.c - process identity and liveness from /proc, for leases and pins. */
#include "proc.h"

#include "codec.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static h5tx__proc self;
static pid_t self_pid;
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t h5tx__proc_start(uint32_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%u/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  /* Field 2 (comm) may hold spaces and ')': skip to the last ')'. */
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  /* A zombie (Z) or dead (X) process can no longer write or read. */
  if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X')) return 0;
  /* After ')': field 3 is state; starttime is field 22, i.e. the 20th
   * space-separated token from here. */
  unsigned long long v = 0;
  int field = 2;
  char *save = NULL;
  for (char *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    if (++field == 22) {
      sscanf(t, "%llu", &v);
      break;
    }
  }
  return v;
}

static uint64_t boot_hash(void) {
  char buf[64] = {0};
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  while (n && (buf[n - 1] == '\n'))
    n--;
  return h5tx__hash(buf, n);
}

const h5tx__proc *h5tx__proc_self(void) {
  pthread_mutex_lock(&self_lock);
  pid_t now = getpid();
  if (self_pid != now) {
    self.pid = (uint32_t)now;
    self.start = h5tx__proc_start(self.pid);
    self.boot = boot_hash();
    if (gethostname(self.host, sizeof self.host) != 0) strcpy(self.host, "unknown");
    self.host[sizeof self.host - 1] = 0;
    self_pid = now;
  }
  pthread_mutex_unlock(&self_lock);
  return &self;
}

int h5tx__proc_alive(uint32_t pid, uint64_t start, uint64_t boot, const char *host) {
  const h5tx__proc *me = h5tx__proc_self();
  if (host && strcmp(host, me->host) != 0) return 1; /* cannot check */
  if (boot != me->boot) return 0;                    /* rebooted since */
  if (pid == 0) return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
  uint64_t s = h5tx__proc_start(pid);
  if (s == 0) return 0; /* vanished (or zombie reaped) */
  return s == start;
}
