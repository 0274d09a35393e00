/* writer.c - writers (docs/FORMAT.md, "Commit"): a file's dirty pages in
 * memory up to the writer cache, streamed into the page log under the
 * writer's write id when it fills; truncation; and the commit, which
 * appends what is left and then makes one revision in one small index
 * transaction (logcommit.c). */
#include "store.h"

#include "codec.h"
#include "dedupe.h"
#include "pages2.h"
#include "proc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NO_PAGE UINT64_MAX
/* Pages encoded and appended per call of the page log. */
#define BATCH 64

/* A page this writer changed. Its content is `mem` when in memory; else
 * zeros when `dead` (cut off by a truncation after it was appended: a
 * tombstone is due at commit); else the record at `place`: this write's
 * own, or when `shared` a committed record with the same bytes (dedupe:
 * the commit names it in a REF operation). `placed`: a record of this
 * write id holds this page, so a commit must append it again (or share a
 * record) if it changed, even back to the base's content, because repair
 * takes a write id's last record of a page. */
typedef struct dpage {
  uint64_t page; /* NO_PAGE: empty slot */
  uint8_t *mem;
  int placed, dead, shared;
  int same; /* rewritten with the bytes of the version stored at base
               (past a truncation too): reads as that version, needs no
               record and no tombstone */
  h5tx__place place;
} dpage;

struct h5tx_writer {
  h5tx_store *s;
  char *name;
  uint64_t token;
  pid_t pid; /* the process that opened it: a fork child only reads */
  int slot;  /* pin of the base revision, -1 if none */
  int lease; /* slot of the file's lease, -1 if none */
  h5tx_rev base;
  uint64_t fid; /* 0: the file does not exist at base, created at commit */
  uint32_t ps;
  int codec, level, durability;
  uint64_t base_len, len;
  uint64_t trunc_page; /* lowest page cut off by a truncation, or NO_PAGE */
  int changed;
  uint64_t wid; /* write id of the records appended for the next commit */
  dpage *tab;
  size_t cap, n;
  size_t mem_bytes, limit;
  uint8_t *scratch, *scratch2, *zin; /* a page, a page, a compressed payload */
  uint8_t *zbufs;                    /* BATCH compressed payloads, for appends */
  uint8_t **spare;                   /* page buffers streamed out, for reuse */
  size_t nspare;
  h5tx__zpolicy zp; /* whether compression pays (the store's, see store.h) */
  /* A read transaction held for the length of one call, opened lazily. */
  h5tx__txn *rt;
  h5tx__cur *rc;
};

void h5tx_writer_opts_init(h5tx_writer_opts *o) {
  memset(o, 0, sizeof *o);
  o->base = H5TX_HEAD;
  o->codec = -1;
  o->durability = -1;
}

static uint64_t next_token(void) {
  static uint64_t counter;
  uint64_t c = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
  return ((uint64_t)h5tx__proc_self()->pid << 32) ^ (h5tx__now_ns() << 8) ^ c;
}

/* ---- dirty page table ------------------------------------------------ */

static size_t slot_of(uint64_t page, size_t cap) {
  return (size_t)((page * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static dpage *find(h5tx_writer *w, uint64_t page) {
  if (!w->cap) return NULL;
  for (size_t i = slot_of(page, w->cap);; i = (i + 1) & (w->cap - 1)) {
    if (w->tab[i].page == page) return &w->tab[i];
    if (w->tab[i].page == NO_PAGE) return NULL;
  }
}

static int rehash(h5tx_writer *w, size_t cap) {
  dpage *t = malloc(cap * sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < cap; i++)
    t[i].page = NO_PAGE;
  for (size_t i = 0; i < w->cap; i++) {
    if (w->tab[i].page == NO_PAGE) continue;
    size_t j = slot_of(w->tab[i].page, cap);
    while (t[j].page != NO_PAGE)
      j = (j + 1) & (cap - 1);
    t[j] = w->tab[i];
  }
  free(w->tab);
  w->tab = t;
  w->cap = cap;
  return 0;
}

/* Opened by another process: this is a fork child, which must leave the
 * parent's lease and pin alone. */
static int forked(const h5tx_writer *w) { return w->pid != getpid(); }

static int fork_err(h5tx_writer *w, h5tx_error *err) {
  return h5tx__err(err, H5TX_EFORK,
                   "store %s: file '%s': writer opened in process %d cannot change it in child %d "
                   "after fork(); open a writer in the child",
                   w->s->path, w->name, (int)w->pid, (int)getpid());
}

/* Page buffers: a page streamed out leaves its buffer for the next page
 * written (a long write reuses the same memory instead of faulting fresh
 * pages in); all of them go back to the system when the changes are
 * committed or dropped. At most the writer cache's worth is kept. */
static uint8_t *page_get(h5tx_writer *w) {
  return w->nspare ? w->spare[--w->nspare] : malloc(w->ps);
}

static void page_put_back(h5tx_writer *w, uint8_t *p) {
  size_t cap = w->limit / w->ps + 1;
  if (!w->spare && !(w->spare = malloc(cap * sizeof *w->spare))) {
    free(p);
    return;
  }
  if (w->nspare < cap)
    w->spare[w->nspare++] = p;
  else
    free(p);
}

static void spares_free(h5tx_writer *w) {
  while (w->nspare)
    free(w->spare[--w->nspare]);
  free(w->spare);
  w->spare = NULL;
}

/* Forget every change; records already appended stay in the log as
 * garbage under the old write id, which is never committed. */
static void drop_all(h5tx_writer *w) {
  for (size_t i = 0; i < w->cap; i++)
    free(w->tab[i].page == NO_PAGE ? NULL : w->tab[i].mem);
  spares_free(w);
  free(w->tab);
  w->tab = NULL;
  w->cap = w->n = 0;
  w->mem_bytes = 0;
  w->wid = h5tx__plog_write_id();
}

static int oom(h5tx_error *err) { return h5tx__err(err, H5TX_ENOMEM, "out of memory"); }

/* Add page `page` to the table (no content yet). */
static int insert(h5tx_writer *w, uint64_t page, dpage **out, h5tx_error *err) {
  if ((w->n + 1) * 2 > w->cap && rehash(w, w->cap ? w->cap * 2 : 64) != 0) return oom(err);
  size_t j = slot_of(page, w->cap);
  while (w->tab[j].page != NO_PAGE)
    j = (j + 1) & (w->cap - 1);
  w->tab[j] = (dpage){.page = page};
  w->n++;
  *out = &w->tab[j];
  return 0;
}

/* ---- base content ------------------------------------------------------ */

static int txn_begin(h5tx_writer *w, h5tx_error *err) {
  if (w->rt) return 0;
  int rc = h5tx__kv_read(w->s->kv, &w->rt, err);
  if (rc) return rc;
  /* The base is pinned; should the pin have been lost and the base
   * collected, its pages read as H5TX_EGONE, never as zeros. */
  h5tx_rev head;
  if ((rc = h5tx__rev_check_pinned(w->s, w->rt, w->base, &head, err)) ||
      (rc = h5tx__kv_cursor(w->rt, IDX_PAGES, &w->rc, err))) {
    h5tx__kv_done(w->rt);
    w->rt = NULL;
  }
  return rc;
}

static void txn_end(h5tx_writer *w) {
  if (!w->rt) return;
  h5tx__kv_cursor_close(w->rc);
  h5tx__kv_done(w->rt);
  w->rt = NULL;
  w->rc = NULL;
}

/* The base version of `page` as this writer sees it before its own
 * changes: *found 0 for zeros (past a truncation or the base length, or
 * never stored), else its place. `stored`: the version stored at base
 * whatever this writer cut off. */
static int base_place(h5tx_writer *w, uint64_t page, int stored, h5tx__place *p, int *found,
                      h5tx_error *err) {
  *found = 0;
  if (!w->fid || (!stored && (page >= w->trunc_page || page * w->ps >= w->base_len))) return 0;
  int rc = txn_begin(w, err);
  if (rc) return rc;
  h5tx_rev at;
  rc = h5tx__page_find(w->s, w->rc, w->name, w->fid, page, w->base, p, &at, err);
  if (rc == H5TX_ENOENT) return 0;
  if (rc) return rc;
  *found = p->enc != PLOG_ENC_ZERO;
  return 0;
}

/* The base content of `page` into `dst` (`stored`: as base_place). */
static int base_load(h5tx_writer *w, uint64_t page, int stored, uint8_t *dst, h5tx_error *err) {
  for (int tries = 0;; tries++) {
    h5tx__place p;
    int found, rc = base_place(w, page, stored, &p, &found, err);
    if (rc) return rc;
    if (!found) {
      memset(dst, 0, w->ps);
      return 0;
    }
    rc = h5tx__page_get(w->s, w->name, &p, page, w->base, dst, w->ps, w->zin, tries == 0, err);
    /* a segment compacted away since the look-up: its records were copied
     * forward first, so a look-up in a new transaction finds them. Once. */
    if (rc != H5TX__SEG_GONE) return rc;
    txn_end(w);
  }
}

/* The committed record entry `e` shares, into `dst`. Compaction may have
 * copied it forward since it was found: then its dedupe entry says where
 * (once). */
static int shared_load(h5tx_writer *w, uint64_t page, dpage *e, uint8_t *dst, h5tx_error *err) {
  int rc = h5tx__page_get(w->s, w->name, &e->place, page, w->base, dst, w->ps, w->zin, 1, err);
  if (rc != H5TX__SEG_GONE) return rc;
  txn_end(w);
  h5tx__cur *c = NULL;
  if ((rc = txn_begin(w, err)) == 0 && (rc = h5tx__kv_cursor(w->rt, IDX_DEDUPE, &c, err)) == 0)
    rc = h5tx__dedupe_current(c, &e->place, err);
  if (c) h5tx__kv_cursor_close(c);
  txn_end(w);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECONFLICT,
                     "store %s: file '%s' page %llu: the stored record it shares was collected "
                     "by gc meanwhile (write the page again)",
                     w->s->path, w->name, (unsigned long long)page);
  if (rc) return rc;
  return h5tx__page_get(w->s, w->name, &e->place, page, w->base, dst, w->ps, w->zin, 0, err);
}

/* The current content of page `page` (entry `e`, may be NULL) into `dst`;
 * *out points at it (e->mem itself when in memory). */
static int content(h5tx_writer *w, uint64_t page, dpage *e, uint8_t *dst, const uint8_t **out,
                   h5tx_error *err) {
  *out = dst;
  if (e && e->mem) {
    *out = e->mem;
    return 0;
  }
  if (e && e->dead) {
    memset(dst, 0, w->ps);
    return 0;
  }
  if (e && e->same) return base_load(w, page, 1, dst, err);
  if (e && e->shared) return shared_load(w, page, e, dst, err);
  if (e) return h5tx__page_get(w->s, w->name, &e->place, page, w->base, dst, w->ps, w->zin, 0, err);
  return base_load(w, page, 0, dst, err);
}

/* Is `data` the version of `page` stored at base (past a truncation too:
 * reads at the new revision find that version, so nothing is stored)? */
static int same_as_base(h5tx_writer *w, uint64_t page, const uint8_t *data, int *same,
                        h5tx_error *err) {
  h5tx__place p;
  int found;
  *same = 0;
  int rc = base_place(w, page, 1, &p, &found, err);
  if (rc) return rc;
  if (!found) {
    *same = h5tx__is_zero(data, w->ps);
    return 0;
  }
  if (p.content != h5tx__hash(data, w->ps)) return 0;
  /* A base version that fails to load is simply "different": storing the
   * new page heals head. */
  h5tx_error e = {0};
  if (h5tx__page2_load(w->s->log, &p, w->scratch2, w->ps, w->zin, &e) != 0) return 0;
  *same = memcmp(w->scratch2, data, w->ps) == 0;
  return 0;
}

/* ---- streaming into the page log ------------------------------------------ */

static int cmp_page(const void *a, const void *b) {
  uint64_t x = (*(dpage *const *)a)->page, y = (*(dpage *const *)b)->page;
  return x < y ? -1 : x > y;
}

typedef struct progress {
  h5tx_commit_fn fn;
  void *arg;
  size_t done, total;
} progress;

static int tell(h5tx_writer *w, progress *pr, size_t n, h5tx_error *err) {
  pr->done += n;
  if (!pr->fn) return 0;
  int stop = pr->fn(pr->arg, pr->done, pr->total);
  if (!stop) return 0;
  return h5tx__err(err, stop,
                   "store %s: file '%s': commit stopped by the caller after %zu of %zu pages; "
                   "nothing was committed",
                   w->s->path, w->name, pr->done, pr->total);
}

/* Encoding pages [from, to) of a batch into records, with its own view
 * of the compression policy. */
typedef struct zjob {
  h5tx_writer *w;
  const uint64_t *pages;      /* each page's number */
  const uint8_t *const *data; /* each page's bytes; NULL: a tombstone */
  h5tx__plog_rec *recs;
  size_t from, to;
  h5tx__zpolicy zp;
} zjob;

static void *encode(void *arg) {
  zjob *j = arg;
  h5tx_writer *w = j->w;
  for (size_t i = j->from; i < j->to; i++) {
    if (!j->data[i])
      j->recs[i] = (h5tx__plog_rec){
          .kind = PLOG_PAGE, .enc = PLOG_ENC_ZERO, .key = j->pages[i], .raw = w->ps};
    else
      h5tx__page2_record(&j->recs[i], j->pages[i], j->data[i], w->ps, w->codec, w->level, &j->zp,
                         w->zbufs + i * h5tx__zstd_bound(w->ps));
  }
  return NULL;
}

static int cpus(void) {
  static int n;
  if (!n) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c < 1 ? 1 : c > 4 ? 4 : (int)c;
  }
  return n;
}

/* Encode a batch: with zstd while the policy tries every page, in as
 * many threads as there are cores (at most 4); the policy then learns the
 * threads' results, the last part's last. */
static void encode_batch(h5tx_writer *w, const uint64_t *pages, const uint8_t *const *data,
                         h5tx__plog_rec *recs, size_t n) {
  int nt = w->codec != H5TX_CODEC_NONE && w->zp.misses < H5TX_ZP_GIVE_UP && n >= 8 ? cpus() : 1;
  zjob jobs[4];
  pthread_t th[4];
  int started[4] = {0};
  for (int k = 0; k < nt; k++) {
    jobs[k] = (zjob){
        w, pages, data, recs, n * (size_t)k / (size_t)nt, n * (size_t)(k + 1) / (size_t)nt, w->zp};
    if (k > 0) started[k] = pthread_create(&th[k], NULL, encode, &jobs[k]) == 0;
  }
  encode(&jobs[0]);
  for (int k = 1; k < nt; k++) {
    if (started[k])
      pthread_join(th[k], NULL);
    else
      encode(&jobs[k]); /* no thread: do it here */
  }
  h5tx__zpolicy merged = jobs[nt - 1].zp;
  merged.tried = w->zp.tried;
  merged.paid = w->zp.paid;
  for (int k = 0; k < nt; k++) {
    merged.tried += jobs[k].zp.tried - w->zp.tried;
    merged.paid += jobs[k].zp.paid - w->zp.paid;
  }
  w->zp = merged;
}

/* Which of `n` pages (bytes `data`; NULL: a tombstone) equal a committed
 * record (docs/FORMAT.md, "Identical pages are stored once"): shared[i]
 * set and places[i] that record's place. One read transaction, ended
 * before the caller appends. */
static int share(h5tx_writer *w, const uint8_t *const *data, size_t n, h5tx__place *places,
                 int *shared, h5tx_error *err) {
  memset(shared, 0, n * sizeof *shared);
  h5tx__cur *c = NULL;
  int rc = txn_begin(w, err);
  if (rc == 0) rc = h5tx__kv_cursor(w->rt, IDX_DEDUPE, &c, err);
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (!data[i]) continue;
    int r = h5tx__dedupe_match(c, w->s->log, data[i], w->ps, h5tx__hash(data[i], w->ps),
                               w->scratch2, w->zin, &places[i], err);
    if (r < 0) rc = r;
    shared[i] = r == 1;
  }
  if (c) h5tx__kv_cursor_close(c);
  txn_end(w);
  return rc;
}

/* Append `n` pages (numbers `pages`, bytes `data`; NULL: a tombstone) as
 * records of this writer's write id, their places into `places`; a page
 * equal to a committed record gets that record's place instead (its
 * shared[i] set). Compression runs here, outside any lock. */
static int append_pages(h5tx_writer *w, const uint64_t *pages, const uint8_t *const *data, size_t n,
                        h5tx__place *places, int *shared, h5tx_error *err) {
  h5tx__plog_rec recs[BATCH];
  uint64_t opages[BATCH];
  const uint8_t *odata[BATCH];
  h5tx__place oplaces[BATCH];
  size_t at[BATCH], m = 0;
  if (!w->zbufs && !(w->zbufs = malloc(BATCH * h5tx__zstd_bound(w->ps)))) return oom(err);
  int rc = share(w, data, n, places, shared, err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++)
    if (!shared[i]) {
      opages[m] = pages[i];
      odata[m] = data[i];
      at[m++] = i;
    }
  if (m == 0) return 0;
  encode_batch(w, opages, odata, recs, m);
  rc = h5tx__plog_append(w->s->log, w->wid, recs, m, oplaces, err);
  for (size_t k = 0; k < m && rc == 0; k++)
    places[at[k]] = oplaces[k];
  if (rc && err) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, rc, "store %s: file '%s': %swriting pages to the page log: %s", w->s->path,
              w->name, rc == H5TX_ENOSPC ? "disk full (nothing was committed) " : "", why);
  }
  return rc;
}

/* Entry `e`'s content is now the record at `p`: its own or a shared one. */
static void take_place(dpage *e, const h5tx__place *p, int shared) {
  e->place = *p;
  e->shared = shared;
  if (!shared) e->placed = 1;
  e->dead = 0;
  e->same = 0;
}

/* Append `n` entries (their contents in e[i]->mem, or tombstones for dead
 * ones); each then holds its place and leaves memory. */
static int append(h5tx_writer *w, dpage **e, size_t n, h5tx_error *err) {
  uint64_t pages[BATCH] = {0};
  const uint8_t *data[BATCH] = {0};
  h5tx__place places[BATCH];
  int shared[BATCH];
  for (size_t i = 0; i < n; i++) {
    pages[i] = e[i]->page;
    data[i] = e[i]->dead ? NULL : e[i]->mem;
  }
  int rc = append_pages(w, pages, data, n, places, shared, err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    take_place(e[i], &places[i], shared[i]);
    if (e[i]->mem) {
      page_put_back(w, e[i]->mem);
      e[i]->mem = NULL;
      w->mem_bytes -= w->ps;
    }
  }
  return 0;
}

/* Pages whose records lie where a failed flush left them untrusted
 * (h5tx__plog_untrusted) are read back, checked, and appended again. */
static int rehome(h5tx_writer *w, h5tx_error *err) {
  dpage *batch[BATCH];
  size_t nb = 0;
  int rc = 0;
  for (size_t i = 0; i < w->cap && rc == 0; i++) {
    dpage *e = &w->tab[i];
    if (e->page == NO_PAGE || !e->placed || e->shared || e->mem || e->dead ||
        !h5tx__plog_untrusted(w->s->log, &e->place))
      continue;
    uint8_t *m = page_get(w);
    if (!m) return oom(err);
    if ((rc = h5tx__page2_load(w->s->log, &e->place, m, w->ps, w->zin, err))) {
      char why[512] = "";
      if (err) snprintf(why, sizeof why, "%s", err->msg);
      page_put_back(w, m);
      h5tx__err(err, rc,
                "store %s: file '%s': page %llu, written before a flush of the page log failed, "
                "cannot be read back (%s): these changes are lost; abort the writer",
                w->s->path, w->name, (unsigned long long)e->page, why);
      break;
    }
    e->mem = m;
    w->mem_bytes += w->ps;
    batch[nb++] = e;
    if (nb == BATCH && (rc = append(w, batch, nb, err)) == 0) nb = 0;
  }
  return rc == 0 && nb ? append(w, batch, nb, err) : rc;
}

/* Stream every page held in memory into the log, in page order; a page
 * equal to its base version that was never appended is simply forgotten.
 * Dead pages get their tombstones when `dead_too`. */
static int stream(h5tx_writer *w, int dead_too, progress *pr, h5tx_error *err) {
  dpage **v = malloc((w->n ? w->n : 1) * sizeof *v);
  if (!v) return oom(err);
  size_t nv = 0;
  for (size_t i = 0; i < w->cap; i++)
    if (w->tab[i].page != NO_PAGE && (w->tab[i].mem || (dead_too && w->tab[i].dead)))
      v[nv++] = &w->tab[i];
  qsort(v, nv, sizeof *v, cmp_page);
  int rc = 0, forgot = 0;
  dpage *batch[BATCH];
  size_t nb = 0;
  for (size_t i = 0; i < nv && rc == 0; i++) {
    dpage *e = v[i];
    if (e->mem && !e->placed) {
      int same;
      if ((rc = same_as_base(w, e->page, e->mem, &same, err))) break;
      if (same) {
        page_put_back(w, e->mem);
        e->mem = NULL;
        w->mem_bytes -= w->ps;
        if (e->page >= w->trunc_page) {
          e->same = 1; /* no tombstone for it */
        } else {
          e->page = NO_PAGE; /* removed; the table is rebuilt below */
          w->n--;
          forgot = 1;
        }
        if (pr && (rc = tell(w, pr, 1, err))) break;
        continue;
      }
    }
    batch[nb++] = e;
    if (nb == BATCH) {
      txn_end(w); /* no read transaction across the log's writes */
      rc = append(w, batch, nb, err);
      for (size_t j = 0; j < nb && rc == 0 && pr; j++)
        rc = tell(w, pr, 1, err);
      nb = 0;
    }
  }
  txn_end(w);
  if (rc == 0 && nb) {
    rc = append(w, batch, nb, err);
    for (size_t j = 0; j < nb && rc == 0 && pr; j++)
      rc = tell(w, pr, 1, err);
  }
  free(v);
  if (forgot && rehash(w, w->cap) != 0 && rc == 0) rc = oom(err);
  return rc;
}

/* Room for one more page in memory: stream the cache when it is full. */
static int make_room(h5tx_writer *w, h5tx_error *err) {
  if (w->mem_bytes + w->ps <= w->limit || w->mem_bytes == 0) return 0;
  return stream(w, 0, NULL, err);
}

/* ---- open / close -------------------------------------------------------- */

typedef struct open_arg {
  h5tx_writer *w;
  const h5tx_writer_opts *o;
  h5tx_rev pinned;
  /* results */
  h5tx_rev base;
  uint64_t fid, len;
  uint32_t ps;
} open_arg;

/* Runs in a read transaction, with the lease taken. */
static int open_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  open_arg *a = arg;
  h5tx_writer *w = a->w;
  h5tx_store *s = w->s;
  h5tx_rev head;
  int rc = h5tx__rev_check(s, t, a->pinned, &head, err);
  if (rc) return rc;
  /* Pinned after the lease was taken: no commit of this file can follow it
   * (a rename racing the lease shows as a conflict at commit). */
  a->base = a->pinned;
  h5tx_stat st;
  rc = h5tx__stat(s, t, w->name, a->base, &st, err);
  if (rc == H5TX_ENOENT) {
    if (!a->o->create)
      return h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at revision %llu", s->path,
                       w->name, (unsigned long long)a->base);
    /* A new name: the mount must be able to show it beside the files of
     * the writer's base and of head (commit checks head again). */
    if ((rc = h5tx__check_new_name(w->name, err)) ||
        (rc = h5tx__name_clash(t, s->path, w->name, NULL, a->base, H5TX_EEXIST, err)) ||
        (head != a->base &&
         (rc = h5tx__name_clash(t, s->path, w->name, NULL, head, H5TX_EEXIST, err))))
      return rc;
    a->fid = 0;
    a->len = 0;
    a->ps = a->o->page_size ? a->o->page_size : s->page_size;
    return 0;
  }
  if (rc) return rc;
  if (a->o->exclusive)
    return h5tx__err(err, H5TX_EEXIST, "store %s: file '%s' exists", s->path, w->name);
  a->fid = st.file_id;
  a->len = st.length;
  a->ps = st.page_size;
  return 0;
}

/* Free `w`; the lease and the pin go back unless this is a fork child
 * (then they stay the parent's). */
static void writer_free(h5tx_writer *w) {
  txn_end(w);
  drop_all(w);
  if (!forked(w)) {
    h5tx__lease_drop(w->s, w->lease, w->token);
    if (w->slot >= 0) h5tx__unpin(w->s->pins, w->slot);
  }
  free(w->scratch);
  free(w->scratch2);
  free(w->zin);
  free(w->zbufs);
  free(w->name);
  free(w);
}

int h5tx_writer_open(h5tx_store *s, const char *name, const h5tx_writer_opts *opts,
                     h5tx_writer **out, h5tx_error *err) {
  h5tx_writer_opts def;
  if (!opts) {
    h5tx_writer_opts_init(&def);
    opts = &def;
  }
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  if (s->read_only)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot write '%s'", s->path,
                     name);
  int rc0 =
      h5tx__check_options("", opts->page_size, opts->codec, opts->level, opts->durability, err);
  if (rc0) return rc0;

  h5tx_writer *w = calloc(1, sizeof *w);
  if (!w || !(w->name = strdup(name))) {
    free(w);
    return oom(err);
  }
  w->s = s;
  w->pid = getpid();
  w->slot = -1;
  w->lease = -1;
  w->token = next_token();
  w->trunc_page = NO_PAGE;
  w->wid = h5tx__plog_write_id();
  w->codec = opts->codec >= 0 ? opts->codec : s->codec;
  w->level = opts->level ? opts->level : s->level;
  w->durability = opts->durability >= 0 ? opts->durability : s->durability;
  w->limit = s->dirty_limit;
  h5tx__zpolicy_load(s, &w->zp);

  open_arg a = {w, opts, 0, 0, 0, 0, 0};
  /* The lease first (a slot of the live table, no index write, no flush),
   * then the base: pinned, so gc keeps it, and taken after the lease, so
   * no commit of this file can come between the base and this writer. */
  if ((rc = h5tx__lease_take(s, w->name, w->token, &w->lease, err))) goto fail;
  if ((rc = h5tx__pin_rev(s, opts->base, &a.pinned, &w->slot, err))) goto fail;
  h5tx__txn *t;
  if ((rc = h5tx__kv_read(s->kv, &t, err))) goto fail;
  rc = open_fn(t, &a, err);
  h5tx__kv_done(t);
  if (rc) goto fail;
  w->base = a.base;
  w->fid = a.fid;
  w->base_len = w->len = a.len;
  w->ps = a.ps;
  w->changed = a.fid == 0; /* a new file is a change even when empty */
  if (!(w->scratch = malloc(w->ps)) || !(w->scratch2 = malloc(w->ps)) ||
      !(w->zin = malloc(h5tx__zstd_bound(w->ps)))) {
    rc = oom(err);
    goto fail;
  }
  if (opts->truncate && w->len) {
    if ((rc = h5tx_writer_truncate(w, 0, err))) goto fail;
  }
  *out = w;
  return 0;
fail:
  writer_free(w);
  return rc;
}

void h5tx_writer_close(h5tx_writer *w) {
  if (!w) return;
  writer_free(w);
}

void h5tx_writer_abort(h5tx_writer *w) {
  txn_end(w);
  drop_all(w);
  w->len = w->base_len;
  w->trunc_page = NO_PAGE;
  w->changed = w->fid == 0;
}

uint64_t h5tx_writer_length(const h5tx_writer *w) { return w->len; }
uint32_t h5tx_writer_page_size(const h5tx_writer *w) { return w->ps; }
h5tx_rev h5tx_writer_base(const h5tx_writer *w) { return w->base; }
int h5tx_writer_dirty(const h5tx_writer *w) { return w->changed || w->n > 0; }

/* ---- read / write / truncate -------------------------------------------- */

/* One try of a read: whole pages the writer has not changed are read
 * straight into the caller's buffer, runs of them with one preadv. */
static int read_once(h5tx_writer *w, uint64_t off, uint8_t *out, size_t len, h5tx__run *r,
                     int first, h5tx_error *err) {
  int rc = 0;
  r->n = 0;
  while (len > 0 && rc == 0) {
    uint64_t page = off / w->ps;
    size_t in = (size_t)(off % w->ps), n = w->ps - in < len ? w->ps - in : len;
    dpage *e = find(w, page);
    if (!e && n == w->ps) {
      h5tx__place p;
      int found;
      rc = base_place(w, page, 0, &p, &found, err);
      if (rc == 0 && !found) {
        memset(out, 0, n);
      } else if (rc == 0 && h5tx__run_takes(&p, w->ps)) {
        rc = h5tx__run_add(w->s, w->name, r, &p, out, page, w->base, first, err);
      } else if (rc == 0) {
        rc = h5tx__page_get(w->s, w->name, &p, page, w->base, out, w->ps, w->zin, first, err);
      }
    } else {
      const uint8_t *src;
      rc = content(w, page, e, w->scratch, &src, err);
      if (rc == 0) memcpy(out, src + in, n);
    }
    out += n;
    off += n;
    len -= n;
  }
  if (rc == 0) rc = h5tx__run_flush(w->s, w->name, r, first, err);
  txn_end(w);
  return rc;
}

int h5tx_writer_read(h5tx_writer *w, uint64_t off, void *buf, size_t len, h5tx_error *err) {
  int rc = h5tx__read_clamp(w->s->path, w->name, off, &len, buf, w->len, err);
  if (rc || len == 0) return rc;
  h5tx__run *r = h5tx__run_new();
  if (!r) return oom(err);
  rc = read_once(w, off, buf, len, r, 1, err);
  if (rc == H5TX__SEG_GONE) rc = read_once(w, off, buf, len, r, 0, err); /* compacted: again */
  h5tx__run_free(r);
  return rc;
}

/* Modify bytes [in, in+n) of page `page` to `src` (NULL: zeros). */
static int page_put(h5tx_writer *w, uint64_t page, size_t in, const uint8_t *src, size_t n,
                    h5tx_error *err) {
  int rc;
  dpage *e = find(w, page);
  if (!e || !e->mem) {
    if ((rc = make_room(w, err))) return rc;
    e = find(w, page); /* the table may have been rebuilt */
    uint8_t *mem = page_get(w);
    if (!mem) return oom(err);
    const uint8_t *cur = NULL;
    if (in == 0 && n == w->ps)
      rc = 0;
    else
      rc = content(w, page, e, mem, &cur, err);
    if (rc == 0 && !e) rc = insert(w, page, &e, err);
    if (rc) {
      page_put_back(w, mem);
      return rc;
    }
    e->mem = mem;
    e->dead = 0;
    e->same = 0;
    e->shared = 0;
    w->mem_bytes += w->ps;
  }
  if (src)
    memcpy(e->mem + in, src, n);
  else
    memset(e->mem + in, 0, n);
  return 0;
}

/* Writes of at least this many whole pages go straight from the caller's
 * buffer into the page log, without a copy into the writer cache. */
#define DIRECT_MIN 8

/* Whole pages [page, page + np) become `src`'s bytes, appended to the log
 * from `src` itself. A page equal to the version stored at base that this
 * writer never appended needs no record (it reads as that version). The
 * records are appended before anything of the writer changes, so a failed
 * append (a full disk) leaves the writer as it was. */
static int write_direct(h5tx_writer *w, uint64_t page, const uint8_t *src, size_t np,
                        h5tx_error *err) {
  const uint8_t *data[BATCH];
  h5tx__place places[BATCH];
  uint64_t pages[BATCH];
  int same[BATCH], shared[BATCH];
  size_t nb = 0;
  int rc = 0;
  for (size_t k = 0; k < np && rc == 0; k++) {
    const uint8_t *d = src + k * w->ps;
    dpage *e = find(w, page + k);
    same[k] = 0;
    if (!(e && e->placed) && (rc = same_as_base(w, page + k, d, &same[k], err))) break;
    if (same[k]) continue;
    pages[nb] = page + k;
    data[nb++] = d;
  }
  txn_end(w); /* no read transaction across the log's writes */
  if (rc) return rc;
  if (nb && (rc = append_pages(w, pages, data, nb, places, shared, err))) return rc;
  /* now the writer takes them: room first, so no rehash moves an entry */
  if ((w->n + np + 1) * 2 > w->cap) {
    size_t cap = w->cap ? w->cap : 64;
    while ((w->n + np + 1) * 2 > cap)
      cap *= 2;
    if (rehash(w, cap) != 0) return oom(err);
  }
  size_t j = 0;
  for (size_t k = 0; k < np; k++) {
    dpage *e = find(w, page + k);
    if (!e && insert(w, page + k, &e, err) != 0) return oom(err); /* room was made */
    if (e->mem) { /* the new bytes replace the cached ones */
      page_put_back(w, e->mem);
      e->mem = NULL;
      w->mem_bytes -= w->ps;
    }
    e->dead = 0;
    e->same = same[k];
    e->shared = 0; /* the base's version, or the new place below */
    if (!same[k]) {
      take_place(e, &places[j], shared[j]);
      j++;
    }
  }
  return 0;
}

int h5tx_writer_write(h5tx_writer *w, uint64_t off, const void *buf, size_t len, h5tx_error *err) {
  if (forked(w)) return fork_err(w, err);
  if (off > H5TX_MAX_LENGTH || len > H5TX_MAX_LENGTH - off)
    return h5tx__err(err, H5TX_ERANGE,
                     "store %s: file '%s': a write of %zu bytes at %llu would end past the "
                     "largest length, %llu bytes",
                     w->s->path, w->name, len, (unsigned long long)off,
                     (unsigned long long)H5TX_MAX_LENGTH);
  const uint8_t *src = buf;
  int rc = 0;
  uint64_t start = off;
  while (len > 0 && rc == 0) {
    uint64_t page = off / w->ps;
    size_t in = (size_t)(off % w->ps), n = w->ps - in < len ? w->ps - in : len;
    if (in == 0 && len >= (size_t)DIRECT_MIN * w->ps) {
      size_t np = len / w->ps < BATCH ? len / w->ps : BATCH;
      rc = write_direct(w, page, src, np, err);
      /* a full disk: hold them in the writer cache instead, as smaller
       * writes are, so a commit once space is back stores them */
      if (rc == H5TX_ENOSPC) {
        rc = 0;
        for (size_t k = 0; k < np && rc == 0; k++)
          rc = page_put(w, page + k, 0, src + k * w->ps, w->ps, err);
      }
      n = np * w->ps;
    } else {
      rc = page_put(w, page, in, src, n, err);
    }
    if (rc) break;
    src += n;
    off += n;
    len -= n;
  }
  txn_end(w);
  /* what was written before a failure stays written (as write(2) would
   * have it), and the length covers it */
  if (off > w->len) w->len = off;
  if (rc == 0 || off > start) w->changed = 1;
  return rc;
}

int h5tx_writer_truncate(h5tx_writer *w, uint64_t length, h5tx_error *err) {
  if (forked(w)) return fork_err(w, err);
  if (length > H5TX_MAX_LENGTH)
    return h5tx__err(err, H5TX_ERANGE,
                     "store %s: file '%s': length %llu is over the largest, %llu bytes", w->s->path,
                     w->name, (unsigned long long)length, (unsigned long long)H5TX_MAX_LENGTH);
  w->changed = 1;
  if (length >= w->len) {
    w->len = length;
    return 0;
  }
  uint64_t keep = (length + w->ps - 1) / w->ps; /* pages still (partly) inside */
  /* Pages past the new end read as zeros: forgotten, or dead when a record
   * of them was appended (it gets a tombstone at commit). */
  int any = 0;
  for (size_t i = 0; i < w->cap; i++) {
    dpage *e = &w->tab[i];
    if (e->page == NO_PAGE || e->page < keep) continue;
    if (e->mem) w->mem_bytes -= w->ps;
    free(e->mem);
    e->mem = NULL;
    if (e->placed) {
      e->dead = 1;
    } else {
      e->page = NO_PAGE;
      w->n--;
      any = 1;
    }
  }
  if (any && rehash(w, w->cap) != 0) return oom(err);
  /* Zero the tail of the last partial page, so growing again reads zeros. */
  int rc = 0;
  size_t in = (size_t)(length % w->ps);
  if (in) rc = page_put(w, keep - 1, in, NULL, w->ps - in, err);
  txn_end(w);
  if (rc) return rc;
  if (keep < w->trunc_page) w->trunc_page = keep;
  w->len = length;
  return 0;
}

/* ---- commit ---------------------------------------------------------------- */

/* Tombstones: pages at or past the first truncated page that are non-zero
 * at base and that this writer has no record of, so they read as zeros
 * from the new revision on. */
static int tombstones(h5tx_writer *w, h5tx_error *err) {
  if (!w->fid || w->trunc_page == NO_PAGE) return 0;
  uint64_t p = w->trunc_page;
  int rc = 0;
  for (;;) {
    if ((rc = txn_begin(w, err))) break;
    /* First key >= (fid, p, ~base): the newest version <= base of page p,
     * or else a version of a later page. */
    uint8_t key[H5TX_PAGE_KEY];
    h5tx__page_key(key, w->fid, p, w->base);
    h5tx__val k, v;
    rc = h5tx__kv_seek(w->rc, key, sizeof key, &k, &v, err);
    if (rc == H5TX_ENOENT) {
      rc = 0;
      break;
    }
    if (rc) break;
    const uint8_t *kp = k.p;
    if (k.n != H5TX_PAGE_KEY || h5tx__get_be64(kp) != w->fid) break;
    uint64_t kpage = h5tx__get_be64(kp + 8);
    if (kpage != p) { /* page p has nothing <= base: look at kpage */
      p = kpage;
      continue;
    }
    h5tx__place pl;
    if ((rc = h5tx__page_find(w->s, w->rc, w->name, w->fid, p, w->base, &pl, NULL, err))) break;
    if (pl.enc != PLOG_ENC_ZERO && !find(w, p)) {
      dpage *e;
      if ((rc = insert(w, p, &e, err))) break;
      e->dead = 1; /* a tombstone, appended with the others */
    }
    p++;
  }
  txn_end(w);
  return rc;
}

typedef struct commit_arg {
  h5tx_writer *w;
  const char *msg;
  h5tx__place *pl; /* the version of every page this commit stores */
  size_t npl;
  h5tx__place *sh; /* pages sharing a committed record (page: sh_page) */
  uint64_t *sh_page;
  size_t nsh;
  h5tx__logged lg;
  /* results */
  h5tx_rev rev;
  uint64_t fid;
} commit_arg;

static int commit_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n,
                        h5tx_error *err) {
  (void)err;
  commit_arg *a = arg;
  *pl = wid == a->w->wid ? a->pl : NULL;
  *n = wid == a->w->wid ? a->npl : 0;
  return 0;
}

/* A REF operation for each page sharing a committed record, at the
 * record's place now (compaction may have moved it). A record whose entry
 * is gone may be gone too: nothing is committed then. */
static int add_shared(commit_arg *a, h5tx__txn *t, uint64_t fid, h5tx__buf *b, h5tx_error *err) {
  if (a->nsh == 0) return 0;
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_DEDUPE, &c, err);
  for (size_t i = 0; i < a->nsh && rc == 0; i++) {
    h5tx__lop o = {.op = LOP_REF, .fid = fid, .a = a->sh_page[i], .place = a->sh[i]};
    rc = h5tx__dedupe_current(c, &o.place, err);
    if (rc == H5TX_ENOENT)
      rc = h5tx__err(err, H5TX_ECONFLICT,
                     "store %s: file '%s' page %llu: the stored record it shares was collected "
                     "by gc meanwhile; nothing was committed (write the page again)",
                     a->w->s->path, a->w->name, (unsigned long long)a->sh_page[i]);
    else if (rc == 0 && h5tx__lcommit_add(b, &o))
      rc = oom(err);
  }
  h5tx__kv_cursor_close(c);
  return rc;
}

static int commit_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  commit_arg *a = arg;
  h5tx_writer *w = a->w;
  h5tx_store *s = w->s;
  h5tx_rev head;
  int rc = h5tx__meta2_get(t, "head", &head, err);
  if (rc)
    return rc == H5TX_ENOENT ? h5tx__err(err, H5TX_ECORRUPT, "store %s: no head", s->path) : rc;
  /* Pages equal to the base's were not stored: the base must still be there. */
  if ((rc = h5tx__rev_check_pinned(s, t, w->base, &head, err))) return rc;
  /* Conflict: has the name or the file moved on since base? */
  uint64_t fid_now = 0;
  h5tx_rev at = 0;
  rc = h5tx__name_lookup(t, w->name, head, &fid_now, &at, err);
  if (rc && rc != H5TX_ENOENT) return rc;
  if (fid_now != w->fid && at > w->base)
    return h5tx__err(err, H5TX_ECONFLICT,
                     "store %s: file '%s' was %s by revision %llu after this writer's base %llu",
                     s->path, w->name, fid_now ? "created" : "removed", (unsigned long long)at,
                     (unsigned long long)w->base);
  if (w->fid) {
    uint64_t len_now;
    if ((rc = h5tx__length_lookup(t, w->fid, head, &len_now, &at, err))) return rc;
    if (at > w->base)
      return h5tx__err(err, H5TX_ECONFLICT,
                       "store %s: file '%s' was changed by revision %llu after this writer's "
                       "base %llu",
                       s->path, w->name, (unsigned long long)at, (unsigned long long)w->base);
  }
  h5tx_rev rev = head + 1;
  uint64_t fid = w->fid;
  /* A file created meanwhile at a directory above the name, or under it. */
  if (!fid && (rc = h5tx__name_clash(t, s->path, w->name, NULL, head, H5TX_ECONFLICT, err)))
    return rc;
  if (!fid && (rc = h5tx__meta2_get(t, "next_file_id", &fid, err))) return rc;
  h5tx__lcommit c;
  h5tx__buf b = {0};
  h5tx__commit_head(&c, rev, head, a->msg);
  size_t nl = strlen(w->name);
  int bad = h5tx__lcommit_begin(&b, &c);
  if (!w->fid) {
    h5tx__lop fo = {
        .op = LOP_FILE, .fid = fid, .page_size = w->ps, .name = w->name, .name_len = nl};
    h5tx__lop no = {.op = LOP_NAME, .fid = fid, .name = w->name, .name_len = nl};
    bad = bad || h5tx__lcommit_add(&b, &fo) || h5tx__lcommit_add(&b, &no);
  }
  h5tx__lop lo = {.op = LOP_LENGTH, .fid = fid, .a = w->len};
  h5tx__lop po = {.op = LOP_PAGES, .fid = fid, .a = w->wid};
  bad = bad || h5tx__lcommit_add(&b, &lo) || (a->npl && h5tx__lcommit_add(&b, &po));
  rc = bad ? oom(err) : add_shared(a, t, fid, &b, err);
  if (rc == 0)
    rc = h5tx__log_commit(s, t, &b, a->npl ? w->wid : 0, commit_pages, a,
                          w->durability == H5TX_SYNC, &a->lg, err);
  h5tx__buf_free(&b);
  if (rc) return rc;
  a->rev = rev;
  a->fid = fid;
  return 0;
}

/* Does the record at `p` (page `page`) hold the bytes of the page's
 * version at base (zeros for none)? */
static int base_equal(h5tx_writer *w, uint64_t page, const h5tx__place *p, int *same,
                      h5tx_error *err) {
  h5tx__place b;
  int found, rc = base_place(w, page, 1, &b, &found, err);
  if (rc) return rc;
  if (p->enc == PLOG_ENC_ZERO || !found) {
    *same = p->enc == PLOG_ENC_ZERO && !found;
    return 0;
  }
  if (b.seg == p->seg && b.off == p->off && b.check == p->check) {
    *same = 1; /* the very record */
    return 0;
  }
  if (b.content != p->content) {
    *same = 0;
    return 0;
  }
  /* equal hashes: the bytes decide */
  if ((rc = h5tx__page_get(w->s, w->name, p, page, w->base, w->scratch, w->ps, w->zin, 0, err)) ||
      (rc = h5tx__page_get(w->s, w->name, &b, page, w->base, w->scratch2, w->ps, w->zin, 0, err)))
    return rc;
  *same = memcmp(w->scratch, w->scratch2, w->ps) == 0;
  return 0;
}

/* *same 1 if every page the commit would name (its own records and the
 * records it shares) reads as the page's version at base: what was
 * written was written back, and the commit can be left out. */
static int same_records(h5tx_writer *w, const commit_arg *a, int *same, h5tx_error *err) {
  int rc = 0;
  *same = 1;
  for (size_t i = 0; i < a->npl && rc == 0 && *same; i++)
    rc = base_equal(w, a->pl[i].key, &a->pl[i], same, err);
  for (size_t i = 0; i < a->nsh && rc == 0 && *same; i++)
    rc = base_equal(w, a->sh_page[i], &a->sh[i], same, err);
  txn_end(w);
  return rc;
}

int h5tx_writer_commit(h5tx_writer *w, const char *message, h5tx_rev *rev, h5tx_error *err) {
  return h5tx_writer_commit_progress(w, message, NULL, NULL, rev, err);
}

int h5tx_writer_commit_progress(h5tx_writer *w, const char *message, h5tx_commit_fn fn, void *arg,
                                h5tx_rev *rev, h5tx_error *err) {
  if (forked(w)) return fork_err(w, err);
  if (!h5tx_writer_dirty(w)) { /* every change of length also marks it changed */
    if (rev) *rev = w->base;
    return 0;
  }
  progress pr = {fn, arg, 0, w->n};
  int rc = rehome(w, err);
  if (rc == 0) rc = stream(w, 0, &pr, err);
  if (rc == 0) rc = tombstones(w, err);
  if (rc == 0) rc = stream(w, 1, NULL, err); /* the dead pages' tombstones */
  if (rc) return rc;
  commit_arg a = {.w = w, .msg = message};
  if (w->n && (!(a.pl = malloc(w->n * sizeof *a.pl)) || !(a.sh = malloc(w->n * sizeof *a.sh)) ||
               !(a.sh_page = malloc(w->n * sizeof *a.sh_page)))) {
    free(a.pl);
    free(a.sh);
    return oom(err);
  }
  for (size_t i = 0; i < w->cap; i++) {
    const dpage *e = &w->tab[i];
    if (e->page == NO_PAGE) continue;
    if (e->shared) {
      a.sh_page[a.nsh] = e->page;
      a.sh[a.nsh++] = e->place;
    } else if (e->placed) {
      a.pl[a.npl++] = e->place;
    }
  }
  while (fn && pr.done < pr.total && rc == 0) /* pages streamed before the commit */
    rc = tell(w, &pr, 1, err);
  if (rc) {
    free(a.pl);
    free(a.sh);
    free(a.sh_page);
    return rc;
  }
  /* Nothing changed (what was written was written back), same length,
   * same file: no revision. */
  int unchanged = w->fid && w->len == w->base_len;
  if (unchanged && (a.npl || a.nsh) && (rc = same_records(w, &a, &unchanged, err))) {
    free(a.pl);
    free(a.sh);
    free(a.sh_page);
    return rc;
  }
  if (unchanged) {
    a.rev = w->base;
    a.fid = w->fid;
  } else {
    /* Another commit under way: this one waits for the index's write lock,
     * so its page records are flushed meanwhile, leaving the commit
     * record's flush for inside the lock (DECISIONS.md, "Revision costs"). */
    if (h5tx__commit_enter(w->s->pins) && a.npl && w->durability == H5TX_SYNC)
      rc = h5tx__plog_flush(w->s->log, err);
    if (rc == 0) rc = h5tx__kv_write(w->s->kv, commit_fn, &a, 0, err);
    h5tx__commit_leave(w->s->pins);
    if (rc) h5tx__log_void(w->s, &a.lg, w->durability == H5TX_SYNC);
  }
  free(a.pl);
  free(a.sh);
  free(a.sh_page);
  if (rc) return rc;
  w->base = a.rev;
  w->fid = a.fid;
  w->base_len = w->len;
  w->trunc_page = NO_PAGE;
  w->changed = 0;
  drop_all(w);
  h5tx__zpolicy_save(w->s, &w->zp);
  if (w->slot >= 0) h5tx__pin_move(w->s->pins, w->slot, w->base);
  if (rev) *rev = a.rev;
  return 0;
}
