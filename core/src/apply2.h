/* apply2.h - a commit record of the page log made into index entries
 * (docs/FORMAT.md, "The commit record in the log", "Repair"). The one place
 * that turns a commit into names, files, lengths, page places, dedupe
 * entries, the commit record and head: a commit applies the record it just
 * appended, and repair applies every record it finds in the log, so the
 * index repair rebuilds is the index commits wrote. */
#ifndef H5TX_APPLY2_H
#define H5TX_APPLY2_H

#include "index.h"
#include "pagelog.h"
#include "records2.h"

/* The page records of write id `wid`, in log order (a page written again
 * appears again; the last one is the version). */
typedef int (*h5tx__wid_pages_fn)(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n,
                                  h5tx_error *err);

/* meta/<word> as LE64 with its check (H5TX_ENOENT if absent). */
int h5tx__meta2_get(h5tx__txn *t, const char *word, uint64_t *v, h5tx_error *err);
int h5tx__meta2_put(h5tx__txn *t, const char *word, uint64_t v, h5tx_error *err);

/* Write the index entries of commit `c`, whose record is at `at` (its
 * place in the log; at->wid is the committing writer's write id), and move
 * head (main line) to c->rev. The caller has checked conflicts and names. */
int h5tx__apply_commit(h5tx__txn *t, const h5tx__lcommit *c, const h5tx__place *at,
                       h5tx__wid_pages_fn pages, void *arg, h5tx_error *err);

/* Set tag `name` to `rev` (0: remove it). */
int h5tx__apply_tag(h5tx__txn *t, const char *name, size_t nlen, h5tx_rev rev, h5tx_error *err);

/* Rebuild an index (`kv`, freshly created, empty) from page log `l` alone.
 * Every segment is scanned; commit records are applied in revision order
 * from revision 1 while each follows the one before (parent) and is not
 * voided; tag records are replayed in log order. What cannot be rebuilt
 * (a damaged segment tail, a missing revision and the commits after it, a
 * tag naming a revision not rebuilt) is said through `say`, one line each.
 * *head gets the last revision rebuilt. */
/* Set the flags (H5TX_COMMIT_COLLECTED ...) of revision `rev`'s commit
 * record in the index. */
int h5tx__commit2_flags(h5tx__txn *t, h5tx_rev rev, uint32_t flags, h5tx_error *err);

typedef void (*h5tx__say_fn)(void *arg, const char *line);
int h5tx__repair_index(h5tx__kv *kv, h5tx__plog *l, h5tx__say_fn say, void *say_arg, h5tx_rev *head,
                       h5tx_error *err);

/* Recovery at open after a crash or a power loss (FORMAT.md, "Recovery"),
 * with no repair step. Nothing is read or written when durable = head and
 * every segment ends where `segments` says the index took it in (the
 * usual open). Else the segments' tails past that length are scanned
 * (every segment, after a reboot with commits above durable: then
 * revisions above durable whose commit record or page records are not
 * intact are rolled back, with every revision after the first such one,
 * newest first, tags naming them removed); commit records that follow
 * head are rolled forward; the segments are flushed and durable set to
 * head. What changed is said through `say`; *head gets the head after. */
int h5tx__recover_index(h5tx__kv *kv, h5tx__plog *l, h5tx__say_fn say, void *say_arg,
                        h5tx_rev *head, h5tx_error *err);

/* This boot of the machine (a hash of the kernel's boot id): meta/boot
 * holds it for commits above meta/durable, so recovery tells a crashed
 * process (page cache intact) from a power loss. */
uint64_t h5tx__boot_id(void);

/* segments/<seg>: `state` (0 open, 1 sealed) and the length up to which
 * the index has taken in the segment's records. */
int h5tx__segment_put(h5tx__txn *t, uint64_t seg, uint32_t state, uint64_t length, h5tx_error *err);

#endif
