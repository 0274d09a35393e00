/* pageio.c - page access shared by snapshots and writers (store.h): find
 * the newest version of a page at or below a revision, load it from the
 * page log with its check verified (one page, or runs of whole pages whose
 * compressed ones are decoded in parallel), clamp
 * a read to a file's length, look a file up at a revision. */
#include "store.h"

#include "pages2.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

int h5tx__page_find(h5tx_store *s, h5tx__cur *c, const char *name, uint64_t fid, uint64_t page,
                    h5tx_rev rev, h5tx__place *p, h5tx_rev *at, h5tx_error *err) {
  int rc = h5tx__page2_find(c, fid, page, rev, p, at, err);
  if (rc == H5TX_ECORRUPT && err) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, rc, "store %s: file '%s': %s", s->path, name, why);
  }
  return rc;
}

int h5tx__page_fail(h5tx_store *s, const char *name, uint64_t page, h5tx_rev at, int rc,
                    h5tx_error *err) {
  if (rc == H5TX_ENOENT) /* the segment is gone */
    return h5tx__err(err, H5TX_ECORRUPT,
                     "store %s: file '%s' page %llu revision %llu: its page log segment is gone",
                     s->path, name, (unsigned long long)page, (unsigned long long)at);
  if (err && (rc == H5TX_ECORRUPT || rc == H5TX_EFORMAT)) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, rc, "store %s: file '%s' page %llu revision %llu: %s", s->path, name,
              (unsigned long long)page, (unsigned long long)at, why);
  }
  return rc;
}

int h5tx__page_get(h5tx_store *s, const char *name, const h5tx__place *p, uint64_t page,
                   h5tx_rev at, uint8_t *dst, uint32_t ps, uint8_t *zbuf, int first,
                   h5tx_error *err) {
  int rc = h5tx__page2_load(s->log, p, dst, ps, zbuf, err);
  if (rc == H5TX_ENOENT && first) return H5TX__SEG_GONE;
  return rc ? h5tx__page_fail(s, name, page, at, rc, err) : 0;
}

int h5tx__read_clamp(const char *store, const char *name, uint64_t off, size_t *len, void *buf,
                     uint64_t length, h5tx_error *err) {
  if (off + *len < off)
    return h5tx__err(err, H5TX_ERANGE, "store %s: file '%s': read at %llu + %zu overflows", store,
                     name, (unsigned long long)off, *len);
  if (off >= length) {
    memset(buf, 0, *len);
    *len = 0;
  } else if (off + *len > length) {
    size_t inside = (size_t)(length - off);
    memset((uint8_t *)buf + inside, 0, *len - inside);
    *len = inside;
  }
  return 0;
}

int h5tx__stat(h5tx_store *s, h5tx__txn *t, const char *name, h5tx_rev rev, h5tx_stat *st,
               h5tx_error *err) {
  uint64_t fid = 0;
  int rc = h5tx__name_lookup(t, name, rev, &fid, NULL, err);
  if (rc == H5TX_ENOENT || (rc == 0 && fid == 0))
    return h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at revision %llu", s->path, name,
                     (unsigned long long)rev);
  if (rc) return rc;
  uint8_t fk[8];
  h5tx__be64(fk, fid);
  h5tx__val v;
  h5tx__file2 fr;
  rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err);
  if (rc == H5TX_ENOENT || (rc == 0 && h5tx__file2_parse(v.p, v.n, &fr) != 0))
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' (id %llu) has no valid file record",
                     s->path, name, (unsigned long long)fid);
  if (rc) return rc;
  if (fr.cut && rev < fr.cut)
    return h5tx__err(err, H5TX_EGONE,
                     "store %s: file '%s' at revision %llu: its history before revision %llu was "
                     "dropped (gc --file)",
                     s->path, name, (unsigned long long)rev, (unsigned long long)fr.cut);
  rc = h5tx__length_lookup(t, fid, rev, &st->length, &st->changed, err);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: file '%s' has no length at revision %llu",
                     s->path, name, (unsigned long long)rev);
  if (rc) return rc;
  st->file_id = fid;
  st->page_size = fr.page_size;
  st->created = fr.created;
  return 0;
}

h5tx__run *h5tx__run_new(void) { return calloc(1, sizeof(h5tx__run)); }

void h5tx__run_free(h5tx__run *r) {
  if (!r) return;
  free(r->z);
  free(r);
}

int h5tx__run_takes(const h5tx__place *p, uint32_t ps) {
  return p->raw == ps && (p->enc == PLOG_ENC_RAW ||
                          ((p->enc == PLOG_ENC_ZSTD || p->enc == PLOG_ENC_LZ4) && p->stored <= ps));
}

/* Threads for decoding: the cores this process may use, at most 4. */
static int decode_threads(void) {
  static int n;
  int v = __atomic_load_n(&n, __ATOMIC_RELAXED);
  if (!v) {
    cpu_set_t set;
    v = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    v = v < 1 ? 1 : v > 4 ? 4 : v;
    __atomic_store_n(&n, v, __ATOMIC_RELAXED);
  }
  return v;
}

/* A run's compressed pages being decoded: the calling thread and up to 3
 * helpers take pages in turn until none is left, and the caller then waits
 * only for the pages a helper has taken and not finished. A helper the
 * scheduler has not run yet (a loaded machine) takes nothing and costs
 * the read nothing: the caller never joins it. Helpers are detached and
 * hold a reference, so the last one out frees this. */
typedef struct djob {
  h5tx__run *r;
  uint8_t idx[H5TX__RUN_MAX]; /* the run's compressed pages, in page order */
  size_t nz;
  size_t next, done; /* atomics: pages taken, pages finished */
  int refs;          /* atomic: the caller and each helper started */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t bad; /* the first page (in idx order) that failed, nz if none */
  int rc;
  h5tx_error e;
} djob;

static void djob_unref(djob *j) {
  if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j);
}

/* Take and decode pages until none is left. */
static void decode_take(djob *j) {
  size_t i;
  while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_ACQ_REL)) < j->nz) {
    size_t k = j->idx[i];
    h5tx_error e1 = {0};
    int rc = h5tx__page2_decode(&j->r->p[k], j->r->z + j->r->zoff[k], j->r->dst[k], &e1);
    pthread_mutex_lock(&j->mu);
    if (rc && i < j->bad) {
      j->bad = i;
      j->rc = rc;
      j->e = e1;
    }
    if (++j->done == j->nz) pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
  }
}

/* Helpers started and not yet finished, all calls: the library is not
 * unloaded under one (a plugin's dlclose, exit) - see helpers_gone. */
static int live_helpers;

static void *decode_helper(void *arg) {
  djob *j = arg;
  /* a helper that starts after the caller returned finds nothing to take
   * and touches nothing of the run */
  decode_take(j);
  djob_unref(j);
  __atomic_sub_fetch(&live_helpers, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* When this library is unloaded or the process exits, helpers the
 * scheduler has not run yet still hold code of it: let them finish (they
 * find nothing left to take). */
__attribute__((destructor)) static void helpers_gone(void) {
  while (__atomic_load_n(&live_helpers, __ATOMIC_ACQUIRE) > 0)
    sched_yield();
}

/* A fork child has none of its parent's threads: none to wait for. */
static void helpers_forked(void) { __atomic_store_n(&live_helpers, 0, __ATOMIC_RELAXED); }

__attribute__((constructor)) static void helpers_init(void) {
  pthread_atfork(NULL, NULL, helpers_forked);
}

/* Below this many compressed pages a run decodes them in the calling
 * thread: starting threads costs more than it saves (docs/DECISIONS.md,
 * "Reads of compressed pages"). */
#define PAR_MIN 8

static int decode_run(h5tx_store *s, const char *name, h5tx__run *r, h5tx_error *err) {
  djob *j = malloc(sizeof *j);
  if (!j) return h5tx__err(err, H5TX_ENOMEM, "store %s: file '%s': out of memory", s->path, name);
  j->r = r;
  j->nz = 0;
  for (size_t k = 0; k < r->n; k++)
    if (r->p[k].enc != PLOG_ENC_RAW) j->idx[j->nz++] = (uint8_t)k;
  j->next = j->done = 0;
  j->refs = 1;
  j->bad = j->nz;
  j->rc = 0;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  int helpers = j->nz >= PAR_MIN ? decode_threads() - 1 : 0;
  if (helpers > 0) {
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (int t = 0; t < helpers; t++) {
      pthread_t th;
      __atomic_add_fetch(&j->refs, 1, __ATOMIC_ACQ_REL);
      __atomic_add_fetch(&live_helpers, 1, __ATOMIC_ACQ_REL);
      if (pthread_create(&th, &at, decode_helper, j) != 0) {
        __atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL); /* this thread does it */
        __atomic_sub_fetch(&live_helpers, 1, __ATOMIC_ACQ_REL);
        break;
      }
    }
    pthread_attr_destroy(&at);
  }
  decode_take(j);
  pthread_mutex_lock(&j->mu);
  while (j->done < j->nz)
    pthread_cond_wait(&j->cv, &j->mu);
  int rc = j->rc;
  size_t k = rc ? j->idx[j->bad] : 0;
  if (rc && err) *err = j->e;
  pthread_mutex_unlock(&j->mu);
  djob_unref(j);
  /* the first bad page of the run names the failure */
  return rc ? h5tx__page_fail(s, name, r->page[k], r->at[k], rc, err) : 0;
}

int h5tx__run_flush(h5tx_store *s, const char *name, h5tx__run *r, int first, h5tx_error *err) {
  if (r->n == 0) return 0;
  void *rd[H5TX__RUN_MAX]; /* where each payload is read */
  for (size_t k = 0; k < r->n; k++)
    rd[k] = r->p[k].enc == PLOG_ENC_RAW ? r->dst[k] : r->z + r->zoff[k];
  int rc = h5tx__plog_read_run(s->log, r->p, r->n, rd, err);
  if (rc == H5TX_ENOENT && first) {
    rc = H5TX__SEG_GONE;
  } else if (rc) {
    /* Which page: read them one by one for the message. */
    for (size_t i = 0; i < r->n; i++) {
      h5tx_error e1 = {0};
      int r1 = h5tx__plog_read(s->log, &r->p[i], rd[i], &e1);
      if (r1) {
        if (err) *err = e1;
        rc = h5tx__page_fail(s, name, r->page[i], r->at[i], r1, err);
        break;
      }
    }
  } else if (r->nz) {
    rc = decode_run(s, name, r, err);
  }
  r->n = r->nz = r->zused = 0;
  return rc;
}

/* The payload area of a run holds at most this much (or one payload): a
 * run of large compressed pages is read and decoded in parts, so the area
 * a snapshot keeps stays small. */
#define ZAREA_MAX ((size_t)2 << 20)

int h5tx__run_add(h5tx_store *s, const char *name, h5tx__run *r, const h5tx__place *p, void *dst,
                  uint64_t page, h5tx_rev at, int first, h5tx_error *err) {
  int full = r->n == H5TX__RUN_MAX ||
             (p->enc != PLOG_ENC_RAW && r->zused && r->zused + p->stored > ZAREA_MAX);
  int rc = full ? h5tx__run_flush(s, name, r, first, err) : 0;
  if (rc) return rc;
  if (p->enc != PLOG_ENC_RAW) {
    /* its payload goes into the payload area, grown to hold it (at most
     * ZAREA_MAX, or this one payload) */
    if (r->zused + p->stored > r->zcap) {
      size_t need = r->zused + p->stored, cap = r->zcap ? r->zcap : (size_t)p->raw * 8;
      while (cap < need)
        cap *= 2;
      if (cap > ZAREA_MAX) cap = need > ZAREA_MAX ? need : ZAREA_MAX;
      uint8_t *z = realloc(r->z, cap);
      if (!z)
        return h5tx__err(err, H5TX_ENOMEM, "store %s: file '%s': out of memory", s->path, name);
      r->z = z;
      r->zcap = cap;
    }
    r->zoff[r->n] = r->zused;
    r->zused += p->stored;
    r->nz++;
  }
  r->p[r->n] = *p;
  r->dst[r->n] = dst;
  r->page[r->n] = page;
  r->at[r->n++] = at;
  return 0;
}
