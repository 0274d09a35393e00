/* verify.c - full verification of a format-2 store: every segment of the
 * page log scanned batch by batch; every page version's index value, place
 * and payload (read from the log, checked, decoded); every name, length,
 * file, commit, tag, dedupe and segment record and every other index value
 * against its check; in batched scans against one pinned revision. */
#include "admin.h"
#include "dedupe.h"

#include "codec.h"
#include "pages2.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* What the scan of one segment found. */
typedef struct seg_state {
  uint64_t seg;
  uint64_t end; /* the valid part ends here */
  int busy;     /* a live writer was appending to it */
  int rescanned;
} seg_state;

/* A commit or void record found in the log. */
typedef struct log_rec {
  h5tx_rev rev;
  uint64_t seg, off, wid;
} log_rec;

typedef struct verify_arg {
  h5tx_store *s;
  file_table files;
  h5tx_rev head; /* the pinned revision */
  h5tx_rev now;  /* the newest head seen */
  uint8_t *buf, *scratch;
  h5tx_verify_result *out;
  h5tx_problem_fn problem;
  h5tx_progress_fn progress;
  void *parg;
  uint64_t total, done;
  seg_state *segs;
  size_t nsegs, csegs;
  log_rec *commits, *voids; /* in the log */
  size_t ncommits, ccommits, nvoids, cvoids;
  uint8_t *revs; /* per revision 0..head: REV_* */
  h5tx_rev main_last;
} verify_arg;

enum { REV_SEEN = 1, REV_COLLECTED = 2 };

static void say(verify_arg *va, int kind, const char *fmt, ...) H5TX_PRINTF(3, 4);
static void say(verify_arg *va, int kind, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (kind == H5TX_VERIFY_DAMAGE)
    va->out->problems++;
  else
    va->out->notes++;
  if (va->problem) va->problem(va->parg, kind, msg);
}

#define DAMAGE(va, ...) say(va, H5TX_VERIFY_DAMAGE, __VA_ARGS__)

static void file_bad(void *arg, const char *msg) { DAMAGE(arg, "%s", msg); }

static void tick(verify_arg *va) {
  va->done++;
  if (va->progress && va->done % 256 == 0) va->progress(va->parg, va->done, va->total);
}

/* Records of revisions after the pinned head were added by commits that
 * landed during the scan: not judged. A record newer than head as it is
 * now is damage (a commit's records and head move together): 0 then, so
 * the caller reports it. */
static int after_pin(verify_arg *va, h5tx_rev rev) {
  if (rev <= va->head) return 0;
  if (rev > va->now) {
    h5tx_rev h;
    if (h5tx_store_head(va->s, &h, NULL) == 0 && h > va->now) va->now = h;
  }
  return rev <= va->now;
}

/* The value of `key` in `table` as it is now, as stored (check included),
 * copied into *copy (malloc'd). H5TX_ENOENT if it is gone. */
static int refetch(verify_arg *va, int table, const h5tx__val *k, uint8_t **copy, size_t *n,
                   h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(va->s->kv, &t, err);
  if (rc) return rc;
  h5tx__val v;
  rc = h5tx__kv_get(t, table, k->p, k->n, &v, err);
  if (rc == 0) {
    *copy = malloc(v.n ? v.n : 1);
    if (!*copy)
      rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    else
      memcpy(*copy, v.p, *n = v.n);
  }
  h5tx__kv_done(t);
  return rc;
}

/* ---- the page log ----------------------------------------------------------------------- */

static int add_rec(log_rec **v, size_t *n, size_t *cap, log_rec r, h5tx_error *err) {
  if (h5tx__grow(v, cap, *n, sizeof **v, 64)) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  (*v)[(*n)++] = r;
  return 0;
}

static int scan_rec(void *arg, const h5tx__place *p, const void *payload, h5tx_error *err) {
  (void)payload;
  verify_arg *va = arg;
  va->out->log_records++;
  log_rec r = {p->key, p->seg, p->off, p->wid};
  if (p->kind == PLOG_COMMIT) return add_rec(&va->commits, &va->ncommits, &va->ccommits, r, err);
  if (p->kind == PLOG_VOID) return add_rec(&va->voids, &va->nvoids, &va->cvoids, r, err);
  return 0;
}

static int scan_nothing(void *arg, const h5tx__place *p, const void *payload, h5tx_error *err) {
  (void)arg;
  (void)p;
  (void)payload;
  (void)err;
  return 0;
}

/* 1 if segment `seg` ends with an intact seal batch (one header and one
 * block: 8 KiB), its offset to *at: whatever stopped a scan before it is
 * damage inside a sealed segment, not a torn tail. */
static int tail_seal(h5tx__plog *l, uint64_t seg, uint64_t *at) {
  uint64_t size, end;
  int sealed = 0;
  const char *why = NULL;
  h5tx_error e;
  if (h5tx__plog_size(l, seg, &size, &e) != 0 || size < 3 * PLOG_HDR || size % PLOG_HDR) return 0;
  *at = size - 2 * PLOG_HDR;
  return h5tx__plog_scan_from(l, seg, *at, scan_nothing, NULL, &end, &sealed, &why, &e) == 0 &&
         sealed && end == size;
}

static int scan_segment(verify_arg *va, uint64_t seg, h5tx_error *err) {
  h5tx__plog *l = va->s->log;
  seg_state ss = {.seg = seg, .busy = h5tx__plog_busy(l, seg)};
  uint64_t end = 0;
  int sealed = 0;
  const char *why = NULL;
  h5tx_error e = {0, ""};
  int rc = h5tx__plog_scan(l, seg, scan_rec, va, &end, &sealed, &why, &e);
  if (rc == H5TX_ENOENT) return 0; /* deleted since it was listed (compaction) */
  if (rc == H5TX_ENOMEM) return h5tx__err(err, rc, "%s", e.msg);
  va->out->segments++;
  ss.end = end;
  if (rc) {
    /* The header fails, or the file cannot be read: the segment has no
     * valid part past what was scanned. */
    DAMAGE(va, "store %s: page log segment %016llx: %s", va->s->path, (unsigned long long)seg,
           e.msg);
  } else if (why && !ss.busy) {
    /* Stopped before the end, and nobody appends to it any more: in a
     * segment that was sealed it is damage (repair and recovery, which scan,
     * stop there); in one that was not, the torn tail its writer left when
     * it died (or an append failed), which nothing reads. */
    uint64_t seal = 0;
    if (tail_seal(l, seg, &seal))
      DAMAGE(va,
             "store %s: page log segment %016llx: damaged batch at offset %llu (%s) in a sealed "
             "segment (its seal at offset %llu): the records from there on cannot be rebuilt "
             "from the log",
             va->s->path, (unsigned long long)seg, (unsigned long long)end, why,
             (unsigned long long)seal);
    else
      say(va, H5TX_VERIFY_NOTE,
          "store %s: page log segment %016llx: torn tail at offset %llu (%s): its writer stopped "
          "before sealing it (it died, or an append failed); nothing after that offset is read",
          va->s->path, (unsigned long long)seg, (unsigned long long)end, why);
  }
  if (h5tx__grow(&va->segs, &va->csegs, va->nsegs, sizeof *va->segs, 16))
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  va->segs[va->nsegs++] = ss;
  return 0;
}

static seg_state *seg_find(verify_arg *va, uint64_t seg) {
  size_t a = 0, b = va->nsegs;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (va->segs[m].seg < seg)
      a = m + 1;
    else
      b = m;
  }
  return a < va->nsegs && va->segs[a].seg == seg ? &va->segs[a] : NULL;
}

static int cmp_rec(const void *a, const void *b) {
  const log_rec *x = a, *y = b;
  if (x->rev != y->rev) return x->rev < y->rev ? -1 : 1;
  if (x->seg != y->seg) return x->seg < y->seg ? -1 : 1;
  return x->off < y->off ? -1 : x->off > y->off;
}

static const log_rec *rec_find(const log_rec *v, size_t n, h5tx_rev rev) {
  size_t a = 0, b = n;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (v[m].rev < rev)
      a = m + 1;
    else
      b = m;
  }
  return a < n && v[a].rev == rev ? &v[a] : NULL;
}

static void sort_recs(verify_arg *va) {
  if (va->ncommits) qsort(va->commits, va->ncommits, sizeof *va->commits, cmp_rec);
  if (va->nvoids) qsort(va->voids, va->nvoids, sizeof *va->voids, cmp_rec);
}

static int cmp_seg(const void *a, const void *b) {
  const seg_state *x = a, *y = b;
  return x->seg < y->seg ? -1 : x->seg > y->seg;
}

/* The scan of segment `seg`; one made since the log was listed (by a
 * commit, or by compaction copying records forward) is scanned now. NULL
 * if it does not exist. */
static seg_state *seg_get(verify_arg *va, uint64_t seg, h5tx_error *err) {
  seg_state *ss = seg_find(va, seg);
  uint64_t size;
  if (ss || h5tx__plog_size(va->s->log, seg, &size, err) != 0) return ss;
  size_t n = va->nsegs;
  if (scan_segment(va, seg, err) != 0 || va->nsegs == n) return NULL;
  qsort(va->segs, va->nsegs, sizeof *va->segs, cmp_seg);
  sort_recs(va);
  return seg_find(va, seg);
}

static int scan_log(verify_arg *va, h5tx_error *err) {
  uint64_t *segs;
  size_t n;
  int rc = h5tx__plog_segments(va->s->log, &segs, &n, err);
  if (rc) return rc;
  va->total += n;
  for (size_t i = 0; i < n && rc == 0; i++) {
    rc = scan_segment(va, segs[i], err);
    va->done++;
    if (va->progress) va->progress(va->parg, va->done, va->total);
  }
  free(segs);
  sort_recs(va);
  return rc;
}

/* ---- page versions ---------------------------------------------------------------------- */

/* Judge one page version: the first problem goes to msg (empty: none). */
static void judge_version(verify_arg *va, const h5tx__val *k, const h5tx__val *v, char *msg,
                          size_t cap, uint64_t *bytes) {
  const char *path = va->s->path;
  if (k->n != H5TX_PAGE_KEY) {
    snprintf(msg, cap, "store %s: index table pages: a key of %zu bytes, not %d", path, k->n,
             H5TX_PAGE_KEY);
    return;
  }
  uint64_t fid = h5tx__get_be64(k->p), page = h5tx__get_be64((const uint8_t *)k->p + 8);
  h5tx_rev rev = h5tx__key_rev(k);
  const file_info *fi = h5tx__file_find(&va->files, fid);
  char who[700];
  if (fi)
    snprintf(who, sizeof who, "store %s: file '%s' page %llu revision %llu", path, fi->name,
             (unsigned long long)page, (unsigned long long)rev);
  else
    snprintf(who, sizeof who, "store %s: file id %llu page %llu revision %llu", path,
             (unsigned long long)fid, (unsigned long long)page, (unsigned long long)rev);
  h5tx__val pv = *v;
  h5tx_error e = {0, ""};
  if (h5tx__idx_value(IDX_PAGES, k, &pv, &e)) {
    snprintf(msg, cap, "%s: %s", who, e.msg);
    return;
  }
  if (!fi) {
    snprintf(msg, cap, "%s: its file id has no file record", who);
    return;
  }
  if (rev > va->head) {
    snprintf(msg, cap, "%s: newer than head %llu", who, (unsigned long long)va->now);
    return;
  }
  h5tx__place p;
  const char *why = NULL;
  if (h5tx__place_parse(pv.p, pv.n, &p, &why)) {
    snprintf(msg, cap, "%s: %s", who, why);
    return;
  }
  if (fi->page_size < H5TX_MIN_PAGE_SIZE || fi->page_size > H5TX_MAX_PAGE_SIZE) {
    snprintf(msg, cap, "%s: its file's page size (%u bytes) is out of range", who, fi->page_size);
    return;
  }
  if (p.raw != fi->page_size) {
    snprintf(msg, cap, "%s: a page of %u bytes where the file has pages of %u", who, p.raw,
             fi->page_size);
    return;
  }
  if (p.enc == PLOG_ENC_ZERO) return;
  char where[96];
  snprintf(where, sizeof where, "page log segment %016llx offset %llu", (unsigned long long)p.seg,
           (unsigned long long)p.off);
  if (p.enc == PLOG_ENC_EXTERNAL) {
    snprintf(msg, cap, "%s: an external page (%s): this h5tx cannot read it", who, where);
    return;
  }
  seg_state *ss = seg_get(va, p.seg, &e);
  if (!ss) {
    snprintf(msg, cap, "%s: its segment is missing (%s)", who, where);
    return;
  }
  if (p.off + p.stored > ss->end && ss->busy && !ss->rescanned) {
    /* a live writer's segment, grown since it was scanned (a compaction
     * may have moved the record there): scan it again, once */
    uint64_t end;
    int sealed;
    if (h5tx__plog_scan(va->s->log, p.seg, scan_nothing, NULL, &end, &sealed, NULL, &e) == 0)
      ss->end = end;
    ss->rescanned = 1;
  }
  *bytes += p.stored;
  int rc = h5tx__page2_load(va->s->log, &p, va->buf, fi->page_size, va->scratch, &e);
  if (rc) {
    h5tx__page_fail(va->s, fi->name, page, rev, rc, &e);
    snprintf(msg, cap, "%s", e.msg);
    return;
  }
  if ((p.enc == PLOG_ENC_ZSTD || p.enc == PLOG_ENC_LZ4) &&
      h5tx__hash(va->buf, fi->page_size) != p.content) {
    snprintf(msg, cap, "%s: its payload decodes to bytes whose hash is not its content hash (%s)",
             who, where);
    return;
  }
  /* Readable, but past where a scan of its segment stops: recovery and
   * repair would not find its record. */
  if (p.off + p.stored > ss->end && !ss->busy) {
    snprintf(msg, cap,
             "%s: its place (%s, %u bytes) lies beyond the segment's valid part, which ends at "
             "offset %llu",
             who, where, p.stored, (unsigned long long)ss->end);
    return;
  }
  /* Every payload a version points at has its dedupe entry. */
  uint8_t dk[H5TX_DEDUPE_KEY];
  h5tx__dedupe_key(dk, &p);
  h5tx__txn *t;
  if (h5tx__kv_read(va->s->kv, &t, &e) == 0) {
    h5tx__val dv;
    if (h5tx__kv_get(t, IDX_DEDUPE, dk, sizeof dk, &dv, &e) == H5TX_ENOENT)
      snprintf(msg, cap, "%s: its payload (%s) has no dedupe entry", who, where);
    h5tx__kv_done(t);
  }
}

static int verify_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  verify_arg *va = arg;
  if (k->n == H5TX_PAGE_KEY && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->page_versions++;
  tick(va);
  char msg[1024] = "";
  uint64_t bytes = 0;
  judge_version(va, k, v, msg, sizeof msg, &bytes);
  if (msg[0]) {
    /* Judged as it is now: gc may have dropped the version, compaction
     * moved its payload, since the batch was read. */
    uint8_t *now = NULL;
    size_t n = 0;
    int rc = refetch(va, IDX_PAGES, k, &now, &n, err);
    if (rc == H5TX_ENOENT) return 0;
    if (rc) return rc;
    if (n != v->n || memcmp(now, v->p, n) != 0) {
      msg[0] = 0;
      bytes = 0;
      h5tx__val nv = {now, n};
      judge_version(va, k, &nv, msg, sizeof msg, &bytes);
    }
    free(now);
  }
  va->out->bytes += bytes;
  if (msg[0]) DAMAGE(va, "%s", msg);
  return 0;
}

/* ---- the other tables ------------------------------------------------------------------- */

/* Verify an index value's check; 0 with the check cut off, or -1 after
 * reporting it. */
static int checked(verify_arg *va, int table, const h5tx__val *k, h5tx__val *v) {
  h5tx_error e = {0, ""};
  va->out->records++;
  if (h5tx__idx_value(table, k, v, &e) == 0) return 0;
  DAMAGE(va, "store %s: %s", va->s->path, e.msg);
  return -1;
}

static int verify_name(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  if (k->n >= 10 && after_pin(va, h5tx__key_rev(k))) return 0;
  h5tx__val nv = *v;
  if (checked(va, IDX_NAMES, k, &nv)) return 0;
  if (k->n < 10 || ((const uint8_t *)k->p)[k->n - 9] != 0 || nv.n != 8) {
    DAMAGE(va, "store %s: index table names: malformed entry", va->s->path);
    return 0;
  }
  uint64_t fid = h5tx__get_le64(nv.p);
  h5tx_rev rev = h5tx__key_rev(k);
  if ((fid && !h5tx__file_find(&va->files, fid)) || rev > va->head)
    DAMAGE(va, "store %s: names: '%.*s' at revision %llu names file id %llu%s", va->s->path,
           (int)(k->n - 9), (const char *)k->p, (unsigned long long)rev, (unsigned long long)fid,
           rev > va->head ? ", newer than head" : ", which has no file record");
  return 0;
}

static int verify_length(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  if (k->n == H5TX_LEN_KEY && after_pin(va, h5tx__key_rev(k))) return 0;
  h5tx__val lv = *v;
  if (checked(va, IDX_LENGTHS, k, &lv)) return 0;
  if (k->n != H5TX_LEN_KEY || lv.n != 8) {
    DAMAGE(va, "store %s: index table lengths: malformed entry", va->s->path);
    return 0;
  }
  uint64_t fid = h5tx__get_be64(k->p), len = h5tx__get_le64(lv.p);
  h5tx_rev rev = h5tx__key_rev(k);
  if (!h5tx__file_find(&va->files, fid) || rev > va->head || len > (uint64_t)INT64_MAX)
    DAMAGE(va, "store %s: lengths: file id %llu at revision %llu%s", va->s->path,
           (unsigned long long)fid, (unsigned long long)rev,
           rev > va->head              ? " is newer than head"
           : len > (uint64_t)INT64_MAX ? ": a length past 2^63 - 1"
                                       : " has no file record");
  return 0;
}

typedef struct commit_check {
  verify_arg *va;
  h5tx_rev expect;
} commit_check;

static int verify_commit(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  commit_check *cc = arg;
  verify_arg *va = cc->va;
  const char *path = va->s->path;
  h5tx_rev rev = k->n == 8 ? h5tx__get_be64(k->p) : 0;
  if (after_pin(va, rev)) return 0;
  h5tx__val cv = *v;
  h5tx__commit2 c;
  int bad = checked(va, IDX_COMMITS, k, &cv) != 0;
  if (!bad && (k->n != 8 || h5tx__commit2_parse(cv.p, cv.n, &c) != 0)) {
    DAMAGE(va, "store %s: commit record %llu malformed", path, (unsigned long long)rev);
    bad = 1;
  }
  if (bad) {
    /* reported once: taken as the main line's next, so that nothing after
     * it is blamed for it */
    cc->expect = rev + 1;
    if (rev && rev <= va->head) {
      va->revs[rev] |= REV_SEEN;
      va->main_last = rev;
    }
    return 0;
  }
  if (rev != cc->expect)
    DAMAGE(va, "store %s: commit records %llu..%llu missing", path, (unsigned long long)cc->expect,
           (unsigned long long)rev - 1);
  cc->expect = rev + 1;
  if (rev > va->head) {
    DAMAGE(va, "store %s: commit %llu: newer than head %llu", path, (unsigned long long)rev,
           (unsigned long long)va->now);
    return 0;
  }
  va->revs[rev] |= REV_SEEN;
  if (c.flags & H5TX_COMMIT_COLLECTED) va->revs[rev] |= REV_COLLECTED;
  /* The main line: each parent is the main line's previous commit. A
   * branch's commit: an earlier revision. */
  if (c.branch == 0 ? c.parent != va->main_last : c.parent >= rev)
    DAMAGE(va, "store %s: commit %llu: parent %llu, not %llu", path, (unsigned long long)rev,
           (unsigned long long)c.parent,
           (unsigned long long)(c.branch == 0 ? va->main_last : rev - 1));
  if (c.branch == 0) va->main_last = rev;
  for (uint32_t i = 0; i < c.nfiles; i++) {
    uint64_t fid = h5tx__get_le64(c.fids + 8 * i);
    if (!h5tx__file_find(&va->files, fid))
      DAMAGE(va, "store %s: commit %llu: file id %llu unknown", path, (unsigned long long)rev,
             (unsigned long long)fid);
  }
  /* Its commit record in the log, where the index says, and not voided:
   * what repair rebuilds the revision from. */
  h5tx_error e;
  seg_state *ss = seg_get(va, c.seg, &e); /* scanned, if made since the listing */
  const log_rec *lr = rec_find(va->commits, va->ncommits, rev);
  while (lr && lr < va->commits + va->ncommits && lr->rev == rev &&
         !(lr->seg == c.seg && lr->off == c.off))
    lr++;
  if (!lr || lr == va->commits + va->ncommits || lr->rev != rev) {
    DAMAGE(va,
           "store %s: commit %llu: no intact commit record in the page log at segment %016llx "
           "offset %llu%s",
           path, (unsigned long long)rev, (unsigned long long)c.seg, (unsigned long long)c.off,
           !ss ? " (the segment is missing)" : "");
  } else {
    for (const log_rec *vd = rec_find(va->voids, va->nvoids, rev);
         vd && vd < va->voids + va->nvoids && vd->rev == rev; vd++)
      if (vd->wid == lr->wid)
        DAMAGE(va, "store %s: commit %llu: the page log voids its commit record", path,
               (unsigned long long)rev);
  }
  return 0;
}

static int verify_tag(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  h5tx__val tv = *v;
  if (h5tx__idx_value(IDX_TAGS, k, &tv, NULL) == 0 && tv.n == 8 &&
      after_pin(va, h5tx__get_le64(tv.p)))
    return 0; /* a tag set during the scan */
  tv = *v;
  if (checked(va, IDX_TAGS, k, &tv)) return 0;
  h5tx_rev rev = tv.n == 8 ? h5tx__get_le64(tv.p) : 0;
  const char *why = tv.n != 8                                 ? " (malformed)"
                    : rev > va->head                          ? ", newer than head"
                    : rev == 0 || !(va->revs[rev] & REV_SEEN) ? ", which has no commit record"
                    : va->revs[rev] & REV_COLLECTED           ? ", which was collected"
                                                              : NULL;
  if (why)
    DAMAGE(va, "store %s: tag '%.*s' names revision %llu%s", va->s->path, (int)k->n,
           (const char *)k->p, (unsigned long long)rev, why);
  return 0;
}

static int verify_dedupe(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  h5tx__val dv = *v;
  if (checked(va, IDX_DEDUPE, k, &dv)) return 0;
  h5tx__place p;
  uint64_t refs;
  const char *why = NULL;
  if (h5tx__dedupe_parse(k, &dv, &p, &refs, &why) != 0)
    DAMAGE(va, "store %s: index table dedupe: an entry of a %zu-byte key: %s", va->s->path, k->n,
           why);
  else if (refs == 0)
    DAMAGE(va, "store %s: index table dedupe: an entry that no version names (count 0)",
           va->s->path);
  return 0;
}

static int verify_segment_rec(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  h5tx__val sv = *v;
  if (checked(va, IDX_SEGMENTS, k, &sv)) return 0;
  if (k->n != 8 || sv.n != 32 || h5tx__get_le32(sv.p) > 2) {
    DAMAGE(va, "store %s: index table segments: segment %016llx: malformed record", va->s->path,
           k->n == 8 ? (unsigned long long)h5tx__get_be64(k->p) : 0ull);
    return 0;
  }
  /* A segment never shrinks (it is deleted whole): one shorter than what
   * the index has seen of it was cut. (Its valid part may end before that
   * length: recovery after a power cut records a torn tail's length too.) */
  uint64_t seg = h5tx__get_be64(k->p), len = h5tx__get_le64((const uint8_t *)sv.p + 8), size;
  const seg_state *ss = seg_find(va, seg);
  h5tx_error e;
  if (ss && !ss->busy && h5tx__plog_size(va->s->log, seg, &size, &e) == 0 && len > size)
    DAMAGE(va,
           "store %s: page log segment %016llx: cut short: the index has seen %llu bytes of it, "
           "it has %llu",
           va->s->path, (unsigned long long)seg, (unsigned long long)len, (unsigned long long)size);
  return 0;
}

static int verify_meta(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  h5tx__val mv = *v;
  if (checked(va, IDX_META, k, &mv)) return 0;
  const char *bad = NULL;
  if (k->n == 6 && memcmp(k->p, "format", 6) == 0)
    bad = mv.n == 4 && h5tx__get_le32(mv.p) == 2 ? NULL : "not format 2";
  else if (k->n == 8 && memcmp(k->p, "store_id", 8) == 0)
    bad = mv.n == 16 && memcmp(mv.p, va->s->id, 16) == 0 ? NULL : "not the marker's store id";
  if (bad)
    DAMAGE(va, "store %s: index table meta: '%.*s' is %s", va->s->path, (int)k->n,
           (const char *)k->p, bad);
  return 0;
}

/* Tables judged by their checks alone. */
typedef struct only_check {
  verify_arg *va;
  int table;
} only_check;

static int verify_check_only(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  only_check *oc = arg;
  h5tx__val cv = *v;
  checked(oc->va, oc->table, k, &cv);
  return 0;
}

/* Pin head as a snapshot does, but without refusing a head whose commit
 * record is damaged (the scan reports it): only a head collected between
 * reading and pinning it (head moved on meanwhile) is tried again. */
static int pin_head(h5tx_store *s, h5tx_rev *head, int *slot, h5tx_error *err) {
  for (int tries = 0; tries < 100; tries++) {
    int rc = h5tx_store_head(s, head, err);
    if (rc) return rc;
    if (!s->pins) return 0;
    if ((rc = h5tx__pin(s->pins, *head, slot, err))) return rc;
    h5tx__txn *t;
    if ((rc = h5tx__kv_read(s->kv, &t, err))) {
      h5tx__unpin(s->pins, *slot);
      *slot = -1;
      return rc;
    }
    h5tx_rev h;
    h5tx_error ignore;
    rc = h5tx__rev_check_pinned(s, t, *head, &h, &ignore);
    h5tx__kv_done(t);
    if (rc != H5TX_EGONE) return 0;
    h5tx__unpin(s->pins, *slot);
    *slot = -1;
  }
  if (*slot >= 0) h5tx__unpin(s->pins, *slot);
  *slot = -1;
  return h5tx__err(err, H5TX_EBUSY, "store %s: could not pin head (collected 100 times)", s->path);
}

int h5tx_verify(h5tx_store *s, h5tx_problem_fn problem, h5tx_progress_fn progress, void *arg,
                h5tx_verify_result *out, h5tx_error *err) {
  h5tx_verify_result dummy;
  if (!out) out = &dummy;
  memset(out, 0, sizeof *out);
  verify_arg va = {.s = s, .out = out, .problem = problem, .progress = progress, .parg = arg};
  va.files.on_bad = file_bad;
  va.files.arg = &va;
  va.files.store = s->path;
  /* One revision, pinned so that gc keeps it while the scan runs; the
   * files table and the log are read after the pin, so they hold every
   * file and record of it. */
  int slot = -1;
  int rc = pin_head(s, &va.head, &slot, err);
  if (rc) return rc;
  va.now = va.head;
  if (!(va.revs = calloc(va.head + 1, 1))) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = h5tx__scan(s, IDX_FILES, h5tx__load_file, &va.files, err))) goto out;
  out->records += va.files.n + (uint64_t)va.files.bad;
  uint32_t maxps = H5TX_MIN_PAGE_SIZE;
  for (size_t i = 0; i < va.files.n; i++) {
    const file_info *fi = &va.files.v[i];
    if (fi->page_size > maxps) maxps = fi->page_size;
    if (fi->page_size < H5TX_MIN_PAGE_SIZE || fi->page_size > H5TX_MAX_PAGE_SIZE)
      DAMAGE(&va, "store %s: file '%s' (id %llu): a page size of %u bytes", s->path, fi->name,
             (unsigned long long)fi->id, fi->page_size);
    if (fi->created > va.head && !after_pin(&va, fi->created))
      DAMAGE(&va, "store %s: file '%s' (id %llu): created at revision %llu, newer than head",
             s->path, fi->name, (unsigned long long)fi->id, (unsigned long long)fi->created);
    if (fi->origin_fid && !h5tx__file_find(&va.files, fi->origin_fid))
      DAMAGE(&va, "store %s: file '%s' (id %llu): its origin, file id %llu, has no file record",
             s->path, fi->name, (unsigned long long)fi->id, (unsigned long long)fi->origin_fid);
  }
  if (maxps > H5TX_MAX_PAGE_SIZE) maxps = H5TX_MAX_PAGE_SIZE;
  if (!(va.buf = malloc(maxps)) || !(va.scratch = malloc(maxps + maxps / 8 + 512))) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto out;
  }
  uint64_t npages;
  if ((rc = h5tx__count_entries(s, IDX_PAGES, &npages, err))) goto out;
  va.total = npages;
  if ((rc = scan_log(&va, err))) goto out;
  if ((rc = h5tx__scan(s, IDX_PAGES, verify_page, &va, err))) goto out;
  if (progress) progress(arg, va.done, va.total);
  if ((rc = h5tx__scan(s, IDX_NAMES, verify_name, &va, err))) goto out;
  if ((rc = h5tx__scan(s, IDX_LENGTHS, verify_length, &va, err))) goto out;
  commit_check cc = {&va, 1};
  if ((rc = h5tx__scan(s, IDX_COMMITS, verify_commit, &cc, err))) goto out;
  if (va.main_last != va.head)
    DAMAGE(&va, "store %s: head is %llu but the main line's commits end at %llu", s->path,
           (unsigned long long)va.head, (unsigned long long)va.main_last);
  if ((rc = h5tx__scan(s, IDX_TAGS, verify_tag, &va, err))) goto out;
  if ((rc = h5tx__scan(s, IDX_DEDUPE, verify_dedupe, &va, err))) goto out;
  if ((rc = h5tx__scan(s, IDX_SEGMENTS, verify_segment_rec, &va, err))) goto out;
  if ((rc = h5tx__scan(s, IDX_META, verify_meta, &va, err))) goto out;
  static const int rest[] = {IDX_BRANCHES, IDX_EXTERNALS};
  for (size_t i = 0; i < sizeof rest / sizeof *rest && rc == 0; i++) {
    only_check oc = {&va, rest[i]};
    rc = h5tx__scan(s, rest[i], verify_check_only, &oc, err);
  }
out:
  if (slot >= 0) h5tx__unpin(s->pins, slot);
  free(va.buf);
  free(va.scratch);
  free(va.segs);
  free(va.commits);
  free(va.voids);
  free(va.revs);
  h5tx__files_free(&va.files);
  return rc;
}
