/* fs.c - the h5tx file system: FUSE low-level operations on a store and the
 * inode table behind them.
 *
 * Inodes (README, "h5tx mount"):
 * - a head file name resolves, on every lookup, to the inode of one
 *   immutable content version, keyed by (file id, revision that last
 *   changed it); a revision's file to another, read-only one with the same
 *   key. Content inodes keep the kernel's page cache across opens;
 * - a head file opened for writing gets a writer inode of its own: the open
 *   of the content inode answers ESTALE, the kernel resolves the name again
 *   (LOOKUP_REVAL) and the lookup, from the same thread, returns the writer
 *   inode; readers keep the content inodes, untouched by the writer;
 * - directories are implicit (prefixes of file names), or made by mkdir and
 *   kept in memory; `@REV` and `@TAG` directories appear on lookup.
 * Locks: fs->lock guards the tables, counts and lists; a writer's own mutex
 * guards its h5tx_writer; a handle's mutex its snapshot. Order: fs->lock,
 * then a writer's lock; never the reverse. */
#include "fs.h"

#include "h5tx_common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LONG_TIMEOUT 86400.0              /* immutable: a day */
#define MARKER_NS (10ull * 1000000000ull) /* an ESTALE retry comes within this */
#define REAP_NS (10ull * 1000000000ull)   /* a writer nobody opened goes after this */
#define NMARKERS 64
#define DEFAULT_BLKSIZE 65536u

enum kind {
  K_HDIR,   /* head directory ("" is the root) */
  K_RDIR,   /* directory of a revision (its "@REV" root has path "") */
  K_HFILE,  /* head file: one content version, read-only */
  K_RFILE,  /* a revision's file: one content version, read-only */
  K_WFILE,  /* head file being written */
  K_MDIR,   /* .h5tx */
  K_MLOG,   /* .h5tx/log */
  K_MSTATS, /* .h5tx/stats */
};
enum { INO_ROOT = 1, INO_META, INO_LOG, INO_STATS, INO_FIRST };

/* A file being written: the daemon's one writer of that name. */
typedef struct wstate {
  pthread_mutex_t lock; /* guards the next three */
  h5tx_writer *w;       /* NULL once closed */
  int failed;           /* a write or truncate failed: nothing more is committed */
  int commit_failed;    /* the last commit failed */
  /* under fs->lock: */
  int busy;          /* opening or closing its h5tx_writer: others wait on fs->cond */
  int wfhs;          /* open handles with write access */
  uint64_t since_ns; /* when last handed out without a handle */
  /* read anywhere: */
  _Atomic int new_file; /* not at head yet */
  _Atomic uint64_t length, mtime_ns;
  _Atomic uint64_t committed; /* its length at head (0: not there yet) */
} wstate;

typedef struct node node;
struct node {
  uint64_t ino;
  int kind;
  int fixed;        /* root and .h5tx: never freed */
  char *key;        /* its key in the key index */
  int indexed;      /* in the key index (a writer: attached to its name) */
  char *path;       /* file name, or directory path ("" for a root) */
  uint64_t nlookup; /* lookups the kernel holds */
  uint64_t nref;    /* open handles and transient holds */
  node *ino_next, *key_next;
  node *wnext, *wprev; /* attached writers */
  h5tx_rev rev;        /* directories of a revision: it; content: a revision
                          that reads exactly this content (the newest seen) */
  uint64_t root;       /* directories of a revision: their "@" root */
  int moving;          /* a "@TAG" root: the name may move to another revision */
  uint64_t file_id, changed, length, mtime_ns;
  uint32_t page_size;
  wstate *w; /* K_WFILE */
};

enum { F_READ, F_WRITE, F_TEXT, F_DIR };

/* An open handle (fi->fh). */
typedef struct fh fh;
struct fh {
  int kind;
  node *n;
  pthread_mutex_t lock; /* one thread at a time uses the snapshot */
  h5tx_snap *snap;      /* F_READ */
  h5tx_stat st;
  int has_file; /* F_READ: the file exists in the snapshot */
  char *buf;    /* F_TEXT, F_DIR: the content */
  size_t len;
  /* F_WRITE (a handle on a writer: opened for writing, or for reading by a
   * process that writes the file), under fs->lock: */
  int wr;       /* opened for writing */
  pid_t opener; /* the process that opened it (0: unknown) */
  int done;     /* the opener has closed its last descriptor of the file */
  uint64_t ino; /* the inode it was opened on */
  fh *next, *prev;
};

/* A thread whose open of a content inode got ESTALE: its next lookup of
 * `name` gets the writer inode. */
typedef struct marker {
  pid_t tid;
  char *name;
  uint64_t t_ns;
} marker;

/* An invalidation for the helper thread to send. */
typedef struct notif {
  struct notif *next;
  char name[]; /* head file whose entry moved */
} notif;

struct h5tx_fuse__fs {
  h5tx_store *s;
  h5tx_config cfg;
  int use_syslog;
  struct fuse_session *se;
  uid_t uid; /* owner, group and permission bits of everything in the */
  gid_t gid; /* mount: the store directory's */
  mode_t perm;
  uint64_t mount_ns;
  h5tx_fuse__mountid mid; /* the mount, for h5tx_fuse__proc_holds() */
  int have_mid;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  node **by_ino, **by_key;
  size_t nb, n_nodes, n_keys; /* both tables have nb buckets */
  node *wlist;
  uint64_t next_ino;
  fh *fhs;
  marker markers[NMARKERS];
  char **memdirs;
  size_t nmem, capmem;

  _Atomic uint64_t reads, bytes, commits;

  pthread_mutex_t qlock;
  pthread_cond_t qcond;
  notif *qhead, *qtail;
  int stopping;
  int helper_started;
  pthread_t helper;
};

/* ---- small helpers --------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void h5tx_fuse__log(h5tx_fuse__fs *fs, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (fs && fs->use_syslog)
    syslog(LOG_ERR, "%s", msg);
  else
    fprintf(stderr, "h5tx mount: %s\n", msg);
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = malloc((size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

/* "dir/name", or "name" in the root. */
static char *join(const char *dir, const char *name) {
  return dir[0] ? xprintf("%s/%s", dir, name) : strdup(name);
}

static int starts_with_dir(const char *name, const char *dir) {
  size_t n = strlen(dir);
  return n == 0 || (strncmp(name, dir, n) == 0 && name[n] == '/');
}

/* The errno for an h5tx error code. */
static int to_errno(int code) {
  switch (code) {
  case H5TX_OK: return 0;
  case H5TX_EINVAL: return EINVAL;
  case H5TX_ENOENT:
  case H5TX_EGONE: return ENOENT;
  case H5TX_EEXIST: return EEXIST;
  case H5TX_EBUSY:
  case H5TX_ECONFLICT: return EBUSY;
  case H5TX_ENOSPC: return ENOSPC;
  case H5TX_ENOMEM: return ENOMEM;
  case H5TX_EROFS: return EROFS;
  case H5TX_ERANGE: return EFBIG;
  default: return EIO;
  }
}

static int first_commit_time(void *arg, const h5tx_commit *c) {
  *(uint64_t *)arg = c->time_ns;
  return 1;
}

/* When revision `rev` was made (the mount's start for revision 0). */
static uint64_t commit_time(h5tx_fuse__fs *fs, h5tx_rev rev) {
  uint64_t t = fs->mount_ns;
  if (rev > 0) h5tx_log(fs->s, rev, first_commit_time, &t, NULL);
  return t;
}

static int stop_at_first(void *arg, const char *name, const h5tx_stat *st) {
  (void)arg, (void)name, (void)st;
  return 1;
}

/* Does snapshot `snap` hold files under directory `dir`? */
static int snap_has_dir(h5tx_snap *snap, const char *dir) {
  char *prefix = xprintf("%s/", dir);
  if (!prefix) return 0;
  int rc = h5tx_snap_list(snap, prefix, stop_at_first, NULL, NULL);
  free(prefix);
  return rc == 1;
}

/* Return the memory a commit or a closed writer freed to the system: a
 * commit's pages are freed in one go and would otherwise stay in malloc's
 * arenas, making the idle daemon as large as its largest commit. */
static void give_back_memory(void) { malloc_trim(0); }

/* ---- the inode table (fs->lock held) ---------------------------------------- */

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

static node *key_find(h5tx_fuse__fs *fs, const char *key) {
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

static void key_remove(h5tx_fuse__fs *fs, node *n) {
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
static node *node_new(h5tx_fuse__fs *fs, int kind, uint64_t ino, const char *key,
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

static void node_destroy(node *n) {
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
static void maybe_free(h5tx_fuse__fs *fs, node *n) {
  if (n->fixed || n->nlookup || n->nref) return;
  if (n->kind == K_WFILE && n->indexed) return;
  key_remove(fs, n);
  for (node **p = &fs->by_ino[ino_slot(fs, n->ino)]; *p; p = &(*p)->ino_next)
    if (*p == n) {
      *p = n->ino_next;
      break;
    }
  fs->n_nodes--;
  node_destroy(n);
}

/* The node of `key`, created as `kind`/`path` if missing (NULL: no memory). */
static node *node_get(h5tx_fuse__fs *fs, int kind, const char *key, const char *path) {
  node *n = key_find(fs, key);
  return n ? n : node_new(fs, kind, 0, key, path);
}

/* ---- markers, in-memory directories (fs->lock held) ------------------------- */

static marker *marker_find(h5tx_fuse__fs *fs, pid_t tid, const char *name, uint64_t now) {
  for (int i = 0; i < NMARKERS; i++) {
    marker *m = &fs->markers[i];
    if (m->name && m->tid == tid && now - m->t_ns < MARKER_NS && strcmp(m->name, name) == 0)
      return m;
  }
  return NULL;
}

static void marker_set(h5tx_fuse__fs *fs, pid_t tid, const char *name, uint64_t now) {
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

static void marker_clear(h5tx_fuse__fs *fs, pid_t tid) {
  for (int i = 0; i < NMARKERS; i++)
    if (fs->markers[i].name && fs->markers[i].tid == tid) {
      free(fs->markers[i].name);
      fs->markers[i].name = NULL;
    }
}

static ssize_t memdir_index(h5tx_fuse__fs *fs, const char *path) {
  for (size_t i = 0; i < fs->nmem; i++)
    if (strcmp(fs->memdirs[i], path) == 0) return (ssize_t)i;
  return -1;
}

static int memdir_add(h5tx_fuse__fs *fs, const char *path) {
  if (!path[0] || memdir_index(fs, path) >= 0) return 0;
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

static void memdir_del(h5tx_fuse__fs *fs, size_t i) {
  free(fs->memdirs[i]);
  fs->memdirs[i] = fs->memdirs[--fs->nmem];
}

/* Keep the directories of `name` after it left head, so that they stay
 * until rmdir (rm -r removes the files, then the directory). */
static void memdir_keep_parents(h5tx_fuse__fs *fs, const char *name) {
  char *p = strdup(name);
  if (!p) return;
  for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
    *slash = 0;
    memdir_add(fs, p);
  }
  free(p);
}

/* Is there something in memory under directory `dir` (made directories,
 * files being created)? */
static int mem_has_under(h5tx_fuse__fs *fs, const char *dir) {
  for (size_t i = 0; i < fs->nmem; i++)
    if (starts_with_dir(fs->memdirs[i], dir)) return 1;
  for (node *w = fs->wlist; w; w = w->wnext)
    if (starts_with_dir(w->path, dir)) return 1;
  return 0;
}

/* ---- writing processes (fs->lock held) ------------------------------------- */

/* Is process `tgid` a writing process of writer node `w`: the opener of one
 * of its handles that has not closed its last descriptor of the file? */
static int writes_it(h5tx_fuse__fs *fs, const node *w, pid_t tgid) {
  if (tgid <= 0) return 0;
  for (fh *f = fs->fhs; f; f = f->next)
    if (f->kind == F_WRITE && f->n == w && !f->done && f->opener == tgid) return 1;
  return 0;
}

/* Does the thread of `req` see writer node `w` as a writing process does,
 * its own uncommitted bytes and size? (So does a thread just sent back by
 * ESTALE to open it for writing.) fs->lock not held. */
static int sees_writes(h5tx_fuse__fs *fs, fuse_req_t req, const node *w) {
  pid_t tid = fuse_req_ctx(req)->pid;
  h5tx_fuse__proc pi;
  h5tx_fuse__proc_get(tid, &pi);
  pthread_mutex_lock(&fs->lock);
  int r = marker_find(fs, tid, w->path, now_ns()) != NULL || writes_it(fs, w, pi.tgid);
  pthread_mutex_unlock(&fs->lock);
  return r;
}

/* ---- attributes and replies ------------------------------------------------- */

static void set_time(struct timespec *ts, uint64_t ns) {
  ts->tv_sec = (time_t)(ns / 1000000000ull);
  ts->tv_nsec = (long)(ns % 1000000000ull);
}

enum { V_COMMITTED, V_WRITER };

/* The attributes of `n` (fs->lock held); a writer's size as its writing
 * processes see it (V_WRITER) or as committed (V_COMMITTED). */
static void fill_attr(h5tx_fuse__fs *fs, const node *n, int view, struct stat *st) {
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
    mtime = now_ns();
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
static void reply_entry_unlock(h5tx_fuse__fs *fs, fuse_req_t req, node *n, double entry_timeout,
                               int view) {
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = n->ino;
  e.attr_timeout = attr_timeout(n);
  e.entry_timeout = entry_timeout;
  fill_attr(fs, n, view, &e.attr);
  n->nlookup++;
  pthread_mutex_unlock(&fs->lock);
  if (fuse_reply_entry(req, &e) != 0) {
    pthread_mutex_lock(&fs->lock);
    n->nlookup--;
    maybe_free(fs, n);
    pthread_mutex_unlock(&fs->lock);
  }
}

static void reply_attr_of(h5tx_fuse__fs *fs, fuse_req_t req, node *n, int view) {
  struct stat st;
  pthread_mutex_lock(&fs->lock);
  fill_attr(fs, n, view, &st);
  double t = attr_timeout(n);
  pthread_mutex_unlock(&fs->lock);
  fuse_reply_attr(req, &st, t);
}

/* The attributes of writer node `w` as those of inode `ino`, not cached. */
static void reply_writer_attr(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino) {
  struct stat st;
  pthread_mutex_lock(&fs->lock);
  fill_attr(fs, w, V_WRITER, &st);
  pthread_mutex_unlock(&fs->lock);
  st.st_ino = ino;
  fuse_reply_attr(req, &st, 0);
}

/* The node of inode `ino`. The kernel holds it while it sends a request
 * about it, so it stays valid for the request (its immutable fields). */
static node *get_node(h5tx_fuse__fs *fs, fuse_ino_t ino) {
  pthread_mutex_lock(&fs->lock);
  node *n = ino_find(fs, ino);
  pthread_mutex_unlock(&fs->lock);
  return n;
}

/* ---- invalidations (helper thread) ------------------------------------------ */

/* Ask the helper thread to tell the kernel that head file `name` moved. */
static void notify_moved(h5tx_fuse__fs *fs, const char *name) {
  size_t len = strlen(name);
  notif *q = malloc(sizeof *q + len + 1);
  if (!q) return;
  q->next = NULL;
  memcpy(q->name, name, len + 1);
  pthread_mutex_lock(&fs->qlock);
  if (fs->qtail)
    fs->qtail->next = q;
  else
    fs->qhead = q;
  fs->qtail = q;
  pthread_cond_signal(&fs->qcond);
  pthread_mutex_unlock(&fs->qlock);
}

static void send_inval(h5tx_fuse__fs *fs, const char *name) {
  const char *slash = strrchr(name, '/');
  char *dir = slash ? strndup(name, (size_t)(slash - name)) : strdup("");
  const char *base = slash ? slash + 1 : name;
  if (!dir) return;
  char *key = xprintf("hd:%s", dir);
  uint64_t parent = 0;
  pthread_mutex_lock(&fs->lock);
  node *p = key ? key_find(fs, key) : NULL;
  if (p && (p->nlookup || p->fixed)) parent = p->ino;
  pthread_mutex_unlock(&fs->lock);
  /* Outside every lock and request: the kernel may need the directory. */
  if (parent) fuse_lowlevel_notify_inval_entry(fs->se, parent, base, strlen(base));
  free(key);
  free(dir);
}

/* Let go of writers handed out for an ESTALE retry that never came. */
static void reap(h5tx_fuse__fs *fs) {
  uint64_t now = now_ns();
  pthread_mutex_lock(&fs->lock);
  for (node *n = fs->wlist, *next; n; n = next) {
    next = n->wnext;
    wstate *ws = n->w;
    if (ws->busy || ws->wfhs || now - ws->since_ns < REAP_NS) continue;
    pthread_mutex_lock(&ws->lock);
    if (ws->w) {
      if (h5tx_writer_dirty(ws->w))
        h5tx_fuse__log(fs, "%s: dropping changes nobody committed", n->path);
      h5tx_writer_close(ws->w);
      ws->w = NULL;
    }
    pthread_mutex_unlock(&ws->lock);
    key_remove(fs, n);
    maybe_free(fs, n);
  }
  pthread_mutex_unlock(&fs->lock);
}

static void *helper_main(void *arg) {
  h5tx_fuse__fs *fs = arg;
  pthread_mutex_lock(&fs->qlock);
  while (!fs->stopping) {
    if (!fs->qhead) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&fs->qcond, &fs->qlock, &ts);
    }
    notif *q = fs->qhead;
    fs->qhead = fs->qtail = NULL;
    pthread_mutex_unlock(&fs->qlock);
    while (q) {
      notif *next = q->next;
      send_inval(fs, q->name);
      free(q);
      q = next;
    }
    reap(fs);
    pthread_mutex_lock(&fs->qlock);
  }
  pthread_mutex_unlock(&fs->qlock);
  return NULL;
}

/* ---- writers ---------------------------------------------------------------- */

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
static int w_get(h5tx_fuse__fs *fs, const char *name, int create, int excl, node **out) {
  char *key = xprintf("w:%s", name);
  if (!key) return ENOMEM;
  pthread_mutex_lock(&fs->lock);
  node *n;
  while ((n = key_find(fs, key)) && n->w->busy)
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
  n = node_new(fs, K_WFILE, 0, key, name);
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
    key_remove(fs, n);
    maybe_free(fs, n);
    pthread_mutex_unlock(&fs->lock);
    return to_errno(rc);
  }
  n->w->w = w;
  n->w->since_ns = now_ns();
  n->page_size = h5tx_writer_page_size(w);
  atomic_store(&n->w->new_file, !exists);
  atomic_store(&n->w->length, h5tx_writer_length(w));
  atomic_store(&n->w->committed, exists ? h5tx_writer_length(w) : 0);
  atomic_store(&n->w->mtime_ns, now_ns());
  pthread_mutex_unlock(&fs->lock);
  *out = n;
  return 0;
}

/* Commit what writer node `n` holds (its lock held). Returns an errno. */
static int w_commit(h5tx_fuse__fs *fs, node *n) {
  wstate *ws = n->w;
  if (!ws->w) return 0;
  if (ws->failed) return EIO;
  h5tx_error e = {0, ""};
  h5tx_rev rev;
  char *msg = xprintf("mount: write %s", n->path);
  int rc = h5tx_writer_commit(ws->w, msg ? msg : "mount", &rev, &e);
  free(msg);
  if (rc) {
    ws->commit_failed = 1;
    h5tx_fuse__log(fs, "%s: commit failed: %s", n->path, e.msg[0] ? e.msg : h5tx_strerror(rc));
    return to_errno(rc);
  }
  ws->commit_failed = 0;
  give_back_memory();
  atomic_store(&ws->committed, h5tx_writer_length(ws->w));
  atomic_store(&ws->new_file, 0);
  atomic_fetch_add(&fs->commits, 1);
  notify_moved(fs, n->path);
  return 0;
}

/* Did this thread get ESTALE for `name` just before? (Forgets it.) */
static int sent_back_before(h5tx_fuse__fs *fs, fuse_req_t req, const char *name) {
  pthread_mutex_lock(&fs->lock);
  marker *m = marker_find(fs, fuse_req_ctx(req)->pid, name, now_ns());
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
static void redirect_to_writer(h5tx_fuse__fs *fs, fuse_req_t req, const char *name) {
  node *w;
  int rc = w_get(fs, name, 0, 0, &w);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  uint64_t now = now_ns();
  pthread_mutex_lock(&fs->lock);
  marker_set(fs, fuse_req_ctx(req)->pid, name, now);
  if (!w->w->wfhs) w->w->since_ns = now;
  w->nref--;
  pthread_mutex_unlock(&fs->lock);
  fuse_reply_err(req, ESTALE);
}

/* ---- handles ----------------------------------------------------------------- */

static fh *fh_new(h5tx_fuse__fs *fs, int kind, node *n) {
  fh *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->kind = kind;
  f->n = n;
  f->done = 1; /* a writer's handle counts once write_handle() knows its opener */
  pthread_mutex_init(&f->lock, NULL);
  pthread_mutex_lock(&fs->lock);
  if (n) n->nref++;
  f->next = fs->fhs;
  if (fs->fhs) fs->fhs->prev = f;
  fs->fhs = f;
  pthread_mutex_unlock(&fs->lock);
  return f;
}

static void fh_free(h5tx_fuse__fs *fs, fh *f) {
  pthread_mutex_lock(&fs->lock);
  if (f->prev)
    f->prev->next = f->next;
  else
    fs->fhs = f->next;
  if (f->next) f->next->prev = f->prev;
  if (f->n) {
    f->n->nref--;
    maybe_free(fs, f->n);
  }
  pthread_mutex_unlock(&fs->lock);
  h5tx_snap_close(f->snap);
  pthread_mutex_destroy(&f->lock);
  free(f->buf);
  free(f);
}

static fh *get_fh(const struct fuse_file_info *fi) { return (fh *)(uintptr_t)fi->fh; }

/* A read handle on file `name` as of revision `rev`; `n` a content node
 * (checked against the snapshot) or a writer node (the file may be absent).
 * Returns an errno. */
static int open_snapshot(h5tx_fuse__fs *fs, node *n, h5tx_rev rev, fh **out) {
  fh *f = fh_new(fs, F_READ, n);
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
    fh_free(fs, f);
    return rc == H5TX_EGONE ? ESTALE : to_errno(rc);
  }
  *out = f;
  return 0;
}

/* Is a thread between an ESTALE for `name` and its retry? (fs->lock held) */
static int retry_pending(h5tx_fuse__fs *fs, const char *name) {
  uint64_t now = now_ns();
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
static void release_write(h5tx_fuse__fs *fs, fh *f) {
  node *n = f->n;
  wstate *ws = n->w;
  pthread_mutex_lock(&fs->lock);
  int last = --ws->wfhs == 0;
  int keep = last && n->indexed && retry_pending(fs, n->path);
  if (keep) ws->since_ns = now_ns(); /* the helper lets it go if nobody comes */
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
      give_back_memory();
    }
  }
  pthread_mutex_unlock(&ws->lock);
  if (closing) {
    pthread_mutex_lock(&fs->lock);
    key_remove(fs, n);
    ws->busy = 0;
    pthread_cond_broadcast(&fs->cond);
    pthread_mutex_unlock(&fs->lock);
  }
  notify_moved(fs, n->path);
}

/* ---- text files of .h5tx ------------------------------------------------------- */

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + (size_t)n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

typedef struct log_arg {
  sbuf *b;
  const h5tx_common_tags *tags;
} log_arg;

static int log_commit(void *arg, const h5tx_commit *c) {
  log_arg *a = arg;
  char when[32];
  sb_printf(a->b, "revision %" PRIu64 "  %s  pid %" PRIu32 " on %s", c->rev,
            h5tx_common_time(when, c->time_ns, 0), c->pid, c->host ? c->host : "?");
  for (size_t i = 0; i < a->tags->n; i++)
    if (a->tags->v[i].rev == c->rev) sb_printf(a->b, "  tag %s", a->tags->v[i].name);
  sb_printf(a->b, "%s\n", c->collected ? "  (collected)" : "");
  if (c->message && c->message[0]) sb_printf(a->b, "    %s\n", c->message);
  for (uint32_t i = 0; i < c->nfiles; i++)
    sb_printf(a->b, "    file %s\n", c->files[i]);
  return 0;
}

/* The text of .h5tx/log or .h5tx/stats, now. Returns an errno. */
static int make_text(h5tx_fuse__fs *fs, int kind, sbuf *b) {
  if (kind == K_MSTATS) {
    size_t writers = 0;
    pthread_mutex_lock(&fs->lock);
    for (node *n = fs->wlist; n; n = n->wnext)
      writers++;
    pthread_mutex_unlock(&fs->lock);
    h5tx_rev head = 0;
    h5tx_store_head(fs->s, &head, NULL);
    sb_printf(b,
              "reads %" PRIu64 "\nbytes %" PRIu64 "\ncommits %" PRIu64
              "\nwriters %zu\nhead %" PRIu64 "\n",
              atomic_load(&fs->reads), atomic_load(&fs->bytes), atomic_load(&fs->commits), writers,
              head);
    return b->oom ? ENOMEM : 0;
  }
  h5tx_common_tags tags;
  h5tx_error e = {0, ""};
  int rc = h5tx_common_tags_load(fs->s, &tags, &e);
  log_arg a = {b, &tags};
  if (!rc) rc = h5tx_log(fs->s, H5TX_HEAD, log_commit, &a, &e);
  h5tx_common_tags_free(&tags);
  if (rc) {
    h5tx_fuse__log(fs, "log: %s", e.msg[0] ? e.msg : h5tx_strerror(rc));
    return to_errno(rc);
  }
  return b->oom ? ENOMEM : 0;
}

/* ---- directory listings ---------------------------------------------------------- */

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
  if (!starts_with_dir(name, d->prefix)) return;
  const char *rel = name + strlen(d->prefix) + (d->prefix[0] ? 1 : 0);
  const char *slash = strchr(rel, '/');
  dents_add(d, rel, slash ? (size_t)(slash - rel) : strlen(rel), slash ? 1 : dir);
}

static int list_one(void *arg, const char *name, const h5tx_stat *st) {
  (void)st;
  dents_add_under(arg, name, 0);
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

/* ---- operations: lookup and forget ------------------------------------------------ */

static h5tx_fuse__fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* The content node of a file found at revision `rev`, holding `st`
 * (fs->lock held). NULL when out of memory. */
static node *content_node(h5tx_fuse__fs *fs, int kind, const char *name, const h5tx_stat *st,
                          h5tx_rev rev, uint64_t mtime) {
  char key[64];
  snprintf(key, sizeof key, "%c:%" PRIu64 ":%" PRIu64, kind == K_HFILE ? 'h' : 'r', st->file_id,
           st->changed);
  node *n = key_find(fs, key);
  if (n) {
    if (rev > n->rev) n->rev = rev;
    return n;
  }
  if (!(n = node_new(fs, kind, 0, key, name))) return NULL;
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
  int known = key_find(fs, key) != NULL;
  pthread_mutex_unlock(&fs->lock);
  uint64_t mtime = known ? 0 : commit_time(fs, st->changed);
  pthread_mutex_lock(&fs->lock);
  node *n = content_node(fs, kind, name, st, rev, mtime);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  reply_entry_unlock(fs, req, n, entry_timeout, V_COMMITTED);
}

/* Reply with the directory node of `key` (created as `kind`). */
static void reply_dir(h5tx_fuse__fs *fs, fuse_req_t req, int kind, const char *key,
                      const char *path, const node *parent, double entry_timeout) {
  pthread_mutex_lock(&fs->lock);
  node *n = node_get(fs, kind, key, path);
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
  reply_entry_unlock(fs, req, n, entry_timeout, V_COMMITTED);
}

static void lookup_head(h5tx_fuse__fs *fs, fuse_req_t req, const char *name) {
  if (strchr(name, '@')) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  char *wkey = xprintf("w:%s", name);
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
    while ((w = key_find(fs, wkey)) && w->w->busy)
      pthread_cond_wait(&fs->cond, &fs->lock);
    if (!w || probed) break;
    pthread_mutex_unlock(&fs->lock);
    h5tx_fuse__proc_get(tid, &pi);
    probed = 1;
    pthread_mutex_lock(&fs->lock);
  }
  free(wkey);
  int marked = marker_find(fs, tid, name, now_ns()) != NULL;
  int mine = w && writes_it(fs, w, pi.tgid);
  if (w && (marked || mine || atomic_load(&w->w->new_file))) {
    reply_entry_unlock(fs, req, w, 0, marked || mine ? V_WRITER : V_COMMITTED);
    return;
  }
  pthread_mutex_unlock(&fs->lock);
  if (marked) { /* the retry of a write open whose writer went meanwhile */
    int rc = w_get(fs, name, 0, 0, &w);
    if (rc == 0) {
      pthread_mutex_lock(&fs->lock);
      w->nref--;
      reply_entry_unlock(fs, req, w, 0, V_WRITER);
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
    fuse_reply_err(req, to_errno(rc));
    return;
  }
  h5tx_stat st;
  rc = h5tx_snap_stat(snap, name, &st, &e);
  if (rc == 0) {
    reply_content(fs, req, K_HFILE, name, &st, h5tx_snap_rev(snap), 0);
  } else if (rc == H5TX_ENOENT || rc == H5TX_EINVAL) {
    int dir = snap_has_dir(snap, name);
    pthread_mutex_lock(&fs->lock);
    dir = dir || memdir_index(fs, name) >= 0 || mem_has_under(fs, name);
    pthread_mutex_unlock(&fs->lock);
    char *key = dir ? xprintf("hd:%s", name) : NULL;
    if (key)
      reply_dir(fs, req, K_HDIR, key, name, NULL, 0);
    else
      fuse_reply_err(req, dir ? ENOMEM : ENOENT);
    free(key);
  } else {
    h5tx_fuse__log(fs, "lookup %s: %s", name, e.msg);
    fuse_reply_err(req, to_errno(rc));
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
  char *key = xprintf("R:%" PRIu64 ":%s", rev, spec);
  if (!key) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  uint64_t mtime = commit_time(fs, rev);
  pthread_mutex_lock(&fs->lock);
  node *n = node_get(fs, K_RDIR, key, "");
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
  reply_entry_unlock(fs, req, n, moving ? 0 : LONG_TIMEOUT, V_COMMITTED);
}

static void lookup_rev(h5tx_fuse__fs *fs, fuse_req_t req, const node *p, const char *name) {
  h5tx_snap *snap;
  int rc = h5tx_snap_open(fs->s, p->rev, &snap, NULL);
  if (rc) {
    fuse_reply_err(req, to_errno(rc));
    return;
  }
  h5tx_stat st;
  rc = strchr(name, '@') ? H5TX_ENOENT : h5tx_snap_stat(snap, name, &st, NULL);
  if (rc == 0) {
    reply_content(fs, req, K_RFILE, name, &st, p->rev, LONG_TIMEOUT);
  } else if ((rc == H5TX_ENOENT || rc == H5TX_EINVAL) && !strchr(name, '@') &&
             snap_has_dir(snap, name)) {
    char *key = xprintf("D:%" PRIu64 ":%s", p->root, name);
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
    fuse_reply_err(req, to_errno(rc));
  }
  h5tx_snap_close(snap);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  h5tx_fuse__fs *fs = fs_of(req);
  node *p = get_node(fs, parent);
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
    reply_entry_unlock(fs, req, ino_find(fs, ino), LONG_TIMEOUT, V_COMMITTED);
    return;
  }
  if (p->kind != K_HDIR && p->kind != K_RDIR) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  if (p->ino == INO_ROOT && strcmp(name, ".h5tx") == 0) {
    pthread_mutex_lock(&fs->lock);
    reply_entry_unlock(fs, req, ino_find(fs, INO_META), LONG_TIMEOUT, V_COMMITTED);
    return;
  }
  if (p->ino == INO_ROOT && name[0] == '@') {
    lookup_rev_root(fs, req, name + 1);
    return;
  }
  char *full = join(p->path, name);
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
    maybe_free(fs, n);
  }
  pthread_mutex_unlock(&fs->lock);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  forget_one(fs_of(req), ino, nlookup);
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++)
    forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

/* ---- operations: attributes --------------------------------------------------------- */

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = fs_of(req);
  node *n = get_node(fs, ino);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fh *f = fi ? get_fh(fi) : NULL;
  if (f && f->kind == F_WRITE && f->n != n) {
    reply_writer_attr(fs, req, f->n, n->ino); /* open_write_here()'s handle */
  } else if (f && f->kind == F_WRITE) {
    reply_attr_of(fs, req, n, V_WRITER);
  } else if (f && f->kind == F_READ && n->kind == K_WFILE) {
    /* a reader of the writer's inode: the size of its revision */
    struct stat st;
    pthread_mutex_lock(&fs->lock);
    fill_attr(fs, n, V_COMMITTED, &st);
    pthread_mutex_unlock(&fs->lock);
    st.st_size = (off_t)(f->has_file ? f->st.length : 0);
    st.st_blocks = (blkcnt_t)((st.st_size + 511) / 512);
    fuse_reply_attr(req, &st, 0);
  } else {
    reply_attr_of(fs, req, n,
                  n->kind == K_WFILE && sees_writes(fs, req, n) ? V_WRITER : V_COMMITTED);
  }
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
  if (!rc && (rc = to_errno(h5tx_writer_truncate(ws->w, size, &e)))) {
    ws->failed = 1;
    h5tx_fuse__log(fs, "%s: truncate: %s", n->path, e.msg);
  }
  if (!rc) {
    atomic_store(&ws->length, h5tx_writer_length(ws->w));
    atomic_store(&ws->mtime_ns, now_ns());
    if (how == T_PATH) rc = w_commit(fs, n);
  }
  pthread_mutex_unlock(&ws->lock);
  if (how == T_PATH) {
    pthread_mutex_lock(&fs->lock);
    if (n->indexed && ws->wfhs == 0) {
      pthread_mutex_lock(&ws->lock);
      if (ws->w && !h5tx_writer_dirty(ws->w)) {
        h5tx_writer_close(ws->w);
        ws->w = NULL;
        key_remove(fs, n);
      }
      pthread_mutex_unlock(&ws->lock);
    }
    pthread_mutex_unlock(&fs->lock);
  }
  return rc;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = fs_of(req);
  node *n = get_node(fs, ino);
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
    if (size && fi && get_fh(fi)->kind == F_WRITE) { /* open_write_here()'s handle */
      node *w = get_fh(fi)->n;
      int rc = truncate_writer(fs, w, (uint64_t)attr->st_size, T_HANDLE);
      if (rc)
        fuse_reply_err(req, rc);
      else
        reply_writer_attr(fs, req, w, n->ino);
      return;
    }
    if (size && sent_back_before(fs, req, n->path)) { /* truncate(2), again */
      node *w;
      int rc = w_get(fs, n->path, 0, 0, &w);
      if (!rc) {
        rc = truncate_writer(fs, w, (uint64_t)attr->st_size, T_PATH);
        pthread_mutex_lock(&fs->lock);
        w->nref--;
        maybe_free(fs, w);
        pthread_mutex_unlock(&fs->lock);
      }
      if (rc) {
        fuse_reply_err(req, rc);
        return;
      }
    } else if (size) {
      redirect_to_writer(fs, req, n->path);
      return;
    }
    break;
  case K_WFILE:
    if (size) {
      pthread_mutex_lock(&fs->lock);
      marker_clear(fs, fuse_req_ctx(req)->pid);
      int live = n->indexed;
      pthread_mutex_unlock(&fs->lock);
      if (!live && !fi) {
        redirect_to_writer(fs, req, n->path);
        return;
      }
      node *w = fi && get_fh(fi)->kind == F_WRITE ? get_fh(fi)->n : n;
      int rc = truncate_writer(fs, w, (uint64_t)attr->st_size, fi ? T_HANDLE : T_PATH);
      if (rc) {
        fuse_reply_err(req, rc);
        return;
      }
      if (w != n) {
        reply_writer_attr(fs, req, w, n->ino);
        return;
      }
    }
    break;
  default: fuse_reply_err(req, EROFS); return;
  }
  reply_attr_of(fs, req, n, n->kind == K_WFILE && sees_writes(fs, req, n) ? V_WRITER : V_COMMITTED);
}

/* ---- operations: open, read, write, close -------------------------------------------- */

static void reply_open_fh(h5tx_fuse__fs *fs, fuse_req_t req, struct fuse_file_info *fi, fh *f) {
  fi->fh = (uintptr_t)f;
  if (fuse_reply_open(req, fi) != 0) {
    if (f->kind == F_WRITE) release_write(fs, f);
    fh_free(fs, f);
  }
}

static void open_text(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi) {
  sbuf b = {0};
  int rc = make_text(fs, n->kind, &b);
  fh *f = rc ? NULL : fh_new(fs, F_TEXT, n);
  if (!f) {
    free(b.p);
    fuse_reply_err(req, rc ? rc : ENOMEM);
    return;
  }
  f->buf = b.p;
  f->len = b.len;
  fi->direct_io = 1; /* generated anew at each open; its size is not known before */
  reply_open_fh(fs, req, fi, f);
}

static void open_content(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi) {
  pthread_mutex_lock(&fs->lock);
  h5tx_rev rev = n->rev;
  pthread_mutex_unlock(&fs->lock);
  fh *f;
  int rc = open_snapshot(fs, n, rev, &f);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  fi->keep_cache = 1; /* immutable: every open shares the cached pages */
  reply_open_fh(fs, req, fi, f);
}

static void open_write_here(h5tx_fuse__fs *fs, fuse_req_t req, const node *h,
                            struct fuse_file_info *fi);

/* A handle on writer node `w` (whose count of handles already includes
 * it) opened on inode `ino` by the caller of `req`, for writing (`wr`,
 * truncated if the open asks for it) or for reading by a writing process;
 * NULL after replying with the error. */
static fh *write_handle(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino, int wr,
                        struct fuse_file_info *fi) {
  h5tx_fuse__proc pi;
  h5tx_fuse__proc_get(fuse_req_ctx(req)->pid, &pi);
  fh *f = fh_new(fs, F_WRITE, w);
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
      release_write(fs, f);
      fh_free(fs, f);
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
  fh *f = write_handle(fs, req, w, ino, wr, fi);
  if (f) reply_open_fh(fs, req, fi, f);
}

static void open_writer(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi,
                        int wr) {
  pid_t tid = fuse_req_ctx(req)->pid;
  h5tx_fuse__proc pi;
  h5tx_fuse__proc_get(tid, &pi);
  pthread_mutex_lock(&fs->lock);
  while (n->w->busy)
    pthread_cond_wait(&fs->cond, &fs->lock);
  int sent_back = marker_find(fs, tid, n->path, now_ns()) != NULL;
  marker_clear(fs, tid);
  int live = n->indexed;
  /* a writing process reads its own writes (POSIX read-after-write) */
  int own = !wr && live && writes_it(fs, n, pi.tgid);
  if (live && (wr || own)) n->w->wfhs++;
  pthread_mutex_unlock(&fs->lock);
  fi->direct_io = 1; /* no page cache for a file that changes under writes */
  if (!wr && !own) { /* other readers see the committed head, as of their open */
    fh *f;
    int rc = open_snapshot(fs, n, H5TX_HEAD, &f);
    if (rc)
      fuse_reply_err(req, rc);
    else
      reply_open_fh(fs, req, fi, f);
    return;
  }
  if (!live) { /* the writer went (its last handle closed): start again */
    if (sent_back)
      open_write_here(fs, req, n, fi);
    else
      redirect_to_writer(fs, req, n->path);
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
static void open_write_here(h5tx_fuse__fs *fs, fuse_req_t req, const node *h,
                            struct fuse_file_info *fi) {
  for (int tries = 0; tries < 3; tries++) {
    node *w;
    int rc = w_get(fs, h->path, 0, 0, &w);
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
    if (!live) maybe_free(fs, w);
    pthread_mutex_unlock(&fs->lock);
    if (live) {
      open_write_fh(fs, req, w, h->ino, 1, fi);
      return;
    }
  }
  fuse_reply_err(req, EAGAIN);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = fs_of(req);
  node *n = get_node(fs, ino);
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
    else if (sent_back_before(fs, req, n->path))
      open_write_here(fs, req, n, fi);
    else
      redirect_to_writer(fs, req, n->path);
    break;
  case K_WFILE: open_writer(fs, req, n, fi, wr); break;
  case K_MLOG:
  case K_MSTATS:
    if (wr)
      fuse_reply_err(req, EROFS);
    else
      open_text(fs, req, n, fi);
    break;
  default: fuse_reply_err(req, EISDIR); break;
  }
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi) {
  (void)mode;
  h5tx_fuse__fs *fs = fs_of(req);
  node *p = get_node(fs, parent);
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
  char *full = join(p->path, name);
  node *n = NULL;
  int rc = full ? EAGAIN : ENOMEM;
  for (int tries = 0; rc == EAGAIN && tries < 3; tries++) {
    if ((rc = w_get(fs, full, 1, (fi->flags & O_EXCL) != 0, &n))) break;
    pthread_mutex_lock(&fs->lock);
    while (n->w->busy) /* its last handle is closing it */
      pthread_cond_wait(&fs->cond, &fs->lock);
    if (n->indexed) {
      marker_clear(fs, fuse_req_ctx(req)->pid);
      n->w->wfhs++;
    } else {
      rc = EAGAIN;
    }
    n->nref--;
    if (rc) maybe_free(fs, n);
    pthread_mutex_unlock(&fs->lock);
  }
  free(full);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  fh *f = write_handle(fs, req, n, n->ino, 1, fi);
  if (!f) return;
  fi->fh = (uintptr_t)f;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = n->ino;
  pthread_mutex_lock(&fs->lock);
  fill_attr(fs, n, V_WRITER, &e.attr);
  n->nlookup++;
  pthread_mutex_unlock(&fs->lock);
  if (fuse_reply_create(req, &e, fi) != 0) {
    pthread_mutex_lock(&fs->lock);
    n->nlookup--;
    pthread_mutex_unlock(&fs->lock);
    release_write(fs, f);
    fh_free(fs, f);
  }
}

/* Reply with `size` bytes at `off` of a handle's generated content. From
 * a copy: once the reply is written, the kernel may release the handle in
 * another thread before fuse_reply_buf() returns here. */
static void reply_slice(fuse_req_t req, const fh *f, size_t size, off_t off) {
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
 * nothing (threads x the largest read is all they hold). NULL when out of
 * memory. */
static char *read_buffer(size_t n) {
  static _Thread_local char *buf;
  static _Thread_local size_t cap;
  if (n > cap) {
    free(buf);
    cap = 0;
    if (!(buf = malloc(n))) return NULL;
    cap = n;
  }
  return buf;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fs *fs = fs_of(req);
  fh *f = get_fh(fi);
  if (f->kind == F_TEXT || f->kind == F_DIR) {
    reply_slice(req, f, size, off);
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
    fuse_reply_err(req, to_errno(rc));
    return;
  }
  atomic_fetch_add(&fs->reads, 1);
  atomic_fetch_add(&fs->bytes, n);
  fuse_reply_buf(req, buf, n);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fs *fs = fs_of(req);
  fh *f = get_fh(fi);
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
    atomic_store(&ws->mtime_ns, now_ns());
  }
  pthread_mutex_unlock(&ws->lock);
  if (rc)
    fuse_reply_err(req, to_errno(rc));
  else
    fuse_reply_write(req, size);
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
  int mine = writes_it(fs, n, pi.tgid);
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
    rc = w_commit(fs, n);
  }
  pthread_mutex_unlock(&ws->lock);
  return rc;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  fh *f = get_fh(fi);
  int rc = f->kind == F_WRITE ? commit_at_close(fs_of(req), f, fuse_req_ctx(req)->pid) : 0;
  fuse_reply_err(req, rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)ino, (void)datasync;
  h5tx_fuse__fs *fs = fs_of(req);
  fh *f = get_fh(fi);
  int rc = 0;
  if (f->kind == F_WRITE) {
    wstate *ws = f->n->w;
    pthread_mutex_lock(&ws->lock);
    rc = w_commit(fs, f->n);
    pthread_mutex_unlock(&ws->lock);
  }
  fuse_reply_err(req, rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  h5tx_fuse__fs *fs = fs_of(req);
  fh *f = get_fh(fi);
  if (f->kind == F_WRITE) release_write(fs, f);
  fh_free(fs, f);
  fuse_reply_err(req, 0);
}

/* ---- operations: directories ------------------------------------------------------------ */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  h5tx_fuse__fs *fs = fs_of(req);
  node *n = get_node(fs, ino);
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
      char *prefix = n->path[0] ? xprintf("%s/", n->path) : NULL;
      if (n->path[0] && !prefix)
        rc = H5TX_ENOMEM;
      else
        rc = h5tx_snap_list(snap, prefix, list_one, &d, &e);
      free(prefix);
      h5tx_snap_close(snap);
    }
    if (rc) h5tx_fuse__log(fs, "list %s: %s", n->path, e.msg);
    if (!rc && n->kind == K_HDIR) {
      pthread_mutex_lock(&fs->lock);
      for (size_t i = 0; i < fs->nmem; i++)
        dents_add_under(&d, fs->memdirs[i], 1);
      for (node *w = fs->wlist; w; w = w->wnext)
        if (atomic_load(&w->w->new_file)) dents_add_under(&d, w->path, 0);
      pthread_mutex_unlock(&fs->lock);
    }
    rc = to_errno(rc);
  } else {
    rc = ENOTDIR;
  }
  if (!rc && d.oom) rc = ENOMEM;
  fh *f = NULL;
  if (!rc) {
    f = fh_new(fs, F_DIR, NULL);
    if (!f || (rc = dents_buffer(req, &d, n->ino == INO_ROOT, &f->buf, &f->len))) {
      if (f) fh_free(fs, f);
      rc = rc ? rc : ENOMEM;
    }
  }
  dents_free(&d);
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  reply_open_fh(fs, req, fi, f);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
  (void)ino;
  reply_slice(req, get_fh(fi), size, off);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  fh_free(fs_of(req), get_fh(fi));
  fuse_reply_err(req, 0);
}

/* The head directory `parent` and the full name of `name` in it, or an
 * errno for a change where changes are not allowed. */
static int head_name(h5tx_fuse__fs *fs, fuse_ino_t parent, const char *name, char **full) {
  node *p = get_node(fs, parent);
  if (!p) return ENOENT;
  if (p->kind == K_RDIR || p->kind == K_MDIR) return EROFS;
  if (p->kind != K_HDIR) return ENOTDIR;
  if (p->ino == INO_ROOT && (name[0] == '@' || strcmp(name, ".h5tx") == 0)) return EROFS;
  if (strchr(name, '@')) return EINVAL;
  return (*full = join(p->path, name)) ? 0 : ENOMEM;
}

/* What `name` is at head: 0 absent, 1 a file, 2 a directory; or -errno. */
static int head_kind(h5tx_fuse__fs *fs, const char *name) {
  h5tx_snap *snap;
  int rc = h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL);
  if (rc) return -to_errno(rc);
  h5tx_stat st;
  rc = h5tx_snap_stat(snap, name, &st, NULL);
  int kind = rc == 0 ? 1 : snap_has_dir(snap, name) ? 2 : 0;
  h5tx_snap_close(snap);
  if (rc && rc != H5TX_ENOENT && rc != H5TX_EINVAL) return -to_errno(rc);
  if (kind) return kind;
  pthread_mutex_lock(&fs->lock);
  char *wkey = xprintf("w:%s", name);
  if (wkey && key_find(fs, wkey))
    kind = 1;
  else if (memdir_index(fs, name) >= 0 || mem_has_under(fs, name))
    kind = 2;
  pthread_mutex_unlock(&fs->lock);
  free(wkey);
  return kind;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  (void)mode;
  h5tx_fuse__fs *fs = fs_of(req);
  char *full = NULL;
  int rc = head_name(fs, parent, name, &full);
  if (!rc) {
    int k = head_kind(fs, full);
    rc = k < 0 ? -k : k ? EEXIST : 0;
  }
  char *key = rc ? NULL : xprintf("hd:%s", full);
  if (!rc && !key) rc = ENOMEM;
  if (rc) {
    free(full);
    fuse_reply_err(req, rc);
    return;
  }
  pthread_mutex_lock(&fs->lock);
  node *n = memdir_add(fs, full) ? NULL : node_get(fs, K_HDIR, key, full);
  free(key);
  free(full);
  if (!n) {
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  reply_entry_unlock(fs, req, n, 0, V_COMMITTED);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  h5tx_fuse__fs *fs = fs_of(req);
  char *full = NULL;
  int rc = head_name(fs, parent, name, &full);
  if (!rc) {
    h5tx_snap *snap;
    rc = to_errno(h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL));
    if (!rc) {
      h5tx_stat st;
      rc = h5tx_snap_stat(snap, full, &st, NULL) == 0 ? ENOTDIR
           : snap_has_dir(snap, full)                 ? ENOTEMPTY
                                                      : 0;
      h5tx_snap_close(snap);
    }
  }
  if (!rc) {
    pthread_mutex_lock(&fs->lock);
    ssize_t i = memdir_index(fs, full);
    if (mem_has_under(fs, full))
      rc = ENOTEMPTY;
    else if (i < 0)
      rc = ENOENT;
    else
      memdir_del(fs, (size_t)i);
    pthread_mutex_unlock(&fs->lock);
  }
  free(full);
  fuse_reply_err(req, rc);
}

/* Is a writer of this daemon attached to `name` (once one closing is
 * closed)? */
static int has_writer(h5tx_fuse__fs *fs, const char *name) {
  char *key = xprintf("w:%s", name);
  pthread_mutex_lock(&fs->lock);
  node *w;
  while (key && (w = key_find(fs, key)) && w->w->busy)
    pthread_cond_wait(&fs->cond, &fs->lock);
  int busy = !key || key_find(fs, key) != NULL;
  pthread_mutex_unlock(&fs->lock);
  free(key);
  return busy;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  h5tx_fuse__fs *fs = fs_of(req);
  char *full = NULL;
  int rc = head_name(fs, parent, name, &full);
  if (!rc && has_writer(fs, full)) rc = EBUSY;
  if (!rc) {
    h5tx_error e = {0, ""};
    char *msg = xprintf("mount: remove %s", full);
    int hrc = h5tx_remove(fs->s, full, msg ? msg : "mount", NULL, &e);
    free(msg);
    if (hrc && hrc != H5TX_ENOENT) h5tx_fuse__log(fs, "remove %s: %s", full, e.msg);
    rc = to_errno(hrc);
  }
  if (!rc) {
    atomic_fetch_add(&fs->commits, 1);
    pthread_mutex_lock(&fs->lock);
    memdir_keep_parents(fs, full);
    pthread_mutex_unlock(&fs->lock);
    notify_moved(fs, full);
  }
  free(full);
  fuse_reply_err(req, rc);
}

/* Rename the in-memory directory `from` (and those under it) to `to`. */
static int rename_memdirs(h5tx_fuse__fs *fs, const char *from, const char *to) {
  size_t fl = strlen(from);
  for (size_t i = 0; i < fs->nmem; i++) {
    const char *d = fs->memdirs[i];
    if (strcmp(d, from) != 0 && !starts_with_dir(d, from)) continue;
    char *moved = xprintf("%s%s", to, d + fl);
    if (!moved) return ENOMEM;
    free(fs->memdirs[i]);
    fs->memdirs[i] = moved;
  }
  return 0;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags) {
  h5tx_fuse__fs *fs = fs_of(req);
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
      char *msg = xprintf("mount: rename %s to %s", from, to);
      int hrc = h5tx_rename(fs->s, from, to, msg ? msg : "mount", NULL, &e);
      free(msg);
      if (hrc && hrc != H5TX_ENOENT) h5tx_fuse__log(fs, "rename %s: %s", from, e.msg);
      if (!(rc = to_errno(hrc))) {
        atomic_fetch_add(&fs->commits, 1);
        pthread_mutex_lock(&fs->lock);
        memdir_keep_parents(fs, from);
        pthread_mutex_unlock(&fs->lock);
        notify_moved(fs, from);
        notify_moved(fs, to);
      }
    }
  } else if (!rc) {
    /* A directory: the store has no directories, so only one made in
     * memory and still empty of files moves here; mv copies the others. */
    h5tx_snap *snap;
    rc = to_errno(h5tx_snap_open(fs->s, H5TX_HEAD, &snap, NULL));
    if (!rc) {
      if (snap_has_dir(snap, from))
        rc = EXDEV;
      else if (kt == 1)
        rc = ENOTDIR;
      else if (kt == 2)
        rc = snap_has_dir(snap, to) ? ENOTEMPTY : 0;
      h5tx_snap_close(snap);
    }
    if (!rc) {
      pthread_mutex_lock(&fs->lock);
      for (node *w = fs->wlist; w; w = w->wnext)
        if (starts_with_dir(w->path, from)) rc = EBUSY;
      ssize_t i;
      if (!rc && kt == 2) {
        for (size_t j = 0; j < fs->nmem; j++)
          if (starts_with_dir(fs->memdirs[j], to)) rc = ENOTEMPTY;
        if (!rc && (i = memdir_index(fs, to)) >= 0) memdir_del(fs, (size_t)i);
      }
      if (!rc) rc = rename_memdirs(fs, from, to);
      if (!rc) memdir_keep_parents(fs, from);
      pthread_mutex_unlock(&fs->lock);
    }
  }
done:
  free(from);
  free(to);
  fuse_reply_err(req, rc);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  h5tx_fuse__fs *fs = fs_of(req);
  struct statvfs sv;
  if (statvfs(h5tx_store_path(fs->s), &sv) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  sv.f_namemax = 255;
  fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  /* Content inodes never change: nothing may drop their pages because
   * their attributes were looked at again. */
  conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

const struct fuse_lowlevel_ops h5tx_fuse__ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
};

/* ---- life cycle ------------------------------------------------------------------------ */

int h5tx_fuse__fs_new(const h5tx_config *cfg, int use_syslog, h5tx_fuse__fs **out,
                      h5tx_error *err) {
  /* Memory (README, "Memory"): blocks of a page or more (pages, commit
   * records) are mapped and unmapped one by one, never kept in the heap
   * (a fixed threshold also stops glibc from raising it after the first
   * large free); few arenas for the worker threads. */
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_ARENA_MAX, 4);
  h5tx_fuse__fs *fs = calloc(1, sizeof *fs);
  if (fs) {
    fs->nb = 256;
    fs->by_ino = calloc(fs->nb, sizeof *fs->by_ino);
    fs->by_key = calloc(fs->nb, sizeof *fs->by_key);
  }
  if (!fs || !fs->by_ino || !fs->by_key) {
    if (fs) {
      free(fs->by_ino);
      free(fs->by_key);
    }
    free(fs);
    if (err) snprintf(err->msg, sizeof err->msg, "out of memory");
    if (err) err->code = H5TX_ENOMEM;
    return H5TX_ENOMEM;
  }
  fs->cfg = *cfg;
  fs->use_syslog = use_syslog;
  fs->uid = getuid();
  fs->gid = getgid();
  fs->perm = 0755;
  fs->mount_ns = now_ns();
  fs->next_ino = INO_FIRST;
  pthread_mutex_init(&fs->lock, NULL);
  pthread_cond_init(&fs->cond, NULL);
  pthread_mutex_init(&fs->qlock, NULL);
  pthread_cond_init(&fs->qcond, NULL);
  static const struct {
    uint64_t ino;
    int kind;
    const char *key;
  } fixed[] = {{INO_ROOT, K_HDIR, "hd:"},
               {INO_META, K_MDIR, "m:"},
               {INO_LOG, K_MLOG, "m:log"},
               {INO_STATS, K_MSTATS, "m:stats"}};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    node *n = node_new(fs, fixed[i].kind, fixed[i].ino, fixed[i].key, "");
    if (!n) {
      h5tx_fuse__fs_free(fs);
      if (err) snprintf(err->msg, sizeof err->msg, "out of memory");
      if (err) err->code = H5TX_ENOMEM;
      return H5TX_ENOMEM;
    }
    n->fixed = 1;
  }
  *out = fs;
  return 0;
}

int h5tx_fuse__fs_open(h5tx_fuse__fs *fs, const char *store, h5tx_error *err) {
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.dirty_limit = (size_t)fs->cfg.cache;
  /* Who may do what in the mount: as in the store's directory (with
   * default_permissions, the kernel checks these modes; -o allow_other then
   * lets in exactly the users the store's directory lets in). */
  struct stat st;
  if (stat(store, &st) == 0) {
    fs->uid = st.st_uid;
    fs->gid = st.st_gid;
    fs->perm = st.st_mode & 0777u;
  }
  return h5tx_store_open(store, &o, &fs->s, err);
}

int h5tx_fuse__fs_start(h5tx_fuse__fs *fs, struct fuse_session *se, const char *mnt,
                        h5tx_error *err) {
  fs->se = se;
  fs->have_mid = h5tx_fuse__mountid_of(mnt, &fs->mid) == 0;
  sigset_t all, old; /* signals go to the session loop's thread */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(&fs->helper, NULL, helper_main, fs);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    if (err) {
      err->code = H5TX_ENOMEM;
      snprintf(err->msg, sizeof err->msg, "cannot start a thread: %s", strerror(rc));
    }
    return H5TX_ENOMEM;
  }
  fs->helper_started = 1;
  return 0;
}

void h5tx_fuse__fs_stop(h5tx_fuse__fs *fs) {
  if (!fs || !fs->helper_started) return;
  pthread_mutex_lock(&fs->qlock);
  fs->stopping = 1;
  pthread_cond_signal(&fs->qcond);
  pthread_mutex_unlock(&fs->qlock);
  pthread_join(fs->helper, NULL);
  fs->helper_started = 0;
}

void h5tx_fuse__fs_free(h5tx_fuse__fs *fs) {
  if (!fs) return;
  h5tx_fuse__fs_stop(fs);
  for (notif *q = fs->qhead, *next; q; q = next) {
    next = q->next;
    free(q);
  }
  /* Handles the kernel never released (the mount went away under them). */
  while (fs->fhs) {
    fh *f = fs->fhs;
    fs->fhs = f->next;
    h5tx_snap_close(f->snap);
    pthread_mutex_destroy(&f->lock);
    free(f->buf);
    free(f);
  }
  for (size_t i = 0; i < fs->nb; i++)
    for (node *n = fs->by_ino[i], *next; n; n = next) {
      next = n->ino_next;
      if (n->w && n->w->w && h5tx_writer_dirty(n->w->w))
        h5tx_fuse__log(fs, "%s: dropping changes not committed at unmount", n->path);
      node_destroy(n);
    }
  for (int i = 0; i < NMARKERS; i++)
    free(fs->markers[i].name);
  for (size_t i = 0; i < fs->nmem; i++)
    free(fs->memdirs[i]);
  free(fs->memdirs);
  free(fs->by_ino);
  free(fs->by_key);
  h5tx_store_close(fs->s);
  pthread_mutex_destroy(&fs->lock);
  pthread_cond_destroy(&fs->cond);
  pthread_mutex_destroy(&fs->qlock);
  pthread_cond_destroy(&fs->qcond);
  free(fs);
}
