/* dedupe.h - the `dedupe` table (docs/FORMAT.md, "dedupe"): one entry per
 * page record that page versions may share, holding its place and the
 * number of versions that name it. Finding a stored record equal to a page,
 * taking and dropping a reference, moving an entry with its record, and
 * finding where a shared record is now. The only code that knows the
 * table's value. */
#ifndef H5TX_DEDUPE_H
#define H5TX_DEDUPE_H

#include "index.h"
#include "records2.h"

/* A version now names record `p` (not a zero page): its entry counts one
 * more, or is made with a count of one. */
int h5tx__dedupe_ref(h5tx__txn *t, const h5tx__place *p, h5tx_error *err);

/* A version naming `p` was dropped: its entry counts one less and goes at
 * zero. No entry is no error (an older entry was dropped already). */
int h5tx__dedupe_unref(h5tx__txn *t, const h5tx__place *p, h5tx_error *err);

/* Compaction copied record `old` to `neu`: the entry moves with its count.
 * No entry is no error. */
int h5tx__dedupe_move(h5tx__txn *t, const h5tx__place *old, const h5tx__place *neu,
                      h5tx_error *err);

/* A committed record holding exactly the `ps` bytes of `page` (content hash
 * `hash`), found through cursor `c` (on IDX_DEDUPE) and compared byte for
 * byte after loading it (verified) into `buf` (ps bytes; `zbuf`: as
 * h5tx__page2_load's scratch). 1 with *out, 0 if none. A candidate that
 * fails to load is no match. Errors: the index's. */
int h5tx__dedupe_match(h5tx__cur *c, h5tx__plog *l, const uint8_t *page, uint32_t ps, uint64_t hash,
                       uint8_t *buf, uint8_t *zbuf, h5tx__place *out, h5tx_error *err);

/* Where record `p` (identified by write id, key and check) is now, as the
 * `dedupe` table says, through cursor `c` (on IDX_DEDUPE): *p updated, 0;
 * H5TX_ENOENT when no entry names it any more (gc dropped every version
 * naming it, or compaction is deleting its segment). */
int h5tx__dedupe_current(h5tx__cur *c, h5tx__place *p, h5tx_error *err);

/* A `dedupe` entry found by a scan (value checked already, check cut):
 * its place and count. -1 with *why when malformed. */
int h5tx__dedupe_parse(const h5tx__val *k, const h5tx__val *v, h5tx__place *p, uint64_t *refs,
                       const char **why);

#endif
