/* cmd_store.c - h5tx subcommands about a store as a whole: init (create
 * one), gc (let old revisions go), verify (check every stored byte), stats
 * (sizes, compression, sharing, readers, leases). */
#include "cli.h"
#include "out.h"
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- init ---------------------------------------------------------------- */

static const cli_opt init_opts[] = {
    {"page-size", 0, 1}, {"codec", 0, 1}, {"durability", 0, 1}, {NULL, 0, 0}};

static int run_init(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, init_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  h5tx_config cfg;
  h5tx_config_init(&cfg);
  if ((rc = cli_parse_store_opts(cmd, &a, 0, &cfg))) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  struct stat st;
  if (lstat(t.store, &st) == 0) {
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/h5tx-store", t.store);
    rc = access(marker, F_OK) == 0
             ? cli_fail("store %s already exists", t.store)
             : cli_fail("%s already exists (and is not an h5tx store)", t.store);
    cli_target_free(&t);
    return rc;
  }
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = cfg.page_size;
  o.codec = cfg.codec;
  o.level = cfg.level;
  o.durability = cfg.durability;
  h5tx_store *s;
  h5tx_error e = {0, ""};
  if (h5tx_store_open(t.store, &o, &s, &e)) {
    rc = cli_fail_h5(&e);
    cli_target_free(&t);
    return rc;
  }
  h5tx_store_close(s);
  char ps[32], codec[32];
  int cd = cfg.codec >= 0 ? cfg.codec : H5TX_CODEC_LZ4; /* the default for new stores */
  if (cd == H5TX_CODEC_ZSTD)
    snprintf(codec, sizeof codec, "%s:%d", h5tx_codec_name(cd), cfg.level ? cfg.level : 3);
  else
    snprintf(codec, sizeof codec, "%s", h5tx_codec_name(cd));
  printf("created store %s: page size %s, codec %s, durability %s\n", t.store,
         cli_bytes(ps, cfg.page_size ? cfg.page_size : H5TX_DEFAULT_PAGE_SIZE), codec,
         cfg.durability == H5TX_NOSYNC ? "nosync" : "sync");
  cli_target_free(&t);
  return CLI_OK;
}

const cli_cmd cli_cmd_init = {
    "init", run_init, "STORE.h5tx [--page-size SIZE] [--codec CODEC] [--durability MODE]",
    "create a store",
    "Creates an empty store, a directory whose name ends in .h5tx (its parent\n"
    "must exist). Fails if STORE.h5tx exists. The options set the defaults of\n"
    "files created in it later.\n\n"
    "Options:\n"
    "  --page-size SIZE    a power of two, 512 to 16M (64K, 1M; default 64K)\n"
    "  --codec CODEC       none, lz4, zstd or zstd:LEVEL (default lz4; zstd is\n"
    "                      zstd:3)\n"
    "  --durability MODE   sync: a commit is on disk when it returns (default);\n"
    "                      nosync: a power loss may lose the newest commits,\n"
    "                      never the store\n"};

/* ---- live readers (gc, stats) -------------------------------------------- */

typedef struct reader {
  uint32_t pid;
  h5tx_rev rev;
  uint64_t since_ns;
} reader;

typedef struct reader_list {
  reader *v;
  size_t n, cap;
} reader_list;

static int add_reader(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since_ns) {
  reader_list *r = arg;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 16;
    reader *v = realloc(r->v, cap * sizeof *v);
    if (!v) return H5TX_ENOMEM;
    r->v = v;
    r->cap = cap;
  }
  r->v[r->n++] = (reader){pid, rev, since_ns};
  return 0;
}

/* The snapshots open in any process, added to `r` (free r->v). 0, or the
 * exit code (reported). */
static int load_readers(h5tx_store *s, reader_list *r) {
  h5tx_error e = {0, ""};
  int rc = h5tx_readers(s, add_reader, r, &e);
  return rc ? cli_fail_rc(rc, &e) : 0;
}

/* ---- gc ------------------------------------------------------------------ */

static const cli_opt gc_opts[] = {{"keep-last", 0, 1}, {"keep-since", 0, 1}, {"dry-run", 'n', 0},
                                  {"json", 0, 0},      {"drop", 0, 1},       {"file", 0, 1},
                                  {NULL, 0, 0}};
enum { GC_LAST, GC_SINCE, GC_DRY, GC_JSON, GC_DROP, GC_FILE };

/* gc --file NAME --keep-last N: one file's history. */
static int gc_file(const cli_cmd *cmd, const cli_args *a) {
  uint64_t keep = 0;
  if (!a->set[GC_LAST] || a->set[GC_SINCE] || a->set[GC_DROP])
    return cli_usage(cmd, "--file NAME takes --keep-last N (how many of its versions stay) and "
                          "no --keep-since or --drop");
  if (cli_parse_u64(a->val[GC_LAST], &keep) || keep == 0)
    return cli_usage(cmd, "--keep-last: expected a number of versions (1 or more), not '%s'",
                     a->val[GC_LAST]);
  cli_target t;
  int rc = cli_target_parse(cmd, a->pos[0], 0, &t);
  if (rc) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  h5tx_rev cut = 0;
  h5tx_gc_result res;
  int dry = a->set[GC_DRY];
  if ((rc = cli_open(t.store, !dry, &s))) goto out;
  if (h5tx_gc_file(s, a->val[GC_FILE], keep, dry, &cut, &res, &e) != 0) {
    rc = e.code == H5TX_EINVAL ? cli_usage(cmd, "%s", e.msg) : cli_fail_h5(&e);
    goto out;
  }
  char b[32];
  if (a->set[GC_JSON]) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_str(&j, "file", a->val[GC_FILE]);
    cli_json_bool(&j, "dry_run", dry);
    cli_json_u64(&j, "keep_last", keep);
    if (cut)
      cli_json_u64(&j, "history_from", cut);
    else
      cli_json_null(&j, "history_from");
    cli_json_u64(&j, "versions_freed", res.versions_freed);
    cli_json_u64(&j, "bytes_freed", res.bytes_freed);
    cli_json_end(&j);
  } else if (!cut) {
    printf("%s has %llu version%s or fewer: nothing to drop\n", a->val[GC_FILE],
           (unsigned long long)keep, keep == 1 ? "" : "s");
  } else {
    printf("%s %s's history before revision %llu\n%s %llu page version%s, %s\n",
           dry ? "would drop" : "dropped", a->val[GC_FILE], (unsigned long long)cut,
           dry ? "would free" : "freed", (unsigned long long)res.versions_freed,
           res.versions_freed == 1 ? "" : "s", cli_bytes(b, res.bytes_freed));
  }
  rc = CLI_OK;
out:
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

/* --drop FROM..TO (revision numbers or tags; one revision alone is
 * FROM..FROM): 0, or the exit code (reported). */
static int drop_range(h5tx_store *s, const char *arg, h5tx_rev *lo, h5tx_rev *hi) {
  const char *dots = strstr(arg, "..");
  char from[600];
  size_t n = dots ? (size_t)(dots - arg) : strlen(arg);
  if (n == 0 || n >= sizeof from || (dots && !dots[2]))
    return cli_usage(&cli_cmd_gc, "--drop: expected FROM..TO (revisions or tags), not '%s'", arg);
  memcpy(from, arg, n);
  from[n] = 0;
  /* an end already collected is fine: only what is left in between goes */
  int rc = cli_rev_record(s, from, lo);
  if (rc == 0) rc = dots ? cli_rev_record(s, dots + 2, hi) : (*hi = *lo, 0);
  if (rc == 0 && *hi < *lo)
    rc = cli_usage(&cli_cmd_gc, "--drop %s: %llu comes after %llu", arg, (unsigned long long)*lo,
                   (unsigned long long)*hi);
  return rc;
}

/* What the log says of each revision 1..head. */
typedef struct rev_state {
  uint64_t time_ns;
  int collected;
} rev_state;

typedef struct rev_states {
  rev_state *v; /* index rev - 1 */
  h5tx_rev head;
} rev_states;

static int note_state(void *arg, const h5tx_commit *c) {
  rev_states *rs = arg;
  if (c->rev >= 1 && c->rev <= rs->head) {
    rs->v[c->rev - 1].time_ns = c->time_ns;
    rs->v[c->rev - 1].collected = c->collected;
  }
  return 0;
}

/* 0, or the exit code (reported). */
static int load_states(h5tx_store *s, h5tx_rev head, rev_states *rs) {
  h5tx_error e = {0, ""};
  rs->head = head;
  rs->v = calloc(head ? head : 1, sizeof *rs->v);
  if (!rs->v) return cli_fail("out of memory");
  return h5tx_log(s, head, note_state, rs, &e) ? cli_fail_h5(&e) : 0;
}

/* Write `revs` (sorted) as "2-10, 12, 14-15". */
static void print_ranges(FILE *f, const h5tx_rev *revs, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k + 1 < n && revs[k + 1] == revs[k] + 1)
      k++;
    if (k == i)
      fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)revs[i]);
    else
      fprintf(f, "%s%llu-%llu", i ? ", " : "", (unsigned long long)revs[i],
              (unsigned long long)revs[k]);
    i = k + 1;
  }
}

static int run_gc(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, gc_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  h5tx_gc_opts go = {0, 0, a.set[GC_DRY]};
  if (a.set[GC_FILE]) return gc_file(cmd, &a);
  uint64_t keep_last = 0;
  int drop = a.set[GC_DROP];
  if (drop && (a.set[GC_LAST] || a.set[GC_SINCE]))
    return cli_usage(cmd, "--drop says what goes: it takes no --keep-last or --keep-since");
  if (!drop && !a.set[GC_LAST] && !a.set[GC_SINCE])
    return cli_usage(cmd, "say what to keep: --keep-last N and/or --keep-since DATE, or what "
                          "goes: --drop FROM..TO");
  if (a.set[GC_LAST] && cli_parse_u64(a.val[GC_LAST], &keep_last))
    return cli_usage(cmd, "--keep-last: expected a number of revisions, not '%s'", a.val[GC_LAST]);
  if (a.set[GC_SINCE] && cli_parse_date(a.val[GC_SINCE], cli_now_ns(), &go.keep_since_ns))
    return cli_usage(cmd,
                     "--keep-since: expected a date (2026-11-21, 2026-11-21T12:00:00, UTC) "
                     "or an age (7d, 12h, 30m, 2w), not '%s'",
                     a.val[GC_SINCE]);
  /* Head is always kept, so "the newest 0" is head alone; h5tx_gc reads
   * keep_last 0 as "keep everything". */
  go.keep_last = keep_last ? keep_last : 1;
  int json = a.set[GC_JSON];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  rev_states before = {NULL, 0}, after = {NULL, 0};
  reader_list pn = {NULL, 0, 0};
  h5tx_common_tags tg = {NULL, 0, 0};
  h5tx_rev *gone = NULL, *pinned = NULL;
  size_t ngone = 0, npinned = 0;
  h5tx_rev head;
  if ((rc = cli_open(t.store, !go.dry_run, &s))) goto out;
  if (h5tx_store_head(s, &head, &e)) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  h5tx_rev drop_lo = 0, drop_hi = 0;
  if (drop && (rc = drop_range(s, a.val[GC_DROP], &drop_lo, &drop_hi))) goto out;
  if ((rc = load_states(s, head, &before))) goto out;
  if ((rc = cli_load_tags(s, &tg)) || (rc = load_readers(s, &pn))) goto out;
  cli_progress bar;
  cli_progress_busy(&bar, go.dry_run ? "gc (dry run)" : "gc");
  h5tx_gc_result res;
  rc = drop ? h5tx_gc_drop(s, drop_lo, drop_hi, go.dry_run, &res, &e) : h5tx_gc(s, &go, &res, &e);
  cli_progress_end(&bar);
  if (rc) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  /* Which revisions went: the log before and after (a dry run: what the
   * rules say, the same rules h5tx_gc applies). */
  if (!go.dry_run && (rc = load_states(s, head, &after))) goto out;
  gone = calloc(head + 1, sizeof *gone);
  pinned = calloc(head + 1, sizeof *pinned);
  if (!gone || !pinned) {
    rc = cli_fail("out of memory");
    goto out;
  }
  for (h5tx_rev r = 1; r <= head; r++) {
    if (before.v[r - 1].collected) continue;
    int tagged = 0, read = 0;
    for (size_t i = 0; i < tg.n; i++)
      tagged |= tg.v[i].rev == r;
    for (size_t i = 0; i < pn.n; i++)
      read |= pn.v[i].rev == r;
    int kept = drop ? r == head || r < drop_lo || r > drop_hi || tagged
                    : r == head || head - r < go.keep_last || /* r + N could wrap */
                          (go.keep_since_ns && before.v[r - 1].time_ns >= go.keep_since_ns) ||
                          tagged;
    if (!kept && read) pinned[npinned++] = r;
    if (go.dry_run ? !kept && !read : after.v[r - 1].collected) gone[ngone++] = r;
  }
  char b[32], since[32];
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_bool(&j, "dry_run", go.dry_run);
    cli_json_u64(&j, "head", head);
    if (drop) {
      cli_json_u64(&j, "drop_from", drop_lo);
      cli_json_u64(&j, "drop_to", drop_hi);
    }
    cli_json_u64(&j, "keep_last", keep_last);
    if (go.keep_since_ns)
      cli_json_str(&j, "keep_since", h5tx_common_time(since, go.keep_since_ns, 1));
    else
      cli_json_null(&j, "keep_since");
    cli_json_u64(&j, "revisions_collected", res.revisions_collected);
    cli_json_array(&j, "collected");
    for (size_t i = 0; i < ngone; i++)
      cli_json_u64(&j, NULL, gone[i]);
    cli_json_end(&j);
    cli_json_u64(&j, "versions_freed", res.versions_freed);
    cli_json_u64(&j, "bytes_freed", res.bytes_freed);
    cli_json_u64(&j, "revisions_pinned", res.revisions_pinned);
    cli_json_array(&j, "pinned");
    for (size_t i = 0; i < npinned; i++)
      cli_json_u64(&j, NULL, pinned[i]);
    cli_json_end(&j);
    cli_json_array(&j, "tags");
    for (size_t i = 0; i < tg.n; i++) {
      cli_json_object(&j, NULL);
      cli_json_str(&j, "name", tg.v[i].name);
      cli_json_u64(&j, "revision", tg.v[i].rev);
      cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_array(&j, "readers");
    for (size_t i = 0; i < pn.n; i++) {
      cli_json_object(&j, NULL);
      cli_json_u64(&j, "pid", pn.v[i].pid);
      cli_json_u64(&j, "revision", pn.v[i].rev);
      cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    const char *verb = go.dry_run ? "would collect" : "collected";
    printf("%s %llu revision%s", verb, (unsigned long long)res.revisions_collected,
           res.revisions_collected == 1 ? "" : "s");
    if (ngone) {
      printf(": ");
      print_ranges(stdout, gone, ngone);
    }
    printf("\n%s %llu page version%s, %s\n", go.dry_run ? "would free" : "freed",
           (unsigned long long)res.versions_freed, res.versions_freed == 1 ? "" : "s",
           cli_bytes(b, res.bytes_freed));
    printf("kept: head %llu", (unsigned long long)head);
    if (drop)
      printf("; all outside %llu-%llu", (unsigned long long)drop_lo, (unsigned long long)drop_hi);
    if (keep_last > 1) {
      h5tx_rev lo = keep_last >= head ? 1 : head - keep_last + 1;
      printf("; newest %llu (%llu-%llu)", (unsigned long long)keep_last, (unsigned long long)lo,
             (unsigned long long)head);
    }
    if (go.keep_since_ns) printf("; since %s", h5tx_common_time(since, go.keep_since_ns, 0));
    putchar('\n');
    if (tg.n) {
      printf("kept for tags:");
      for (size_t i = 0; i < tg.n; i++)
        printf("%s %s (%llu)", i ? "," : "", tg.v[i].name, (unsigned long long)tg.v[i].rev);
      putchar('\n');
    }
    if (npinned) {
      printf("kept for live readers:");
      for (size_t i = 0; i < npinned; i++) {
        printf("%s revision %llu (pid", i ? "," : "", (unsigned long long)pinned[i]);
        for (size_t k = 0; k < pn.n; k++)
          if (pn.v[k].rev == pinned[i]) printf(" %u", pn.v[k].pid);
        putchar(')');
      }
      putchar('\n');
    }
  }
  rc = CLI_OK;
out:
  free(before.v);
  free(after.v);
  free(pn.v);
  h5tx_common_tags_free(&tg);
  free(gone);
  free(pinned);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_gc = {
    "gc", run_gc,
    "STORE.h5tx --keep-last N [--keep-since DATE] [--dry-run] [--json]\n"
    "STORE.h5tx --drop FROM..TO [--dry-run] [--json]\n"
    "STORE.h5tx --file NAME --keep-last N [--dry-run] [--json]",
    "let old revisions go and free the pages only they used",
    "Garbage collection: keeps head, the newest N revisions, revisions made at\n"
    "or after DATE, every tagged revision, and every revision a live reader\n"
    "(a snapshot in any process) reads; every other revision becomes\n"
    "unreadable and the page versions only it used are freed. Its commit stays\n"
    "in the log, marked collected. Prints the revisions collected, the page\n"
    "versions and bytes freed, and what was kept and why. With --drop, the\n"
    "revisions FROM to TO go instead and every other one is kept (head, tags\n"
    "and live readers' revisions in the range too). With --file NAME, only\n"
    "that file's history goes: it keeps its newest N versions, reads as gone\n"
    "(exit 1) at revisions before them, and every other file there reads on;\n"
    "a tag or a live reader below keeps it from there on.\n\n"
    "Options:\n"
    "  --keep-last N      keep the newest N revisions (head is always kept)\n"
    "  --keep-since DATE  keep revisions made at or after DATE: 2026-11-21 or\n"
    "                     2026-11-21T12:00:00 (UTC), or an age: 90s, 30m, 12h,\n"
    "                     7d, 2w\n"
    "  --drop FROM..TO    collect revisions FROM to TO (numbers or tags; one\n"
    "                     revision alone: FROM), keep all others\n"
    "  --file NAME        drop one file's history (with --keep-last N); JSON:\n"
    "                     {store, file, dry_run, keep_last, history_from,\n"
    "                     versions_freed, bytes_freed}\n"
    "  -n, --dry-run      report what would be collected, change nothing\n"
    "  --json             one JSON object: {store, dry_run, head, drop_from and\n"
    "                     drop_to (with --drop), keep_last, keep_since,\n"
    "                     revisions_collected, collected: [revs],\n"
    "                     versions_freed, bytes_freed, revisions_pinned,\n"
    "                     pinned: [revs kept only for readers], tags: [{name,\n"
    "                     revision}], readers: [{pid, revision}]}\n"
    "One of --keep-last, --keep-since, --drop and --file is required.\n"};

/* ---- verify -------------------------------------------------------------- */

/* Messages kept for --json. */
typedef struct msg_list {
  char **v;
  size_t n, cap;
} msg_list;

typedef struct verify_arg {
  cli_progress *bar;
  int json;
  msg_list problems, notes;
} verify_arg;

static void msg_add(msg_list *l, const char *msg) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->v, cap * sizeof *v);
    if (!v) return; /* counted by h5tx_verify all the same */
    l->v = v;
    l->cap = cap;
  }
  char *copy = strdup(msg);
  if (copy) l->v[l->n++] = copy;
}

static void msg_free(msg_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
}

static void on_problem(void *arg, int kind, const char *problem) {
  verify_arg *va = arg;
  int damage = kind == H5TX_VERIFY_DAMAGE;
  if (!va->json) {
    cli_progress_clear(va->bar);
    printf("%s: %s\n", damage ? "damage" : "note", problem);
    fflush(stdout);
  }
  msg_add(damage ? &va->problems : &va->notes, problem);
}

static void on_progress(void *arg, uint64_t done, uint64_t total) {
  verify_arg *va = arg;
  cli_progress_update(va->bar, done, total);
}

static int run_verify(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  cli_progress bar;
  verify_arg va = {&bar, a.set[0], {NULL, 0, 0}, {NULL, 0, 0}};
  cli_names foreign = {NULL, 0, 0};
  if ((rc = cli_open(t.store, 0, &s))) goto out;
  if ((rc = cli_foreign(s, &foreign))) goto out;
  h5tx_verify_result res;
  memset(&res, 0, sizeof res);
  cli_progress_start(&bar, "verify", 0, 0); /* units: segments, then page versions */
  rc = h5tx_verify(s, on_problem, on_progress, &va, &res, &e);
  cli_progress_end(&bar);
  if (rc) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  if (a.set[0]) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_bool(&j, "ok", res.problems == 0);
    cli_json_u64(&j, "page_versions", res.page_versions);
    cli_json_u64(&j, "bytes", res.bytes);
    cli_json_u64(&j, "records", res.records);
    cli_json_u64(&j, "segments", res.segments);
    cli_json_u64(&j, "log_records", res.log_records);
    cli_json_u64(&j, "problem_count", res.problems);
    cli_json_array(&j, "problems");
    for (size_t i = 0; i < va.problems.n; i++)
      cli_json_str(&j, NULL, va.problems.v[i]);
    cli_json_end(&j);
    cli_json_array(&j, "notes");
    for (size_t i = 0; i < va.notes.n; i++)
      cli_json_str(&j, NULL, va.notes.v[i]);
    cli_json_end(&j);
    cli_json_array(&j, "foreign");
    for (size_t i = 0; i < foreign.n; i++)
      cli_json_str(&j, NULL, foreign.v[i]);
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    char b[32];
    printf("store %s: checked %llu page version%s (%s), %llu other record%s and %llu log "
           "segment%s: ",
           t.store, (unsigned long long)res.page_versions, res.page_versions == 1 ? "" : "s",
           cli_bytes(b, res.bytes), (unsigned long long)res.records, res.records == 1 ? "" : "s",
           (unsigned long long)res.segments, res.segments == 1 ? "" : "s");
    if (res.problems)
      printf("%llu problem%s\n", (unsigned long long)res.problems, res.problems == 1 ? "" : "s");
    else
      printf("no problems\n");
    cli_foreign_print(stdout, "foreign: ", t.store, &foreign);
  }
  if (res.problems) {
    fflush(stdout);
    rc = cli_fail("store %s is damaged: %llu problem%s (listed on stdout)", t.store,
                  (unsigned long long)res.problems, res.problems == 1 ? "" : "s");
    goto out;
  }
  rc = CLI_OK;
out:
  cli_names_free(&foreign);
  msg_free(&va.problems);
  msg_free(&va.notes);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_verify = {
    "verify", run_verify, "STORE.h5tx [--json]", "check every stored page version and record",
    "Scans every segment of the page log, batch by batch, checking every\n"
    "record; reads every page version the store holds, at every revision, from\n"
    "the log and checks its place, its checksum, its decoding and content hash,\n"
    "and that it belongs to a known file and has that file's page size; checks\n"
    "every index value against its checksum, and that every name, length,\n"
    "commit, tag and dedupe record parses and refers to what exists. Each\n"
    "problem is reported as a 'damage:' line naming file, page and revision (or\n"
    "the index table and key, or the log segment and offset); the exit status\n"
    "is 1 when there is any. A 'note:' line is no damage: a torn tail that a\n"
    "writer killed while appending left in its segment, which nothing reads.\n"
    "A progress bar is shown when stderr is a terminal.\n"
    "Entries of the store's directory that are not part of the store (plain\n"
    "files an HDF5 1.10 program wrote there, ignoring HDF5_DRIVER) are named\n"
    "as 'foreign:' lines; they are not damage.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, ok, page_versions, bytes, records,\n"
    "           segments, log_records, problem_count, problems: [messages],\n"
    "           notes: [messages], foreign: [names]}\n"};

/* ---- stats --------------------------------------------------------------- */

typedef struct lease_list {
  cli_json *j;
  cli_table *tb;
  size_t n;
} lease_list;

static int print_lease(void *arg, const h5tx_lease *l) {
  lease_list *ll = arg;
  char tm[32];
  ll->n++;
  if (ll->j) {
    cli_json_object(ll->j, NULL);
    cli_json_str(ll->j, "file", l->name);
    cli_json_u64(ll->j, "pid", l->pid);
    cli_json_str(ll->j, "host", l->host);
    cli_json_str(ll->j, "since", h5tx_common_time(tm, l->since_ns, 1));
    cli_json_bool(ll->j, "alive", l->alive);
    cli_json_end(ll->j);
  } else {
    char who[300];
    snprintf(who, sizeof who, "pid %u on %s", l->pid, l->host);
    cli_table_row(ll->tb, "", l->name, who, h5tx_common_time(tm, l->since_ns, 0),
                  l->alive ? "" : "(dead: taken over by the next writer)");
  }
  return 0;
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : NAN; }

static int run_stats(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  int json = a.set[0];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  reader_list rl = {NULL, 0, 0};
  h5tx_stats st;
  if ((rc = cli_open(t.store, 0, &s))) goto out;
  if (h5tx_store_stats(s, &st, &e)) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  if ((rc = load_readers(s, &rl))) goto out;
  uint64_t saved = st.written_bytes > st.live_bytes ? st.written_bytes - st.live_bytes : 0;
  /* what each saved: versions sharing one payload, and zstd */
  uint64_t shared = st.stored_bytes > st.live_bytes ? st.stored_bytes - st.live_bytes : 0;
  uint64_t zraw = st.zstd_raw_bytes + st.lz4_raw_bytes, zst = st.zstd_bytes + st.lz4_bytes;
  uint64_t zsaved = zraw > zst ? zraw - zst : 0;
  char tm[32];
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_u64(&j, "head", st.head);
    cli_json_u64(&j, "revisions", st.revisions);
    cli_json_u64(&j, "collected", st.collected);
    cli_json_u64(&j, "tags", st.tags);
    cli_json_u64(&j, "files", st.files);
    cli_json_u64(&j, "logical_bytes", st.logical_bytes);
    cli_json_u64(&j, "page_versions", st.page_versions);
    cli_json_u64(&j, "stored_bytes", st.stored_bytes);
    cli_json_u64(&j, "zstd_bytes", st.zstd_bytes);
    cli_json_u64(&j, "zstd_raw_bytes", st.zstd_raw_bytes);
    cli_json_u64(&j, "lz4_bytes", st.lz4_bytes);
    cli_json_u64(&j, "lz4_raw_bytes", st.lz4_raw_bytes);
    cli_json_double(&j, "compression_ratio",
                    ratio(st.zstd_raw_bytes + st.lz4_raw_bytes, st.zstd_bytes + st.lz4_bytes));
    cli_json_u64(&j, "compression_saved_bytes", zsaved);
    cli_json_u64(&j, "dedupe_saved_bytes", shared);
    cli_json_u64(&j, "written_bytes", st.written_bytes);
    cli_json_u64(&j, "saved_bytes", saved);
    cli_json_double(&j, "written_to_stored_ratio", ratio(st.written_bytes, st.live_bytes));
    cli_json_u64(&j, "live_bytes", st.live_bytes);
    cli_json_u64(&j, "log_bytes", st.log_bytes);
    cli_json_u64(&j, "segments", st.segments);
    cli_json_u64(&j, "index_bytes", st.index_bytes);
    cli_json_array(&j, "readers");
    for (size_t i = 0; i < rl.n; i++) {
      cli_json_object(&j, NULL);
      cli_json_u64(&j, "pid", rl.v[i].pid);
      cli_json_u64(&j, "revision", rl.v[i].rev);
      cli_json_str(&j, "since", h5tx_common_time(tm, rl.v[i].since_ns, 1));
      cli_json_end(&j);
    }
    cli_json_end(&j);
    lease_list ll = {&j, NULL, 0};
    cli_json_array(&j, "leases");
    rc = h5tx_leases(s, print_lease, &ll, &e);
    cli_json_end(&j);
    cli_json_end(&j);
    if (rc) {
      rc = cli_fail_h5(&e);
      goto out;
    }
  } else {
    char b1[32], b2[32], b3[32];
    cli_table tb;
    cli_table_init(&tb, "ll");
    char v[256];
    snprintf(v, sizeof v, "%llu", (unsigned long long)st.head);
    cli_table_row(&tb, "head", v);
    snprintf(v, sizeof v, "%llu commits, %llu collected", (unsigned long long)st.revisions,
             (unsigned long long)st.collected);
    cli_table_row(&tb, "revisions", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)st.tags);
    cli_table_row(&tb, "tags", v);
    snprintf(v, sizeof v, "%llu at head, %s", (unsigned long long)st.files,
             cli_bytes(b1, st.logical_bytes));
    cli_table_row(&tb, "files", v);
    snprintf(v, sizeof v, "%llu page versions, %s", (unsigned long long)st.page_versions,
             cli_bytes(b1, st.stored_bytes));
    cli_table_row(&tb, "stored", v);
    if (st.zstd_bytes || st.lz4_bytes)
      snprintf(v, sizeof v, "%s compressed to %s with %s (%.2fx): %s saved",
               cli_bytes(b1, st.zstd_raw_bytes + st.lz4_raw_bytes),
               cli_bytes(b2, st.zstd_bytes + st.lz4_bytes),
               st.zstd_bytes && st.lz4_bytes ? "zstd and lz4"
               : st.lz4_bytes                ? "lz4"
                                             : "zstd",
               ratio(st.zstd_raw_bytes + st.lz4_raw_bytes, st.zstd_bytes + st.lz4_bytes),
               cli_bytes(b3, zsaved));
    else
      snprintf(v, sizeof v, "no compressed pages");
    cli_table_row(&tb, "compression", v);
    snprintf(v, sizeof v, "%s of page versions in %s of payloads: %s saved by sharing (%.2fx)",
             cli_bytes(b1, st.stored_bytes), cli_bytes(b2, st.live_bytes), cli_bytes(b3, shared),
             st.live_bytes ? ratio(st.stored_bytes, st.live_bytes) : 1.0);
    cli_table_row(&tb, "dedup", v);
    if (st.live_bytes)
      snprintf(v, sizeof v, "%s written by all commits, %s stored: %s saved (%.2fx)",
               cli_bytes(b1, st.written_bytes), cli_bytes(b2, st.live_bytes), cli_bytes(b3, saved),
               ratio(st.written_bytes, st.live_bytes));
    else
      snprintf(v, sizeof v, "%s written by all commits, nothing stored",
               cli_bytes(b1, st.written_bytes));
    cli_table_row(&tb, "overall", v);
    snprintf(v, sizeof v, "%llu segment%s, %s on disk, %s of it payloads in use",
             (unsigned long long)st.segments, st.segments == 1 ? "" : "s",
             cli_bytes(b1, st.log_bytes), cli_bytes(b2, st.live_bytes));
    cli_table_row(&tb, "page log", v);
    snprintf(v, sizeof v, "%s on disk", cli_bytes(b1, st.index_bytes));
    cli_table_row(&tb, "index", v);
    snprintf(v, sizeof v, "%u live", st.readers);
    cli_table_row(&tb, "readers", v);
    for (size_t i = 0; i < rl.n; i++) {
      snprintf(v, sizeof v, "  pid %u reads revision %llu since %s", rl.v[i].pid,
               (unsigned long long)rl.v[i].rev, h5tx_common_time(tm, rl.v[i].since_ns, 0));
      cli_table_row(&tb, "", v);
    }
    snprintf(v, sizeof v, "%u live", st.leases);
    cli_table_row(&tb, "leases", v);
    cli_table_print(&tb, stdout);
    cli_table lt;
    cli_table_init(&lt, "lllll");
    lease_list ll = {NULL, &lt, 0};
    rc = h5tx_leases(s, print_lease, &ll, &e);
    cli_table_print(&lt, stdout);
    if (rc) {
      rc = cli_fail_h5(&e);
      goto out;
    }
  }
  rc = CLI_OK;
out:
  free(rl.v);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_stats = {
    "stats", run_stats, "STORE.h5tx [--json]",
    "revisions, files, sizes, compression, sharing, readers and leases",
    "Scans the store and prints: head and the number of commits (and how many\n"
    "were collected), tags, files at head and their total length (logical\n"
    "bytes), the page versions stored and their bytes, how much compression\n"
    "(zstd, lz4) saved, what page versions sharing one payload saved (dedup:\n"
    "a copy, a restore, identical pages written again), the bytes all commits\n"
    "wrote against the payload bytes the page log holds for them (overall:\n"
    "what not storing unchanged pages, sharing, compression and gc saved),\n"
    "what the page log (its segments) and the index take on disk, the\n"
    "live readers (pid, revision) and the writers' leases.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, head, revisions, collected, tags,\n"
    "           files, logical_bytes, page_versions, stored_bytes, zstd_bytes,\n"
    "           zstd_raw_bytes, lz4_bytes, lz4_raw_bytes, compression_ratio,\n"
    "           compression_saved_bytes, dedupe_saved_bytes, written_bytes,\n"
    "           saved_bytes,\n"
    "           written_to_stored_ratio, live_bytes, log_bytes, segments,\n"
    "           index_bytes, readers: [{pid,\n"
    "           revision, since}], leases: [{file, pid, host, since, alive}]}\n"};
