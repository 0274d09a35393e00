/* pipes.h - a test and the processes it forks: spawn() forks one, say()
 * writes it a line, hear() reads one. Include after check.h. */
#ifndef H5TX_TEST_PIPES_H
#define H5TX_TEST_PIPES_H

#include <stdarg.h>

/* Write one formatted line (end it with "\n") to `fd`. It fails (SIGPIPE
 * ignored) only if the other side died: a failure. */
static inline void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void say(int fd, const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  REQUIRE(n > 0 && (size_t)n < sizeof line);
  CHECK(write(fd, line, (size_t)n) == n);
}

/* Read one line (without its newline) into `line`; 0 at end of file. */
static inline int hear(int fd, char *line, size_t cap) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      line[n] = 0;
      return n > 0;
    }
    if (c == '\n') break;
    if (n + 1 < cap) line[n++] = c;
  }
  line[n] = 0;
  return 1;
}

/* fork() with the stdio buffers flushed first; in the child the failure
 * count starts at 0 and a watchdog kills it after a minute, so a hung child
 * dies and its parent sees it. */
static inline pid_t spawn(void) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    check_failures = 0;
    alarm(60);
  }
  return pid;
}

#endif
