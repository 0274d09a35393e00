/* fs.c - the h5tx file system's state and life cycle: small helpers every
 * part uses, the helper thread (the kernel's invalidations, letting go of
 * writers nobody opened), the FUSE operations table, and setting up and
 * freeing the state.
 *
 * The parts, one file each: inodes.c (inodes, lookup, attributes),
 * reading.c (handles and reads), writers.c (writers: open, write,
 * truncate), commit_rule.c (when a close commits: the commit rule),
 * dirs.c (directories), textfiles.c (.h5tx/log and .h5tx/stats), procs.c
 * (what /proc says of callers). Shared types: fs_internal.h. */
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

uint64_t h5tx_fuse__now_ns(void) {
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

char *h5tx_fuse__xprintf(const char *fmt, ...) {
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
char *h5tx_fuse__join(const char *dir, const char *name) {
  return dir[0] ? h5tx_fuse__xprintf("%s/%s", dir, name) : strdup(name);
}

int h5tx_fuse__starts_with_dir(const char *name, const char *dir) {
  size_t n = strlen(dir);
  return n == 0 || (strncmp(name, dir, n) == 0 && name[n] == '/');
}

/* The errno for an h5tx error code. */
int h5tx_fuse__to_errno(int code) {
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
uint64_t h5tx_fuse__commit_time(h5tx_fuse__fs *fs, h5tx_rev rev) {
  uint64_t t = fs->mount_ns;
  if (rev > 0) h5tx_log(fs->s, rev, first_commit_time, &t, NULL);
  return t;
}

static int stop_at_first(void *arg, const char *name, const h5tx_stat *st) {
  (void)arg, (void)name, (void)st;
  return 1;
}

/* Does snapshot `snap` hold files under directory `dir`? */
int h5tx_fuse__snap_has_dir(h5tx_snap *snap, const char *dir) {
  char *prefix = h5tx_fuse__xprintf("%s/", dir);
  if (!prefix) return 0;
  int rc = h5tx_snap_list(snap, prefix, stop_at_first, NULL, NULL);
  free(prefix);
  return rc == 1;
}

/* Return the memory a commit or a closed writer freed to the system: a
 * commit's pages are freed in one go and would otherwise stay in malloc's
 * arenas, making the idle daemon as large as its largest commit. */
void h5tx_fuse__give_back_memory(void) { malloc_trim(0); }

/* Ask the helper thread to tell the kernel that head file `name` moved. */
void h5tx_fuse__notify_moved(h5tx_fuse__fs *fs, const char *name) {
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
  char *key = h5tx_fuse__xprintf("hd:%s", dir);
  uint64_t parent = 0;
  pthread_mutex_lock(&fs->lock);
  node *p = key ? h5tx_fuse__key_find(fs, key) : NULL;
  if (p && (p->nlookup || p->fixed)) parent = p->ino;
  pthread_mutex_unlock(&fs->lock);
  /* Outside every lock and request: the kernel may need the directory. */
  if (parent) fuse_lowlevel_notify_inval_entry(fs->se, parent, base, strlen(base));
  free(key);
  free(dir);
}

/* Let go of writers handed out for an ESTALE retry that never came. */
static void reap(h5tx_fuse__fs *fs) {
  uint64_t now = h5tx_fuse__now_ns();
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
    h5tx_fuse__key_remove(fs, n);
    h5tx_fuse__maybe_free(fs, n);
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

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  h5tx_fuse__fs *fs = h5tx_fuse__fs_of(req);
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
    .lookup = h5tx_fuse__op_lookup,
    .forget = h5tx_fuse__op_forget,
    .forget_multi = h5tx_fuse__op_forget_multi,
    .getattr = h5tx_fuse__op_getattr,
    .setattr = h5tx_fuse__op_setattr,
    .mkdir = h5tx_fuse__op_mkdir,
    .unlink = h5tx_fuse__op_unlink,
    .rmdir = h5tx_fuse__op_rmdir,
    .rename = h5tx_fuse__op_rename,
    .open = h5tx_fuse__op_open,
    .create = h5tx_fuse__op_create,
    .read = h5tx_fuse__op_read,
    .write = h5tx_fuse__op_write,
    .flush = h5tx_fuse__op_flush,
    .release = h5tx_fuse__op_release,
    .fsync = h5tx_fuse__op_fsync,
    .opendir = h5tx_fuse__op_opendir,
    .readdir = h5tx_fuse__op_readdir,
    .releasedir = h5tx_fuse__op_releasedir,
    .statfs = op_statfs,
};

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
  fs->mount_ns = h5tx_fuse__now_ns();
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
    node *n = h5tx_fuse__node_new(fs, fixed[i].kind, fixed[i].ino, fixed[i].key, "");
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
      h5tx_fuse__node_destroy(n);
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
