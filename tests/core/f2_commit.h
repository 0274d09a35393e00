/* f2_commit.h - what the format-2 white-box tests share: a model of two
 * files' pages at every revision, and commits made as the store makes them
 * (pages appended to the page log under a write id, the log commit record
 * appended, then applied to the index by h5tx__apply_commit), tags, and a
 * byte-for-byte check of every page at every revision. Include after
 * check.h; the includer defines `static h5tx_error e;` first. */
#ifndef H5TX_F2_COMMIT_H
#define H5TX_F2_COMMIT_H

#include "apply2.h"
#include "internal.h"
#include "pages2.h"
#include "records.h"

static const uint8_t sid[16] = "format2-test-sid";
enum { PS = 4096, NP = 8, MAXREV = 64 };
static uint8_t model[MAXREV + 1][3][NP][PS]; /* [rev][fid][page] */

typedef struct pending {
  h5tx__place pl[NP];
  size_t n;
  uint64_t wid;
} pending;

static inline int pending_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n,
                                h5tx_error *err) {
  (void)err;
  pending *p = arg;
  *pl = wid == p->wid ? p->pl : NULL;
  *n = wid == p->wid ? p->n : 0;
  return 0;
}

typedef struct commit_arg {
  const h5tx__lcommit *c;
  const h5tx__place *at;
  pending *pg;
  int sync;
} commit_arg;

static inline int commit_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  commit_arg *a = arg;
  int rc = h5tx__apply_commit(t, a->c, a->at, pending_pages, a->pg, err);
  /* sync: the log was flushed before this transaction */
  if (rc == 0 && a->sync) rc = h5tx__meta2_put(t, "durable", a->c->rev, err);
  return rc;
}

typedef struct tag_arg {
  const char *name;
  h5tx_rev rev;
} tag_arg;

static inline int tag_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  tag_arg *a = arg;
  return h5tx__apply_tag(t, a->name, strlen(a->name), a->rev, err);
}

static inline int init_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  int rc = h5tx__meta2_put(t, "head", 0, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_file_id", 1, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", 0, err);
  return rc;
}

static h5tx__place commit_places[MAXREV + 2];

/* One commit: write `pages` (a bit mask) of file `fid` with fresh bytes,
 * plus the given name operations. `sync`: the log is flushed before the
 * index transaction, which flushes too and sets meta/durable. */
static inline void commit(h5tx__kv *kv, h5tx__plog *l, h5tx_rev rev, uint64_t fid, unsigned pages,
                          const h5tx__lop *extra, int nextra, uint64_t *seed, int voided,
                          int sync) {
  pending pg = {.wid = h5tx__plog_write_id()};
  h5tx__plog_rec recs[NP];
  for (uint64_t f = 1; f <= 2; f++)
    memcpy(model[rev][f], model[rev - 1][f], sizeof model[rev][f]);
  for (int p = 0; p < NP; p++) {
    if (!(pages & (1u << p))) continue;
    for (int b = 0; b < PS; b++)
      model[rev][fid][p][b] = p % 3 == 0 ? (uint8_t)rng_next(seed) : (uint8_t)(b / 32 + rev);
    h5tx__page2_record(&recs[pg.n], (uint64_t)p, model[rev][fid][p], PS, H5TX_CODEC_NONE, 0, NULL,
                       NULL);
    pg.n++;
  }
  if (pg.n) OK(h5tx__plog_append(l, pg.wid, recs, pg.n, pg.pl, &e));
  h5tx__lcommit c = {.rev = rev,
                     .parent = rev - 1,
                     .time_ns = 1000 + rev,
                     .pid = 7,
                     .host = "h",
                     .host_len = 1,
                     .msg = "m",
                     .msg_len = 1};
  h5tx__buf b = {0};
  REQUIRE(h5tx__lcommit_begin(&b, &c) == 0);
  for (int i = 0; i < nextra; i++)
    REQUIRE(h5tx__lcommit_add(&b, &extra[i]) == 0);
  if (pg.n) {
    h5tx__lop lo = {.op = LOP_LENGTH, .fid = fid, .a = (uint64_t)NP * PS};
    h5tx__lop po = {.op = LOP_PAGES, .fid = fid, .a = pg.wid};
    REQUIRE(h5tx__lcommit_add(&b, &lo) == 0 && h5tx__lcommit_add(&b, &po) == 0);
  }
  h5tx__plog_rec cr = {.kind = PLOG_COMMIT,
                       .enc = PLOG_ENC_RAW,
                       .key = rev,
                       .raw = (uint32_t)b.n,
                       .payload = b.p,
                       .stored = (uint32_t)b.n};
  OK(h5tx__plog_append(l, pg.wid, &cr, 1, &commit_places[rev], &e));
  if (voided) {
    uint8_t z[8] = {0};
    h5tx__plog_rec vr = {
        .kind = PLOG_VOID, .enc = PLOG_ENC_RAW, .key = rev, .raw = 8, .payload = z, .stored = 8};
    h5tx__place vp;
    OK(h5tx__plog_append(l, pg.wid, &vr, 1, &vp, &e));
  } else {
    h5tx__lcommit d;
    const char *why;
    REQUIRE(h5tx__lcommit_parse(b.p, b.n, &d, &why) == 0);
    if (sync) OK(h5tx__plog_flush(l, &e));
    commit_arg a = {&d, &commit_places[rev], &pg, sync};
    OK(h5tx__kv_write(kv, commit_fn, &a, sync, &e));
  }
  h5tx__buf_free(&b);
}

static inline void tag(h5tx__kv *kv, h5tx__plog *l, const char *name, h5tx_rev rev) {
  h5tx__buf b = {0};
  REQUIRE(h5tx__ltag_encode(&b, name, strlen(name), rev) == 0);
  h5tx__plog_rec r = {.kind = PLOG_TAG,
                      .enc = PLOG_ENC_RAW,
                      .raw = (uint32_t)b.n,
                      .payload = b.p,
                      .stored = (uint32_t)b.n};
  h5tx__place p;
  OK(h5tx__plog_append(l, 0, &r, 1, &p, &e));
  tag_arg a = {name, rev};
  OK(h5tx__kv_write(kv, tag_fn, &a, 0, &e));
  h5tx__buf_free(&b);
}

/* Every entry of every table, in order. */
static inline void dump(h5tx__kv *kv, h5tx__buf *out) {
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  out->n = 0;
  for (int tb = 0; tb < IDX_NTABLES; tb++) {
    h5tx__cur *c;
    OK(h5tx__kv_cursor(t, tb, &c, &e));
    h5tx__val k, v;
    int rc = h5tx__kv_seek(c, "", 0, &k, &v, &e);
    while (rc == 0) {
      uint8_t hdr[9] = {(uint8_t)tb};
      h5tx__le32(hdr + 1, (uint32_t)k.n);
      h5tx__le32(hdr + 5, (uint32_t)v.n);
      REQUIRE(h5tx__buf_add(out, hdr, 9) == 0 && h5tx__buf_add(out, k.p, k.n) == 0 &&
              h5tx__buf_add(out, v.p, v.n) == 0);
      rc = h5tx__kv_next(c, &k, &v, &e);
    }
    REQUIRE(rc == H5TX_ENOENT);
    h5tx__kv_cursor_close(c);
  }
  h5tx__kv_done(t);
}

static inline void check_pages(h5tx__kv *kv, h5tx__plog *l, h5tx_rev upto) {
  h5tx__txn *t;
  h5tx__cur *c;
  uint8_t buf[PS];
  OK(h5tx__kv_read(kv, &t, &e));
  OK(h5tx__kv_cursor(t, IDX_PAGES, &c, &e));
  for (h5tx_rev r = 1; r <= upto; r++)
    for (uint64_t f = 1; f <= 2; f++)
      for (int p = 0; p < NP; p++) {
        h5tx__place pl;
        int rc = h5tx__page2_find(c, f, (uint64_t)p, r, &pl, NULL, &e);
        if (rc == H5TX_ENOENT) {
          CHECK(is_all(model[r][f][p], PS, 0));
          continue;
        }
        OK(rc);
        OK(h5tx__page2_load(l, &pl, buf, PS, NULL, &e));
        if (memcmp(buf, model[r][f][p], PS) != 0) {
          fprintf(stderr, "file %llu page %d revision %llu differs\n", (unsigned long long)f, p,
                  (unsigned long long)r);
          check_failures++;
        }
      }
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
}

#endif
