/* fuzz_marker.c - the store's format marker (DIR.h5tx/h5tx-store), read by
 * every h5tx_store_open(). The harness makes one real store in a temporary
 * directory, then for each input writes the input as the marker and opens
 * the store read-only through the public API. Promises checked: no crash or
 * sanitizer report; a marker that does not begin with "h5tx store\n" is
 * refused with H5TX_EFORMAT and a message; an accepted one opens the store. */
#include "fuzz.h"

#include "h5tx.h"

#include <fcntl.h>
#include <unistd.h>

static char store[4096], marker[4200];
static h5tx_store *keep; /* keeps the store's environment open across runs */

static void cleanup(void) {
  h5tx_store_close(keep);
  char cmd[4200 + 16];
  store[strlen(store) - strlen("/s.h5tx")] = 0;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", store);
  if (system(cmd) != 0) fprintf(stderr, "fuzz_marker: could not remove %s\n", store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  char dir[4000];
  snprintf(dir, sizeof dir, "%s/h5tx-fuzz-marker-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) abort();
  snprintf(store, sizeof store, "%s/s.h5tx", dir);
  snprintf(marker, sizeof marker, "%s/h5tx-store", store);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  h5tx_error e = {0, ""};
  if (h5tx_store_open(store, &o, &keep, &e) != 0) {
    fprintf(stderr, "fuzz_marker: %s\n", e.msg);
    abort();
  }
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = open(marker, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0) abort();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.read_only = 1;
  h5tx_store *s = NULL;
  h5tx_error e = {0, ""};
  int rc = h5tx_store_open(store, &o, &s, &e);
  static const char head[] = "h5tx store\n";
  if (rc == 0) {
    FUZZ_ASSERT(size >= sizeof head - 1 && memcmp(data, head, sizeof head - 1) == 0);
    h5tx_rev r;
    FUZZ_ASSERT(h5tx_store_head(s, &r, &e) == 0);
    h5tx_store_close(s);
  } else {
    FUZZ_ASSERT(rc == H5TX_EFORMAT);
    FUZZ_ASSERT(e.msg[0] != 0);
  }
  return 0;
}
