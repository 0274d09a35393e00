/* test_errors.c - every bad input the driver can meet ends in an HDF5 error
 * whose message names the problem: unknown config key, bad value, missing
 * revision or tag, write access to a past revision, a name outside any store
 * (plain=no), a store named instead of a file, a missing file, a directory
 * that is not a store, a live second writer (named), and conflicting
 * revision requests. Nothing crashes and nothing is changed. */
#include "vfd_check.h"

#include <signal.h>
#include <sys/wait.h>

static void make_file(const char *name) {
  hid_t fapl = h5tx_fapl(NULL, 0);
  hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(f >= 0);
  hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(g);
  REQUIRE(H5Fclose(f) >= 0);
  H5Pclose(fapl);
}

static hid_t open_with(const char *name, unsigned flags, const char *config) {
  hid_t fapl = h5tx_fapl(config, 0);
  hid_t f = H5Fopen(name, flags, fapl);
  if (f < 0) h5_capture(); /* before H5Pclose clears the stack */
  H5Pclose(fapl);
  return f;
}

static void test_config_errors(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "colour=blue"), "unknown config key 'colour'");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "page_size=3000"), "config key 'page_size': bad value '3000'");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "codec=brotli"), "config key 'codec': bad value 'brotli'");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "commit=sometimes"), "config key 'commit'");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "durability=maybe"), "config key 'durability'");
  /* The driver's own keys, parsed by the driver. */
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "plain=1"), "config key 'plain': bad value '1'");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "store=lab"), "config key 'store': bad value 'lab'");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "store="), "config key 'store': bad value ''");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "commit=close;commit=flush"), "config key 'commit' given twice");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "colour=blue"), "store, commit, plain)");
  H5_FAILS(H5Pset_fapl_h5tx(fapl, "commit=close;page_size=3"), "config key 'page_size'");
  /* The fapl is untouched by a failed set. */
  CHECK(H5Pget_fapl_h5tx(fapl, NULL, 0) < 0);
  REQUIRE(H5Pset_fapl_h5tx(fapl, "commit=close; codec=zstd:5") >= 0);
  char buf[64];
  CHECK(H5Pget_fapl_h5tx(fapl, buf, sizeof buf) > 0 &&
        strcmp(buf, "commit=close; codec=zstd:5") == 0);
  H5Pclose(fapl);
}

static void test_name_errors(const char *dir, const char *store, const char *fname) {
  char name[900];
  snprintf(name, sizeof name, "%s@99", fname);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, NULL), "no revision 99");
  snprintf(name, sizeof name, "%s@nosuchtag", fname);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, NULL), "no tag 'nosuchtag'");
  snprintf(name, sizeof name, "%s@", fname);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, NULL), "nothing after '@'");
  snprintf(name, sizeof name, "%s@1", fname);
  H5_FAILS(open_with(name, H5F_ACC_RDWR, NULL), "is read-only");
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, "rev=2"), "but the config says rev=2");
  H5_FAILS(open_with(store, H5F_ACC_RDONLY, NULL), "names a store, not a file");
  snprintf(name, sizeof name, "%s/missing.h5", store);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, NULL), "no file 'missing.h5'");
  snprintf(name, sizeof name, "%s/bad/../name.h5", store);
  H5_FAILS(open_with(name, H5F_ACC_RDWR, NULL), "'..' part");
  snprintf(name, sizeof name, "%s/plain.h5", dir);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, "plain=no"), "is outside any store");
  snprintf(name, sizeof name, "%s/none.h5tx/f.h5", dir);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, NULL), "does not exist");
  char fake[700];
  snprintf(fake, sizeof fake, "%s/fake.h5tx", dir);
  REQUIRE(mkdir(fake, 0755) == 0);
  snprintf(name, sizeof name, "%s/f.h5", fake);
  H5_FAILS(open_with(name, H5F_ACC_RDONLY, NULL), "is not an h5tx store");
  snprintf(name, sizeof name, "%s/no/such/dir/new.h5tx/f.h5", dir);
  hid_t fapl = h5tx_fapl(NULL, 0);
  H5_FAILS(H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "parent directory");
  /* Exclusive create of an existing file. */
  H5_FAILS(H5Fcreate(fname, H5F_ACC_EXCL, H5P_DEFAULT, fapl), "exists");
  H5Pclose(fapl);
  /* rev= in the config opens that revision of a plain name in store=. */
  char cfg[800];
  snprintf(cfg, sizeof cfg, "store=%s;rev=1", store);
  hid_t f = open_with("f.h5", H5F_ACC_RDONLY, cfg);
  CHECK(f >= 0);
  if (f >= 0) {
    CHECK(H5Lexists(f, "g", H5P_DEFAULT) > 0);
    H5Fclose(f);
  }
}

/* Names the mount could not show are refused when HDF5 creates a file
 * through the driver, with the reason, and nothing is committed. */
static void test_new_names(const char *store, const char *fname) {
  hid_t fapl = h5tx_fapl(NULL, 0);
  char name[1600];
  /* f.h5 is a file: nothing can live under it. */
  snprintf(name, sizeof name, "%s/x.h5", fname);
  H5_FAILS(H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "'f.h5' is a file");
  snprintf(name, sizeof name, "%s/bad\nname.h5", store);
  H5_FAILS(H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "control character");
  snprintf(name, sizeof name, "%s/.h5tx", store);
  H5_FAILS(H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "reserved");
  /* Over the key limit: refused at open, before HDF5 writes a byte. */
  int n = snprintf(name, sizeof name, "%s/", store);
  for (int i = 0; i < 600; i++)
    name[n + i] = i % 100 == 99 ? '/' : 'l';
  strcpy(name + n + 600, ".h5");
  H5_FAILS(H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "limit of 502 bytes");
  H5Pclose(fapl);
}

/* A second writer, in another process, is refused by name. */
static void test_second_writer(const char *fname) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    hid_t f = open_with(fname, H5F_ACC_RDWR, NULL);
    char c = f >= 0 ? 'W' : 'E';
    REQUIRE(write(p[1], &c, 1) == 1);
    for (;;)
      pause();
  }
  close(p[1]);
  char c = 0;
  REQUIRE(read(p[0], &c, 1) == 1 && c == 'W');
  char want[64];
  snprintf(want, sizeof want, "is being written by pid %d on host", (int)pid);
  H5_FAILS(open_with(fname, H5F_ACC_RDWR, NULL), want);
  /* Readers are never refused. */
  hid_t f = open_with(fname, H5F_ACC_RDONLY, NULL);
  CHECK(f >= 0);
  if (f >= 0) H5Fclose(f);
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, NULL, 0) == pid);
  /* The dead writer's lease is taken over. */
  f = open_with(fname, H5F_ACC_RDWR, NULL);
  CHECK(f >= 0);
  if (f >= 0) H5Fclose(f);
  close(p[0]);
}

int main(void) {
  test_paths tp = temp_paths();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char fname[800], plain[800];
  snprintf(fname, sizeof fname, "%s/f.h5", tp.store);
  make_file(fname); /* revision 1 */
  snprintf(plain, sizeof plain, "%s/plain.h5", tp.dir);
  make_file(plain); /* a plain file beside the store */
  h5tx_rev head = store_head(tp.store);
  test_config_errors();
  test_name_errors(tp.dir, tp.store, fname);
  test_new_names(tp.store, fname);
  test_second_writer(fname);
  CHECK(store_head(tp.store) == head); /* nothing was committed */
  remove_tree(tp.dir);
  return check_done("vfd_errors");
}
