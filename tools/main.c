/* main.c - the h5tx command: the table of subcommands, `h5tx --help`,
 * `h5tx help CMD`, `h5tx --version`, and the exit codes. Each subcommand
 * lives in a cmd_*.c file. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Every subcommand, in the order `h5tx --help` lists them. */
static const cli_cmd *const commands[] = {
    &cli_cmd_init,
    &cli_cmd_import,
    &cli_cmd_export,
    &cli_cmd_ls,
    &cli_cmd_log,
    &cli_cmd_show,
    &cli_cmd_tag,
    &cli_cmd_tags,
    &cli_cmd_diff,
    &cli_cmd_gc,
    &cli_cmd_verify,
    &cli_cmd_stats,
    &cli_cmd_rm,
    &cli_cmd_mv,
    &cli_cmd_cp,
    &cli_cmd_restore,
    &cli_cmd_revert,
    /* a store's format and index mended (issue 10) */
    &cli_cmd_upgrade,
    &cli_cmd_repair,
    &cli_cmd_backup,
    /* fuse/: a store as a file system (issue 6) */
    &cli_cmd_mount,
    &cli_cmd_umount,
    NULL,
};

static const char exit_codes[] = "Exit status:\n"
                                 "  0  success\n"
                                 "  1  failure (the message on stderr names what failed; for\n"
                                 "     verify: damage was found; for repair: something could\n"
                                 "     not be rebuilt)\n"
                                 "  2  usage: bad arguments, options, names, tags or revisions\n";

/* What a name means, in `h5tx --help` and every command's help. */
static const char names[] =
    "Names: STORE.h5tx/NAME@REV is file NAME in store STORE.h5tx at revision\n"
    "REV: a number, a tag or 'head' (the default).\n";

static const cli_cmd *find(const char *name) {
  for (int i = 0; commands[i]; i++)
    if (strcmp(commands[i]->name, name) == 0) return commands[i];
  return NULL;
}

void cli_help(const cli_cmd *cmd, FILE *f) {
  cli_synopsis(cmd, f, "Usage:");
  /* The summary as a sentence: "Create a store." */
  fprintf(f, "\n%c%s.\n\n%s", toupper((unsigned char)cmd->summary[0]), cmd->summary + 1, cmd->help);
  fprintf(f, "\n%s\n%s", names, exit_codes);
}

static void usage(FILE *f) {
  fprintf(f, "Usage: h5tx COMMAND [OPTIONS] ARGS...\n"
             "       h5tx help COMMAND | h5tx COMMAND --help | h5tx --version\n\n"
             "Keeps files, HDF5 or any other, as revisioned pages in a store (a\n"
             "directory named *.h5tx). Commands:\n\n");
  for (int i = 0; commands[i]; i++)
    fprintf(f, "  %-7s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f,
          "\n%s"
          "--json (every command but init, export, mount and umount) prints one\n"
          "JSON document on stdout for scripts; a failure then prints nothing there\n"
          "and one JSON document on stderr: {\"error\": {code, exit, message}}.\n"
          "Otherwise errors go to stderr as 'h5tx: MESSAGE'.\n"
          "--version prints the version of h5tx and of its store format.\n"
          "import, export, gc and verify show a progress bar when stderr is a\n"
          "terminal. A store of format 1 (an older h5tx) is refused by every\n"
          "command but upgrade, which converts it.\n\n%s",
          names, exit_codes);
}

/* stdout must reach its destination: a full disk is a failure too. */
static int finish(int rc) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int e = errno;
    cli_fail("writing output: %s", strerror(e ? e : EIO));
    rc = rc ? rc : CLI_FAIL;
  }
  return cli_json_errors_end(rc);
}

static int json; /* --json was given: errors are reported as JSON */

/* An unknown command, with the nearest one. */
static int unknown_command(const char *name) {
  const char *cands[sizeof commands / sizeof *commands];
  size_t n = 0;
  for (; commands[n]; n++)
    cands[n] = commands[n]->name;
  const char *near = cli_suggest(name, cands, n);
  if (near)
    cli_fail_code("usage", "unknown command '%s'; did you mean '%s'?", name, near);
  else
    cli_fail_code("usage", "unknown command '%s'", name);
  if (!json) fprintf(stderr, "Try 'h5tx --help'.\n");
  return CLI_USAGE;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--json") == 0) json = 1;
  if (json) cli_json_errors_begin();
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    usage(stdout);
    return finish(CLI_OK);
  }
  if (strcmp(name, "--version") == 0) {
    printf("h5tx %d.%d.%d (store format %d)\n", H5TX_VERSION_MAJOR, H5TX_VERSION_MINOR,
           H5TX_VERSION_PATCH, H5TX_FORMAT_VERSION);
    return finish(CLI_OK);
  }
  if (strcmp(name, "help") == 0) {
    if (argc == 2) {
      usage(stdout);
      return finish(CLI_OK);
    }
    const cli_cmd *c = find(argv[2]);
    if (!c) return finish(unknown_command(argv[2]));
    if (argc > 3) {
      fprintf(stderr, "h5tx: help: unexpected argument '%s'\nTry 'h5tx --help'.\n", argv[3]);
      return CLI_USAGE;
    }
    cli_help(c, stdout);
    return finish(CLI_OK);
  }
  const cli_cmd *c = find(name);
  if (!c) return finish(unknown_command(name));
  return finish(c->run(c, argc - 1, argv + 1));
}
