/* snapshot.c - snapshots: pin a revision, look files up, read pages. */
#include "store.h"

#include "pages2.h"

#include <stdlib.h>

struct h5tx_snap {
  h5tx_store *s;
  h5tx_rev rev;
  int slot;
  uint8_t *buf;  /* one page, for partial page reads */
  uint8_t *zbuf; /* a compressed payload */
  uint32_t buf_size;
  h5tx__run *run; /* whole pages of a read, kept with its payload area */
};

int h5tx__pin_rev(h5tx_store *s, h5tx_rev rev, h5tx_rev *pinned, int *slot, h5tx_error *err) {
  *slot = -1;
  for (int tries = 0; tries < 100; tries++) {
    h5tx_rev want = rev, head;
    h5tx__txn *t;
    int rc;
    if (want == H5TX_HEAD) {
      if ((rc = h5tx_store_head(s, &want, err))) return rc;
    }
    if (s->pins && *slot < 0) {
      if ((rc = h5tx__pin(s->pins, want, slot, err))) return rc;
    } else if (s->pins) {
      h5tx__pin_move(s->pins, *slot, want);
    }
    /* The pin is published: now check, in a new transaction, that the
     * revision was not (being) collected meanwhile. */
    if ((rc = h5tx__kv_read(s->kv, &t, err))) goto fail;
    rc = h5tx__rev_check(s, t, want, &head, err);
    h5tx__kv_done(t);
    if (rc == 0) {
      *pinned = want;
      return 0;
    }
    if (rc == H5TX_EGONE && rev == H5TX_HEAD) continue; /* head moved on and was collected */
  fail:
    if (*slot >= 0) h5tx__unpin(s->pins, *slot);
    *slot = -1;
    return rc;
  }
  if (*slot >= 0) h5tx__unpin(s->pins, *slot);
  *slot = -1;
  return h5tx__err(err, H5TX_EBUSY, "store %s: could not pin head (collected 100 times)", s->path);
}

int h5tx_snap_open(h5tx_store *s, h5tx_rev rev, h5tx_snap **out, h5tx_error *err) {
  h5tx_snap *snap = calloc(1, sizeof *snap);
  if (!snap) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  snap->s = s;
  int rc = h5tx__pin_rev(s, rev, &snap->rev, &snap->slot, err);
  if (rc) {
    free(snap);
    return rc;
  }
  *out = snap;
  return 0;
}

h5tx_rev h5tx_snap_rev(const h5tx_snap *snap) { return snap->rev; }

h5tx_store *h5tx__snap_store(const h5tx_snap *snap) { return snap->s; }

void h5tx_snap_close(h5tx_snap *snap) {
  if (!snap) return;
  if (snap->slot >= 0) h5tx__unpin(snap->s->pins, snap->slot);
  free(snap->buf);
  free(snap->zbuf);
  h5tx__run_free(snap->run);
  free(snap);
}

/* A read transaction in which the snapshot's revision is still readable: a
 * revision gc collected (its pin lost) reads as H5TX_EGONE naming it, never
 * as zeros or as an older page. The flag is set in the transaction that
 * drops the pages, so checking it in the transaction that reads them is
 * enough; a revision only flagged for collection is still whole (and, being
 * pinned, will be spared). */
static int snap_txn(h5tx_snap *snap, h5tx__txn **t, h5tx_error *err) {
  int rc = h5tx__kv_read(snap->s->kv, t, err);
  if (rc) return rc;
  h5tx_rev head;
  if ((rc = h5tx__rev_check_pinned(snap->s, *t, snap->rev, &head, err))) h5tx__kv_done(*t);
  return rc;
}

int h5tx_snap_stat(h5tx_snap *snap, const char *name, h5tx_stat *out, h5tx_error *err) {
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  h5tx__txn *t;
  if ((rc = snap_txn(snap, &t, err))) return rc;
  rc = h5tx__stat(snap->s, t, name, snap->rev, out, err);
  h5tx__kv_done(t);
  return rc;
}

int h5tx_snap_read(h5tx_snap *snap, const char *name, uint64_t off, void *buf, size_t len,
                   h5tx_error *err) {
  h5tx_stat st;
  int rc = h5tx_snap_stat(snap, name, &st, err);
  if (rc) return rc;
  return h5tx_snap_read_stat(snap, name, &st, off, buf, len, err);
}

/* Read `len` bytes at `off` (inside the file) in one index transaction. */
static int read_pages(h5tx_snap *snap, const char *name, const h5tx_stat *st, uint64_t off,
                      uint8_t *out, size_t len, h5tx__run *r, int first, h5tx_error *err) {
  h5tx_store *s = snap->s;
  uint32_t ps = st->page_size;
  h5tx__txn *t;
  int rc = snap_txn(snap, &t, err);
  if (rc) return rc;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err))) {
    h5tx__kv_done(t);
    return rc;
  }
  r->n = r->nz = r->zused = 0; /* what a failed read left */
  while (len > 0 && rc == 0) {
    uint64_t page = off / ps;
    size_t in = (size_t)(off % ps);
    size_t n = ps - in < len ? ps - in : len;
    h5tx__place p;
    h5tx_rev at = 0;
    rc = h5tx__page_find(s, c, name, st->file_id, page, snap->rev, &p, &at, err);
    if (rc == H5TX_ENOENT) {
      memset(out, 0, n);
      rc = 0;
    } else if (rc == 0 && n == ps && h5tx__run_takes(&p, ps)) {
      if ((rc = h5tx__run_add(s, name, r, &p, out, page, at, first, err))) break;
    } else if (rc == 0 && n < ps && h5tx__pcache_get(s->pcache, &p, in, n, out)) {
      /* a part of a page read lately (H5Fopen's metadata reads) */
    } else if (rc == 0) {
      uint8_t *dst = n == ps ? out : snap->buf;
      rc = h5tx__page_get(s, name, &p, page, at, dst, ps, snap->zbuf, first, err);
      if (rc == 0 && dst != out) {
        if (p.enc != PLOG_ENC_ZERO) h5tx__pcache_put(s->pcache, &p, snap->buf);
        memcpy(out, snap->buf + in, n);
      }
    }
    out += n;
    off += n;
    len -= n;
  }
  if (rc == 0) rc = h5tx__run_flush(s, name, r, first, err);
  h5tx__kv_cursor_close(c);
  h5tx__kv_done(t);
  return rc;
}

int h5tx_snap_read_stat(h5tx_snap *snap, const char *name, const h5tx_stat *st, uint64_t off,
                        void *buf, size_t len, h5tx_error *err) {
  h5tx_store *s = snap->s;
  int rc = h5tx__read_clamp(s->path, name, off, &len, buf, st->length, err);
  if (rc || len == 0) return rc;
  uint32_t ps = st->page_size;
  if (snap->buf_size < ps) {
    free(snap->buf);
    free(snap->zbuf);
    snap->buf_size = 0;
    snap->buf = malloc(ps);
    snap->zbuf = malloc(h5tx__zstd_bound(ps));
    if (!snap->buf || !snap->zbuf) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
    snap->buf_size = ps;
  }
  if (!snap->run && !(snap->run = h5tx__run_new()))
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  h5tx__run *r = snap->run;
  rc = read_pages(snap, name, st, off, buf, len, r, 1, err);
  /* A segment compacted away between lookup and read: its records were
   * copied forward first, so a new lookup finds them (FORMAT.md, "Garbage
   * collection"). Once. */
  if (rc == H5TX__SEG_GONE) rc = read_pages(snap, name, st, off, buf, len, r, 0, err);
  return rc;
}

/* One file found by h5tx_snap_list, kept until its callback runs. */
typedef struct listed {
  char name[H5TX_MAX_NAME + 1];
  h5tx_stat st;
} listed;

#define LIST_BATCH 256

int h5tx_snap_list(h5tx_snap *snap, const char *prefix, h5tx_list_fn fn, void *arg,
                   h5tx_error *err) {
  h5tx_store *s = snap->s;
  if (!prefix) prefix = "";
  size_t plen = strlen(prefix);
  if (plen > H5TX_MAX_NAME) return 0;
  listed *batch = malloc(LIST_BATCH * sizeof *batch);
  if (!batch) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  /* Where the next batch starts: the prefix, then past the last name seen.
   * The snapshot's revision is pinned, so what it lists cannot change
   * between batches; each batch is read in its own short transaction and
   * handed to `fn` after it ended. */
  uint8_t from[H5TX_NAME_KEY_MAX];
  size_t fromn = plen;
  memcpy(from, prefix, plen);
  int rc = 0, end = 0;
  while (!end && rc == 0) {
    h5tx__txn *t;
    if ((rc = snap_txn(snap, &t, err))) break;
    h5tx__cur *c;
    if ((rc = h5tx__kv_cursor(t, IDX_NAMES, &c, err))) {
      h5tx__kv_done(t);
      break;
    }
    int n = 0;
    char name[H5TX_MAX_NAME + 2];
    uint8_t key[H5TX_NAME_KEY_MAX];
    h5tx__val k, v;
    rc = h5tx__kv_seek(c, from, fromn, &k, &v, err);
    while (rc == 0 && n < LIST_BATCH) {
      if (k.n < 9 || k.n - 9 > H5TX_MAX_NAME) {
        rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed names key", s->path);
        break;
      }
      size_t nlen = k.n - 9;
      if (nlen < plen || memcmp(k.p, prefix, plen) != 0) {
        rc = H5TX_ENOENT;
        break;
      }
      memcpy(name, k.p, nlen);
      name[nlen] = 0;
      /* The newest entry of this name at or below the snapshot's revision. */
      size_t kl = h5tx__name_key(key, name, nlen, snap->rev);
      rc = h5tx__kv_seek(c, key, kl, &k, &v, err);
      if (rc) break;
      if (k.n == kl && memcmp(k.p, key, nlen + 1) == 0 &&
          (rc = h5tx__idx_value(IDX_NAMES, &k, &v, err)))
        break;
      if (k.n == kl && memcmp(k.p, key, nlen + 1) == 0 && v.n == 8 && h5tx__get_le64(v.p) != 0) {
        h5tx_error gone = {0};
        rc = h5tx__stat(s, t, name, snap->rev, &batch[n].st, &gone);
        if (rc == H5TX_EGONE) { /* its history here was dropped (gc --file) */
          rc = 0;
        } else if (rc) {
          if (err) *err = gone;
          break;
        } else {
          memcpy(batch[n].name, name, nlen + 1);
          n++;
        }
      }
      /* Skip every other entry of this name: name || 01 sorts after them. */
      memcpy(from, name, nlen);
      from[nlen] = 1;
      fromn = nlen + 1;
      rc = h5tx__kv_seek(c, from, fromn, &k, &v, err);
    }
    h5tx__kv_cursor_close(c);
    h5tx__kv_done(t);
    if (rc == H5TX_ENOENT) {
      rc = 0;
      end = 1;
    }
    for (int i = 0; i < n && rc == 0; i++)
      rc = fn(arg, batch[i].name, &batch[i].st);
  }
  free(batch);
  return rc;
}
