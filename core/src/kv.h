/* kv.h - the narrow interface between the page store and its storage:
 * read transactions, write transactions, ordered get/put/seek, commit.
 * LMDB (kv_lmdb.c) is the embedded implementation; no LMDB type appears
 * above this line, so another engine (PostgreSQL at REPEATABLE READ) can
 * sit behind the same calls.
 *
 * Values returned by get/seek/next point into storage owned by the
 * transaction and are valid until it ends. */
#ifndef H5TX_KV_H
#define H5TX_KV_H

#include "h5tx.h"

#include <stddef.h>
#include <stdint.h>

typedef struct h5tx__kv h5tx__kv;
typedef struct h5tx__txn h5tx__txn;
typedef struct h5tx__cur h5tx__cur;

/* The tables of format 1 (LMDB sub-databases), docs/FORMAT-1.md. */
enum {
  KV_META,
  KV_NAMES,
  KV_FILES,
  KV_PAGES,
  KV_LENGTHS,
  KV_COMMITS,
  KV_TAGS,
  KV_LEASES,
  KV_NTABLES
};

typedef struct h5tx__val {
  const void *p;
  size_t n;
} h5tx__val;

/* Internal code: the engine asks for the write transaction to run again
 * (LMDB: its map is full and has grown; PostgreSQL: a serialization
 * failure). h5tx__kv_write replays; a write function passes it up
 * unchanged and computes everything from what it reads. */
#define H5TX__ERETRY (-1000)

/* Open (or, with `create`, create) the environment in directory `dir`.
 * Errors: H5TX_EIO, H5TX_ENOMEM, H5TX_ENOSPC, H5TX_EFORMAT (not LMDB). */
/* Whether `name` (an entry of the store's directory) is one of the engine's
 * files. */
int h5tx__kv_owns(const char *name);
int h5tx__kv_open(const char *dir, int create, int read_only, uint64_t map_size, h5tx__kv **out,
                  h5tx_error *err);
/* The same with the table set `tables` (ntables names, at most 16): table
 * numbers in the calls below index it. h5tx__kv_open opens format 1's
 * (KV_*); index.h opens format 2's. */
int h5tx__kv_open_tables(const char *dir, const char *const *tables, int ntables, int create,
                         int read_only, uint64_t map_size, h5tx__kv **out, h5tx_error *err);
void h5tx__kv_close(h5tx__kv *kv);

/* Begin a read transaction: a consistent view until h5tx__kv_done(). Keep
 * it short. Errors: H5TX_EIO, H5TX_EFORK. */
int h5tx__kv_read(h5tx__kv *kv, h5tx__txn **out, h5tx_error *err);
void h5tx__kv_done(h5tx__txn *txn);

/* Run `fn` in a write transaction and commit it. If `fn` or the commit hits
 * a full map, the map grows and `fn` runs again from the start in a new
 * transaction, so `fn` must compute everything from what it reads there.
 * A non-zero return of `fn` aborts the transaction and is returned. With
 * `sync`, the commit is on disk when this returns.
 * Errors: fn's, H5TX_ENOSPC (nothing committed), H5TX_EIO, H5TX_EROFS. */
typedef int (*h5tx__kv_fn)(h5tx__txn *txn, void *arg, h5tx_error *err);
int h5tx__kv_write(h5tx__kv *kv, h5tx__kv_fn fn, void *arg, int sync, h5tx_error *err);

/* Make room in the map for a write of about `bytes` before it starts, so a
 * large commit does not fill the map half-way and run again. */
int h5tx__kv_prepare(h5tx__kv *kv, uint64_t bytes, h5tx_error *err);

/* Get the value of `key`. H5TX_ENOENT if absent (err untouched). */
int h5tx__kv_get(h5tx__txn *t, int table, const void *key, size_t klen, h5tx__val *val,
                 h5tx_error *err);
/* Put `key` -> value (write transactions only). */
int h5tx__kv_put(h5tx__txn *t, int table, const void *key, size_t klen, const void *val,
                 size_t vlen, h5tx_error *err);
/* Reserve `vlen` bytes for `key` and return where to write the value
 * (valid until the next call on this transaction). */
int h5tx__kv_reserve(h5tx__txn *t, int table, const void *key, size_t klen, size_t vlen,
                     void **where, h5tx_error *err);
/* Delete `key`; H5TX_ENOENT if absent (err untouched). */
int h5tx__kv_del(h5tx__txn *t, int table, const void *key, size_t klen, h5tx_error *err);

/* Cursors: ordered by key bytes. */
int h5tx__kv_cursor(h5tx__txn *t, int table, h5tx__cur **out, h5tx_error *err);
void h5tx__kv_cursor_close(h5tx__cur *c);
/* Position at the first key >= `key` (klen 0: the first key).
 * H5TX_ENOENT if there is none (err untouched). */
int h5tx__kv_seek(h5tx__cur *c, const void *key, size_t klen, h5tx__val *k, h5tx__val *v,
                  h5tx_error *err);
/* Move to the next key; H5TX_ENOENT at the end (err untouched). */
int h5tx__kv_next(h5tx__cur *c, h5tx__val *k, h5tx__val *v, h5tx_error *err);
/* Delete the key under the cursor (write transactions only); the cursor
 * then stands so that h5tx__kv_next() returns the key after it. */
int h5tx__kv_cursor_del(h5tx__cur *c, h5tx_error *err);

/* Number of entries in `table` as of transaction `t`. */
int h5tx__kv_count(h5tx__txn *t, int table, uint64_t *n, h5tx_error *err);

/* Space: bytes of pages in use, size of the data file. */
int h5tx__kv_space(h5tx__kv *kv, uint64_t *used, uint64_t *file, h5tx_error *err);

/* The LMDB map size now in force in this process. */
uint64_t h5tx__kv_map_size(h5tx__kv *kv);

/* Write a consistent copy of the environment (as of one read transaction)
 * into the existing empty directory `dir`, its file synced (the directory
 * is the caller's to sync). */
int h5tx__kv_copy(h5tx__kv *kv, const char *dir, h5tx_error *err);

#endif
