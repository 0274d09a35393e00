/* marker.h - the store's marker file `h5tx-store` (docs/FORMAT.md, "The
 * marker"; format 1's two lines in docs/FORMAT-1.md): read and checked
 * before anything else of a store is touched, written at creation. */
#ifndef H5TX_MARKER_H
#define H5TX_MARKER_H

#include "internal.h"

#define H5TX__MARKER "h5tx-store"

typedef struct h5tx__marker {
  unsigned format; /* 1 or 2 */
  uint8_t id[16];  /* format >= 2: the store id */
  char index[16];  /* format >= 2: the index engine ("lmdb") */
} h5tx__marker;

/* Parse the marker text `buf` (n bytes) of store `path`. A format above
 * `newest` is H5TX_EFORMAT ("has format N; this h5tx reads format NEWEST
 * and older: upgrade h5tx"); a format-2 marker needs its `id` (32 lowercase
 * hex digits) and `index` (an engine this build has) lines; lines after the
 * fourth are ignored. */
int h5tx__marker_parse(const char *path, const char *buf, size_t n, unsigned newest,
                       h5tx__marker *m, h5tx_error *err);

/* Read and parse the marker of store `path` (a special file in its place is
 * refused without reading it; no marker: "not an h5tx store"). */
int h5tx__marker_read(const char *path, unsigned newest, h5tx__marker *m, h5tx_error *err);

/* Write `m` as the marker in directory `dir` (of the store named `store`
 * in messages), synced before it returns. */
int h5tx__marker_write(const char *dir, const char *store, const h5tx__marker *m, h5tx_error *err);

/* 0 for a format-2 marker; for format 1 H5TX_EFORMAT "store S has format
 * 1; run `h5tx upgrade S` to convert it (...)", the one message every
 * entry point but the upgrade gives. */
int h5tx__marker_need2(const char *path, const h5tx__marker *m, h5tx_error *err);

/* A new store id: 128 random bits. */
int h5tx__store_id_new(uint8_t id[16], h5tx_error *err);

#endif
