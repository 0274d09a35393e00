/* test_faults.c - the driver reports a commit whose flush to disk failed
 * after it landed as landed, not as "nothing of it was stored", and the
 * next flush commits on top of it with no conflict against its own
 * revision. Failures come from tests/core/fault_shim.c (LD_PRELOAD). */
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

  write_ints(f, "a", 1000, 0);
  fault(FAULT_SYNC, 1, 1); /* the commit's page flush passes, the final one fails */
  H5_FAILS(H5Fflush(f, H5F_SCOPE_GLOBAL), "landed but was not flushed");
  fault(FAULT_SYNC, 0, 0);
  printf("  flush with a failed sync: %s\n", h5_errors);
  CHECK(strstr(h5_errors, "nothing of it was stored") == NULL);
  CHECK(store_head(tp.store) == r1 + 1);

  write_ints(f, "a", 2000, 0);
  CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0); /* no conflict with its own revision */
  CHECK(H5Fclose(f) >= 0);
  CHECK(store_head(tp.store) == r1 + 2);

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
