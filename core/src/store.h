/* store.h - the store handle as the page store's source files see it. */
#ifndef H5TX_STORE_H
#define H5TX_STORE_H

#include "apply2.h"
#include "codec.h"
#include "index.h"
#include "internal.h"
#include "pagecache.h"
#include "pagelog.h"
#include "pins.h"
#include "records.h"
#include "records2.h"

/* A format-2 store (docs/FORMAT.md): the index (`kv`, opened with index.h's
 * tables: every value carries its check, read it with h5tx__idx_get /
 * h5tx__idx_value) and the page log (`log`), which holds every payload. */
typedef struct h5tx__core h5tx__core;

struct h5tx_store {
  h5tx__kv *kv;         /* the core's */
  h5tx__plog *log;      /* the core's */
  h5tx__pins *pins;     /* the core's; NULL when the directory is not writable */
  h5tx__pcache *pcache; /* the core's decoded pages; may be NULL */
  char *path;
  uint8_t id[16]; /* the store id (marker) */
  int read_only;
  h5tx__core *core; /* the parts shared by the process's handles (store.c) */
  char *recovered;  /* what recovery said when this handle opened it, or NULL */
  /* Effective defaults for writers: the store's, overridden by the opts
   * given to h5tx_store_open. */
  uint32_t page_size;
  int codec, level, durability;
  size_t dirty_limit;
};

/* The open lock (store.c): the byte of `readers`, far past its slots, that
 * every handle holds a read lock on for its lifetime; whoever gets a write
 * lock on it knows that no handle has the store open. */
#define H5TX__OPEN_LOCK_OFF ((off_t)1 << 40)

/* The writer cache's default size (h5tx_store_opts.dirty_limit). */
#define H5TX__WRITER_CACHE ((size_t)64 << 20)

/* Prefix for messages: "store <path>". */
#define STORE_FMT "store %s"

/* 0 if revision `rev` can be read in `t` (<= head, not collected), else
 * H5TX_ENOENT / H5TX_EGONE with a message. `head` gets the head. */
int h5tx__rev_check(h5tx_store *s, h5tx__txn *t, h5tx_rev rev, h5tx_rev *head, h5tx_error *err);

/* As h5tx__rev_check, for a caller whose pin on `rev` was published before a
 * check of it passed (an open snapshot, a writer's base): a revision that gc
 * flagged in its first phase after that check saw the pin and is spared, so
 * only a finished collection (the pin was lost) is H5TX_EGONE. */
int h5tx__rev_check_pinned(h5tx_store *s, h5tx__txn *t, h5tx_rev rev, h5tx_rev *head,
                           h5tx_error *err);

/* Whether compression pays, as the process's last commit to the store
 * learnt it (store.c): a writer starts from it and leaves what it learnt,
 * so small commits of data zstd cannot shrink do not each try again. */
void h5tx__zpolicy_load(h5tx_store *s, h5tx__zpolicy *zp);
void h5tx__zpolicy_save(h5tx_store *s, const h5tx__zpolicy *zp);

/* Making revisions (logcommit.c). */

/* A log commit record appended by a commit attempt: voided if its index
 * transaction does not commit. Zero-initialise. */
typedef struct h5tx__logged {
  int appended;
  uint64_t cwid; /* the write id its batch was appended under */
  h5tx__place at;
} h5tx__logged;

/* Fill the header of a log commit record: revision `rev` after `parent` on
 * the main line, now, this process and host, message `msg` (may be NULL). */
void h5tx__commit_head(h5tx__lcommit *c, h5tx_rev rev, h5tx_rev parent, const char *msg);

/* Inside write transaction `t` (which has checked conflicts and assigned
 * the revision): append the encoded log commit record `b` to the page log
 * (voiding the one a replayed attempt appended), flush the log when `sync`,
 * apply the record to the index (`pages` gives the page places of write id
 * `pages_wid`) and, when `sync`, advance meta/durable. */
int h5tx__log_commit(h5tx_store *s, h5tx__txn *t, const h5tx__buf *b, uint64_t pages_wid,
                     h5tx__wid_pages_fn pages, void *arg, int sync, h5tx__logged *lg,
                     h5tx_error *err);

/* After the transaction failed: void the record it appended, if any. */
void h5tx__log_void(h5tx_store *s, h5tx__logged *lg, int sync);

/* Add to commit record `b` a LENGTH operation for file `fid` at its length
 * at `head`, so writers based on earlier revisions get a conflict. */
int h5tx__mark_changed(h5tx__txn *t, h5tx__buf *b, uint64_t fid, h5tx_rev head, h5tx_error *err);

/* Page access shared by snapshots and writers (pageio.c). */

/* Find the newest version <= rev of page `page` of file `fid` (named
 * `name` in messages): its place and revision (*at may be NULL).
 * H5TX_ENOENT if the page was never stored at or below rev (err
 * untouched); H5TX_ECORRUPT naming store and file. */
int h5tx__page_find(h5tx_store *s, h5tx__cur *c, const char *name, uint64_t fid, uint64_t page,
                    h5tx_rev rev, h5tx__place *p, h5tx_rev *at, h5tx_error *err);

/* Turn an error `rc` of loading page `page` (version `at`) of file `name`
 * from the page log into the message FORMAT.md gives ("store S: file F
 * page P revision R: ..."); a segment gone (H5TX_ENOENT) becomes
 * H5TX_ECORRUPT. Returns the code. */
int h5tx__page_fail(h5tx_store *s, const char *name, uint64_t page, h5tx_rev at, int rc,
                    h5tx_error *err);

/* Load page `page` (version `at`, place `p`) of file `name` into `dst`
 * (ps bytes; `zbuf` holds a compressed payload): H5TX__SEG_GONE when its
 * segment is gone and `first`, else the page log's errors named as
 * h5tx__page_fail names them. */
int h5tx__page_get(h5tx_store *s, const char *name, const h5tx__place *p, uint64_t page,
                   h5tx_rev at, uint8_t *dst, uint32_t ps, uint8_t *zbuf, int first,
                   h5tx_error *err);

/* Whole pages read straight into the caller's buffer, gathered so a run
 * of adjacent places is one preadv (snapshots and writers): raw pages land
 * in place; compressed ones land in the run's payload area and are decoded
 * into place when the run is read, in parallel when there are enough. */
#define H5TX__RUN_MAX 64
/* Internal: a segment was gone on the first try; look the places up again
 * in a new transaction (compaction moved them) and read once more. */
#define H5TX__SEG_GONE (-1002)
typedef struct h5tx__run {
  h5tx__place p[H5TX__RUN_MAX];
  void *dst[H5TX__RUN_MAX];
  uint64_t page[H5TX__RUN_MAX];
  h5tx_rev at[H5TX__RUN_MAX];
  size_t zoff[H5TX__RUN_MAX]; /* a compressed page: its payload's offset in z */
  size_t n, nz;               /* pages, compressed pages */
  uint8_t *z;                 /* compressed payloads (zcap bytes, zused used) */
  size_t zcap, zused;
} h5tx__run;

/* A new, empty run (NULL: out of memory); h5tx__run_free frees it and
 * its payload area, which is kept from one read to the next. */
h5tx__run *h5tx__run_new(void);
void h5tx__run_free(h5tx__run *r);

/* 1 if page version `p` of a file with pages of `ps` bytes can be read
 * whole through a run (raw, or compressed no larger than a page). */
int h5tx__run_takes(const h5tx__place *p, uint32_t ps);

/* Add page `page` (version `at`, place `p`, h5tx__run_takes) of file
 * `name` to run `r`, to be read into `dst` (p->raw bytes); a full run is
 * read first. Errors as h5tx__run_flush. */
int h5tx__run_add(h5tx_store *s, const char *name, h5tx__run *r, const h5tx__place *p, void *dst,
                  uint64_t page, h5tx_rev at, int first, h5tx_error *err);
/* Read run `r` (emptied), every record's check verified, compressed pages
 * decoded (in up to 4 threads when it holds 8 or more): H5TX__SEG_GONE
 * when a segment is gone and `first`, else the page log's and the
 * decoder's errors named as h5tx__page_fail names them (the first bad page
 * of the run). */
int h5tx__run_flush(h5tx_store *s, const char *name, h5tx__run *r, int first, h5tx_error *err);

/* Start a read of `*len` bytes at `off` of a file of `length` bytes: fails
 * with H5TX_ERANGE (naming store and file) if off + len overflows; zeroes
 * the part of `buf` at or past `length` and cuts *len to the bytes inside
 * the file (0: nothing left to read). */
int h5tx__read_clamp(const char *store, const char *name, uint64_t off, size_t *len, void *buf,
                     uint64_t length, h5tx_error *err);

/* Look up `name` at `rev` in `t`: H5TX_ENOENT if absent. */
int h5tx__stat(h5tx_store *s, h5tx__txn *t, const char *name, h5tx_rev rev, h5tx_stat *st,
               h5tx_error *err);

/* The store a snapshot belongs to. */
h5tx_store *h5tx__snap_store(const h5tx_snap *snap);

/* Pin `rev` (H5TX_HEAD: the head at the moment) and check it is readable;
 * the pinned revision goes to *pinned and the slot to *slot (-1 when the
 * store has no reader table). */
int h5tx__pin_rev(h5tx_store *s, h5tx_rev rev, h5tx_rev *pinned, int *slot, h5tx_error *err);

/* Leases (lease.c): slots of the live table, no index transaction. */

/* Take the lease of `name` for writer `token`; its slot goes to *slot.
 * H5TX_EBUSY naming the holder (pid, host, since when) when another live
 * writer has it, this process's others included; a dead holder's lease is
 * taken over. */
int h5tx__lease_take(h5tx_store *s, const char *name, uint64_t token, int *slot, h5tx_error *err);
/* H5TX_EBUSY naming the holder if a live writer holds `name`. */
int h5tx__lease_check(h5tx_store *s, const char *name, h5tx_error *err);
/* Drop lease `slot` if writer `token` of this process holds it (a fork
 * child never drops its parent's). */
void h5tx__lease_drop(h5tx_store *s, int slot, uint64_t token);

#endif
