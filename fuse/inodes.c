/* inodes.c - the inode table and name lookup: one inode per immutable
 * content version, writer inodes, directories of head and of revisions;
 * the ESTALE markers, directories made in memory, attributes and the
 * replies that carry them, lookup, forget and getattr. */
#include "fs_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static size_t ino_slot(const h5tx_fuse__fs *fs, uint64_t ino) {
  return (size_t)((ino * 11400714819323198485ull) >> 7) & (fs->nb - 1);
}

static size_t key_slot(const h5tx_fuse__fs *fs, const char *key) {
  return (size_t)hash_str(key) & (fs->nb - 1);
}

static node *ino_find(h5tx_fuse__fs *fs, uint64_t ino) {
  for (node *n = fs->by_ino[ino_slot(fs, ino)]; n; n = n->ino_next)
    if (n->ino == ino) return n;
  return NULL;
}

node *h5tx_fuse__key_find(h5tx_fuse__fs *fs, const char *key) {
  for (node *n = fs->by_key[key_slot(fs, key)]; n; n = n->key_next)
    if (strcmp(n->key, key) == 0) return n;
  return NULL;
}

static void key_insert(h5tx_fuse__fs *fs, node *n) {
  size_t i = key_slot(fs, n->key);
  n->key_next = fs->by_key[i];
  fs->by_key[i] = n;
  n->indexed = 1;
  fs->n_keys++;
  if (n->kind == K_WFILE) {
    n->wprev = NULL;
    n->wnext = fs->wlist;
    if (fs->wlist) fs->wlist->wprev = n;
    fs->wlist = n;
  }
}

void h5tx_fuse__key_remove(h5tx_fuse__fs *fs, node *n) {
  if (!n->indexed) return;
  for (node **p = &fs->by_key[key_slot(fs, n->key)]; *p; p = &(*p)->key_next)
    if (*p == n) {
      *p = n->key_next;
      break;
    }
  n->indexed = 0;
  fs->n_keys--;
  if (n->kind == K_WFILE) {
    if (n->wprev)
      n->wprev->wnext = n->wnext;
    else
      fs->wlist = n->wnext;
    if (n->wnext) n->wnext->wprev = n->wprev;
    n->wnext = n->wprev = NULL;
  }
}

/* Double the buckets when the tables fill up (best effort). */
static void grow(h5tx_fuse__fs *fs) {
  if (fs->n_nodes < fs->nb) return;
  size_t nb = fs->nb * 2;
  node **bi = calloc(nb, sizeof *bi), **bk = calloc(nb, sizeof *bk);
  if (!bi || !bk) {
    free(bi);
    free(bk);
    return;
  }
  node *all = NULL;
  for (size_t i = 0; i < fs->nb; i++)
    for (node *n = fs->by_ino[i], *next; n; n = next) {
      next = n->ino_next;
      n->ino_next = all;
      all = n;
    }
  free(fs->by_ino);
  free(fs->by_key);
  fs->by_ino = bi;
  fs->by_key = bk;
  fs->nb = nb;
  for (node *n = all, *next; n; n = next) {
    next = n->ino_next;
    size_t i = ino_slot(fs, n->ino);
    n->ino_next = bi[i];
    bi[i] = n;
    if (n->indexed) {
      size_t k = key_slot(fs, n->key);
      n->key_next = bk[k];
      bk[k] = n;
    }
  }
}

/* A new node, in both tables. NULL when out of memory. */
node *h5tx_fuse__node_new(h5tx_fuse__fs *fs, int kind, uint64_t ino, const char *key,
                          const char *path) {
  grow(fs);
  node *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->ino = ino ? ino : fs->next_ino++;
  n->key = strdup(key);
  n->path = strdup(path);
  if (kind == K_WFILE && (n->w = calloc(1, sizeof *n->w))) pthread_mutex_init(&n->w->lock, NULL);
  if (!n->key || !n->path || (kind == K_WFILE && !n->w)) {
    free(n->key);
    free(n->path);
    free(n->w);
    free(n);
    return NULL;
  }
  size_t i = ino_slot(fs, n->ino);
  n->ino_next = fs->by_ino[i];
  fs->by_ino[i] = n;
  fs->n_nodes++;
  key_insert(fs, n);
  return n;
}

void h5tx_fuse__node_destroy(node *n) {
  if (n->w) {
    if (n->w->w) h5tx_writer_close(n->w->w);
    pthread_mutex_destroy(&n->w->lock);
    free(n->w);
  }
  free(n->key);
  free(n->path);
  free(n);
}

/* Free `n` once neither the kernel nor a handle holds it. A writer still
 * attached to its name stays for the helper thread, which lets it go when
 * nobody opened it in REAP_NS. */
void h5tx_fuse__maybe_free(h5tx_fuse__fs *fs, node *n) {
  if (n->fixed || n->nlookup || n->nref) return;
  if (n->kind == K_WFILE && n->indexed) return;
  h5tx_fuse__key_remove(fs, n);
  for (node **p = &fs->by_ino[ino_slot(fs, n->ino)]; *p; p = &(*p)->ino_next)
    if (*p == n) {
      *p = n->ino_next;
      break;
    }
  fs->n_nodes--;
  h5tx_fuse__node_destroy(n);
}

/* The node of `key`, created as `kind`/`path` if missing (NULL: no memory). */
node *h5tx_fuse__node_get(h5tx_fuse__fs *fs, int kind, const char *key, const char *path) {
  node *n = h5tx_fuse__key_find(fs, key);
  return n ? n : h5tx_fuse__node_new(fs, kind, 0, key, path);
}

marker *h5tx_fuse__marker_find(h5tx_fuse__fs *fs, pid_t tid, const char *name, uint64_t now) {
  for (int i = 0; i < NMARKERS; i++) {
    marker *m = &fs->markers[i];
    if (m->name && m->tid == tid && now - m->t_ns < MARKER_NS && strcmp(m->name, name) == 0)
      return m;
  }
  return NULL;
}

void h5tx_fuse__marker_set(h5tx_fuse__fs *fs, pid_t tid, const char *name, uint64_t now) {
  marker *slot = NULL;
  for (int i = 0; i < NMARKERS; i++) {
    marker *m = &fs->markers[i];
    if (m->name && m->tid == tid) {
      slot = m;
      break;
    }
    if (!slot || !m->name || (slot->name && m->t_ns < slot->t_ns)) slot = m;
  }
  char *copy = strdup(name);
  if (!copy) return;
  free(slot->name);
  *slot = (marker){tid, copy, now};
}

void h5tx_fuse__marker_clear(h5tx_fuse__fs *fs, pid_t tid) {
  for (int i = 0; i < NMARKERS; i++)
    if (fs->markers[i].name && fs->markers[i].tid == tid) {
      free(fs->markers[i].name);
      fs->markers[i].name = NULL;
    }
}

ssize_t h5tx_fuse__memdir_index(h5tx_fuse__fs *fs, const char *path) {
  for (size_t i = 0; i < fs->nmem; i++)
    if (strcmp(fs->memdirs[i], path) == 0) return (ssize_t)i;
  return -1;
}

int h5tx_fuse__memdir_add(h5tx_fuse__fs *fs, const char *path) {
  if (!path[0] || h5tx_fuse__memdir_index(fs, path) >= 0) return 0;
  if (fs->nmem == fs->capmem) {
    size_t cap = fs->capmem ? 2 * fs->capmem : 16;
    char **v = realloc(fs->memdirs, cap * sizeof *v);
    if (!v) return ENOMEM;
    fs->memdirs = v;
    fs->capmem = cap;
  }
  if (!(fs->memdirs[fs->nmem] = strdup(path))) return ENOMEM;
  fs->nmem++;
  return 0;
}

void h5tx_fuse__memdir_del(h5tx_fuse__fs *fs, size_t i) {
  free(fs->memdirs[i]);
  fs->memdirs[i] = fs->memdirs[--fs->nmem];
}

/* Keep the directories of `name` after it left head, so that they stay
 * until rmdir (rm -r removes the files, then the directory). */
void h5tx_fuse__memdir_keep_parents(h5tx_fuse__fs *fs, const char *name) {
  char *p = strdup(name);
  if (!p) return;
  for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
    *slash = 0;
    h5tx_fuse__memdir_add(fs, p);
  }
  free(p);
}

/* Is there something in memory under directory `dir` (made directories,
 * files being created)? */
int h5tx_fuse__mem_has_under(h5tx_fuse__fs *fs, const char *dir) {
  for (size_t i = 0; i < fs->nmem; i++)
    if (h5tx_fuse__starts_with_dir(fs->memdirs[i], dir)) return 1;
  for (node *w = fs->wlist; w; w = w->wnext)
    if (h5tx_fuse__starts_with_dir(w->path, dir)) return 1;
  return 0;
}

static void set_time(struct timespec *ts, uint64_t ns) {
  ts->tv_sec = (time_t)(ns / 1000000000ull);
  ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* The attributes of `n` (fs->lock held); a writer's size as its writing
 * processes see it (V_WRITER) or as committed (V_COMMITTED). */
void h5tx_fuse__fill_attr(h5tx_fuse__fs *fs, const node *n, int view, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = n->ino;
  st->st_uid = fs->uid;
  st->st_gid = fs->gid;
  uint64_t size = 0, mtime = n->mtime_ns ? n->mtime_ns : fs->mount_ns;
  switch (n->kind) {
  case K_HDIR:
    st->st_mode = S_IFDIR | fs->perm;
    st->st_nlink = 2;
    mtime = fs->mount_ns;
    break;
  case K_RDIR:
  case K_MDIR:
    st->st_mode = S_IFDIR | (fs->perm & ~0222u);
    st->st_nlink = 2;
    break;
  case K_HFILE:
  case K_RFILE:
    st->st_mode = S_IFREG | (fs->perm & (n->kind == K_HFILE ? 0666u : 0444u));
    st->st_nlink = 1;
    size = n->length;
    break;
  case K_WFILE:
    st->st_mode = S_IFREG | (fs->perm & 0666u);
    st->st_nlink = 1;
    size = view == V_WRITER ? atomic_load(&n->w->length) : atomic_load(&n->w->committed);
    mtime = atomic_load(&n->w->mtime_ns);
    break;
  default: /* K_MLOG, K_MSTATS: generated at open */
    st->st_mode = S_IFREG | (fs->perm & 0444u);
    st->st_nlink = 1;
    mtime = h5tx_fuse__now_ns();
    break;
  }
  st->st_size = (off_t)size;
  st->st_blksize = n->page_size ? n->page_size : DEFAULT_BLKSIZE;
  st->st_blocks = (blkcnt_t)((size + 511) / 512);
  set_time(&st->st_mtim, mtime);
  st->st_atim = st->st_ctim = st->st_mtim;
}

static double attr_timeout(const node *n) {
  switch (n->kind) {
  case K_RDIR:
  case K_HFILE:
  case K_RFILE:
  case K_MDIR: return LONG_TIMEOUT;
  default: return 0;
  }
}

/* Reply to a lookup with `n` (fs->lock held; released here). */
void h5tx_fuse__reply_entry_unlock(h5tx_fuse__fs *fs, fuse_req_t req, node *n, double entry_timeout,
                                   int view) {
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = n->ino;
  e.attr_timeout = attr_timeout(n);
  e.entry_timeout = entry_timeout;
  h5tx_fuse__fill_attr(fs, n, view, &e.attr);
  n->nlookup++;
  pthread_mutex_unlock(&fs->lock);
  if (fuse_reply_entry(req, &e) != 0) {
    pthread_mutex_lock(&fs->lock);
    n->nlookup--;
    h5tx_fuse__maybe_free(fs, n);
    pthread_mutex_unlock(&fs->lock);
  }
}

void h5tx_fuse__reply_attr_of(h5tx_fuse__fs *fs, fuse_req_t req, node *n, int view) {
  struct stat st;
  pthread_mutex_lock(&fs->lock);
  h5tx_fuse__fill_attr(fs, n, view, &st);
  double t = attr_timeout(n);
  pthread_mutex_unlock(&fs->lock);
  fuse_reply_attr(req, &st, t);
}

/* The attributes of writer node `w` as those of inode `ino`, not cached. */
void h5tx_fuse__reply_writer_attr(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino) {
  struct stat st;
  pthread_mutex_lock(&fs->lock);
  h5tx_fuse__fill_attr(fs, w, V_WRITER, &st);
  pthread_mutex_unlock(&fs->lock);
  st.st_ino = ino;
  fuse_reply_attr(req, &st, 0);
}

/* The node of inode `ino`. The kernel holds it while it sends a request
 * about it, so it stays valid for the request (its immutable fields). */
node *h5tx_fuse__get_node(h5tx_fuse__fs *fs, fuse_ino_t ino) {
  pthread_mutex_lock(&fs->lock);
  node *n = ino_find(fs, ino);
  pthread_mutex_unlock(&fs->lock);
  return n;
}

h5tx_fuse__fs *h5tx_fuse__fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* The content node of a file found at revision `rev`, holding `st`
 * (fs->lock held). NULL when out of memory. */
static node *content_node(h5tx_fuse__fs *fs, int kind, const char *name, const h5tx_stat *st,
                          h5tx_rev rev, uint64_t mtime) {
  char key[64];
  snprintf(key, sizeof key, "%c:%" PRIu64 ":%" PRIu64, kind == K_HFILE ? 'h' : 'r', st->file_id,
           st->changed);
  node *n = h5tx_fuse__key_find(fs, key);
  if (n) {
    if (rev > n->rev) n->rev = rev;
    return n;
  }
  if (!(n = h5tx_fuse__node_new(fs, kind, 0, key, name))) return NULL;
  n->file_id = st->file_id;
  n->changed = st->changed;
  n->length = st->length;
  n->page_size = st->page_size;
  n->rev = rev;
  n->mtime_ns = mtime;
  return n;
}

/* Reply with the content node of `name` (found in `snap` with `st`). */
static void reply_content(h5tx_fuse__fs *fs, fuse_req_t req, int kind, const char *name,
                          const h5tx_stat *st, h5tx_rev rev, double entry_timeout) {
  char key[64];
  snprintf(key, sizeof key, "%c:%" PRIu64 ":%" PRIu64, kind == K_HFILE ? 'h' : 'r', st->file_id,
           st->changed);
  pthread_mutex_lock(&fs->lock);
  int known = h5tx_fuse__key_find(fs, key) != NULL;
  pthread_mutex_unlock(&fs->lock);
  uint64_t mtime = known ? 0 : h5tx_fuse__commit_time(fs, st->changed);
  pthread_mutex_lock(&fs->lock);
  node *n = content_node(fs, kind, name, st, rev, mtime);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  h5tx_fuse__reply_entry_unlock(fs, req, n, entry_timeout, V_COMMITTED);
}

/* Reply with the directory node of `key` (created as `kind`). */
static void reply_dir(h5tx_fuse__fs *fs, fuse_req_t req, int kind, const char *key,
                      const char *path, const node *parent, double entry_timeout) {
  pthread_mutex_lock(&fs->lock);
  node *n = h5tx_fuse__node_get(fs, kind, key, path);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  if (parent && kind == K_RDIR) {
    n->rev = parent->rev;
    n->root = parent->root;
    n->mtime_ns = parent->mtime_ns;
  }
  h5tx_fuse__reply_entry_unlock(fs, req, n, entry_timeout, V_COMMITTED);
}

static void lookup_head(h5tx_fuse__fs *fs, fuse_req_t req, const char *name) {
  if (strchr(name, '@')) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  char *wkey = h5tx_fuse__xprintf("w:%s", name);
  if (!wkey) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  pid_t tid = fuse_req_ctx(req)->pid;
  h5tx_fuse__proc pi = {0};
  int probed = 0;
  pthread_mutex_lock(&fs->lock);
  node *w;
  for (;;) { /* who asks matters only when the name has a writer */
    while ((w = h5tx_fuse__key_find(fs, wkey)) && w->w->busy)
      pthread_cond_wait(&fs->cond, &fs->lock);
    if (!w || probed) break;
    pthread_mutex_unlock(&fs->lock);
    h5tx_fuse__proc_get(tid, &pi);
    probed = 1;
    pthread_mutex_lock(&fs->lock);
  }
  free(wkey);
  int marked = h5tx_fuse__marker_find(fs, tid, name, h5tx_fuse__now_ns()) != NULL;
  int mine = w && h5tx_fuse__writes_it(fs, w, pi.tgid);
  if (w && (marked || mine || atomic_load(&w->w->new_file))) {
    h5tx_fuse__reply_entry_unlock(fs, req, w, 0, marked || mine ? V_WRITER : V_COMMITTED);
    return;
  }
  pthread_mutex_unlock(&fs->lock);
  if (marked) { /* the retry of a write open whose writer went meanwhile */
    int rc = h5tx_fuse__w_get(fs, name, 0, 0, &w);
    if (rc == 0) {
      pthread_mutex_lock(&fs->lock);
      w->nref--;
      h5tx_fuse__reply_entry_unlock(fs, req, w, 0, V_WRITER);
      return;
    }
    if (rc != ENOENT) {
      fuse_reply_err(req, rc);
      return;
    }
  }
  h5tx_snap *snap;
  h5tx_error e = {0, ""};
  int rc = h5tx_snap_open(fs->s, H5TX_HEAD, &snap, &e);
  if (rc) {
    h5tx_fuse__log(fs, "lookup %s: %s", name, e.msg);
    fuse_reply_err(req, h5tx_fuse__to_errno(rc));
    return;
  }
  h5tx_stat st;
  rc = h5tx_snap_stat(snap, name, &st, &e);
  if (rc == 0) {
    reply_content(fs, req, K_HFILE, name, &st, h5tx_snap_rev(snap), 0);
  } else if (rc == H5TX_ENOENT || rc == H5TX_EINVAL) {
    int dir = h5tx_fuse__snap_has_dir(snap, name);
    pthread_mutex_lock(&fs->lock);
    dir = dir || h5tx_fuse__memdir_index(fs, name) >= 0 || h5tx_fuse__mem_has_under(fs, name);
    pthread_mutex_unlock(&fs->lock);
    char *key = dir ? h5tx_fuse__xprintf("hd:%s", name) : NULL;
    if (key)
      reply_dir(fs, req, K_HDIR, key, name, NULL, 0);
    else
      fuse_reply_err(req, dir ? ENOMEM : ENOENT);
    free(key);
  } else {
    h5tx_fuse__log(fs, "lookup %s: %s", name, e.msg);
    fuse_reply_err(req, h5tx_fuse__to_errno(rc));
  }
  h5tx_snap_close(snap);
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* "@REV" or "@TAG" in the root. */
static void lookup_rev_root(h5tx_fuse__fs *fs, fuse_req_t req, const char *spec) {
  h5tx_rev rev;
  if (!spec[0] || h5tx_rev_parse(fs->s, spec, &rev, NULL) != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  int moving = !all_digits(spec);
  char *key = h5tx_fuse__xprintf("R:%" PRIu64 ":%s", rev, spec);
  if (!key) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  uint64_t mtime = h5tx_fuse__commit_time(fs, rev);
  pthread_mutex_lock(&fs->lock);
  node *n = h5tx_fuse__node_get(fs, K_RDIR, key, "");
  free(key);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  n->rev = rev;
  n->root = n->ino;
  n->moving = moving;
  n->mtime_ns = mtime;
  h5tx_fuse__reply_entry_unlock(fs, req, n, moving ? 0 : LONG_TIMEOUT, V_COMMITTED);
}

static void lookup_rev(h5tx_fuse__fs *fs, fuse_req_t req, const node *p, const char *name) {
  h5tx_snap *snap;
  int rc = h5tx_snap_open(fs->s, p->rev, &snap, NULL);
  if (rc) {
    fuse_reply_err(req, h5tx_fuse__to_errno(rc));
    return;
  }
  h5tx_stat st;
  rc = strchr(name, '@') ? H5TX_ENOENT : h5tx_snap_stat(snap, name, &st, NULL);
  if (rc == 0) {
    reply_content(fs, req, K_RFILE, name, &st, p->rev, LONG_TIMEOUT);
  } else if ((rc == H5TX_ENOENT || rc == H5TX_EINVAL) && !strchr(name, '@') &&
             h5tx_fuse__snap_has_dir(snap, name)) {
    char *key = h5tx_fuse__xprintf("D:%" PRIu64 ":%s", p->root, name);
    if (key)
      reply_dir(fs, req, K_RDIR, key, name, p, LONG_TIMEOUT);
    else
      fuse_reply_err(req, ENOMEM);
    free(key);
  } else if (rc == H5TX_ENOENT || rc == H5TX_EINVAL) {
    struct fuse_entry_param e; /* a revision never changes: cache the absence */
    memset(&e, 0, sizeof e);
    e.entry_timeout = LONG_TIMEOUT;
    fuse_reply_entry(req, &e);
  } else {
    fuse_reply_err(req, h5tx_fuse__to_errno(rc));
  }
  h5tx_snap_close(snap);
}

void h5tx_fuse__op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  node *p = h5tx_fuse__get_node(fs, parent);
  if (!p) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (p->kind == K_MDIR) {
    uint64_t ino = strcmp(name, "log") == 0 ? INO_LOG : strcmp(name, "stats") == 0 ? INO_STATS : 0;
    if (!ino) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    pthread_mutex_lock(&fs->lock);
    h5tx_fuse__reply_entry_unlock(fs, req, ino_find(fs, ino), LONG_TIMEOUT, V_COMMITTED);
    return;
  }
  if (p->kind != K_HDIR && p->kind != K_RDIR) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  if (p->ino == INO_ROOT && strcmp(name, ".h5tx") == 0) {
    pthread_mutex_lock(&fs->lock);
    h5tx_fuse__reply_entry_unlock(fs, req, ino_find(fs, INO_META), LONG_TIMEOUT, V_COMMITTED);
    return;
  }
  if (p->ino == INO_ROOT && name[0] == '@') {
    lookup_rev_root(fs, req, name + 1);
    return;
  }
  char *full = h5tx_fuse__join(p->path, name);
  if (!full) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  if (p->kind == K_HDIR)
    lookup_head(fs, req, full);
  else
    lookup_rev(fs, req, p, full);
  free(full);
}

static void forget_one(h5tx_fuse__fs *fs, fuse_ino_t ino, uint64_t nlookup) {
  pthread_mutex_lock(&fs->lock);
  node *n = ino_find(fs, ino);
  if (n) {
    n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
    h5tx_fuse__maybe_free(fs, n);
  }
  pthread_mutex_unlock(&fs->lock);
}

void h5tx_fuse__op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  forget_one(h5tx_fuse__fs_of(req), ino, nlookup);
  fuse_reply_none(req);
}

void h5tx_fuse__op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++)
    forget_one(h5tx_fuse__fs_of(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void h5tx_fuse__op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
  node *n = h5tx_fuse__get_node(fs, ino);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fh *f = fi ? h5tx_fuse__get_fh(fi) : NULL;
  if (f && f->kind == F_WRITE && f->n != n) {
    h5tx_fuse__reply_writer_attr(fs, req, f->n, n->ino); /* h5tx_fuse__open_write_here()'s handle */
  } else if (f && f->kind == F_WRITE) {
    h5tx_fuse__reply_attr_of(fs, req, n, V_WRITER);
  } else if (f && f->kind == F_READ && n->kind == K_WFILE) {
    /* a reader of the writer's inode: the size of its revision */
    struct stat st;
    pthread_mutex_lock(&fs->lock);
    h5tx_fuse__fill_attr(fs, n, V_COMMITTED, &st);
    pthread_mutex_unlock(&fs->lock);
    st.st_size = (off_t)(f->has_file ? f->st.length : 0);
    st.st_blocks = (blkcnt_t)((st.st_size + 511) / 512);
    fuse_reply_attr(req, &st, 0);
  } else {
    h5tx_fuse__reply_attr_of(
        fs, req, n,
        n->kind == K_WFILE && h5tx_fuse__sees_writes(fs, req, n) ? V_WRITER : V_COMMITTED);
  }
}
