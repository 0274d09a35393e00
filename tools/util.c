/* util.c - the h5tx command's shared plumbing: option parsing, synopses,
 * usage and error reports, STORE.h5tx/NAME@REV names, opening stores,
 * revision specs, tags, numbers, sizes and dates, and catching signals. */
#include "cli.h"
#include "out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- reports ------------------------------------------------------------- */

void cli_synopsis(const cli_cmd *cmd, FILE *f, const char *lead) {
  const char *p = cmd->synopsis;
  while (*p) {
    const char *e = strchr(p, '\n');
    int n = e ? (int)(e - p) : (int)strlen(p);
    fprintf(f, "%s h5tx %s %.*s\n", lead, cmd->name, n, p);
    lead = "      ";
    if (!e) break;
    p = e + 1;
  }
}

/* ---- errors as JSON (--json) -------------------------------------------- */

/* Under --json, failures are kept here and reported at exit as one JSON
 * document on stderr: the first failure's code, every message joined. */
static int json_errors;
static const char *err_code; /* first failure's code: "H5TX_E...", "usage" */
static char *err_text;       /* messages, "; "-separated */

void cli_json_errors_begin(void) { json_errors = 1; }

/* Keep (under --json) or print a message of a failure with code `code`. */
static void report(const char *code, const char *fmt, va_list ap) {
  if (!json_errors) {
    fputs("h5tx: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return;
  }
  if (!err_code) err_code = code;
  char *msg = NULL, *all = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) return;
  if (err_text && asprintf(&all, "%s; %s", err_text, msg) >= 0) {
    free(msg);
    msg = all;
  }
  if (err_text && !all) { /* out of memory: keep what we had */
    free(msg);
    return;
  }
  free(err_text);
  err_text = msg;
}

int cli_json_errors_end(int rc) {
  if (!json_errors || !err_text) return rc;
  if (rc == CLI_OK) { /* a warning after success: as text */
    fprintf(stderr, "h5tx: %s\n", err_text);
  } else {
    cli_json j;
    cli_json_init(&j, stderr);
    cli_json_object(&j, NULL);
    cli_json_object(&j, "error");
    cli_json_str(&j, "code", err_code ? err_code : rc == CLI_USAGE ? "usage" : "failed");
    cli_json_i64(&j, "exit", rc);
    cli_json_str(&j, "message", err_text);
    cli_json_end(&j);
    cli_json_end(&j);
  }
  free(err_text);
  err_text = NULL;
  return rc;
}

int cli_usage(const cli_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (json_errors) {
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) >= 0) {
      cli_fail_code("usage", "%s: %s", cmd->name, msg);
      free(msg);
    }
    va_end(ap);
    return CLI_USAGE;
  }
  fprintf(stderr, "h5tx: %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  cli_synopsis(cmd, stderr, "usage:");
  fprintf(stderr, "Try 'h5tx help %s'.\n", cmd->name);
  return CLI_USAGE;
}

int cli_fail_code(const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(code, fmt, ap);
  va_end(ap);
  return CLI_FAIL;
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(NULL, fmt, ap);
  va_end(ap);
  return CLI_FAIL;
}

int cli_fail_h5(const h5tx_error *e) {
  cli_fail_code(h5tx_strerror(e->code), "%s", e->msg[0] ? e->msg : h5tx_strerror(e->code));
  return e->code == H5TX_EINVAL ? CLI_USAGE : CLI_FAIL;
}

int cli_fail_rc(int rc, const h5tx_error *e) {
  return rc == H5TX_ENOMEM ? cli_fail_code("H5TX_ENOMEM", "out of memory") : cli_fail_h5(e);
}

/* ---- did you mean -------------------------------------------------------- */

/* Edit distance with adjacent transpositions ("lgo" is one from "log"),
 * capped: anything above 3 reads as 4. */
static size_t distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 64 || m > 64) return 4;
  size_t d[65][65];
  for (size_t i = 0; i <= n; i++)
    d[i][0] = i;
  for (size_t k = 0; k <= m; k++)
    d[0][k] = k;
  for (size_t i = 1; i <= n; i++)
    for (size_t k = 1; k <= m; k++) {
      size_t c = d[i - 1][k - 1] + (a[i - 1] != b[k - 1]);
      if (d[i - 1][k] + 1 < c) c = d[i - 1][k] + 1;
      if (d[i][k - 1] + 1 < c) c = d[i][k - 1] + 1;
      if (i > 1 && k > 1 && a[i - 1] == b[k - 2] && a[i - 2] == b[k - 1] && d[i - 2][k - 2] + 1 < c)
        c = d[i - 2][k - 2] + 1;
      d[i][k] = c;
    }
  return d[n][m] > 3 ? 4 : d[n][m];
}

const char *cli_suggest(const char *word, const char *const *cands, size_t n) {
  size_t len = strlen(word), best_d = 4;
  const char *best = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!cands[i] || strcmp(cands[i], word) == 0) continue;
    size_t d = distance(word, cands[i]);
    /* A prefix of at least two characters ("imp") counts as one edit. */
    if (d > 1 && len >= 2 && strncmp(cands[i], word, len) == 0) d = 1;
    if (d < best_d) {
      best_d = d;
      best = cands[i];
    }
  }
  return best_d <= (len <= 3 ? 1u : 2u) ? best : NULL;
}

/* ---- options ------------------------------------------------------------- */

const cli_opt cli_json_opts[] = {{"json", 0, 0}, {NULL, 0, 0}};

static int find_long(const cli_opt *opts, const char *name, size_t n) {
  for (int i = 0; opts && opts[i].name; i++)
    if (strlen(opts[i].name) == n && strncmp(opts[i].name, name, n) == 0) return i;
  return -1;
}

static int find_short(const cli_opt *opts, char c) {
  for (int i = 0; opts && opts[i].name; i++)
    if (opts[i].short_name == c) return i;
  return -1;
}

/* Report unknown option `a` (its first `n` bytes), with the nearest known
 * one. */
static int unknown_option(const cli_cmd *cmd, const cli_opt *opts, const char *a, size_t n) {
  char word[128];
  snprintf(word, sizeof word, "%.*s", (int)(n < 100 ? n : 100), a);
  const char *names[CLI_MAX_OPTS + 1];
  char bufs[CLI_MAX_OPTS + 1][64];
  size_t k = 0;
  for (int i = 0; opts && opts[i].name && k < CLI_MAX_OPTS; i++, k++) {
    snprintf(bufs[k], sizeof bufs[k], "--%s", opts[i].name);
    names[k] = bufs[k];
  }
  names[k++] = "--help";
  const char *near = cli_suggest(word, names, k);
  if (near) return cli_usage(cmd, "unknown option '%s'; did you mean '%s'?", word, near);
  return cli_usage(cmd, "unknown option '%s'", word);
}

int cli_parse(const cli_cmd *cmd, const cli_opt *opts, int min_pos, int max_pos, int argc,
              char **argv, cli_args *out) {
  memset(out, 0, sizeof *out);
  int only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || a[1] == 0) {
      if (out->npos >= max_pos || out->npos >= CLI_MAX_POS)
        return cli_usage(cmd, "unexpected argument '%s'", a);
      out->pos[out->npos++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      cli_help(cmd, stdout);
      return CLI_OK;
    }
    int k;
    const char *inline_val = NULL;
    if (a[1] == '-') {
      const char *eq = strchr(a + 2, '=');
      k = find_long(opts, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
      if (k < 0) return unknown_option(cmd, opts, a, eq ? (size_t)(eq - a) : strlen(a));
      if (eq) inline_val = eq + 1;
    } else {
      k = a[2] == 0 ? find_short(opts, a[1]) : -1;
      if (k < 0) return cli_usage(cmd, "unknown option '%s'", a);
    }
    const cli_opt *o = &opts[k];
    if (o->has_arg) {
      if (!inline_val) {
        if (i + 1 >= argc) return cli_usage(cmd, "option '--%s' needs a value", o->name);
        inline_val = argv[++i];
      }
    } else if (inline_val) {
      return cli_usage(cmd, "option '--%s' takes no value", o->name);
    }
    if (out->set[k]) return cli_usage(cmd, "option '--%s' given twice", o->name);
    out->set[k] = 1;
    out->val[k] = inline_val;
  }
  if (out->npos < min_pos) {
    if (out->npos == 0) return cli_usage(cmd, "missing arguments");
    return cli_usage(cmd, "missing arguments after '%s'", out->pos[out->npos - 1]);
  }
  return -1;
}

/* ---- names --------------------------------------------------------------- */

void cli_target_free(cli_target *t) {
  free(t->store);
  free(t->name);
  free(t->rev);
  memset(t, 0, sizeof *t);
}

int cli_target_parse(const cli_cmd *cmd, const char *arg, unsigned want, cli_target *t) {
  memset(t, 0, sizeof *t);
  const char *store_end = NULL;
  for (const char *p = arg; *p;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    const char *at = memchr(p, '@', n);
    size_t m = at ? (size_t)(at - p) : n; /* the part before any '@' */
    if (m > 5 && memcmp(p + m - 5, ".h5tx", 5) == 0) {
      store_end = p + m;
      break;
    }
    if (!slash) break;
    p = slash + 1;
  }
  if (!store_end)
    return cli_usage(cmd, "'%s' names no store (expected STORE.h5tx%s%s)", arg,
                     want & CLI_T_NAME      ? "/NAME"
                     : want & CLI_T_NAME_OK ? "[/NAME]"
                                            : "",
                     want & CLI_T_REV_OK ? "[@REV]" : "");
  const char *rest = store_end;
  while (*rest == '/')
    rest++;
  const char *at = strchr(rest, '@');
  size_t name_len = at ? (size_t)(at - rest) : strlen(rest);
  if (at && !at[1])
    return cli_usage(cmd, "'%s': nothing after '@' (expected a revision or tag)", arg);
  if (at && strchr(at + 1, '@'))
    return cli_usage(cmd, "'%s': more than one '@' (the revision goes last)", arg);
  if (at && strchr(at + 1, '/'))
    return cli_usage(cmd, "'%s': '/' after '@' (the revision goes last: STORE.h5tx/NAME@REV)", arg);
  if (name_len && !(want & (CLI_T_NAME | CLI_T_NAME_OK)))
    return cli_usage(cmd, "'%s': expected a store, not a file in it", arg);
  if (!name_len && (want & CLI_T_NAME))
    return cli_usage(cmd, "'%s' names a store, not a file in it (expected STORE.h5tx/NAME)", arg);
  if (at && !(want & CLI_T_REV_OK))
    return cli_usage(cmd, "'%s': a revision ('@%s') makes no sense here", arg, at + 1);
  t->store = strndup(arg, (size_t)(store_end - arg));
  if (name_len) t->name = strndup(rest, name_len);
  if (at) t->rev = strdup(at + 1);
  if (!t->store || (name_len && !t->name) || (at && !t->rev)) {
    cli_target_free(t);
    cli_fail("out of memory");
    return CLI_FAIL;
  }
  return 0;
}

int cli_name_matches(const char *want, const char *name) {
  if (!want) return 1;
  size_t n = strlen(want);
  if (strncmp(name, want, n) != 0) return 0;
  return name[n] == 0 || name[n] == '/' || (n > 0 && want[n - 1] == '/');
}

int cli_open(const char *path, int writable, h5tx_store **s) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.read_only = !writable;
  h5tx_error e = {0, ""};
  int rc = h5tx_store_open(path, &o, s, &e);
  if (rc == 0) return 0;
  /* A store (it has its marker) whose index is missing or damaged: the
   * page log holds everything, and repair rebuilds the index from it. */
  char marker[4200];
  snprintf(marker, sizeof marker, "%s/h5tx-store", path);
  if (rc == H5TX_ECORRUPT || (rc == H5TX_ENOENT && access(marker, F_OK) == 0))
    return cli_fail_code(h5tx_strerror(rc),
                         "%s ('h5tx repair %s' rebuilds the index from the "
                         "page log)",
                         e.msg, path);
  if (rc == H5TX_ENOENT && writable)
    return cli_fail("%s (create it with 'h5tx init %s')", e.msg, path);
  return cli_fail_h5(&e) == CLI_USAGE ? CLI_USAGE : CLI_FAIL;
}

int cli_names_add(cli_names *l, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    char **v = realloc(l->v, cap * sizeof *v);
    if (!v) return H5TX_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(name))) return H5TX_ENOMEM;
  l->n++;
  return 0;
}

static int add_name(void *arg, const char *name) { return cli_names_add(arg, name); }

int cli_foreign(h5tx_store *s, cli_names *out) {
  memset(out, 0, sizeof *out);
  h5tx_error e = {0, ""};
  int rc = h5tx_store_foreign(s, add_name, out, &e);
  return rc ? cli_fail_rc(rc, &e) : 0;
}

void cli_names_free(cli_names *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

void cli_foreign_print(FILE *f, const char *lead, const char *store, const cli_names *l) {
  for (size_t i = 0; i < l->n; i++)
    fprintf(f, "%sstore %s: %s is not part of the store\n", lead, store, l->v[i]);
  if (l->n)
    fprintf(f,
            "%s%s in no revision and nothing of h5tx reads %s: written into the store's "
            "directory as plain files, e.g. by an HDF5 1.10 program (HDF5 1.10 ignores "
            "HDF5_DRIVER). To keep a file in the store, move it out and 'h5tx import' it.\n",
            lead, l->n == 1 ? "It is" : "They are", l->n == 1 ? "it" : "them");
}

int cli_fail_rev(h5tx_store *s, const char *spec, const h5tx_error *e) {
  if (e->code != H5TX_ENOENT || !spec || cli_parse_u64(spec, &(uint64_t){0}) == 0)
    return cli_fail_h5(e);
  h5tx_common_tags l = {NULL, 0, 0};
  const char **names = NULL;
  const char *near = NULL;
  h5tx_error te = {0, ""};
  if (h5tx_common_tags_load(s, &l, &te) == 0 && (names = calloc(l.n + 1, sizeof *names))) {
    for (size_t i = 0; i < l.n; i++)
      names[i] = l.v[i].name;
    near = cli_suggest(spec, names, l.n);
  }
  int rc = near ? (cli_fail_code(h5tx_strerror(e->code), "%s; did you mean '%s'?", e->msg, near),
                   CLI_FAIL)
                : cli_fail_h5(e);
  free(names);
  h5tx_common_tags_free(&l);
  return rc;
}

int cli_rev(h5tx_store *s, const char *spec, h5tx_rev *rev) {
  h5tx_error e = {0, ""};
  if (h5tx_rev_parse(s, spec ? spec : "head", rev, &e)) return cli_fail_rev(s, spec, &e);
  return 0;
}

int cli_snap(h5tx_store *s, const char *spec, h5tx_snap **snap) {
  h5tx_rev rev = H5TX_HEAD;
  int rc;
  if (spec && strcmp(spec, "head") != 0 && (rc = cli_rev(s, spec, &rev))) return rc;
  h5tx_error e = {0, ""};
  if (h5tx_snap_open(s, rev, snap, &e)) return cli_fail_h5(&e);
  return 0;
}

int cli_rev_record(h5tx_store *s, const char *spec, h5tx_rev *rev) {
  h5tx_error e = {0, ""};
  int rc = h5tx_rev_parse(s, spec ? spec : "head", rev, &e);
  /* A collected revision still has its commit record. */
  if (rc == H5TX_EGONE && spec && cli_parse_u64(spec, rev) == 0) return 0;
  return rc ? cli_fail_rev(s, spec, &e) : 0;
}

int cli_load_tags(h5tx_store *s, h5tx_common_tags *l) {
  h5tx_error e = {0, ""};
  int rc = h5tx_common_tags_load(s, l, &e);
  return rc ? cli_fail_rc(rc, &e) : 0;
}

/* ---- values -------------------------------------------------------------- */

int cli_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s || strspn(s, "0123456789") != strlen(s)) return -1;
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno) return -1;
  *out = v;
  return 0;
}

uint64_t cli_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Does `s` begin with `shape`, where each 'd' stands for one digit? (sscanf's
 * %2d alone would also take " 1" and "+1".) */
static int has_shape(const char *s, const char *shape) {
  for (; *shape; s++, shape++)
    if (*shape == 'd' ? !(*s >= '0' && *s <= '9') : *s != *shape) return 0;
  return 1;
}

int cli_parse_date(const char *s, uint64_t now_ns, uint64_t *out_ns) {
  size_t n = strlen(s);
  /* An age: digits and one unit. */
  if (n >= 2 && strspn(s, "0123456789") == n - 1) {
    uint64_t unit;
    switch (s[n - 1]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return -1;
    }
    char num[32];
    if (n - 1 >= sizeof num) return -1;
    memcpy(num, s, n - 1);
    num[n - 1] = 0;
    uint64_t v;
    if (cli_parse_u64(num, &v) || v > UINT64_MAX / unit / 1000000000u) return -1;
    uint64_t age = v * unit * 1000000000u;
    *out_ns = age >= now_ns ? 1 : now_ns - age; /* 0 would mean "no time limit" */
    return 0;
  }
  /* A UTC date, with or without a time. */
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  int len = 0;
  if (!has_shape(s, "dddd-dd-dd") ||
      sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &len) != 3 || len != 10)
    return -1;
  const char *p = s + len;
  if (*p == 'T' || *p == ' ') {
    int l2 = 0;
    if (!has_shape(p + 1, "dd:dd")) return -1;
    if (!has_shape(p + 1, "dd:dd:dd") ||
        sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &l2) != 3 || l2 != 8) {
      l2 = 0;
      if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &l2) != 2 || l2 != 5) return -1;
    }
    p += 1 + l2;
  }
  if (*p == 'Z') p++;
  if (*p) return -1;
  struct tm want = tm;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  /* timegm normalises 2026-02-30; a date that moved was not a date. */
  if (t < 0 || (uint64_t)t > UINT64_MAX / 1000000000u || tm.tm_year != want.tm_year - 1900 ||
      tm.tm_mon != want.tm_mon - 1 || tm.tm_mday != want.tm_mday || tm.tm_hour != want.tm_hour ||
      tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
    return -1;
  *out_ns = (uint64_t)t * 1000000000u;
  if (*out_ns == 0) *out_ns = 1;
  return 0;
}

/* Apply setting `key` given as option `option`. 0, or CLI_USAGE (reported). */
static int parse_setting(const cli_cmd *cmd, const char *option, const char *key, const char *value,
                         h5tx_config *c) {
  if (strchr(value, ';') || strchr(value, '='))
    return cli_usage(cmd, "%s: bad value '%s'", option, value);
  char text[512];
  snprintf(text, sizeof text, "%s=%s", key, value);
  h5tx_error e = {0, ""};
  if (h5tx_config_parse(text, c, &e) == 0) return 0;
  /* "config key 'K': bad value 'V': why" -> "--option: bad value 'V': why" */
  const char *msg = strstr(e.msg, "bad value");
  return cli_usage(cmd, "%s: %s", option, msg ? msg : e.msg);
}

int cli_parse_store_opts(const cli_cmd *cmd, const cli_args *a, int first, h5tx_config *c) {
  static const char *const settings[][2] = {
      {"--page-size", "page_size"}, {"--codec", "codec"}, {"--durability", "durability"}};
  for (int i = 0; i < 3; i++) {
    if (!a->set[first + i]) continue;
    int rc = parse_setting(cmd, settings[i][0], settings[i][1], a->val[first + i], c);
    if (rc) return rc;
  }
  return 0;
}

const char *cli_bytes(char buf[32], uint64_t n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) {
    snprintf(buf, 32, "%llu B", (unsigned long long)n);
    return buf;
  }
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    u++;
  }
  if (v == (double)(uint64_t)v) /* exact: "64 KiB", not "64.0 KiB" */
    snprintf(buf, 32, "%.0f %s", v, units[u]);
  else
    snprintf(buf, 32, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

/* ---- signals ------------------------------------------------------------- */

volatile sig_atomic_t cli_interrupted;

/* The first signal asks the operation to stop cleanly; a second one (say,
 * during a long commit, which is atomic anyway) ends the process. */
static void on_signal(int sig) {
  cli_interrupted = sig;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(sig, &sa, NULL);
}

void cli_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

void cli_test_stop(const char *point) {
  const char *want = getenv("H5TX_TEST_STOP");
  if (want && strcmp(want, point) == 0) raise(SIGSTOP);
}
