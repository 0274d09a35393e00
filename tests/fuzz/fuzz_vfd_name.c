/* fuzz_vfd_name.c - the driver's parser of the names HDF5 hands it
 * (resolve() in vfd/H5FDh5tx.c: STORE.h5tx/NAME@REV, plain names inside
 * the config's store, plain POSIX files), under each of a few configs. The
 * parser is static, so this file includes the driver's source. Byte 0 picks
 * the config; the rest is the name. Promises checked: no crash or sanitizer
 * report; an accepted name inside a store has a store ending in ".h5tx", a
 * file name, and a revision (without '@') only if the name or the config
 * gave one. (The driver splits at the last '@', so "s.h5tx/a@b@3" is file
 * "a@b" at 3, which the store then refuses as a name; the CLI refuses a
 * second '@' outright.) */
#include "fuzz.h"

#include "../../vfd/H5FDh5tx.c"

static const char *const configs[] = {"", "store=lab.h5tx", "store=/data/lab.h5tx;rev=3",
                                      "plain=no", "rev=good"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  drv_config cfg;
  drv_config_init(&cfg);
  h5tx_error e = {0, ""};
  if (drv_config_parse(configs[data[0] % 5], &cfg, &e) != 0) abort();
  char *name = fuzz_cstr(data + 1, size - 1);
  target t;
  H5E_BEGIN_TRY {
    if (resolve(name, &cfg, &t) == 0) {
      if (t.store) {
        size_t n = strlen(t.store);
        FUZZ_ASSERT(n > 5 && strcmp(t.store + n - 5, ".h5tx") == 0);
        FUZZ_ASSERT(t.file);
        FUZZ_ASSERT(!t.spec || (*t.spec && !strchr(t.spec, '@')));
        FUZZ_ASSERT(!t.spec || strchr(name, '@') || cfg.core.rev[0]);
      } else {
        FUZZ_ASSERT(!t.file && !t.spec && cfg.plain);
      }
      target_free(&t);
    }
  }
  H5E_END_TRY;
  free(name);
  return 0;
}
