/* compact.h - compaction of the page log (docs/FORMAT.md, "Garbage
 * collection"): segments that are mostly dead are copied forward and
 * deleted, so the store's size on disk shrinks after gc. */
#ifndef H5TX_COMPACT_H
#define H5TX_COMPACT_H

#include "records2.h"

typedef struct h5tx__compact_result {
  uint64_t segments;      /* segments deleted */
  uint64_t bytes_deleted; /* their size */
  uint64_t bytes_written; /* bytes of records copied forward (payloads) */
} h5tx__compact_result;

/* Compact store `s`'s page log. The caller holds gc's lock (one compaction
 * at a time). Live payload bytes per segment are counted from the `pages`
 * table (a full scan); a segment that is sealed or whose writer is dead,
 * not this handle's open one, with live bytes under half its size is copied
 * forward: every live page record and every commit, void, collected and
 * current tag record is appended to a fresh segment of this handle with the
 * same write id, key, kind, encoding and content hash (so the same check),
 * the log is flushed, the `pages`, `dedupe` and `commits` entries that name
 * the old places are repointed in batched index transactions (each checks
 * that the entry still names the old place), and the segment file is
 * deleted. A segment holding page records of a write not committed while a
 * writer lease is live (its writer may commit them yet) is left alone.
 * `res` may be NULL. */
int h5tx__compact(h5tx_store *s, h5tx__compact_result *res, h5tx_error *err);

#endif
