/* cmd_files.c - h5tx subcommands about the files in a store: import (a file
 * in, byte for byte, as one commit), export (a revision out as a plain
 * file), ls (files with sizes and storage), diff (pages changed between two
 * revisions). */
#include "cli.h"
#include "out.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (4u << 20) /* bytes per read and write */

/* ---- import -------------------------------------------------------------- */

static const cli_opt import_opts[] = {{"message", 'm', 1},  {"page-size", 0, 1}, {"codec", 0, 1},
                                      {"durability", 0, 1}, {"json", 0, 0},      {NULL, 0, 0}};
enum { IM_MESSAGE, IM_PAGE_SIZE, IM_CODEC, IM_DURABILITY, IM_JSON };

/* Fill `buf` from `fd` up to `cap` bytes: the count, with *eof at end of
 * input; -1 with errno on an error or EINTR on interruption. */
static ssize_t read_full(int fd, char *buf, size_t cap, int *eof) {
  size_t got = 0;
  *eof = 0;
  while (got < cap) {
    if (cli_interrupted) {
      errno = EINTR;
      return -1;
    }
    ssize_t n = read(fd, buf + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {
      *eof = 1;
      break;
    }
    got += (size_t)n;
  }
  return (ssize_t)got;
}

/* The commit of an import: its progress, in bytes of dirty pages, and the
 * place where an interruption stops it (before the commit point). */
typedef struct import_commit {
  cli_progress *bar;
  uint32_t ps;
} import_commit;

static int on_commit(void *arg, uint64_t done, uint64_t total) {
  import_commit *ic = arg;
  if (done == 1) cli_test_stop("commit");
  if (cli_interrupted) return 1; /* h5tx_writer_commit_progress returns it */
  cli_progress_update(ic->bar, done * ic->ps, total * ic->ps);
  return 0;
}

static int run_import(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, import_opts, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  const char *src = a.pos[0];
  h5tx_config cfg;
  h5tx_config_init(&cfg);
  if ((rc = cli_parse_store_opts(cmd, &a, IM_PAGE_SIZE, &cfg))) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[1], CLI_T_NAME, &t))) return rc;

  int fd = strcmp(src, "-") == 0 ? STDIN_FILENO : open(src, O_RDONLY | O_CLOEXEC);
  struct stat st;
  h5tx_store *s = NULL;
  h5tx_writer *w = NULL;
  char *buf = NULL;
  cli_progress bar;
  int bar_on = 0;
  h5tx_error e = {0, ""};
  if (fd < 0) {
    rc = cli_fail("cannot open %s: %s", src, strerror(errno));
    goto out;
  }
  if (fstat(fd, &st) != 0) {
    rc = cli_fail("cannot read %s: %s", src, strerror(errno));
    goto out;
  }
  if (S_ISDIR(st.st_mode)) {
    rc = cli_fail("%s is a directory; import copies one file", src);
    goto out;
  }
  if ((rc = cli_open(t.store, 1, &s))) goto out;

  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.truncate = 1;
  wo.page_size = cfg.page_size;
  wo.codec = cfg.codec;
  wo.level = cfg.level;
  wo.durability = cfg.durability;
  if (h5tx_writer_open(s, t.name, &wo, &w, &e)) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  uint32_t ps = h5tx_writer_page_size(w);
  if (cfg.page_size && ps != cfg.page_size) {
    char have[32], want[32];
    rc = cli_fail("store %s: file '%s' exists with page size %s; --page-size %s applies only "
                  "to new files",
                  t.store, t.name, cli_bytes(have, ps), cli_bytes(want, cfg.page_size));
    goto out;
  }
  h5tx_rev base = h5tx_writer_base(w);
  size_t cap = ps > CHUNK ? ps : CHUNK;
  if (!(buf = malloc(cap))) {
    rc = cli_fail("out of memory");
    goto out;
  }
  cli_catch_signals();
  cli_progress_start(&bar, "import", S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, 1);
  bar_on = 1;
  uint64_t off = 0;
  for (int eof = 0; !eof;) {
    ssize_t n = read_full(fd, buf, cap, &eof);
    if (n < 0) {
      cli_progress_end(&bar);
      bar_on = 0;
      if (cli_interrupted)
        rc = cli_fail("import of %s into %s/%s interrupted; nothing was imported", src, t.store,
                      t.name);
      else
        rc = cli_fail("reading %s at byte %llu: %s; nothing was imported", src,
                      (unsigned long long)off, strerror(errno));
      goto out;
    }
    if (n > 0 && h5tx_writer_write(w, off, buf, (size_t)n, &e)) {
      cli_progress_end(&bar);
      bar_on = 0;
      cli_fail_h5(&e);
      rc = cli_fail("nothing was imported");
      goto out;
    }
    off += (uint64_t)n;
    cli_progress_update(&bar, off, 0);
    if (off == (uint64_t)n && n > 0) cli_test_stop("read");
  }
  cli_progress_end(&bar);
  bar_on = 0;
  if (cli_interrupted) {
    rc =
        cli_fail("import of %s into %s/%s interrupted; nothing was imported", src, t.store, t.name);
    goto out;
  }
  char msg[4200];
  snprintf(msg, sizeof msg, "import %s", src);
  h5tx_rev rev;
  /* The commit compresses and stores every page: its own bar, which an
   * interruption stops before the commit point. */
  import_commit ic = {&bar, ps};
  cli_progress_start(&bar, "import: commit", 0, 1);
  bar_on = 1;
  rc = h5tx_writer_commit_progress(w, a.set[IM_MESSAGE] ? a.val[IM_MESSAGE] : msg, on_commit, &ic,
                                   &rev, &e);
  cli_progress_end(&bar);
  bar_on = 0;
  if (rc == 1) {
    rc = cli_fail("import of %s into %s/%s interrupted while committing, before the commit "
                  "point; nothing was imported",
                  src, t.store, t.name);
    goto out;
  }
  if (rc == H5TX_ESYNC) { /* landed as `rev`, but not flushed: say which, and fail */
    cli_fail_h5(&e);
    rc = cli_fail("imported %s as %s/%s in revision %llu, which is head but may not survive a "
                  "power cut",
                  src, t.store, t.name, (unsigned long long)rev);
    goto out;
  }
  if (rc) {
    cli_fail_h5(&e);
    rc = cli_fail("nothing was imported");
    goto out;
  }
  cli_test_stop("committed");
  char b[32];
  if (a.set[IM_JSON]) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_str(&j, "file", t.name);
    cli_json_u64(&j, "revision", rev);
    cli_json_u64(&j, "size", off);
    cli_json_bool(&j, "committed", rev != base);
    cli_json_end(&j);
  } else if (rev == base)
    printf("%s/%s already holds the bytes of %s: nothing to commit (revision %llu)\n", t.store,
           t.name, src, (unsigned long long)rev);
  else
    printf("imported %s as %s/%s: %s, revision %llu\n", src, t.store, t.name, cli_bytes(b, off),
           (unsigned long long)rev);
  /* Past the commit point an interruption changes nothing: say so. */
  if (cli_interrupted && rev != base)
    cli_fail("interrupted after the commit point: revision %llu holds all of %s",
             (unsigned long long)rev, src);
  rc = CLI_OK;
out:
  if (bar_on) cli_progress_end(&bar);
  if (w) h5tx_writer_abort(w);
  h5tx_writer_close(w);
  h5tx_store_close(s);
  if (fd > STDIN_FILENO) close(fd);
  free(buf);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_import = {
    "import", run_import,
    "FILE STORE.h5tx/NAME [-m MESSAGE] [--page-size SIZE] [--codec CODEC] [--json]",
    "copy a file into a store, byte for byte, as one commit",
    "Copies FILE (an HDF5 file or any other; '-' reads stdin) into the store as\n"
    "file NAME, replacing what NAME held, in one commit. Nothing is committed\n"
    "unless the whole file was read: a read error or an interruption (Ctrl-C,\n"
    "SIGTERM, SIGHUP) while reading or committing leaves the store as it was\n"
    "(exit 1). An interruption after the commit point, which cannot be undone,\n"
    "is reported with the revision that holds the import (exit 0); so is a\n"
    "commit that landed but could not be flushed to disk (exit 1). Importing\n"
    "identical bytes again makes no revision. The store must exist (h5tx init).\n\n"
    "Options:\n"
    "  -m, --message MSG    commit message (default: \"import FILE\")\n"
    "  --page-size SIZE     page size if NAME is new: a power of two, 512 to 16M\n"
    "                       (64K, 1M; default: the store's)\n"
    "  --codec CODEC        none, lz4, zstd or zstd:LEVEL (default: the store's)\n"
    "  --durability MODE    sync (durable on return) or nosync\n"
    "  --json               one JSON object: {store, file, revision, size,\n"
    "                       committed} (committed is false when NAME already\n"
    "                       held those bytes; revision is then its head)\n"
    "A progress bar with throughput and ETA is shown when stderr is a terminal,\n"
    "for reading FILE and then for the commit.\n"};

/* ---- export -------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t n) {
  while (n) {
    ssize_t k = write(fd, buf, n);
    if (k < 0 && errno == EINTR && !cli_interrupted) continue;
    if (k < 0) return -1;
    buf += k;
    n -= (size_t)k;
  }
  return 0;
}

/* The store directory that output path `path` would land in, if any: the
 * nearest directory above it (symlinks resolved) that holds a store marker
 * or is named *.h5tx. Writing there would replace or litter a store (say,
 * its data.mdb). Returns a malloc'd path, or NULL. */
static char *store_around(const char *path) {
  char *copy = strdup(path);
  if (!copy) return NULL;
  char *slash = strrchr(copy, '/');
  const char *dir = slash ? (slash == copy ? "/" : (*slash = 0, copy)) : ".";
  char *real = realpath(dir, NULL);
  free(copy);
  if (!real) return NULL; /* a missing directory: the export fails anyway */
  for (;;) {
    size_t n = strlen(real);
    char marker[4200];
    struct stat st;
    snprintf(marker, sizeof marker, "%s/h5tx-store", real);
    if (lstat(marker, &st) == 0 || (n > 5 && strcmp(real + n - 5, ".h5tx") == 0)) return real;
    char *up = strrchr(real, '/');
    if (!up || up == real) break;
    *up = 0;
  }
  free(real);
  return NULL;
}

static int run_export(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, NULL, 2, 2, argc, argv, &a);
  if (rc >= 0) return rc;
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME | CLI_T_REV_OK, &t))) return rc;
  const char *out = a.pos[1];
  int to_stdout = strcmp(out, "-") == 0;
  h5tx_store *s = NULL;
  h5tx_snap *snap = NULL;
  h5tx_error e = {0, ""};
  char *path = NULL, *tmp = NULL, *buf = NULL;
  int fd = -1;
  cli_progress bar;
  int bar_on = 0;
  if ((rc = cli_open(t.store, 0, &s)) || (rc = cli_snap(s, t.rev, &snap))) goto out;
  h5tx_rev rev = h5tx_snap_rev(snap);
  h5tx_stat st;
  if (h5tx_snap_stat(snap, t.name, &st, &e)) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  /* Into a directory: under the file's own last name, as cp does. */
  struct stat ost;
  if (!to_stdout && stat(out, &ost) == 0 && S_ISDIR(ost.st_mode)) {
    const char *base = strrchr(t.name, '/');
    base = base ? base + 1 : t.name;
    if (asprintf(&path, "%s/%s", out, base) < 0) path = NULL;
  } else {
    /* Through a symlink to what it names, as cp does: the link stays. */
    char *real = realpath(out, NULL);
    path = real ? real : strdup(out);
  }
  char *inside = to_stdout || !path ? NULL : store_around(path);
  if (inside) {
    cli_fail("%s is inside store %s; export writes plain files outside stores (to copy a file "
             "within a store: h5tx export ... - | h5tx import - ...); nothing was written",
             path, inside);
    free(inside);
    rc = CLI_USAGE;
    goto out;
  }
  /* Only a regular file (or a new name) is replaced by rename; a device, a
   * FIFO or a socket (/dev/null, a pipe) is written into, never replaced. */
  int direct = !to_stdout && path && stat(path, &ost) == 0 && !S_ISREG(ost.st_mode);
  size_t cap = st.page_size > CHUNK ? st.page_size : CHUNK;
  if (!path || !(buf = malloc(cap))) {
    rc = cli_fail("out of memory");
    goto out;
  }
  if (to_stdout) {
    fd = STDOUT_FILENO;
  } else if (direct) {
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      rc = cli_fail("cannot open %s: %s", path, strerror(errno));
      goto out;
    }
  } else {
    /* Written under a temporary name and renamed: never a half file at OUT. */
    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
      tmp = NULL;
      rc = cli_fail("out of memory");
      goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
      rc = cli_fail("cannot create %s: %s", tmp, strerror(errno));
      free(tmp);
      tmp = NULL;
      goto out;
    }
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
  }
  cli_catch_signals();
  cli_progress_start(&bar, "export", st.length, 1);
  bar_on = 1;
  for (uint64_t off = 0; off < st.length;) {
    size_t n = st.length - off < cap ? (size_t)(st.length - off) : cap;
    if (h5tx_snap_read_stat(snap, t.name, &st, off, buf, n, &e)) {
      cli_progress_end(&bar);
      bar_on = 0;
      rc = cli_fail_h5(&e);
      goto out;
    }
    if (cli_interrupted || write_all(fd, buf, n) != 0) {
      int err = errno;
      cli_progress_end(&bar);
      bar_on = 0;
      rc = cli_interrupted ? cli_fail("export to %s interrupted", path)
                           : cli_fail("writing %s: %s", to_stdout ? "stdout" : path, strerror(err));
      goto out;
    }
    off += n;
    cli_progress_update(&bar, off, 0);
  }
  cli_progress_end(&bar);
  bar_on = 0;
  if (!to_stdout) {
    /* fsync is for files: a device or a pipe may refuse it (EINVAL). */
    if ((!direct && fsync(fd) != 0) || close(fd) != 0) {
      fd = -1;
      rc = cli_fail("writing %s: %s", path, strerror(errno));
      goto out;
    }
    fd = -1;
    if (cli_interrupted) {
      rc = cli_fail("export to %s interrupted", path);
      goto out;
    }
    if (!direct && rename(tmp, path) != 0) {
      rc = cli_fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
      goto out;
    }
    free(tmp);
    tmp = NULL;
    char b[32];
    printf("exported %s/%s@%llu to %s: %s\n", t.store, t.name, (unsigned long long)rev, path,
           cli_bytes(b, st.length));
  }
  rc = CLI_OK;
out:
  if (bar_on) cli_progress_end(&bar);
  if (fd > STDOUT_FILENO) close(fd);
  if (tmp) unlink(tmp);
  free(tmp);
  free(path);
  free(buf);
  h5tx_snap_close(snap);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_export = {
    "export", run_export, "STORE.h5tx/NAME[@REV] OUT",
    "write a file of a store out as a plain file",
    "Writes file NAME as of revision REV (default head) to OUT, byte for byte\n"
    "what was committed. OUT is written under a temporary name next to it and\n"
    "renamed when complete, so OUT never holds half a file. When OUT is a\n"
    "directory the file keeps the last part of its name; '-' writes to stdout;\n"
    "a symlink is written through; a device or FIFO is written into, never\n"
    "replaced. OUT inside a store directory is refused (exit 2).\n"
    "A progress bar is shown when stderr is a terminal.\n"};

/* ---- ls ------------------------------------------------------------------ */

typedef struct entry {
  char *name;
  h5tx_stat st;
  h5tx_file_usage u;
} entry;

typedef struct entries {
  entry *v;
  size_t n, cap;
  const char *want; /* NAME or directory, or NULL */
} entries;

static int collect(void *arg, const char *name, const h5tx_stat *st) {
  entries *es = arg;
  if (!cli_name_matches(es->want, name)) return 0;
  if (es->n == es->cap) {
    size_t cap = es->cap ? es->cap * 2 : 64;
    entry *v = realloc(es->v, cap * sizeof *v);
    if (!v) return H5TX_ENOMEM;
    es->v = v;
    es->cap = cap;
  }
  entry *x = &es->v[es->n];
  memset(x, 0, sizeof *x);
  if (!(x->name = strdup(name))) return H5TX_ENOMEM;
  x->st = *st;
  es->n++;
  return 0;
}

/* "zstd", "raw", "zstd 18, raw 2, zero 1": how a file's pages are stored. */
static const char *codec_mix(char buf[128], const h5tx_file_usage *u) {
  if (u->pages == 0) return "-";
  if (u->zstd_pages == u->pages) return "zstd";
  if (u->lz4_pages == u->pages) return "lz4";
  if (u->raw_pages == u->pages) return "raw";
  if (u->zero_pages == u->pages) return "zero";
  buf[0] = 0;
  size_t n = 0;
  const char *names[] = {"lz4", "zstd", "raw", "zero"};
  uint64_t counts[] = {u->lz4_pages, u->zstd_pages, u->raw_pages, u->zero_pages};
  for (int i = 0; i < 4; i++)
    if (counts[i])
      n += (size_t)snprintf(buf + n, 128 - n, "%s%s %llu", n ? ", " : "", names[i],
                            (unsigned long long)counts[i]);
  return buf;
}

static int run_ls(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 1, 1, argc, argv, &a);
  if (rc >= 0) return rc;
  int json = a.set[0];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME_OK | CLI_T_REV_OK, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_snap *snap = NULL;
  h5tx_error e = {0, ""};
  entries es = {NULL, 0, 0, t.name};
  cli_names foreign = {NULL, 0, 0};
  if ((rc = cli_open(t.store, 0, &s))) goto out;
  if ((rc = cli_foreign(s, &foreign))) goto out;
  if ((rc = cli_snap(s, t.rev, &snap))) goto out;
  h5tx_rev rev = h5tx_snap_rev(snap);
  if ((rc = h5tx_snap_list(snap, t.name, collect, &es, &e))) {
    rc = cli_fail_rc(rc, &e);
    goto out;
  }
  if (t.name && es.n == 0) {
    const char *stray = "";
    for (size_t i = 0; i < foreign.n; i++)
      if (strcmp(foreign.v[i], t.name) == 0)
        stray = " (it is a plain file in the store's directory, not part of the store: written "
                "there by a program that ignored HDF5_DRIVER, such as an HDF5 1.10 one)";
    rc = cli_fail("store %s: no file '%s' (nor files under it) at revision %llu%s", t.store, t.name,
                  (unsigned long long)rev, stray);
    goto out;
  }
  uint64_t size = 0, stored = 0;
  for (size_t i = 0; i < es.n; i++) {
    if (h5tx_snap_usage(snap, es.v[i].name, &es.v[i].u, &e)) {
      rc = cli_fail_h5(&e);
      goto out;
    }
    size += es.v[i].st.length;
    stored += es.v[i].u.stored_bytes;
  }
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_u64(&j, "revision", rev);
    cli_json_array(&j, "files");
    for (size_t i = 0; i < es.n; i++) {
      const entry *x = &es.v[i];
      cli_json_object(&j, NULL);
      cli_json_str(&j, "name", x->name);
      cli_json_u64(&j, "size", x->st.length);
      cli_json_u64(&j, "page_size", x->st.page_size);
      cli_json_u64(&j, "pages", x->u.pages);
      cli_json_u64(&j, "zstd_pages", x->u.zstd_pages);
      cli_json_u64(&j, "lz4_pages", x->u.lz4_pages);
      cli_json_u64(&j, "raw_pages", x->u.raw_pages);
      cli_json_u64(&j, "zero_pages", x->u.zero_pages);
      cli_json_u64(&j, "stored_bytes", x->u.stored_bytes);
      cli_json_u64(&j, "created", x->st.created);
      cli_json_u64(&j, "changed", x->st.changed);
      cli_json_u64(&j, "file_id", x->st.file_id);
      cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_u64(&j, "total_size", size);
    cli_json_u64(&j, "total_stored_bytes", stored);
    cli_json_array(&j, "foreign");
    for (size_t i = 0; i < foreign.n; i++)
      cli_json_str(&j, NULL, foreign.v[i]);
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    cli_table tb;
    cli_table_init(&tb, "lrrrlrr");
    cli_table_row(&tb, "NAME", "SIZE", "PAGE", "PAGES", "CODEC", "STORED", "CHANGED");
    for (size_t i = 0; i < es.n; i++) {
      const entry *x = &es.v[i];
      char sz[32], ps[32], np[32], mix[128], sb[32], ch[32];
      snprintf(np, sizeof np, "%llu", (unsigned long long)x->u.pages);
      snprintf(ch, sizeof ch, "%llu", (unsigned long long)x->st.changed);
      cli_table_row(&tb, x->name, cli_bytes(sz, x->st.length), cli_bytes(ps, x->st.page_size), np,
                    codec_mix(mix, &x->u), cli_bytes(sb, x->u.stored_bytes), ch);
    }
    cli_table_print(&tb, stdout);
    char sz[32], sb[32];
    printf("%zu file%s, %s, stored in %s, at revision %llu\n", es.n, es.n == 1 ? "" : "s",
           cli_bytes(sz, size), cli_bytes(sb, stored), (unsigned long long)rev);
  }
  fflush(stdout);
  cli_foreign_print(stderr, "h5tx: ", t.store, &foreign);
  rc = CLI_OK;
out:
  cli_names_free(&foreign);
  for (size_t i = 0; i < es.n; i++)
    free(es.v[i].name);
  free(es.v);
  h5tx_snap_close(snap);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_ls = {
    "ls", run_ls, "STORE.h5tx[/PREFIX][@REV] [--json]",
    "list files with size, page size, codec and stored bytes",
    "Lists the files of the store at revision REV (default head), or only the\n"
    "file PREFIX and the files under it as a directory. For each: its size,\n"
    "page size, stored page versions it reads (PAGES), how they are stored\n"
    "(CODEC: lz4, zstd, raw, zero pages or a mix with counts), the bytes of those\n"
    "records (STORED) and the newest revision that changed it. Entries of the\n"
    "store's directory that are not part of the store (plain files an HDF5\n"
    "1.10 program wrote there, ignoring HDF5_DRIVER) are named on stderr.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, revision, files: [{name, size,\n"
    "           page_size, pages, zstd_pages, lz4_pages, raw_pages, zero_pages,\n"
    "           stored_bytes, created, changed, file_id}], total_size,\n"
    "           total_stored_bytes, foreign: [names, a directory's ending\n"
    "           in /]}\n"};

/* ---- diff ---------------------------------------------------------------- */

typedef struct run {
  uint64_t first, count, offset, length;
} run;

typedef struct runs {
  run *v;
  size_t n, cap;
} runs;

static int add_run(void *arg, uint64_t first, uint64_t count, uint64_t offset, uint64_t length) {
  runs *r = arg;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    run *v = realloc(r->v, cap * sizeof *v);
    if (!v) return H5TX_ENOMEM;
    r->v = v;
    r->cap = cap;
  }
  r->v[r->n++] = (run){first, count, offset, length};
  return 0;
}

/* Stat `name` at `rev`: 1 found, 0 absent, or -1 with `e` set. */
static int stat_at(h5tx_store *s, const char *name, h5tx_rev rev, h5tx_stat *st, h5tx_error *e) {
  h5tx_snap *snap;
  if (h5tx_snap_open(s, rev, &snap, e)) return -1;
  int rc = h5tx_snap_stat(snap, name, st, e);
  h5tx_snap_close(snap);
  if (rc == H5TX_ENOENT) return 0;
  return rc ? -1 : 1;
}

static const cli_opt diff_opts[] = {{"json", 0, 0}, {"objects", 0, 0}, {NULL, 0, 0}};

#define OBJDIFF "h5tx-diff-objects"

/* diff --objects: run h5tx-diff-objects (it links HDF5; h5tx does not),
 * found next to this program or on PATH. Returns only on failure. */
static int exec_objdiff(const cli_args *a) {
  char *argv[CLI_MAX_POS + 3];
  int n = 0;
  argv[n++] = OBJDIFF;
  for (int i = 0; i < a->npos; i++)
    argv[n++] = (char *)a->pos[i];
  if (a->set[0]) argv[n++] = "--json";
  argv[n] = NULL;
  char self[4096], next[4200];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  next[0] = 0;
  if (len > 0) {
    self[len] = 0;
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = 0;
      snprintf(next, sizeof next, "%s/" OBJDIFF, self);
      if (access(next, X_OK) == 0) {
        fflush(stdout);
        execv(next, argv);
        return cli_fail("cannot run %s: %s", next, strerror(errno));
      }
    }
  }
  fflush(stdout);
  execvp(OBJDIFF, argv);
  if (errno != ENOENT) return cli_fail("cannot run " OBJDIFF ": %s", strerror(errno));
  return cli_fail_code("H5TX_ENOENT",
                       "diff --objects needs the program " OBJDIFF " (built and installed with "
                       "h5tx where HDF5 is found), which is neither at %s nor on PATH",
                       next[0] ? next : "the directory of h5tx");
}

static int run_diff(const cli_cmd *cmd, int argc, char **argv) {
  cli_args a;
  int rc = cli_parse(cmd, diff_opts, 2, 3, argc, argv, &a);
  if (rc >= 0) return rc;
  if (a.set[1]) return exec_objdiff(&a);
  int json = a.set[0];
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME, &t))) return rc;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  runs r = {NULL, 0, 0};
  if ((rc = cli_open(t.store, 0, &s))) goto out;
  h5tx_rev ra, rb;
  if ((rc = cli_rev(s, a.pos[1], &ra)) || (rc = cli_rev(s, a.npos > 2 ? a.pos[2] : NULL, &rb)))
    goto out;
  h5tx_stat sa, sb;
  int ha = stat_at(s, t.name, ra, &sa, &e), hb = ha < 0 ? 0 : stat_at(s, t.name, rb, &sb, &e);
  if (ha < 0 || hb < 0) {
    rc = cli_fail_h5(&e);
    goto out;
  }
  if ((rc = h5tx_diff(s, t.name, ra, rb, add_run, &r, &e))) {
    rc = cli_fail_rc(rc, &e);
    goto out;
  }
  uint64_t pages = 0, bytes = 0;
  for (size_t i = 0; i < r.n; i++) {
    pages += r.v[i].count;
    bytes += r.v[i].length;
  }
  uint32_t ps = hb ? sb.page_size : ha ? sa.page_size : 0;
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_str(&j, "file", t.name);
    cli_json_u64(&j, "from", ra);
    cli_json_u64(&j, "to", rb);
    if (ha)
      cli_json_u64(&j, "from_length", sa.length);
    else
      cli_json_null(&j, "from_length");
    if (hb)
      cli_json_u64(&j, "to_length", sb.length);
    else
      cli_json_null(&j, "to_length");
    cli_json_u64(&j, "page_size", ps);
    cli_json_u64(&j, "pages_changed", pages);
    cli_json_u64(&j, "bytes_changed", bytes);
    cli_json_array(&j, "runs");
    for (size_t i = 0; i < r.n; i++) {
      cli_json_object(&j, NULL);
      cli_json_u64(&j, "first_page", r.v[i].first);
      cli_json_u64(&j, "pages", r.v[i].count);
      cli_json_u64(&j, "offset", r.v[i].offset);
      cli_json_u64(&j, "length", r.v[i].length);
      cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_end(&j);
  } else {
    printf("%s/%s: revision %llu -> %llu\n", t.store, t.name, (unsigned long long)ra,
           (unsigned long long)rb);
    cli_table tb;
    cli_table_init(&tb, "lrrr");
    if (r.n) cli_table_row(&tb, "PAGES", "FROM BYTE", "TO BYTE", "LENGTH");
    for (size_t i = 0; i < r.n; i++) {
      char pg[64], from[32], to[32], len[32];
      if (r.v[i].count == 1)
        snprintf(pg, sizeof pg, "%llu", (unsigned long long)r.v[i].first);
      else
        snprintf(pg, sizeof pg, "%llu-%llu", (unsigned long long)r.v[i].first,
                 (unsigned long long)(r.v[i].first + r.v[i].count - 1));
      snprintf(from, sizeof from, "%llu", (unsigned long long)r.v[i].offset);
      snprintf(to, sizeof to, "%llu", (unsigned long long)(r.v[i].offset + r.v[i].length));
      cli_table_row(&tb, pg, from, to, cli_bytes(len, r.v[i].length));
    }
    cli_table_print(&tb, stdout);
    char la[48], lb[48], b[32];
    if (ha)
      snprintf(la, sizeof la, "%llu", (unsigned long long)sa.length);
    else
      snprintf(la, sizeof la, "absent");
    if (hb)
      snprintf(lb, sizeof lb, "%llu", (unsigned long long)sb.length);
    else
      snprintf(lb, sizeof lb, "absent");
    if (r.n)
      printf("%llu page%s (%s in %zu run%s); length %s -> %s\n", (unsigned long long)pages,
             pages == 1 ? " differs" : "s differ", cli_bytes(b, bytes), r.n, r.n == 1 ? "" : "s",
             la, lb);
    else
      printf("no differences; length %s -> %s\n", la, lb);
  }
  rc = CLI_OK;
out:
  free(r.v);
  h5tx_store_close(s);
  cli_target_free(&t);
  return rc;
}

const cli_cmd cli_cmd_diff = {
    "diff", run_diff,
    "STORE.h5tx/NAME REV1 [REV2] [--json]\n--objects STORE.h5tx/NAME REV1 [REV2] [--json]",
    "show what changed in a file between revisions: pages, or HDF5 objects",
    "Compares file NAME at revisions REV1 and REV2 (default head) page by page\n"
    "and lists the runs of pages that differ, with their byte ranges [from, to)\n"
    "(the last run ends at the longer length). A file absent at one revision\n"
    "counts as empty. Shared pages are equal without being read.\n\n"
    "With --objects, NAME is read as an HDF5 file (through the h5tx driver,\n"
    "by the program h5tx-diff-objects, which links HDF5) and the groups,\n"
    "datasets (dtype, shape, layout, filters, data, and the chunks whose\n"
    "stored bytes changed), named datatypes, links and attributes that were\n"
    "added (+), removed (-) or changed (~) are listed by path; see\n"
    "'h5tx-diff-objects --help' and the README for its JSON.\n\n"
    "Options:\n"
    "  --objects  compare HDF5 objects, not pages\n"
    "  --json   one JSON object: {store, file, from, to, from_length, to_length\n"
    "           (null when absent), page_size, pages_changed, bytes_changed,\n"
    "           runs: [{first_page, pages, offset, length}]}\n"};
