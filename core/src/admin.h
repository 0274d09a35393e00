/* admin.h - what the inspection files (usage.c, diff.c, verify.c,
 * stats.c) share: scans of an index table in batches of short read
 * transactions, the table of file records (scan.c), and what the store
 * takes on disk (usage.c). */
#ifndef H5TX_ADMIN_H
#define H5TX_ADMIN_H

#include "store.h"

/* Called per record by h5tx__scan(), with the value as stored (its index
 * check still on: h5tx__idx_value verifies and cuts it); non-zero stops
 * the scan and is returned. */
typedef int (*scan_fn)(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err);

/* Call `fn` for every record of index table `table`, in key order, reading
 * batches of records in short read transactions (none is open while `fn`
 * runs). */
int h5tx__scan(h5tx_store *s, int table, scan_fn fn, void *arg, h5tx_error *err);
/* Entries of `table` now. */
int h5tx__count_entries(h5tx_store *s, int table, uint64_t *n, h5tx_error *err);

/* Every file record: id, page size, name, origin. */
typedef struct file_info {
  uint64_t id;
  uint32_t page_size;
  h5tx_rev created;
  uint64_t origin_fid;
  h5tx_rev origin_rev;
  char *name;
} file_info;

typedef struct file_table {
  file_info *v;
  size_t n, cap;
  int bad; /* records that failed their check or did not parse */
  /* Called for each such record with a message naming store and key (may
   * be NULL); `store` is the store's path for it. */
  void (*on_bad)(void *arg, const char *msg);
  void *arg;
  const char *store;
} file_table;

/* A scan_fn over `files` that fills a file_table (arg). */
int h5tx__load_file(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err);
/* The file with id `id`, or NULL. */
const file_info *h5tx__file_find(const file_table *ft, uint64_t id);
void h5tx__files_free(file_table *ft);

/* The files a file reads its pages through: itself at the revision read,
 * then its origin at the origin revision, and so on (FORMAT.md, "Origin"). */
#define H5TX_ORIGIN_MAX 64
typedef struct page_chain {
  size_t n;
  uint64_t fid[H5TX_ORIGIN_MAX + 1];
  h5tx_rev rev[H5TX_ORIGIN_MAX + 1];
} page_chain;

/* The chain of file `fid` read at `rev`, from the files records in `t`.
 * H5TX_ECORRUPT naming the store when a record is missing, fails its check
 * or the chain is longer than H5TX_ORIGIN_MAX. */
int h5tx__chain_load(h5tx_store *s, h5tx__txn *t, uint64_t fid, h5tx_rev rev, page_chain *ch,
                     h5tx_error *err);
/* The version page `page` reads through chain `ch` (cursor on `pages`):
 * the first link's newest version at or below its revision. 0 with the
 * place, its revision (*at) and the link (*link, 0: the file itself; may be
 * NULL); H5TX_ENOENT if no link has one (err untouched); H5TX_ECORRUPT. */
int h5tx__chain_find(h5tx__cur *c, const page_chain *ch, uint64_t page, h5tx__place *p,
                     h5tx_rev *at, size_t *link, h5tx_error *err);

/* What the store takes on disk: the index's files, the page log's segment
 * files and their number (usage.c). */
int h5tx__space(h5tx_store *s, uint64_t *index_bytes, uint64_t *log_bytes, uint64_t *segments,
                h5tx_error *err);
/* Payload bytes of the page-log records that page versions point at, each
 * record once (the `dedupe` table holds one entry per such record). */
int h5tx__live_bytes(h5tx_store *s, uint64_t *live, h5tx_error *err);

#endif
