/* hdf5_api.c - the plugin build's HDF5 table (hdf5_api.h): finds the
 * libhdf5 that called a plugin entry point, checks its version and takes
 * every function and global id the driver uses from it.
 *
 * The caller is named by dladdr() on the entry point's return address;
 * dlopen(RTLD_NOLOAD) on that file gives a handle even when the host loaded
 * its libhdf5 RTLD_LOCAL under another name (h5py's wheels), and dlsym()
 * on that handle searches that library first. A statically linked host
 * (libhdf5 inside the executable) is found through dlopen(NULL). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define H5TX_HDF5_API_IMPL
#include "hdf5_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

h5tx_hdf5_api h5tx_hdf5;

static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static void *bound; /* dlopen handle of the library the table serves */
static char bound_name[512];
static int refused; /* a host was refused: said once */

/* Can this build serve HDF5 major.minor.release? The driver class and the
 * plugin interface are those of the headers it was built with: 1.14.x for
 * a 1.14 build; for a 2.x build, 2.x from the same minor on (HDF5 keeps the
 * driver interface within a major version, adding only at the end). */
static int serves(unsigned maj, unsigned min) {
#if H5_VERS_MAJOR >= 2
  return maj == H5_VERS_MAJOR && min >= H5_VERS_MINOR;
#else
  return maj == H5_VERS_MAJOR && min == H5_VERS_MINOR;
#endif
}

static void refuse(const char *lib, const char *why) {
  if (refused++) return;
  fprintf(stderr,
          "h5tx: the h5tx driver plugin (built for HDF5 %d.%d.%d) cannot serve %s: %s; the driver "
          "is not offered to this program\n",
          H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE, lib, why);
}

/* Fill `t` from `h`; 0, or -1 naming the first missing symbol in `missing`. */
static int fill(void *h, h5tx_hdf5_api *t, const char **missing) {
  memset(t, 0, sizeof *t);
#define H5TX_BIND(name)                                                                            \
  if (!(*(void **)&t->name = dlsym(h, #name))) {                                                   \
    *missing = #name;                                                                              \
    return -1;                                                                                     \
  }
  H5TX_HDF5_FUNCS(H5TX_BIND)
  H5TX_HDF5_VARS(H5TX_BIND)
#undef H5TX_BIND
  return 0;
}

int h5tx_hdf5_bind(const void *caller) {
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (!dladdr(caller, &info) || !info.dli_fname) {
    refuse("the program that loaded it", "the library calling the plugin cannot be identified");
    return -1;
  }
  /* A handle for the calling library: by its file, loaded already (for the
   * main program, dladdr names the executable; dlopen(NULL) is its handle). */
  void *h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
  if (!h || !dlsym(h, "H5get_libversion")) {
    if (h) dlclose(h);
    h = dlopen(NULL, RTLD_LAZY);
  }
  pthread_mutex_lock(&bind_lock);
  int rc = 0;
  if (bound) {
    /* Bound already: the same library again, or a second libhdf5 in the
     * process, which the one table cannot serve at the same time. */
    if (dlsym(h, "H5get_libversion") != (void *)h5tx_hdf5.H5get_libversion) {
      char why[700];
      snprintf(why, sizeof why, "the plugin already serves %s in this process", bound_name);
      refuse(info.dli_fname, why);
      rc = -1;
    }
    dlclose(h);
    pthread_mutex_unlock(&bind_lock);
    return rc;
  }
  /* The version first, so a host of another HDF5 is refused naming it. */
  h5tx_hdf5_api t;
  const char *missing = NULL;
  unsigned maj = 0, min = 0, rel = 0;
  char why[256];
  __typeof__(H5get_libversion) *version =
      (__typeof__(H5get_libversion) *)dlsym(h, "H5get_libversion");
  if (!version) {
    snprintf(why, sizeof why, "it has no H5get_libversion (is it HDF5 at all?)");
    rc = -1;
  } else if (version(&maj, &min, &rel) < 0) {
    snprintf(why, sizeof why, "H5get_libversion failed");
    rc = -1;
  } else if (!serves(maj, min)) {
    snprintf(why, sizeof why, "it is HDF5 %u.%u.%u", maj, min, rel);
    rc = -1;
  } else if (fill(h, &t, &missing) != 0) {
    snprintf(why, sizeof why, "HDF5 %u.%u.%u without the symbol %s", maj, min, rel, missing);
    rc = -1;
  }
  if (rc != 0) {
    refuse(info.dli_fname, why);
    dlclose(h);
  } else {
    h5tx_hdf5 = t;
    bound = h;
    snprintf(bound_name, sizeof bound_name, "%s (HDF5 %u.%u.%u)", info.dli_fname, maj, min, rel);
  }
  pthread_mutex_unlock(&bind_lock);
  return rc;
}
