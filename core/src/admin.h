/* admin.h - what the inspection files (usage.c, diff.c, verify.c,
 * stats.c) share: scans of a table in batches of short read transactions,
 * and the table of file records (scan.c). */
#ifndef H5TX_ADMIN_H
#define H5TX_ADMIN_H

#include "store.h"

/* Called per record by h5tx__scan(); non-zero stops the scan and is
 * returned. */
typedef int (*scan_fn)(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err);

/* Call `fn` for every record of `table`, in key order, reading batches of
 * records in short read transactions (none is open while `fn` runs). */
int h5tx__scan(h5tx_store *s, int table, scan_fn fn, void *arg, h5tx_error *err);
/* Entries of `table` now. */
int h5tx__count_entries(h5tx_store *s, int table, uint64_t *n, h5tx_error *err);

/* Every file record: id, page size, name. */
typedef struct file_info {
  uint64_t id;
  uint32_t page_size;
  char *name;
} file_info;

typedef struct file_table {
  file_info *v;
  size_t n, cap;
  int bad;
  h5tx_problem_fn problem;
  void *arg;
  const char *store;
} file_table;

/* A scan_fn over `files` that fills a file_table (arg). */
int h5tx__load_file(void *arg, const h5tx__val *k, const h5tx__val *v, h5tx_error *err);
/* The file with id `id`, or NULL. */
const file_info *h5tx__file_find(const file_table *ft, uint64_t id);
void h5tx__files_free(file_table *ft);

#endif
