/* h5tx_common.h - what the h5tx command (tools/) and h5tx mount (fuse/)
 * share, both printing a store's history as text: the tags of a store, to
 * decorate revisions with, and times as the log shows them. Uses only the
 * public h5tx.h. */
#ifndef H5TX_COMMON_H
#define H5TX_COMMON_H

#include "h5tx.h"

#include <stddef.h>
#include <stdint.h>

/** One tag and the revision it names. */
typedef struct h5tx_common_tag {
  char *name;
  h5tx_rev rev;
} h5tx_common_tag;

/** Every tag of a store, in name order. */
typedef struct h5tx_common_tags {
  h5tx_common_tag *v;
  size_t n, cap;
} h5tx_common_tags;

/** Read every tag of `s` into `l` (initialised here; empty on failure).
 * @return 0, H5TX_ENOMEM when a copy could not be made (`e` untouched), or
 *  the error of h5tx_tags() (in `e`) */
int h5tx_common_tags_load(h5tx_store *s, h5tx_common_tags *l, h5tx_error *e);

/** Free the tags of `l` and empty it. */
void h5tx_common_tags_free(h5tx_common_tags *l);

/** `ns` (since the epoch) in UTC: "2026-11-21 12:00:00Z", or with `iso`
 * "2026-11-21T12:00:00Z". Returns `buf`. */
const char *h5tx_common_time(char buf[32], uint64_t ns, int iso);

#endif /* H5TX_COMMON_H */
