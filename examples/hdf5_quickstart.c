/* hdf5_quickstart.c - HDF5 through the h5tx driver: a time series written in
 * three flushes (three revisions), and a reader that keeps its revision
 * while the writer commits a fourth.
 *
 *   h5tx_hdf5_quickstart STORE.h5tx */
#include "H5FDh5tx.h"
#include "h5tx.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 1000

static void need(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "hdf5_quickstart: %s failed\n", what);
    H5Eprint2(H5E_DEFAULT, stderr);
    exit(1);
  }
}

static h5tx_rev head(const char *store) {
  h5tx_error e;
  h5tx_store *s;
  h5tx_rev r = 0;
  if (h5tx_store_open(store, NULL, &s, &e) || h5tx_store_head(s, &r, &e)) {
    fprintf(stderr, "hdf5_quickstart: %s\n", e.msg);
    exit(1);
  }
  h5tx_store_close(s);
  return r;
}

/* Append BATCH samples to "temperature". */
static void append(hid_t d, int batch) {
  hid_t sp = H5Dget_space(d);
  hsize_t n;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  H5Sclose(sp);
  hsize_t total = n + BATCH, count = BATCH;
  need(H5Dset_extent(d, &total) >= 0, "extend");
  double v[BATCH];
  for (int i = 0; i < BATCH; i++)
    v[i] = 20.0 + batch + i / 1000.0;
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &count, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &n, NULL, &count, NULL);
  need(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, v) >= 0, "write");
  H5Sclose(ms);
  H5Sclose(fs);
}

static hsize_t length(hid_t f) {
  hid_t d = H5Dopen2(f, "temperature", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  H5Sclose(sp);
  H5Dclose(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s STORE.h5tx\n", argv[0]);
    return 2;
  }
  char name[4096];
  snprintf(name, sizeof name, "%s/experiment/run1.h5", argv[1]);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  need(H5Pset_fapl_h5tx(fapl, NULL) >= 0, "H5Pset_fapl_h5tx");
  need(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0, "libver");
  hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  need(f >= 0, "H5Fcreate");
  hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = 4096;
  hid_t sp = H5Screate_simple(1, &zero, &unlimited);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  H5Pset_deflate(dcpl, 4);
  hid_t d = H5Dcreate2(f, "temperature", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  need(d >= 0, "H5Dcreate2");
  printf("writing %s (libver latest), one flush per batch:\n", name);
  for (int batch = 1; batch <= 3; batch++) {
    append(d, batch);
    need(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0, "H5Fflush");
    printf("  batch %d flushed -> revision %llu\n", batch, (unsigned long long)head(argv[1]));
  }

  /* A reader opens head now; the writer, still open, commits more. */
  hid_t reader = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  need(reader >= 0, "H5Fopen (reader)");
  append(d, 4);
  need(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0, "H5Fflush");
  printf("writer committed batch 4 -> revision %llu\n", (unsigned long long)head(argv[1]));
  printf("the reader opened before it still sees %llu samples\n",
         (unsigned long long)length(reader));
  hid_t fresh = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  need(fresh >= 0, "H5Fopen (fresh)");
  printf("a reader opened now sees %llu samples\n", (unsigned long long)length(fresh));
  H5Fclose(fresh);
  H5Fclose(reader);

  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  need(H5Fclose(f) >= 0, "H5Fclose");
  H5Pclose(fapl);
  printf("closed (nothing new to commit: still revision %llu)\n",
         (unsigned long long)head(argv[1]));
  return 0;
}
