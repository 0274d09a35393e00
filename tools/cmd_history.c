/* cmd_history.c - h5tx subcommands about a store's history: log (commits,
 * newest first), show (one commit and its files in detail), tag and tags. */
#include "cli.h"
#include "out.h"

#include <stdlib.h>
#include <string.h>

/* ---- tags, as decorations ------------------------------------------------ */

/* "v1, v2" for the tags on `rev`, or "" */
static void tags_on(const h5tx_common_tags *l, h5tx_rev rev, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  for (size_t i = 0; i < l->n && n + 1 < cap; i++)
    if (l->v[i].rev == rev)
      n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", l->v[i].name);
}

static void json_tags_on(cli_json *j, const h5tx_common_tags *l, h5tx_rev rev) {
  cli_json_array(j, "tags");
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].rev == rev) cli_json_str(j, NULL, l->v[i].name);
  cli_json_end(j);
}

/* A commit's message, every line indented. */
static void print_message(const char *msg) {
  if (!msg || !*msg) {
    printf("    (no message)\n");
    return;
  }
  for (const char *p = msg; *p;) {
    const char *e = strchr(p, '\n');
    int n = e ? (int)(e - p) : (int)strlen(p);
    printf("    %.*s\n", n, p);
    if (!e) break;
    p = e + 1;
  }
}

static void json_commit(cli_json *j, const h5tx_commit *c, const h5tx_common_tags *tags) {
  char tm[32];
  cli_json_u64(j, "revision", c->rev);
  cli_json_u64(j, "parent", c->parent);
  cli_json_str(j, "time", h5tx_common_time(tm, c->time_ns, 1));
  cli_json_u64(j, "time_ns", c->time_ns);
  cli_json_str(j, "host", c->host);
  cli_json_u64(j, "pid", c->pid);
  cli_json_str(j, "message", c->message);
  cli_json_u64(j, "bytes_added", c->bytes_added);
  cli_json_u64(j, "pages_added", c->pages_added);
  cli_json_bool(j, "collected", c->collected);
  json_tags_on(j, tags, c->rev);
}

/* First line of a commit, as log and show print it. */
static void print_commit_head(const h5tx_commit *c, const h5tx_common_tags *tags) {
  char tm[32], b[32], tg[256];
  tags_on(tags, c->rev, tg, sizeof tg);
  printf("revision %llu  %s  pid %u on %s  +%s in %llu page%s%s%s%s%s\n",
         (unsigned long long)c->rev, h5tx_common_time(tm, c->time_ns, 0), c->pid, c->host,
         cli_bytes(b, c->bytes_added), (unsigned long long)c->pages_added,
         c->pages_added == 1 ? "" : "s", tg[0] ? "  [" : "", tg, tg[0] ? "]" : "",
         c->collected ? "  (collected)" : "");
}

/* ---- log ----------------------------------------------------------------- */

static const cli_opt log_opts[] = {{"json", 0, 0}, {"max-count", 'n', 1}, {NULL, 0, 0}};

typedef struct log_arg {
  const char *want; /* file filter or NULL */
  uint64_t max, shown;
  cli_json *j;
  const h5tx_common_tags *tags;
} log_arg;

static int log_one(void *arg, const h5tx_commit *c) {
  log_arg *la = arg;
  if (la->max && la->shown >= la->max) return 1;
  if (la->want) {
    uint32_t i = 0;
    while (i < c->nfiles && !cli_name_matches(la->want, c->files[i]))
      i++;
    if (i == c->nfiles) return 0;
  }
  la->shown++;
  if (la->j) {
    cli_json_object(la->j, NULL);
    json_commit(la->j, c, la->tags);
    cli_json_array(la->j, "files");
    for (uint32_t i = 0; i < c->nfiles; i++)
      cli_json_str(la->j, NULL, c->files[i]);
    cli_json_end(la->j);
    cli_json_end(la->j);
    return 0;
  }
  if (la->shown > 1) putchar('\n');
  print_commit_head(c, la->tags);
  print_message(c->message);
  printf("    files:");
  for (uint32_t i = 0; i < c->nfiles && i < 8; i++)
    printf("%s %s", i ? "," : "", c->files[i]);
  if (c->nfiles > 8) printf(" and %u more", c->nfiles - 8);
  if (c->nfiles == 0) printf(" none");
  putchar('\n');
  return 0;
}

/* Stops the walk (1) at the first commit that changed a file matching `arg`. */
static int touches(void *arg, const h5tx_commit *c) {
  for (uint32_t i = 0; i < c->nfiles; i++)
    if (cli_name_matches(arg, c->files[i])) return 1;
  return 0;
}

static int run_log(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, log_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  uint64_t max = 0;
  if (a.set[1] && (cli_parse_u64(a.val[1], &max) || max == 0))
    return cli_usage(cmd, "--max-count: expected a positive number, not '%s'", a.val[1]);
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME_OK | CLI_T_REV_OK, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_common_tags tags = {NULL, 0, 0};
  h5tx_error e = {0, ""};
  h5tx_rev from;
  if ((rc = cli_open(t.store, 0, &s)) || (rc = cli_rev_record(s, t.rev, &from)) ||
      (rc = cli_load_tags(s, &tags)))
    goto out;
  /* A name no commit ever changed is a mistake, not an empty history. */
  if (t.name && (rc = h5tx_log(s, H5TX_HEAD, touches, t.name, &e)) != 1) {
    rc = rc ? cli_fail_h5(&e)
            : cli_fail_code("H5TX_ENOENT",
                            "store %s: '%s' never existed: no commit changed it or a file under it",
                            t.store, t.name);
    goto out;
  }
  cli_json j;
  log_arg la = {t.name, max, 0, NULL, &tags};
  if (a.set[0]) {
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    if (t.name)
      cli_json_str(&j, "file", t.name);
    else
      cli_json_null(&j, "file");
    cli_json_array(&j, "commits");
    la.j = &j;
  }
  rc = h5tx_log(s, from, log_one, &la, &e);
  if (a.set[0]) {
    cli_json_end(&j);
    cli_json_end(&j);
  }
  if (rc < 0) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  if (!a.set[0] && la.shown == 0)
    printf(t.name ? "no commits changed %s\n" : "no commits%s\n", t.name ? t.name : "");
  rc = CLI_OK;
out:
  h5tx_common_tags_free(&tags);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_log = {
    "log", run_log, "STORE.h5tx[/NAME][@REV] [-n N] [--json]", "list commits, newest first",
    "Lists the commits of the store, newest first, from REV (default head)\n"
    "down: revision, time (UTC), pid and host of the writer, bytes and page\n"
    "versions it stored, tags, message and the files it changed. With NAME,\n"
    "only the commits that changed file NAME (or files under NAME/); a NAME\n"
    "that no commit ever changed is an error (exit 1).\n"
    "Collected (garbage-collected) revisions are listed and marked.\n\n"
    "Options:\n"
    "  -n, --max-count N   show at most N commits\n"
    "  --json              one JSON object: {store, file, commits: [{revision,\n"
    "                      parent, time, time_ns, host, pid, message,\n"
    "                      bytes_added, pages_added, collected, tags, files}]}\n"};

/* ---- show ---------------------------------------------------------------- */

typedef struct commit_copy {
  h5tx_commit c; /* its strings point at the copies below */
  char *host, *message;
  char **files;
  int found;
} commit_copy;

static void free_commit(commit_copy *cc) {
  free(cc->host);
  free(cc->message);
  for (uint32_t i = 0; cc->files && i < cc->c.nfiles; i++)
    free(cc->files[i]);
  free(cc->files);
}

static int first_commit(void *arg, const h5tx_commit *c) {
  commit_copy *cc = arg;
  cc->c = *c;
  cc->host = strdup(c->host ? c->host : "");
  cc->message = strdup(c->message ? c->message : "");
  cc->files = calloc(c->nfiles + 1, sizeof *cc->files);
  int ok = cc->host && cc->message && cc->files;
  for (uint32_t i = 0; ok && i < c->nfiles; i++)
    ok = (cc->files[i] = strdup(c->files[i])) != NULL;
  cc->c.host = cc->host;
  cc->c.message = cc->message;
  cc->c.files = (const char *const *)cc->files;
  cc->found = 1;
  return ok ? 1 : H5TX_ENOMEM;
}

/* One file of a commit, compared with the commit's parent. */
typedef struct file_change {
  const char *name;
  const char *status; /* created, changed, removed */
  int at_rev, at_parent, diffed;
  h5tx_stat st, pst;
  uint64_t pages, bytes;
} file_change;

static int count_run(void *arg, uint64_t first, uint64_t count, uint64_t offset, uint64_t length) {
  (void)first;
  (void)offset;
  file_change *f = arg;
  f->pages += count;
  f->bytes += length;
  return 0;
}

/* What a snapshot at `rev` says of `name`: 1 exists, 0 absent, -1 cannot
 * tell (revision collected). */
static int stat_in(h5tx_snap *snap, const char *name, h5tx_stat *st) {
  if (!snap) return -1;
  return h5tx_snap_stat(snap, name, st, NULL) == 0 ? 1 : 0;
}

static int run_show(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  int json = a.set[0];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME_OK | CLI_T_REV_OK, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_snap *snap = NULL, *psnap = NULL;
  h5tx_common_tags tags = {NULL, 0, 0};
  commit_copy cc;
  memset(&cc, 0, sizeof cc);
  file_change *fc = NULL;
  h5tx_error e = {0, ""};
  h5tx_rev rev;
  if ((rc = cli_open(t.store, 0, &s)) || (rc = cli_rev_record(s, t.rev, &rev)) ||
      (rc = cli_load_tags(s, &tags)))
    goto out;
  if (rev == 0) {
    rc = cli_fail("store %s: revision 0 is the empty store; it has no commit", t.store);
    goto out;
  }
  rc = h5tx_log(s, rev, first_commit, &cc, &e);
  if (rc < 0) {
    rc = cli_fail_rc(rc, &e);
    goto out;
  } else if (!cc.found || cc.c.rev != rev) {
    rc = cli_fail("store %s: no commit record for revision %llu", t.store, (unsigned long long)rev);
    goto out;
  }
  const h5tx_commit *c = &cc.c;
  /* Snapshots of the commit and its parent: either may be collected. */
  if (h5tx_snap_open(s, rev, &snap, NULL)) snap = NULL;
  if (h5tx_snap_open(s, c->parent, &psnap, NULL)) psnap = NULL;
  fc = calloc(c->nfiles + 1, sizeof *fc);
  if (!fc) {
    rc = cli_fail("out of memory");
    goto out;
  }
  size_t nf = 0;
  for (uint32_t i = 0; i < c->nfiles; i++) {
    if (!cli_name_matches(t.name, c->files[i])) continue;
    file_change *f = &fc[nf++];
    f->name = c->files[i];
    f->at_rev = stat_in(snap, f->name, &f->st);
    f->at_parent = stat_in(psnap, f->name, &f->pst);
    if (f->at_rev < 0)
      f->status = "unknown"; /* the revision was collected */
    else if (f->at_rev == 0)
      f->status = "removed";
    else if (f->at_rev == 1 &&
             (f->at_parent == 0 || (f->at_parent == 1 && f->pst.file_id != f->st.file_id)))
      f->status = "created";
    else
      f->status = "changed";
    f->diffed = snap && psnap && h5tx_diff(s, f->name, c->parent, rev, count_run, f, NULL) == 0;
  }
  if (t.name && nf == 0) {
    rc = cli_fail("store %s: revision %llu did not change '%s'", t.store, (unsigned long long)rev,
                  t.name);
    goto out;
  }
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    json_commit(&j, c, &tags);
    cli_json_array(&j, "files");
    for (size_t i = 0; i < nf; i++) {
      const file_change *f = &fc[i];
      cli_json_object(&j, NULL);
      cli_json_str(&j, "name", f->name);
      cli_json_str(&j, "status", f->status);
      if (f->at_rev == 1) {
        cli_json_u64(&j, "size", f->st.length);
        cli_json_u64(&j, "page_size", f->st.page_size);
      } else {
        cli_json_null(&j, "size");
        cli_json_null(&j, "page_size");
      }
      if (f->at_parent == 1)
        cli_json_u64(&j, "parent_size", f->pst.length);
      else
        cli_json_null(&j, "parent_size");
      if (f->diffed) {
        cli_json_u64(&j, "pages_changed", f->pages);
        cli_json_u64(&j, "bytes_changed", f->bytes);
      } else {
        cli_json_null(&j, "pages_changed");
        cli_json_null(&j, "bytes_changed");
      }
      cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    char tm[32], b[32], tg[256];
    tags_on(&tags, rev, tg, sizeof tg);
    printf("revision  %llu%s\n", (unsigned long long)rev,
           c->collected ? " (collected: its pages are gone)" : "");
    printf("parent    %llu\n", (unsigned long long)c->parent);
    printf("time      %s\n", h5tx_common_time(tm, c->time_ns, 0));
    printf("writer    pid %u on %s\n", c->pid, c->host);
    printf("stored    %s in %llu page version%s\n", cli_bytes(b, c->bytes_added),
           (unsigned long long)c->pages_added, c->pages_added == 1 ? "" : "s");
    if (tg[0]) printf("tags      %s\n", tg);
    putchar('\n');
    print_message(c->message);
    putchar('\n');
    cli_table tb;
    cli_table_init(&tb, "llrrl");
    cli_table_row(&tb, "STATUS", "FILE", "SIZE", "WAS", "CHANGED");
    for (size_t i = 0; i < nf; i++) {
      const file_change *f = &fc[i];
      char sz[32], was[32], ch[96], cb[32];
      if (f->at_rev == 1)
        cli_bytes(sz, f->st.length);
      else
        snprintf(sz, sizeof sz, "-");
      if (f->at_parent == 1)
        cli_bytes(was, f->pst.length);
      else
        snprintf(was, sizeof was, "-");
      if (f->diffed)
        snprintf(ch, sizeof ch, "%llu page%s, %s", (unsigned long long)f->pages,
                 f->pages == 1 ? "" : "s", cli_bytes(cb, f->bytes));
      else
        snprintf(ch, sizeof ch, "? (a revision was collected)");
      cli_table_row(&tb, f->status, f->name, sz, was, ch);
    }
    cli_table_print(&tb, stdout);
  }
  rc = CLI_OK;
out:
  free(fc);
  free_commit(&cc);
  h5tx_common_tags_free(&tags);
  h5tx_snap_close(snap);
  h5tx_snap_close(psnap);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_show = {
    "show", run_show, "STORE.h5tx[/NAME]@REV [--json]", "show one commit in detail, with its files",
    "Shows the commit that made revision REV (default head): parent, time,\n"
    "writer, bytes stored, tags, message, and for each file it changed (only\n"
    "NAME and files under it, when given): created, changed or removed, its\n"
    "size before and after, and the pages and bytes that differ from the\n"
    "parent revision.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, revision, parent, time, time_ns, host,\n"
    "           pid, message, bytes_added, pages_added, collected, tags,\n"
    "           files: [{name, status, size, page_size, parent_size,\n"
    "           pages_changed, bytes_changed}]} (null where unknown; status\n"
    "           is created, changed, removed, or unknown once collected)\n"};

/* ---- tag ----------------------------------------------------------------- */

static const cli_opt tag_opts[] = {{"delete", 'd', 0}, {"json", 0, 0}, {NULL, 0, 0}};

static int run_tag(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, tag_opts, 2, 3, argc, argv, &a);
  if (rc >= 0) return rc;
  int del = a.set[0];
  if (del && a.npos != 2) return cli_usage(cmd, "-d takes a store and a tag name, no revision");
  const char *name = a.pos[1];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  if ((rc = cli_open(t.store, 1, &s))) goto out;
  h5tx_rev old = 0, rev = 0;
  int had = h5tx_tag_get(s, name, &old, &e) == 0;
  if (del) {
    if (h5tx_tag_delete(s, name, &e)) {
      rc = cli_fail_rev(s, name, &e);
      goto out;
    }
  } else {
    if ((rc = cli_rev(s, a.npos > 2 ? a.pos[2] : NULL, &rev))) goto out;
    if (h5tx_tag_set(s, name, rev, &e)) {
      rc = cli_fail_h5(&e);
      goto out;
    }
  }
  if (a.set[1]) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_str(&j, "tag", name);
    if (del)
      cli_json_null(&j, "revision");
    else
      cli_json_u64(&j, "revision", rev);
    if (had)
      cli_json_u64(&j, "previous", old);
    else
      cli_json_null(&j, "previous");
    cli_json_end(&j);
  } else if (del) {
    printf("deleted tag %s (was revision %llu)\n", name, (unsigned long long)old);
  } else if (had && old != rev) {
    printf("moved tag %s from revision %llu to %llu\n", name, (unsigned long long)old,
           (unsigned long long)rev);
  } else {
    printf("tagged revision %llu as %s\n", (unsigned long long)rev, name);
  }
  rc = CLI_OK;
out:
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_tag = {
    "tag", run_tag, "STORE.h5tx TAG [REV] [--json]\n-d STORE.h5tx TAG [--json]",
    "give a revision a name, move or delete a tag",
    "Tags revision REV (a number, another tag or 'head', the default) as TAG,\n"
    "moving TAG if it exists. A tagged revision is never garbage-collected and\n"
    "reads as STORE.h5tx/NAME@TAG. Tag names have no '/' or '@', are not all\n"
    "digits and not 'head'.\n\n"
    "Options:\n"
    "  -d, --delete   delete TAG (the revision stays until gc lets it go)\n"
    "  --json         one JSON object: {store, tag, revision (null after -d),\n"
    "                 previous (the revision TAG named before, or null)}\n"};

/* ---- tags ---------------------------------------------------------------- */

static int run_tags(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_common_tags tags = {NULL, 0, 0};
  cli_json j;
  cli_table tb;
  if ((rc = cli_open(t.store, 0, &s)) || (rc = cli_load_tags(s, &tags))) goto out;
  if (a.set[0]) {
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_array(&j, "tags");
  } else {
    cli_table_init(&tb, "lrll");
    if (tags.n) cli_table_row(&tb, "TAG", "REVISION", "TIME", "MESSAGE");
  }
  for (size_t i = 0; i < tags.n; i++) {
    commit_copy cc;
    memset(&cc, 0, sizeof cc);
    h5tx_error e = {0, ""};
    int got = tags.v[i].rev > 0 && h5tx_log(s, tags.v[i].rev, first_commit, &cc, &e) == 1 &&
              cc.c.rev == tags.v[i].rev;
    char tm[32], msg[256];
    if (a.set[0]) {
      cli_json_object(&j, NULL);
      cli_json_str(&j, "name", tags.v[i].name);
      cli_json_u64(&j, "revision", tags.v[i].rev);
      if (got) {
        cli_json_str(&j, "time", h5tx_common_time(tm, cc.c.time_ns, 1));
        cli_json_u64(&j, "time_ns", cc.c.time_ns);
        cli_json_str(&j, "message", cc.c.message);
      } else {
        cli_json_null(&j, "time");
        cli_json_null(&j, "time_ns");
        cli_json_null(&j, "message");
      }
      cli_json_end(&j);
    } else {
      char rv[32];
      snprintf(rv, sizeof rv, "%llu", (unsigned long long)tags.v[i].rev);
      const char *m = got ? cc.c.message : "";
      snprintf(msg, sizeof msg, "%.*s", (int)strcspn(m, "\n"), m);
      cli_table_row(&tb, tags.v[i].name, rv, got ? h5tx_common_time(tm, cc.c.time_ns, 0) : "-",
                    msg);
    }
    free_commit(&cc);
  }
  if (a.set[0]) {
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    cli_table_print(&tb, stdout);
    if (!tags.n) printf("no tags\n");
  }
  rc = CLI_OK;
out:
  h5tx_common_tags_free(&tags);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_tags = {"tags", run_tags, "STORE.h5tx [--json]",
                              "list tags with their revisions",
                              "Lists every tag of the store, in name order, with its revision and\n"
                              "that commit's time and first message line.\n\n"
                              "Options:\n"
                              "  --json   one JSON object: {store, tags: [{name, revision, time,\n"
                              "           time_ns, message}]}\n"};
