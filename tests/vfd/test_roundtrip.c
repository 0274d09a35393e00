/* test_roundtrip.c - HDF5 through the driver, against whichever HDF5 the
 * build uses (1.10 or 1.14): groups, attributes, contiguous and chunked
 * datasets (gzip too), variable-length strings, written in three steps with
 * a flush (a revision) after each; then every revision and head reopen
 * read-only and show exactly that step's content. Runs for default files,
 * libver=latest files, paged file-space strategy, and commit=close. */
#include "vfd_check.h"

#define N 100

static char fname[800];

static void write_int_attr(hid_t obj, const char *name, int v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

static int read_int_attr(hid_t obj, const char *name) {
  int v = -1;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return -1;
  H5Aread(a, H5T_NATIVE_INT, &v);
  H5Aclose(a);
  return v;
}

/* Step 1: group, attribute, contiguous dataset, a scratch group. */
static void step1(hid_t f) {
  hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(g >= 0);
  write_int_attr(f, "version", 1);
  hsize_t dims[1] = {N};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(g, "contig", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int v[N];
  for (int i = 0; i < N; i++)
    v[i] = i * i;
  REQUIRE(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  hid_t tmp = H5Gcreate2(f, "scratch", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(tmp);
  H5Dclose(d);
  H5Sclose(sp);
  H5Gclose(g);
}

/* Step 2: chunked gzip dataset (extendible), variable-length strings. */
static void step2(hid_t f) {
  hsize_t dims[1] = {N}, max[1] = {H5S_UNLIMITED}, chunk[1] = {16};
  hid_t sp = H5Screate_simple(1, dims, max);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  REQUIRE(H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0);
  H5Pset_deflate(dcpl, 6);
  hid_t d = H5Dcreate2(f, "g/chunked", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  double v[N];
  for (int i = 0; i < N; i++)
    v[i] = i / 4.0;
  REQUIRE(d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  const char *names[3] = {"alpha", "a longer string, beta", ""};
  hsize_t n3[1] = {3};
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, H5T_VARIABLE);
  sp = H5Screate_simple(1, n3, NULL);
  d = H5Dcreate2(f, "names", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(d >= 0 && H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0);
  H5Dclose(d);
  H5Sclose(sp);
  H5Tclose(st);
}

/* Step 3: change contig, extend chunked, new attribute, drop scratch. */
static void step3(hid_t f) {
  hid_t d = H5Dopen2(f, "g/contig", H5P_DEFAULT);
  int v[N];
  for (int i = 0; i < N; i++)
    v[i] = i * i + 1;
  REQUIRE(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  write_int_attr(d, "units", 7);
  H5Dclose(d);
  d = H5Dopen2(f, "g/chunked", H5P_DEFAULT);
  hsize_t dims[1] = {N + 50};
  REQUIRE(H5Dset_extent(d, dims) >= 0);
  hid_t fs = H5Dget_space(d);
  hsize_t start[1] = {N}, count[1] = {50};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t ms = H5Screate_simple(1, count, NULL);
  double w[50];
  for (int i = 0; i < 50; i++)
    w[i] = -i;
  REQUIRE(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, w) >= 0);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  REQUIRE(H5Ldelete(f, "scratch", H5P_DEFAULT) >= 0);
  hid_t a = H5Aopen(f, "version", H5P_DEFAULT);
  int three = 3;
  H5Awrite(a, H5T_NATIVE_INT, &three);
  H5Aclose(a);
}

/* Check that `f` holds exactly what step `k` left. */
static void verify(hid_t f, int k, const char *what) {
  int bad0 = check_failures;
  CHECK(read_int_attr(f, "version") == (k >= 3 ? 3 : 1));
  int v[N];
  hid_t d = H5Dopen2(f, "g/contig", H5P_DEFAULT);
  CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  for (int i = 0; i < N; i++)
    CHECK(v[i] == i * i + (k >= 3));
  CHECK(read_int_attr(d, "units") == (k >= 3 ? 7 : -1));
  H5Dclose(d);
  CHECK(H5Lexists(f, "scratch", H5P_DEFAULT) == (k < 3));
  CHECK(H5Lexists(f, "names", H5P_DEFAULT) == (k >= 2));
  if (k >= 2) {
    d = H5Dopen2(f, "g/chunked", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    CHECK(dims[0] == (k >= 3 ? N + 50u : N));
    double w[N + 50];
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
    for (hsize_t i = 0; i < dims[0]; i++)
      CHECK(w[i] == (i < N ? (double)i / 4.0 : -(double)(i - N)));
    hid_t dcpl = H5Dget_create_plist(d);
    CHECK(H5Pget_nfilters(dcpl) == 1);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Dclose(d);
    d = H5Dopen2(f, "names", H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    char *s[3] = {0};
    CHECK(H5Dread(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0);
    CHECK(s[0] && strcmp(s[0], "alpha") == 0);
    CHECK(s[1] && strcmp(s[1], "a longer string, beta") == 0);
    CHECK(s[2] && strcmp(s[2], "") == 0);
    hid_t sp3 = H5Dget_space(d);
    H5Dvlen_reclaim(st, sp3, H5P_DEFAULT, s);
    H5Sclose(sp3);
    H5Tclose(st);
    H5Dclose(d);
  }
  if (check_failures != bad0) fprintf(stderr, "  ... while verifying %s (step %d)\n", what, k);
}

static void verify_rev(const char *store, const char *config, h5tx_rev rev, int k) {
  char name[900];
  if (rev == H5TX_HEAD)
    snprintf(name, sizeof name, "%s", fname);
  else
    snprintf(name, sizeof name, "%s@%llu", fname, (unsigned long long)rev);
  hid_t fapl = h5tx_fapl(config, 0);
  hid_t f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  if (f < 0) {
    fprintf(stderr, "cannot open %s: %s\n", name, h5_capture());
    CHECK(0);
  } else {
    verify(f, k, name);
    H5Fclose(f);
  }
  H5Pclose(fapl);
  (void)store;
}

/* One scenario: three steps through one writer, then every revision. */
static void scenario(const char *store, const char *config, int latest, int paged) {
  snprintf(fname, sizeof fname, "%s/runs/r1.h5", store);
  int on_close = config && strstr(config, "commit=close") != NULL;
  hid_t fapl = h5tx_fapl(config, latest);
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  if (paged) {
    REQUIRE(H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_PAGE, 0, 1) >= 0);
    REQUIRE(H5Pset_file_space_page_size(fcpl, 4096) >= 0);
  }
  hid_t f = H5Fcreate(fname, H5F_ACC_TRUNC, fcpl, fapl);
  if (f < 0) fprintf(stderr, "create %s: %s\n", fname, h5_capture());
  REQUIRE(f >= 0);
  h5tx_rev before = store_head(store), revs[4] = {0};
  step1(f);
  REQUIRE(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
  revs[1] = store_head(store);
  /* A flush with nothing new makes no revision. */
  REQUIRE(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
  CHECK(store_head(store) == revs[1]);
  step2(f);
  REQUIRE(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
  revs[2] = store_head(store);
  step3(f);
  if (on_close) {
    CHECK(revs[1] == before && revs[2] == before); /* flushes did not commit */
  } else {
    CHECK(revs[1] == before + 1 && revs[2] == before + 2);
    /* While the writer is open, its last flush is readable by revision
     * (libver=latest files included: no "already open for write"); head
     * opened read-only in this process is the open file itself, as with
     * sec2, so it shows what HDF5 holds, step 3 included. */
    verify_rev(store, config, revs[2], 2);
    verify_rev(store, config, H5TX_HEAD, 3);
  }
  REQUIRE(H5Fclose(f) >= 0);
  revs[3] = store_head(store);
  CHECK(revs[3] == (on_close ? before + 1 : before + 3));
  H5Pclose(fapl);
  H5Pclose(fcpl);
  if (!on_close) {
    verify_rev(store, config, revs[1], 1);
    verify_rev(store, config, revs[2], 2);
  }
  verify_rev(store, config, revs[3], 3);
  verify_rev(store, config, H5TX_HEAD, 3);
  /* Reopen read-write, change nothing, close: no new revision. */
  fapl = h5tx_fapl(config, latest);
  f = H5Fopen(fname, H5F_ACC_RDWR, fapl);
  REQUIRE(f >= 0);
  REQUIRE(H5Fclose(f) >= 0);
  H5Pclose(fapl);
  CHECK(store_head(store) == revs[3]);
}

/* Two read-write opens of one file in one process share it (as with sec2):
 * HDF5 opens through the driver before it finds the file already open. */
static void test_open_twice(const char *store) {
  char name[800];
  snprintf(name, sizeof name, "%s/twice.h5", store);
  hid_t fapl = h5tx_fapl(NULL, 0);
  hid_t a = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(a >= 0);
  hid_t b = H5Fopen(name, H5F_ACC_RDWR, fapl);
  if (b < 0) fprintf(stderr, "second open: %s\n", h5_capture());
  CHECK(b >= 0);
  if (b >= 0) {
    hid_t g = H5Gcreate2(b, "via_b", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(g >= 0);
    H5Gclose(g);
    CHECK(H5Fclose(b) >= 0);
  }
  CHECK(H5Lexists(a, "via_b", H5P_DEFAULT) > 0); /* the same file */
  CHECK(H5Fclose(a) >= 0);
  hid_t r = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  CHECK(r >= 0 && H5Lexists(r, "via_b", H5P_DEFAULT) > 0);
  if (r >= 0) H5Fclose(r);
  H5Pclose(fapl);
}

/* Two driver-level opens of one file share its writer; the one that made
 * the writer closing first leaves it working for the other, whose close
 * commits (the writer's store handle is the shared writer's own: it was
 * the first opener's, freed with it; ASan saw the use after free). */
static void test_opener_closes_first(const char *store) {
  char name[800];
  snprintf(name, sizeof name, "%s/first-closes.h5", store);
  hid_t fapl = h5tx_fapl("durability=nosync", 0);
  H5FD_t *a = H5FDopen(name, H5F_ACC_RDWR | H5F_ACC_CREAT, fapl, HADDR_UNDEF);
  REQUIRE(a != NULL);
  H5FD_t *b = H5FDopen(name, H5F_ACC_RDWR, fapl, HADDR_UNDEF);
  REQUIRE(b != NULL);
  CHECK(H5FDclose(a) >= 0); /* b still holds the writer: nothing committed */
  CHECK(H5FDset_eoa(b, H5FD_MEM_DRAW, 8) >= 0);
  CHECK(H5FDwrite(b, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 8, "by b ok") >= 0);
  CHECK(H5FDclose(b) >= 0); /* the last close commits */
  H5FD_t *r = H5FDopen(name, H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
  REQUIRE(r != NULL);
  char buf[8] = {0};
  CHECK(H5FDset_eoa(r, H5FD_MEM_DRAW, 8) >= 0);
  CHECK(H5FDread(r, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 8, buf) >= 0 && memcmp(buf, "by b ok", 8) == 0);
  CHECK(H5FDclose(r) >= 0);
  H5Pclose(fapl);
}

/* A read-only open of a file this process has open read-write is the same
 * file (as with sec2: HDF5 finds it open and shares it), so it sees what was
 * written and not committed yet. HDF5's virtual datasets open their source
 * files read-only while the program may be writing them. */
static void test_readonly_while_writing(const char *store) {
  char name[800];
  snprintf(name, sizeof name, "%s/rw.h5", store);
  hid_t fapl = h5tx_fapl("commit=close", 0);
  hid_t w = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(w >= 0);
  hid_t g = H5Gcreate2(w, "uncommitted", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(g >= 0);
  H5Gclose(g);
  CHECK(H5Fflush(w, H5F_SCOPE_GLOBAL) >= 0); /* written to the driver, not committed */
  hid_t r = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  if (r < 0) fprintf(stderr, "read-only open while writing: %s\n", h5_capture());
  CHECK(r >= 0);
  if (r >= 0) {
    CHECK(H5Lexists(r, "uncommitted", H5P_DEFAULT) > 0);
    CHECK(H5Fclose(r) >= 0);
  }
  CHECK(H5Fclose(w) >= 0);
  /* A read-only open of a file nobody here writes is a snapshot as before. */
  r = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  CHECK(r >= 0 && H5Lexists(r, "uncommitted", H5P_DEFAULT) > 0);
  if (r >= 0) H5Fclose(r);
  H5Pclose(fapl);
}

/* H5Fget_vfd_handle: a plain file gives a pointer to its descriptor (as
 * sec2); a file in a store gives a pointer to an H5FD_h5tx_handle_t. */
static void test_vfd_handle(const char *dir, const char *store) {
  char name[800];
  hid_t fapl = h5tx_fapl(NULL, 0);
  snprintf(name, sizeof name, "%s/plain-handle.h5", dir);
  hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  void *h = NULL;
  struct stat st;
  CHECK(H5Fget_vfd_handle(f, fapl, &h) >= 0 && h && fstat(*(int *)h, &st) == 0);
  CHECK(H5Fclose(f) >= 0);
  snprintf(name, sizeof name, "%s/handle.h5", store);
  f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  h = NULL;
  herr_t rc = H5Fget_vfd_handle(f, fapl, &h);
  if (rc < 0) fprintf(stderr, "H5Fget_vfd_handle (read-write): %s\n", h5_capture());
  const H5FD_h5tx_handle_t *th = h;
  CHECK(rc >= 0 && th && th->store && th->writer && !th->snap && th->fd == -1 &&
        strcmp(th->name, "handle.h5") == 0);
  CHECK(H5Fclose(f) >= 0);
  f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  REQUIRE(f >= 0);
  h = NULL;
  rc = H5Fget_vfd_handle(f, fapl, &h);
  th = h;
  CHECK(rc >= 0 && th && th->store && !th->writer && th->snap &&
        strcmp(th->name, "handle.h5") == 0);
  CHECK(H5Fclose(f) >= 0);
  H5Pclose(fapl);
}

int main(void) {
  test_paths tp = temp_paths();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const struct {
    const char *config;
    int latest, paged;
  } cases[] = {
      {NULL, 0, 0},
      {"codec=none;page_size=4K", 1, 0},
      {"durability=nosync", 0, 1},
      {"commit=close", 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char store[640];
    snprintf(store, sizeof store, "%s/case%zu.h5tx", tp.dir, i);
    int bad0 = check_failures;
    scenario(store, cases[i].config, cases[i].latest, cases[i].paged);
    printf("case %zu (config '%s', libver latest %d, paged %d): %s\n", i,
           cases[i].config ? cases[i].config : "", cases[i].latest, cases[i].paged,
           check_failures == bad0 ? "ok" : "FAILED");
  }
  char store[640];
  snprintf(store, sizeof store, "%s/twice.h5tx", tp.dir);
  test_open_twice(store);
  test_opener_closes_first(store);
  test_readonly_while_writing(store);
  test_vfd_handle(tp.dir, store);
  remove_tree(tp.dir);
  return check_done("vfd_roundtrip");
}
