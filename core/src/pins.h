/* pins.h - the reader table: which revisions live snapshots read, shared by
 * every process through a small mapped file (docs/FORMAT.md, "The reader
 * table"). Garbage collection keeps every pinned revision. */
#ifndef H5TX_PINS_H
#define H5TX_PINS_H

#include "h5tx.h"

typedef struct h5tx__pins h5tx__pins;

/* The reader table's file name in the store's directory. */
#define H5TX__PINS_FILE "readers"

/* Open or create `dir`/readers. */
int h5tx__pins_open(const char *dir, h5tx__pins **out, h5tx_error *err);
void h5tx__pins_close(h5tx__pins *p);

/* Claim a slot and publish a pin on `rev`; returns the slot in *slot.
 * H5TX_EBUSY when every slot is held by a live process. */
int h5tx__pin(h5tx__pins *p, h5tx_rev rev, int *slot, h5tx_error *err);
/* Move the pin of `slot` to `rev`. */
void h5tx__pin_move(h5tx__pins *p, int slot, h5tx_rev rev);
/* Release `slot`. */
void h5tx__unpin(h5tx__pins *p, int slot);

/* Call fn for every pin whose owner may be alive: owner pid, pinned
 * revision, and when it was pinned. */
typedef void (*h5tx__pin_fn)(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since_ns);
void h5tx__pins_scan(h5tx__pins *p, h5tx__pin_fn fn, void *arg);

#endif
