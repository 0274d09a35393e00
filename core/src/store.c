/* store.c - opening and creating stores: the directory, its marker, the
 * index and the page log (format 2), the open lock and recovery, the
 * store's defaults; head and revision checks; foreign entries. */
#include "store.h"

#include "apply2.h"
#include "marker.h"
#include "store2.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <pthread.h>
#include <unistd.h>

#define MARKER H5TX__MARKER

void h5tx_store_opts_init(h5tx_store_opts *o) {
  memset(o, 0, sizeof *o);
  o->durability = -1;
  o->codec = -1;
  o->level = 0;
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int check_opts(const char *path, const h5tx_store_opts *o, h5tx_error *err) {
  char prefix[4200];
  snprintf(prefix, sizeof prefix, "store %s: ", path);
  return h5tx__check_options(prefix, o->page_size, o->codec, o->level, o->durability, err);
}

/* File systems whose locks and shared mappings do not reach across hosts,
 * or are not known to: a store there is refused (docs/DECISIONS.md, "Store
 * files and outcomes"). Values from <linux/magic.h> and the file systems'
 * sources. */
static const struct {
  unsigned long magic;
  const char *name;
} shared_fs[] = {
    {0x6969, "nfs"},        {0xff534d42, "cifs"},  {0xfe534d42, "smb2"},     {0x517b, "smbfs"},
    {0x0bd00bd0, "lustre"}, {0x47504653, "gpfs"},  {0x65735546, "fuse"},     {0x00c36400, "ceph"},
    {0x5346414f, "afs"},    {0x6b414653, "afs"},   {0x01161970, "gfs2"},     {0x7461636f, "ocfs2"},
    {0x19830326, "beegfs"}, {0xaad7aaea, "panfs"}, {0x13661366, "orangefs"}, {0x73757245, "coda"},
    {0x564c, "ncpfs"},      {0x01021997, "9p"},
};

/* The type and mount point that /proc/self/mountinfo gives for device
 * `dev` ("nfs4", "fuse.sshfs"); empty strings when not found. */
static void mount_of(dev_t dev, char *type, size_t tcap, char *where, size_t wcap) {
  *type = *where = 0;
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    unsigned maj, min;
    char mnt[2048], fstype[256];
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
    if (sscanf(line, "%*u %*u %u:%u %*s %2047s", &maj, &min, mnt) != 3) continue;
    if (makedev(maj, min) != dev) continue;
    const char *dash = strstr(line, " - ");
    if (!dash || sscanf(dash + 3, "%255s", fstype) != 1) continue;
    snprintf(type, tcap, "%s", fstype);
    snprintf(where, wcap, "%s", mnt);
  }
  fclose(f);
}

static int check_local_fs(const char *store, const char *dir, h5tx_error *err) {
  struct statfs fs;
  struct stat st;
  if (statfs(dir, &fs) != 0 || stat(dir, &st) != 0) return 0; /* open says more */
  const char *name = NULL;
  for (size_t i = 0; i < sizeof shared_fs / sizeof *shared_fs; i++)
    if ((unsigned long)(unsigned)fs.f_type == shared_fs[i].magic) name = shared_fs[i].name;
  if (!name) return 0;
  const char *allow = getenv("H5TX_ALLOW_SHARED_FS");
  if (allow && strcmp(allow, "1") == 0) return 0;
  char type[256], where[2048];
  mount_of(st.st_dev, type, sizeof type, where, sizeof where);
  return h5tx__err(err, H5TX_EINVAL,
                   "store %s is on a %s file system (%s%s, type 0x%lx): h5tx refuses it because "
                   "its locks and its reader table (LMDB's lock file, the shared reader slots) "
                   "work only between processes of one host, so processes on other hosts could "
                   "read pages being reused or commit over each other; put the store on a local "
                   "file system (if every process that opens it runs on this host, "
                   "H5TX_ALLOW_SHARED_FS=1 lets it through)",
                   store, *type ? type : name, *where ? "mounted at " : "",
                   *where ? where : "mount point unknown", (unsigned long)(unsigned)fs.f_type);
}

/* fsync directory `dir`: its entries are then on disk. */
static int sync_dir(const char *store, const char *dir, h5tx_error *err) {
  int e = h5tx__sync_dir(dir);
  if (e)
    return h5tx__err(err, h5tx__errno_code(e), "cannot create store %s: syncing directory %s: %s",
                     store, dir, strerror(e));
  return 0;
}

/* Create the store at `path` in a temporary directory renamed into place.
 * Every file and both directories are synced before success is reported:
 * the marker and the index inside the new directory, that directory's
 * entries, then the parent's entry for the renamed directory. Modes are
 * 0666/0777 less the umask, so a umask of 002 makes a store a group can
 * share. */
static int create_store(const char *path, const h5tx_store_opts *o, h5tx_error *err) {
  if (!ends_with(path, ".h5tx") || strlen(path) <= 5)
    return h5tx__err(err, H5TX_EINVAL, "cannot create store %s: a store's name must end in .h5tx",
                     path);
  char *base, *parent;
  int split = h5tx__path_split(path, &parent, &base);
  char tmp[4096];
  int rc = 0;
  struct stat st;
  if (split) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto out;
  }
  if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = h5tx__err(err, H5TX_ENOENT, "cannot create store %s: parent directory %s does not exist",
                   path, parent);
    goto out;
  }
  if ((rc = check_local_fs(path, parent, err))) goto out;
  if ((rc = h5tx__make_tmp_dir("cannot create store", path, parent, base, tmp, sizeof tmp, err)))
    goto out;
  uint8_t id[16];
  if ((rc = h5tx__store2_fill(tmp, path, o, id, err))) goto cleanup;
  /* The reader table is part of the store from the start, so that no
   * later (read-only) open has to create it. */
  h5tx__pins *pins;
  if ((rc = h5tx__pins_open(tmp, &pins, err))) goto cleanup;
  h5tx__pins_close(pins);
  if ((rc = sync_dir(path, tmp, err))) goto cleanup;
  if (rename(tmp, path) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {
      rc = 0; /* another process created it first: use theirs */
      goto cleanup;
    }
    rc = h5tx__err(err, h5tx__errno_code(errno), "cannot create store %s: %s", path,
                   strerror(errno));
    goto cleanup;
  }
  rc = sync_dir(path, parent, err);
  goto out;
cleanup:
  h5tx__remove_tree(tmp);
out:
  free(base);
  free(parent);
  return rc;
}

/* The open lock: every handle of a writable store holds a read lock on one
 * byte of `readers` (far past its slots) for its lifetime. A handle that
 * gets the write lock instead is the only one: no process has the store
 * open, so none can be writing, and it runs recovery (FORMAT.md,
 * "Recovery") before turning the lock into a read lock (an fcntl lock
 * changes type atomically, so no other opener sees it free in between). A
 * killed process's lock goes with its last descriptor. */
static int open_lock(int fd, short type, int wait) {
  struct flock fl = {
      .l_type = type, .l_whence = SEEK_SET, .l_start = H5TX__OPEN_LOCK_OFF, .l_len = 1};
  int rc;
  while ((rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
    ;
  return rc;
}

/* What recovery says is kept for h5tx_store_recovered (the last lines). */
static void keep_line(void *arg, const char *line) {
  h5tx_store *s = arg;
  size_t have = s->recovered ? strlen(s->recovered) : 0, n = strlen(line);
  char *p = realloc(s->recovered, have + n + 2);
  if (!p) return;
  memcpy(p + have, line, n);
  p[have + n] = '\n';
  p[have + n + 1] = 0;
  s->recovered = p;
}

/* ---- the parts of a store shared by every handle of a process ------------- */

/* One per store and process: the index, the page log, the live table and
 * the open lock. Found again by store id (with the directory's device and
 * inode, as a copied store directory keeps its id); never across fork(). A
 * handle is then a marker read and a look-up, however often a program
 * opens the store. */
struct h5tx__core {
  struct h5tx__core *next;
  pid_t pid;
  uint8_t id[16];
  dev_t dev;
  ino_t ino;
  int refs;
  int writable; /* the directory is writable: index and live table too */
  h5tx__kv *kv;
  h5tx__plog *log;
  h5tx__pins *pins;
  int open_fd;
  h5tx__defaults d;
  h5tx__pcache *pcache; /* decoded pages, 4 MiB */
  pthread_mutex_t zp_lock;
  h5tx__zpolicy zp; /* what the last commit learnt of compression */
};

void h5tx__zpolicy_load(h5tx_store *s, h5tx__zpolicy *zp) {
  pthread_mutex_lock(&s->core->zp_lock);
  *zp = s->core->zp;
  pthread_mutex_unlock(&s->core->zp_lock);
}

void h5tx__zpolicy_save(h5tx_store *s, const h5tx__zpolicy *zp) {
  pthread_mutex_lock(&s->core->zp_lock);
  s->core->zp = *zp;
  pthread_mutex_unlock(&s->core->zp_lock);
}

static h5tx__core *cores;
static pthread_mutex_t cores_lock = PTHREAD_MUTEX_INITIALIZER;

static int open_lock_take(h5tx_store *s, h5tx__core *c, int *alone, h5tx_error *err);
static int recover(h5tx_store *s, h5tx_error *err);

static void core_free(h5tx__core *c) {
  pthread_mutex_destroy(&c->zp_lock);
  h5tx__pcache_free(c->pcache);
  h5tx__plog_close(c->log);
  h5tx__pins_close(c->pins);
  h5tx__kv_close(c->kv);
  if (c->open_fd >= 0) close(c->open_fd);
  free(c);
}

/* Give handle `s` the parts of core `c` (NULL: none). */
static void attach(h5tx_store *s, h5tx__core *c) {
  s->core = c;
  s->kv = c ? c->kv : NULL;
  s->log = c ? c->log : NULL;
  s->pins = c ? c->pins : NULL;
  s->pcache = c ? c->pcache : NULL;
}

static int core_open(h5tx_store *s, const h5tx__marker *m, const struct stat *st, h5tx_error *err) {
  h5tx__core *c = calloc(1, sizeof *c);
  if (!c) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  c->pid = getpid();
  memcpy(c->id, m->id, 16);
  c->dev = st->st_dev;
  c->ino = st->st_ino;
  c->refs = 1;
  c->open_fd = -1;
  pthread_mutex_init(&c->zp_lock, NULL);
  c->writable = access(s->path, W_OK) == 0;
  /* The open lock first: a repair or upgrade holding it finishes before
   * this handle opens the index it replaces. */
  int alone = 0;
  int rc = open_lock_take(s, c, &alone, err);
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/index", s->path);
  if (rc == 0) rc = h5tx__idx_open(dir, 0, !c->writable, &c->kv, err);
  if (rc == 0) rc = h5tx__store2_meta(c->kv, s->path, m, &c->d, err);
  snprintf(dir, sizeof dir, "%s/log", s->path);
  if (rc == 0) rc = h5tx__plog_open(dir, m->id, 0, !c->writable, 0, &c->log, err);
  if (rc == 0 && c->writable) rc = h5tx__pins_open(s->path, &c->pins, err);
  if (rc == 0) c->pcache = h5tx__pcache_new((size_t)4 << 20); /* NULL: no cache */
  if (rc == 0) {
    attach(s, c);
    if (alone) rc = recover(s, err);
  }
  if (rc) {
    attach(s, NULL);
    core_free(c);
  }
  return rc;
}

/* This process's parts of store `m` at `st`, opened if need be. */
static int core_get(h5tx_store *s, const h5tx__marker *m, const struct stat *st, h5tx_error *err) {
  pthread_mutex_lock(&cores_lock);
  pid_t me = getpid();
  h5tx__core *c = cores;
  while (c && !(c->pid == me && c->dev == st->st_dev && c->ino == st->st_ino &&
                memcmp(c->id, m->id, 16) == 0))
    c = c->next;
  int rc = 0;
  if (c) {
    c->refs++;
    attach(s, c);
  } else if ((rc = core_open(s, m, st, err)) == 0) {
    s->core->next = cores;
    cores = s->core;
  }
  pthread_mutex_unlock(&cores_lock);
  return rc;
}

/* 1 if this process has a store open on device `dev`: its file system
 * was checked then (check_local_fs), so a later open skips the statfs. */
static int dev_has_core(dev_t dev) {
  pthread_mutex_lock(&cores_lock);
  pid_t me = getpid();
  h5tx__core *c = cores;
  while (c && !(c->pid == me && c->dev == dev))
    c = c->next;
  pthread_mutex_unlock(&cores_lock);
  return c != NULL;
}

static void core_put(h5tx__core *c) {
  if (!c) return;
  pthread_mutex_lock(&cores_lock);
  int last = --c->refs == 0;
  if (last)
    for (h5tx__core **p = &cores; *p; p = &(*p)->next)
      if (*p == c) {
        *p = c->next;
        break;
      }
  pthread_mutex_unlock(&cores_lock);
  if (last) core_free(c);
}

/* Take the open lock on `readers`: *alone 1 when this is the only
 * process with the store open (the lock is then held for writing until
 * recover() turns it into a read lock), else a read lock, waiting for a
 * repair or upgrade that holds it. */
static int open_lock_take(h5tx_store *s, h5tx__core *c, int *alone, h5tx_error *err) {
  char f[4200];
  snprintf(f, sizeof f, "%s/" H5TX__PINS_FILE, s->path);
  c->open_fd = open(f, (c->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (c->open_fd < 0)
    return h5tx__err(err, h5tx__errno_code(errno), STORE_FMT ": opening %s: %s", s->path, f,
                     strerror(errno));
  *alone = c->writable && open_lock(c->open_fd, F_WRLCK, 0) == 0;
  if (!*alone && open_lock(c->open_fd, F_RDLCK, 1) != 0)
    return h5tx__err(err, h5tx__errno_code(errno), STORE_FMT ": locking %s: %s", s->path, f,
                     strerror(errno));
  return 0;
}

/* Recovery by the only process that has the store open, then the open
 * lock turned into a read lock (an fcntl lock changes type atomically). */
static int recover(h5tx_store *s, h5tx_error *err) {
  h5tx_rev head;
  int rc = h5tx__recover_index(s->kv, s->log, keep_line, s, &head, err);
  if (rc == 0 && open_lock(s->core->open_fd, F_RDLCK, 1) != 0)
    rc = h5tx__err(err, h5tx__errno_code(errno), STORE_FMT ": locking its live table: %s", s->path,
                   strerror(errno));
  return rc;
}

int h5tx_store_open(const char *path, const h5tx_store_opts *opts, h5tx_store **out,
                    h5tx_error *err) {
  h5tx_store_opts def;
  if (!opts) {
    h5tx_store_opts_init(&def);
    opts = &def;
  }
  if (!path || !*path) return h5tx__err(err, H5TX_EINVAL, "empty store path");
  int rc = check_opts(path, opts, err);
  if (rc) return rc;
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT)
      return h5tx__err(err, h5tx__errno_code(errno), "store %s: %s", path, strerror(errno));
    if (!opts->create) return h5tx__err(err, H5TX_ENOENT, "store %s does not exist", path);
    if (opts->read_only)
      return h5tx__err(err, H5TX_EINVAL, "store %s does not exist and cannot be created read-only",
                       path);
    if ((rc = create_store(path, opts, err))) return rc;
  } else if (!S_ISDIR(st.st_mode)) {
    return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (not a directory)", path);
  } else if (!dev_has_core(st.st_dev) && (rc = check_local_fs(path, path, err))) {
    return rc;
  }
  h5tx__marker m;
  if ((rc = h5tx__marker_read(path, H5TX_FORMAT_VERSION, &m, err)) ||
      (rc = h5tx__marker_need2(path, &m, err)))
    return rc;

  h5tx_store *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  }
  memcpy(s->id, m.id, 16);
  if (stat(path, &st) != 0) {
    rc = h5tx__err(err, h5tx__errno_code(errno), "store %s: %s", path, strerror(errno));
    goto fail;
  }
  if ((rc = core_get(s, &m, &st, err))) goto fail;
  const h5tx__defaults *d = &s->core->d;
  /* cannot write the index nor the live table in a read-only directory */
  s->read_only = opts->read_only || !s->core->writable;
  s->page_size = opts->page_size ? opts->page_size : d->page_size;
  s->codec = opts->codec >= 0 ? opts->codec : d->codec;
  s->level = opts->level ? opts->level : d->level;
  s->durability = opts->durability >= 0 ? opts->durability : d->durability;
  s->dirty_limit = opts->dirty_limit ? opts->dirty_limit : H5TX__WRITER_CACHE;
  *out = s;
  return 0;
fail:
  h5tx_store_close(s);
  return rc;
}

void h5tx_store_close(h5tx_store *s) {
  if (!s) return;
  core_put(s->core);
  free(s->recovered);
  free(s->path);
  free(s);
}

const char *h5tx_store_path(const h5tx_store *s) { return s->path; }

const char *h5tx_store_recovered(const h5tx_store *s) { return s->recovered; }

int h5tx_store_head(h5tx_store *s, h5tx_rev *out, h5tx_error *err) {
  h5tx__txn *t;
  int rc = h5tx__kv_read(s->kv, &t, err);
  if (rc) return rc;
  rc = h5tx__meta2_get(t, "head", out, err);
  if (rc == H5TX_ENOENT) rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: no head record", s->path);
  h5tx__kv_done(t);
  return rc;
}

static int rev_check(h5tx_store *s, h5tx__txn *t, h5tx_rev rev, h5tx_rev *head, uint32_t gone,
                     h5tx_error *err) {
  int rc = h5tx__meta2_get(t, "head", head, err);
  if (rc == H5TX_ENOENT) return h5tx__err(err, H5TX_ECORRUPT, "store %s: no head record", s->path);
  if (rc) return rc;
  if (rev == H5TX_HEAD || rev == 0) return 0;
  if (rev > *head)
    return h5tx__err(err, H5TX_ENOENT, "store %s: no revision %llu (head is %llu)", s->path,
                     (unsigned long long)rev, (unsigned long long)*head);
  uint8_t k[8];
  h5tx__be64(k, rev);
  h5tx__val v;
  rc = h5tx__idx_get(t, IDX_COMMITS, k, 8, &v, err);
  if (rc == H5TX_ENOENT)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: revision %llu has no commit record", s->path,
                     (unsigned long long)rev);
  if (rc) return rc;
  if (v.n < 8)
    return h5tx__err(err, H5TX_ECORRUPT, "store %s: commit record %llu malformed", s->path,
                     (unsigned long long)rev);
  uint32_t flags = h5tx__get_le32((const uint8_t *)v.p + H5TX_COMMIT_FLAGS_OFF);
  if (flags & gone)
    return h5tx__err(err, H5TX_EGONE, "store %s: revision %llu was garbage-collected", s->path,
                     (unsigned long long)rev);
  return 0;
}

int h5tx__rev_check(h5tx_store *s, h5tx__txn *t, h5tx_rev rev, h5tx_rev *head, h5tx_error *err) {
  return rev_check(s, t, rev, head, H5TX_COMMIT_COLLECTED | H5TX_COMMIT_COLLECTING, err);
}

int h5tx__rev_check_pinned(h5tx_store *s, h5tx__txn *t, h5tx_rev rev, h5tx_rev *head,
                           h5tx_error *err) {
  return rev_check(s, t, rev, head, H5TX_COMMIT_COLLECTED, err);
}

/* ---- entries of the directory that are not the store's -------------------- */

static int own_entry(const char *name) {
  return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, MARKER) == 0 ||
         strcmp(name, H5TX__PINS_FILE) == 0 || strcmp(name, "index") == 0 ||
         strcmp(name, "log") == 0 || strncmp(name, "index.damaged-", 14) == 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int h5tx_store_foreign(h5tx_store *s, h5tx_foreign_fn fn, void *arg, h5tx_error *err) {
  DIR *d = opendir(s->path);
  if (!d)
    return h5tx__err(err, h5tx__errno_code(errno), STORE_FMT ": listing its directory: %s", s->path,
                     strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  errno = 0;
  while (rc == 0 && (de = readdir(d))) {
    if (own_entry(de->d_name)) continue;
    int isdir = de->d_type == DT_DIR;
    if (de->d_type == DT_UNKNOWN) {
      struct stat st;
      isdir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    char *name = malloc(strlen(de->d_name) + 2);
    char **v = n == cap ? realloc(names, (cap = cap ? 2 * cap : 8) * sizeof *v) : names;
    if (!name || !v) {
      free(name);
      rc = h5tx__err(err, H5TX_ENOMEM, STORE_FMT ": listing its directory: out of memory", s->path);
      break;
    }
    names = v;
    sprintf(name, "%s%s", de->d_name, isdir ? "/" : "");
    names[n++] = name;
    errno = 0;
  }
  if (rc == 0 && errno)
    rc = h5tx__err(err, h5tx__errno_code(errno), STORE_FMT ": listing its directory: %s", s->path,
                   strerror(errno));
  closedir(d);
  if (rc == 0 && n) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0) rc = fn(arg, names[i]);
    free(names[i]);
  }
  free(names);
  return rc;
}
