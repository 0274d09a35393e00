/* stats.c - statistics of a store, its leases and readers. */
#include "admin.h"

#include <stdlib.h>

/* ---- statistics, leases, readers ---------------------------------------------------------------
 */

typedef struct stats_arg {
  h5tx_stats *st;
  file_table files;
} stats_arg;

static int stats_page(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  h5tx_stats *st = ((stats_arg *)arg)->st;
  h5tx__val pv = *v;
  h5tx__place p;
  const char *why;
  st->page_versions++;
  if (h5tx__idx_value(IDX_PAGES, k, &pv, NULL) != 0 || h5tx__place_parse(pv.p, pv.n, &p, &why) != 0)
    return 0; /* damage: verify's to report */
  st->stored_bytes += p.stored;
  if (p.enc == PLOG_ENC_ZSTD) {
    st->zstd_bytes += p.stored;
    st->zstd_raw_bytes += p.raw;
  }
  if (p.enc == PLOG_ENC_LZ4) {
    st->lz4_bytes += p.stored;
    st->lz4_raw_bytes += p.raw;
  }
  return 0;
}

static int stats_commit(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)err;
  stats_arg *sa = arg;
  h5tx__val cv = *v;
  h5tx__commit2 c;
  if (h5tx__idx_value(IDX_COMMITS, k, &cv, NULL) != 0 || h5tx__commit2_parse(cv.p, cv.n, &c) != 0)
    return 0;
  sa->st->revisions++;
  if (c.flags & (H5TX_COMMIT_COLLECTED | H5TX_COMMIT_COLLECTING)) sa->st->collected++;
  if (c.nfiles == 1) {
    const file_info *fi = h5tx__file_find(&sa->files, h5tx__get_le64(c.fids));
    if (fi) sa->st->written_bytes += c.pages_added * fi->page_size;
  }
  return 0;
}

static int stats_tag(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err) {
  (void)k;
  (void)v;
  (void)err;
  ((stats_arg *)arg)->st->tags++;
  return 0;
}

static int stats_file(void *arg, const char *name, const h5tx_stat *st) {
  (void)name;
  h5tx_stats *s = arg;
  s->files++;
  s->logical_bytes += st->length;
  return 0;
}

static int count_lease(void *arg, const h5tx_lease *l) {
  if (l->alive) ++*(uint32_t *)arg;
  return 0;
}

static void count_reader(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since) {
  (void)pid;
  (void)rev;
  (void)since;
  ++*(uint32_t *)arg;
}

int h5tx_store_stats(h5tx_store *s, h5tx_stats *out, h5tx_error *err) {
  memset(out, 0, sizeof *out);
  stats_arg sa = {.st = out};
  sa.files.store = s->path;
  int rc = h5tx__scan(s, IDX_FILES, h5tx__load_file, &sa.files, err);
  if (rc == 0) rc = h5tx__scan(s, IDX_PAGES, stats_page, &sa, err);
  if (rc == 0) rc = h5tx__scan(s, IDX_COMMITS, stats_commit, &sa, err);
  if (rc == 0) rc = h5tx__scan(s, IDX_TAGS, stats_tag, &sa, err);
  h5tx_snap *snap = NULL;
  if (rc == 0) rc = h5tx_snap_open(s, H5TX_HEAD, &snap, err);
  if (rc == 0) {
    out->head = h5tx_snap_rev(snap);
    rc = h5tx_snap_list(snap, NULL, stats_file, out, err);
    h5tx_snap_close(snap); /* not counted below: closed first */
  }
  if (rc == 0) rc = h5tx__live_bytes(s, &out->live_bytes, err);
  if (rc == 0) rc = h5tx__space(s, &out->index_bytes, &out->log_bytes, &out->segments, err);
  if (rc == 0) rc = h5tx_leases(s, count_lease, &out->leases, err);
  if (rc == 0 && s->pins) h5tx__pins_scan(s->pins, count_reader, &out->readers);
  h5tx__files_free(&sa.files);
  return rc;
}

typedef struct reader_arg {
  h5tx_reader_fn fn;
  void *arg;
  int rc;
} reader_arg;

static void each_reader(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since) {
  reader_arg *ra = arg;
  if (ra->rc == 0) ra->rc = ra->fn(ra->arg, pid, rev, since);
}

int h5tx_readers(h5tx_store *s, h5tx_reader_fn fn, void *arg, h5tx_error *err) {
  (void)err;
  if (!s->pins) return 0;
  reader_arg ra = {fn, arg, 0};
  h5tx__pins_scan(s->pins, each_reader, &ra);
  return ra.rc;
}
