/* vfd_check.h - helpers the driver's C tests share on top of check.h: a
 * fapl using h5tx, and the HDF5 error stack captured as text. */
#ifndef H5TX_VFD_CHECK_H
#define H5TX_VFD_CHECK_H

#include "H5FDh5tx.h"
#include "check_fs.h"

/* Every message on HDF5's current error stack, joined by " | ". */
static char h5_errors[8192];

static herr_t collect_error(unsigned n, const H5E_error2_t *err, void *arg) {
  (void)n;
  (void)arg;
  size_t used = strlen(h5_errors);
  snprintf(h5_errors + used, sizeof h5_errors - used, "%s | ", err->desc ? err->desc : "");
  return 0;
}

/* Capture the current error stack into h5_errors and clear it. Any later
 * successful HDF5 call clears the stack, so capture right after a failure;
 * h5_captured tells H5_FAILS that it was done already. */
static int h5_captured;
static inline const char *h5_capture(void) {
  h5_errors[0] = 0;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, NULL);
  H5Eclear2(H5E_DEFAULT);
  h5_captured = 1;
  return h5_errors;
}

/* Check that `id` (an HDF5 call's result) is negative and the error stack
 * names `part`. */
#define H5_FAILS(id, part)                                                                         \
  do {                                                                                             \
    long long id_ = (long long)(id);                                                               \
    const char *text_ = h5_captured ? h5_errors : h5_capture();                                    \
    h5_captured = 0;                                                                               \
    if (id_ >= 0 || !strstr(text_, (part))) {                                                      \
      fprintf(stderr, "%s:%d: %s -> %lld, errors '%s'; expected failure naming '%s'\n", __FILE__,  \
              __LINE__, #id, id_, text_, part);                                                    \
      check_failures++;                                                                            \
    }                                                                                              \
  } while (0)

/* A file access list using h5tx with `config`, libver bounds set to latest
 * when `latest`. */
static inline hid_t h5tx_fapl(const char *config, int latest) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  REQUIRE(fapl >= 0);
  REQUIRE(H5Pset_fapl_h5tx(fapl, config) >= 0);
  if (latest) REQUIRE(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0);
  return fapl;
}

/* Head revision of the store at `path`. */
static inline h5tx_rev store_head(const char *path) {
  h5tx_error e = {0};
  h5tx_store *s;
  OK(h5tx_store_open(path, NULL, &s, &e));
  h5tx_rev r;
  OK(h5tx_store_head(s, &r, &e));
  h5tx_store_close(s);
  return r;
}

#endif
