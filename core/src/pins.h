/* pins.h - the live table: which revisions live snapshots read (pins) and
 * which files live writers hold (leases), shared by every process through a
 * small mapped file (docs/FORMAT.md, "The live table"). A slot's holder is
 * alive iff it holds the OFD lock of the slot. Garbage collection keeps
 * every pinned revision; one writer per file holds its lease. */
#ifndef H5TX_PINS_H
#define H5TX_PINS_H

#include "h5tx.h"

typedef struct h5tx__pins h5tx__pins;

/* The reader table's file name in the store's directory. */
#define H5TX__PINS_FILE "readers"

/* Open or create `dir`/readers. */
int h5tx__pins_open(const char *dir, h5tx__pins **out, h5tx_error *err);
/* Close; slots still held are released. In a fork child, the parent's slots
 * stay the parent's. */
void h5tx__pins_close(h5tx__pins *p);

/* Claim a slot and publish a pin on `rev`; returns the slot in *slot.
 * H5TX_EBUSY when every slot is held by a live process. */
int h5tx__pin(h5tx__pins *p, h5tx_rev rev, int *slot, h5tx_error *err);
/* Move the pin of `slot` to `rev` (nothing unless this process claimed it). */
void h5tx__pin_move(h5tx__pins *p, int slot, h5tx_rev rev);
/* Release `slot` (nothing unless this process claimed it: a fork child
 * never releases its parent's pins). */
void h5tx__unpin(h5tx__pins *p, int slot);

/* Call fn for every pin of a live holder: its pid (as its own PID namespace
 * sees it), pinned revision, and when it was pinned. */
typedef void (*h5tx__pin_fn)(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since_ns);
void h5tx__pins_scan(h5tx__pins *p, h5tx__pin_fn fn, void *arg);

/* A commit begins (enter) and ends (leave): between the two this process
 * holds a shared lock on a byte of the table's header, so other committers
 * see it. enter returns 1 if another commit (of any process, or of another
 * thread here) is under way: this one will then wait for the index's write
 * lock and can flush its page records meanwhile (DECISIONS.md, "Revision
 * costs"). A failure to lock only hides this commit from the others. */
int h5tx__commit_enter(h5tx__pins *p);
void h5tx__commit_leave(h5tx__pins *p);

/* The holder of a lease, for messages and reports. */
typedef struct h5tx__holder {
  int slot;
  uint32_t pid;
  uint64_t token, time_ns;
  char host[65];
  int mine; /* held through this table handle, in this process */
} h5tx__holder;

/* H5TX_EBUSY (no message) with the holder in *h if a live writer holds the
 * lease of `name`, 0 if none does. */
int h5tx__lease_find(h5tx__pins *p, const char *name, h5tx__holder *h, h5tx_error *err);
/* Claim the lease of `name` for writer `token` of this process (host named
 * `host`): 0 and its slot in *slot; H5TX_EBUSY without a message and the
 * holder in *h if a live writer holds it; H5TX_EBUSY with a message and
 * h->pid 0 if the table is full. */
int h5tx__lease_claim(h5tx__pins *p, const char *name, uint64_t token, const char *host, int *slot,
                      h5tx__holder *h, h5tx_error *err);
/* Release lease `slot` if this process claimed it for `token`. */
void h5tx__lease_release(h5tx__pins *p, int slot, uint64_t token);

/* Call fn for every lease recorded: file name, holder, alive (0: its holder
 * died; the next claim takes it over). Stops at fn's first non-zero value,
 * which it returns. */
typedef int (*h5tx__lease_fn)(void *arg, const char *name, const h5tx__holder *h, int alive);
int h5tx__leases_scan(h5tx__pins *p, h5tx__lease_fn fn, void *arg);

/* 0 if no live snapshot or writer holds a slot of the table, else
 * H5TX_EBUSY: "cannot VERB store PATH while it is in use (process P reads
 * revision R | process P on HOST writes NAME)". */
int h5tx__pins_idle(h5tx__pins *p, const char *verb, const char *path, h5tx_error *err);

#endif
