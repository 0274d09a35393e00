/* writers.c - writing through the mount: the daemon's writer of a head
 * file (its lease), who its writing processes are, opening and creating it
 * for writing (through one ESTALE retry), writes and truncation. When
 * changes are committed is commit_rule.c's. */
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* Is process `tgid` a writing process of writer node `w`: the opener of one
 * of its handles that has not closed its last descriptor of the file? */
int h5tx_fuse__writes_it(h5tx_fuse__fs *fs, const node *w, pid_t tgid) {
  if (tgid <= 0) return 0;
  for (fh *f = fs->fhs; f; f = f->next)
    if (f->kind == F_WRITE && f->n == w && !f->done && f->opener == tgid) return 1;
  return 0;
}

/* Does the thread of `req` see writer node `w` as a writing process does,
 * its own uncommitted bytes and size? (So does a thread just sent back by
 * ESTALE to open it for writing.) fs->lock not held. */
int h5tx_fuse__sees_writes(h5tx_fuse__fs *fs, fuse_req_t req, const node *w) {
  pid_t tid = fuse_req_ctx(req)->pid;
  h5tx_fuse__proc pi;
  h5tx_fuse__proc_get(tid, &pi);
  pthread_mutex_lock(&fs->lock);
  int r = h5tx_fuse__marker_find(fs, tid, w->path, h5tx_fuse__now_ns()) != NULL ||
          h5tx_fuse__writes_it(fs, w, pi.tgid);
  pthread_mutex_unlock(&fs->lock);
  return r;
}

static void writer_opts(const h5tx_fuse__fs *fs, h5tx_writer_opts *o) {
  h5tx_writer_opts_init(o);
  o->page_size = fs->cfg.page_size;
  o->codec = fs->cfg.codec;
  o->level = fs->cfg.level;
  o->durability = fs->cfg.durability;
}

/* The writer node of head file `name`, attached to the name, with a hold
 * (nref) for the caller; created, taking the file's lease, if there is none.
 * `create`: create the file if missing; `excl`: fail if it exists.
 * Returns an errno. */
int h5tx_fuse__w_get(h5tx_fuse__fs *fs, const char *name, int create, int excl, node **out) {
  char *key = h5tx_fuse__xprintf("w:%s", name);
  if (!key) return ENOMEM;
  pthread_mutex_lock(&fs->lock);
  node *n;
  while ((n = h5tx_fuse__key_find(fs, key)) && n->w->busy)
    pthread_cond_wait(&fs->cond, &fs->lock);
  if (n) {
    int rc = excl ? EEXIST : 0;
    if (!rc) {
      n->nref++;
      *out = n;
    }
    pthread_mutex_unlock(&fs->lock);
    free(key);
    return rc;
  }
  n = h5tx_fuse__node_new(fs, K_WFILE, 0, key, name);
  free(key);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    return ENOMEM;
  }
  n->w->busy = 1;
  n->nref = 1;
  pthread_mutex_unlock(&fs->lock);

  /* Outside the lock: taking a lease writes to the store. */
  h5tx_error e = {0, ""};
  int exists = 0;
  h5tx_snap *snap;
  if (h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL) == 0) {
    h5tx_stat st;
    exists = h5tx_snap_stat(snap, name, &st, NULL) == 0;
    h5tx_snap_close(snap);
  }
  h5tx_writer_opts o;
  writer_opts(fs, &o);
  o.create = create;
  o.exclusive = excl;
  h5tx_writer *w = NULL;
  int rc = h5tx_writer_open(fs->s, name, &o, &w, &e);
  if (rc && rc != H5TX_ENOENT && rc != H5TX_EEXIST)
    h5tx_fuse__log(fs, "%s: %s", name, e.msg[0] ? e.msg : h5tx_strerror(rc));

  pthread_mutex_lock(&fs->lock);
  n->w->busy = 0;
  pthread_cond_broadcast(&fs->cond);
  if (rc) {
    n->nref = 0;
    h5tx_fuse__key_remove(fs, n);
    h5tx_fuse__maybe_free(fs, n);
    pthread_mutex_unlock(&fs->lock);
    return h5tx_fuse__to_errno(rc);
  }
  n->w->w = w;
  n->w->since_ns = h5tx_fuse__now_ns();
  n->page_size = h5tx_writer_page_size(w);
  atomic_store(&n->w->new_file, !exists);
  atomic_store(&n->w->length, h5tx_writer_length(w));
  atomic_store(&n->w->committed, exists ? h5tx_writer_length(w) : 0);
  atomic_store(&n->w->mtime_ns, h5tx_fuse__now_ns());
  pthread_mutex_unlock(&fs->lock);
  *out = n;
  return 0;
}

/* Did this thread get ESTALE for `name` just before? (Forgets it.) */
int h5tx_fuse__sent_back_before(h5tx_fuse__fs *fs, fuse_req_t req, const char *name) {
  pthread_mutex_lock(&fs->lock);
  marker *m = h5tx_fuse__marker_find(fs, fuse_req_ctx(req)->pid, name, h5tx_fuse__now_ns());
  if (m) {
    free(m->name);
    m->name = NULL;
  }
  pthread_mutex_unlock(&fs->lock);
  return m != NULL;
}

/* A thread's open (or truncate) of a head file's content inode asks to
 * write: hand out the writer inode of the name and answer ESTALE, so that
 * the kernel looks the name up again and this thread gets the writer. */
void h5tx_fuse__redirect_to_writer(h5tx_fuse__fs *fs, fuse_req_t req, const char *name) {
  node *w;
  int rc = h5tx_fuse__w_get(fs, name, 0, 0, &w);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  uint64_t now = h5tx_fuse__now_ns();
  pthread_mutex_lock(&fs->lock);
  h5tx_fuse__marker_set(fs, fuse_req_ctx(req)->pid, name, now);
  if (!w->w->wfhs) w->w->since_ns = now;
  w->nref--;
  pthread_mutex_unlock(&fs->lock);
  fuse_reply_err(req, ESTALE);
}

enum { T_HANDLE, T_PATH };

/* Truncate writer node `n` to `size`: through a handle (T_HANDLE: O_TRUNC,
 * ftruncate), or by name (T_PATH: truncate(2)), which commits at once and
 * lets go of the writer if no handle has it open. */
static int truncate_writer(h5tx_fuse__fs *fs, node *n, uint64_t size, int how) {
  wstate *ws = n->w;
  h5tx_error e = {0, ""};
  pthread_mutex_lock(&ws->lock);
  int rc = ws->w ? 0 : ESTALE;
  if (!rc && (rc = h5tx_fuse__to_errno(h5tx_writer_truncate(ws->w, size, &e)))) {
    ws->failed = 1;
    h5tx_fuse__log(fs, "%s: truncate: %s", n->path, e.msg);
  }
  if (!rc) {
    atomic_store(&ws->length, h5tx_writer_length(ws->w));
    atomic_store(&ws->mtime_ns, h5tx_fuse__now_ns());
    if (how == T_PATH) rc = h5tx_fuse__w_commit(fs, n);
  }
  pthread_mutex_unlock(&ws->lock);
  if (how == T_PATH) {
    pthread_mutex_lock(&fs->lock);
    if (n->indexed && ws->wfhs == 0) {
      pthread_mutex_lock(&ws->lock);
      if (ws->w && !h5tx_writer_dirty(ws->w)) {
        h5tx_writer_close(ws->w);
        ws->w = NULL;
        h5tx_fuse__key_remove(fs, n);
      }
      pthread_mutex_unlock(&ws->lock);
    }
    pthread_mutex_unlock(&fs->lock);
  }
  return rc;
}

void h5tx_fuse__op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                           struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  node *n = h5tx_fuse__get_node(fs, ino);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  int size = to_set & FUSE_SET_ATTR_SIZE;
  switch (n->kind) {
  case K_HDIR:
    if (size) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    break; /* modes, owners and times are not kept: accepted, unchanged */
  case K_HFILE:
    if (size && fi &&
        h5tx_fuse__get_fh(fi)->kind == F_WRITE) { /* h5tx_fuse__open_write_here()'s handle */
      node *w = h5tx_fuse__get_fh(fi)->n;
      int rc = truncate_writer(fs, w, (uint64_t)attr->st_size, T_HANDLE);
      if (rc)
        fuse_reply_err(req, rc);
      else
        h5tx_fuse__reply_writer_attr(fs, req, w, n->ino);
      return;
    }
    if (size && h5tx_fuse__sent_back_before(fs, req, n->path)) { /* truncate(2), again */
      node *w;
      int rc = h5tx_fuse__w_get(fs, n->path, 0, 0, &w);
      if (!rc) {
        rc = truncate_writer(fs, w, (uint64_t)attr->st_size, T_PATH);
        pthread_mutex_lock(&fs->lock);
        w->nref--;
        h5tx_fuse__maybe_free(fs, w);
        pthread_mutex_unlock(&fs->lock);
      }
      if (rc) {
        fuse_reply_err(req, rc);
        return;
      }
    } else if (size) {
      h5tx_fuse__redirect_to_writer(fs, req, n->path);
      return;
    }
    break;
  case K_WFILE:
    if (size) {
      pthread_mutex_lock(&fs->lock);
      h5tx_fuse__marker_clear(fs, fuse_req_ctx(req)->pid);
      int live = n->indexed;
      pthread_mutex_unlock(&fs->lock);
      if (!live && !fi) {
        h5tx_fuse__redirect_to_writer(fs, req, n->path);
        return;
      }
      node *w = fi && h5tx_fuse__get_fh(fi)->kind == F_WRITE ? h5tx_fuse__get_fh(fi)->n : n;
      int rc = truncate_writer(fs, w, (uint64_t)attr->st_size, fi ? T_HANDLE : T_PATH);
      if (rc) {
        fuse_reply_err(req, rc);
        return;
      }
      if (w != n) {
        h5tx_fuse__reply_writer_attr(fs, req, w, n->ino);
        return;
      }
    }
    break;
  default: fuse_reply_err(req, EROFS); return;
  }
  h5tx_fuse__reply_attr_of(fs, req, n,
                           n->kind == K_WFILE && h5tx_fuse__sees_writes(fs, req, n) ? V_WRITER
                                                                                    : V_COMMITTED);
}

/* A handle on writer node `w` (whose count of handles already includes
 * it) opened on inode `ino` by the caller of `req`, for writing (`wr`,
 * truncated if the open asks for it) or for reading by a writing process;
 * NULL after replying with the error. */
fh *h5tx_fuse__write_handle(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino, int wr,
                            struct fuse_file_info *fi) {
  h5tx_fuse__proc pi;
  h5tx_fuse__proc_get(fuse_req_ctx(req)->pid, &pi);
  fh *f = h5tx_fuse__fh_new(fs, F_WRITE, w);
  int rc = f ? 0 : ENOMEM;
  if (f) {
    pthread_mutex_lock(&fs->lock);
    f->wr = wr;
    f->ino = ino;
    f->opener = pi.known ? pi.tgid : 0;
    f->done = !pi.known; /* an opener the daemon cannot see commits only by fsync */
    pthread_mutex_unlock(&fs->lock);
  }
  if (f && wr && (fi->flags & O_TRUNC)) rc = truncate_writer(fs, w, 0, T_HANDLE);
  if (rc) {
    if (f) {
      h5tx_fuse__release_write(fs, f);
      h5tx_fuse__fh_free(fs, f);
    } else {
      pthread_mutex_lock(&fs->lock);
      w->w->wfhs--;
      pthread_mutex_unlock(&fs->lock);
    }
    fuse_reply_err(req, rc);
    return NULL;
  }
  fi->direct_io = 1; /* no page cache for a file that changes under writes */
  return f;
}

static void open_write_fh(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino, int wr,
                          struct fuse_file_info *fi) {
  fh *f = h5tx_fuse__write_handle(fs, req, w, ino, wr, fi);
  if (f) h5tx_fuse__reply_open_fh(fs, req, fi, f);
}

void h5tx_fuse__open_writer(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi,
                            int wr) {
  pid_t tid = fuse_req_ctx(req)->pid;
  h5tx_fuse__proc pi;
  h5tx_fuse__proc_get(tid, &pi);
  pthread_mutex_lock(&fs->lock);
  while (n->w->busy)
    pthread_cond_wait(&fs->cond, &fs->lock);
  int sent_back = h5tx_fuse__marker_find(fs, tid, n->path, h5tx_fuse__now_ns()) != NULL;
  h5tx_fuse__marker_clear(fs, tid);
  int live = n->indexed;
  /* a writing process reads its own writes (POSIX read-after-write) */
  int own = !wr && live && h5tx_fuse__writes_it(fs, n, pi.tgid);
  if (live && (wr || own)) n->w->wfhs++;
  pthread_mutex_unlock(&fs->lock);
  fi->direct_io = 1; /* no page cache for a file that changes under writes */
  if (!wr && !own) { /* other readers see the committed head, as of their open */
    fh *f;
    int rc = h5tx_fuse__open_snapshot(fs, n, H5TX_HEAD, &f);
    if (rc)
      fuse_reply_err(req, rc);
    else
      h5tx_fuse__reply_open_fh(fs, req, fi, f);
    return;
  }
  if (!live) { /* the writer went (its last handle closed): start again */
    if (sent_back)
      h5tx_fuse__open_write_here(fs, req, n, fi);
    else
      h5tx_fuse__redirect_to_writer(fs, req, n->path);
    return;
  }
  open_write_fh(fs, req, n, n->ino, wr, fi);
}

/* The same thread opens inode `h` (a content inode, or a writer inode
 * whose writer went) for writing again right after its ESTALE: its new
 * lookup was answered by another thread's lookup of the name, which the
 * kernel shares. It cannot be sent back twice, so the name's writer is
 * served on this inode (direct_io: the page cache of a content inode stays
 * the committed bytes). */
void h5tx_fuse__open_write_here(h5tx_fuse__fs *fs, fuse_req_t req, const node *h,
                                struct fuse_file_info *fi) {
  for (int tries = 0; tries < 3; tries++) {
    node *w;
    int rc = h5tx_fuse__w_get(fs, h->path, 0, 0, &w);
    if (rc) {
      fuse_reply_err(req, rc);
      return;
    }
    pthread_mutex_lock(&fs->lock);
    while (w->w->busy)
      pthread_cond_wait(&fs->cond, &fs->lock);
    int live = w->indexed;
    if (live) w->w->wfhs++;
    w->nref--;
    if (!live) h5tx_fuse__maybe_free(fs, w);
    pthread_mutex_unlock(&fs->lock);
    if (live) {
      open_write_fh(fs, req, w, h->ino, 1, fi);
      return;
    }
  }
  fuse_reply_err(req, EAGAIN);
}

void h5tx_fuse__op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                          struct fuse_file_info *fi) {
  (void)mode;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  node *p = h5tx_fuse__get_node(fs, parent);
  if (!p) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (p->kind != K_HDIR) {
    fuse_reply_err(req, p->kind == K_RDIR || p->kind == K_MDIR ? EROFS : ENOTDIR);
    return;
  }
  if (p->ino == INO_ROOT && (strcmp(name, ".h5tx") == 0 || name[0] == '@')) {
    fuse_reply_err(req, name[0] == '@' ? EROFS : EEXIST);
    return;
  }
  if (strchr(name, '@')) { /* '@' names revisions in the store's names */
    fuse_reply_err(req, EINVAL);
    return;
  }
  char *full = h5tx_fuse__join(p->path, name);
  node *n = NULL;
  int rc = full ? EAGAIN : ENOMEM;
  for (int tries = 0; rc == EAGAIN && tries < 3; tries++) {
    if ((rc = h5tx_fuse__w_get(fs, full, 1, (fi->flags & O_EXCL) != 0, &n))) break;
    pthread_mutex_lock(&fs->lock);
    while (n->w->busy) /* its last handle is closing it */
      pthread_cond_wait(&fs->cond, &fs->lock);
    if (n->indexed) {
      h5tx_fuse__marker_clear(fs, fuse_req_ctx(req)->pid);
      n->w->wfhs++;
    } else {
      rc = EAGAIN;
    }
    n->nref--;
    if (rc) h5tx_fuse__maybe_free(fs, n);
    pthread_mutex_unlock(&fs->lock);
  }
  free(full);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  fh *f = h5tx_fuse__write_handle(fs, req, n, n->ino, 1, fi);
  if (!f) return;
  fi->fh = (uintptr_t)f;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = n->ino;
  pthread_mutex_lock(&fs->lock);
  h5tx_fuse__fill_attr(fs, n, V_WRITER, &e.attr);
  n->nlookup++;
  pthread_mutex_unlock(&fs->lock);
  if (fuse_reply_create(req, &e, fi) != 0) {
    pthread_mutex_lock(&fs->lock);
    n->nlookup--;
    pthread_mutex_unlock(&fs->lock);
    h5tx_fuse__release_write(fs, f);
    h5tx_fuse__fh_free(fs, f);
  }
}

void h5tx_fuse__op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                         struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  fh *f = h5tx_fuse__get_fh(fi);
  if (f->kind != F_WRITE) {
    fuse_reply_err(req, EBADF);
    return;
  }
  wstate *ws = f->n->w;
  h5tx_error e = {0, ""};
  pthread_mutex_lock(&ws->lock);
  int rc = ws->w ? h5tx_writer_write(ws->w, (uint64_t)off, buf, size, &e) : H5TX_EIO;
  if (rc) {
    ws->failed = 1; /* the file no longer holds what the program wrote */
    h5tx_fuse__log(fs, "write %s: %s; nothing more will be committed", f->n->path,
                   e.msg[0] ? e.msg : h5tx_strerror(rc));
  } else {
    atomic_store(&ws->length, h5tx_writer_length(ws->w));
    atomic_store(&ws->mtime_ns, h5tx_fuse__now_ns());
  }
  pthread_mutex_unlock(&ws->lock);
  if (rc)
    fuse_reply_err(req, h5tx_fuse__to_errno(rc));
  else
    fuse_reply_write(req, size);
}
