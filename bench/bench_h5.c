/* bench_h5.c - HDF5 helpers shared by the HDF5 benchmarks (bench_h5.h). */
#include "bench_h5.h"

#include "bench_util.h"

#include <stdio.h>

void bench_h5_die(const char *what, const char *path) {
  H5Eprint2(H5E_DEFAULT, stderr);
  bench_die("%s failed on %s (HDF5 error stack above)", what, path);
}

hid_t bench_h5_id(hid_t id, const char *what, const char *path) {
  if (id < 0) bench_h5_die(what, path);
  return id;
}

void bench_h5_ok(herr_t rc, const char *what, const char *path) {
  if (rc < 0) bench_h5_die(what, path);
}

void bench_h5_write(const char *path, hid_t fapl, const char *name, const double *src, hsize_t n,
                    hsize_t chunk, hsize_t slab) {
  hid_t dcpl = bench_h5_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(H5P_DATASET_CREATE)", path);
  if (chunk) bench_h5_ok(H5Pset_chunk(dcpl, 1, &chunk), "H5Pset_chunk", path);
  hid_t space = bench_h5_id(H5Screate_simple(1, &n, NULL), "H5Screate_simple", path);
  hid_t f = bench_h5_id(H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate", path);
  hid_t dset =
      bench_h5_id(H5Dcreate2(f, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                  "H5Dcreate2", path);
  hid_t fspace = bench_h5_id(H5Dget_space(dset), "H5Dget_space", path);
  for (hsize_t start = 0; start < n; start += slab) {
    hsize_t count = n - start < slab ? n - start : slab;
    hid_t mspace = bench_h5_id(H5Screate_simple(1, &count, NULL), "H5Screate_simple", path);
    bench_h5_ok(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL),
                "H5Sselect_hyperslab", path);
    bench_h5_ok(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, src + start),
                "H5Dwrite", path);
    bench_h5_ok(H5Sclose(mspace), "H5Sclose", path);
  }
  bench_h5_ok(H5Sclose(fspace), "H5Sclose", path);
  bench_h5_ok(H5Dclose(dset), "H5Dclose", path);
  bench_h5_ok(H5Fclose(f), "H5Fclose", path);
  bench_h5_ok(H5Sclose(space), "H5Sclose", path);
  bench_h5_ok(H5Pclose(dcpl), "H5Pclose", path);
}
