/* floor_bench.c - what a durable commit costs at least, next to what h5tx
 * pays, in one run (docs/DECISIONS.md, "Revision costs"). P processes, each
 * C commits, trials rotated; total commits per second of each kind:
 *
 *   fsync   pwrite 4 KiB at a random aligned offset of its own file +
 *           fsync: the baseline of the 8-writer target;
 *   floor   the flushes a durable h5tx commit makes, with nothing else:
 *           append the page records (32 KiB) to its own segment file (and,
 *           with more than one process, fdatasync it, as a commit that
 *           finds another under way does); then under one lock shared by
 *           all processes (flock), append the commit record (4 KiB) and
 *           fdatasync the segment, overwrite 3 index pages (4 KiB each) of
 *           one shared file and fdatasync it (LMDB's data flush);
 *   h5tx    h5tx_writer_write of 4 KiB at a random aligned offset of its
 *           own file of one store + h5tx_writer_commit, durability=sync.
 *
 *   h5tx_floor_bench DIR [P [C [TRIALS]]]     (defaults 8 200 3)
 *
 * Works in a fresh directory under DIR, removed at the end.
 */
#include "bench_util.h"
#include "h5tx.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { K_FSYNC, K_FLOOR, K_H5TX, NKIND };
static const char *kname[NKIND] = {"pwrite + fsync, own file", "floor: 2 flushes in a shared lock",
                                   "h5tx durable commit, own file of one store"};

static void die(const char *what, const char *detail) {
  fprintf(stderr, "h5tx_floor_bench: %s: %s\n", what, detail);
  _exit(1);
}

static void wr(int fd, const void *b, size_t n, off_t off, const char *what) {
  if (pwrite(fd, b, n, off) != (ssize_t)n) die(what, "pwrite failed");
}

static void worker(int kind, const char *dir, int p, int P, int commits) {
  char path[4400], buf[32768];
  uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(p + 1);
  memset(buf, p + 1, sizeof buf);
  if (kind == K_FSYNC) {
    snprintf(path, sizeof path, "%s/plain-%d", dir, p);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) die(path, "open");
    for (int i = 0; i < commits; i++) {
      x = x * 6364136223846793005ull + 1;
      wr(fd, buf, 4096, (off_t)((x >> 33) % 256) * 4096, path);
      if (fsync(fd) != 0) die(path, "fsync");
    }
    close(fd);
  } else if (kind == K_FLOOR) {
    char idx[4400], lk[4400];
    snprintf(path, sizeof path, "%s/seg-%d", dir, p);
    snprintf(idx, sizeof idx, "%s/index", dir);
    snprintf(lk, sizeof lk, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int ifd = open(idx, O_RDWR | O_CREAT, 0644);
    int lfd = open(lk, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ifd < 0 || lfd < 0) die(dir, "open");
    off_t end = 0;
    for (int i = 0; i < commits; i++) {
      wr(fd, buf, 32768, end, path);
      end += 32768;
      if (P > 1 && fdatasync(fd) != 0) die(path, "fdatasync");
      if (flock(lfd, LOCK_EX) != 0) die(lk, "flock");
      wr(fd, buf, 4096, end, path);
      end += 4096;
      if (fdatasync(fd) != 0) die(path, "fdatasync");
      for (int k = 0; k < 3; k++) {
        x = x * 6364136223846793005ull + 1;
        wr(ifd, buf, 4096, (off_t)((x >> 33) % 64) * 4096, idx);
      }
      if (fdatasync(ifd) != 0) die(idx, "fdatasync");
      flock(lfd, LOCK_UN);
    }
    close(fd);
    close(ifd);
    close(lfd);
  } else {
    snprintf(path, sizeof path, "%s/s.h5tx", dir);
    h5tx_error e = {0};
    h5tx_store *s;
    h5tx_writer *w;
    h5tx_store_opts so;
    h5tx_store_opts_init(&so);
    so.durability = H5TX_SYNC;
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = 1;
    char name[32];
    snprintf(name, sizeof name, "f%d", p);
    if (h5tx_store_open(path, &so, &s, &e) || h5tx_writer_open(s, name, &wo, &w, &e))
      die(path, e.msg);
    for (int i = 0; i < commits; i++) {
      x = x * 6364136223846793005ull + 1;
      for (size_t k = 0; k < 4096; k += 8)
        memcpy(buf + k, &x, 8); /* new bytes every commit */
      if (h5tx_writer_write(w, ((x >> 33) % 256) * 4096, buf, 4096, &e) ||
          h5tx_writer_commit(w, NULL, NULL, &e))
        die(path, e.msg);
    }
    h5tx_writer_close(w);
    h5tx_store_close(s);
  }
}

/* P processes of `kind`, each `commits` commits: commits per second. */
static double run(int kind, const char *dir, int P, int commits) {
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/run", dir);
  bench_rm_rf(sub);
  if (mkdir(sub, 0755) != 0) die(sub, "mkdir");
  if (kind == K_H5TX) { /* the store first, so no process times its creation */
    char path[4400];
    snprintf(path, sizeof path, "%s/s.h5tx", sub);
    h5tx_store_opts so;
    h5tx_store_opts_init(&so);
    so.create = 1;
    h5tx_store *s;
    h5tx_error e = {0};
    if (h5tx_store_open(path, &so, &s, &e)) die(path, e.msg);
    h5tx_store_close(s);
  }
  int go[2];
  if (pipe(go) != 0) die("pipe", "failed");
  fflush(NULL);
  for (int p = 0; p < P; p++) {
    pid_t pid = fork();
    if (pid < 0) die("fork", "failed");
    if (pid == 0) {
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) != 0) die("pipe", "expected end of file");
      worker(kind, sub, p, P, commits);
      _exit(0);
    }
  }
  close(go[0]);
  double t0 = bench_now_s();
  close(go[1]); /* every worker starts */
  int bad = 0;
  for (int p = 0; p < P; p++) {
    int st;
    if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
  }
  double t = bench_now_s() - t0;
  if (bad) die(kname[kind], "a worker failed");
  bench_rm_rf(sub);
  return (double)P * commits / t;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: h5tx_floor_bench DIR [PROCS [COMMITS [TRIALS]]]\n");
    return 2;
  }
  const char *dir = bench_make_workdir(argv[1], "h5tx-floor");
  int P = argc > 2 ? atoi(argv[2]) : 8, C = argc > 3 ? atoi(argv[3]) : 200;
  int T = argc > 4 ? atoi(argv[4]) : 3;
  if (P < 1 || C < 1 || T < 1 || T > 64) {
    fprintf(stderr, "h5tx_floor_bench: PROCS, COMMITS >= 1, 1 <= TRIALS <= 64\n");
    return 2;
  }
  double r[NKIND][64], q[NKIND][64];
  for (int t = 0; t < T; t++)
    for (int j = 0; j < NKIND; j++) {
      int k = (j + t) % NKIND;
      r[k][t] = run(k, dir, P, C);
      fprintf(stderr, "trial %d: %s: %.0f commits/s\n", t + 1, kname[k], r[k][t]);
    }
  printf("| %d processes x %d commits | commits/s | ×(pwrite + fsync) [min-max] | ×floor "
         "[min-max] |\n|---|---|---|---|\n",
         P, C);
  for (int k = 0; k < NKIND; k++) {
    char a[64], b[64];
    bench_ratio_cell(a, sizeof a, r[k], r[K_FSYNC], T);
    bench_ratio_cell(b, sizeof b, r[k], r[K_FLOOR], T);
    memcpy(q[k], r[k], sizeof(double) * (size_t)T);
    printf("| %s | %.0f | %s | %s |\n", kname[k], bench_median(q[k], T), a, b);
  }
  return 0;
}
