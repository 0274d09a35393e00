/* fuzz_config.c - h5tx_config_parse(), the one parser of configuration
 * strings (fapl, HDF5_DRIVER_CONFIG, the CLI's options). Promises checked:
 * no crash or sanitizer report; a failure leaves the config untouched and
 * says why; a success formats to a string that parses back to the same
 * config (h5tx_config_format is its inverse). */
#include "fuzz.h"

#include "h5tx.h"

static void formatted(const h5tx_config *c, char *buf, size_t cap) {
  size_t n = h5tx_config_format(c, buf, cap);
  FUZZ_ASSERT(n < cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  h5tx_config c, before;
  h5tx_config_init(&c);
  before = c;
  h5tx_error e = {0, ""};
  int rc = h5tx_config_parse(text, &c, &e);
  if (rc) {
    FUZZ_ASSERT(rc == H5TX_EINVAL || rc == H5TX_ENOMEM);
    FUZZ_ASSERT(e.msg[0] != 0);
    FUZZ_ASSERT(memcmp(&c, &before, sizeof c) == 0);
  } else {
    static char a[H5TX_CONFIG_MAX + 1024], b[H5TX_CONFIG_MAX + 1024];
    formatted(&c, a, sizeof a);
    h5tx_config d;
    h5tx_config_init(&d);
    h5tx_error e2 = {0, ""};
    if (h5tx_config_parse(a, &d, &e2) != 0) {
      fprintf(stderr, "'%s' formats to '%s', which does not parse: %s\n", text, a, e2.msg);
      abort();
    }
    formatted(&d, b, sizeof b);
    FUZZ_ASSERT(strcmp(a, b) == 0);
  }
  free(text);
  return 0;
}
