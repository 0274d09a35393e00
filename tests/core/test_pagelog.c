/* test_pagelog.c - white-box test of the page log (pagelog.h) on a local
 * directory: records read back byte for byte by place, raw pages aligned
 * for a direct pread, runs of pages in one call, a record read under
 * another identity or with a flipped byte is ECORRUPT, segments roll and
 * seal, a scan finds every record and stops at a torn or garbage tail, a
 * segment of another store is refused, a live appender's segment is busy
 * and a dead one's is not, a fork child never appends to its parent's
 * segment, a deleted segment reads ENOENT. */
#include "check.h"
#include "codec.h"
#include "internal.h"
#include "pagelog.h"

#include <fcntl.h>
#include <sys/wait.h>

static h5tx_error e;
static const uint8_t sid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

#define PS 65536u

static void fill(uint8_t *p, size_t n, uint64_t *seed) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng_next(seed);
    memcpy(p + i, &v, n - i < 8 ? n - i : 8);
  }
}

typedef struct scan_acc {
  size_t n;
  uint64_t keys[4096];
  uint8_t kinds[4096];
} scan_acc;

static int acc_fn(void *arg, const h5tx__place *p, const void *payload, h5tx_error *err) {
  (void)err;
  scan_acc *a = arg;
  REQUIRE(a->n < 4096);
  /* the payload handed over is the record's */
  CHECK(h5tx__plog_check(sid, p, h5tx__hash(payload, p->stored)) == p->check);
  a->keys[a->n] = p->key;
  a->kinds[a->n] = p->kind;
  a->n++;
  return 0;
}

static void seg_file(const char *dir, uint64_t seg, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%016" PRIx64 ".seg", dir, seg);
}

static void test_roundtrip(const char *dir, uint64_t *seed) {
  h5tx__plog *l;
  OK(h5tx__plog_open(dir, sid, 1, 0, 0, &l, &e));
  enum { N = 200 };
  uint8_t *pages = malloc((size_t)N * PS);
  REQUIRE(pages);
  fill(pages, (size_t)N * PS, seed);
  h5tx__plog_rec recs[N];
  uint32_t small[N];
  for (int i = 0; i < N; i++) {
    /* a mix: raw pages, short "compressed" payloads, zero pages */
    int kind = i % 5 == 3 ? 2 : i % 7 == 6 ? 0 : 1;
    small[i] = kind == 2 ? (uint32_t)(1 + rng_below(seed, 9000)) : kind == 0 ? 0 : PS;
    recs[i] = (h5tx__plog_rec){.kind = PLOG_PAGE,
                               .enc = (uint8_t)kind,
                               .key = (uint64_t)i,
                               .raw = PS,
                               .content = h5tx__hash(pages + (size_t)i * PS, small[i]),
                               .payload = pages + (size_t)i * PS,
                               .stored = small[i]};
  }
  h5tx__place pl[N];
  uint64_t wid = h5tx__plog_write_id();
  CHECK(wid != 0);
  OK(h5tx__plog_append(l, wid, recs, 37, pl, &e));
  OK(h5tx__plog_append(l, wid, recs + 37, N - 37, pl + 37, &e));
  OK(h5tx__plog_flush(l, &e));
  uint8_t *buf = malloc(PS);
  REQUIRE(buf);
  for (int i = 0; i < N; i++) {
    CHECK(pl[i].wid == wid && pl[i].key == (uint64_t)i && pl[i].stored == small[i]);
    if (recs[i].enc == PLOG_ENC_RAW)
      CHECK(pl[i].off % 4096 == 0);
    else
      CHECK(pl[i].off % 8 == 0);
    memset(buf, 0xee, PS);
    OK(h5tx__plog_read(l, &pl[i], buf, &e));
    CHECK(memcmp(buf, pages + (size_t)i * PS, small[i]) == 0);
  }
  /* a run of adjacent raw pages in one call */
  int first = -1, len = 0;
  for (int i = 0; i + 1 < N && len < 2; i++)
    if (pl[i].stored == PS && pl[i + 1].stored == PS && pl[i + 1].off == pl[i].off + PS &&
        pl[i].seg == pl[i + 1].seg)
      first = i, len = 2;
  REQUIRE(first >= 0);
  uint8_t *two = malloc(2 * PS);
  void *dsts[2] = {two, two + PS};
  OK(h5tx__plog_read_run(l, &pl[first], 2, dsts, &e));
  CHECK(memcmp(two, pages + (size_t)first * PS, 2 * PS) == 0);
  /* the same place under another identity: never the bytes */
  h5tx__place wrong = pl[first];
  wrong.key++;
  FAILS(h5tx__plog_read(l, &wrong, buf, &e), H5TX_ECORRUPT, "checksum mismatch (page log segment");
  wrong = pl[first];
  wrong.wid ^= 1;
  FAILS(h5tx__plog_read(l, &wrong, buf, &e), H5TX_ECORRUPT, "checksum mismatch (page log segment");
  /* past the end of the segment */
  wrong = pl[first];
  wrong.off += (uint64_t)1 << 32;
  FAILS(h5tx__plog_read(l, &wrong, buf, &e), H5TX_ECORRUPT, "ends before the record");
  /* a flipped byte in the file */
  char path[1000];
  seg_file(dir, pl[first].seg, path, sizeof path);
  int fd = open(path, O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t b;
  REQUIRE(pread(fd, &b, 1, (off_t)pl[first].off + 100) == 1);
  b ^= 0x10;
  REQUIRE(pwrite(fd, &b, 1, (off_t)pl[first].off + 100) == 1);
  FAILS(h5tx__plog_read(l, &pl[first], buf, &e), H5TX_ECORRUPT,
        "checksum mismatch (page log segment");
  b ^= 0x10;
  REQUIRE(pwrite(fd, &b, 1, (off_t)pl[first].off + 100) == 1);
  close(fd);
  OK(h5tx__plog_read(l, &pl[first], buf, &e));
  /* the scan sees every record, in order */
  scan_acc *a = calloc(1, sizeof *a);
  uint64_t end;
  int sealed;
  const char *why;
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == N && !sealed && why == NULL);
  for (size_t i = 0; i < a->n; i++)
    CHECK(a->keys[i] == i && a->kinds[i] == PLOG_PAGE);
  /* close seals */
  h5tx__plog_close(l);
  OK(h5tx__plog_open(dir, sid, 0, 0, 0, &l, &e));
  memset(a, 0, sizeof *a);
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == N && sealed && why == NULL);
  /* a deleted segment is ENOENT, err untouched */
  OK(h5tx__plog_delete(l, pl[0].seg, &e));
  memset(&e, 0, sizeof e);
  CHECK(h5tx__plog_read(l, &pl[0], buf, &e) == H5TX_ENOENT && e.code == 0);
  h5tx__plog_close(l);
  free(a);
  free(two);
  free(buf);
  free(pages);
}

#define RS 32768u

static void test_roll(const char *dir, uint64_t *seed) {
  h5tx__plog *l;
  /* 1 MiB segments: 100 pages of 32 KiB roll over several */
  OK(h5tx__plog_open(dir, sid, 1, 0, 1 << 20, &l, &e));
  enum { N = 100 };
  uint8_t *pages = malloc((size_t)N * RS);
  REQUIRE(pages);
  fill(pages, (size_t)N * RS, seed);
  h5tx__plog_rec recs[N];
  h5tx__place pl[N];
  for (int i = 0; i < N; i++)
    recs[i] = (h5tx__plog_rec){.kind = PLOG_PAGE,
                               .enc = PLOG_ENC_RAW,
                               .key = (uint64_t)i,
                               .raw = RS,
                               .content = h5tx__hash(pages + (size_t)i * RS, RS),
                               .payload = pages + (size_t)i * RS,
                               .stored = RS};
  uint64_t wid = h5tx__plog_write_id();
  for (int i = 0; i < N; i += 10)
    OK(h5tx__plog_append(l, wid, recs + i, 10, pl + i, &e));
  uint64_t *segs;
  size_t ns;
  OK(h5tx__plog_segments(l, &segs, &ns, &e));
  CHECK(ns >= 3);
  size_t total = 0;
  scan_acc *a = calloc(1, sizeof *a);
  for (size_t s = 0; s < ns; s++) {
    uint64_t end;
    int sealed;
    const char *why;
    a->n = 0;
    OK(h5tx__plog_scan(l, segs[s], acc_fn, a, &end, &sealed, &why, &e));
    CHECK(why == NULL);
    CHECK(sealed == (s + 1 < ns)); /* every segment but the open one is sealed */
    for (size_t i = 0; i < a->n; i++)
      CHECK(a->keys[i] == total + i); /* in order across segments */
    total += a->n;
    char path[1000];
    seg_file(dir, segs[s], path, sizeof path);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    /* at most the size, plus the seal batch */
    CHECK((uint64_t)st.st_size <= (1u << 20) + 8192);
  }
  CHECK(total == N);
  uint8_t *buf = malloc(RS);
  for (int i = 0; i < N; i++) {
    OK(h5tx__plog_read(l, &pl[i], buf, &e));
    CHECK(memcmp(buf, pages + (size_t)i * RS, RS) == 0);
  }
  h5tx__plog_close(l);
  /* another store's segments are refused */
  uint8_t other[16] = {9};
  uint64_t end;
  int sealed;
  const char *why;
  OK(h5tx__plog_open(dir, other, 0, 0, 0, &l, &e));
  FAILS(h5tx__plog_scan(l, segs[0], acc_fn, a, &end, &sealed, &why, &e), H5TX_ECORRUPT,
        "another store");
  FAILS(h5tx__plog_read(l, &pl[0], buf, &e), H5TX_ECORRUPT, "checksum mismatch (page log segment");
  h5tx__plog_close(l);
  free(buf);
  free(segs);
  free(a);
  free(pages);
}

/* A scan stops at a torn batch, at garbage and at zeros after the last
 * intact batch. */
static void test_tail(const char *dir, uint64_t *seed) {
  h5tx__plog *l;
  OK(h5tx__plog_open(dir, sid, 1, 0, 0, &l, &e));
  uint8_t pages[10][4096];
  fill(&pages[0][0], sizeof pages, seed);
  h5tx__plog_rec recs[10];
  h5tx__place pl[10];
  for (int i = 0; i < 10; i++)
    recs[i] = (h5tx__plog_rec){.kind = PLOG_PAGE,
                               .enc = PLOG_ENC_RAW,
                               .key = (uint64_t)i,
                               .raw = 4096,
                               .content = h5tx__hash(pages[i], 4096),
                               .payload = pages[i],
                               .stored = 4096};
  for (int b = 0; b < 3; b++)
    OK(h5tx__plog_append(l, 5, recs, 10, pl, &e));
  OK(h5tx__plog_flush(l, &e));
  char path[1000];
  seg_file(dir, pl[0].seg, path, sizeof path);
  struct stat st;
  REQUIRE(stat(path, &st) == 0);
  scan_acc *a = calloc(1, sizeof *a);
  uint64_t end;
  int sealed;
  const char *why;
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == 30 && end == (uint64_t)st.st_size && why == NULL);
  REQUIRE(truncate(path, st.st_size - 1000) == 0);
  a->n = 0;
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == 20 && why && strstr(why, "torn"));
  uint64_t valid = end;
  int fd = open(path, O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t junk[8192];
  fill(junk, sizeof junk, seed);
  REQUIRE(pwrite(fd, junk, sizeof junk, (off_t)valid) == (ssize_t)sizeof junk);
  a->n = 0;
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == 20 && end == valid && why && strstr(why, "fails its check"));
  memset(junk, 0, sizeof junk);
  REQUIRE(pwrite(fd, junk, sizeof junk, (off_t)valid) == (ssize_t)sizeof junk);
  a->n = 0;
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == 20 && end == valid && why && strstr(why, "zeros"));
  /* a record whose payload was damaged ends the valid part at its batch */
  off_t at = (off_t)pl[3].off - 45056 + 7; /* in the second batch */
  uint8_t b;
  REQUIRE(pread(fd, &b, 1, at) == 1);
  b ^= 1;
  REQUIRE(pwrite(fd, &b, 1, at) == 1);
  a->n = 0;
  OK(h5tx__plog_scan(l, pl[0].seg, acc_fn, a, &end, &sealed, &why, &e));
  CHECK(a->n == 10 && why && strstr(why, "record fails"));
  close(fd);
  h5tx__plog_close(l);
  free(a);
}

/* A live appender's segment is busy; a dead one's is not; a fork child
 * appends to a segment of its own. */
static void test_busy_fork(const char *dir) {
  h5tx__plog *l;
  OK(h5tx__plog_open(dir, sid, 1, 0, 0, &l, &e));
  uint8_t page[4096] = {7};
  h5tx__plog_rec r = {.kind = PLOG_PAGE,
                      .enc = PLOG_ENC_RAW,
                      .key = 1,
                      .raw = 4096,
                      .content = h5tx__hash(page, 4096),
                      .payload = page,
                      .stored = 4096};
  h5tx__place mine, theirs;
  OK(h5tx__plog_append(l, 1, &r, 1, &mine, &e));
  CHECK(h5tx__plog_busy(l, mine.seg) == 1);
  int up[2], down[2];
  REQUIRE(pipe(up) == 0 && pipe(down) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    h5tx_error ce;
    h5tx__place p;
    int ok = h5tx__plog_append(l, 2, &r, 1, &p, &ce) == 0;
    if (!ok) fprintf(stderr, "child: %s\n", ce.msg);
    if (write(up[1], &p, sizeof p) != (ssize_t)sizeof p || !ok) _exit(1);
    char c;
    if (read(down[0], &c, 1) != 1) _exit(1);
    _exit(0); /* dies without sealing: its segment stays unsealed */
  }
  REQUIRE(read(up[0], &theirs, sizeof theirs) == (ssize_t)sizeof theirs);
  CHECK(theirs.seg != mine.seg);
  CHECK(h5tx__plog_busy(l, theirs.seg) == 1);
  CHECK(h5tx__plog_busy(l, mine.seg) == 1);
  REQUIRE(write(down[1], "x", 1) == 1);
  int st;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(h5tx__plog_busy(l, theirs.seg) == 0);
  uint8_t buf[4096];
  OK(h5tx__plog_read(l, &theirs, buf, &e));
  CHECK(memcmp(buf, page, sizeof page) == 0);
  /* the parent's segment is still its own */
  h5tx__place again;
  OK(h5tx__plog_append(l, 1, &r, 1, &again, &e));
  CHECK(again.seg == mine.seg);
  h5tx__plog_close(l);
  close(up[0]);
  close(up[1]);
  close(down[0]);
  close(down[1]);
}

/* Power loss on the page log: what reached the disk is the file as of the
 * last flush plus any part of the writes after it (a prefix, blocks
 * dropped, garbage). The scan of the file left finds every record flushed
 * before, only records that were appended, each with a valid check. */
static void test_power_loss(const char *base, uint64_t *seed) {
  for (int round = 0; round < 60; round++) {
    char dir[800];
    snprintf(dir, sizeof dir, "%s/pl%d", base, round);
    h5tx__plog *l;
    OK(h5tx__plog_open(dir, sid, 1, 0, 0, &l, &e));
    size_t flushed = 0, appended = 0;
    off_t durable_len = 0;
    uint8_t *durable = NULL;
    uint64_t seg = 0;
    int batches = 1 + (int)rng_below(seed, 12);
    for (int b = 0; b < batches; b++) {
      int k = 1 + (int)rng_below(seed, 6);
      h5tx__plog_rec r[6];
      h5tx__place p[6];
      uint8_t pl[6][4096];
      for (int i = 0; i < k; i++) {
        fill(pl[i], sizeof pl[i], seed);
        uint32_t n = rng_below(seed, 2) ? 4096 : (uint32_t)(1 + rng_below(seed, 4000));
        r[i] = (h5tx__plog_rec){.kind = PLOG_PAGE,
                                .enc = n == 4096 ? PLOG_ENC_RAW : PLOG_ENC_ZSTD,
                                .key = appended + (size_t)i,
                                .raw = 4096,
                                .content = h5tx__hash(pl[i], n),
                                .payload = pl[i],
                                .stored = n};
      }
      OK(h5tx__plog_append(l, 77, r, (size_t)k, p, &e));
      seg = p[0].seg;
      appended += (size_t)k;
      if (rng_below(seed, 3) == 0) {
        OK(h5tx__plog_flush(l, &e));
        flushed = appended;
        char path[1000];
        seg_file(dir, seg, path, sizeof path);
        struct stat st;
        REQUIRE(stat(path, &st) == 0);
        free(durable);
        durable = malloc((size_t)st.st_size);
        int fd = open(path, O_RDONLY);
        REQUIRE(fd >= 0 && pread(fd, durable, (size_t)st.st_size, 0) == st.st_size);
        close(fd);
        durable_len = st.st_size;
      }
    }
    /* the crash: no seal; the file keeps the durable part and some of the
     * rest */
    char path[1000];
    seg_file(dir, seg, path, sizeof path);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    off_t full = st.st_size;
    h5tx__plog_close(l); /* it seals: the crash had no seal, cut it off */
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, full) == 0);
    if (durable) REQUIRE(pwrite(fd, durable, (size_t)durable_len, 0) == durable_len);
    off_t from = durable ? durable_len : 4096;
    int mode = (int)rng_below(seed, 4);
    if (mode == 0) { /* nothing after the flush reached the disk */
      REQUIRE(ftruncate(fd, from) == 0);
    } else if (mode == 1) { /* a prefix */
      REQUIRE(ftruncate(fd, from + (off_t)rng_below(seed, (uint64_t)(full - from) + 1)) == 0);
    } else { /* blocks dropped (zeros) or garbage, anywhere after the flush */
      uint8_t blk[4096];
      for (off_t o = from; o < full; o += 4096)
        if (rng_below(seed, 3) == 0) {
          if (mode == 2)
            memset(blk, 0, sizeof blk);
          else
            fill(blk, sizeof blk, seed);
          REQUIRE(pwrite(fd, blk, sizeof blk, o) == (ssize_t)sizeof blk);
        }
    }
    close(fd);
    scan_acc *a = calloc(1, sizeof *a);
    uint64_t end;
    int sealed;
    const char *why;
    h5tx__plog *r2;
    OK(h5tx__plog_open(dir, sid, 0, 1, 0, &r2, &e));
    OK(h5tx__plog_scan(r2, seg, acc_fn, a, &end, &sealed, &why, &e));
    CHECK(!sealed);
    CHECK(a->n >= flushed);
    CHECK(a->n <= appended);
    for (size_t i = 0; i < a->n; i++)
      CHECK(a->keys[i] == i);
    if (a->n < flushed)
      fprintf(stderr, "round %d: %zu records found, %zu flushed (mode %d, %s)\n", round, a->n,
              flushed, mode, why ? why : "clean");
    h5tx__plog_close(r2);
    free(a);
    free(durable);
  }
}

int main(void) {
  uint64_t seed = test_seed("core_pagelog");
  test_paths t = temp_paths();
  char dir[700];
  snprintf(dir, sizeof dir, "%s/log1", t.dir);
  test_roundtrip(dir, &seed);
  snprintf(dir, sizeof dir, "%s/log2", t.dir);
  test_roll(dir, &seed);
  snprintf(dir, sizeof dir, "%s/log4", t.dir);
  test_tail(dir, &seed);
  snprintf(dir, sizeof dir, "%s/log3", t.dir);
  test_busy_fork(dir);
  test_power_loss(t.dir, &seed);
  remove_tree(t.dir);
  return check_done("core_pagelog");
}
