/* bench_h5.h - HDF5 helpers the HDF5 benchmarks share: calls checked (the
 * error stack printed on failure) and one way to write the benchmark
 * dataset. Messages carry the program name given to bench_init(). */
#ifndef H5TX_BENCH_H5_H
#define H5TX_BENCH_H5_H

#include <hdf5.h>

/* Exit naming the HDF5 call `what` that failed on `path`, with HDF5's error
 * stack (automatic printing is off, so the stack is still there). */
void bench_h5_die(const char *what, const char *path) __attribute__((noreturn));

/* `id` if it is valid, else bench_h5_die. */
hid_t bench_h5_id(hid_t id, const char *what, const char *path);

/* Nothing if `rc` is non-negative, else bench_h5_die. */
void bench_h5_ok(herr_t rc, const char *what, const char *path);

/* Create `path` with `fapl` holding float64 dataset `name` of the `n`
 * values at `src`: chunked in `chunk` elements (0: contiguous), written in
 * slabs of `slab` elements (one H5Dwrite each), closed. */
void bench_h5_write(const char *path, hid_t fapl, const char *name, const double *src, hsize_t n,
                    hsize_t chunk, hsize_t slab);

#endif
