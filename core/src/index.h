/* index.h - the format-2 index (docs/FORMAT.md, "The index"): the ordered
 * key-value interface of kv.h opened with format 2's tables, every value
 * stored with an 8-byte check over table, key and value, and batched gets.
 * Nothing of the engine appears here: LMDB implements kv.h today, and a
 * PostgreSQL engine would implement the same calls (DECISIONS.md). */
#ifndef H5TX_INDEX_H
#define H5TX_INDEX_H

#include "kv.h"

/* Format 2's tables, numbered as the check hashes them. */
enum {
  IDX_META,
  IDX_NAMES,
  IDX_FILES,
  IDX_PAGES,
  IDX_LENGTHS,
  IDX_COMMITS,
  IDX_TAGS,
  IDX_DEDUPE,
  IDX_SEGMENTS,
  IDX_BRANCHES,
  IDX_EXTERNALS,
  IDX_NTABLES
};

#define H5TX_IDX_CHECK 8

/* The table's name, for messages. */
const char *h5tx__idx_table(int table);

/* Open (create) the index in directory `dir` (the store's `index/`). */
int h5tx__idx_open(const char *dir, int create, int read_only, h5tx__kv **out, h5tx_error *err);

/* The check of `val` (vlen bytes, without the check) under `key`. */
uint64_t h5tx__idx_check(int table, const void *key, size_t klen, const void *val, size_t vlen);

/* Put `key` -> val ‖ check. */
int h5tx__idx_put(h5tx__txn *t, int table, const void *key, size_t klen, const void *val,
                  size_t vlen, h5tx_error *err);

/* Verify a stored value `v` found under `k` (by get, seek or next) and cut
 * its check off. H5TX_ECORRUPT naming the table and key on a mismatch. */
int h5tx__idx_value(int table, const h5tx__val *k, h5tx__val *v, h5tx_error *err);

/* Get and verify; H5TX_ENOENT if absent (err untouched). */
int h5tx__idx_get(h5tx__txn *t, int table, const void *key, size_t klen, h5tx__val *val,
                  h5tx_error *err);

/* Get `n` keys at once: vals[i] verified, or {NULL, 0} when absent. The
 * first corrupt value fails the call. */
int h5tx__idx_get_many(h5tx__txn *t, int table, const h5tx__val *keys, size_t n, h5tx__val *vals,
                       h5tx_error *err);

#endif
