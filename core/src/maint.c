/* maint.c - the public maintenance entry points (h5tx.h, "Maintenance"):
 * h5tx_store_upgrade wraps the in-place format-1 upgrade (upgrade1.h),
 * h5tx_store_repair the rebuild of a format-2 index from its page log
 * (store2.h); both tell their caller what they do, one line at a time. */
#include "store.h"
#include "store2.h"
#include "upgrade1.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void say(h5tx_say_fn fn, void *arg, const char *fmt, ...) H5TX_PRINTF(3, 4);
static void say(h5tx_say_fn fn, void *arg, const char *fmt, ...) {
  char line[4600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (fn) fn(arg, line);
}

/* Take the open lock of store `path` for writing (store.h), so that `verb`
 * ("repair") runs on a store no handle has open, in any process, this one
 * included: a handle that is open with nothing pinned still has the index
 * that a repair moves aside, and would commit into it. Opens that come
 * meanwhile wait for the lock. *fd gets the descriptor that holds it (-1
 * when the store has no live table: nothing ever opened it). H5TX_EBUSY
 * names what the live table says the holder does, when it says anything. */
static int hold_closed(const char *path, const char *verb, int *fd, h5tx_error *err) {
  char f[4200];
  snprintf(f, sizeof f, "%s/" H5TX__PINS_FILE, path);
  *fd = open(f, O_RDWR | O_CLOEXEC);
  if (*fd < 0)
    return errno == ENOENT
               ? 0
               : h5tx__err(err, h5tx__errno_code(errno), "cannot %s store %s: opening %s: %s", verb,
                           path, f, strerror(errno));
  struct flock fl = {
      .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = H5TX__OPEN_LOCK_OFF, .l_len = 1};
  int rc;
  while ((rc = fcntl(*fd, F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
    ;
  if (rc == 0) return 0;
  int e = errno;
  close(*fd);
  *fd = -1;
  if (e != EAGAIN && e != EACCES)
    return h5tx__err(err, h5tx__errno_code(e), "cannot %s store %s: locking %s: %s", verb, path, f,
                     strerror(e));
  h5tx__pins *p = NULL;
  if (h5tx__pins_open(path, &p, NULL) == 0 && (rc = h5tx__pins_idle(p, verb, path, err))) {
    h5tx__pins_close(p);
    return rc; /* names the process and what it reads or writes */
  }
  h5tx__pins_close(p);
  return h5tx__err(err, H5TX_EBUSY,
                   "cannot %s store %s while it is in use (a process has it open): close it "
                   "everywhere first",
                   verb, path);
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
  int fd;
  if ((rc = hold_closed(path, "upgrade", &fd, err))) return rc;
  rc = h5tx__upgrade_store(path, &head, kept, sizeof kept, err);
  if (fd >= 0) close(fd);
  if (rc) return rc;
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
  h5tx__marker m;
  int fd, rc = h5tx__marker_read(path, 2, &m, err);
  if (rc == 0) rc = h5tx__marker_need2(path, &m, err);
  if (rc == 0) rc = hold_closed(path, "repair", &fd, err);
  if (rc) return rc;
  rc = h5tx__repair_store(path, fn ? repair_line : NULL, &r, &h, err);
  if (fd >= 0) close(fd);
  if (head) *head = h;
  return rc;
}
