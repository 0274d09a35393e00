/* maint.c - the public maintenance entry points (h5tx.h, "Maintenance"):
 * h5tx_store_upgrade wraps the in-place format-1 upgrade (upgrade1.h),
 * h5tx_store_repair the rebuild of a format-2 index from its page log
 * (store2.h); both tell their caller what they do, one line at a time. */
#include "store2.h"
#include "upgrade1.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void say(h5tx_say_fn fn, void *arg, const char *fmt, ...) H5TX_PRINTF(3, 4);
static void say(h5tx_say_fn fn, void *arg, const char *fmt, ...) {
  char line[4600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (fn) fn(arg, line);
}

int h5tx_store_upgrade(const char *path, h5tx_say_fn fn, void *arg, h5tx_error *err) {
  if (!path || !*path) return h5tx__err(err, H5TX_EINVAL, "upgrade: no store named");
  h5tx__marker m;
  int rc = h5tx__marker_read(path, 2, &m, err);
  if (rc) return rc;
  if (m.format >= 2) {
    say(fn, arg, "store %s has format %u already: nothing to upgrade", path, m.format);
    return 0;
  }
  say(fn, arg,
      "upgrading store %s from format 1 to format 2: a new store is written beside it; the "
      "old one is not changed until the new one is complete",
      path);
  h5tx_rev head = 0;
  char kept[4400];
  if ((rc = h5tx__upgrade_store(path, &head, kept, sizeof kept, err))) return rc;
  say(fn, arg, "store %s has format 2 now: head is revision %" PRIu64, path, head);
  say(fn, arg,
      "the format-1 store is kept as %s; nothing reads it any more: delete it when you "
      "no longer want it",
      kept);
  return 0;
}

/* The lines h5tx__repair_store says that are notes, not losses: where the
 * old index went and which defaults the store has now (store2.c). */
static const char *const repair_notes[] = {"the old index", "the store had no index", NULL};

typedef struct repair_say {
  h5tx_say_fn fn;
  void *arg;
} repair_say;

/* Pass a line of the repair on, marking what it could not rebuild. */
static void repair_line(void *a, const char *line) {
  repair_say *r = a;
  for (int i = 0; repair_notes[i]; i++)
    if (strncmp(line, repair_notes[i], strlen(repair_notes[i])) == 0) {
      say(r->fn, r->arg, "%s", line);
      return;
    }
  say(r->fn, r->arg, "%s%s", H5TX_REPAIR_LOST, line);
}

int h5tx_store_repair(const char *path, h5tx_say_fn fn, void *arg, h5tx_rev *head,
                      h5tx_error *err) {
  h5tx_rev h = 0;
  if (head) *head = 0;
  if (!path || !*path) return h5tx__err(err, H5TX_EINVAL, "repair: no store named");
  repair_say r = {fn, arg};
  int rc = h5tx__repair_store(path, fn ? repair_line : NULL, &r, &h, err);
  if (head) *head = h;
  return rc;
}
