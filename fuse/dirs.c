/* dirs.c - directories: listings of head and of revisions, and the
 * changes of names - mkdir, rmdir, unlink, rename. */
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct dent {
  char *name;
  int dir;
} dent;

typedef struct dents {
  dent *v;
  size_t n, cap;
  const char *prefix; /* listing this directory ("" for the root) */
  int oom;
} dents;

static void dents_add(dents *d, const char *name, size_t len, int dir) {
  if (d->oom || len == 0) return;
  if (d->n == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 64;
    dent *v = realloc(d->v, cap * sizeof *v);
    if (!v) {
      d->oom = 1;
      return;
    }
    d->v = v;
    d->cap = cap;
  }
  if (!(d->v[d->n].name = strndup(name, len))) {
    d->oom = 1;
    return;
  }
  d->v[d->n++].dir = dir;
}

/* Add the child of directory d->prefix that `name` (a file, or a
 * directory when `dir`) is in, if it is under it. */
static void dents_add_under(dents *d, const char *name, int dir) {
  if (!h5tx_fuse__starts_with_dir(name, d->prefix)) return;
  const char *rel = name + strlen(d->prefix) + (d->prefix[0] ? 1 : 0);
  const char *slash = strchr(rel, '/');
  dents_add(d, rel, slash ? (size_t)(slash - rel) : strlen(rel), slash ? 1 : dir);
}

static int list_one(void *arg, const char *name, const h5tx_stat *st) {
  (void)st;
  dents_add_under(arg, name, 0);
  return 0;
}

/* `@TAG` in the root's listing, so that ls and tab completion find the
 * tags (numbered revisions stay out: there may be thousands). */
static int list_tag(void *arg, const char *name, h5tx_rev rev) {
  (void)rev;
  char at[600];
  int n = snprintf(at, sizeof at, "@%s", name);
  if (n > 0 && (size_t)n < sizeof at) dents_add(arg, at, (size_t)n, 1);
  return 0;
}

static int dent_cmp(const void *a, const void *b) {
  const dent *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : x->dir - y->dir; /* a file before a directory of the same name */
}

static void dents_free(dents *d) {
  for (size_t i = 0; i < d->n; i++)
    free(d->v[i].name);
  free(d->v);
}

/* The fuse_add_direntry() buffer of the sorted, deduplicated entries. */
static int dents_buffer(fuse_req_t req, dents *d, int with_meta, char **out, size_t *out_len) {
  if (d->n) qsort(d->v, d->n, sizeof *d->v, dent_cmp);
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return ENOMEM;
  const char *fixed[3] = {".", "..", with_meta ? ".h5tx" : NULL};
  for (size_t i = 0; i < 3 + d->n; i++) {
    const char *name;
    int dir;
    if (i < 3) {
      if (!(name = fixed[i])) continue;
      dir = 1;
    } else {
      const dent *x = &d->v[i - 3];
      if (i > 3 && strcmp(x->name, d->v[i - 4].name) == 0) continue;
      name = x->name;
      dir = x->dir;
    }
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = 0xffffffffu; /* unknown until looked up */
    st.st_mode = dir ? S_IFDIR : S_IFREG;
    size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
    if (len + need > cap) {
      while (len + need > cap)
        cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        return ENOMEM;
      }
      buf = nb;
    }
    fuse_add_direntry(req, buf + len, need, name, &st, (off_t)(len + need));
    len += need;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

void h5tx_fuse__op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  node *n = h5tx_fuse__get_node(fs, ino);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  dents d = {0};
  d.prefix = n->path;
  int rc = 0;
  if (n->kind == K_MDIR) {
    dents_add(&d, "log", 3, 0);
    dents_add(&d, "stats", 5, 0);
  } else if (n->kind == K_HDIR || n->kind == K_RDIR) {
    h5tx_snap *snap;
    h5tx_error e = {0, ""};
    rc = h5tx_snap_open(fs->s, n->kind == K_HDIR ? H5TX_HEAD : n->rev, &snap, &e);
    if (!rc) {
      char *prefix = n->path[0] ? h5tx_fuse__xprintf("%s/", n->path) : NULL;
      if (n->path[0] && !prefix)
        rc = H5TX_ENOMEM;
      else
        rc = h5tx_snap_list(snap, prefix, list_one, &d, &e);
      free(prefix);
      h5tx_snap_close(snap);
    }
    if (rc) h5tx_fuse__log(fs, "list %s: %s", n->path, e.msg);
    if (!rc && n->ino == INO_ROOT) rc = h5tx_tags(fs->s, list_tag, &d, &e);
    if (!rc && n->kind == K_HDIR) {
      pthread_mutex_lock(&fs->lock);
      for (size_t i = 0; i < fs->nmem; i++)
        dents_add_under(&d, fs->memdirs[i], 1);
      for (node *w = fs->wlist; w; w = w->wnext)
        if (atomic_load(&w->w->new_file)) dents_add_under(&d, w->path, 0);
      pthread_mutex_unlock(&fs->lock);
    }
    rc = h5tx_fuse__to_errno(rc);
  } else {
    rc = ENOTDIR;
  }
  if (!rc && d.oom) rc = ENOMEM;
  fh *f = NULL;
  if (!rc) {
    f = h5tx_fuse__fh_new(fs, F_DIR, NULL);
    if (!f || (rc = dents_buffer(req, &d, n->ino == INO_ROOT, &f->buf, &f->len))) {
      if (f) h5tx_fuse__fh_free(fs, f);
      rc = rc ? rc : ENOMEM;
    }
  }
  dents_free(&d);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  h5tx_fuse__reply_open_fh(fs, req, fi, f);
}

void h5tx_fuse__op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__reply_slice(req, h5tx_fuse__get_fh(fi), size, off);
}

void h5tx_fuse__op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fh_free(h5tx_fuse__fs_of(req), h5tx_fuse__get_fh(fi));
  fuse_reply_err(req, 0);
}

/* The head directory `parent` and the full name of `name` in it, or an
 * errno for a change where changes are not allowed. */
static int head_name(h5tx_fuse__fs *fs, fuse_ino_t parent, const char *name, char **full) {
  node *p = h5tx_fuse__get_node(fs, parent);
  if (!p) return ENOENT;
  if (p->kind == K_RDIR || p->kind == K_MDIR) return EROFS;
  if (p->kind != K_HDIR) return ENOTDIR;
  if (p->ino == INO_ROOT && (name[0] == '@' || strcmp(name, ".h5tx") == 0)) return EROFS;
  if (strchr(name, '@')) return EINVAL;
  return (*full = h5tx_fuse__join(p->path, name)) ? 0 : ENOMEM;
}

/* What `name` is at head: 0 absent, 1 a file, 2 a directory; or -errno. */
static int head_kind(h5tx_fuse__fs *fs, const char *name) {
  h5tx_snap *snap;
  int rc = h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL);
  if (rc) return -h5tx_fuse__to_errno(rc);
  h5tx_stat st;
  rc = h5tx_snap_stat(snap, name, &st, NULL);
  int kind = rc == 0 ? 1 : h5tx_fuse__snap_has_dir(snap, name) ? 2 : 0;
  h5tx_snap_close(snap);
  if (rc && rc != H5TX_ENOENT && rc != H5TX_EINVAL) return -h5tx_fuse__to_errno(rc);
  if (kind) return kind;
  pthread_mutex_lock(&fs->lock);
  char *wkey = h5tx_fuse__xprintf("w:%s", name);
  if (wkey && h5tx_fuse__key_find(fs, wkey))
    kind = 1;
  else if (h5tx_fuse__memdir_index(fs, name) >= 0 || h5tx_fuse__mem_has_under(fs, name))
    kind = 2;
  pthread_mutex_unlock(&fs->lock);
  free(wkey);
  return kind;
}

void h5tx_fuse__op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  (void)mode;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  char *full = NULL;
  int rc = head_name(fs, parent, name, &full);
  if (!rc) {
    int k = head_kind(fs, full);
    rc = k < 0 ? -k : k ? EEXIST : 0;
  }
  char *key = rc ? NULL : h5tx_fuse__xprintf("hd:%s", full);
  if (!rc && !key) rc = ENOMEM;
  if (rc) {
    free(full);
    fuse_reply_err(req, rc);
    return;
  }
  pthread_mutex_lock(&fs->lock);
  node *n = h5tx_fuse__memdir_add(fs, full) ? NULL : h5tx_fuse__node_get(fs, K_HDIR, key, full);
  free(key);
  free(full);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  h5tx_fuse__reply_entry_unlock(fs, req, n, 0, V_COMMITTED);
}

void h5tx_fuse__op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  char *full = NULL;
  int rc = head_name(fs, parent, name, &full);
  if (!rc) {
    h5tx_snap *snap;
    rc = h5tx_fuse__to_errno(h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL));
    if (!rc) {
      h5tx_stat st;
      rc = h5tx_snap_stat(snap, full, &st, NULL) == 0 ? ENOTDIR
           : h5tx_fuse__snap_has_dir(snap, full)      ? ENOTEMPTY
                                                      : 0;
      h5tx_snap_close(snap);
    }
  }
  if (!rc) {
    pthread_mutex_lock(&fs->lock);
    ssize_t i = h5tx_fuse__memdir_index(fs, full);
    if (h5tx_fuse__mem_has_under(fs, full))
      rc = ENOTEMPTY;
    else if (i < 0)
      rc = ENOENT;
    else
      h5tx_fuse__memdir_del(fs, (size_t)i);
    pthread_mutex_unlock(&fs->lock);
  }
  free(full);
  fuse_reply_err(req, rc);
}

/* Is a writer of this daemon attached to `name` (once one closing is
 * closed)? */
static int has_writer(h5tx_fuse__fs *fs, const char *name) {
  char *key = h5tx_fuse__xprintf("w:%s", name);
  pthread_mutex_lock(&fs->lock);
  node *w;
  while (key && (w = h5tx_fuse__key_find(fs, key)) && w->w->busy)
    pthread_cond_wait(&fs->cond, &fs->lock);
  int busy = !key || h5tx_fuse__key_find(fs, key) != NULL;
  pthread_mutex_unlock(&fs->lock);
  free(key);
  return busy;
}

void h5tx_fuse__op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  char *full = NULL;
  int rc = head_name(fs, parent, name, &full);
  if (!rc && has_writer(fs, full)) rc = EBUSY;
  if (!rc) {
    h5tx_error e = {0, ""};
    char *msg = h5tx_fuse__xprintf("mount: remove %s", full);
    int hrc = h5tx_remove(fs->s, full, msg ? msg : "mount", NULL, &e);
    free(msg);
    if (hrc && hrc != H5TX_ENOENT) h5tx_fuse__log(fs, "remove %s: %s", full, e.msg);
    rc = h5tx_fuse__to_errno(hrc);
  }
  if (!rc) {
    atomic_fetch_add(&fs->commits, 1);
    pthread_mutex_lock(&fs->lock);
    h5tx_fuse__memdir_keep_parents(fs, full);
    pthread_mutex_unlock(&fs->lock);
    h5tx_fuse__notify_moved(fs, full);
  }
  free(full);
  fuse_reply_err(req, rc);
}

/* Rename the in-memory directory `from` (and those under it) to `to`. */
static int rename_memdirs(h5tx_fuse__fs *fs, const char *from, const char *to) {
  size_t fl = strlen(from);
  for (size_t i = 0; i < fs->nmem; i++) {
    const char *d = fs->memdirs[i];
    if (strcmp(d, from) != 0 && !h5tx_fuse__starts_with_dir(d, from)) continue;
    char *moved = h5tx_fuse__xprintf("%s%s", to, d + fl);
    if (!moved) return ENOMEM;
    free(fs->memdirs[i]);
    fs->memdirs[i] = moved;
  }
  return 0;
}

void h5tx_fuse__op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                          const char *newname, unsigned int flags) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  char *from = NULL, *to = NULL;
  int rc = flags & ~(unsigned)RENAME_NOREPLACE ? EINVAL : 0;
  if (!rc) rc = head_name(fs, parent, name, &from);
  if (!rc) rc = head_name(fs, newparent, newname, &to);
  if (!rc && strcmp(from, to) == 0) goto done;
  if (!rc && (has_writer(fs, from) || has_writer(fs, to))) rc = EBUSY;
  int kf = rc ? 0 : head_kind(fs, from), kt = rc ? 0 : head_kind(fs, to);
  if (!rc && (kf < 0 || kt < 0)) rc = kf < 0 ? -kf : -kt;
  if (!rc && kf == 0) rc = ENOENT;
  if (!rc && kt && (flags & RENAME_NOREPLACE)) rc = EEXIST;
  if (!rc && kf == 1) {
    if (kt == 2)
      rc = EISDIR;
    else {
      h5tx_error e = {0, ""};
      char *msg = h5tx_fuse__xprintf("mount: rename %s to %s", from, to);
      int hrc = h5tx_rename(fs->s, from, to, msg ? msg : "mount", NULL, &e);
      free(msg);
      if (hrc && hrc != H5TX_ENOENT) h5tx_fuse__log(fs, "rename %s: %s", from, e.msg);
      if (!(rc = h5tx_fuse__to_errno(hrc))) {
        atomic_fetch_add(&fs->commits, 1);
        pthread_mutex_lock(&fs->lock);
        h5tx_fuse__memdir_keep_parents(fs, from);
        pthread_mutex_unlock(&fs->lock);
        h5tx_fuse__notify_moved(fs, from);
        h5tx_fuse__notify_moved(fs, to);
      }
    }
  } else if (!rc) {
    /* A directory: the store has no directories, so only one made in
     * memory and still empty of files moves here; mv copies the others. */
    h5tx_snap *snap;
    rc = h5tx_fuse__to_errno(h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL));
    if (!rc) {
      if (h5tx_fuse__snap_has_dir(snap, from))
        rc = EXDEV;
      else if (kt == 1)
        rc = ENOTDIR;
      else if (kt == 2)
        rc = h5tx_fuse__snap_has_dir(snap, to) ? ENOTEMPTY : 0;
      h5tx_snap_close(snap);
    }
    if (!rc) {
      pthread_mutex_lock(&fs->lock);
      for (node *w = fs->wlist; w; w = w->wnext)
        if (h5tx_fuse__starts_with_dir(w->path, from)) rc = EBUSY;
      ssize_t i;
      if (!rc && kt == 2) {
        for (size_t j = 0; j < fs->nmem; j++)
          if (h5tx_fuse__starts_with_dir(fs->memdirs[j], to)) rc = ENOTEMPTY;
        if (!rc && (i = h5tx_fuse__memdir_index(fs, to)) >= 0) h5tx_fuse__memdir_del(fs, (size_t)i);
      }
      if (!rc) rc = rename_memdirs(fs, from, to);
      if (!rc) h5tx_fuse__memdir_keep_parents(fs, from);
      pthread_mutex_unlock(&fs->lock);
    }
  }
done:
  free(from);
  free(to);
  fuse_reply_err(req, rc);
}
