/* kv_lmdb.c - the storage interface (kv.h) on LMDB.
 *
 * One MDB_env per store per process (LMDB forbids opening an environment
 * twice in one process), shared by reference count. Read transactions are
 * short and recycled (MDB_NOTLS + reset/renew). The map grows on demand:
 * a write that hits MDB_MAP_FULL is aborted, the map doubled with every
 * transaction of this process paused, and the write replayed. */
#include "kv.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define POOL_MAX 16
#define DEFAULT_MAP (256ull << 20)
#define MAX_GROW_STEP (4ull << 30)
/* LMDB's lock file: a header of two 64-byte cache lines, then 64-byte
 * reader slots (MDB_txninfo, MDB_reader). */
#define LOCK_HEADER 192
#define LOCK_SLOT 64

#define MAX_TABLES 16

static const char *const format1_tables[KV_NTABLES] = {"meta",    "names",   "files", "pages",
                                                       "lengths", "commits", "tags",  "leases"};

struct h5tx__kv {
  MDB_env *env;
  MDB_dbi dbi[MAX_TABLES];
  const char *const *tables; /* the table set opened (by format) */
  int ntables;
  dev_t dev;
  ino_t ino;
  ino_t data_ino; /* data.mdb's: a directory inode reused by another store
                     is not taken for this one */
  pid_t pid;
  int refs;
  int read_only;
  uint64_t map_size; /* as asked at open */
  unsigned gen;      /* bumped by each reopen after an LMDB panic */
  char *path;
  /* Held shared by every live transaction, exclusively to resize. */
  pthread_rwlock_t resize;
  pthread_mutex_t pool_lock;
  MDB_txn *pool[POOL_MAX];
  int npool;
  struct h5tx__kv *next;
};

struct h5tx__txn {
  h5tx__kv *kv;
  MDB_txn *txn;
  int write;
};

struct h5tx__cur {
  h5tx__txn *t;
  MDB_cursor *c;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static h5tx__kv *registry;

static int lmdb_code(int rc) {
  switch (rc) {
  case MDB_MAP_FULL: return H5TX__ERETRY;
  case MDB_NOTFOUND: return H5TX_ENOENT;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
  case MDB_VERSION_MISMATCH: return H5TX_ECORRUPT;
  case MDB_READERS_FULL: return H5TX_EBUSY;
  case MDB_PANIC: return H5TX_EIO;
  case MDB_BAD_VALSIZE: return H5TX_EINVAL;
  default: return rc > 0 ? h5tx__errno_code(rc) : H5TX_EIO;
  }
}

static int fail(h5tx_error *err, h5tx__kv *kv, int rc, const char *what) {
  int code = lmdb_code(rc);
  if (code == H5TX__ERETRY) return code;
  return h5tx__err(err, code, "store %s: %s: %s", kv ? kv->path : "?", what, mdb_strerror(rc));
}

/* Less than 4 MiB (or 0.1 %) left for unprivileged writers. */
static int disk_nearly_full(const char *dir) {
  struct statvfs v;
  if (statvfs(dir, &v) != 0) return 0;
  uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize;
  uint64_t total = (uint64_t)v.f_blocks * v.f_frsize;
  return avail < (4u << 20) || avail < total / 1000;
}

static int check_fork(h5tx__kv *kv, h5tx_error *err) {
  if (kv->pid != getpid())
    return h5tx__err(err, H5TX_EFORK,
                     "store %s: handle opened in process %d used in child %d "
                     "after fork(); open the store again in the child",
                     kv->path, (int)kv->pid, (int)getpid());
  return 0;
}

/* Before LMDB sees the store: a user who may read the store but not write
 * lock.mdb (LMDB's reader table, written by every reader) gets a message
 * naming the file and the permission, not "Permission denied". */
static int check_lock_access(h5tx__kv *kv, h5tx_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lock.mdb", kv->path);
  if (access(path, R_OK | W_OK) == 0 || errno != EACCES) return 0;
  return h5tx__err(err, H5TX_EROFS,
                   "store %s: reading it needs write permission on %s (LMDB's reader table, where "
                   "every reader registers the revision it reads), which this user (uid %d) "
                   "lacks; the store's owner can share it with a group (chmod g+w on the "
                   "store's files, or a umask of 002 when it is created)",
                   kv->path, path, (int)geteuid());
}

int h5tx__kv_owns(const char *name) {
  return strcmp(name, "data.mdb") == 0 || strcmp(name, "lock.mdb") == 0;
}

/* LMDB's lock file holds its reader table in a shared mapping: allocate its
 * blocks before LMDB maps it, so that taking a reader slot on a full disk
 * cannot raise SIGBUS. Done before this process opens the environment (a
 * close() of a file LMDB has open would drop its locks). Its mode is 0666
 * less the umask, like every file of the store. */
static int reserve_lock_file(h5tx__kv *kv, h5tx_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lock.mdb", kv->path);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == EROFS || errno == EACCES) return 0; /* read-only: LMDB says more */
    return h5tx__err(err, h5tx__errno_code(errno), "store %s: lock file: %s", kv->path,
                     strerror(errno));
  }
  /* Never change the size of an existing lock file: later openers derive
   * their reader slots from it, and a slot outside an earlier opener's map
   * would be read out of bounds. A new one gets the size LMDB gives 1022
   * readers: (1022 - 1) * 64-byte slots + 192 bytes of header = 64 KiB. */
  struct stat st;
  int e = fstat(fd, &st) != 0 ? errno : posix_fallocate(fd, 0, st.st_size > 0 ? st.st_size : 65536);
  /* A lock file shorter than LMDB's header while another process has the
   * store open (it holds a read lock on byte 0; LMDB rebuilds the file only
   * for the first opener) would be mapped short and read past its end. */
  if (!e && st.st_size > 0 && st.st_size < LOCK_HEADER + LOCK_SLOT) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
      close(fd);
      return h5tx__err(err, H5TX_ECORRUPT,
                       "store %s: %s is truncated (%lld bytes, shorter than LMDB's reader table "
                       "header) while process %d has the store open; once every process has "
                       "closed the store, the next open rebuilds it",
                       kv->path, path, (long long)st.st_size, (int)fl.l_pid);
    }
  }
  close(fd);
  if (e)
    return h5tx__err(err, h5tx__errno_code(e), "store %s: reserving the lock file: %s", kv->path,
                     strerror(e));
  return 0;
}

/* LMDB's data file format (lmdb 0.9, data version 1), in the host's byte
 * order: page 0 and page 1 are the meta pages; a meta starts after the
 * 16-byte page header with its magic and version, and the page size sits
 * in the free-list DB record's md_pad. */
#define MDB_META_MAGIC 0xBEEFC0DEu
#define MDB_DATA_VERSION 1u
#define META_MAGIC_OFF 16
#define META_VERSION_OFF 20
#define META_PSIZE_OFF 40

static uint32_t native32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* data.mdb must be there, a regular file, and hold both meta pages, each
 * with LMDB's magic and version, before LMDB opens it: LMDB would make a
 * missing or empty one a new, empty environment (a read-only command must
 * create nothing), map a short one past its end, and report a bad meta
 * page as a bad environment without saying which file. */
static int check_data_file(h5tx__kv *kv, h5tx_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", kv->path);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      return h5tx__err(err, H5TX_ECORRUPT, "store %s: its index %s is missing", kv->path, path);
    if (e == EACCES)
      return h5tx__err(err, H5TX_EROFS,
                       "store %s: reading it needs read permission on %s, which this user "
                       "(uid %d) lacks",
                       kv->path, path, (int)geteuid());
    return h5tx__err(err, h5tx__errno_code(e), "store %s: %s: %s", kv->path, path, strerror(e));
  }
  struct stat st;
  uint8_t hdr[64];
  int rc = 0;
  if (fstat(fd, &st) != 0) {
    rc = h5tx__err(err, h5tx__errno_code(errno), "store %s: %s: %s", kv->path, path,
                   strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: its index %s is not a regular file (%s)",
                   kv->path, path, h5tx__file_kind(st.st_mode));
  } else if (st.st_size < (off_t)sizeof hdr || pread(fd, hdr, sizeof hdr, 0) != sizeof hdr) {
    rc = h5tx__err(err, H5TX_ECORRUPT,
                   "store %s: its index %s is truncated (%lld bytes, not even a meta page)",
                   kv->path, path, (long long)st.st_size);
  } else if (native32(hdr + META_MAGIC_OFF) != MDB_META_MAGIC) {
    rc = h5tx__err(err, H5TX_EFORMAT, "store %s: %s is not an LMDB 0.9 data file (bad magic)",
                   kv->path, path);
  } else {
    uint32_t ps = native32(hdr + META_PSIZE_OFF);
    if (ps < 512 || ps > (1u << 20) || (ps & (ps - 1)))
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: %s: meta page 0 names page size %u", kv->path,
                     path, ps);
    else if (st.st_size < 2 * (off_t)ps)
      rc = h5tx__err(err, H5TX_ECORRUPT,
                     "store %s: its index %s is truncated (%lld bytes, shorter than its two "
                     "%u-byte meta pages)",
                     kv->path, path, (long long)st.st_size, ps);
    for (int m = 0; m < 2 && !rc; m++) {
      if (m == 1 && pread(fd, hdr, sizeof hdr, ps) != sizeof hdr)
        rc = h5tx__err(err, H5TX_EIO, "store %s: reading %s: %s", kv->path, path, strerror(errno));
      else if (native32(hdr + META_MAGIC_OFF) != MDB_META_MAGIC ||
               native32(hdr + META_VERSION_OFF) != MDB_DATA_VERSION)
        rc = h5tx__err(err, H5TX_ECORRUPT,
                       "store %s: meta page %d of its index %s is damaged (magic 0x%08x, "
                       "version %u; want 0x%08x, %u)",
                       kv->path, m, path, native32(hdr + META_MAGIC_OFF),
                       native32(hdr + META_VERSION_OFF), MDB_META_MAGIC, MDB_DATA_VERSION);
    }
  }
  close(fd);
  return rc;
}

/* After LMDB opened data.mdb: the file must hold every page its newest meta
 * page says is in use, or reading them through the map is SIGBUS. */
/* LMDB counts pages a transaction took from the end and freed again in it,
 * which it never writes: after such a commit data.mdb ends before the page
 * its meta page names last (found by core_powerloss), and check_data_size
 * would take the file for truncated at the next open. So after a commit
 * that left it so, the file is extended with zeros over those free pages
 * (fallocate never shrinks it, whatever another process appends) and
 * flushed: a flushed meta page then never names pages past the end. */
/* The size of data.mdb and the bytes its newest meta page counts in use;
 * -1 when they cannot be read. */
static int data_sizes(h5tx__kv *kv, int *fd, uint64_t *size, uint64_t *need) {
  MDB_envinfo info;
  MDB_stat st;
  struct stat fs;
  if (mdb_env_info(kv->env, &info) || mdb_env_stat(kv->env, &st) || mdb_env_get_fd(kv->env, fd) ||
      fstat(*fd, &fs) != 0)
    return -1;
  *size = (uint64_t)fs.st_size;
  *need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
  return 0;
}

static void cover_last_page(h5tx__kv *kv) {
  int fd;
  uint64_t size, need;
  if (data_sizes(kv, &fd, &size, &need) == 0 && size < need &&
      fallocate(fd, 0, 0, (off_t)need) == 0)
    (void)fdatasync(fd);
}

static int check_data_size(h5tx__kv *kv, h5tx_error *err) {
  int fd;
  uint64_t size, need;
  if (data_sizes(kv, &fd, &size, &need)) return 0; /* nothing to compare: LMDB reports on use */
  if (size >= need) return 0;
  return h5tx__err(err, H5TX_ECORRUPT,
                   "store %s: its index %s/data.mdb is truncated: %llu bytes, but its newest "
                   "meta page uses %llu bytes",
                   kv->path, kv->path, (unsigned long long)size, (unsigned long long)need);
}

/* Free the reader slots of processes that died with the store open: LMDB
 * keeps them (and the revision each pinned, so no page after it is reused)
 * until every process has closed the environment. */
static void clear_stale_readers(h5tx__kv *kv) {
  int dead = 0;
  if (kv->env) mdb_reader_check(kv->env, &dead);
}

static int open_env(h5tx__kv *kv, int create, uint64_t map_size, h5tx_error *err) {
  int rc = create ? 0 : check_data_file(kv, err);
  if (!rc) rc = check_lock_access(kv, err);
  if (!rc && !kv->read_only) rc = reserve_lock_file(kv, err);
  if (rc) return rc;
  rc = mdb_env_create(&kv->env);
  if (rc) return fail(err, kv, rc, "creating LMDB environment");
  mdb_env_set_maxdbs(kv->env, MAX_TABLES);
  mdb_env_set_maxreaders(kv->env, 1022);
  /* mdb_env_open keeps the larger of this and the size stored in the file. */
  mdb_env_set_mapsize(kv->env, map_size ? map_size : DEFAULT_MAP);
  /* Read-ahead stays on: a page record is a run of contiguous overflow
   * pages, and MDB_NORDAHEAD (MADV_RANDOM) made every cold fault a single
   * 4 KiB disk read (cold reads at 0.06x a plain file: BENCHMARKS.md). */
  unsigned flags = MDB_NOTLS | MDB_NOMETASYNC;
  if (kv->read_only) flags |= MDB_RDONLY;
  /* Files: 0666 less the umask (a setgid directory gives them its group). */
  rc = mdb_env_open(kv->env, kv->path, flags, 0666);
  if (rc) {
    mdb_env_close(kv->env);
    kv->env = NULL;
    /* data.mdb passed check_data_file: an invalid environment is the lock
     * file's doing. */
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
      return h5tx__err(err, H5TX_EFORMAT,
                       "store %s: %s is not an LMDB 0.9 environment's lock file (%s); once no "
                       "process has the store open, removing lock.mdb lets the next open "
                       "rebuild it",
                       kv->path, create ? "data.mdb or lock.mdb" : "lock.mdb", mdb_strerror(rc));
    return fail(err, kv, rc, "opening LMDB environment");
  }
  if (!create && (rc = check_data_size(kv, err))) {
    mdb_env_close(kv->env);
    kv->env = NULL;
    return rc;
  }
  clear_stale_readers(kv);
  MDB_txn *txn;
  rc = mdb_txn_begin(kv->env, NULL, create ? 0 : MDB_RDONLY, &txn);
  if (rc) goto bad;
  for (int i = 0; i < kv->ntables; i++) {
    rc = mdb_dbi_open(txn, kv->tables[i], create ? MDB_CREATE : 0, &kv->dbi[i]);
    if (rc) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND) {
        mdb_env_close(kv->env);
        kv->env = NULL;
        return h5tx__err(err, H5TX_EFORMAT, "store %s: LMDB environment has no '%s' table",
                         kv->path, kv->tables[i]);
      }
      goto bad;
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc) goto bad;
  if (create) {
    rc = mdb_env_sync(kv->env, 1);
    if (rc) goto bad;
  }
  return 0;
bad:;
  int r = fail(err, kv, rc, "opening tables");
  if (r == H5TX__ERETRY) r = h5tx__err(err, H5TX_ENOSPC, "store %s: map full on create", kv->path);
  mdb_env_close(kv->env);
  kv->env = NULL;
  return r;
}

int h5tx__kv_open(const char *dir, int create, int read_only, uint64_t map_size, h5tx__kv **out,
                  h5tx_error *err) {
  return h5tx__kv_open_tables(dir, format1_tables, KV_NTABLES, create, read_only, map_size, out,
                              err);
}

int h5tx__kv_open_tables(const char *dir, const char *const *tables, int ntables, int create,
                         int read_only, uint64_t map_size, h5tx__kv **out, h5tx_error *err) {
  if (ntables < 1 || ntables > MAX_TABLES)
    return h5tx__err(err, H5TX_EINVAL, "store %s: %d tables asked, at most %d", dir, ntables,
                     MAX_TABLES);
  struct stat st;
  if (stat(dir, &st) != 0)
    return h5tx__err(err, h5tx__errno_code(errno), "store %s: %s", dir, strerror(errno));
  char data[PATH_MAX];
  struct stat dst;
  snprintf(data, sizeof data, "%s/data.mdb", dir);
  ino_t data_ino = stat(data, &dst) == 0 ? dst.st_ino : 0;
  pthread_mutex_lock(&registry_lock);
  pid_t me = getpid();
  for (h5tx__kv *k = registry; k; k = k->next) {
    if (k->pid != me || k->dev != st.st_dev || k->ino != st.st_ino || k->tables != tables ||
        k->data_ino != data_ino)
      continue;
    if (k->read_only && !read_only) {
      pthread_mutex_unlock(&registry_lock);
      return h5tx__err(err, H5TX_EROFS,
                       "store %s: already open read-only in this process (its "
                       "directory is not writable)",
                       dir);
    }
    k->refs++;
    pthread_mutex_unlock(&registry_lock);
    *out = k;
    return 0;
  }
  h5tx__kv *kv = calloc(1, sizeof *kv);
  if (!kv || !(kv->path = strdup(dir))) {
    free(kv);
    pthread_mutex_unlock(&registry_lock);
    return h5tx__err(err, H5TX_ENOMEM, "store %s: out of memory", dir);
  }
  kv->dev = st.st_dev;
  kv->ino = st.st_ino;
  kv->tables = tables;
  kv->ntables = ntables;
  kv->pid = me;
  kv->refs = 1;
  kv->read_only = read_only;
  kv->map_size = map_size;
  pthread_rwlock_init(&kv->resize, NULL);
  pthread_mutex_init(&kv->pool_lock, NULL);
  int rc = open_env(kv, create, map_size, err);
  if (rc) {
    pthread_mutex_unlock(&registry_lock);
    free(kv->path);
    free(kv);
    return rc;
  }
  kv->data_ino = stat(data, &dst) == 0 ? dst.st_ino : 0;
  kv->next = registry;
  registry = kv;
  pthread_mutex_unlock(&registry_lock);
  *out = kv;
  return 0;
}

void h5tx__kv_close(h5tx__kv *kv) {
  if (!kv) return;
  pthread_mutex_lock(&registry_lock);
  if (--kv->refs > 0) {
    pthread_mutex_unlock(&registry_lock);
    return;
  }
  for (h5tx__kv **p = &registry; *p; p = &(*p)->next)
    if (*p == kv) {
      *p = kv->next;
      break;
    }
  pthread_mutex_unlock(&registry_lock);
  if (kv->pid == getpid()) {
    for (int i = 0; i < kv->npool; i++)
      mdb_txn_abort(kv->pool[i]);
    mdb_env_close(kv->env);
  }
  /* In a child after fork the environment is the parent's: leave it. */
  pthread_rwlock_destroy(&kv->resize);
  pthread_mutex_destroy(&kv->pool_lock);
  free(kv->path);
  free(kv);
}

/* Info and page size of the environment, read with no reopen under way;
 * 0, or -1 when the environment is closed (after a failed reopen). */
static int env_info(h5tx__kv *kv, MDB_envinfo *info, MDB_stat *st) {
  pthread_rwlock_rdlock(&kv->resize);
  int rc = kv->env ? 0 : -1;
  if (!rc) {
    mdb_env_info(kv->env, info);
    mdb_env_stat(kv->env, st);
  }
  pthread_rwlock_unlock(&kv->resize);
  return rc;
}

/* Set the map size to `size` (0: adopt the size another process set),
 * with every transaction of this process paused. */
static int set_map(h5tx__kv *kv, size_t size, h5tx_error *err) {
  pthread_rwlock_wrlock(&kv->resize);
  int rc = kv->env ? mdb_env_set_mapsize(kv->env, size) : 0;
  pthread_rwlock_unlock(&kv->resize);
  if (rc) return fail(err, kv, rc, "growing the LMDB map");
  return 0;
}

/* The size to grow a map of `cur` bytes to, with `need` bytes in use. */
static size_t grown(size_t cur, uint64_t need) {
  size_t size = cur;
  while (size < need)
    size += size < MAX_GROW_STEP ? size : MAX_GROW_STEP;
  return size;
}

static int resize(h5tx__kv *kv, int grow, h5tx_error *err) {
  MDB_envinfo info;
  MDB_stat st;
  if (env_info(kv, &info, &st)) return 0; /* the next try reopens */
  return set_map(kv, grow ? grown(info.me_mapsize, info.me_mapsize + 1) : 0, err);
}

int h5tx__kv_prepare(h5tx__kv *kv, uint64_t bytes, h5tx_error *err) {
  MDB_envinfo info;
  MDB_stat st;
  if (env_info(kv, &info, &st)) return 0; /* the write reopens or says why */
  /* Copy-on-write touches branch pages too and the free list may not fit
   * the new pages: ask for a quarter more than the data. */
  uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize + bytes + bytes / 4;
  if (need <= info.me_mapsize) return 0;
  return set_map(kv, grown(info.me_mapsize, need), err);
}

/* LMDB refuses every transaction of an environment that failed to write a
 * meta page (MDB_PANIC) until it is closed and opened again: do that, with
 * every transaction of this process finished (the resize lock held
 * exclusively), unless another thread did it since it saw generation
 * `gen`. A failed reopen leaves kv->env NULL, and the next call tries
 * again; each says why. */
static int reopen(h5tx__kv *kv, unsigned gen, h5tx_error *err) {
  int rc = 0;
  pthread_rwlock_wrlock(&kv->resize);
  if (kv->gen == gen) {
    pthread_mutex_lock(&kv->pool_lock);
    for (int i = 0; i < kv->npool; i++)
      mdb_txn_abort(kv->pool[i]);
    kv->npool = 0;
    pthread_mutex_unlock(&kv->pool_lock);
    uint64_t map = kv->map_size;
    if (kv->env) {
      MDB_envinfo info;
      if (mdb_env_info(kv->env, &info) == 0) map = info.me_mapsize;
      mdb_env_close(kv->env);
      kv->env = NULL;
    }
    kv->gen++;
    h5tx_error why = {0, ""};
    rc = open_env(kv, 0, map, &why);
    if (rc)
      rc = h5tx__err(err, rc,
                     "store %s: the index engine stopped after a failed write to disk (LMDB "
                     "panic) and reopening it failed: %s",
                     kv->path, why.msg);
  }
  pthread_rwlock_unlock(&kv->resize);
  return rc;
}

int h5tx__kv_read(h5tx__kv *kv, h5tx__txn **out, h5tx_error *err) {
  int rc = check_fork(kv, err);
  if (rc) return rc;
  h5tx__txn *t = malloc(sizeof *t);
  if (!t) return h5tx__err(err, H5TX_ENOMEM, "store %s: out of memory", kv->path);
  t->kv = kv;
  t->write = 0;
  int reopened = 0, checked = 0;
  for (;;) {
    pthread_rwlock_rdlock(&kv->resize);
    unsigned gen = kv->gen;
    MDB_txn *txn = NULL;
    if (!kv->env) {
      rc = MDB_PANIC;
    } else {
      pthread_mutex_lock(&kv->pool_lock);
      if (kv->npool) txn = kv->pool[--kv->npool];
      pthread_mutex_unlock(&kv->pool_lock);
      rc = txn ? mdb_txn_renew(txn) : mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    }
    if (rc == 0) {
      t->txn = txn;
      *out = t;
      return 0;
    }
    if (txn && rc) mdb_txn_abort(txn);
    if (rc == MDB_READERS_FULL && !checked++) {
      clear_stale_readers(kv); /* slots of killed processes */
      pthread_rwlock_unlock(&kv->resize);
      continue;
    }
    pthread_rwlock_unlock(&kv->resize);
    if (rc == MDB_PANIC && !reopened++) {
      if ((rc = reopen(kv, gen, err))) break;
      continue;
    }
    if (rc != MDB_MAP_RESIZED) {
      free(t);
      return fail(err, kv, rc, "beginning a read transaction"); /* an LMDB code */
    }
    if ((rc = resize(kv, 0, err))) break;
  }
  free(t);
  return rc; /* an h5tx code, with its message */
}

void h5tx__kv_done(h5tx__txn *t) {
  if (!t) return;
  h5tx__kv *kv = t->kv;
  mdb_txn_reset(t->txn);
  pthread_mutex_lock(&kv->pool_lock);
  if (kv->npool < POOL_MAX) {
    kv->pool[kv->npool++] = t->txn;
    t->txn = NULL;
  }
  pthread_mutex_unlock(&kv->pool_lock);
  if (t->txn) mdb_txn_abort(t->txn);
  pthread_rwlock_unlock(&kv->resize);
  free(t);
}

int h5tx__kv_write(h5tx__kv *kv, h5tx__kv_fn fn, void *arg, int sync, h5tx_error *err) {
  int rc = check_fork(kv, err);
  if (rc) return rc;
  if (kv->read_only) return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only", kv->path);
  int reopened = 0;
  for (int attempt = 0;; attempt++) {
    pthread_rwlock_rdlock(&kv->resize);
    unsigned gen = kv->gen;
    h5tx__txn t = {kv, NULL, 1};
    /* Readers killed since the last write would keep every page freed
     * after their revision from being reused. */
    clear_stale_readers(kv);
    rc = kv->env ? mdb_txn_begin(kv->env, NULL, 0, &t.txn) : MDB_PANIC;
    if (rc) {
      pthread_rwlock_unlock(&kv->resize);
      if (rc == MDB_MAP_RESIZED) {
        if ((rc = resize(kv, 0, err))) return rc;
        continue;
      }
      if (rc == MDB_PANIC && !reopened++) {
        if ((rc = reopen(kv, gen, err))) return rc;
        continue;
      }
      return fail(err, kv, rc, "beginning a write transaction");
    }
    rc = fn(&t, arg, err);
    if (rc == 0) {
      int mrc = mdb_txn_commit(t.txn);
      if (mrc == 0) cover_last_page(kv);
      if (mrc == 0 && sync) {
        /* The transaction has landed: every reader sees it. A failed flush
         * now cannot take it back, so it is reported as landed. */
        mrc = mdb_env_sync(kv->env, 1);
        pthread_rwlock_unlock(&kv->resize);
        if (mrc)
          return h5tx__err(err, H5TX_ESYNC,
                           "store %s: the commit landed (it is head, visible to every reader) but "
                           "flushing it to disk failed: %s; it may not survive a power cut until "
                           "a later commit's flush succeeds",
                           kv->path, mdb_strerror(mrc));
        return 0;
      }
      pthread_rwlock_unlock(&kv->resize);
      if (mrc == 0) return 0;
      rc = lmdb_code(mrc);
      /* LMDB reports a short write as EIO: on a full disk it is ENOSPC. */
      if (rc == H5TX_EIO && disk_nearly_full(kv->path)) rc = H5TX_ENOSPC;
      if (rc != H5TX__ERETRY) {
        if (rc == H5TX_ENOSPC)
          return h5tx__err(
              err, rc, "store %s: disk full: nothing of this transaction was committed", kv->path);
        if (rc == H5TX_EIO) /* LMDB restores the previous meta page */
          return h5tx__err(err, H5TX_EIO,
                           "store %s: committing failed writing to disk (%s): nothing of this "
                           "transaction was committed",
                           kv->path, mdb_strerror(mrc));
        return fail(err, kv, mrc, "committing");
      }
    } else {
      mdb_txn_abort(t.txn);
      pthread_rwlock_unlock(&kv->resize);
      if (rc != H5TX__ERETRY) return rc;
    }
    /* Map full: grow and replay. */
    if (attempt > 40)
      return h5tx__err(err, H5TX_ENOSPC, "store %s: LMDB map cannot grow any further", kv->path);
    if ((rc = resize(kv, 1, err))) return rc;
  }
}

int h5tx__kv_get(h5tx__txn *t, int table, const void *key, size_t klen, h5tx__val *val,
                 h5tx_error *err) {
  MDB_val k = {klen, (void *)key}, v;
  int rc = mdb_get(t->txn, t->kv->dbi[table], &k, &v);
  if (rc == MDB_NOTFOUND) return H5TX_ENOENT;
  if (rc) return fail(err, t->kv, rc, "reading");
  val->p = v.mv_data;
  val->n = v.mv_size;
  return 0;
}

int h5tx__kv_put(h5tx__txn *t, int table, const void *key, size_t klen, const void *val,
                 size_t vlen, h5tx_error *err) {
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  int rc = mdb_put(t->txn, t->kv->dbi[table], &k, &v, 0);
  if (rc) return fail(err, t->kv, rc, "writing");
  return 0;
}

int h5tx__kv_reserve(h5tx__txn *t, int table, const void *key, size_t klen, size_t vlen,
                     void **where, h5tx_error *err) {
  MDB_val k = {klen, (void *)key}, v = {vlen, NULL};
  int rc = mdb_put(t->txn, t->kv->dbi[table], &k, &v, MDB_RESERVE);
  if (rc) return fail(err, t->kv, rc, "writing");
  *where = v.mv_data;
  return 0;
}

int h5tx__kv_del(h5tx__txn *t, int table, const void *key, size_t klen, h5tx_error *err) {
  MDB_val k = {klen, (void *)key};
  int rc = mdb_del(t->txn, t->kv->dbi[table], &k, NULL);
  if (rc == MDB_NOTFOUND) return H5TX_ENOENT;
  if (rc) return fail(err, t->kv, rc, "deleting");
  return 0;
}

int h5tx__kv_cursor(h5tx__txn *t, int table, h5tx__cur **out, h5tx_error *err) {
  h5tx__cur *c = malloc(sizeof *c);
  if (!c) return h5tx__err(err, H5TX_ENOMEM, "store %s: out of memory", t->kv->path);
  c->t = t;
  int rc = mdb_cursor_open(t->txn, t->kv->dbi[table], &c->c);
  if (rc) {
    free(c);
    return fail(err, t->kv, rc, "opening a cursor");
  }
  *out = c;
  return 0;
}

void h5tx__kv_cursor_close(h5tx__cur *c) {
  if (!c) return;
  mdb_cursor_close(c->c);
  free(c);
}

static int cursor_get(h5tx__cur *c, MDB_val *k, MDB_cursor_op op, h5tx__val *ko, h5tx__val *vo,
                      h5tx_error *err) {
  MDB_val v;
  int rc = mdb_cursor_get(c->c, k, &v, op);
  if (rc == MDB_NOTFOUND) return H5TX_ENOENT;
  if (rc) return fail(err, c->t->kv, rc, "reading");
  if (ko) {
    ko->p = k->mv_data;
    ko->n = k->mv_size;
  }
  if (vo) {
    vo->p = v.mv_data;
    vo->n = v.mv_size;
  }
  return 0;
}

int h5tx__kv_seek(h5tx__cur *c, const void *key, size_t klen, h5tx__val *k, h5tx__val *v,
                  h5tx_error *err) {
  MDB_val mk = {klen, (void *)key};
  return cursor_get(c, &mk, klen ? MDB_SET_RANGE : MDB_FIRST, k, v, err);
}

int h5tx__kv_next(h5tx__cur *c, h5tx__val *k, h5tx__val *v, h5tx_error *err) {
  MDB_val mk = {0, NULL};
  return cursor_get(c, &mk, MDB_NEXT, k, v, err);
}

int h5tx__kv_cursor_del(h5tx__cur *c, h5tx_error *err) {
  int rc = mdb_cursor_del(c->c, 0);
  if (rc) return fail(err, c->t->kv, rc, "deleting");
  return 0;
}

int h5tx__kv_count(h5tx__txn *t, int table, uint64_t *n, h5tx_error *err) {
  MDB_stat st;
  int rc = mdb_stat(t->txn, t->kv->dbi[table], &st);
  if (rc) return fail(err, t->kv, rc, "counting");
  *n = st.ms_entries;
  return 0;
}

int h5tx__kv_space(h5tx__kv *kv, uint64_t *used, uint64_t *file, h5tx_error *err) {
  int rc = check_fork(kv, err);
  if (rc) return rc;
  MDB_envinfo info;
  MDB_stat st;
  if (env_info(kv, &info, &st))
    return h5tx__err(err, H5TX_EIO, "store %s: the index engine is closed after a failed reopen",
                     kv->path);
  /* Pages in use = last page used + 1 minus pages on the free list. */
  uint64_t freepages = 0;
  h5tx__txn *t;
  if ((rc = h5tx__kv_read(kv, &t, err))) return rc;
  MDB_cursor *c;
  if (mdb_cursor_open(t->txn, 0, &c) == 0) {
    MDB_val k, v;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
      if (v.mv_size >= sizeof(size_t)) freepages += *(size_t *)v.mv_data;
    mdb_cursor_close(c);
  }
  h5tx__kv_done(t);
  *used = ((uint64_t)info.me_last_pgno + 1 - freepages) * st.ms_psize;
  char path[4096];
  snprintf(path, sizeof path, "%s/data.mdb", kv->path);
  struct stat fs;
  *file = stat(path, &fs) == 0 ? (uint64_t)fs.st_size : 0;
  return 0;
}

uint64_t h5tx__kv_map_size(h5tx__kv *kv) {
  MDB_envinfo info;
  MDB_stat st;
  return env_info(kv, &info, &st) ? 0 : info.me_mapsize;
}

int h5tx__kv_copy(h5tx__kv *kv, const char *dir, h5tx_error *err) {
  /* a consistent snapshot of the environment, free pages left out */
  int rc = mdb_env_copy2(kv->env, dir, MDB_CP_COMPACT);
  if (rc) return fail(err, kv, rc, "copying the index");
  char path[4200];
  if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
    return h5tx__err(err, H5TX_EINVAL, "store %s: copying the index: path too long", kv->path);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0 || fdatasync(fd) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: syncing the index copy %s: %s", kv->path,
                     path, strerror(e));
  }
  close(fd);
  return 0;
}
