/* gc.c - garbage collection (docs/FORMAT.md, "Garbage collection"): drop
 * every page version (and name and length entry) that no kept revision can
 * read, then give the space back by compacting mostly dead segments
 * (compact.c). Phase 1 flags the revisions to collect; a scan of the live
 * table between the phases spares any a snapshot pinned meanwhile; phase 2
 * marks the rest collected (a log record first, so repair rebuilds them
 * collected) and drops versions in batches of short index transactions,
 * so commits proceed between them. Runs of gc are serialised by an flock
 * on the live table file. */
#include "store.h"

#include "apply2.h"
#include "dedupe.h"
#include "compact.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

/* Versions one index transaction of phase 2 drops at most, and keys it
 * looks at at most (a sweep that drops little must not hold the writer
 * lock for a whole table either). */
#define GC_BATCH 4096
#define GC_VISIT 65536

typedef struct revset {
  h5tx_rev *v;
  size_t n, cap;
} revset;

static int revset_add(revset *r, h5tx_rev x) {
  if (h5tx__grow(&r->v, &r->cap, r->n, sizeof *r->v, 256)) return -1;
  r->v[r->n++] = x;
  return 0;
}

static int cmp_rev(const void *a, const void *b) {
  h5tx_rev x = *(const h5tx_rev *)a, y = *(const h5tx_rev *)b;
  return x < y ? -1 : x > y;
}

static void revset_sort(revset *r) {
  if (r->n == 0) return;
  qsort(r->v, r->n, sizeof *r->v, cmp_rev);
  size_t j = 0;
  for (size_t i = 0; i < r->n; i++)
    if (j == 0 || r->v[j - 1] != r->v[i]) r->v[j++] = r->v[i];
  r->n = j;
}

static int revset_has(const revset *r, h5tx_rev x) {
  return r->n && bsearch(&x, r->v, r->n, sizeof x, cmp_rev) != NULL;
}

/* Is there a kept revision k with lo <= k < hi? (`r` sorted) */
static int revset_any(const revset *r, h5tx_rev lo, h5tx_rev hi) {
  size_t a = 0, b = r->n;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (r->v[m] < lo)
      a = m + 1;
    else
      b = m;
  }
  return a < r->n && r->v[a] < hi;
}

static int oom(h5tx_error *err) { return h5tx__err(err, H5TX_ENOMEM, "out of memory"); }

/* Collect the pinned revisions; a pin that cannot be recorded must stop gc,
 * or it could drop what a live snapshot reads. */
typedef struct pin_collect {
  revset set;
  int oom;
} pin_collect;

static void pin_cb(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since_ns) {
  (void)pid;
  (void)since_ns;
  pin_collect *pc = arg;
  if (revset_add(&pc->set, rev)) pc->oom = 1;
}

/* Scan the live table into `pc` (sorted); H5TX_ENOMEM if a pin was lost. */
static int scan_pins(h5tx_store *s, pin_collect *pc, h5tx_error *err) {
  pc->set.n = 0;
  pc->oom = 0;
  h5tx__pins_scan(s->pins, pin_cb, pc);
  if (pc->oom) return h5tx__err(err, H5TX_ENOMEM, "out of memory reading the reader table");
  revset_sort(&pc->set);
  return 0;
}

/* When each file stopped being named: a file is readable from its creation
 * until the first revision at which no name means it (its removal, or the
 * removal or replacement of the name it was last renamed to); UINT64_MAX
 * while a name at head still means it. A file with no names entry at all
 * is read by no revision. Built from the names table before it is swept. */
typedef struct file_end {
  uint64_t fid;
  h5tx_rev end;
} file_end;

typedef struct file_ends {
  file_end *v;
  size_t n, cap;
} file_ends;

static int cmp_end(const void *a, const void *b) {
  const file_end *x = a, *y = b;
  if (x->fid != y->fid) return x->fid < y->fid ? -1 : 1;
  return x->end < y->end ? 1 : x->end > y->end ? -1 : 0; /* latest end first */
}

/* (file, revision) pairs sorted by file then revision: for `ends`, one per
 * file; for `origins`, the revisions at which copies read a file through
 * their origin (docs/FORMAT.md, "Origin"). */
static int cmp_pair(const void *a, const void *b) {
  const file_end *x = a, *y = b;
  if (x->fid != y->fid) return x->fid < y->fid ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

typedef struct gc_arg {
  h5tx_store *s;
  const h5tx_gc_opts *o;
  h5tx_rev drop_lo, drop_hi; /* h5tx_gc_drop: collect these only (0: o's rules) */
  h5tx_rev flushed;          /* every page log record up to this head is on disk */
  uint64_t cut_fid;          /* h5tx_gc_file: sweep this file's versions only, */
  h5tx_rev cut;              /* dropping those no revision >= cut reads */
  pin_collect pins;
  revset tags, doomed;
  h5tx_gc_result res;
  /* phase 2 */
  h5tx_rev head;   /* head when phase 2 began: later versions are kept */
  revset kept;     /* revisions not collected */
  file_ends ends;  /* per file: the revision from which no name means it */
  file_ends origs; /* per file: revisions a copy reads it at */
} gc_arg;

/* Set and clear flags of the commit record of `rev`. */
static int set_flags(h5tx__txn *t, h5tx_rev rev, uint32_t set, uint32_t clear, h5tx_error *err) {
  uint8_t key[8];
  h5tx__be64(key, rev);
  h5tx__val v;
  int rc = h5tx__idx_get(t, IDX_COMMITS, key, 8, &v, err);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: no record of revision %" PRIu64,
                     rev);
  if (rc) return rc;
  h5tx__commit2 c;
  if (h5tx__commit2_parse(v.p, v.n, &c) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: revision %" PRIu64 ": malformed",
                     rev);
  return h5tx__commit2_flags(t, rev, (c.flags & ~clear) | set, err);
}

/* Call fn for every commit record not yet collected, oldest first. */
typedef int (*commit_fn)(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit2 *cr,
                         h5tx_error *err);
static int each_live_commit(gc_arg *a, h5tx__txn *t, commit_fn fn, void *arg, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_COMMITS, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err)) {
    h5tx__commit2 cr;
    if ((rc = h5tx__idx_value(IDX_COMMITS, &k, &v, err))) break;
    if (k.n != 8 || h5tx__commit2_parse(v.p, v.n, &cr) != 0) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed commit record", a->s->path);
      break;
    }
    h5tx_rev r = h5tx__get_be64(k.p);
    if (cr.flags & H5TX_COMMIT_COLLECTED) continue;
    if ((rc = fn(arg, t, r, &cr, err))) break;
  }
  h5tx__kv_cursor_close(c);
  return rc == H5TX_ENOENT ? 0 : rc;
}

/* Phase 1: choose the revisions to collect and flag them "being collected". */
typedef struct choose_arg {
  gc_arg *a;
  h5tx_rev head;
  h5tx_rev durable; /* every revision from it on is kept */
} choose_arg;

static int choose(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit2 *cr, h5tx_error *err) {
  choose_arg *ca = arg;
  gc_arg *a = ca->a;
  uint64_t keep_last = a->o->keep_last;
  /* The newest keep_last revisions: head - r < keep_last (r + keep_last
   * could wrap for a huge count and keep nothing). */
  /* A revision above `durable` may be rolled back by recovery after a power
   * cut, and recovery then makes an older one head: every revision from
   * durable on stays readable (core_powerloss: a head that was collected
   * could be pinned by no one). */
  int keep = a->drop_hi ? r >= ca->head || r < a->drop_lo || r > a->drop_hi
                        : r >= ca->head || keep_last == 0 || ca->head - r < keep_last ||
                              (a->o->keep_since_ns && cr->time_ns >= a->o->keep_since_ns);
  keep = keep || r >= ca->durable || revset_has(&a->tags, r);
  int pinned = !keep && revset_has(&a->pins.set, r);
  if (pinned) a->res.revisions_pinned++;
  uint32_t flags = cr->flags & ~H5TX_COMMIT_COLLECTING;
  if (!keep && !pinned) {
    if (revset_add(&a->doomed, r)) return oom(err);
    flags |= H5TX_COMMIT_COLLECTING;
  }
  /* Rewriting a record the walk's cursor stands on is safe in LMDB: the
   * cursor is adjusted and goes on to the next key. */
  if (flags != cr->flags && !a->o->dry_run)
    return set_flags(t, r, flags & H5TX_COMMIT_COLLECTING, ~flags & H5TX_COMMIT_COLLECTING, err);
  return 0;
}

static int phase1(h5tx__txn *t, void *arg, h5tx_error *err) {
  gc_arg *a = arg;
  a->doomed.n = 0;
  a->tags.n = 0;
  a->res.revisions_pinned = 0;
  choose_arg ca = {a, 0, 0};
  int rc = h5tx__meta2_get(t, "head", &ca.head, err);
  if (rc == 0) rc = h5tx__meta2_get(t, "durable", &ca.durable, err);
  if (rc == H5TX_ENOENT) {
    ca.durable = 0;
    rc = 0;
  }
  if (rc) return rc;
  /* gc_run flushed every segment after reading a->flushed: the revisions up
   * to it are durable now (a dry run takes that for done) */
  if (a->flushed > ca.durable) {
    ca.durable = a->flushed < ca.head ? a->flushed : ca.head;
    if (!a->o->dry_run && (rc = h5tx__meta2_put(t, "durable", ca.durable, err))) return rc;
  }
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_TAGS, &c, err))) return rc;
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err)) {
    if ((rc = h5tx__idx_value(IDX_TAGS, &k, &v, err))) break;
    if (v.n != 8) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: tag '%.*s': a value of %zu bytes", a->s->path,
                     (int)k.n, (const char *)k.p, v.n);
      break;
    }
    if (revset_add(&a->tags, h5tx__get_le64(v.p))) rc = oom(err);
  }
  h5tx__kv_cursor_close(c);
  if (rc != H5TX_ENOENT) return rc;
  revset_sort(&a->tags);
  return each_live_commit(a, t, choose, &ca, err);
}

static int ends_load(h5tx__txn *t, gc_arg *a, h5tx_error *err) {
  file_ends *fe = &a->ends;
  fe->n = 0;
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_NAMES, &c, err);
  if (rc) return rc;
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  h5tx_rev upper = UINT64_MAX;
  uint8_t name[H5TX_NAME_KEY_MAX];
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err)) {
    if ((rc = h5tx__idx_value(IDX_NAMES, &k, &v, err))) break;
    if (k.n < 9 || k.n > sizeof name || v.n != 8) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed names entry in gc", a->s->path);
      break;
    }
    /* Entries of one name sort together, newest first: each holds from its
     * revision up to the next newer one's. */
    if (!prev || prev_len != k.n - 8 || memcmp(prev, k.p, prev_len) != 0) {
      memcpy(name, k.p, k.n - 8);
      prev = name;
      prev_len = k.n - 8;
      upper = UINT64_MAX;
    }
    h5tx_rev r = h5tx__key_rev(&k);
    uint64_t fid = h5tx__get_le64(v.p);
    if (fid) {
      if (h5tx__grow(&fe->v, &fe->cap, fe->n, sizeof *fe->v, 256)) {
        rc = oom(err);
        break;
      }
      fe->v[fe->n++] = (file_end){fid, upper};
    }
    upper = r;
  }
  h5tx__kv_cursor_close(c);
  if (rc != H5TX_ENOENT) return rc;
  /* One entry per file: its latest end. */
  if (fe->n) qsort(fe->v, fe->n, sizeof *fe->v, cmp_end);
  size_t j = 0;
  for (size_t i = 0; i < fe->n; i++)
    if (j == 0 || fe->v[j - 1].fid != fe->v[i].fid) fe->v[j++] = fe->v[i];
  fe->n = j;
  return 0;
}

/* The revisions at which copies read their origin files. */
static int origins_load(h5tx__txn *t, gc_arg *a, h5tx_error *err) {
  file_ends *o = &a->origs;
  o->n = 0;
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_FILES, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err)) {
    h5tx__file2 f;
    if ((rc = h5tx__idx_value(IDX_FILES, &k, &v, err))) break;
    if (k.n != 8 || h5tx__file2_parse(v.p, v.n, &f) != 0) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed files entry in gc", a->s->path);
      break;
    }
    if (!f.origin_fid) continue;
    if (h5tx__grow(&o->v, &o->cap, o->n, sizeof *o->v, 16)) {
      rc = oom(err);
      break;
    }
    o->v[o->n++] = (file_end){f.origin_fid, f.origin_rev};
  }
  h5tx__kv_cursor_close(c);
  if (rc != H5TX_ENOENT) return rc;
  if (o->n) qsort(o->v, o->n, sizeof *o->v, cmp_pair);
  return 0;
}

/* First index of file `fid` in `fe` (sorted by file). */
static size_t pairs_first(const file_ends *fe, uint64_t fid) {
  size_t lo = 0, hi = fe->n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (fe->v[m].fid < fid)
      lo = m + 1;
    else
      hi = m;
  }
  return lo;
}

/* The revision from which file `fid` is named no more (0: never named). */
static h5tx_rev ends_get(const file_ends *fe, uint64_t fid) {
  size_t i = pairs_first(fe, fid);
  return i < fe->n && fe->v[i].fid == fid ? fe->v[i].end : 0;
}

/* Does a copy read file `fid` at a revision in [lo, hi)? */
static int origin_any(const file_ends *o, uint64_t fid, h5tx_rev lo, h5tx_rev hi) {
  for (size_t i = pairs_first(o, fid); i < o->n && o->v[i].fid == fid; i++)
    if (o->v[i].end >= lo && o->v[i].end < hi) return 1;
  return 0;
}

/* ---- phase 2: sweep in batches ------------------------------------------ */

/* Where the sweep stands: the table, the next key to look at, and the
 * group (page / file / name) of the last key looked at with the upper end
 * of its range. Copied at the start of each batch transaction and kept only
 * when it commits, so a replayed transaction starts from the same place. */
typedef struct sweep_pos {
  int table; /* IDX_PAGES, IDX_LENGTHS, IDX_NAMES; -1: done */
  uint8_t from[H5TX_NAME_KEY_MAX];
  size_t from_len; /* 0: the table's first key */
  uint8_t prev[H5TX_NAME_KEY_MAX];
  size_t prev_len;
  int have_prev;
  h5tx_rev upper;
  uint64_t versions, bytes; /* page versions dropped and their stored bytes */
} sweep_pos;

typedef struct sweep_arg {
  gc_arg *a;
  sweep_pos cur;  /* as of the last committed batch */
  sweep_pos work; /* the batch running */
  int dry;
  size_t limit, visit; /* versions dropped, keys seen per transaction */
} sweep_arg;

static size_t group_len(int table, size_t klen) {
  return table == IDX_PAGES ? 16 : table == IDX_LENGTHS ? 8 : klen - 8;
}

/* Sweep from w->from on: drop what no kept revision reads, at most
 * sa->limit versions, then stop with w->from at the next key. */
static int sweep_run(h5tx__txn *t, sweep_arg *sa, h5tx_error *err) {
  gc_arg *a = sa->a;
  sweep_pos *w = &sa->work;
  size_t dropped = 0, visited = 0;
  while (w->table >= 0) {
    int table = w->table;
    h5tx__cur *c;
    int rc = h5tx__kv_cursor(t, table, &c, err);
    if (rc) return rc;
    h5tx__val k, v;
    uint8_t fpre[8];
    h5tx__be64(fpre, a->cut_fid);
    if (a->cut_fid && !w->from_len) { /* one file: from its first key */
      memcpy(w->from, fpre, 8);
      w->from_len = 8;
    }
    rc = h5tx__kv_seek(c, w->from_len ? w->from : NULL, w->from_len, &k, &v, err);
    while (rc == 0) {
      if (a->cut_fid && (k.n < 8 || memcmp(k.p, fpre, 8) != 0)) {
        rc = H5TX_ENOENT; /* past the file: this table is done */
        break;
      }
      if ((dropped >= sa->limit || visited >= sa->visit) && k.n <= sizeof w->from) {
        /* the next batch starts here */
        memcpy(w->from, k.p, k.n);
        w->from_len = k.n;
        h5tx__kv_cursor_close(c);
        return 0;
      }
      visited++;
      h5tx__val val = v;
      if ((rc = h5tx__idx_value(table, &k, &val, err))) break;
      size_t min = table == IDX_PAGES ? H5TX_PAGE_KEY : table == IDX_LENGTHS ? H5TX_LEN_KEY : 9;
      if (k.n < min || k.n > sizeof w->prev || (table == IDX_PAGES) != (k.n == H5TX_PAGE_KEY) ||
          (table == IDX_LENGTHS && k.n != H5TX_LEN_KEY)) {
        rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed key in table %s in gc", a->s->path,
                       h5tx__idx_table(table));
        break;
      }
      size_t g = group_len(table, k.n);
      h5tx_rev r = h5tx__key_rev(&k);
      int files = table != IDX_NAMES;
      uint64_t fid = files ? h5tx__get_be64(k.p) : 0;
      if (!w->have_prev || w->prev_len != g || memcmp(w->prev, k.p, g) != 0) {
        memcpy(w->prev, k.p, g);
        w->prev_len = g;
        w->have_prev = 1;
        /* The newest version of a group: live until its file's end. */
        w->upper = files && !a->cut_fid ? ends_get(&a->ends, fid) : UINT64_MAX;
      }
      /* A version committed after phase 2 began is never dropped: the
       * kept set does not know its revision. */
      int keep = a->cut_fid ? w->upper > a->cut
                            : r > a->head || revset_any(&a->kept, r, w->upper) ||
                                  (files && origin_any(&a->origs, fid, r, w->upper));
      w->upper = r;
      if (!keep) {
        if (table == IDX_PAGES) {
          h5tx__place p;
          const char *why = NULL;
          if (h5tx__place_parse(val.p, val.n, &p, &why) != 0) {
            rc =
                h5tx__err(err, H5TX_ECORRUPT,
                          "store %s: file id %" PRIu64 " page %" PRIu64 " revision %" PRIu64 ": %s",
                          a->s->path, fid, h5tx__get_be64((const uint8_t *)k.p + 8), r, why);
            break;
          }
          w->versions++;
          w->bytes += p.stored;
          /* the record's dedupe entry counts one version less (and goes
           * with the last version naming it) */
          if (!sa->dry) {
            int d = h5tx__dedupe_unref(t, &p, err);
            if (d) {
              rc = d;
              break;
            }
          }
        }
        if (!sa->dry) {
          if ((rc = h5tx__kv_cursor_del(c, err))) break;
          dropped++;
        }
      }
      rc = h5tx__kv_next(c, &k, &v, err);
    }
    h5tx__kv_cursor_close(c);
    if (rc != H5TX_ENOENT) return rc;
    /* the next table */
    w->table = table == IDX_PAGES     ? IDX_LENGTHS
               : table == IDX_LENGTHS ? (a->cut_fid ? -1 : IDX_NAMES)
                                      : -1;
    w->from_len = 0;
    w->have_prev = 0;
  }
  return 0;
}

static int sweep_batch(h5tx__txn *t, void *arg, h5tx_error *err) {
  sweep_arg *sa = arg;
  sa->work = sa->cur;
  return sweep_run(t, sa, err);
}

/* Before the sweep: which revisions stay readable, file ends, origins. */
typedef struct prep_arg {
  gc_arg *a;
  uint64_t collected;
} prep_arg;

static int note_kept(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit2 *cr,
                     h5tx_error *err) {
  (void)t;
  (void)cr;
  prep_arg *pa = arg;
  if (revset_has(&pa->a->doomed, r)) {
    pa->collected++;
    return 0;
  }
  return revset_add(&pa->a->kept, r) ? oom(err) : 0;
}

static int spare(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit2 *cr, h5tx_error *err) {
  gc_arg *a = arg;
  if (revset_has(&a->doomed, r)) return 0;
  /* Revisions a pin spared become readable again. */
  if (cr->flags & H5TX_COMMIT_COLLECTING) return set_flags(t, r, 0, H5TX_COMMIT_COLLECTING, err);
  return 0;
}

/* Phase 2's first transaction: un-flag what a pin spared, flag the doomed
 * revisions collected (their log records are flushed already) and read
 * what the sweep needs, all as of one snapshot. `dry`: no changes. */
static int prep(h5tx__txn *t, gc_arg *a, int dry, h5tx_error *err) {
  prep_arg pa = {a, 0};
  a->kept.n = 0;
  int rc = h5tx__meta2_get(t, "head", &a->head, err);
  if (rc == 0 && !dry) rc = each_live_commit(a, t, spare, a, err);
  if (rc == 0) rc = each_live_commit(a, t, note_kept, &pa, err);
  /* kept is ascending already (keys are big-endian revisions). */
  for (size_t i = 0; i < a->doomed.n && rc == 0 && !dry; i++)
    rc = set_flags(t, a->doomed.v[i], H5TX_COMMIT_COLLECTED, H5TX_COMMIT_COLLECTING, err);
  if (rc == 0) rc = ends_load(t, a, err);
  if (rc == 0) rc = origins_load(t, a, err);
  a->res.revisions_collected = pa.collected;
  return rc;
}

static int prep_fn(h5tx__txn *t, void *arg, h5tx_error *err) { return prep(t, arg, 0, err); }

/* A collected record in the log for every doomed revision, flushed, so
 * that `h5tx repair` rebuilds them collected (FORMAT.md, kind 6). */
static int log_collected(gc_arg *a, h5tx_error *err) {
  if (a->doomed.n == 0) return 0;
  h5tx__plog_rec *r = calloc(a->doomed.n, sizeof *r);
  h5tx__place *pl = calloc(a->doomed.n, sizeof *pl);
  int rc = 0;
  if (!r || !pl)
    rc = oom(err);
  else {
    for (size_t i = 0; i < a->doomed.n; i++)
      r[i] = (h5tx__plog_rec){.kind = PLOG_COLLECTED, .enc = PLOG_ENC_ZERO, .key = a->doomed.v[i]};
    rc = h5tx__plog_append(a->s->log, 0, r, a->doomed.n, pl, err);
    if (rc == 0) rc = h5tx__plog_flush(a->s->log, err);
  }
  free(r);
  free(pl);
  return rc;
}

static int phase2(gc_arg *a, h5tx_error *err) {
  int sync = a->s->durability == H5TX_SYNC;
  int rc = log_collected(a, err);
  if (rc == 0) rc = h5tx__kv_write(a->s->kv, prep_fn, a, sync, err);
  sweep_arg sa = {.a = a, .limit = GC_BATCH, .visit = GC_VISIT};
  sa.cur.table = IDX_PAGES;
  /* Always swept, even when nothing new was collected: a gc that stopped
   * half-way left versions of collected revisions behind. */
  while (rc == 0 && sa.cur.table >= 0) {
    rc = h5tx__kv_write(a->s->kv, sweep_batch, &sa, sync, err);
    if (rc == 0) sa.cur = sa.work;
    /* between two batches no transaction is held: commits go on */
    if (rc == 0 && sa.cur.table >= 0) h5tx__test_stop("gc-batch");
  }
  a->res.versions_freed = sa.cur.versions;
  a->res.bytes_freed = sa.cur.bytes;
  return rc;
}

/* Phase 2 for a dry run: the same choices and sweep in a read transaction. */
static int dry_phase2(gc_arg *a, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(a->s->kv, &t, err);
  if (rc) return rc;
  sweep_arg sa = {.a = a, .dry = 1, .limit = SIZE_MAX, .visit = SIZE_MAX};
  sa.work.table = IDX_PAGES;
  rc = prep(t, a, 1, err);
  if (rc == 0) rc = sweep_run(t, &sa, err);
  h5tx__kv_done(t);
  a->res.versions_freed = sa.work.versions;
  a->res.bytes_freed = sa.work.bytes;
  return rc;
}

/* Runs of gc are serialised by an flock on the live table (a backup takes
 * it too). 0 with *fd holding it (close it to let go), or an error. */
static int gc_lock(h5tx_store *s, int *fd, h5tx_error *err) {
  char lp[4200];
  snprintf(lp, sizeof lp, "%s/" H5TX__PINS_FILE, s->path);
  int lock = open(lp, O_RDWR | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    int e = errno;
    if (lock >= 0) close(lock);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: locking for gc: %s", s->path,
                     strerror(e));
  }
  *fd = lock;
  return 0;
}

/* Read head, then flush every segment of the page log (other processes'
 * too: their nosync commits' records), so that every revision up to that
 * head has its records on disk and may count as durable (phase 1). A dry
 * run flushes nothing and takes head as flushed. */
static int flush_all(h5tx_store *s, h5tx_rev *flushed, int dry, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  rc = h5tx__meta2_get(t, "head", flushed, err);
  h5tx__kv_done(t);
  if (rc || dry) return rc;
  uint64_t *segs = NULL;
  size_t ns = 0;
  if ((rc = h5tx__plog_flush(s->log, err)) || (rc = h5tx__plog_segments(s->log, &segs, &ns, err)))
    return rc;
  for (size_t i = 0; i < ns && rc == 0; i++) {
    rc = h5tx__plog_sync_segment(s->log, segs[i], err);
    if (rc == H5TX_ENOENT) rc = 0; /* compacted away meanwhile */
  }
  free(segs);
  return rc;
}

static int gc_run(h5tx_store *s, const h5tx_gc_opts *opts, h5tx_rev drop_lo, h5tx_rev drop_hi,
                  h5tx_gc_result *out, h5tx_error *err) {
  if (out) memset(out, 0, sizeof *out);
  if (s->read_only && !opts->dry_run)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot collect garbage",
                     s->path);
  if (!s->pins)
    return h5tx__err(err, H5TX_EROFS, "store %s: no reader table; cannot collect safely", s->path);
  int lock, rc = gc_lock(s, &lock, err);
  if (rc) return rc;
  gc_arg a = {.s = s, .o = opts, .drop_lo = drop_lo, .drop_hi = drop_hi};
  rc = scan_pins(s, &a.pins, err);
  if (rc == 0) rc = flush_all(s, &a.flushed, opts->dry_run, err);
  h5tx__test_stop("gc-phase1");
  if (rc == 0 && opts->dry_run) {
    h5tx__txn *t;
    if ((rc = h5tx__kv_read(s->kv, &t, err)) == 0) {
      rc = phase1(t, &a, err);
      h5tx__kv_done(t);
    }
    if (rc == 0) rc = dry_phase2(&a, err);
  } else if (rc == 0) {
    rc = h5tx__kv_write(s->kv, phase1, &a, 0, err);
    /* Pins published before phase 1 committed are visible now. */
    if (rc == 0) rc = scan_pins(s, &a.pins, err);
    if (rc == 0) {
      size_t j = 0;
      for (size_t i = 0; i < a.doomed.n; i++) {
        if (revset_has(&a.pins.set, a.doomed.v[i]))
          a.res.revisions_pinned++;
        else
          a.doomed.v[j++] = a.doomed.v[i];
      }
      a.doomed.n = j;
      revset_sort(&a.doomed);
      h5tx__test_stop("gc-phase2");
      /* Revisions spared by a pin are un-flagged by phase 2: they open
       * again, and the next gc reconsiders them. */
      rc = phase2(&a, err);
    }
    /* Then the space: mostly dead segments copied forward and deleted. */
    if (rc == 0 && (rc = h5tx__compact(s, NULL, err)) != 0 && err) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      h5tx__err(err, rc,
                "store %s: gc collected %" PRIu64 " revision(s) and dropped %" PRIu64
                " page version(s), then compacting the page log failed: %s",
                s->path, a.res.revisions_collected, a.res.versions_freed, why);
    }
  }
  flock(lock, LOCK_UN);
  close(lock);
  if (rc && err && strncmp(err->msg, "store ", 6) != 0) {
    /* the index's and the log's own messages name a table or a segment */
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, rc, "store %s: gc: %s", s->path, why);
  }
  if (rc == 0 && out) *out = a.res;
  free(a.pins.set.v);
  free(a.tags.v);
  free(a.doomed.v);
  free(a.kept.v);
  free(a.ends.v);
  free(a.origs.v);
  return rc;
}

int h5tx_gc(h5tx_store *s, const h5tx_gc_opts *opts, h5tx_gc_result *out, h5tx_error *err) {
  h5tx_gc_opts def = {0, 0, 0};
  return gc_run(s, opts ? opts : &def, 0, 0, out, err);
}

int h5tx_gc_drop(h5tx_store *s, h5tx_rev from, h5tx_rev to, int dry_run, h5tx_gc_result *out,
                 h5tx_error *err) {
  if (out) memset(out, 0, sizeof *out);
  if (from == 0 || to < from || to == H5TX_HEAD)
    return h5tx__err(err, H5TX_EINVAL,
                     "store %s: gc: a range of revisions to drop goes from 1 or more up to a "
                     "revision at or above it (not %llu..%llu)",
                     s->path, (unsigned long long)from, (unsigned long long)to);
  h5tx_gc_opts o = {0, 0, dry_run};
  return gc_run(s, &o, from, to, out, err);
}

/* ---- one file's history (h5tx_gc_file) ------------------------------------ */

typedef struct file_cut {
  gc_arg *a;
  const char *name;
  uint64_t keep;
  uint64_t fid;
  h5tx_rev head, cut, old_cut, durable;
  h5tx__file2 fr;
  h5tx__buf rec; /* the files record, copied */
} file_cut;

/* Where the cut goes: the keep-th newest change of the file (its length
 * entries: every commit that changes a file writes one), lowered to the
 * oldest tag and the oldest live reader below it. */
static int choose_cut(h5tx__txn *t, file_cut *fc, h5tx_error *err) {
  gc_arg *a = fc->a;
  int rc = h5tx__meta2_get(t, "head", &fc->head, err);
  if (rc == 0) rc = h5tx__name_lookup(t, fc->name, fc->head, &fc->fid, NULL, err);
  if (rc == H5TX_ENOENT || (rc == 0 && !fc->fid))
    return h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at head (revision %llu)", a->s->path,
                     fc->name, (unsigned long long)fc->head);
  if (rc) return rc;
  uint8_t fk[8];
  h5tx__val v;
  h5tx__be64(fk, fc->fid);
  if ((rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err))) return rc;
  if (h5tx__file2_parse(v.p, v.n, &fc->fr) != 0)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s': malformed file record", a->s->path,
                     fc->name);
  fc->rec.n = 0;
  if (h5tx__buf_add(&fc->rec, v.p, v.n)) return oom(err);
  h5tx__file2_parse(fc->rec.p, fc->rec.n, &fc->fr); /* pointing into the copy */
  fc->old_cut = fc->fr.cut;
  /* its changes, newest first: lengths keys (fid, ~rev) */
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_LENGTHS, &c, err))) return rc;
  h5tx__val k;
  uint64_t n = 0;
  fc->cut = 0;
  int r = h5tx__kv_seek(c, fk, 8, &k, &v, err);
  while (r == 0 && k.n == H5TX_LEN_KEY && memcmp(k.p, fk, 8) == 0) {
    if (++n == fc->keep) {
      fc->cut = h5tx__key_rev(&k);
      break;
    }
    r = h5tx__kv_next(c, &k, &v, err);
  }
  h5tx__kv_cursor_close(c);
  if (r && r != H5TX_ENOENT) return r;
  /* revisions above durable may be rolled back by recovery (phase1):
   * the file must stay readable at whatever head that leaves */
  h5tx_rev durable = 0;
  if ((r = h5tx__meta2_get(t, "durable", &durable, err)) && r != H5TX_ENOENT) return r;
  if (a->flushed > durable) durable = a->flushed < fc->head ? a->flushed : fc->head;
  fc->durable = durable;
  if (fc->cut > durable) fc->cut = durable;
  for (size_t i = 0; fc->cut && i < a->tags.n; i++)
    if (a->tags.v[i] < fc->cut) fc->cut = a->tags.v[i];
  for (size_t i = 0; fc->cut && i < a->pins.set.n; i++)
    if (a->pins.set.v[i] < fc->cut) fc->cut = a->pins.set.v[i];
  if (fc->cut <= fc->old_cut) fc->cut = fc->old_cut; /* never moved back */
  return 0;
}

static int tags_of(void *arg, const char *name, h5tx_rev rev) {
  (void)name;
  return revset_add(arg, rev) ? H5TX_ENOMEM : 0;
}

static int cut_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  file_cut *fc = arg;
  h5tx__buf b = {0};
  int rc = h5tx__file2_recut(&b, &fc->fr, fc->cut) ? oom(err) : 0;
  uint8_t fk[8];
  h5tx__be64(fk, fc->fid);
  if (rc == 0) rc = h5tx__idx_put(t, IDX_FILES, fk, 8, b.p, b.n, err);
  h5tx__buf_free(&b);
  h5tx_rev d = 0;
  if (rc == 0 && (rc = h5tx__meta2_get(t, "durable", &d, err)) == H5TX_ENOENT) rc = 0;
  if (rc == 0 && fc->durable > d) rc = h5tx__meta2_put(t, "durable", fc->durable, err);
  return rc;
}

int h5tx_gc_file(h5tx_store *s, const char *name, uint64_t keep_last, int dry_run, h5tx_rev *cut,
                 h5tx_gc_result *out, h5tx_error *err) {
  if (out) memset(out, 0, sizeof *out);
  if (cut) *cut = 0;
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  if (keep_last == 0)
    return h5tx__err(err, H5TX_EINVAL, "store %s: gc of '%s': keep at least its newest version",
                     s->path, name);
  if (s->read_only && !dry_run)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot collect garbage",
                     s->path);
  if (!s->pins)
    return h5tx__err(err, H5TX_EROFS, "store %s: no reader table; cannot collect safely", s->path);
  int lock;
  if ((rc = gc_lock(s, &lock, err))) return rc;
  h5tx_gc_opts o = {0, 0, dry_run};
  gc_arg a = {.s = s, .o = &o};
  file_cut fc = {.a = &a, .name = name, .keep = keep_last};
  rc = scan_pins(s, &a.pins, err);
  if (rc == 0) rc = flush_all(s, &a.flushed, dry_run, err);
  if (rc == 0 && h5tx_tags(s, tags_of, &a.tags, err) != 0) rc = err ? err->code : H5TX_ENOMEM;
  if (rc == 0) revset_sort(&a.tags);
  h5tx__txn *t;
  if (rc == 0 && (rc = h5tx__kv_read(s->kv, &t, err)) == 0) {
    rc = choose_cut(t, &fc, err);
    h5tx__kv_done(t);
  }
  a.cut_fid = fc.fid;
  a.cut = fc.cut;
  int sync = s->durability == H5TX_SYNC;
  sweep_arg sa = {.a = &a,
                  .dry = dry_run,
                  .limit = dry_run ? SIZE_MAX : GC_BATCH,
                  .visit = dry_run ? SIZE_MAX : GC_VISIT};
  if (rc == 0 && fc.cut && dry_run) {
    sa.work.table = IDX_PAGES;
    if ((rc = h5tx__kv_read(s->kv, &t, err)) == 0) {
      rc = sweep_run(t, &sa, err);
      h5tx__kv_done(t);
    }
    sa.cur = sa.work;
  } else if (rc == 0 && fc.cut) {
    /* the cut in the log, flushed, before the index has it (repair) */
    if (fc.cut > fc.old_cut) {
      uint8_t pl[16];
      h5tx__le64(pl, fc.fid);
      h5tx__le64(pl + 8, fc.cut);
      h5tx__plog_rec r = {.kind = PLOG_CUT,
                          .enc = PLOG_ENC_RAW,
                          .key = fc.fid,
                          .raw = 16,
                          .payload = pl,
                          .stored = 16};
      h5tx__place at;
      rc = h5tx__plog_append(s->log, 0, &r, 1, &at, err);
      if (rc == 0) rc = h5tx__plog_flush(s->log, err);
      if (rc == 0) rc = h5tx__kv_write(s->kv, cut_fn, &fc, sync, err);
    }
    /* A snapshot that looked the file up before the cut may read it on:
     * pins are published before a snapshot looks anything up, so the
     * versions of every revision held now stay. */
    a.pins.set.n = 0;
    if (rc == 0) rc = scan_pins(s, &a.pins, err);
    for (size_t i = 0; rc == 0 && i < a.pins.set.n; i++)
      if (a.pins.set.v[i] < a.cut) a.cut = a.pins.set.v[i];
    /* then its versions that no revision from the cut on reads, in
     * batches (also when the cut stands already: a gc stopped half-way) */
    sa.cur.table = IDX_PAGES;
    while (rc == 0 && sa.cur.table >= 0) {
      rc = h5tx__kv_write(s->kv, sweep_batch, &sa, sync, err);
      if (rc == 0) sa.cur = sa.work;
    }
    if (rc == 0) rc = h5tx__compact(s, NULL, err);
  }
  flock(lock, LOCK_UN);
  close(lock);
  if (rc == 0 && out) {
    out->versions_freed = sa.cur.versions;
    out->bytes_freed = sa.cur.bytes;
  }
  if (rc == 0 && cut) *cut = fc.cut;
  h5tx__buf_free(&fc.rec);
  free(a.pins.set.v);
  free(a.tags.v);
  return rc;
}
