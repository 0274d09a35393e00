/* cmd_maint.c - h5tx subcommands that keep a store whole: upgrade (a
 * format-1 store converted to format 2 in place) and repair (a format-2
 * store's index rebuilt from its page log), each on a store no process has
 * open, printing what the library says line by line, then a summary; and
 * backup (a consistent copy of a store in use). */
#include "cli.h"
#include "out.h"
#include "progress.h"

#include <dirent.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the library said, kept for --json or printed as it comes. */
typedef struct said {
  int json;
  cli_progress *bar;
  cli_names lines;
  int oom; /* a line could not be kept */
} said;

static void on_line(void *arg, const char *line) {
  said *s = arg;
  if (!s->json) {
    cli_progress_clear(s->bar);
    printf("%s\n", line);
    fflush(stdout);
  }
  if (cli_names_add(&s->lines, line)) s->oom = 1;
}

/* What a store holds, for the summaries. */
typedef struct counts {
  h5tx_rev head;
  uint64_t revisions, collected, files, tags;
} counts;

static int count_commit(void *arg, const h5tx_commit *c) {
  counts *n = arg;
  n->revisions++;
  n->collected += c->collected != 0;
  return 0;
}

static int count_file(void *arg, const char *name, const h5tx_stat *st) {
  (void)name;
  (void)st;
  ((counts *)arg)->files++;
  return 0;
}

static int count_tag(void *arg, const char *name, h5tx_rev rev) {
  (void)name;
  (void)rev;
  ((counts *)arg)->tags++;
  return 0;
}

/* What the store holds after the operation, read back through a new handle
 * (commits, files at head, tags: no scan of the pages). 0, or the exit code
 * (reported, after `done`, which says what happened). */
static int read_back(const char *store, const char *done, counts *n) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.read_only = 1;
  h5tx_store *s = NULL;
  h5tx_snap *snap = NULL;
  h5tx_error e = {0, ""};
  memset(n, 0, sizeof *n);
  int rc = h5tx_store_open(store, &o, &s, &e);
  if (rc == 0) rc = h5tx_snap_open(s, H5TX_HEAD, &snap, &e);
  if (rc == 0) {
    n->head = h5tx_snap_rev(snap);
    rc = h5tx_snap_list(snap, NULL, count_file, n, &e);
  }
  if (rc == 0) rc = h5tx_log(s, n->head, count_commit, n, &e);
  if (rc == 0) rc = h5tx_tags(s, count_tag, n, &e);
  h5tx_snap_close(snap);
  h5tx_store_close(s);
  if (rc)
    return cli_fail_code(h5tx_strerror(e.code), "%s, but reading it back failed: %s", done, e.msg);
  return 0;
}

static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

/* ---- upgrade ------------------------------------------------------------- */

/* The directory the upgrade of `store` kept the format-1 store in, into
 * `out`: the entry `.NAME.h5tx.format1-...` beside it (FORMAT.md, "Format 1
 * → 2") that is the store's directory `was`, renamed. 0 when found, -1 when
 * there is none (the store had format 2 already: such an entry is another
 * upgrade's). */
static int find_kept(const char *store, const struct stat *was, char *out, size_t cap) {
  char *d1 = strdup(store), *d2 = strdup(store), prefix[4200];
  DIR *d = NULL;
  int rc = -1;
  if (d1 && d2) {
    const char *parent = dirname(d1), *base = basename(d2);
    snprintf(prefix, sizeof prefix, ".%s.format1-", base);
    d = opendir(parent);
    for (struct dirent *de; d && rc && (de = readdir(d));) {
      struct stat st;
      if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
      snprintf(out, cap, "%s/%s", parent, de->d_name);
      if (lstat(out, &st) == 0 && st.st_dev == was->st_dev && st.st_ino == was->st_ino) rc = 0;
    }
  }
  if (d) closedir(d);
  free(d1);
  free(d2);
  return rc;
}

static int run_upgrade(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  int json = a.set[0];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  cli_progress bar;
  said sd = {json, &bar, {NULL, 0, 0}, 0};
  h5tx_error e = {0, ""};
  struct stat was;
  if (lstat(t.store, &was) != 0) memset(&was, 0, sizeof was); /* the upgrade says why */
  cli_progress_busy(&bar, "upgrade");
  rc = h5tx_store_upgrade(t.store, on_line, &sd, &e);
  cli_progress_end(&bar);
  if (rc) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  char kept[8400], done[8600];
  int upgraded = was.st_ino && find_kept(t.store, &was, kept, sizeof kept) == 0;
  counts st;
  if (upgraded)
    snprintf(done, sizeof done, "store %s was upgraded (the format-1 store is kept as %s)", t.store,
             kept);
  else
    snprintf(done, sizeof done, "store %s has format 2", t.store);
  if ((rc = read_back(t.store, done, &st))) goto out;
  if (sd.oom) {
    rc = cli_fail("%s, but out of memory keeping its messages", done);
    goto out;
  }
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_bool(&j, "upgraded", upgraded);
    cli_json_u64(&j, "head", st.head);
    cli_json_u64(&j, "revisions", st.revisions);
    cli_json_u64(&j, "collected", st.collected);
    cli_json_u64(&j, "files", st.files);
    cli_json_u64(&j, "tags", st.tags);
    cli_json_str(&j, "kept", upgraded ? kept : NULL);
    cli_json_array(&j, "messages");
    for (size_t i = 0; i < sd.lines.n; i++)
      cli_json_str(&j, NULL, sd.lines.v[i]);
    cli_json_end(&j);
    cli_json_end(&j);
  } else if (upgraded) {
    printf("upgraded store %s to format 2: %llu revision%s (%llu collected), %llu file%s at head "
           "and %llu tag%s kept; the format-1 store was moved to %s\n",
           t.store, (unsigned long long)st.revisions, plural(st.revisions),
           (unsigned long long)st.collected, (unsigned long long)st.files, plural(st.files),
           (unsigned long long)st.tags, plural(st.tags), kept);
  }
  rc = CLI_OK;
out:
  cli_names_free(&sd.lines);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_upgrade = {
    "upgrade", run_upgrade, "STORE.h5tx [--json]", "convert a format-1 store to format 2",
    "Converts a store of format 1 (made by h5tx before its page log) to format\n"
    "2 in place, keeping every revision with its number, message, time and\n"
    "author, every file at every revision byte for byte, every tag, and the\n"
    "store's defaults. Every other command refuses a format-1 store and names\n"
    "this one. The new store is written beside the old one and takes its name\n"
    "only once it is complete; the old one is then kept as\n"
    ".STORE.h5tx.format1-TIME beside it, for you to delete. Refused while any\n"
    "process has the store open. A store that has format 2 already is left\n"
    "alone (exit status 0). Prints what it does, then a summary: revisions,\n"
    "files at head and tags kept, and where the old store went.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, upgraded (false: it had format 2\n"
    "           already), head, revisions, collected, files, tags, kept (the\n"
    "           format-1 store's new name, or null), messages: [lines]}\n"};

/* ---- repair -------------------------------------------------------------- */

static int run_repair(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  int json = a.set[0];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  cli_progress bar;
  said sd = {json, &bar, {NULL, 0, 0}, 0};
  h5tx_error e = {0, ""};
  h5tx_rev head = 0;
  cli_progress_busy(&bar, "repair");
  rc = h5tx_store_repair(t.store, on_line, &sd, &head, &e);
  cli_progress_end(&bar);
  if (rc) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  const size_t pre = strlen(H5TX_REPAIR_LOST);
  size_t lost = 0;
  for (size_t i = 0; i < sd.lines.n; i++)
    lost += strncmp(sd.lines.v[i], H5TX_REPAIR_LOST, pre) == 0;
  char done[4400];
  snprintf(done, sizeof done, "the index of store %s was rebuilt up to revision %llu", t.store,
           (unsigned long long)head);
  counts st;
  if ((rc = read_back(t.store, done, &st))) goto out;
  if (sd.oom) {
    rc = cli_fail("%s, but out of memory keeping what it said", done);
    goto out;
  }
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_bool(&j, "ok", lost == 0);
    cli_json_u64(&j, "head", head);
    cli_json_u64(&j, "revisions", st.revisions);
    cli_json_u64(&j, "collected", st.collected);
    cli_json_u64(&j, "files", st.files);
    cli_json_u64(&j, "tags", st.tags);
    cli_json_array(&j, "notes");
    for (size_t i = 0; i < sd.lines.n; i++)
      if (strncmp(sd.lines.v[i], H5TX_REPAIR_LOST, pre) != 0) cli_json_str(&j, NULL, sd.lines.v[i]);
    cli_json_end(&j);
    cli_json_array(&j, "not_rebuilt");
    for (size_t i = 0; i < sd.lines.n; i++)
      if (strncmp(sd.lines.v[i], H5TX_REPAIR_LOST, pre) == 0)
        cli_json_str(&j, NULL, sd.lines.v[i] + pre);
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    printf("repaired store %s: index rebuilt from the page log, head at revision %llu: %llu "
           "revision%s (%llu collected), %llu file%s at head, %llu tag%s; ",
           t.store, (unsigned long long)head, (unsigned long long)st.revisions,
           plural(st.revisions), (unsigned long long)st.collected, (unsigned long long)st.files,
           plural(st.files), (unsigned long long)st.tags, plural(st.tags));
    if (lost)
      printf("%zu thing%s could not be rebuilt (the 'not rebuilt:' line%s above)\n", lost,
             lost == 1 ? "" : "s", lost == 1 ? "" : "s");
    else
      printf("everything the page log holds was rebuilt\n");
  }
  if (lost) {
    fflush(stdout);
    rc = cli_fail("store %s was repaired up to revision %llu, but %zu thing%s could not be "
                  "rebuilt (listed on stdout)",
                  t.store, (unsigned long long)head, lost, lost == 1 ? "" : "s");
    goto out;
  }
  rc = CLI_OK;
out:
  cli_names_free(&sd.lines);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_repair = {
    "repair", run_repair, "STORE.h5tx [--json]", "rebuild a store's index from its page log",
    "Rebuilds the index of a store (its index/ directory) from the page log,\n"
    "for when the index is lost or damaged: every revision with its message,\n"
    "time and author, every file at every revision, every tag. The old index\n"
    "is moved aside to index.damaged-TIME in the store, for you to delete.\n"
    "The store's defaults (page size, codec, durability) come from the old\n"
    "index when it can still be read, otherwise the built-in ones are used\n"
    "(said). History stops before the first revision whose records are not\n"
    "all intact in the log: each thing that could not be rebuilt (revisions,\n"
    "tags naming them, unreadable parts of the log) is printed as a\n"
    "'not rebuilt:' line, and makes the exit status 1. Refused while any\n"
    "process has the store open. A format-1 store has no page log: run\n"
    "'h5tx upgrade' on it. Prints what it does, then a summary: the head\n"
    "rebuilt, revisions, files at head and tags.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, ok (nothing was lost), head,\n"
    "           revisions, collected, files, tags, notes: [lines], not_rebuilt:\n"
    "           [lines]}\n"};

/* ---- backup -------------------------------------------------------------- */

static const cli_opt backup_opts[] = {{"json", 0, 0}, {NULL, 0, 0}};

static int run_backup(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, backup_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  const char *dest = a.pos[1];
  size_t n = strlen(dest);
  h5tx_store *s = NULL;
  if (n <= 5 || strcmp(dest + n - 5, ".h5tx") != 0) {
    rc = cli_usage(cmd, "the backup '%s' is a new store: its name must end in .h5tx", dest);
    goto out;
  }
  if ((rc = cli_open(t.store, 0, &s))) goto out;
  h5tx_error e = {0, ""};
  h5tx_rev head = 0;
  uint64_t bytes = 0;
  if (h5tx_store_backup(s, dest, &head, &bytes, &e) != 0) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  if (a.set[0]) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_str(&j, "backup", dest);
    cli_json_u64(&j, "revision", head);
    cli_json_u64(&j, "log_bytes", bytes);
    cli_json_end(&j);
  } else {
    char b[32];
    printf("backed up %s to %s: head revision %llu, %s of page log\n", t.store, dest,
           (unsigned long long)head, cli_bytes(b, bytes));
  }
  rc = CLI_OK;
out:
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_backup = {
    "backup", run_backup, "STORE.h5tx DEST.h5tx [--json]",
    "copy a store that is in use, consistently, into a new store",
    "Copies STORE.h5tx into the new store DEST.h5tx while writers and readers\n"
    "go on: DEST holds every revision committed when the backup began (tags,\n"
    "commit messages) and every page they read, as one consistent state.\n"
    "A gc waits for the backup (and the backup for a running gc). DEST is\n"
    "made in a temporary directory beside it and renamed into place when\n"
    "complete; `h5tx verify DEST.h5tx` checks it. Copying a store with\n"
    "`cp -r` while it is written is not safe: use this.\n"
    "Fails (exit 1) when DEST exists or cannot be written; exit 2 when DEST\n"
    "does not end in .h5tx.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, backup, revision, log_bytes}\n"};
