/* upgrade1.h - format 1 to format 2 (docs/FORMAT.md, "Format 1 → 2"):
 * every revision, commit message, tag and page version of a format-1 index
 * written into a format-2 index and page log. */
#ifndef H5TX_UPGRADE1_H
#define H5TX_UPGRADE1_H

#include "apply2.h"

/* Convert the format-1 index `old` (kv.h with format 1's tables) into the
 * empty format-2 index `nkv` and page log `l`. Page payloads are moved as
 * they are (a zstd frame stays that frame), every format-1 record checksum
 * verified on the way; revisions keep their numbers, parents, times, pids,
 * hosts, messages and collected flags; tags and the store's defaults are
 * kept. The log is flushed and the index synced before it returns; *head
 * gets the head. A corrupt format-1 record fails the upgrade (H5TX_ECORRUPT
 * naming file id, page and revision): nothing is half converted in place,
 * since the new store is written beside the old. */
int h5tx__upgrade1(h5tx__kv *old, h5tx__kv *nkv, h5tx__plog *l, h5tx_rev *head, h5tx_error *err);

/* Upgrade the format-1 store at `path` in place (docs/FORMAT.md, "Format 1
 * → 2"): refused (H5TX_EBUSY naming a holder) while a live snapshot or
 * writer has it open, and H5TX_EINVAL if it has format 2 already. A
 * format-2 store is made in `.NAME.h5tx.tmp-PID-RANDOM` beside it with a
 * new store id and filled by h5tx__upgrade1; then the old directory is
 * renamed to `.NAME.h5tx.format1-TIME` (kept for the user to delete; its
 * name in `kept`, `cap` bytes) and the new one into place, the parent
 * synced. Any failure before the renames leaves the old store as it was and
 * removes the new one. *head gets the head. */
int h5tx__upgrade_store(const char *path, h5tx_rev *head, char *kept, size_t cap, h5tx_error *err);

#endif
