/* apply2.c - commit records of the page log made into index entries, for
 * commits and for repair (apply2.h). */
#include "apply2.h"

#include "dedupe.h"

#include "internal.h"
#include "records.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int h5tx__meta2_get(h5tx__txn *t, const char *word, uint64_t *v, h5tx_error *err) {
  h5tx__val val;
  int rc = h5tx__idx_get(t, IDX_META, word, strlen(word), &val, err);
  if (rc) return rc;
  if (val.n != 8)
    return h5tx__err(err, H5TX_ECORRUPT, "index table meta key %s: a value of %zu bytes", word,
                     val.n);
  *v = h5tx__get_le64(val.p);
  return 0;
}

int h5tx__meta2_put(h5tx__txn *t, const char *word, uint64_t v, h5tx_error *err) {
  uint8_t b[8];
  h5tx__le64(b, v);
  return h5tx__idx_put(t, IDX_META, word, strlen(word), b, sizeof b, err);
}

static int oom(h5tx_error *err) { return h5tx__err(err, H5TX_ENOMEM, "out of memory"); }

/* Add `fid` to the distinct ids of a commit. */
static int note_fid(h5tx__buf *fids, uint64_t fid) {
  for (size_t i = 0; i + 8 <= fids->n; i += 8)
    if (h5tx__get_le64(fids->p + i) == fid) return 0;
  uint8_t b[8];
  h5tx__le64(b, fid);
  return h5tx__buf_add(fids, b, 8);
}

static int put_place(h5tx__txn *t, uint64_t fid, uint64_t page, h5tx_rev rev, const h5tx__place *p,
                     h5tx_error *err) {
  uint8_t k[H5TX_PAGE_KEY], v[H5TX_PLACE_VAL];
  h5tx__page_key(k, fid, page, rev);
  h5tx__place_encode(v, p);
  int rc = h5tx__idx_put(t, IDX_PAGES, k, sizeof k, v, sizeof v, err);
  return rc ? rc : h5tx__dedupe_ref(t, p, err);
}

/* Where a record a REF operation names is now (repair: compaction may have
 * copied it since the commit record was written): 0 with *p updated, or
 * non-zero when the log does not hold it. */
typedef int (*ref_fn)(void *arg, h5tx__place *p);

static int apply_commit(h5tx__txn *t, const h5tx__lcommit *c, const h5tx__place *at,
                        h5tx__wid_pages_fn pages, void *arg, ref_fn ref, h5tx_error *err) {
  h5tx__buf fids = {0}, b = {0};
  uint64_t next_fid = 1, bytes = 0, npages = 0;
  int rc = h5tx__meta2_get(t, "next_file_id", &next_fid, err);
  if (rc == H5TX_ENOENT) rc = 0;
  h5tx__lcommit_it it = {0};
  h5tx__lop o;
  const char *why = NULL;
  int r;
  while (rc == 0 && (r = h5tx__lcommit_next(c, &it, &o, &why)) == 1) {
    if (o.fid && note_fid(&fids, o.fid)) {
      rc = oom(err);
      break;
    }
    switch (o.op) {
    case LOP_FILE:
      if (h5tx__file2_encode(&b, o.page_size, c->rev, o.a, o.b, o.name, o.name_len)) {
        rc = oom(err);
        break;
      }
      uint8_t fk[8];
      h5tx__be64(fk, o.fid);
      rc = h5tx__idx_put(t, IDX_FILES, fk, 8, b.p, b.n, err);
      if (o.fid >= next_fid) next_fid = o.fid + 1;
      break;
    case LOP_NAME: {
      uint8_t nk[H5TX_NAME_KEY_MAX], v[8];
      if (o.name_len > H5TX_MAX_NAME) {
        rc = h5tx__err(err, H5TX_ECORRUPT, "revision %" PRIu64 ": a name of %zu bytes", c->rev,
                       o.name_len);
        break;
      }
      size_t kl = h5tx__name_key(nk, o.name, o.name_len, c->rev);
      h5tx__le64(v, o.fid);
      rc = h5tx__idx_put(t, IDX_NAMES, nk, kl, v, 8, err);
      break;
    }
    case LOP_LENGTH: {
      uint8_t lk[H5TX_LEN_KEY], v[8];
      h5tx__len_key(lk, o.fid, c->rev);
      h5tx__le64(v, o.a);
      rc = h5tx__idx_put(t, IDX_LENGTHS, lk, sizeof lk, v, 8, err);
      break;
    }
    case LOP_PAGES: {
      const h5tx__place *pl;
      size_t n;
      if ((rc = pages(arg, o.a, &pl, &n, err))) break;
      /* in log order: a later record of a page overwrites the earlier */
      for (size_t i = 0; i < n && rc == 0; i++) {
        rc = put_place(t, o.fid, pl[i].key, c->rev, &pl[i], err);
        bytes += pl[i].stored;
        npages++;
      }
      break;
    }
    case LOP_REF:
      /* repair: a record the log no longer holds (gc collected every
       * version naming it) is left out, as a PAGES record would be */
      if (ref && ref(arg, &o.place) != 0) break;
      rc = put_place(t, o.fid, o.a, c->rev, &o.place, err);
      npages++;
      break;
    }
  }
  if (rc == 0 && r < 0) rc = h5tx__err(err, H5TX_ECORRUPT, "revision %" PRIu64 ": %s", c->rev, why);
  if (rc == 0 && h5tx__commit2_encode(&b, c, fids.p, (uint32_t)(fids.n / 8), bytes, npages, at->wid,
                                      at->seg, at->off))
    rc = oom(err);
  if (rc == 0) {
    uint8_t ck[8];
    h5tx__be64(ck, c->rev);
    rc = h5tx__idx_put(t, IDX_COMMITS, ck, 8, b.p, b.n, err);
  }
  if (rc == 0 && c->branch == 0) rc = h5tx__meta2_put(t, "head", c->rev, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_file_id", next_fid, err);
  h5tx__buf_free(&fids);
  h5tx__buf_free(&b);
  return rc;
}

int h5tx__apply_commit(h5tx__txn *t, const h5tx__lcommit *c, const h5tx__place *at,
                       h5tx__wid_pages_fn pages, void *arg, h5tx_error *err) {
  return apply_commit(t, c, at, pages, arg, NULL, err);
}

int h5tx__apply_tag(h5tx__txn *t, const char *name, size_t nlen, h5tx_rev rev, h5tx_error *err) {
  if (rev == 0) {
    int rc = h5tx__kv_del(t, IDX_TAGS, name, nlen, err);
    return rc == H5TX_ENOENT ? 0 : rc;
  }
  uint8_t v[8];
  h5tx__le64(v, rev);
  return h5tx__idx_put(t, IDX_TAGS, name, nlen, v, 8, err);
}

int h5tx__commit2_flags(h5tx__txn *t, h5tx_rev rev, uint32_t flags, h5tx_error *err) {
  uint8_t ck[8];
  h5tx__val v;
  h5tx__be64(ck, rev);
  int rc = h5tx__idx_get(t, IDX_COMMITS, ck, 8, &v, err);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: no record of revision %" PRIu64,
                     rev);
  if (rc) return rc;
  if (v.n < 8)
    return h5tx__err(err, H5TX_ECORRUPT, "index table commits: revision %" PRIu64 ": %zu bytes",
                     rev, v.n);
  uint8_t *copy = malloc(v.n);
  if (!copy) return oom(err);
  memcpy(copy, v.p, v.n);
  h5tx__le32(copy + 4, flags);
  rc = h5tx__idx_put(t, IDX_COMMITS, ck, 8, copy, v.n, err);
  free(copy);
  return rc;
}

/* --- repair ------------------------------------------------------------ */

typedef struct wid_list {
  uint64_t wid;
  h5tx__place *p;
  size_t n, cap;
} wid_list;

typedef struct found {
  h5tx__place at;
  uint8_t *bytes;
  size_t n;
  uint64_t seq; /* log order */
} found;

typedef struct repair_st {
  wid_list *w; /* open addressing on wid */
  size_t wcap, wn;
  found *commits, *tags, *voids, *cuts;
  size_t nc, cc, nt, ct, nv, cv, ncut, ccut;
  h5tx_rev *collected; /* revisions a collected record names */
  size_t ncol, ccol;
  uint64_t seq;
  h5tx__say_fn say;
  void *say_arg;
} repair_st;

static void say(repair_st *st, const char *fmt, ...) H5TX_PRINTF(2, 3);
static void say(repair_st *st, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (st->say) st->say(st->say_arg, line);
}

static wid_list *wid_slot(repair_st *st, uint64_t wid, int add) {
  if (add && (st->wn + 1) * 2 > st->wcap) {
    size_t cap = st->wcap ? st->wcap * 2 : 64;
    wid_list *nw = calloc(cap, sizeof *nw);
    if (!nw) return NULL;
    for (size_t i = 0; i < st->wcap; i++)
      if (st->w[i].wid) {
        size_t j = (st->w[i].wid * 0x9E3779B97F4A7C15ull) % cap;
        while (nw[j].wid)
          j = (j + 1) % cap;
        nw[j] = st->w[i];
      }
    free(st->w);
    st->w = nw;
    st->wcap = cap;
  }
  if (!st->wcap) return NULL;
  size_t j = (wid * 0x9E3779B97F4A7C15ull) % st->wcap;
  while (st->w[j].wid && st->w[j].wid != wid)
    j = (j + 1) % st->wcap;
  if (!st->w[j].wid) {
    if (!add) return NULL;
    st->w[j].wid = wid;
    st->wn++;
  }
  return &st->w[j];
}

static int keep(found **arr, size_t *n, size_t *cap, const h5tx__place *p, const void *bytes,
                uint64_t seq) {
  if (h5tx__grow(arr, cap, *n, sizeof **arr, 16)) return -1;
  found *f = &(*arr)[*n];
  f->at = *p;
  f->n = p->stored;
  f->seq = seq;
  f->bytes = malloc(p->stored ? p->stored : 1);
  if (!f->bytes) return -1;
  memcpy(f->bytes, bytes, p->stored);
  (*n)++;
  return 0;
}

static int on_record(void *arg, const h5tx__place *p, const void *payload, h5tx_error *err) {
  repair_st *st = arg;
  uint64_t seq = st->seq++;
  int bad = 0;
  switch (p->kind) {
  case PLOG_PAGE: {
    wid_list *w = wid_slot(st, p->wid, 1);
    bad = !w || h5tx__grow(&w->p, &w->cap, w->n, sizeof *w->p, 64);
    if (!bad) w->p[w->n++] = *p;
    break;
  }
  case PLOG_COMMIT: bad = keep(&st->commits, &st->nc, &st->cc, p, payload, seq); break;
  case PLOG_TAG: bad = keep(&st->tags, &st->nt, &st->ct, p, payload, seq); break;
  case PLOG_VOID: bad = keep(&st->voids, &st->nv, &st->cv, p, payload, seq); break;
  case PLOG_CUT: bad = keep(&st->cuts, &st->ncut, &st->ccut, p, payload, seq); break;
  case PLOG_COLLECTED:
    bad = h5tx__grow(&st->collected, &st->ccol, st->ncol, sizeof *st->collected, 16);
    if (!bad) st->collected[st->ncol++] = p->key;
    break;
  default:
    say(st, "segment %016" PRIx64 " offset %" PRIu64 ": record kind %u skipped (a newer h5tx?)",
        p->seg, p->off, p->kind);
  }
  return bad ? oom(err) : 0;
}

static int wid_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n, h5tx_error *err) {
  (void)err;
  wid_list *w = wid_slot(arg, wid, 0);
  *pl = w ? w->p : NULL;
  *n = w ? w->n : 0;
  return 0;
}

static int by_rev_then_seq(const void *a, const void *b) {
  const found *x = a, *y = b;
  if (x->at.key != y->at.key) return x->at.key < y->at.key ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct apply_arg {
  repair_st *st;
  const h5tx__lcommit *c;
  const h5tx__place *at;
  const char *tname;
  size_t tlen;
  h5tx_rev trev, head;
} apply_arg;

/* A record of the scan with the identity of `p` (write id, key, check):
 * where a REF's record is now, also after compaction copied it. */
static int ref_found(void *arg, h5tx__place *p) {
  wid_list *w = wid_slot(arg, p->wid, 0);
  for (size_t i = 0; w && i < w->n; i++)
    if (w->p[i].key == p->key && w->p[i].check == p->check && w->p[i].stored == p->stored) {
      *p = w->p[i];
      return 0;
    }
  return -1;
}

static int apply_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  apply_arg *a = arg;
  int rc = apply_commit(t, a->c, a->at, wid_pages, a->st, ref_found, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", a->c->rev, err);
  return rc;
}

static int tag_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  apply_arg *a = arg;
  return h5tx__apply_tag(t, a->tname, a->tlen, a->trev, err);
}

/* A cut record: the file's history cut (gc --file), if its file was
 * rebuilt and has no later cut. */
static int cut_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  const found *f = arg;
  if (f->n != 16) return 0;
  uint8_t fk[8];
  uint64_t fid = h5tx__get_le64(f->bytes);
  h5tx_rev cut = h5tx__get_le64(f->bytes + 8);
  h5tx__be64(fk, fid);
  h5tx__val v;
  h5tx__file2 fr;
  int rc = h5tx__idx_get(t, IDX_FILES, fk, 8, &v, err);
  if (rc == H5TX_ENOENT) return 0;
  if (rc || h5tx__file2_parse(v.p, v.n, &fr) != 0 || fr.cut >= cut) return rc;
  h5tx__buf b = {0};
  rc = h5tx__file2_recut(&b, &fr, cut) ? oom(err)
                                       : h5tx__idx_put(t, IDX_FILES, fk, 8, b.p, b.n, err);
  h5tx__buf_free(&b);
  return rc;
}

static int collected_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  return h5tx__commit2_flags(t, ((apply_arg *)arg)->trev, H5TX_COMMIT_COLLECTED, err);
}

static int init_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  (void)arg;
  int rc = h5tx__meta2_put(t, "head", 0, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "next_file_id", 1, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "durable", 0, err);
  return rc;
}

static int final_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  return h5tx__meta2_put(t, "durable", *(const h5tx_rev *)arg, err);
}

static int voided(const repair_st *st, const found *c) {
  for (size_t i = 0; i < st->nv; i++)
    if (st->voids[i].at.key == c->at.key && st->voids[i].at.wid == c->at.wid) return 1;
  return 0;
}

/* Scan the segments `segs` (each from[i] on; from NULL: whole) into `st`;
 * damaged tails are said; ends[i] (may be NULL) gets where each valid part
 * ends. */
static int scan_segs(h5tx__plog *l, repair_st *st, const uint64_t *segs, size_t ns,
                     const uint64_t *from, uint64_t *ends, h5tx_error *err) {
  int rc = 0;
  for (size_t i = 0; i < ns && rc == 0; i++) {
    uint64_t end = 0;
    int sealed;
    const char *why = NULL;
    h5tx_error serr = {0};
    int r = h5tx__plog_scan_from(l, segs[i], from ? from[i] : 0, on_record, st, &end, &sealed, &why,
                                 &serr);
    if (ends) ends[i] = end;
    if (r == H5TX_ENOMEM) {
      rc = h5tx__err(err, r, "%s", serr.msg);
    } else if (r) {
      say(st, "segment %016" PRIx64 ": not read: %s", segs[i], serr.msg);
    } else if (why) {
      say(st, "segment %016" PRIx64 ": read up to offset %" PRIu64 ", then %s", segs[i], end, why);
    }
  }
  if (rc == 0 && st->nc) qsort(st->commits, st->nc, sizeof *st->commits, by_rev_then_seq);
  return rc;
}

/* Scan every segment into `st`. */
static int collect(h5tx__plog *l, repair_st *st, uint64_t **segs, size_t *ns, h5tx_error *err) {
  int rc = h5tx__plog_segments(l, segs, ns, err);
  return rc ? rc : scan_segs(l, st, *segs, *ns, NULL, NULL, err);
}

static void st_free(repair_st *st) {
  for (size_t k = 0; k < st->wcap; k++)
    free(st->w[k].p);
  free(st->w);
  free(st->collected);
  found *lists[4] = {st->commits, st->tags, st->voids, st->cuts};
  size_t counts[4] = {st->nc, st->nt, st->nv, st->ncut};
  for (int m = 0; m < 4; m++) {
    for (size_t k = 0; k < counts[m]; k++)
      free(lists[m][k].bytes);
    free(lists[m]);
  }
}

/* Of the commit records for the revision of st->commits[i], the last in log
 * order that is not voided and parses: *pick (NULL if none), *c; *next gets
 * the index after that revision's records. */
static void pick_commit(repair_st *st, size_t i, size_t *next, const found **pick,
                        h5tx__lcommit *c) {
  size_t j = i;
  *pick = NULL;
  for (; j < st->nc && st->commits[j].at.key == st->commits[i].at.key; j++) {
    const char *why;
    h5tx__lcommit cj;
    if (voided(st, &st->commits[j])) continue;
    if (h5tx__lcommit_parse(st->commits[j].bytes, st->commits[j].n, &cj, &why) != 0) {
      say(st, "revision %" PRIu64 ": commit record not read: %s", st->commits[j].at.key, why);
      continue;
    }
    if (cj.rev != st->commits[j].at.key) continue;
    *pick = &st->commits[j];
    *c = cj;
  }
  *next = j;
}

int h5tx__repair_index(h5tx__kv *kv, h5tx__plog *l, h5tx__say_fn sayf, void *say_arg,
                       h5tx_rev *head, h5tx_error *err) {
  repair_st st = {.say = sayf, .say_arg = say_arg};
  uint64_t *segs = NULL;
  size_t ns = 0;
  *head = 0;
  int rc = collect(l, &st, &segs, &ns, err);
  if (rc == 0) rc = h5tx__kv_write(kv, init_fn, NULL, 0, err);
  h5tx_rev last = 0;
  size_t i = 0;
  while (rc == 0 && i < st.nc) {
    size_t j;
    const found *pick;
    h5tx__lcommit c;
    pick_commit(&st, i, &j, &pick, &c);
    h5tx_rev rev = st.commits[i].at.key;
    if (rev <= last) { /* all voided duplicates of an applied revision */
      i = j;
      continue;
    }
    if (!pick || rev != last + 1 || c.parent != last) {
      say(&st,
          "revision %" PRIu64 ": no intact commit record in the page log; the history stops at "
          "revision %" PRIu64 " (%zu commit record(s) after it not applied)",
          last + 1, last, st.nc - i);
      break;
    }
    apply_arg a = {.st = &st, .c = &c, .at = &pick->at};
    rc = h5tx__kv_write(kv, apply_fn, &a, 0, err);
    last = rev;
    i = j;
  }
  for (size_t k = 0; k < st.nt && rc == 0; k++) {
    apply_arg a = {0};
    if (h5tx__ltag_parse(st.tags[k].bytes, st.tags[k].n, &a.tname, &a.tlen, &a.trev) != 0) {
      say(&st, "segment %016" PRIx64 " offset %" PRIu64 ": a tag record not read",
          st.tags[k].at.seg, st.tags[k].at.off);
      continue;
    }
    if (a.trev > last) {
      say(&st, "tag '%.*s': names revision %" PRIu64 ", which was not rebuilt; dropped",
          (int)a.tlen, a.tname, a.trev);
      a.trev = 0;
    }
    rc = h5tx__kv_write(kv, tag_fn, &a, 0, err);
  }
  for (size_t k = 0; k < st.ncol && rc == 0; k++) {
    apply_arg a = {.trev = st.collected[k]};
    if (a.trev <= last) rc = h5tx__kv_write(kv, collected_fn, &a, 0, err);
  }
  for (size_t k = 0; k < st.ncut && rc == 0; k++)
    rc = h5tx__kv_write(kv, cut_fn, &st.cuts[k], 0, err);
  /* one flush at the end makes the rebuilt index durable */
  if (rc == 0) rc = h5tx__kv_write(kv, final_fn, &last, 1, err);
  *head = last;
  st_free(&st);
  free(segs);
  return rc;
}

/* --- recovery ---------------------------------------------------------- */

/* 1 if the scan found a record at place p (same segment, offset, check). */
static int found_place(repair_st *st, const h5tx__place *p) {
  wid_list *w = wid_slot(st, p->wid, 0);
  for (size_t i = 0; w && i < w->n; i++)
    if (w->p[i].seg == p->seg && w->p[i].off == p->off && w->p[i].check == p->check) return 1;
  return 0;
}

typedef struct rec_arg {
  repair_st *st;
  h5tx_rev rev, head, durable;
  int intact;
  h5tx_rev cut; /* roll back revisions >= cut */
} rec_arg;

/* The commit record of `rev` in the index: its files, write id and log
 * place. */
static int commit_of(h5tx__txn *t, h5tx_rev rev, h5tx__val *v, h5tx_error *err) {
  uint8_t ck[8];
  h5tx__be64(ck, rev);
  int rc = h5tx__idx_get(t, IDX_COMMITS, ck, 8, v, err);
  if (rc == 0 && (v->n < 88 || h5tx__get_le32(v->p) != 2))
    rc = h5tx__err(err, H5TX_ECORRUPT, "revision %" PRIu64 ": commit record not readable", rev);
  return rc;
}

/* Are revision `rev`'s log records intact? */
static int rev_intact(h5tx__txn *t, repair_st *st, h5tx_rev rev, int *intact, h5tx_error *err) {
  h5tx__val v;
  int rc = commit_of(t, rev, &v, err);
  if (rc) return rc;
  const uint8_t *d = v.p;
  uint64_t seg = h5tx__get_le64(d + 72), off = h5tx__get_le64(d + 80);
  uint32_t nfiles = h5tx__get_le32(d + 32);
  size_t fo = 88 + h5tx__get_le16(d + 28) + h5tx__get_le16(d + 30);
  *intact = 0;
  int have = 0;
  for (size_t i = 0; i < st->nc; i++)
    if (st->commits[i].at.seg == seg && st->commits[i].at.off == off &&
        st->commits[i].at.key == rev && !voided(st, &st->commits[i]))
      have = 1;
  if (!have || fo + 8 * (size_t)nfiles > v.n) return 0;
  /* every page place of the revision */
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_PAGES, &c, err))) return rc;
  for (uint32_t f = 0; f < nfiles && rc == 0; f++) {
    uint64_t fid = h5tx__get_le64(d + fo + 8 * f);
    uint8_t k[H5TX_PAGE_KEY];
    h5tx__page_key(k, fid, 0, UINT64_MAX);
    h5tx__val key, val;
    int r = h5tx__kv_seek(c, k, 8, &key, &val, err);
    while (r == 0 && key.n == H5TX_PAGE_KEY && h5tx__get_be64(key.p) == fid) {
      if (h5tx__key_rev(&key) == rev) {
        h5tx__place p;
        const char *why;
        if ((rc = h5tx__idx_value(IDX_PAGES, &key, &val, err))) break;
        /* zero pages are records too (of no bytes) */
        if (h5tx__place_parse(val.p, val.n, &p, &why) != 0 || !found_place(st, &p)) {
          h5tx__kv_cursor_close(c);
          return 0;
        }
      }
      r = h5tx__kv_next(c, &key, &val, err);
    }
    if (rc == 0 && r && r != H5TX_ENOENT) rc = r;
  }
  h5tx__kv_cursor_close(c);
  if (rc == 0) *intact = 1;
  return rc;
}

/* Delete every entry of `table` whose key ends in ~rev, for keys that
 * start with `prefix` (plen bytes; 0: the whole table). */
static int drop_rev(h5tx__txn *t, int table, const uint8_t *prefix, size_t plen, h5tx_rev rev,
                    int dedupe_too, h5tx_error *err) {
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, table, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  int r = h5tx__kv_seek(c, prefix, plen, &k, &v, err);
  while (r == 0 && k.n >= plen && memcmp(k.p, prefix, plen) == 0) {
    if (k.n >= 8 && h5tx__key_rev(&k) == rev) {
      if (dedupe_too) {
        h5tx__place p;
        const char *why;
        h5tx__val vv = v;
        if (h5tx__idx_value(table, &k, &vv, err) == 0 &&
            h5tx__place_parse(vv.p, vv.n, &p, &why) == 0) {
          int d = h5tx__dedupe_unref(t, &p, err);
          if (d) {
            rc = d;
            break;
          }
        }
      }
      if ((rc = h5tx__kv_cursor_del(c, err))) break;
      r = h5tx__kv_next(c, &k, &v, err);
      continue;
    }
    r = h5tx__kv_next(c, &k, &v, err);
  }
  if (rc == 0 && r && r != H5TX_ENOENT) rc = r;
  h5tx__kv_cursor_close(c);
  return rc;
}

static int rollback_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  rec_arg *a = arg;
  int rc = 0;
  for (h5tx_rev x = a->head; x >= a->cut && rc == 0; x--) {
    h5tx__val v;
    if ((rc = commit_of(t, x, &v, err))) break;
    const uint8_t *d = v.p;
    uint32_t nfiles = h5tx__get_le32(d + 32);
    size_t fo = 88 + h5tx__get_le16(d + 28) + h5tx__get_le16(d + 30);
    uint64_t *fids = malloc(8 * (size_t)nfiles + 8);
    if (!fids) return oom(err);
    for (uint32_t f = 0; f < nfiles && fo + 8 * (size_t)nfiles <= v.n; f++)
      fids[f] = h5tx__get_le64(d + fo + 8 * f);
    for (uint32_t f = 0; f < nfiles && rc == 0; f++) {
      uint8_t pre[8];
      h5tx__be64(pre, fids[f]);
      rc = drop_rev(t, IDX_PAGES, pre, 8, x, 1, err);
      if (rc == 0) rc = drop_rev(t, IDX_LENGTHS, pre, 8, x, 0, err);
      /* a file created by x goes with it */
      h5tx__val fv;
      int r = rc ? rc : h5tx__idx_get(t, IDX_FILES, pre, 8, &fv, err);
      if (r == 0 && fv.n >= 16 && h5tx__get_le64((const uint8_t *)fv.p + 8) == x)
        rc = h5tx__kv_del(t, IDX_FILES, pre, 8, err);
      else if (r && r != H5TX_ENOENT)
        rc = r;
    }
    free(fids);
    if (rc == 0) rc = drop_rev(t, IDX_NAMES, (const uint8_t *)"", 0, x, 0, err);
    uint8_t ck[8];
    h5tx__be64(ck, x);
    if (rc == 0) rc = h5tx__kv_del(t, IDX_COMMITS, ck, 8, err);
  }
  /* tags naming a dropped revision */
  h5tx__cur *c;
  if (rc == 0 && (rc = h5tx__kv_cursor(t, IDX_TAGS, &c, err)) == 0) {
    h5tx__val k, v;
    int r = h5tx__kv_seek(c, "", 0, &k, &v, err);
    while (r == 0 && rc == 0) {
      if (v.n == 16 && h5tx__get_le64(v.p) >= a->cut) {
        say(a->st, "tag '%.*s' named revision %" PRIu64 ", rolled back: removed", (int)k.n,
            (const char *)k.p, h5tx__get_le64(v.p));
        rc = h5tx__kv_cursor_del(c, err);
      }
      if (rc == 0) r = h5tx__kv_next(c, &k, &v, err);
    }
    h5tx__kv_cursor_close(c);
    if (rc == 0 && r != H5TX_ENOENT) rc = r;
  }
  if (rc == 0) rc = h5tx__meta2_put(t, "head", a->cut - 1, err);
  return rc;
}

static int read_marks(h5tx__kv *kv, h5tx_rev *head, h5tx_rev *durable, uint64_t *boot,
                      h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(kv, &t, err);
  if (rc) return rc;
  rc = h5tx__meta2_get(t, "head", head, err);
  if (rc == 0) rc = h5tx__meta2_get(t, "durable", durable, err);
  if (rc == 0) {
    rc = h5tx__meta2_get(t, "boot", boot, err);
    if (rc == H5TX_ENOENT) {
      *boot = 0;
      rc = 0;
    }
  }
  h5tx__kv_done(t);
  return rc;
}

uint64_t h5tx__boot_id(void) {
  static uint64_t id;
  /* test hook: a power-loss test "reboots" by changing it */
  const char *t = getenv("H5TX_TEST_BOOT");
  if (t && *t) return strtoull(t, NULL, 10) | 1;
  if (id) return id;
  char b[64] = {0};
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
  size_t n = f ? fread(b, 1, sizeof b - 1, f) : 0;
  if (f) fclose(f);
  uint64_t h = n ? h5tx__hash(b, n) : 1;
  id = h ? h : 1;
  return id;
}

int h5tx__segment_put(h5tx__txn *t, uint64_t seg, uint32_t state, uint64_t length,
                      h5tx_error *err) {
  uint8_t k[8], v[32] = {0};
  h5tx__be64(k, seg);
  h5tx__le32(v, state);
  h5tx__le64(v + 8, length);
  h5tx__le64(v + 24, h5tx__now_ns());
  return h5tx__idx_put(t, IDX_SEGMENTS, k, 8, v, sizeof v, err);
}

/* What the index knows of each segment: the length up to which it has
 * taken in the segment's records (0: unknown). */
static int known_lengths(h5tx__kv *kv, const uint64_t *segs, size_t ns, uint64_t *known,
                         h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(kv, &t, err);
  if (rc) return rc;
  for (size_t i = 0; i < ns && rc == 0; i++) {
    uint8_t k[8];
    h5tx__val v;
    h5tx__be64(k, segs[i]);
    known[i] = 0;
    int r = h5tx__idx_get(t, IDX_SEGMENTS, k, 8, &v, err);
    if (r == 0 && v.n >= 16)
      known[i] = h5tx__get_le64((const uint8_t *)v.p + 8);
    else if (r && r != H5TX_ENOENT)
      rc = r;
  }
  h5tx__kv_done(t);
  return rc;
}

static int sync_segments(h5tx__plog *l, const uint64_t *segs, size_t ns, h5tx_error *err) {
  for (size_t i = 0; i < ns; i++) {
    if (h5tx__plog_busy(l, segs[i])) continue; /* its live writer flushes it */
    int rc = h5tx__plog_sync_segment(l, segs[i], err);
    if (rc && rc != H5TX_ENOENT) return rc;
  }
  return 0;
}

typedef struct final_arg {
  h5tx_rev head;
  const uint64_t *segs, *lens;
  size_t ns;
} final_arg;

/* durable = head, the boot, and every segment's length as now read. */
static int final2_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  final_arg *a = arg;
  int rc = h5tx__meta2_put(t, "durable", a->head, err);
  if (rc == 0) rc = h5tx__meta2_put(t, "boot", h5tx__boot_id(), err);
  for (size_t i = 0; i < a->ns && rc == 0; i++)
    rc = h5tx__segment_put(t, a->segs[i], 0, a->lens[i], err);
  return rc;
}

int h5tx__recover_index(h5tx__kv *kv, h5tx__plog *l, h5tx__say_fn sayf, void *say_arg,
                        h5tx_rev *head, h5tx_error *err) {
  repair_st st = {.say = sayf, .say_arg = say_arg};
  uint64_t *segs = NULL, *known = NULL, *size = NULL, boot = 0;
  size_t ns = 0;
  h5tx_rev h = 0, durable = 0;
  int rc = read_marks(kv, &h, &durable, &boot, err);
  /* Without a reboot since the last commit the kernel still has every byte
   * written, the index's too: nothing can be missing, and records past what
   * the index took in are a killed writer's, never committed. */
  int rebooted = boot != h5tx__boot_id();
  if (rc || (h == durable && !rebooted)) { /* the usual open: nothing read, nothing to do */
    *head = h;
    return rc;
  }
  rc = h5tx__plog_segments(l, &segs, &ns, err);
  if (rc == 0 && ns && (!(known = calloc(ns, 8)) || !(size = calloc(ns, 8)))) rc = oom(err);
  if (rc == 0 && ns) rc = known_lengths(kv, segs, ns, known, err);
  int tails = 0;
  for (size_t i = 0; i < ns && rc == 0; i++) {
    int r = h5tx__plog_size(l, segs[i], &size[i], err);
    if (r == H5TX_ENOENT)
      size[i] = known[i] = 0;
    else if (r)
      rc = r;
    else if (size[i] > known[i])
      tails = 1;
  }
  if (rc || (h == durable && !tails)) { /* rebooted, but nothing was in flight */
    *head = h;
    goto out;
  }
  /* After a reboot with commits above durable or records the index has not
   * taken in, every segment is read. */
  if (rebooted) rc = scan_segs(l, &st, segs, ns, NULL, NULL, err);
  /* roll back from the first revision above durable that is not intact */
  h5tx_rev cut = 0;
  if (rc == 0 && rebooted && h > durable) {
    h5tx__txn *t;
    if ((rc = h5tx__kv_read(kv, &t, err)) == 0) {
      for (h5tx_rev r = durable + 1; r <= h && rc == 0 && !cut; r++) {
        int ok = 0;
        rc = rev_intact(t, &st, r, &ok, err);
        if (rc == 0 && !ok) cut = r;
      }
      h5tx__kv_done(t);
    }
  }
  if (rc == 0 && cut) {
    say(&st,
        "revisions %" PRIu64 "-%" PRIu64 " rolled back: their page log records did not reach "
        "the disk",
        cut, h);
    rec_arg a = {.st = &st, .head = h, .cut = cut};
    rc = h5tx__kv_write(kv, rollback_fn, &a, 0, err);
    h = cut - 1;
  }
  /* roll forward what the log holds after head (only read after a reboot) */
  size_t i = 0;
  while (rc == 0 && i < st.nc && st.commits[i].at.key <= h)
    i++;
  while (rc == 0 && i < st.nc) {
    size_t j;
    const found *pick;
    h5tx__lcommit c;
    pick_commit(&st, i, &j, &pick, &c);
    if (!pick || c.rev != h + 1 || c.parent != h) break;
    /* its pages must all be there */
    h5tx__lcommit_it it = {0};
    h5tx__lop o;
    const char *why;
    int r, complete = 1;
    while ((r = h5tx__lcommit_next(&c, &it, &o, &why)) == 1)
      if ((o.op == LOP_PAGES && !wid_slot(&st, o.a, 0)) ||
          (o.op == LOP_REF && ref_found(&st, &o.place) != 0))
        complete = 0;
    if (r < 0 || !complete) break;
    apply_arg a = {.st = &st, .c = &c, .at = &pick->at};
    rc = h5tx__kv_write(kv, apply_fn, &a, 0, err);
    if (rc == 0) say(&st, "revision %" PRIu64 " rolled forward from the page log", c.rev);
    h = c.rev;
    i = j;
  }
  /* the log as it is now is durable; so is the index, with durable = head
   * and every segment's length taken in */
  if (rc == 0) rc = sync_segments(l, segs, ns, err);
  if (rc == 0) {
    final_arg fa = {h, segs, size, ns};
    rc = h5tx__kv_write(kv, final2_fn, &fa, 1, err);
  }
  *head = h;
out:
  st_free(&st);
  free(segs);
  free(known);
  free(size);
  return rc;
}
