/* bench_util.h - what the benchmark programs of bench/ share: exiting on
 * errors, option numbers, timing and order statistics, the work directory
 * removed at exit, the float64 test signal, and the machine and command
 * lines of the report headers.
 *
 * Per-program state lives here, set once from main: the program name for
 * messages (bench_init) and the work directory (bench_make_workdir).
 */
#ifndef H5TX_BENCH_UTIL_H
#define H5TX_BENCH_UTIL_H

#include <h5tx.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Name messages start with ("PROGNAME: ..."); call first thing in main. */
void bench_init(const char *name);

/* ---- errors ---------------------------------------------------------------- */

/* Print "PROGNAME: " and the message on stderr, exit 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Exit naming the system call `what` failed on `path`, with errno. */
void bench_die_errno(const char *what, const char *path) __attribute__((noreturn));

/* Print "PROGNAME: " and the message, then `usage`'s text, on stderr; exit 2
 * (a bad command line). */
void bench_usage_error(void (*usage)(FILE *), const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Exit with the h5tx error of a failed call `what` unless rc is 0. */
void bench_check(int rc, const char *what, const h5tx_error *err);

void *bench_xmalloc(size_t n);

/* Fraction (0..1) of the pages of file `path`, or of the regular files in
 * directory `path` (a store's page log), in the page cache (mincore; 0
 * when empty). */
double bench_resident(const char *path);

/* Option value `s` of option `opt` as a non-negative decimal number, with a
 * suffix K or M (KiB, MiB) when `suffixes`; exits on anything else. */
uint64_t bench_parse_num(const char *opt, const char *s, int suffixes);

/* ---- time and statistics ----------------------------------------------------- */

/* Seconds on the monotonic clock. */
double bench_now_s(void);

/* The q-quantile (0..1) of v[0..n) by nearest rank (q 0.5 with even n: the
 * mean of the middle two); v is sorted in place. NAN for n <= 0. */
double bench_quantile(double *v, int n, double q);

/* The median of v[0..n), v untouched. */
double bench_median(const double *v, int n);

/* "median [min-max]" of the per-trial ratios a[t] / b[t], t < n. */
void bench_ratio_cell(char *out, size_t cap, const double *a, const double *b, int n);

/* ---- work directory ------------------------------------------------------------ */

/* Make a fresh directory DIR/PREFIX-XXXXXX (DIR: `dir`, else $TMPDIR, else
 * /tmp), removed with all in it at exit; returns its path. Call once. */
const char *bench_make_workdir(const char *dir, const char *prefix);

/* Remove `path` and everything below it; failures are reported, not fatal. */
void bench_rm_rf(const char *path);

/* ---- data ---------------------------------------------------------------------- */

/* The next number of the splitmix64 generator with state *s. */
uint64_t bench_splitmix64(uint64_t *s);

/* `n` float64 samples of a measured-looking signal starting at sample
 * `t0`: two sines and a slow drift plus Gaussian noise (sd 0.01 on values
 * of ~100), so the high bytes are predictable and the low ones are not. */
void bench_fill_signal(double *x, size_t n, uint64_t t0, uint64_t *rng);

/* The kinds of data a benchmark can write (--data): noisy floats, or
 * compressible values. */
enum { BENCH_DATA_NOISY = 0, BENCH_DATA_COMPRESSIBLE = 1 };

/* Option value `s` of option `opt` ("noisy" or "compressible") as a
 * BENCH_DATA_ kind; exits on anything else. */
int bench_parse_data(const char *opt, const char *s);

/* A few words for the report's data line: "smooth signal + noise", or
 * what the compressible values are. */
const char *bench_data_desc(int kind);

/* `n` float64 samples of kind `kind` starting at sample `t0`: NOISY is
 * bench_fill_signal; COMPRESSIBLE is the same signal made compressible, by
 * 1 MiB region of the sample index in turn: integer-valued (floor),
 * rounded to a quarter, and mostly zero (1 sample in 64 kept). */
void bench_fill_data(int kind, double *x, size_t n, uint64_t t0, uint64_t *rng);

/* ---- report headers -------------------------------------------------------------- */

/* "- machine: ..." line: CPUs, kernel, CPU model, RAM and the file system
 * `dir` is on. */
void bench_print_machine(const char *dir);

/* "- command: `ARGV`" with arguments quoted where needed, no newline. */
void bench_print_command(int argc, char **argv);

#endif
