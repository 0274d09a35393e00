/* store2.h - a format-2 store's files (docs/FORMAT.md, "The directory"):
 * made at creation (marker, index with its meta, empty page log) and
 * checked against each other at open. Not yet the store's format: the
 * switch makes create_store (store.c) call h5tx__store2_fill. */
#ifndef H5TX_STORE2_H
#define H5TX_STORE2_H

#include "apply2.h"
#include "index.h"
#include "marker.h"

/* Fill the new, empty directory `dir` (the temporary directory of store
 * `store`, named in messages) with a format-2 store: a marker with a new
 * store id (*id gets it), `index/` holding meta (format, store_id, head 0,
 * durable 0, next_file_id 1, next_branch_id 1, defaults from `o`, whose
 * values were checked) and an empty `log/`, every file and directory
 * synced. The live table is the caller's. */
int h5tx__store2_fill(const char *dir, const char *store, const h5tx_store_opts *o, uint8_t id[16],
                      h5tx_error *err);

/* The store's defaults as meta keeps them. */
typedef struct h5tx__defaults {
  uint32_t page_size;
  int codec, level, durability;
} h5tx__defaults;

/* Check that the index meta of store `store` agrees with its marker `m`
 * (format and store id; H5TX_EFORMAT naming both values otherwise) and read
 * its defaults. */
int h5tx__store2_meta(h5tx__kv *kv, const char *store, const h5tx__marker *m, h5tx__defaults *d,
                      h5tx_error *err);

/* Rebuild the index of the format-2 store at `path` from its page log
 * (docs/FORMAT.md, "Repair"): refused while a live snapshot or writer has
 * it open (H5TX_EBUSY) and for format 1 (h5tx__marker_need2). The old
 * `index/` is moved aside to `index.damaged-TIME` (if there is one); the
 * new one gets the marker's format and id, the old index's defaults when
 * they can still be read (else the built-in ones, said), and every revision
 * h5tx__repair_index rebuilds; what it could not is said through `say`.
 * *head gets the head rebuilt. */
int h5tx__repair_store(const char *path, h5tx__say_fn say, void *say_arg, h5tx_rev *head,
                       h5tx_error *err);

#endif
