/* progress.h - the h5tx command's progress bar on stderr: percentage,
 * amount, throughput and ETA for long operations, drawn only when stderr is
 * a terminal. */
#ifndef H5TX_CLI_PROGRESS_H
#define H5TX_CLI_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

typedef struct cli_progress {
  int on;            /* stderr is a terminal: draw */
  const char *label; /* "import", "verify" */
  int bytes;         /* amounts are bytes (else counts) */
  uint64_t done, total;
  double start, last;
  int drawn; /* a line is on the screen */
  pthread_mutex_t lock;
  pthread_t ticker; /* redraws a busy indicator (cli_progress_busy) */
  int ticking, stop;
} cli_progress;

/** Start a bar for `total` units (0: unknown, shows amount and rate only);
 * `bytes` says whether the units are bytes. Draws nothing unless stderr is
 * a terminal. */
void cli_progress_start(cli_progress *p, const char *label, uint64_t total, int bytes);

/** Report `done` of `total` units (total 0: keep the one given before).
 * Redraws at most ten times a second. */
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total);

/** For an operation that reports no progress: show the label and the time
 * it has been running, redrawn by a thread until cli_progress_end(). */
void cli_progress_busy(cli_progress *p, const char *label);

/** Erase the line, so other output can go to the terminal; the next update
 * draws it again. */
void cli_progress_clear(cli_progress *p);

/** Erase the line and stop. */
void cli_progress_end(cli_progress *p);

#endif /* H5TX_CLI_PROGRESS_H */
