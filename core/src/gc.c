/* gc.c - garbage collection: drop every page version (and name and length
 * entry) that no kept revision can read. Two write transactions with a scan
 * of the reader table between them, so a snapshot that checked its revision
 * is never collected under it (docs/FORMAT.md, "The reader table"). Runs of
 * gc are serialised by an flock on the reader table file. */
#include "store.h"

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

typedef struct revset {
  h5tx_rev *v;
  size_t n, cap;
} revset;

static int revset_add(revset *r, h5tx_rev x) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    h5tx_rev *v = realloc(r->v, cap * sizeof *v);
    if (!v) return -1;
    r->v = v;
    r->cap = cap;
  }
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

/* Scan the reader table into `pc` (sorted); H5TX_ENOMEM if a pin was lost. */
static int scan_pins(h5tx_store *s, pin_collect *pc, h5tx_error *err) {
  pc->set.n = 0;
  pc->oom = 0;
  h5tx__pins_scan(s->pins, pin_cb, pc);
  if (pc->oom) return h5tx__err(err, H5TX_ENOMEM, "out of memory reading the reader table");
  revset_sort(&pc->set);
  return 0;
}

typedef struct gc_arg {
  h5tx_store *s;
  const h5tx_gc_opts *o;
  pin_collect pins;
  revset tags, doomed;
  h5tx_gc_result res;
} gc_arg;

/* Set and clear flags of the commit record of `rev`. */
static int set_flags(h5tx__txn *t, h5tx_rev rev, uint32_t set, uint32_t clear, h5tx_error *err) {
  uint8_t key[8];
  h5tx__be64(key, rev);
  h5tx__val v;
  int rc = h5tx__kv_get(t, KV_COMMITS, key, 8, &v, err);
  if (rc) return rc;
  uint8_t *copy = malloc(v.n);
  if (!copy) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  memcpy(copy, v.p, v.n);
  uint32_t f = h5tx__get_le32(copy + H5TX_COMMIT_FLAGS_OFF);
  h5tx__le32(copy + H5TX_COMMIT_FLAGS_OFF, (f & ~clear) | set);
  rc = h5tx__kv_put(t, KV_COMMITS, key, 8, copy, v.n, err);
  free(copy);
  return rc;
}

/* Call fn for every commit record not yet collected, oldest first. */
typedef int (*commit_fn)(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit_rec *cr,
                         h5tx_error *err);
static int each_live_commit(gc_arg *a, h5tx__txn *t, commit_fn fn, void *arg, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, KV_COMMITS, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err)) {
    h5tx__commit_rec cr;
    if (k.n != 8 || h5tx__commit_parse(&v, &cr) != 0) {
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
} choose_arg;

static int choose(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit_rec *cr,
                  h5tx_error *err) {
  choose_arg *ca = arg;
  gc_arg *a = ca->a;
  uint64_t keep_last = a->o->keep_last;
  /* The newest keep_last revisions: head - r < keep_last (r + keep_last
   * could wrap for a huge count and keep nothing). */
  int keep = r >= ca->head || keep_last == 0 || ca->head - r < keep_last ||
             (a->o->keep_since_ns && cr->time_ns >= a->o->keep_since_ns) || revset_has(&a->tags, r);
  int pinned = !keep && revset_has(&a->pins.set, r);
  if (pinned) a->res.revisions_pinned++;
  uint32_t flags = cr->flags & ~H5TX_COMMIT_COLLECTING;
  if (!keep && !pinned) {
    if (revset_add(&a->doomed, r)) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
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
  choose_arg ca = {a, 0};
  int rc = h5tx__meta_get(t, "head", &ca.head, err);
  if (rc) return rc;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, KV_TAGS, &c, err))) return rc;
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err))
    if (v.n == 8 && revset_add(&a->tags, h5tx__get_le64(v.p)))
      rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
  h5tx__kv_cursor_close(c);
  if (rc != H5TX_ENOENT) return rc;
  revset_sort(&a->tags);
  return each_live_commit(a, t, choose, &ca, err);
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

static int ends_load(h5tx__txn *t, gc_arg *a, file_ends *fe, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, KV_NAMES, &c, err);
  if (rc) return rc;
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  h5tx_rev upper = UINT64_MAX;
  uint8_t name[H5TX_NAME_KEY_MAX];
  h5tx__val k, v;
  for (rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err); rc == 0; rc = h5tx__kv_next(c, &k, &v, err)) {
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
        rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
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

/* The revision from which file `fid` is named no more (0: never named). */
static h5tx_rev ends_get(const file_ends *fe, uint64_t fid) {
  size_t lo = 0, hi = fe->n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (fe->v[m].fid < fid)
      lo = m + 1;
    else
      hi = m;
  }
  return lo < fe->n && fe->v[lo].fid == fid ? fe->v[lo].end : 0;
}

/* Drop versions of one table no kept revision reads. `group` is the length
 * of the key prefix that names one page / file / name (0: key length - 8).
 * With `ends`, keys start with a file id, and no version is read at or
 * after the revision its file stopped being named. */
static int sweep(h5tx__txn *t, int table, size_t group, const revset *kept, const file_ends *ends,
                 int dry, int count_pages, gc_arg *a, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, table, &c, err);
  if (rc) return rc;
  uint8_t prev[H5TX_NAME_KEY_MAX];
  size_t prev_len = 0;
  h5tx_rev upper = 0;
  int have_prev = 0;
  h5tx__val k, v;
  rc = h5tx__kv_seek(c, NULL, 0, &k, &v, err);
  while (rc == 0) {
    if (k.n < 8 || k.n > sizeof prev) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed key in gc", a->s->path);
      break;
    }
    size_t g = group ? group : k.n - 8;
    h5tx_rev r = h5tx__key_rev(&k);
    if (!have_prev || prev_len != g || memcmp(prev, k.p, g) != 0) {
      memcpy(prev, k.p, g);
      prev_len = g;
      have_prev = 1;
      /* The newest version of a group: live until its file's end. */
      upper = ends ? ends_get(ends, h5tx__get_be64(k.p)) : UINT64_MAX;
    }
    int keep = revset_any(kept, r, upper);
    upper = r;
    if (!keep) {
      if (count_pages) {
        a->res.versions_freed++;
        a->res.bytes_freed += v.n;
      }
      if (!dry) {
        if ((rc = h5tx__kv_cursor_del(c, err))) break;
        /* The cursor now stands so that next returns the following key. */
        rc = h5tx__kv_next(c, &k, &v, err);
        continue;
      }
    }
    rc = h5tx__kv_next(c, &k, &v, err);
  }
  h5tx__kv_cursor_close(c);
  return rc == H5TX_ENOENT ? 0 : rc;
}

/* Phase 2: with the final doomed set, sweep and flag collected. */
typedef struct sort_arg {
  gc_arg *a;
  revset kept, spared;
  uint64_t collected;
} sort_arg;

static int sort_rev(void *arg, h5tx__txn *t, h5tx_rev r, const h5tx__commit_rec *cr,
                    h5tx_error *err) {
  (void)t;
  sort_arg *sa = arg;
  if (revset_has(&sa->a->doomed, r)) {
    sa->collected++;
    return 0;
  }
  if (revset_add(&sa->kept, r) ||
      ((cr->flags & H5TX_COMMIT_COLLECTING) && revset_add(&sa->spared, r)))
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  return 0;
}

static int phase2(h5tx__txn *t, void *arg, h5tx_error *err) {
  gc_arg *a = arg;
  int dry = a->o->dry_run;
  a->res.versions_freed = a->res.bytes_freed = 0;
  sort_arg sa = {a, {0}, {0}, 0};
  file_ends ends = {0};
  int rc = each_live_commit(a, t, sort_rev, &sa, err);
  if (rc) goto out;
  /* Revisions a pin spared become readable again. */
  for (size_t i = 0; i < sa.spared.n && !dry; i++)
    if ((rc = set_flags(t, sa.spared.v[i], 0, H5TX_COMMIT_COLLECTING, err))) goto out;
  if (sa.collected == 0) goto out; /* nothing becomes unreadable: nothing to free */
  /* kept is ascending already (keys are big-endian revisions). */
  /* Before the names sweep changes what they say. */
  if ((rc = ends_load(t, a, &ends, err))) goto out;
  if ((rc = sweep(t, KV_PAGES, 16, &sa.kept, &ends, dry, 1, a, err))) goto out;
  if ((rc = sweep(t, KV_LENGTHS, 8, &sa.kept, &ends, dry, 0, a, err))) goto out;
  if ((rc = sweep(t, KV_NAMES, 0, &sa.kept, NULL, dry, 0, a, err))) goto out;
  for (size_t i = 0; i < a->doomed.n && !dry; i++)
    if ((rc = set_flags(t, a->doomed.v[i], H5TX_COMMIT_COLLECTED, H5TX_COMMIT_COLLECTING, err)))
      goto out;
out:
  a->res.revisions_collected = sa.collected;
  free(sa.kept.v);
  free(sa.spared.v);
  free(ends.v);
  return rc;
}

/* Phase 2 for a dry run: the same sweep in a read transaction. */
static int dry_phase2(gc_arg *a, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(a->s->kv, &t, err);
  if (rc) return rc;
  rc = phase2(t, a, err);
  h5tx__kv_done(t);
  return rc;
}

int h5tx_gc(h5tx_store *s, const h5tx_gc_opts *opts, h5tx_gc_result *out, h5tx_error *err) {
  h5tx_gc_opts def = {0, 0, 0};
  if (!opts) opts = &def;
  if (out) memset(out, 0, sizeof *out);
  if (s->read_only && !opts->dry_run)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot collect garbage",
                     s->path);
  if (!s->pins)
    return h5tx__err(err, H5TX_EROFS, "store %s: no reader table; cannot collect safely", s->path);
  char lp[4200];
  snprintf(lp, sizeof lp, "%s/" H5TX__PINS_FILE, s->path);
  int lock = open(lp, O_RDWR | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    int e = errno;
    if (lock >= 0) close(lock);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: locking for gc: %s", s->path,
                     strerror(e));
  }
  gc_arg a = {.s = s, .o = opts};
  int rc = scan_pins(s, &a.pins, err);
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
      rc = h5tx__kv_write(s->kv, phase2, &a, s->durability == H5TX_SYNC, err);
      /* Revisions spared by a pin were un-flagged by phase 2: they open
       * again, and the next gc reconsiders them. */
    }
  }
  flock(lock, LOCK_UN);
  close(lock);
  if (rc == 0 && out) *out = a.res;
  free(a.pins.set.v);
  free(a.tags.v);
  free(a.doomed.v);
  return rc;
}
