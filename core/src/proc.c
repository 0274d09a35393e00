/* proc.c - this process's identity (pid, host name) and the test hook that
 * stops it between the steps of a protocol. */
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static h5tx__proc self;
static pid_t self_pid;
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;

const h5tx__proc *h5tx__proc_self(void) {
  pthread_mutex_lock(&self_lock);
  pid_t now = getpid();
  if (self_pid != now) {
    self.pid = (uint32_t)now;
    if (gethostname(self.host, sizeof self.host) != 0) strcpy(self.host, "unknown");
    self.host[sizeof self.host - 1] = 0;
    self_pid = now;
  }
  pthread_mutex_unlock(&self_lock);
  return &self;
}

void h5tx__test_stop(const char *point) {
  const char *v = getenv("H5TX_TEST_STOP");
  const char *fds = v ? strchr(v, ':') : NULL;
  if (!fds) return;
  size_t n = strlen(point);
  const char *p = v;
  while (p < fds && !(strncmp(p, point, n) == 0 && (p[n] == ':' || p[n] == ',')))
    p = strchr(p, ',') ? strchr(p, ',') + 1 : fds;
  if (p >= fds) return;
  int wfd, rfd;
  if (sscanf(fds + 1, "%d:%d", &wfd, &rfd) != 2) return;
  char c = 'S';
  if (write(wfd, &c, 1) != 1) return;
  while (read(rfd, &c, 1) < 0 && errno == EINTR) {
  }
}
