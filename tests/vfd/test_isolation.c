/* test_isolation.c - snapshot isolation through HDF5, across processes: a
 * reader opens a libver=latest file at revision R while a writer process
 * holds the file open and commits R+1..R+K with H5Fflush; the reader's open
 * file reads R's data throughout, while each fresh open reads the newest
 * commit. The dataset (1 MiB) is larger than HDF5's sieve buffer, so the
 * reads reach the driver. */
#include "vfd_check.h"

#include <sys/wait.h>

#define N (256 * 1024)
#define K 12

static char fname[800];

/* Read dataset "d" of `f` and check every value equals `want`. */
static int all_equal(hid_t f, int want) {
  static int v[N];
  hid_t d = H5Dopen2(f, "d", H5P_DEFAULT);
  if (d < 0) return 0;
  int ok = H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
  for (int i = 0; ok && i < N; i++)
    ok = v[i] == want + i % 7;
  H5Dclose(d);
  return ok;
}

static void fill(hid_t d, int k) {
  static int v[N];
  for (int i = 0; i < N; i++)
    v[i] = k + i % 7;
  REQUIRE(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
}

static int line(int fd, char *buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, 1);
    if (r <= 0) return -1;
    if (buf[n] == '\n') break;
    n++;
  }
  buf[n] = 0;
  return 0;
}

/* Writer: commit K revisions, each announced on `out` after its flush;
 * waits for the reader's go ahead on `in` before each. */
static int writer(int in, int out) {
  hid_t fapl = h5tx_fapl(NULL, 1);
  hid_t f = H5Fopen(fname, H5F_ACC_RDWR, fapl);
  if (f < 0) return 1;
  hid_t d = H5Dopen2(f, "d", H5P_DEFAULT);
  char buf[32];
  for (int k = 2; k <= K + 1; k++) {
    if (line(in, buf, sizeof buf) < 0) return 2;
    fill(d, k);
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return 3;
    int n = snprintf(buf, sizeof buf, "%d\n", k);
    if (write(out, buf, (size_t)n) != n) return 4;
  }
  H5Dclose(d);
  return H5Fclose(f) < 0 ? 5 : 0;
}

/* Reader: pin revision 1 (value 1) and check it after every commit. */
static int reader(int in, int out) {
  int bad = 0;
  hid_t fapl = h5tx_fapl(NULL, 0);
  hid_t f = H5Fopen(fname, H5F_ACC_RDONLY, fapl);
  if (f < 0 || !all_equal(f, 1)) return 10;
  char buf[32];
  for (int k = 2; k <= K + 1; k++) {
    if (write(out, "go\n", 3) != 3) return 11;
    if (line(in, buf, sizeof buf) < 0 || atoi(buf) != k) return 12;
    if (!all_equal(f, 1)) {
      fprintf(stderr, "reader: revision 1 changed after commit %d\n", k);
      bad++;
    }
    hid_t g = H5Fopen(fname, H5F_ACC_RDONLY, fapl);
    if (g < 0 || !all_equal(g, k)) {
      fprintf(stderr, "reader: a fresh open after commit %d does not read it\n", k);
      bad++;
    }
    if (g >= 0) H5Fclose(g);
  }
  H5Fclose(f);
  H5Pclose(fapl);
  return bad ? 13 : 0;
}

int main(void) {
  test_paths tp = temp_paths();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(fname, sizeof fname, "%s/iso.h5", tp.store);
  hid_t fapl = h5tx_fapl(NULL, 1);
  hid_t f = H5Fcreate(fname, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  hsize_t dims[1] = {N};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  fill(d, 1);
  H5Dclose(d);
  H5Sclose(sp);
  REQUIRE(H5Fclose(f) >= 0); /* revision 1; no file open across fork */
  H5Pclose(fapl);

  int to_writer[2], to_reader[2];
  REQUIRE(pipe(to_writer) == 0 && pipe(to_reader) == 0);
  pid_t w = fork();
  REQUIRE(w >= 0);
  if (w == 0) _exit(writer(to_writer[0], to_reader[1]));
  pid_t r = fork();
  REQUIRE(r >= 0);
  if (r == 0) _exit(reader(to_reader[0], to_writer[1]));
  close(to_writer[0]);
  close(to_writer[1]);
  close(to_reader[0]);
  close(to_reader[1]);
  int ws, rs;
  REQUIRE(waitpid(w, &ws, 0) == w && waitpid(r, &rs, 0) == r);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  CHECK(WIFEXITED(rs) && WEXITSTATUS(rs) == 0);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws)) fprintf(stderr, "writer status %d\n", ws);
  if (!WIFEXITED(rs) || WEXITSTATUS(rs)) fprintf(stderr, "reader status %d\n", rs);
  CHECK(store_head(tp.store) == K + 1);
  remove_tree(tp.dir);
  return check_done("vfd_isolation");
}
