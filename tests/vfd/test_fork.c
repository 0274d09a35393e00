/* test_fork.c - fork() through HDF5: a child that calls exit() while its
 * parent has one file open read-write (with spilled pages: a small `cache`)
 * and another open read-only at an old revision. HDF5's atexit handler
 * closes both files in the child; none of that may touch the parent's
 * state: the parent's commit stores what the parent wrote, and its pin
 * keeps the old revision through gc. */
#include "vfd_check.h"

#include <sys/wait.h>

#define N 65536 /* ints per dataset: 256 KiB, past HDF5's sieve buffer */

static h5tx_error e;

static void fill(int *v, int seed) {
  for (int i = 0; i < N; i++)
    v[i] = i * 7 + seed;
}

static void write_ds(hid_t f, const char *name, int seed) {
  static int v[N];
  fill(v, seed);
  hsize_t dims[1] = {N};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(f, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(d >= 0);
  REQUIRE(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  H5Dclose(d);
  H5Sclose(sp);
}

/* 1 if dataset `name` of `f` holds fill(seed). */
static int holds(hid_t f, const char *name, int seed) {
  static int v[N], want[N];
  fill(want, seed);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0) return 0;
  herr_t rc = H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(d);
  if (rc < 0) return 0;
  for (int i = 0; i < N; i++)
    if (v[i] != want[i]) {
      fprintf(stderr, "%s[%d] = %d, want %d\n", name, i, v[i], want[i]);
      return 0;
    }
  return 1;
}

int main(void) {
  test_paths tp = temp_paths();
  char ro_name[700], ro_old[720], rw_name[700];
  snprintf(ro_name, sizeof ro_name, "%s/ro.h5", tp.store);
  snprintf(rw_name, sizeof rw_name, "%s/rw.h5", tp.store);
  hid_t fapl = h5tx_fapl("cache=8K", 0);

  /* ro.h5: revision A holds x = fill(1), y = fill(2); a later revision
   * changes y, so that A is not head and gc would collect it unpinned. */
  hid_t f = H5Fcreate(ro_name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  write_ds(f, "x", 1);
  write_ds(f, "y", 2);
  REQUIRE(H5Fclose(f) >= 0);
  h5tx_rev a = store_head(tp.store);
  f = H5Fopen(ro_name, H5F_ACC_RDWR, fapl);
  REQUIRE(f >= 0);
  hid_t d = H5Dopen2(f, "y", H5P_DEFAULT);
  static int v[N];
  fill(v, 3);
  REQUIRE(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  H5Dclose(d);
  REQUIRE(H5Fclose(f) >= 0);
  CHECK(store_head(tp.store) > a);

  /* The parent's files: ro.h5 at A read-only, rw.h5 read-write with
   * uncommitted data, most of it spilled (cache=8K). */
  snprintf(ro_old, sizeof ro_old, "%s@%llu", ro_name, (unsigned long long)a);
  hid_t ro = H5Fopen(ro_old, H5F_ACC_RDONLY, fapl);
  REQUIRE(ro >= 0);
  CHECK(holds(ro, "x", 1));
  hid_t rw = H5Fcreate(rw_name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(rw >= 0);
  write_ds(rw, "a", 10);
  write_ds(rw, "b", 11);

  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    /* HDF5's atexit handler closes ro and rw in the child: it flushes rw's
     * metadata into the driver, which must refuse to change anything of the
     * parent's; the errors it reports are the child's only. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status)) fprintf(stderr, "child ended with status 0x%x\n", status);
  CHECK(WIFEXITED(status));

  /* The parent goes on: more data, then its commit. */
  write_ds(rw, "c", 12);
  REQUIRE(H5Fclose(rw) >= 0);
  rw = H5Fopen(rw_name, H5F_ACC_RDONLY, fapl);
  REQUIRE(rw >= 0);
  CHECK(holds(rw, "a", 10));
  CHECK(holds(rw, "b", 11));
  CHECK(holds(rw, "c", 12));
  REQUIRE(H5Fclose(rw) >= 0);

  /* The parent's pin on A survived the child's close: gc keeps A, and the
   * parent reads y (not read before, so not cached) as it was at A. */
  h5tx_store *s;
  OK(h5tx_store_open(tp.store, NULL, &s, &e));
  h5tx_gc_opts g = {.keep_last = 1};
  h5tx_gc_result res;
  OK(h5tx_gc(s, &g, &res, &e));
  CHECK(res.revisions_pinned >= 1);
  h5tx_store_close(s);
  CHECK(holds(ro, "y", 2));
  REQUIRE(H5Fclose(ro) >= 0);
  H5Pclose(fapl);
  remove_tree(tp.dir);
  return check_done("vfd_fork");
}
