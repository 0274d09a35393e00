/* cmd_names.c - h5tx subcommands that change the names in a store: rm
 * (remove a file from head) and mv (rename one), each one commit, on the
 * public h5tx_remove() and h5tx_rename(). */
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

/* ---- mv ------------------------------------------------------------------ */

static int run_mv(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, edit_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t, to;
  memset(&to, 0, sizeof to);
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME, &t))) return rc;
  /* NEW is a name in the same store, or STORE.h5tx/NEW naming it again. */
  const char *new_name = a.pos[1];
  if (strstr(new_name, ".h5tx")) {
    if ((rc = cli_target_parse(cmd, new_name, CLI_T_NAME, &to))) goto out0;
    if (strcmp(to.store, t.store) != 0) {
      rc = cli_usage(cmd, "'%s' is in another store than '%s' (mv renames inside one store)",
                     new_name, a.pos[0]);
      goto out0;
    }
    new_name = to.name;
  }
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
