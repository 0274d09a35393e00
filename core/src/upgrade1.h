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

/* Compare the format-1 store at `path` with the format-2 store made from
 * it in `dir` (its index/ and log/, store id `sid`), as the in-place
 * upgrade does before its renames (upgrade1_check.c): the head, every
 * commit record (parent, time, pid, host, message, collected flag), every
 * tag, the file names, and every file at every revision format 1 has not
 * collected, byte for byte. 0 when all agree; H5TX_ECORRUPT "cannot upgrade
 * store S: the converted store differs from the format-1 store: WHAT"
 * naming the first difference (revision, file, byte or record), or an error
 * reading either store, wrapped to say the comparison could not be made.
 * Reads every live file at every revision once from each store. */
int h5tx__upgrade_check(const char *path, const char *dir, const uint8_t sid[16], h5tx_error *err);

/* Test hook: called (when set) with the new store's directory after the
 * conversion and before the comparison, so a test can change it. */
extern void (*h5tx__upgrade_test_hook)(const char *dir);

/* Upgrade the format-1 store at `path` in place (docs/FORMAT.md, "Format 1
 * → 2"): refused (H5TX_EBUSY naming a holder) while a live snapshot or
 * writer has it open, and H5TX_EINVAL if it has format 2 already. A
 * format-2 store is made in `.NAME.h5tx.tmp-PID-RANDOM` beside it with a
 * new store id and filled by h5tx__upgrade1, compared with the old one by
 * h5tx__upgrade_check (a difference refuses the upgrade); then the old directory is
 * renamed to `.NAME.h5tx.format1-TIME` (kept for the user to delete; its
 * name in `kept`, `cap` bytes) and the new one into place, the parent
 * synced. Any failure before the renames leaves the old store as it was and
 * removes the new one. *head gets the head. */
int h5tx__upgrade_store(const char *path, h5tx_rev *head, char *kept, size_t cap, h5tx_error *err);

#endif
