/* backup.c - a consistent copy of a store that is being written
 * (h5tx_store_backup, docs/DECISIONS.md "Backup"): the index copied as of
 * one read transaction, then every page log segment as it is after that
 * (so every record the copied index names is in it), with gc (compaction)
 * kept out meanwhile; made in a temporary directory, synced, renamed into
 * place. */
#include "store.h"

#include "apply2.h"
#include "index.h"
#include "marker.h"
#include "pins.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int io_err(h5tx_error *err, const char *dest, const char *what, const char *path, int e) {
  return h5tx__err(err, h5tx__errno_code(e), "backup %s: %s %s: %s", dest, what, path, strerror(e));
}

/* Copy file `from` into the new file `to`, synced. */
static int copy_file(const char *dest, const char *from, const char *to, uint64_t *bytes,
                     h5tx_error *err) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return io_err(err, dest, "opening", from, errno);
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (out < 0) {
    int e = errno;
    close(in);
    return io_err(err, dest, "creating", to, e);
  }
  int rc = 0;
  for (;;) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      /* no kernel copy here: through a buffer */
      static __thread char buf[1 << 16];
      n = read(in, buf, sizeof buf);
      if (n > 0 && write(out, buf, (size_t)n) != n) n = -1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = io_err(err, dest, "copying to", to, errno);
      break;
    }
    if (n == 0) break;
    *bytes += (uint64_t)n;
  }
  if (rc == 0 && fdatasync(out) != 0) rc = io_err(err, dest, "syncing", to, errno);
  close(in);
  if (close(out) != 0 && rc == 0) rc = io_err(err, dest, "writing", to, errno);
  return rc;
}

static int sync_dir(const char *dest, const char *dir, h5tx_error *err) {
  int e = h5tx__sync_dir(dir);
  return e ? io_err(err, dest, "syncing directory", dir, e) : 0;
}

/* The copied index: every revision in it is in the copied log and synced,
 * so durable is its head. */
static int mark_durable(h5tx__txn *t, void *arg, h5tx_error *err) {
  h5tx_rev *head = arg;
  int rc = h5tx__meta2_get(t, "head", head, err);
  return rc ? rc : h5tx__meta2_put(t, "durable", *head, err);
}

/* Everything but the rename, into the new directory `tmp`. */
static int fill(h5tx_store *s, const char *dest, const char *tmp, h5tx_rev *head, uint64_t *bytes,
                h5tx_error *err) {
  char path[4400], from[4400];
  if (strlen(tmp) > 4096) return h5tx__err(err, H5TX_EINVAL, "backup %s: path too long", dest);
  snprintf(path, sizeof path, "%s/index", tmp);
  if (mkdir(path, 0777) != 0) return io_err(err, dest, "creating", path, errno);
  int rc = h5tx__kv_copy(s->kv, path, err);
  if (rc) return rc;
  /* the log after the index: every record the copy names was written
   * (and, for sync commits, flushed) before the index named it */
  snprintf(path, sizeof path, "%s/log", tmp);
  if (mkdir(path, 0777) != 0) return io_err(err, dest, "creating", path, errno);
  uint64_t *segs = NULL;
  size_t ns = 0;
  rc = h5tx__plog_segments(s->log, &segs, &ns, err);
  for (size_t i = 0; i < ns && rc == 0; i++) {
    char to[8900];
    h5tx__plog_seg_path(s->log, segs[i], from, sizeof from);
    snprintf(to, sizeof to, "%s/%s", path, strrchr(from, '/') + 1);
    rc = copy_file(dest, from, to, bytes, err);
  }
  free(segs);
  if (rc == 0) rc = sync_dir(dest, path, err);
  /* the marker as it is (same store id: the records' checks name it) */
  h5tx__marker m;
  if (rc == 0) rc = h5tx__marker_read(s->path, 2, &m, err);
  if (rc == 0) rc = h5tx__marker_write(tmp, dest, &m, err);
  h5tx__pins *pins;
  if (rc == 0 && (rc = h5tx__pins_open(tmp, &pins, err)) == 0) h5tx__pins_close(pins);
  h5tx__kv *kv;
  snprintf(path, sizeof path, "%s/index", tmp);
  if (rc == 0 && (rc = h5tx__idx_open(path, 0, 0, &kv, err)) == 0) {
    rc = h5tx__kv_write(kv, mark_durable, head, 1, err);
    h5tx__kv_close(kv);
  }
  if (rc == 0) rc = sync_dir(dest, path, err);
  if (rc == 0) rc = sync_dir(dest, tmp, err);
  return rc;
}

int h5tx_store_backup(h5tx_store *s, const char *dest, h5tx_rev *head, uint64_t *bytes,
                      h5tx_error *err) {
  size_t n = dest ? strlen(dest) : 0;
  if (n <= 5 || strcmp(dest + n - 5, ".h5tx") != 0)
    return h5tx__err(err, H5TX_EINVAL, "backup %s: a store's name must end in .h5tx",
                     dest ? dest : "(null)");
  struct stat st;
  if (lstat(dest, &st) == 0)
    return h5tx__err(err, H5TX_EEXIST, "backup %s: it exists already (a backup makes a new store)",
                     dest);
  char *parent, *base;
  if (h5tx__path_split(dest, &parent, &base)) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  char tmp[4096], lp[4200];
  int lock = -1, rc = 0;
  uint64_t copied = 0;
  h5tx_rev h = 0;
  if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = h5tx__err(err, H5TX_ENOENT, "backup %s: parent directory %s does not exist", dest, parent);
    goto out;
  }
  /* gc's lock: no compaction deletes a segment while it is copied */
  snprintf(lp, sizeof lp, "%s/" H5TX__PINS_FILE, s->path);
  lock = open(lp, O_RDONLY | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    rc = io_err(err, dest, "locking out gc with", lp, errno);
    goto out;
  }
  if ((rc = h5tx__make_tmp_dir("cannot back up", dest, parent, base, tmp, sizeof tmp, err)))
    goto out;
  rc = fill(s, dest, tmp, &h, &copied, err);
  if (rc == 0 && rename(tmp, dest) != 0) rc = io_err(err, dest, "renaming into place", tmp, errno);
  if (rc)
    h5tx__remove_tree(tmp);
  else
    rc = sync_dir(dest, parent, err);
out:
  if (lock >= 0) close(lock); /* the flock goes with it */
  free(parent);
  free(base);
  if (rc == 0 && head) *head = h;
  if (rc == 0 && bytes) *bytes = copied;
  return rc;
}
