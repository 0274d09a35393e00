/* compact.c - compaction of the page log (compact.h, docs/FORMAT.md,
 * "Garbage collection"): mostly dead segments are copied forward into a
 * fresh segment of this handle, their index entries repointed, and then
 * deleted. */
#include "compact.h"

#include "admin.h"
#include "apply2.h"
#include "dedupe.h"
#include "pages2.h"
#include "proc.h"
#include "records.h"

#include <inttypes.h>
#include <stdlib.h>

/* Entries one repointing transaction rewrites at most. */
#define REPOINT_BATCH 4096
/* Records and payload bytes gathered before one append. */
#define COPY_RECS 1024
#define COPY_BYTES (8u << 20)

typedef struct seginfo {
  uint64_t seg, size, live;
  int cand; /* to be compacted */
} seginfo;

/* A `pages` entry naming a record in a segment being compacted. */
typedef struct live_ent {
  uint8_t key[H5TX_PAGE_KEY];
  h5tx__place old, neu;
  int moved;
} live_ent;

/* A commit record copied forward: its `commits` entry names its place. */
typedef struct moved_commit {
  h5tx_rev rev;
  uint64_t oseg, ooff, nseg, noff;
} moved_commit;

typedef struct tag_ent {
  uint8_t *name;
  size_t n;
  h5tx_rev rev;
} tag_ent;

/* A record waiting to be appended; its payload is at `poff` in `pay`. */
typedef struct grec {
  h5tx__plog_rec r;
  size_t poff;
  h5tx__place old;
} grec;

typedef struct seg_end {
  uint64_t seg, end;
} seg_end;

typedef struct cst {
  h5tx_store *s;
  seginfo *segs;
  size_t nsegs;
  live_ent *ents;
  size_t nents, cents;
  uint64_t *wids; /* write ids of committed revisions, sorted */
  size_t nwids, cwids;
  tag_ent *tags;
  size_t ntags, ctags;
  moved_commit *mc;
  size_t nmc, cmc;
  int leases; /* a live writer lease was seen */
  /* one candidate's scan */
  int copying; /* 0: weigh it, 1: copy it */
  int pending, unknown;
  uint64_t est, est_wid;
  size_t est_run;
  /* records gathered for one append (one write id) */
  uint64_t gwid;
  grec *g;
  size_t ng, cg;
  h5tx__buf pay;
  h5tx__place *gpl;
  size_t cgpl;
  uint64_t written;
  /* where copies went: segment and the end of its last batch copied */
  seg_end tgt[8];
  int ntgt;
} cst;

static int oom(h5tx_error *err) { return h5tx__err(err, H5TX_ENOMEM, "out of memory"); }

static seginfo *seg_find(cst *st, uint64_t seg) {
  size_t lo = 0, hi = st->nsegs;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (st->segs[m].seg < seg)
      lo = m + 1;
    else
      hi = m;
  }
  return lo < st->nsegs && st->segs[lo].seg == seg ? &st->segs[lo] : NULL;
}

/* A `pages` value found by a scan, verified and parsed. */
static int place_of(const h5tx__val *k, const h5tx__val *v, h5tx__place *p, h5tx_error *err) {
  h5tx__val vv = *v;
  int rc = h5tx__idx_value(IDX_PAGES, k, &vv, err);
  if (rc) return rc;
  const char *why = NULL;
  if (k->n != H5TX_PAGE_KEY || h5tx__place_parse(vv.p, vv.n, p, &why) != 0)
    return h5tx__err(err, H5TX_ECORRUPT,
                     "index table pages: file id %" PRIu64 " page %" PRIu64 ": %s",
                     k->n >= 8 ? h5tx__get_be64(k->p) : 0,
                     k->n >= 16 ? h5tx__get_be64((const uint8_t *)k->p + 8) : 0,
                     why ? why : "a key of the wrong length");
  return 0;
}

static int count_live(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  cst *st = arg;
  h5tx__place p;
  int rc = place_of(k, v, &p, err);
  if (rc) return rc;
  seginfo *si = p.enc == PLOG_ENC_ZERO || p.enc == PLOG_ENC_EXTERNAL ? NULL : seg_find(st, p.seg);
  if (si) si->live += p.stored;
  return 0;
}

static int note_ent(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  cst *st = arg;
  h5tx__place p;
  int rc = place_of(k, v, &p, err);
  if (rc) return rc;
  if (p.enc == PLOG_ENC_EXTERNAL) return 0;
  seginfo *si = seg_find(st, p.seg);
  if (!si || !si->cand) return 0;
  if (h5tx__grow(&st->ents, &st->cents, st->nents, sizeof *st->ents, 256)) return oom(err);
  live_ent *e = &st->ents[st->nents++];
  memcpy(e->key, k->p, H5TX_PAGE_KEY);
  e->old = p;
  e->moved = 0;
  return 0;
}

static int cmp_ent(const void *a, const void *b) {
  const live_ent *x = a, *y = b;
  if (x->old.seg != y->old.seg) return x->old.seg < y->old.seg ? -1 : 1;
  return x->old.off < y->old.off ? -1 : x->old.off > y->old.off;
}

/* First entry naming (seg, off), or st->nents. */
static size_t ent_find(const cst *st, uint64_t seg, uint64_t off) {
  size_t lo = 0, hi = st->nents;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    const h5tx__place *p = &st->ents[m].old;
    if (p->seg < seg || (p->seg == seg && p->off < off))
      lo = m + 1;
    else
      hi = m;
  }
  return lo < st->nents && st->ents[lo].old.seg == seg && st->ents[lo].old.off == off ? lo
                                                                                      : st->nents;
}

static int note_wid(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  cst *st = arg;
  h5tx__val vv = *v;
  int rc = h5tx__idx_value(IDX_COMMITS, k, &vv, err);
  if (rc) return rc;
  h5tx__commit2 c;
  if (k->n != 8 || h5tx__commit2_parse(vv.p, vv.n, &c) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: a malformed record");
  if (h5tx__grow(&st->wids, &st->cwids, st->nwids, sizeof *st->wids, 256)) return oom(err);
  st->wids[st->nwids++] = c.wid;
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int wid_committed(const cst *st, uint64_t wid) {
  return st->nwids && bsearch(&wid, st->wids, st->nwids, sizeof wid, cmp_u64) != NULL;
}

static int note_tag(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  cst *st = arg;
  h5tx__val vv = *v;
  int rc = h5tx__idx_value(IDX_TAGS, k, &vv, err);
  if (rc) return rc;
  if (vv.n != 8) return h5tx__err(err, H5TX_ECORRUPT, "index table tags: a malformed value");
  if (h5tx__grow(&st->tags, &st->ctags, st->ntags, sizeof *st->tags, 16)) return oom(err);
  tag_ent *t = &st->tags[st->ntags];
  if (!(t->name = malloc(k->n ? k->n : 1))) return oom(err);
  memcpy(t->name, k->p, k->n);
  t->n = k->n;
  t->rev = h5tx__get_le64(vv.p);
  st->ntags++;
  return 0;
}

/* A tag record is copied forward only while it says what the tags table
 * says (the tag's value, or its removal): repair replays tag records in log
 * order, and an older value copied past a newer record would come back. */
static int tag_current(const cst *st, const void *payload, size_t n) {
  const char *name;
  size_t nlen;
  h5tx_rev rev;
  if (h5tx__ltag_parse(payload, n, &name, &nlen, &rev) != 0) return 0;
  for (size_t i = 0; i < st->ntags; i++)
    if (st->tags[i].n == nlen && memcmp(st->tags[i].name, name, nlen) == 0)
      return rev == st->tags[i].rev;
  return rev == 0;
}

/* Does `a` (an index entry's place) name record `b` (found in the log)?
 * Place and identity: records of no bytes (zero pages) share offsets. */
static int same_record(const h5tx__place *a, const h5tx__place *b) {
  return a->seg == b->seg && a->off == b->off && a->check == b->check && a->wid == b->wid &&
         a->key == b->key && a->enc == b->enc && a->stored == b->stored;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* A copy landed at `n`: the segments table will say the index took its
 * segment in up to there (FORMAT.md, "Recovery"). */
static void note_target(cst *st, const h5tx__place *n) {
  uint64_t end = align_up(n->off + n->stored, 4096);
  for (int i = 0; i < st->ntgt; i++)
    if (st->tgt[i].seg == n->seg) {
      if (end > st->tgt[i].end) st->tgt[i].end = end;
      return;
    }
  /* more targets than room (a copy of over 7 GiB): recovery reads the
   * rest after a reboot, as for any record not taken in */
  if (st->ntgt < (int)(sizeof st->tgt / sizeof st->tgt[0]))
    st->tgt[st->ntgt++] = (seg_end){n->seg, end};
}

/* Append the gathered records (one write id) and note their new places. */
static int group_flush(cst *st, h5tx_error *err) {
  if (st->ng == 0) return 0;
  if (st->ng > st->cgpl) {
    h5tx__place *np = realloc(st->gpl, st->ng * sizeof *np);
    if (!np) return oom(err);
    st->gpl = np;
    st->cgpl = st->ng;
  }
  h5tx__plog_rec *recs = malloc(st->ng * sizeof *recs);
  if (!recs) return oom(err);
  for (size_t i = 0; i < st->ng; i++) {
    recs[i] = st->g[i].r;
    recs[i].payload = recs[i].stored ? st->pay.p + st->g[i].poff : NULL;
  }
  int rc = h5tx__plog_append(st->s->log, st->gwid, recs, st->ng, st->gpl, err);
  free(recs);
  for (size_t i = 0; i < st->ng && rc == 0; i++) {
    const h5tx__place *o = &st->g[i].old, *n = &st->gpl[i];
    if (n->check != o->check || n->wid != o->wid || n->key != o->key || n->kind != o->kind) {
      rc = h5tx__err(err, H5TX_ECORRUPT,
                     "store %s: compaction: the record of segment %016" PRIx64 " offset %" PRIu64
                     " changed its identity when copied",
                     st->s->path, o->seg, o->off);
      break;
    }
    st->written += o->stored;
    note_target(st, n);
    if (o->kind == PLOG_PAGE) {
      for (size_t j = ent_find(st, o->seg, o->off);
           j < st->nents && st->ents[j].old.seg == o->seg && st->ents[j].old.off == o->off; j++) {
        /* a record of no bytes shares its offset with the next one */
        if (!same_record(&st->ents[j].old, o)) continue;
        st->ents[j].neu = *n;
        st->ents[j].moved = 1;
      }
    } else if (o->kind == PLOG_COMMIT) {
      if (h5tx__grow(&st->mc, &st->cmc, st->nmc, sizeof *st->mc, 64)) {
        rc = oom(err);
        break;
      }
      st->mc[st->nmc++] = (moved_commit){o->key, o->seg, o->off, n->seg, n->off};
    }
  }
  st->ng = 0;
  st->pay.n = 0;
  return rc;
}

/* Each record of a candidate segment: weigh it (what a copy would write,
 * whether a live writer may still commit records of it) or copy it. */
static int on_rec(void *arg, const h5tx__place *p, const void *payload, h5tx_error *err) {
  cst *st = arg;
  int copy = 0;
  switch (p->kind) {
  case PLOG_PAGE: {
    size_t i = ent_find(st, p->seg, p->off);
    for (; i < st->nents && st->ents[i].old.seg == p->seg && st->ents[i].old.off == p->off; i++)
      if (same_record(&st->ents[i].old, p)) copy = 1;
    if (!copy && st->leases && !wid_committed(st, p->wid)) st->pending = 1;
    break;
  }
  case PLOG_COMMIT:
  case PLOG_VOID:
  case PLOG_COLLECTED:
  case PLOG_CUT: copy = 1; break;
  case PLOG_TAG: copy = tag_current(st, payload, p->stored); break;
  default: st->unknown = 1; /* a newer h5tx's record: leave the segment */
  }
  if (!copy) return 0;
  if (!st->copying) {
    if (p->wid != st->est_wid || st->est_run == PLOG_MAX_ENTRIES) {
      st->est += PLOG_HDR;
      st->est_wid = p->wid;
      st->est_run = 0;
    }
    st->est_run++;
    st->est += p->kind == PLOG_PAGE && p->enc == PLOG_ENC_RAW ? align_up(p->stored, 4096)
                                                              : align_up(p->stored, 8);
    return 0;
  }
  int rc = 0;
  if (st->ng && (p->wid != st->gwid || st->ng == COPY_RECS || st->pay.n + p->stored > COPY_BYTES))
    rc = group_flush(st, err);
  if (rc) return rc;
  if (h5tx__grow(&st->g, &st->cg, st->ng, sizeof *st->g, 64)) return oom(err);
  grec *g = &st->g[st->ng];
  g->poff = st->pay.n;
  if (h5tx__buf_add(&st->pay, payload, p->stored)) return oom(err);
  g->r = (h5tx__plog_rec){.kind = p->kind,
                          .enc = p->enc,
                          .key = p->key,
                          .raw = p->raw,
                          .content = p->content,
                          .stored = p->stored};
  g->old = *p;
  st->gwid = p->wid;
  st->ng++;
  return 0;
}

/* ---- repointing ---------------------------------------------------------- */

typedef struct repoint_arg {
  cst *st;
  size_t from, to;   /* ents[from, to) */
  size_t cfrom, cto; /* mc[cfrom, cto) */
} repoint_arg;

static int repoint_page(h5tx__txn *t, const live_ent *e, h5tx_error *err) {
  h5tx__val v;
  int rc = h5tx__idx_get(t, IDX_PAGES, e->key, H5TX_PAGE_KEY, &v, err);
  if (rc == H5TX_ENOENT) return 0; /* dropped meanwhile */
  if (rc) return rc;
  h5tx__place cur;
  const char *why;
  if (h5tx__place_parse(v.p, v.n, &cur, &why) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "index table pages: %s", why);
  /* Only an entry that still names the old record moves. */
  if (!same_record(&cur, &e->old)) return 0;
  uint8_t val[H5TX_PLACE_VAL];
  h5tx__place_encode(val, &e->neu);
  if ((rc = h5tx__idx_put(t, IDX_PAGES, e->key, H5TX_PAGE_KEY, val, sizeof val, err))) return rc;
  return h5tx__dedupe_move(t, &e->old, &e->neu, err);
}

static int repoint_commit(h5tx__txn *t, const moved_commit *m, h5tx_error *err) {
  uint8_t ck[8];
  h5tx__be64(ck, m->rev);
  h5tx__val v;
  int rc = h5tx__idx_get(t, IDX_COMMITS, ck, 8, &v, err);
  if (rc == H5TX_ENOENT) return 0; /* a voided or rolled back record */
  if (rc) return rc;
  h5tx__commit2 c;
  if (h5tx__commit2_parse(v.p, v.n, &c) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: revision %" PRIu64 ": malformed",
                     m->rev);
  if (c.seg != m->oseg || c.off != m->ooff) return 0;
  uint8_t *copy = malloc(v.n);
  if (!copy) return oom(err);
  memcpy(copy, v.p, v.n);
  h5tx__le64(copy + 72, m->nseg);
  h5tx__le64(copy + 80, m->noff);
  rc = h5tx__idx_put(t, IDX_COMMITS, ck, 8, copy, v.n, err);
  free(copy);
  return rc;
}

static int repoint_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  repoint_arg *a = arg;
  int rc = 0;
  for (size_t i = a->from; i < a->to && rc == 0; i++)
    if (a->st->ents[i].moved) rc = repoint_page(t, &a->st->ents[i], err);
  for (size_t i = a->cfrom; i < a->cto && rc == 0; i++)
    rc = repoint_commit(t, &a->st->mc[i], err);
  return rc;
}

static int repoint_all(cst *st, h5tx_error *err) {
  int rc = 0;
  for (size_t i = 0; i < st->nents && rc == 0; i += REPOINT_BATCH) {
    repoint_arg a = {st, i, i + REPOINT_BATCH < st->nents ? i + REPOINT_BATCH : st->nents, 0, 0};
    rc = h5tx__kv_write(st->s->kv, repoint_fn, &a, 1, err);
  }
  for (size_t i = 0; i < st->nmc && rc == 0; i += REPOINT_BATCH) {
    repoint_arg a = {st, 0, 0, i, i + REPOINT_BATCH < st->nmc ? i + REPOINT_BATCH : st->nmc};
    rc = h5tx__kv_write(st->s->kv, repoint_fn, &a, 1, err);
  }
  /* synced: the index never names a segment about to be deleted, even
   * after a power loss */
  return rc;
}

/* After repointing: does any entry still name a candidate? Then it stays
 * (an entry added since the scan, by a commit that reused a record). */
static int still_named(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  cst *st = arg;
  h5tx__place p;
  int rc = place_of(k, v, &p, err);
  if (rc) return rc;
  seginfo *si = p.enc == PLOG_ENC_EXTERNAL ? NULL : seg_find(st, p.seg);
  if (si) si->cand = 0;
  return 0;
}

static int commit_still_named(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  cst *st = arg;
  h5tx__val vv = *v;
  int rc = h5tx__idx_value(IDX_COMMITS, k, &vv, err);
  if (rc) return rc;
  h5tx__commit2 c;
  if (h5tx__commit2_parse(vv.p, vv.n, &c) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: a malformed record");
  seginfo *si = seg_find(st, c.seg);
  if (si) si->cand = 0;
  return 0;
}

/* The `segments` table after compaction: the copies' segments taken in
 * up to the last copy (never lowered), the deleted segments' entries
 * gone. */
static int segments_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  cst *st = arg;
  int rc = 0;
  for (int i = 0; i < st->ntgt && rc == 0; i++) {
    uint8_t k[8];
    h5tx__val v;
    h5tx__be64(k, st->tgt[i].seg);
    uint64_t end = st->tgt[i].end;
    int r = h5tx__idx_get(t, IDX_SEGMENTS, k, 8, &v, err);
    if (r == 0 && v.n >= 16 && h5tx__get_le64((const uint8_t *)v.p + 8) > end)
      end = h5tx__get_le64((const uint8_t *)v.p + 8);
    else if (r && r != H5TX_ENOENT)
      return r;
    rc = h5tx__segment_put(t, st->tgt[i].seg, 0, end, err);
  }
  for (size_t i = 0; i < st->nsegs && rc == 0; i++) {
    if (!st->segs[i].cand) continue;
    uint8_t k[8];
    h5tx__be64(k, st->segs[i].seg);
    rc = h5tx__kv_del(t, IDX_SEGMENTS, k, 8, err);
    if (rc == H5TX_ENOENT) rc = 0;
  }
  return rc;
}

/* Dedupe entries that name a record in a segment about to be deleted
 * and were not moved with a version (a record no version names: one
 * superseded by a later record of its page in the same write) go before
 * the segment does, so none names a record that is gone. */
typedef struct stale {
  cst *st;
  uint8_t (*keys)[H5TX_DEDUPE_KEY];
  size_t n, cap;
} stale;

static int note_stale(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  stale *sd = arg;
  h5tx__val vv = *v;
  int rc = h5tx__idx_value(IDX_DEDUPE, k, &vv, err);
  if (rc) return rc;
  if (k->n != H5TX_DEDUPE_KEY)
    return h5tx__err(err, H5TX_ECORRUPT, "index table dedupe: a key of %zu bytes", k->n);
  seginfo *si = seg_find(sd->st, h5tx__get_be64((const uint8_t *)k->p + 12));
  if (!si || !si->cand) return 0;
  if (h5tx__grow(&sd->keys, &sd->cap, sd->n, sizeof *sd->keys, 64)) return oom(err);
  memcpy(sd->keys[sd->n++], k->p, H5TX_DEDUPE_KEY);
  return 0;
}

typedef struct stale_arg {
  stale *sd;
  size_t from, to;
} stale_arg;

static int drop_stale_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  stale_arg *a = arg;
  for (size_t i = a->from; i < a->to; i++) {
    int rc = h5tx__kv_del(t, IDX_DEDUPE, a->sd->keys[i], H5TX_DEDUPE_KEY, err);
    if (rc && rc != H5TX_ENOENT) return rc;
  }
  return 0;
}

static int drop_stale(cst *st, h5tx_error *err) {
  stale sd = {st, NULL, 0, 0};
  int rc = h5tx__scan(st->s, IDX_DEDUPE, note_stale, &sd, err);
  for (size_t i = 0; i < sd.n && rc == 0; i += REPOINT_BATCH) {
    stale_arg a = {&sd, i, i + REPOINT_BATCH < sd.n ? i + REPOINT_BATCH : sd.n};
    rc = h5tx__kv_write(st->s->kv, drop_stale_fn, &a, 0, err);
  }
  free(sd.keys);
  return rc;
}

static void st_free(cst *st) {
  free(st->segs);
  free(st->ents);
  free(st->wids);
  for (size_t i = 0; i < st->ntags; i++)
    free(st->tags[i].name);
  free(st->tags);
  free(st->mc);
  free(st->g);
  free(st->gpl);
  h5tx__buf_free(&st->pay);
}

static int lease_alive(void *arg, const char *name, const h5tx__holder *h, int alive) {
  (void)name;
  (void)h;
  if (alive) *(int *)arg = 1;
  return 0;
}

/* Keep only the candidates among st->segs (a scan of segments that are no
 * candidate then finds nothing). */
static void keep_candidates(cst *st) {
  size_t j = 0;
  for (size_t i = 0; i < st->nsegs; i++)
    if (st->segs[i].cand) st->segs[j++] = st->segs[i];
  st->nsegs = j;
}

int h5tx__compact(h5tx_store *s, h5tx__compact_result *res, h5tx_error *err) {
  h5tx__compact_result r0;
  if (!res) res = &r0;
  memset(res, 0, sizeof *res);
  cst st = {.s = s};
  uint64_t *segs = NULL;
  size_t ns = 0;
  /* Segments this handle rolled past keep their lock until flushed. */
  int rc = h5tx__plog_flush(s->log, err);
  if (rc == 0) rc = h5tx__plog_segments(s->log, &segs, &ns, err);
  if (rc == 0 && ns && !(st.segs = calloc(ns, sizeof *st.segs))) rc = oom(err);
  for (size_t i = 0; i < ns && rc == 0; i++) {
    uint64_t size;
    int r = h5tx__plog_size(s->log, segs[i], &size, err);
    if (r == H5TX_ENOENT) continue;
    if (r)
      rc = r;
    else
      st.segs[st.nsegs++] = (seginfo){.seg = segs[i], .size = size};
  }
  free(segs);
  /* Live payload bytes per segment, from a full scan of `pages`. */
  if (rc == 0) rc = h5tx__scan(s, IDX_PAGES, count_live, &st, err);
  /* This handle's own open segment, when mostly dead, is sealed so that
   * it can be compacted too (a process that writes and collects keeps
   * one open segment for its whole life otherwise). */
  seginfo *own = rc ? NULL : seg_find(&st, h5tx__plog_open_segment(s->log));
  if (own && own->live * 2 < own->size) {
    rc = h5tx__plog_seal(s->log, err);
    /* the flush closes its descriptor, which held its lock */
    if (rc == 0) rc = h5tx__plog_flush(s->log, err);
    if (rc == 0) rc = h5tx__plog_size(s->log, own->seg, &own->size, err);
  }
  size_t ncand = 0;
  for (size_t i = 0; i < st.nsegs && rc == 0; i++) {
    seginfo *si = &st.segs[i];
    /* sealed or its writer dead: no process appends to it (this handle's
     * open segment is busy too) */
    si->cand = si->size > PLOG_HDR && si->live * 2 < si->size && !h5tx__plog_busy(s->log, si->seg);
    ncand += (size_t)si->cand;
  }
  if (rc || ncand == 0) goto out;
  keep_candidates(&st);
  /* Leases before commits: a write whose records are not committed when
   * the commits are read either committed before, or its writer held its
   * lease when the leases were read. */
  if (s->pins) h5tx__leases_scan(s->pins, lease_alive, &st.leases);
  if ((rc = h5tx__scan(s, IDX_COMMITS, note_wid, &st, err))) goto out;
  if (st.nwids) qsort(st.wids, st.nwids, sizeof *st.wids, cmp_u64);
  if ((rc = h5tx__scan(s, IDX_TAGS, note_tag, &st, err))) goto out;
  if ((rc = h5tx__scan(s, IDX_PAGES, note_ent, &st, err))) goto out;
  if (st.nents) qsort(st.ents, st.nents, sizeof *st.ents, cmp_ent);
  /* Weigh each candidate: a copy must free at least half of it. */
  ncand = 0;
  for (size_t i = 0; i < st.nsegs; i++) {
    seginfo *si = &st.segs[i];
    uint64_t end;
    int sealed;
    const char *why = NULL;
    h5tx_error serr = {0};
    st.copying = st.pending = st.unknown = 0;
    st.est = 0;
    st.est_wid = 0;
    st.est_run = PLOG_MAX_ENTRIES;
    int r = h5tx__plog_scan(s->log, si->seg, on_rec, &st, &end, &sealed, &why, &serr);
    if (r == H5TX_ENOMEM) {
      rc = h5tx__err(err, r, "%s", serr.msg);
      goto out;
    }
    si->cand = r == 0 && !st.pending && !st.unknown && st.est * 2 < si->size;
    ncand += (size_t)si->cand;
  }
  if (ncand == 0) goto out;
  keep_candidates(&st);
  /* Copies go to a new segment, numbered above every one compacted, so a
   * record copied forward stays after the records it followed (repair
   * takes the last record of a page of a write). */
  if ((rc = h5tx__plog_seal(s->log, err))) goto out;
  st.copying = 1;
  for (size_t i = 0; i < st.nsegs && rc == 0; i++) {
    uint64_t end;
    int sealed;
    const char *why = NULL;
    rc = h5tx__plog_scan(s->log, st.segs[i].seg, on_rec, &st, &end, &sealed, &why, err);
    if (rc == 0) rc = group_flush(&st, err);
  }
  /* Every copy is on disk before an index entry names it. */
  if (rc == 0) rc = h5tx__plog_flush(s->log, err);
  if (rc == 0) h5tx__test_stop("compact-copied");
  if (rc == 0) rc = repoint_all(&st, err);
  if (rc == 0) h5tx__test_stop("compact-repointed");
  /* The highest-numbered segment stays (when nothing was copied, a
   * candidate may be it): a new segment takes the next number after the
   * highest, and a number must never come back while a reader may hold a
   * descriptor of the deleted file under it. */
  if (rc == 0 && (rc = h5tx__plog_segments(s->log, &segs, &ns, err)) == 0) {
    if (ns) {
      seginfo *top = seg_find(&st, segs[ns - 1]);
      if (top) top->cand = 0;
    }
    free(segs);
  }
  /* Dedupe entries of candidates go first: from then on no commit shares
   * a record in one (a writer's shared record is checked against its
   * entry in the commit's transaction); then what still names a candidate
   * keeps it. */
  if (rc == 0) rc = drop_stale(&st, err);
  if (rc == 0) rc = h5tx__scan(s, IDX_PAGES, still_named, &st, err);
  if (rc == 0) rc = h5tx__scan(s, IDX_COMMITS, commit_still_named, &st, err);
  for (size_t i = 0; i < st.nsegs && rc == 0; i++) {
    if (!st.segs[i].cand) continue;
    if ((rc = h5tx__plog_delete(s->log, st.segs[i].seg, err))) break;
    res->segments++;
    res->bytes_deleted += st.segs[i].size;
  }
  if (rc == 0) rc = h5tx__kv_write(s->kv, segments_fn, &st, 0, err);
  res->bytes_written = st.written;
out:
  st_free(&st);
  return rc;
}
