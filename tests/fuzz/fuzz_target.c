/* fuzz_target.c - the parser of STORE.h5tx/NAME@REV arguments
 * (cli_target_parse, tools/util.c) and the core's checks of what it yields
 * (h5tx__check_name for the name, h5tx__check_tag for a tag-like
 * revision). Byte 0 is the set of CLI_T_* flags the command wants; the rest
 * is the argument. Promises checked: no crash or sanitizer report; an
 * accepted argument splits into a store ending in ".h5tx" that the argument
 * begins with, a name and a revision only where the flags allow them, and
 * no '@' in the revision. */
#include "fuzz.h"

#include "cli_stubs.h"
#include "internal.h"

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
    cli_target_free(&t);
  } else {
    FUZZ_ASSERT(rc == CLI_USAGE);
  }
  free(arg);
  return 0;
}
