/* test_faults.c - a flush to disk that fails under a `sync` commit (the
 * page log's or the index's): the driver reports that nothing of the
 * commit was stored, head stays, and the next H5Fflush commits the file's
 * changes cleanly. Failures come from tests/core/fault_shim.c
 * (LD_PRELOAD). */
#include "check_fault.h"
#include "vfd_check.h"

static void write_ints(hid_t f, const char *name, int base, int create) {
  int v[256];
  for (int i = 0; i < 256; i++)
    v[i] = base + i;
  hsize_t n = 256;
  hid_t d;
  if (create) {
    hid_t sp = H5Screate_simple(1, &n, NULL);
    d = H5Dcreate2(f, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
  } else {
    d = H5Dopen2(f, name, H5P_DEFAULT);
  }
  REQUIRE(d >= 0);
  REQUIRE(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  H5Dclose(d);
}

int main(int argc, char **argv) {
  (void)argc;
  int rc = fault_load(argv, "vfd_faults");
  if (rc) return rc;
  test_paths tp = temp_paths();
  char name[800];
  snprintf(name, sizeof name, "%s/f.h5", tp.store);
  hid_t fapl = h5tx_fapl("durability=sync", 0);
  hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  write_ints(f, "a", 0, 1);
  REQUIRE(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
  h5tx_rev r1 = store_head(tp.store);

  for (int pass = 0; pass < 2; pass++) { /* the page log's flush fails, then the index's */
    write_ints(f, "a", 1000 + pass, 0);
    fault(FAULT_SYNC, pass, 1);
    H5_FAILS(H5Fflush(f, H5F_SCOPE_GLOBAL), "nothing of it was stored");
    fault(FAULT_SYNC, 0, 0);
    printf("  flush with sync %d failing: %s\n", pass + 1, h5_errors);
    CHECK(store_head(tp.store) == r1);
  }

  write_ints(f, "a", 2000, 0);
  CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0); /* the changes are still there */
  CHECK(H5Fclose(f) >= 0);
  CHECK(store_head(tp.store) == r1 + 1);

  f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  REQUIRE(f >= 0);
  hid_t d = H5Dopen2(f, "a", H5P_DEFAULT);
  int v[256];
  REQUIRE(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  CHECK(v[0] == 2000 && v[255] == 2255);
  H5Dclose(d);
  H5Fclose(f);
  H5Pclose(fapl);
  remove_tree(tp.dir);
  return check_done("vfd_faults");
}
