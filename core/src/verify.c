/* verify.c - full verification of a store: every page version, name,
 * length, commit and tag record, in batched scans. */
#include "admin.h"

#include "codec.h"

#include <stdio.h>
#include <stdlib.h>

static void report(file_table *ft, uint64_t *count, const char *fmt, ...) H5TX_PRINTF(3, 4);
static void report(file_table *ft, uint64_t *count, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ++*count;
  if (ft->problem) ft->problem(ft->arg, msg);
}

/* ---- verify
 * -------------------------------------------------------------------------------------- */

typedef struct verify_arg {
  h5tx_store *s;
  file_table files;
  h5tx_rev head;
  uint8_t *buf;
  uint32_t buf_size;
  h5tx_verify_result *out;
  h5tx_progress_fn progress;
  void *parg;
  uint64_t total;
  h5tx_rev now; /* the newest head seen (va.head: the pinned one) */
} verify_arg;

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

static int verify_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  verify_arg *va = arg;
  if (k->n == H5TX_PAGE_KEY && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->page_versions++;
  va->out->bytes += v->n;
  if (va->progress && va->out->page_versions % 256 == 0)
    va->progress(va->parg, va->out->page_versions, va->total);
  if (k->n != H5TX_PAGE_KEY) {
    report(&va->files, &va->out->problems, "store %s: pages: key of %zu bytes, not 24", va->s->path,
           k->n);
    return 0;
  }
  const uint8_t *kp = k->p;
  uint64_t fid = h5tx__get_be64(kp), page = h5tx__get_be64(kp + 8);
  h5tx_rev rev = h5tx__key_rev(k);
  const file_info *fi = h5tx__file_find(&va->files, fid);
  if (!fi) {
    report(&va->files, &va->out->problems,
           "store %s: page %llu revision %llu belongs to file id %llu, which has no file record",
           va->s->path, (unsigned long long)page, (unsigned long long)rev, (unsigned long long)fid);
    return 0;
  }
  const char *name = fi->name;
  if (rev > va->head)
    report(&va->files, &va->out->problems,
           "store %s: file '%s' page %llu revision %llu: newer than head %llu", va->s->path, name,
           (unsigned long long)page, (unsigned long long)rev, (unsigned long long)va->now);
  h5tx__page_rec r;
  const char *why = NULL;
  if (h5tx__page_parse(k, v, &r, &why) != 0 ||
      (r.raw_len == fi->page_size && h5tx__page_decode(&r, va->buf, fi->page_size, &why) != 0) ||
      (r.raw_len != fi->page_size && (why = "record length differs from the file's page size"))) {
    report(&va->files, &va->out->problems, "store %s: file '%s' page %llu revision %llu: %s",
           va->s->path, name, (unsigned long long)page, (unsigned long long)rev, why);
  }
  (void)err;
  return 0;
}

static int verify_name(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  if (k->n >= 10 && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->records++;
  if (k->n < 10 || ((const uint8_t *)k->p)[k->n - 9] != 0 || v->n != 8) {
    report(&va->files, &va->out->problems, "store %s: names: malformed entry", va->s->path);
    return 0;
  }
  uint64_t fid = h5tx__get_le64(v->p);
  h5tx_rev rev = h5tx__key_rev(k);
  if ((fid && !h5tx__file_find(&va->files, fid)) || rev > va->head)
    report(&va->files, &va->out->problems,
           "store %s: names: '%.*s' at revision %llu names file id %llu%s", va->s->path,
           (int)(k->n - 9), (const char *)k->p, (unsigned long long)rev, (unsigned long long)fid,
           rev > va->head ? ", newer than head" : ", which has no file record");
  return 0;
}

static int verify_length(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  if (k->n == H5TX_LEN_KEY && after_pin(va, h5tx__key_rev(k))) return 0;
  va->out->records++;
  if (k->n != H5TX_LEN_KEY || v->n != 8) {
    report(&va->files, &va->out->problems, "store %s: lengths: malformed entry", va->s->path);
    return 0;
  }
  uint64_t fid = h5tx__get_be64(k->p);
  h5tx_rev rev = h5tx__key_rev(k);
  if (!h5tx__file_find(&va->files, fid) || rev > va->head)
    report(&va->files, &va->out->problems, "store %s: lengths: file id %llu at revision %llu%s",
           va->s->path, (unsigned long long)fid, (unsigned long long)rev,
           rev > va->head ? " is newer than head" : " has no file record");
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
  h5tx__commit_rec c;
  h5tx_rev rev = k->n == 8 ? h5tx__get_be64(k->p) : 0;
  if (after_pin(va, rev)) return 0;
  va->out->records++;
  if (k->n != 8 || h5tx__commit_parse(v, &c) != 0) {
    report(&va->files, &va->out->problems, "store %s: commit record %llu malformed", va->s->path,
           (unsigned long long)rev);
    cc->expect = rev + 1;
    return 0;
  }
  if (rev != cc->expect)
    report(&va->files, &va->out->problems, "store %s: commit records %llu..%llu missing",
           va->s->path, (unsigned long long)cc->expect, (unsigned long long)rev - 1);
  if (c.parent != rev - 1 || rev > va->head)
    report(&va->files, &va->out->problems, "store %s: commit %llu: parent %llu%s", va->s->path,
           (unsigned long long)rev, (unsigned long long)c.parent,
           rev > va->head ? ", newer than head" : ", not rev - 1");
  for (uint32_t i = 0; i < c.nfiles; i++) {
    uint64_t fid = h5tx__get_le64(c.fids + 8 * i);
    if (!h5tx__file_find(&va->files, fid))
      report(&va->files, &va->out->problems, "store %s: commit %llu: file id %llu unknown",
             va->s->path, (unsigned long long)rev, (unsigned long long)fid);
  }
  cc->expect = rev + 1;
  return 0;
}

static int verify_tag(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  verify_arg *va = arg;
  h5tx_rev rev = v->n == 8 ? h5tx__get_le64(v->p) : 0;
  if (after_pin(va, rev)) return 0; /* a tag set during the scan */
  va->out->records++;
  if (v->n != 8 || rev > va->head)
    report(&va->files, &va->out->problems, "store %s: tag '%.*s' names revision %llu%s",
           va->s->path, (int)k->n, (const char *)k->p, (unsigned long long)rev,
           v->n != 8 ? " (malformed)" : ", newer than head");
  return 0;
}

int h5tx_verify(h5tx_store *s, h5tx_problem_fn problem, h5tx_progress_fn progress, void *arg,
                h5tx_verify_result *out, h5tx_error *err) {
  h5tx_verify_result dummy;
  if (!out) out = &dummy;
  memset(out, 0, sizeof *out);
  verify_arg va = {.s = s, .out = out, .progress = progress, .parg = arg};
  va.files.problem = problem;
  va.files.arg = arg;
  va.files.store = s->path;
  /* One revision, pinned so that gc keeps it while the scan runs; the
   * files table is read after the pin, so it knows every file of it. */
  h5tx_snap *pin = NULL;
  int rc = h5tx_snap_open(s, H5TX_HEAD, &pin, err);
  if (rc) return rc;
  va.head = va.now = h5tx_snap_rev(pin);
  rc = h5tx__scan(s, KV_FILES, h5tx__load_file, &va.files, err);
  if (rc) goto out;
  for (int i = 0; i < va.files.bad; i++)
    report(&va.files, &out->problems, "store %s: files: malformed file record", s->path);
  uint32_t maxps = H5TX_MIN_PAGE_SIZE;
  for (size_t i = 0; i < va.files.n; i++)
    if (va.files.v[i].page_size > maxps) maxps = va.files.v[i].page_size;
  if (!(va.buf = malloc(maxps))) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto out;
  }
  va.buf_size = maxps;
  if ((rc = h5tx__count_entries(s, KV_PAGES, &va.total, err))) goto out;
  if ((rc = h5tx__scan(s, KV_PAGES, verify_page, &va, err))) goto out;
  if (progress) progress(arg, out->page_versions, va.total);
  if ((rc = h5tx__scan(s, KV_NAMES, verify_name, &va, err))) goto out;
  if ((rc = h5tx__scan(s, KV_LENGTHS, verify_length, &va, err))) goto out;
  commit_check cc = {&va, 1};
  if ((rc = h5tx__scan(s, KV_COMMITS, verify_commit, &cc, err))) goto out;
  if (cc.expect != va.head + 1)
    report(&va.files, &out->problems, "store %s: head is %llu but commits end at %llu", s->path,
           (unsigned long long)va.head, (unsigned long long)cc.expect - 1);
  rc = h5tx__scan(s, KV_TAGS, verify_tag, &va, err);
out:
  h5tx_snap_close(pin);
  free(va.buf);
  h5tx__files_free(&va.files);
  return rc;
}
