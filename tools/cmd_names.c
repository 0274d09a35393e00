/* cmd_names.c - h5tx subcommands that change the files at head without
 * new page payload, each one commit: rm (remove a file), mv (rename one),
 * cp (copy one, sharing its stored pages), restore (make an old revision
 * of a file its head again) and revert (undo one commit), on the public
 * h5tx_remove(), h5tx_rename(), h5tx_copy(), h5tx_restore() and
 * h5tx_revert(). */
#include "cli.h"
#include "out.h"

#include <stdio.h>
#include <string.h>

static const cli_opt edit_opts[] = {{"message", 'm', 1}, {"json", 0, 0}, {NULL, 0, 0}};
enum { ED_MESSAGE, ED_JSON };

/* Report the outcome `rc` of the commit of rm or mv that made `rev`:
 * `done` says what was done ("removed S/N"); with `json`, the members
 * {store, keys[i]: vals[i]..., revision} are printed instead. A commit
 * that landed but could not be flushed (H5TX_ESYNC) fails with its
 * revision. Returns the exit code. */
static int report(int rc, const h5tx_error *e, const char *done, h5tx_rev rev, int json,
                  const char *store, const char *const *keys, const char *const *vals, int n) {
  if (rc == H5TX_ESYNC) {
    cli_fail_h5(e);
    return cli_fail("%s in revision %llu, which is head but may not survive a power cut", done,
                    (unsigned long long)rev);
  }
  if (rc) return cli_fail_h5(e);
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", store);
    for (int i = 0; i < n; i++)
      cli_json_str(&j, keys[i], vals[i]);
    cli_json_u64(&j, "revision", rev);
    cli_json_end(&j);
  } else {
    printf("%s in revision %llu\n", done, (unsigned long long)rev);
  }
  return CLI_OK;
}

/* ---- rm ------------------------------------------------------------------ */

static int run_rm(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, edit_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  char msg[4200];
  snprintf(msg, sizeof msg, "rm %s", t.name);
  h5tx_rev rev = 0;
  if ((rc = cli_open(t.store, 1, &s))) goto out;
  rc = h5tx_remove(s, t.name, a.set[ED_MESSAGE] ? a.val[ED_MESSAGE] : msg, &rev, &e);
  char done[8400];
  snprintf(done, sizeof done, "removed %s/%s", t.store, t.name);
  const char *keys[] = {"file"}, *vals[] = {t.name};
  rc = report(rc, &e, done, rev, a.set[ED_JSON], t.store, keys, vals, 1);
out:
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_rm = {
    "rm", run_rm, "STORE.h5tx/NAME [-m MESSAGE] [--json]", "remove a file from head, as one commit",
    "Removes file NAME from the head of the store in one commit. Earlier\n"
    "revisions keep it: STORE.h5tx/NAME@REV still reads it until gc lets\n"
    "those revisions go. Fails (exit 1) when NAME is not at head or a writer\n"
    "holds it.\n\n"
    "Options:\n"
    "  -m, --message MSG   commit message (default: \"rm NAME\")\n"
    "  --json              one JSON object: {store, file, revision}\n"};

/* NEW as given after SRC: a name in SRC's store, or STORE.h5tx/NEW naming
 * that store again. 0 with *name, or the exit code (reported). */
static int same_store_name(const cli_cmd *cmd, const cli_target *src, const char *arg,
                           cli_target *to, const char **name) {
  *name = arg;
  if (!strstr(arg, ".h5tx")) return 0;
  int rc = cli_target_parse(cmd, arg, CLI_T_NAME, to);
  if (rc) return rc;
  if (strcmp(to->store, src->store) != 0)
    return cli_usage(cmd, "'%s' is in another store than '%s' (%s works inside one store)", arg,
                     src->store, cmd->name);
  *name = to->name;
  return 0;
}

/* ---- mv ------------------------------------------------------------------ */

static int run_mv(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, edit_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t, to;
  memset(&to, 0, sizeof to);
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME, &t))) return rc;
  const char *new_name;
  if ((rc = same_store_name(cmd, &t, a.pos[1], &to, &new_name))) goto out0;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  char msg[8400];
  snprintf(msg, sizeof msg, "mv %s %s", t.name, new_name);
  h5tx_rev rev = 0;
  if ((rc = cli_open(t.store, 1, &s))) goto out;
  rc = h5tx_rename(s, t.name, new_name, a.set[ED_MESSAGE] ? a.val[ED_MESSAGE] : msg, &rev, &e);
  char done[12600];
  snprintf(done, sizeof done, "renamed %s/%s to %s", t.store, t.name, new_name);
  const char *keys[] = {"from", "to"}, *vals[] = {t.name, new_name};
  rc = report(rc, &e, done, rev, a.set[ED_JSON], t.store, keys, vals, 2);
out:
  h5tx_store_close(s);
out0:
  cli_target_free(&to);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_mv = {
    "mv", run_mv, "STORE.h5tx/OLD NEW [-m MESSAGE] [--json]",
    "rename a file in a store, as one commit",
    "Renames file OLD to NEW at head in one commit, like rename(2): nothing is\n"
    "copied, an existing NEW is replaced, earlier revisions keep both names as\n"
    "they were. NEW is a name in the same store (or STORE.h5tx/NEW). Fails\n"
    "(exit 1) when OLD is not at head or a writer holds either name; exit 2\n"
    "when NEW is not a valid name, is OLD, or is in another store.\n\n"
    "Options:\n"
    "  -m, --message MSG   commit message (default: \"mv OLD NEW\")\n"
    "  --json              one JSON object: {store, from, to, revision}\n"};

/* ---- cp ------------------------------------------------------------------ */

static int run_cp(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, edit_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t, to;
  memset(&to, 0, sizeof to);
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME | CLI_T_REV_OK, &t))) return rc;
  const char *new_name;
  h5tx_store *s = NULL;
  if ((rc = same_store_name(cmd, &t, a.pos[1], &to, &new_name))) goto out;
  h5tx_error e = {0, ""};
  char msg[8400];
  snprintf(msg, sizeof msg, "cp %s%s%s %s", t.name, t.rev ? "@" : "", t.rev ? t.rev : "", new_name);
  h5tx_rev from = H5TX_HEAD, rev = 0;
  if ((rc = cli_open(t.store, 1, &s)) || (t.rev && (rc = cli_rev(s, t.rev, &from)))) goto out;
  rc = h5tx_copy(s, t.name, from, new_name, a.set[ED_MESSAGE] ? a.val[ED_MESSAGE] : msg, &rev, &e);
  if (rc == H5TX_EINVAL) {
    rc = cli_usage(cmd, "%s", e.msg);
    goto out;
  }
  char done[12600];
  snprintf(done, sizeof done, "copied %s/%s%s%s to %s", t.store, t.name, t.rev ? "@" : "",
           t.rev ? t.rev : "", new_name);
  const char *keys[] = {"from", "to"}, *vals[] = {t.name, new_name};
  rc = report(rc, &e, done, rev, a.set[ED_JSON], t.store, keys, vals, 2);
out:
  h5tx_store_close(s);
  cli_target_free(&to);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_cp = {
    "cp", run_cp, "STORE.h5tx/SRC[@REV] NEW [-m MESSAGE] [--json]",
    "copy a file in a store, storing no page payload, as one commit",
    "Copies file SRC as it is at REV (default: head) to NEW at head in one\n"
    "commit. The copy shares SRC's stored pages: no page payload is written,\n"
    "only index entries (about 100 bytes per page that is not zeros); the two\n"
    "files change apart from then on. An existing NEW is replaced, as by mv;\n"
    "earlier revisions keep it. NEW is a name in the same store (or\n"
    "STORE.h5tx/NEW). Copying a file onto its own name from an earlier\n"
    "revision is a restore. Fails (exit 1) when SRC is not at REV or a writer\n"
    "holds NEW; exit 2 when NEW is not a valid name, is SRC at head, is a\n"
    "directory of files, or is in another store.\n\n"
    "Options:\n"
    "  -m, --message MSG   commit message (default: \"cp SRC[@REV] NEW\")\n"
    "  --json              one JSON object: {store, from, to, revision}\n"};

/* ---- restore ----------------------------------------------------------- */

static int run_restore(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, edit_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME | CLI_T_REV_OK, &t))) return rc;
  h5tx_store *s = NULL;
  if (!t.rev) {
    rc = cli_usage(cmd, "name the revision to restore: %s@REV", a.pos[0]);
    goto out;
  }
  h5tx_error e = {0, ""};
  char msg[4200];
  snprintf(msg, sizeof msg, "restore %s@%s", t.name, t.rev);
  h5tx_rev from, rev = 0, head = 0;
  if ((rc = cli_open(t.store, 1, &s)) || (rc = cli_rev(s, t.rev, &from))) goto out;
  if (h5tx_store_head(s, &head, &e) != 0) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  rc = h5tx_restore(s, t.name, from, a.set[ED_MESSAGE] ? a.val[ED_MESSAGE] : msg, &rev, &e);
  if (rc == 0 && rev <= head && !a.set[ED_JSON]) {
    printf("%s/%s already reads as at revision %llu: no revision made (head is %llu)\n", t.store,
           t.name, (unsigned long long)from, (unsigned long long)rev);
    goto out;
  }
  char done[8400];
  snprintf(done, sizeof done, "restored %s/%s as at revision %llu", t.store, t.name,
           (unsigned long long)from);
  char fromtxt[24];
  snprintf(fromtxt, sizeof fromtxt, "%llu", (unsigned long long)from);
  const char *keys[] = {"file", "from_revision"}, *vals[] = {t.name, fromtxt};
  rc = report(rc, &e, done, rev, a.set[ED_JSON], t.store, keys, vals, 2);
out:
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_restore = {
    "restore", run_restore, "STORE.h5tx/NAME@REV [-m MESSAGE] [--json]",
    "make an old revision of a file its head again, as one commit",
    "Makes file NAME at head read exactly as it read at revision REV (a\n"
    "number or a tag), in one commit that stores no page payload: the pages\n"
    "that differ share REV's stored pages again, pages REV did not have read\n"
    "as zeros. History is kept: the revisions in between stay readable. If\n"
    "NAME was removed or replaced by another file since, it becomes a copy of\n"
    "the file it named at REV. When nothing differs, no revision is made.\n"
    "Fails (exit 1) when NAME did not exist at REV, REV was garbage-collected,\n"
    "or a writer holds NAME; exit 2 without @REV.\n\n"
    "Options:\n"
    "  -m, --message MSG   commit message (default: \"restore NAME@REV\")\n"
    "  --json              one JSON object: {store, file, from_revision,\n"
    "                      revision} (revision: the new one, or head when\n"
    "                      nothing differed)\n"};

/* ---- revert ------------------------------------------------------------ */

static int run_revert(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, edit_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  h5tx_rev which, rev = 0;
  if ((rc = cli_open(t.store, 1, &s)) || (rc = cli_rev(s, a.pos[1], &which))) goto out;
  char msg[4200];
  snprintf(msg, sizeof msg, "revert %llu", (unsigned long long)which);
  rc = h5tx_revert(s, which, a.set[ED_MESSAGE] ? a.val[ED_MESSAGE] : msg, &rev, &e);
  char done[4400], wtxt[24];
  snprintf(done, sizeof done, "reverted revision %llu of %s", (unsigned long long)which, t.store);
  snprintf(wtxt, sizeof wtxt, "%llu", (unsigned long long)which);
  const char *keys[] = {"reverted"}, *vals[] = {wtxt};
  rc = report(rc, &e, done, rev, a.set[ED_JSON], t.store, keys, vals, 1);
out:
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_revert = {
    "revert", run_revert, "STORE.h5tx REV [-m MESSAGE] [--json]",
    "undo one commit's changes, as a new commit",
    "Undoes what revision REV (a number or a tag) changed, in one new commit\n"
    "that stores no page payload: names REV changed name what they named\n"
    "before it (a file REV made is removed, one it removed or renamed comes\n"
    "back), and files whose content REV changed read as before it. The\n"
    "revisions in between stay as they are. Fails (exit 1, nothing\n"
    "committed) when a later revision changed one of those names or files\n"
    "again (a conflict: restore the file you want instead), or when REV or\n"
    "the revision before it was garbage-collected.\n\n"
    "Options:\n"
    "  -m, --message MSG   commit message (default: \"revert REV\")\n"
    "  --json              one JSON object: {store, reverted, revision}\n"};
