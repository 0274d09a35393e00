/* fake_hdf5.c - a stand-in "libhdf5" for the plugin's refusal test: it
 * reports the HDF5 version in $H5TX_FAKE_HDF5_VERSION ("MAJ.MIN.REL") and
 * calls the driver plugin's entry point itself, so the plugin finds this
 * library as its host, as it would a real libhdf5 that loaded it. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#define FAKE_API __attribute__((visibility("default")))
FAKE_API int H5get_libversion(unsigned *maj, unsigned *min, unsigned *rel);
FAKE_API int fake_hdf5_plugin_type(const char *path);

int H5get_libversion(unsigned *maj, unsigned *min, unsigned *rel) {
  const char *v = getenv("H5TX_FAKE_HDF5_VERSION");
  if (!v || sscanf(v, "%u.%u.%u", maj, min, rel) != 3) return -1;
  return 0;
}

/* dlopen the plugin at `path` and return what its H5PLget_plugin_type says
 * (-100 if it cannot be loaded). */
int fake_hdf5_plugin_type(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "fake_hdf5: %s\n", dlerror());
    return -100;
  }
  int (*type)(void) = (int (*)(void))dlsym(h, "H5PLget_plugin_type");
  if (!type) return -100;
  volatile int r = type(); /* not a tail call: the plugin's caller is this library */
  return r;
}
