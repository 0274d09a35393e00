/* progress.c - the progress bar of long h5tx commands (import, export, gc,
 * verify): one line on stderr, redrawn in place, erased at the end; nothing
 * at all when stderr is not a terminal. */
#include "progress.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

static void amount(char buf[32], double v, int bytes) {
  if (bytes) {
    cli_bytes(buf, (uint64_t)v);
  } else if (v < 1e4) {
    snprintf(buf, 32, "%.0f", v);
  } else {
    static const char *const sfx[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) {
      v /= 1000;
      i++;
    }
    snprintf(buf, 32, "%.1f%s", v, sfx[i]);
  }
}

static void duration(char buf[32], double s) {
  if (s < 0 || s > 359999) {
    snprintf(buf, 32, "--:--");
    return;
  }
  unsigned t = (unsigned)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, 32, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, 32, "%u:%02u", t / 60, t % 60);
}

/* Draw the line; called with the lock held. */
static void draw(cli_progress *p) {
  double t = now_s(), el = t - p->start;
  char line[512], tail[256], a[32], b[32], r[32], d[32];
  double rate = el > 0.05 ? (double)p->done / el : 0;
  if (p->ticking) {
    duration(d, el);
    snprintf(tail, sizeof tail, "  %s", d);
  } else if (p->total) {
    amount(a, (double)p->done, p->bytes);
    amount(b, (double)p->total, p->bytes);
    if (rate > 0) {
      amount(r, rate, p->bytes);
      duration(d, ((double)p->total - (double)p->done) / rate);
    } else {
      snprintf(r, sizeof r, "-");
      snprintf(d, sizeof d, "--:--");
    }
    snprintf(tail, sizeof tail, " %3u%%  %9s / %-9s %9s/s  ETA %s",
             (unsigned)(p->done >= p->total ? 100 : 100.0 * (double)p->done / (double)p->total), a,
             b, r, d);
  } else {
    amount(a, (double)p->done, p->bytes);
    if (rate > 0)
      amount(r, rate, p->bytes);
    else
      snprintf(r, sizeof r, "-");
    duration(d, el);
    snprintf(tail, sizeof tail, "  %s  %s/s  %s", a, r, d);
  }
  /* The bar's width depends only on the terminal's, so it does not jump
   * as the numbers after it change length. */
  int w = term_width() - 1;
  int room = w - (int)strlen(p->label) - 50 - 3;
  int n = snprintf(line, sizeof line, "\r%s ", p->label);
  if (p->total && !p->ticking && room >= 10) {
    int bar = room > 40 ? 40 : room;
    int fill = p->done >= p->total ? bar : (int)((double)bar * (double)p->done / (double)p->total);
    line[n++] = '[';
    for (int i = 0; i < bar; i++)
      line[n++] = i < fill ? '#' : '.';
    line[n++] = ']';
  } else if (p->ticking) {
    static const char spin[] = "|/-\\";
    line[n++] = spin[(int)(el * 4) % 4];
  }
  snprintf(line + n, sizeof line - (size_t)n, "%s\033[K", tail);
  fputs(line, stderr);
  fflush(stderr);
  p->drawn = 1;
  p->last = t;
}

void cli_progress_start(cli_progress *p, const char *label, uint64_t total, int bytes) {
  memset(p, 0, sizeof *p);
  p->on = isatty(STDERR_FILENO);
  p->label = label;
  p->total = total;
  p->bytes = bytes;
  p->start = now_s();
  pthread_mutex_init(&p->lock, NULL);
}

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total) {
  if (!p->on) return;
  pthread_mutex_lock(&p->lock);
  p->done = done;
  if (total) p->total = total;
  /* The end is always drawn: a short phase shows that it completed. */
  if (now_s() - p->last >= 0.1 || (p->total && done >= p->total)) draw(p);
  pthread_mutex_unlock(&p->lock);
}

static void *tick(void *arg) {
  cli_progress *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    int stop = p->stop;
    if (!stop) draw(p);
    pthread_mutex_unlock(&p->lock);
    if (stop) return NULL;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

void cli_progress_busy(cli_progress *p, const char *label) {
  cli_progress_start(p, label, 0, 0);
  if (!p->on) return;
  /* Drawn once now: a short job must not end before the ticker first runs
   * and leave the terminal without a sign of it. */
  draw(p);
  p->ticking = 1;
  if (pthread_create(&p->ticker, NULL, tick, p) != 0) p->ticking = 0;
}

static void erase(cli_progress *p) {
  if (p->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
  }
}

void cli_progress_clear(cli_progress *p) {
  if (!p->on) return;
  pthread_mutex_lock(&p->lock);
  erase(p);
  p->last = 0; /* draw again at the next update */
  pthread_mutex_unlock(&p->lock);
}

void cli_progress_end(cli_progress *p) {
  if (p->ticking) {
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->ticker, NULL);
    p->ticking = 0;
  }
  if (p->on) erase(p);
  pthread_mutex_destroy(&p->lock);
  p->on = 0;
}
