/* cli.h - what the modules of the h5tx command share: exit codes, the
 * command table entry, argument parsing, store names (STORE.h5tx/NAME@REV),
 * opening stores, resolving revisions, loading tags, error reporting,
 * number, size and date formats, and interruption by signals. Uses only the
 * public h5tx.h and common/ (h5tx_common.h: tags and times, shared with
 * h5tx mount). */
#ifndef H5TX_CLI_H
#define H5TX_CLI_H

#include "h5tx.h"
#include "h5tx_common.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/** Exit codes: documented in `h5tx --help` and the README. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_cmd cli_cmd;

/** One subcommand. `run` gets argv[0] = the command name. */
struct cli_cmd {
  const char *name;
  int (*run)(const cli_cmd *cmd, int argc, char **argv);
  const char *synopsis; /**< forms after "h5tx NAME", one per line */
  const char *summary;  /**< one line for `h5tx --help` */
  const char *help;     /**< description and options for `h5tx NAME --help` */
};

/** The subcommands, defined in cmd_*.c. */
extern const cli_cmd cli_cmd_init, cli_cmd_import, cli_cmd_export, cli_cmd_ls, cli_cmd_log,
    cli_cmd_show, cli_cmd_tag, cli_cmd_tags, cli_cmd_diff, cli_cmd_gc, cli_cmd_verify,
    cli_cmd_stats, cli_cmd_mount, cli_cmd_umount, cli_cmd_rm, cli_cmd_mv, cli_cmd_cp,
    cli_cmd_restore, cli_cmd_revert, cli_cmd_upgrade, cli_cmd_repair, cli_cmd_backup;

/** Print the full help of `cmd` to `f`. */
void cli_help(const cli_cmd *cmd, FILE *f);

/** Print the forms of `cmd`, one a line: "LEAD h5tx NAME FORM", the lines
 * after the first indented as far as `lead` (six characters: "Usage:"). */
void cli_synopsis(const cli_cmd *cmd, FILE *f, const char *lead);

/* ---- arguments ---------------------------------------------------------- */

/** An option a command accepts: "--name", "-c" (short, 0 for none). */
typedef struct cli_opt {
  const char *name;
  char short_name;
  int has_arg;
} cli_opt;

#define CLI_MAX_OPTS 16
#define CLI_MAX_POS 8

/** The option table of the commands whose only option is --json. */
extern const cli_opt cli_json_opts[];

/** Parsed arguments: per option (index into the command's option table)
 * whether it was given and its value; then the positional arguments. */
typedef struct cli_args {
  int set[CLI_MAX_OPTS];
  const char *val[CLI_MAX_OPTS];
  const char *pos[CLI_MAX_POS];
  int npos;
} cli_args;

/** Parse argv[1..] against `opts` (terminated by a NULL name). Options may
 * come anywhere; "--" ends them; "--opt=VALUE" and "--opt VALUE" both work.
 * "--help"/"-h" print the command's help.
 * @return -1 to go on, or the exit code to return at once (0 after help,
 *  CLI_USAGE after a usage error, already reported) */
int cli_parse(const cli_cmd *cmd, const cli_opt *opts, int min_pos, int max_pos, int argc,
              char **argv, cli_args *out);

/** Report a usage error of `cmd` (message, synopsis, hint); returns CLI_USAGE. */
int cli_usage(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Report a failure: "h5tx: MESSAGE" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Same as cli_fail(), with the code --json reports ("H5TX_ENOENT"). */
int cli_fail_code(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Under --json (main calls this when the arguments hold it), failures are
 * not printed as they happen but kept, and cli_json_errors_end() prints them
 * at exit as one JSON document on stderr: {"error": {code, exit, message}};
 * code is the first failure's ("H5TX_ENOENT", "usage", or "failed"). */
void cli_json_errors_begin(void);

/** Print what cli_json_errors_begin() kept (a warning after success stays
 * text). Returns `rc`. */
int cli_json_errors_end(int rc);

/** The candidate nearest to `word` (a typo: an edit or two, or a prefix),
 * or NULL when none is near. */
const char *cli_suggest(const char *word, const char *const *cands, size_t n);

/** Report an h5tx error; returns CLI_USAGE for H5TX_EINVAL (a malformed
 * name, tag or revision the user gave), CLI_FAIL otherwise. */
int cli_fail_h5(const h5tx_error *e);

/** Report the failure `rc` of an h5tx call that ran a callback of ours:
 * H5TX_ENOMEM, what the callbacks return when they cannot keep a copy, as
 * "out of memory" (CLI_FAIL); anything else as cli_fail_h5(e). */
int cli_fail_rc(int rc, const h5tx_error *e);

/* ---- names -------------------------------------------------------------- */

/** STORE.h5tx[/NAME][@REV], split at the first path part ending in ".h5tx"
 * and then at '@'. */
typedef struct cli_target {
  char *store; /**< the store directory */
  char *name;  /**< file name or prefix inside it, NULL if none */
  char *rev;   /**< revision spec after '@', NULL if none */
} cli_target;

enum {
  CLI_T_NAME = 1,    /**< a file name is required */
  CLI_T_NAME_OK = 2, /**< a file name (or prefix) is allowed */
  CLI_T_REV_OK = 4,  /**< "@REV" is allowed */
};

/** Split `arg` into `t` and check it against `want` (CLI_T_* bits).
 * @return 0, or CLI_USAGE (reported) */
int cli_target_parse(const cli_cmd *cmd, const char *arg, unsigned want, cli_target *t);
void cli_target_free(cli_target *t);

/** Does file `name` match `want` (NULL: everything) as ls and log take it:
 * the name itself or a name under it as a directory ("runs" matches "runs"
 * and "runs/r1.h5", not "runs2")? */
int cli_name_matches(const char *want, const char *name);

/** Open store `path`, read-only unless `writable`. 0, or CLI_FAIL (reported). */
int cli_open(const char *path, int writable, h5tx_store **s);

/** Names collected by cli_foreign(). */
typedef struct cli_names {
  char **v;
  size_t n, cap;
} cli_names;

/** Append a copy of `name` to `l`. 0, or H5TX_ENOMEM. */
int cli_names_add(cli_names *l, const char *name);

/** Collect the entries of store `s`'s directory that are not part of the
 * store (h5tx_store_foreign) into `out` (free with cli_names_free()).
 * 0, or CLI_FAIL (reported). */
int cli_foreign(h5tx_store *s, cli_names *out);
void cli_names_free(cli_names *l);

/** Print one line per foreign entry, "<lead>store S: NAME is not part of
 * the store", and a last line saying what they are, to `f`. */
void cli_foreign_print(FILE *f, const char *lead, const char *store, const cli_names *l);

/** Resolve revision spec `spec` (NULL: head). 0, or the exit code (reported). */
int cli_rev(h5tx_store *s, const char *spec, h5tx_rev *rev);

/** Open a snapshot at revision spec `spec` (NULL: head). Head is pinned
 * before its number is read, so a gc running meanwhile cannot collect it
 * in between. 0, or the exit code (reported). */
int cli_snap(h5tx_store *s, const char *spec, h5tx_snap **snap);

/** Report `e`, the failure of looking up revision spec or tag `spec`: an
 * unknown tag (H5TX_ENOENT) with the nearest existing one, when one is
 * near ("did you mean"). Returns the exit code. */
int cli_fail_rev(h5tx_store *s, const char *spec, const h5tx_error *e);

/** Same as cli_rev(), but a garbage-collected revision is accepted (for
 * commands that read only its commit record: log, show). */
int cli_rev_record(h5tx_store *s, const char *spec, h5tx_rev *rev);

/** Read every tag of `s` into `l` (free it with h5tx_common_tags_free()).
 * 0, or CLI_FAIL (reported). */
int cli_load_tags(h5tx_store *s, h5tx_common_tags *l);

/* ---- values ------------------------------------------------------------- */

/** Parse an unsigned decimal number. 0, or -1. */
int cli_parse_u64(const char *s, uint64_t *out);

/** Parse a --keep-since DATE: "2026-11-21", "2026-11-21T12:00:00" (UTC, an
 * optional trailing "Z"), or an age "7d", "12h", "30m", "90s", "2w" before
 * `now_ns`. 0, or -1. */
int cli_parse_date(const char *s, uint64_t now_ns, uint64_t *out_ns);

/** Apply the store/writer settings given as options ("--page-size 64K",
 * "--codec zstd:9", "--durability nosync") to `c` through h5tx's one config
 * parser: options "page-size", "codec" and "durability" stand at `first`,
 * `first` + 1 and `first` + 2 of the command's option table.
 * 0, or CLI_USAGE (reported, naming the option). */
int cli_parse_store_opts(const cli_cmd *cmd, const cli_args *a, int first, h5tx_config *c);

/** Now, in ns since the epoch (wall clock). */
uint64_t cli_now_ns(void);

/** "1.5 MiB", "512 B": `n` bytes for people. Returns `buf`. */
const char *cli_bytes(char buf[32], uint64_t n);

/* Times for people: h5tx_common_time(), as h5tx mount's log shows them. */

/* ---- interruption ------------------------------------------------------- */

/** Set when SIGINT, SIGTERM or SIGHUP arrived after cli_catch_signals(). */
extern volatile sig_atomic_t cli_interrupted;

/** Catch SIGINT, SIGTERM and SIGHUP (without restarting system calls), so a
 * long operation can stop cleanly and leave nothing half-done. */
void cli_catch_signals(void);

/** Test hook: when $H5TX_TEST_STOP equals `point`, the process stops
 * itself (SIGSTOP) there, so a test can wait for the stop (waitpid with
 * WUNTRACED), send a signal and SIGCONT, and so deliver it at exactly that
 * point without sleeping. Points: "read" (import, after its first chunk),
 * "commit" (import, inside the commit, after its first page), "committed"
 * (import, right after the commit point). */
void cli_test_stop(const char *point);

#endif /* H5TX_CLI_H */
