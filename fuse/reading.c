/* reading.c - open handles and reading: snapshots of a revision for
 * content inodes and readers, reads through the writer for its writing
 * processes, open's dispatch, and the worker threads' read buffers. */
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

fh *h5tx_fuse__fh_new(h5tx_fuse__fs *fs, int kind, node *n) {
  fh *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->kind = kind;
  f->n = n;
  f->done = 1; /* a writer's handle counts once h5tx_fuse__write_handle() knows its opener */
  pthread_mutex_init(&f->lock, NULL);
  pthread_mutex_lock(&fs->lock);
  if (n) n->nref++;
  f->next = fs->fhs;
  if (fs->fhs) fs->fhs->prev = f;
  fs->fhs = f;
  pthread_mutex_unlock(&fs->lock);
  return f;
}

void h5tx_fuse__fh_free(h5tx_fuse__fs *fs, fh *f) {
  pthread_mutex_lock(&fs->lock);
  if (f->prev)
    f->prev->next = f->next;
  else
    fs->fhs = f->next;
  if (f->next) f->next->prev = f->prev;
  if (f->n) {
    f->n->nref--;
    h5tx_fuse__maybe_free(fs, f->n);
  }
  pthread_mutex_unlock(&fs->lock);
  h5tx_snap_close(f->snap);
  pthread_mutex_destroy(&f->lock);
  free(f->buf);
  free(f);
}

fh *h5tx_fuse__get_fh(const struct fuse_file_info *fi) { return (fh *)(uintptr_t)fi->fh; }

/* A read handle on file `name` as of revision `rev`; `n` a content node
 * (checked against the snapshot) or a writer node (the file may be absent).
 * Returns an errno. */
int h5tx_fuse__open_snapshot(h5tx_fuse__fs *fs, node *n, h5tx_rev rev, fh **out) {
  fh *f = h5tx_fuse__fh_new(fs, F_READ, n);
  if (!f) return ENOMEM;
  h5tx_error e = {0, ""};
  int rc = h5tx_snap_open(fs->s, rev, &f->snap, &e);
  if (!rc) {
    rc = h5tx_snap_stat(f->snap, n->path, &f->st, &e);
    if (!rc) {
      f->has_file = 1;
      if (n->kind != K_WFILE && (f->st.file_id != n->file_id || f->st.changed != n->changed))
        rc = H5TX_EGONE; /* not this content any more: look the name up again */
    } else if (rc == H5TX_ENOENT && n->kind == K_WFILE) {
      rc = 0; /* created, not committed yet: empty to readers */
    }
  }
  if (rc) {
    if (rc != H5TX_ENOENT && rc != H5TX_EGONE)
      h5tx_fuse__log(fs, "%s: %s", n->path, e.msg[0] ? e.msg : h5tx_strerror(rc));
    h5tx_fuse__fh_free(fs, f);
    return rc == H5TX_EGONE ? ESTALE : h5tx_fuse__to_errno(rc);
  }
  *out = f;
  return 0;
}

void h5tx_fuse__reply_open_fh(h5tx_fuse__fs *fs, fuse_req_t req, struct fuse_file_info *fi, fh *f) {
  fi->fh = (uintptr_t)f;
  if (fuse_reply_open(req, fi) != 0) {
    if (f->kind == F_WRITE) h5tx_fuse__release_write(fs, f);
    h5tx_fuse__fh_free(fs, f);
  }
}

static void open_content(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi) {
  pthread_mutex_lock(&fs->lock);
  h5tx_rev rev = n->rev;
  pthread_mutex_unlock(&fs->lock);
  fh *f;
  int rc = h5tx_fuse__open_snapshot(fs, n, rev, &f);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  fi->keep_cache = 1; /* immutable: every open shares the cached pages */
  h5tx_fuse__reply_open_fh(fs, req, fi, f);
}

void h5tx_fuse__op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  node *n = h5tx_fuse__get_node(fs, ino);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  int wr = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
  switch (n->kind) {
  case K_RFILE:
    if (wr)
      fuse_reply_err(req, EROFS);
    else
      open_content(fs, req, n, fi);
    break;
  case K_HFILE:
    if (!wr)
      open_content(fs, req, n, fi);
    else if (h5tx_fuse__sent_back_before(fs, req, n->path))
      h5tx_fuse__open_write_here(fs, req, n, fi);
    else
      h5tx_fuse__redirect_to_writer(fs, req, n->path);
    break;
  case K_WFILE: h5tx_fuse__open_writer(fs, req, n, fi, wr); break;
  case K_MLOG:
  case K_MSTATS:
    if (wr)
      fuse_reply_err(req, EROFS);
    else
      h5tx_fuse__open_text(fs, req, n, fi);
    break;
  default: fuse_reply_err(req, EISDIR); break;
  }
}

/* Reply with `size` bytes at `off` of a handle's generated content. From
 * a copy: once the reply is written, the kernel may release the handle in
 * another thread before fuse_reply_buf() returns here. */
void h5tx_fuse__reply_slice(fuse_req_t req, const fh *f, size_t size, off_t off) {
  size_t o = (size_t)off < f->len ? (size_t)off : f->len;
  size_t n = size < f->len - o ? size : f->len - o;
  char *copy = n ? malloc(n) : NULL;
  if (n && !copy) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  if (n) memcpy(copy, f->buf + o, n);
  fuse_reply_buf(req, copy, n);
  free(copy);
}

/* A worker thread's read buffer, kept for its next read: reads allocate
 * nothing (threads x the largest read is all they hold); freed when the
 * thread ends. NULL when out of memory. */
typedef struct rbuf {
  char *p;
  size_t cap;
} rbuf;

static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;
static int rbuf_ok; /* the key exists */

static void rbuf_free(void *arg) {
  rbuf *b = arg;
  free(b->p);
  free(b);
}

static void rbuf_key_make(void) { rbuf_ok = pthread_key_create(&rbuf_key, rbuf_free) == 0; }

static char *read_buffer(size_t n) {
  pthread_once(&rbuf_once, rbuf_key_make);
  if (!rbuf_ok) return NULL;
  rbuf *b = pthread_getspecific(rbuf_key);
  if (!b) {
    if (!(b = calloc(1, sizeof *b))) return NULL;
    if (pthread_setspecific(rbuf_key, b) != 0) {
      free(b);
      return NULL;
    }
  }
  if (n > b->cap) {
    free(b->p);
    b->cap = 0;
    if (!(b->p = malloc(n))) return NULL;
    b->cap = n;
  }
  return b->p;
}

void h5tx_fuse__op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  fh *f = h5tx_fuse__get_fh(fi);
  if (f->kind == F_TEXT || f->kind == F_DIR) {
    h5tx_fuse__reply_slice(req, f, size, off);
    return;
  }
  h5tx_error e = {0, ""};
  int rc = 0;
  char *buf = NULL;
  size_t n = 0;
  if (f->kind == F_READ) {
    uint64_t len = f->has_file ? f->st.length : 0;
    n = (uint64_t)off < len ? (size_t)(len - (uint64_t)off < size ? len - (uint64_t)off : size) : 0;
    if (n && !(buf = read_buffer(n))) rc = H5TX_ENOMEM;
    if (n && buf) {
      pthread_mutex_lock(&f->lock);
      rc = h5tx_snap_read_stat(f->snap, f->n->path, &f->st, (uint64_t)off, buf, n, &e);
      pthread_mutex_unlock(&f->lock);
    }
  } else {
    wstate *ws = f->n->w;
    pthread_mutex_lock(&ws->lock);
    uint64_t len = ws->w ? h5tx_writer_length(ws->w) : 0;
    n = (uint64_t)off < len ? (size_t)(len - (uint64_t)off < size ? len - (uint64_t)off : size) : 0;
    if (n && !(buf = read_buffer(n))) rc = H5TX_ENOMEM;
    if (n && buf) rc = h5tx_writer_read(ws->w, (uint64_t)off, buf, n, &e);
    pthread_mutex_unlock(&ws->lock);
  }
  if (rc) {
    h5tx_fuse__log(fs, "read %s: %s", f->n->path, e.msg[0] ? e.msg : h5tx_strerror(rc));
    fuse_reply_err(req, h5tx_fuse__to_errno(rc));
    return;
  }
  atomic_fetch_add(&fs->reads, 1);
  atomic_fetch_add(&fs->bytes, n);
  fuse_reply_buf(req, buf, n);
}
