/* test_diskfull.c - HDF5 through the driver on a full disk (a 16 MiB tmpfs in
 * a private mount namespace): the flush fails with an error naming the full
 * disk, nothing committed before is lost, and once space is free the next
 * flush commits everything HDF5 wrote; a close that cannot commit fails
 * (reporting it) and leaves head as it was. Without the privilege to mount,
 * the test reports itself skipped (exit 77), never passed. */
#include "vfd_check.h"

#include <sys/wait.h>

#define N (512 * 1024) /* 4 MiB of doubles: more than the disk has left */

static double data[N];

static void write_dataset(hid_t f, const char *name) {
  hsize_t dims[1] = {N};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(f, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(d);
  H5Sclose(sp);
}

/* Does head hold `name` (checked fully) and not `absent`? */
/* The committed head ("@head": a snapshot even while this process has the
 * file open read-write, which a plain name would share). */
static int head_has(const char *fname, const char *name, const char *absent) {
  hid_t fapl = h5tx_fapl(NULL, 0);
  char at_head[400];
  snprintf(at_head, sizeof at_head, "%s@head", fname);
  hid_t f = H5Fopen(at_head, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) return 0;
  int ok =
      H5Lexists(f, name, H5P_DEFAULT) > 0 && (!absent || H5Lexists(f, absent, H5P_DEFAULT) == 0);
  if (ok) {
    static double back[N];
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ok = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0 &&
         memcmp(back, data, sizeof data) == 0;
    H5Dclose(d);
  }
  H5Fclose(f);
  return ok;
}

int main(void) {
  uint64_t rng = test_seed("vfd_diskfull");
  char dir[] = "/tmp/h5tx-vfd-diskfull-XXXXXX";
  int skip = small_tmpfs(dir, "16m", "vfd_diskfull");
  if (skip) return skip;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  for (size_t i = 0; i < N; i++)
    data[i] = (double)rng_next(&rng); /* incompressible */
  char fname[300], store[200], ballast[200];
  snprintf(store, sizeof store, "%s/s.h5tx", dir);
  snprintf(fname, sizeof fname, "%s/f.h5", store);
  snprintf(ballast, sizeof ballast, "%s/ballast", dir);
  hid_t fapl = h5tx_fapl("codec=none", 0);

  hid_t f = H5Fcreate(fname, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  write_dataset(f, "first");
  REQUIRE(H5Fclose(f) >= 0); /* revision 1 */
  REQUIRE(store_head(store) == 1);

  /* The disk fills up: the flush fails and says why; head is untouched. */
  fill_disk(ballast);
  f = H5Fopen(fname, H5F_ACC_RDWR, fapl);
  REQUIRE(f >= 0);
  write_dataset(f, "second");
  H5_FAILS(H5Fflush(f, H5F_SCOPE_GLOBAL), "disk full");
  CHECK(store_head(store) == 1);
  CHECK(head_has(fname, "first", "second"));
  /* Space again: the next flush commits all that HDF5 wrote. */
  REQUIRE(unlink(ballast) == 0);
  CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
  CHECK(store_head(store) == 2);
  REQUIRE(H5Fclose(f) >= 0);
  CHECK(head_has(fname, "second", NULL));

  /* A close that cannot commit fails, and head stays at revision 2. It runs
   * in a child: HDF5 1.10 leaves a file whose close failed in its ID table
   * and crashes on it at exit (HDFFV-11052, fixed in HDF5 1.14.0), so there
   * the child leaves with _exit; on 1.14 it exits normally, and must not
   * crash. */
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    f = H5Fopen(fname, H5F_ACC_RDWR, fapl);
    REQUIRE(f >= 0);
    write_dataset(f, "third");
    fill_disk(ballast);
    H5_FAILS(H5Fclose(f), "disk full");
#if H5_VERSION_GE(1, 14, 0)
    exit(check_failures ? 1 : 0);
#else
    _exit(check_failures ? 1 : 0);
#endif
  }
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  REQUIRE(unlink(ballast) == 0);
  CHECK(store_head(store) == 2);
  CHECK(head_has(fname, "second", "third"));
  H5Pclose(fapl);
  umount(dir);
  rmdir(dir);
  return check_done("vfd_diskfull");
}
