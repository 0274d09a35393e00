/* test_zstd.c - the zstd filter plugin (32015), loaded by HDF5 from
 * HDF5_PLUGIN_PATH, against the HDF5 of this build: round trips across data
 * types, chunk shapes with partial edge chunks, and levels (none, negative,
 * 0, 1, 22, out of range both ways); the level stored as cd_values[0]; an
 * empty dataset; chunks replaced by garbage, by a truncated frame and by a
 * frame with a flipped byte fail the read with an error while their
 * neighbours still read; and the same inside an h5tx store, at head and at
 * an earlier revision. */
#include "H5FDh5tx.h"
#include "check.h"

#include <zstd.h>

#define ZSTD_ID 32015

/* An element pattern that compresses but is not trivial. */
static void pattern(uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)((i / 3 + seed) ^ (i % 17 == 0 ? i >> 4 : 0));
}

static hid_t dcpl_zstd(int rank, const hsize_t *chunk, int have_level, int level) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  REQUIRE(H5Pset_chunk(dcpl, rank, chunk) >= 0);
  unsigned cd = (unsigned)level;
  REQUIRE(H5Pset_filter(dcpl, ZSTD_ID, H5Z_FLAG_MANDATORY, have_level ? 1 : 0, &cd) >= 0);
  return dcpl;
}

/* Write a dataset with the filter and read it back; returns 1 if exact. */
static int round_trip(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                      const hsize_t *chunk, int have_level, int level) {
  hsize_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  size_t bytes = (size_t)n * H5Tget_size(type);
  uint8_t *in = malloc(bytes + 1), *out = malloc(bytes + 1);
  pattern(in, bytes, (unsigned)level);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = dcpl_zstd(rank, chunk, have_level, level);
  hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  int ok = d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, in) >= 0;
  if (ok) {
    H5Dclose(d);
    d = H5Dopen2(f, name, H5P_DEFAULT);
    memset(out, 0xEE, bytes);
    ok = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0 && memcmp(in, out, bytes) == 0;
    /* The level is what was given, as cd_values[0]; nothing else. */
    hid_t dp = H5Dget_create_plist(d);
    unsigned flags, cd[4] = {0}, fc;
    size_t nelmts = 4;
    char fname[64];
    ok =
        ok && H5Pget_filter_by_id2(dp, ZSTD_ID, &flags, &nelmts, cd, sizeof fname, fname, &fc) >= 0;
    ok = ok && nelmts == (have_level ? 1u : 0u) && (!have_level || (int)cd[0] == level);
    /* Compressible data in chunks big enough for a frame's overhead, at a
     * level that really compresses, takes less room than it holds. */
    hsize_t chunk_bytes = H5Tget_size(type);
    for (int i = 0; i < rank; i++)
      chunk_bytes *= chunk[i];
    if (chunk_bytes >= 4096 && (!have_level || level >= 1))
      ok = ok && H5Dget_storage_size(d) < bytes;
    H5Pclose(dp);
  }
  if (!ok) fprintf(stderr, "round trip of %s failed\n", name);
  if (d >= 0) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  free(in);
  free(out);
  return ok;
}

static void test_round_trips(hid_t f) {
  hid_t types[] = {H5T_NATIVE_INT8,  H5T_NATIVE_UINT16, H5T_NATIVE_INT32,
                   H5T_NATIVE_INT64, H5T_NATIVE_FLOAT,  H5T_NATIVE_DOUBLE};
  const struct {
    int rank;
    hsize_t dims[3], chunk[3];
  } shapes[] = {
      {1, {1000}, {128}},        /* last chunk partial */
      {2, {37, 53}, {8, 16}},    /* partial in both dimensions */
      {3, {5, 6, 7}, {2, 3, 4}}, /* partial in all three */
      {1, {1}, {1}},             /* one element */
      {2, {300, 400}, {64, 64}}, /* larger */
  };
  const struct {
    int have, level;
  } levels[] = {{0, 0}, {1, -5}, {1, 0}, {1, 1}, {1, 22}, {1, 100}, {1, -1000000}};
  int k = 0;
  for (size_t t = 0; t < sizeof types / sizeof *types; t++)
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
      for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
        /* Level 22 is slow: only on the small shapes. */
        if (levels[l].level == 22 && shapes[s].dims[0] == 300) continue;
        char name[64];
        snprintf(name, sizeof name, "d%d", k++);
        CHECK(round_trip(f, name, types[t], shapes[s].rank, shapes[s].dims, shapes[s].chunk,
                         levels[l].have, levels[l].level));
      }
  printf("round trips: %d datasets\n", k);
}

static void test_empty(hid_t f) {
  hsize_t dims[1] = {0}, max[1] = {H5S_UNLIMITED}, chunk[1] = {64};
  hid_t sp = H5Screate_simple(1, dims, max);
  hid_t dcpl = dcpl_zstd(1, chunk, 1, 3);
  hid_t d = H5Dcreate2(f, "empty", H5T_NATIVE_INT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  CHECK(d >= 0);
  int dummy;
  CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &dummy) >= 0);
  CHECK(H5Dget_storage_size(d) == 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
}

/* Replace chunk 1 of a 3-chunk dataset by `bad` and check that reading it
 * fails while chunk 0 still reads. */
static void test_bad_chunk(hid_t f, const char *name, const void *bad, size_t n) {
  enum { C = 1024 };
  hsize_t dims[1] = {3 * C}, chunk[1] = {C};
  static int v[3 * C], back[C];
  for (int i = 0; i < 3 * C; i++)
    v[i] = i;
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t dcpl = dcpl_zstd(1, chunk, 1, 3);
  hid_t d = H5Dcreate2(f, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  REQUIRE(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  hsize_t off[1] = {C};
  REQUIRE(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, n, bad) >= 0);
  H5Dclose(d);
  d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, chunk, NULL);
  hsize_t start = C, count = C;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
  memset(back, 0x5A, sizeof back);
  herr_t rc;
  H5E_BEGIN_TRY { rc = H5Dread(d, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, back); }
  H5E_END_TRY;
  if (rc >= 0) fprintf(stderr, "%s: a bad chunk read without error\n", name);
  CHECK(rc < 0);
  start = 0;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
  CHECK(H5Dread(d, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, back) >= 0);
  for (int i = 0; i < C; i++)
    CHECK(back[i] == i);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
}

static void test_corruption(hid_t f) {
  enum { C = 1024 };
  static int v[C];
  for (int i = 0; i < C; i++)
    v[i] = i;
  size_t cap = ZSTD_compressBound(sizeof v);
  uint8_t *frame = malloc(cap);
  /* A frame as the plugin writes it: content size and checksum. */
  ZSTD_CCtx *cc = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
  size_t n = ZSTD_compress2(cc, frame, cap, v, sizeof v);
  ZSTD_freeCCtx(cc);
  REQUIRE(!ZSTD_isError(n));
  uint8_t garbage[200];
  for (size_t i = 0; i < sizeof garbage; i++)
    garbage[i] = (uint8_t)(i * 37 + 11);
  test_bad_chunk(f, "garbage", garbage, sizeof garbage);
  test_bad_chunk(f, "truncated", frame, n / 2);
  uint8_t flipped[4096];
  memcpy(flipped, frame, n);
  flipped[n / 2] ^= 0xFF;
  test_bad_chunk(f, "flipped", flipped, n);
  free(frame);
}

/* The filter inside a store, through the driver: head and revision 1. */
static void test_in_store(const char *store) {
  char name[700];
  snprintf(name, sizeof name, "%s/z.h5", store);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  REQUIRE(H5Pset_fapl_h5tx(fapl, NULL) >= 0);
  hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  hsize_t dims[2] = {64, 64}, chunk[2] = {16, 16};
  CHECK(round_trip(f, "a", H5T_NATIVE_DOUBLE, 2, dims, chunk, 1, 9));
  REQUIRE(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0); /* revision 1 */
  CHECK(round_trip(f, "b", H5T_NATIVE_INT32, 2, dims, chunk, 1, -3));
  REQUIRE(H5Fclose(f) >= 0); /* revision 2 */
  char at1[800];
  snprintf(at1, sizeof at1, "%s@1", name);
  f = H5Fopen(at1, H5F_ACC_RDONLY, fapl);
  REQUIRE(f >= 0);
  CHECK(H5Lexists(f, "a", H5P_DEFAULT) > 0 && H5Lexists(f, "b", H5P_DEFAULT) == 0);
  static double a[64 * 64], want[64 * 64];
  pattern((uint8_t *)want, sizeof want, 9);
  hid_t d = H5Dopen2(f, "a", H5P_DEFAULT);
  CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) >= 0);
  CHECK(memcmp(a, want, sizeof a) == 0);
  H5Dclose(d);
  H5Fclose(f);
  H5Pclose(fapl);
}

int main(void) {
  REQUIRE(getenv("HDF5_PLUGIN_PATH") != NULL);
  test_paths tp = temp_paths();
  char plain[700];
  snprintf(plain, sizeof plain, "%s/plain.h5", tp.dir);
  hid_t f = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(f >= 0);
  /* The plugin is found on HDF5_PLUGIN_PATH the first time it is needed. */
  test_round_trips(f);
  CHECK(H5Zfilter_avail(ZSTD_ID) > 0);
  test_empty(f);
  test_corruption(f);
  REQUIRE(H5Fclose(f) >= 0);
  test_in_store(tp.store);
  remove_tree(tp.dir);
  return check_done("filter_zstd");
}
