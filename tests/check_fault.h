/* check_fault.h - loading tests/core/fault_shim.c into a test: the test
 * re-executes itself with the shim in LD_PRELOAD (ahead of an ASan
 * runtime, which is told to accept that), then arms faults through the
 * shim's h5tx_test_fault(). H5TX_FAULT_SHIM is the shim's path. preload()
 * serves any LD_PRELOAD shim (test_powerloss.c's too). */
#ifndef H5TX_CHECK_FAULT_H
#define H5TX_CHECK_FAULT_H

#include "check.h"

#include <dlfcn.h>

/* Put LD_PRELOAD library `shim` into this process's environment for the
 * programs it executes, ahead of an ASan runtime (told to accept that). */
static inline void preload(const char *shim) {
  const char *asan = getenv("ASAN_OPTIONS");
  char opts[512];
  snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
           asan && *asan ? ":" : "");
  setenv("ASAN_OPTIONS", opts, 1);
  setenv("LD_PRELOAD", shim, 1);
}

#ifdef H5TX_FAULT_SHIM
/* The kinds of h5tx_test_fault(): fsync/fdatasync of data.mdb, and a write
 * of one of LMDB's meta pages. */
enum { FAULT_SYNC, FAULT_META };

/* Arm `kind`: let `skip` matching calls through, then fail `count` of them
 * (-1: all); fault_hits(kind) counts failures made since it was armed. */
static void (*fault)(int kind, int skip, int count);
static int (*fault_hits)(int kind);

/* Find the shim, or re-execute this test with it (never returns then).
 * Returns 77 (ctest's skip code) when it cannot be loaded, else 0. */
static inline int fault_load(char **argv, const char *test) {
  fault = (void (*)(int, int, int))dlsym(RTLD_DEFAULT, "h5tx_test_fault");
  fault_hits = (int (*)(int))dlsym(RTLD_DEFAULT, "h5tx_test_fault_hits");
  if (fault && fault_hits) return 0;
  if (getenv("H5TX_FAULT_REEXEC")) {
    printf("%s: SKIPPED (the fault shim %s did not load)\n", test, H5TX_FAULT_SHIM);
    return 77;
  }
  preload(H5TX_FAULT_SHIM);
  setenv("H5TX_FAULT_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  perror("execv");
  exit(1);
}
#endif

#endif
