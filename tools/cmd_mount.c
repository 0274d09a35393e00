/* cmd_mount.c - h5tx subcommands mount (a store as a FUSE file system:
 * head files read-write, @REV and @TAG directories read-only) and umount,
 * on the fuse/ library (h5tx_fuse.h). */
#include "cli.h"
#include "h5tx_fuse.h"

#include <stdlib.h>

/* ---- mount ----------------------------------------------------------------- */

static const cli_opt mount_opts[] = {
    {"foreground", 'f', 0}, {"options", 'o', 1}, {"config", 0, 1}, {"threads", 0, 1}, {NULL, 0, 0}};
enum { M_FG, M_OPTS, M_CONFIG, M_THREADS };

static int run_mount(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, mount_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], 0, &t))) return rc;
  h5tx_fuse_opts o;
  h5tx_fuse_opts_init(&o);
  o.foreground = a.set[M_FG];
  o.fuse_opts = a.val[M_OPTS];
  o.config = a.val[M_CONFIG];
  if (a.set[M_THREADS]) {
    uint64_t n;
    if (cli_parse_u64(a.val[M_THREADS], &n) || n < 1 || n > 1000) {
      cli_target_free(&t);
      return cli_usage(cmd, "--threads: want a number from 1 to 1000, not '%s'", a.val[M_THREADS]);
    }
    o.max_threads = (unsigned)n;
  }
  h5tx_error e = {0, ""};
  rc = h5tx_fuse_mount(t.store, a.pos[1], &o, &e) ? cli_fail_h5(&e) : CLI_OK;
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_mount = {
    "mount", run_mount,
    "STORE.h5tx DIR [-f|--foreground] [-o OPTIONS] [--config CONFIG] [--threads N]",
    "mount a store as a file system",
    "Serves the store at DIR through FUSE until 'h5tx umount DIR':\n"
    "  DIR/NAME          head of file NAME: read, write, create, truncate,\n"
    "                    rename, remove (each a commit)\n"
    "  DIR/@REV/NAME     file NAME as of revision REV, read-only\n"
    "  DIR/@TAG/NAME     as of the revision tagged TAG, read-only\n"
    "  DIR/.h5tx/log     the commit log as text\n"
    "  DIR/.h5tx/stats   reads served from the store, commits made\n"
    "A file opened for reading shows the revision it was opened at, unchanged\n"
    "while commits land. Writes are committed at fsync and when the process\n"
    "that opened the file for writing closes its last descriptor of it\n"
    "(close(2) reports a failed commit); closes by other processes (a fork\n"
    "child, a subprocess) commit nothing, and a writer killed by a signal\n"
    "commits nothing. The writing process reads its own writes; others see\n"
    "committed bytes and sizes only. A second writer of a file gets EBUSY, a\n"
    "write under @REV EROFS. Files in the mount have the store directory's\n"
    "owner, group and modes; a directory mounted already is refused.\n"
    "Without -f, the command returns once the mount is ready and a daemon\n"
    "serves it (errors go to syslog).\n\n"
    "Options:\n"
    "  -f, --foreground    serve in this process until unmounted or\n"
    "                      interrupted (errors go to stderr)\n"
    "  -o OPTIONS          FUSE mount options, comma-separated (allow_other)\n"
    "  --config CONFIG     settings of files written: page_size=SIZE,\n"
    "                      codec=none|lz4|zstd|zstd:LEVEL, durability=sync|nosync,\n"
    "                      cache=SIZE (dirty bytes kept in memory per writer)\n"
    "  --threads N         worker threads (default 10)\n"};

/* ---- umount ---------------------------------------------------------------- */

static int run_umount(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, NULL, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  h5tx_error e = {0, ""};
  if (h5tx_fuse_umount(a.pos[0], &e)) return cli_fail_h5(&e);
  return CLI_OK;
}

const cli_cmd cli_cmd_umount = {
    "umount", run_umount, "DIR", "unmount a mounted store",
    "Unmounts the h5tx mount at DIR and waits until its daemon has closed the\n"
    "store. Fails (busy) while files on it are open. Also recovers the mount\n"
    "point of a daemon that was killed. Changes written through descriptors\n"
    "that were never closed are dropped, never committed.\n"};
