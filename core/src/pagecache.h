/* pagecache.h - a small cache of decoded pages for one process's handles
 * of a store (docs/FORMAT.md, "Reads"): the small repeated reads an
 * H5Fopen makes of the same pages are served without reading, hashing or
 * decoding the page again. Keyed by the record (segment, offset and check),
 * so one entry serves every revision and file that shares the record. */
#ifndef H5TX_PAGECACHE_H
#define H5TX_PAGECACHE_H

#include "pagelog.h"

#include <stddef.h>
#include <stdint.h>

typedef struct h5tx__pcache h5tx__pcache;

/* A cache of about `bytes` (entries are whole pages); NULL when out of
 * memory (the callers then read without one). */
h5tx__pcache *h5tx__pcache_new(size_t bytes);
void h5tx__pcache_free(h5tx__pcache *c);

/* Copy bytes [in, in + n) of the decoded page of record `p` into `dst`: 1
 * if cached, 0 if not (c may be NULL). Safe from several threads. */
int h5tx__pcache_get(h5tx__pcache *c, const h5tx__place *p, size_t in, size_t n, void *dst);

/* Keep the decoded page `page` (p->raw bytes, verified) of record `p`. */
void h5tx__pcache_put(h5tx__pcache *c, const h5tx__place *p, const void *page);

#endif
