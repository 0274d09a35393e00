/* fuzz_target.c - the parser of STORE.h5tx/NAME@REV arguments
 * (cli_target_parse, tools/util.c) and the core's checks of what it yields
 * (h5tx__check_name for the name, h5tx__check_tag for a tag-like
 * revision), and h5tx_rev_parse of the revision in a store made for the
 * run (revisions 0 to 2, tag "good" at 1). Byte 0 is the set of CLI_T_* flags the command wants;
 * the rest is the argument. Promises checked: no crash or sanitizer report; an accepted argument
 * splits into a store ending in ".h5tx" that the argument begins with, a name and a revision only
 * where the flags allow them, and no '@' in the revision; a revision resolves only to one that
 * exists. */
#include "fuzz.h"

#include "cli_stubs.h"
#include "internal.h"

static char dir[4096];
static h5tx_store *store;

static void cleanup(void) {
  h5tx_store_close(store);
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) dprintf(2, "fuzz_target: could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_stderr();
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/h5tx-fuzz-target-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) abort();
  char path[4200];
  snprintf(path, sizeof path, "%s/s.h5tx", dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.durability = H5TX_NOSYNC;
  h5tx_error e = {0, ""};
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  h5tx_writer *w = NULL;
  h5tx_rev rev;
  if (h5tx_store_open(path, &o, &store, &e) || h5tx_writer_open(store, "f", &wo, &w, &e) ||
      h5tx_writer_write(w, 0, "x", 1, &e) || h5tx_writer_commit(w, NULL, &rev, &e) ||
      h5tx_writer_write(w, 1, "y", 1, &e) || h5tx_writer_commit(w, NULL, &rev, &e) || rev != 2) {
    dprintf(2, "fuzz_target: %s\n", e.msg);
    abort();
  }
  h5tx_writer_close(w);
  if (h5tx_tag_set(store, "good", 1, &e)) abort();
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned want = data[0] & 7;
  char *arg = fuzz_cstr(data + 1, size - 1);
  cli_target t;
  int rc = cli_target_parse(&fuzz_cmd, arg, want, &t);
  if (rc == 0) {
    size_t n = strlen(t.store);
    FUZZ_ASSERT(n > 5 && strcmp(t.store + n - 5, ".h5tx") == 0);
    FUZZ_ASSERT(strncmp(arg, t.store, n) == 0);
    FUZZ_ASSERT(!t.name || (want & (CLI_T_NAME | CLI_T_NAME_OK)));
    FUZZ_ASSERT(t.name || !(want & CLI_T_NAME));
    FUZZ_ASSERT(!t.rev || ((want & CLI_T_REV_OK) && *t.rev && !strchr(t.rev, '@')));
    h5tx_error e = {0, ""};
    if (t.name && h5tx__check_name(t.name, &e) != 0) FUZZ_ASSERT(e.code && e.msg[0]);
    if (t.rev && strspn(t.rev, "0123456789") != strlen(t.rev) && h5tx__check_tag(t.rev, &e) != 0)
      FUZZ_ASSERT(e.code && e.msg[0]);
    if (t.rev) {
      h5tx_rev r = 0;
      h5tx_error e3 = {0, ""};
      if (h5tx_rev_parse(store, t.rev, &r, &e3) == 0)
        FUZZ_ASSERT(r <= 2);
      else
        FUZZ_ASSERT(e3.code && e3.msg[0]);
    }
    cli_target_free(&t);
  } else {
    FUZZ_ASSERT(rc == CLI_USAGE);
  }
  free(arg);
  return 0;
}
