/* commit_rule.c - when changes written through the mount are committed:
 * at fsync, and when a writing process closes its last descriptor of the
 * file; never by another process's close, a killed writer's closes or the
 * kernel's release (README, "When a close commits"). */
#include "fs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Commit what writer node `n` holds (its lock held). Returns an errno. */
int h5tx_fuse__w_commit(h5tx_fuse__fs *fs, node *n) {
  wstate *ws = n->w;
  if (!ws->w) return 0;
  if (ws->failed) return EIO;
  h5tx_error e = {0, ""};
  h5tx_rev rev;
  char *msg = h5tx_fuse__xprintf("mount: write %s", n->path);
  int rc = h5tx_writer_commit(ws->w, msg ? msg : "mount", &rev, &e);
  free(msg);
  if (rc && rc != H5TX_ESYNC) {
    ws->commit_failed = 1;
    h5tx_fuse__log(fs, "%s: commit failed: %s", n->path, e.msg[0] ? e.msg : h5tx_strerror(rc));
    return h5tx_fuse__to_errno(rc);
  }
  /* H5TX_ESYNC: the revision landed (it is head) but its flush failed: it
   * is committed like any other, and the caller still gets EIO. */
  if (rc) h5tx_fuse__log(fs, "%s: %s", n->path, e.msg);
  ws->commit_failed = 0;
  h5tx_fuse__give_back_memory();
  atomic_store(&ws->committed, h5tx_writer_length(ws->w));
  atomic_store(&ws->new_file, 0);
  atomic_fetch_add(&fs->commits, 1);
  h5tx_fuse__notify_moved(fs, n->path);
  return rc ? EIO : 0;
}

/* Is a thread between an ESTALE for `name` and its retry? (fs->lock held) */
static int retry_pending(h5tx_fuse__fs *fs, const char *name) {
  uint64_t now = h5tx_fuse__now_ns();
  for (int i = 0; i < NMARKERS; i++) {
    const marker *m = &fs->markers[i];
    if (m->name && now - m->t_ns < MARKER_NS && strcmp(m->name, name) == 0) return 1;
  }
  return 0;
}

/* Take back a writer's handle: the last one drops what no writing process
 * committed (writes after its last close, through a copy it handed on) and
 * lets go of the writer and the name - unless a thread was just sent to it
 * by an ESTALE and will open it now. A release never commits: it comes
 * after close(2) returned, from whichever process held the last copy. */
void h5tx_fuse__release_write(h5tx_fuse__fs *fs, fh *f) {
  node *n = f->n;
  wstate *ws = n->w;
  pthread_mutex_lock(&fs->lock);
  int last = --ws->wfhs == 0;
  int keep = last && n->indexed && retry_pending(fs, n->path);
  if (keep) ws->since_ns = h5tx_fuse__now_ns(); /* the helper lets it go if nobody comes */
  int closing = last && !keep && n->indexed;
  if (closing) ws->busy = 1; /* opens of the name wait until the lease is free */
  pthread_mutex_unlock(&fs->lock);
  if (!last) return;
  /* Closing, nobody else reaches ws->w now; kept attached, a new handle
   * waits for this lock. */
  pthread_mutex_lock(&ws->lock);
  if (ws->w) {
    if (h5tx_writer_dirty(ws->w)) {
      if (ws->failed || ws->commit_failed)
        h5tx_fuse__log(fs, "%s: dropped changes whose commit failed (reported to the writer)",
                       n->path);
      else
        h5tx_fuse__log(fs,
                       "%s: dropped changes no writing process committed (written after its "
                       "last close, through a descriptor it passed on)",
                       n->path);
      h5tx_writer_abort(ws->w);
      atomic_store(&ws->length, h5tx_writer_length(ws->w));
    }
    ws->failed = ws->commit_failed = 0;
    if (!keep) {
      h5tx_writer_close(ws->w);
      ws->w = NULL;
      h5tx_fuse__give_back_memory();
    }
  }
  pthread_mutex_unlock(&ws->lock);
  if (closing) {
    pthread_mutex_lock(&fs->lock);
    h5tx_fuse__key_remove(fs, n);
    ws->busy = 0;
    pthread_cond_broadcast(&fs->cond);
    pthread_mutex_unlock(&fs->lock);
  }
  h5tx_fuse__notify_moved(fs, n->path);
}

/* The commit rule, at every close(2) of a descriptor of a writer's file
 * (FUSE FLUSH, from the closing thread; README, "When a close commits"):
 * - a close by a process that is not a writing process of the file (a fork
 *   child's or an exec'd program's inherited copy, a process that got the
 *   descriptor passed) commits nothing;
 * - a writing process killed by a signal (its descriptors closed by the
 *   kernel in its exit) commits nothing: its uncommitted changes are
 *   dropped, and if another writing process shares the writer, that one's
 *   commit fails with EIO, its writes having gone too;
 * - otherwise the close of the writing process's last descriptor of the
 *   file (dups, second opens, a read-only one included) commits, once no
 *   other writing process has the file open: close(2) gets the outcome.
 * Returns an errno for close(2). */
static int commit_at_close(h5tx_fuse__fs *fs, fh *f, pid_t tid) {
  node *n = f->n;
  wstate *ws = n->w;
  h5tx_fuse__proc pi;
  if (h5tx_fuse__proc_get(tid, &pi) != 0) return 0; /* cannot tell who: nothing */
  enum { MAXINOS = 16 };
  uint64_t inos[MAXINOS];
  size_t ninos = 0;
  pthread_mutex_lock(&fs->lock);
  int mine = h5tx_fuse__writes_it(fs, n, pi.tgid);
  inos[ninos++] = n->ino;
  for (fh *g = fs->fhs; g && ninos < MAXINOS; g = g->next)
    if (g->kind == F_WRITE && g->n == n && g->ino != n->ino) inos[ninos++] = g->ino;
  pthread_mutex_unlock(&fs->lock);
  if (!mine) return 0;
  if (!pi.killed) {
    /* The kernel takes the descriptor out of the process's table before it
     * sends FLUSH, and an exiting process's table is gone already. */
    int holds = pi.exiting     ? 0
                : fs->have_mid ? h5tx_fuse__proc_holds(tid, &fs->mid, inos, ninos)
                               : -1;
    if (holds < 0) { /* its descriptors cannot be read: its other handles */
      holds = 0;
      pthread_mutex_lock(&fs->lock);
      for (fh *g = fs->fhs; g; g = g->next)
        if (g != f && g->kind == F_WRITE && g->n == n && !g->done && g->opener == pi.tgid)
          holds = 1;
      pthread_mutex_unlock(&fs->lock);
    }
    if (holds) return 0;
  }
  int others = 0;
  pthread_mutex_lock(&fs->lock);
  for (fh *g = fs->fhs; g; g = g->next)
    if (g->kind == F_WRITE && g->n == n && !g->done) {
      if (g->opener == pi.tgid)
        g->done = 1;
      else
        others = 1;
    }
  pthread_mutex_unlock(&fs->lock);
  int rc = 0;
  pthread_mutex_lock(&ws->lock);
  if (ws->w && pi.killed) {
    if (h5tx_writer_dirty(ws->w)) {
      h5tx_fuse__log(fs,
                     "%s: process %d was killed by a signal: its uncommitted changes are dropped",
                     n->path, (int)pi.tgid);
      h5tx_writer_abort(ws->w);
      atomic_store(&ws->length, h5tx_writer_length(ws->w));
      if (others) ws->failed = 1;
    }
  } else if (ws->w && !others &&
             (h5tx_writer_dirty(ws->w) || atomic_load(&ws->new_file) || ws->failed)) {
    rc = h5tx_fuse__w_commit(fs, n);
  }
  pthread_mutex_unlock(&ws->lock);
  return rc;
}

void h5tx_fuse__op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  fh *f = h5tx_fuse__get_fh(fi);
  int rc =
      f->kind == F_WRITE ? commit_at_close(h5tx_fuse__fs_of(req), f, fuse_req_ctx(req)->pid) : 0;
  fuse_reply_err(req, rc);
}

void h5tx_fuse__op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)ino, (void)datasync;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  fh *f = h5tx_fuse__get_fh(fi);
  int rc = 0;
  if (f->kind == F_WRITE) {
    wstate *ws = f->n->w;
    pthread_mutex_lock(&ws->lock);
    rc = h5tx_fuse__w_commit(fs, f->n);
    pthread_mutex_unlock(&ws->lock);
  }
  fuse_reply_err(req, rc);
}

void h5tx_fuse__op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  fh *f = h5tx_fuse__get_fh(fi);
  if (f->kind == F_WRITE) h5tx_fuse__release_write(fs, f);
  h5tx_fuse__fh_free(fs, f);
  fuse_reply_err(req, 0);
}
