/* H5FDh5tx.c - the h5tx virtual file driver: maps HDF5's driver callbacks
 * onto the page store (h5tx.h) and nothing else.
 *
 * One struct (H5FD_h5tx_t), one callback per operation, like H5FDsec2.c.
 * A file opened read-write holds a store writer (and with it the file's
 * lease); every flush (H5Fflush) and the close commit its changes as one
 * revision, after HDF5 has written a consistent state and set the length to
 * its EOA. A file opened read-only holds a snapshot, so it reads one
 * revision, unchanged, until it closes. A name outside any store is a plain
 * POSIX file, so HDF5_DRIVER=h5tx can be set for a whole shell.
 *
 * lock/unlock are those of sec2 for a plain file (flock) and do nothing
 * for a file in a store, where the store's lease and snapshots do their job.
 * Having them makes HDF5 behave as with sec2 (it marks a version 3
 * superblock "open for write" only for a driver with a lock method, and
 * flushes the superblock at open, which its page buffer counts on); in a
 * store the superblock is written unmarked (superblock.c), so a revision
 * committed while its writer is still open opens cleanly, with no h5clear,
 * and an open and close that change nothing make no revision.
 *
 * Compiles against HDF5 1.10 and 1.14 (and is written to 2.x's documented
 * changes); only 1.14's class fields and plugin entry points are guarded.
 * Built with H5TX_VFD_PLUGIN it is the plugin HDF5 loads by name: no
 * H5Pset_fapl_h5tx, and every HDF5 function and id taken at run time from
 * the libhdf5 that loaded it (hdf5_api.h). */
#include "H5FDh5tx.h"
#include "hdf5_api.h"
#include "superblock.h"

#include "h5tx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#if H5_VERSION_GE(1, 14, 0)
#include <H5FDdevelop.h>
#include <H5PLextern.h>
#elif H5_VERSION_GE(1, 11, 0)
#error "h5tx supports HDF5 1.10 and 1.14; 1.12 and 1.13 are not supported"
#endif

/* The flag type of the flush and truncate callbacks: hbool_t until 1.14
 * (where it is C's bool already), bool from 2.0, which drops hbool_t. */
#if H5_VERSION_GE(2, 0, 0)
#include <stdbool.h>
typedef bool h5tx_hbool;
#else
typedef hbool_t h5tx_hbool;
#endif

/* What H5Pset_fapl_h5tx stores in a fapl: fixed size, so HDF5 copies it
 * with memcpy. */
typedef struct H5FD_h5tx_fapl_t {
  char config[H5FD_H5TX_CONFIG_MAX];
} H5FD_h5tx_fapl_t;

typedef struct H5FD_h5tx_t {
  H5FD_t pub; /* public fields; must be first */
  haddr_t eoa;
  haddr_t eof;
  int fd;    /* a plain POSIX file; -1 for a file in a store */
  pid_t pid; /* the process that opened it */
  dev_t dev; /* the plain file, or the store's directory */
  ino_t ino;
  /* File in a store: */
  h5tx_store *store;
  struct shared *shared; /* opened read-write: the writer, shared in-process */
  h5tx_writer *writer;   /* == shared->writer */
  h5tx_snap *snap;       /* opened read-only */
  h5tx_stat st;          /* the file at the snapshot */
  char *store_path;
  char *name;
  h5tx_rev rev; /* read-only: the revision; read-write: H5TX_HEAD */
  int commit_on_flush;
  char *message;             /* the config's message=, or NULL */
  int rdonly;                /* opened read-only (possibly sharing a writer) */
  uint8_t sb[4096];          /* a write holding the superblock, unmarked */
  int wrote_other;           /* written through: more than the superblock */
  H5FD_h5tx_handle_t handle; /* what H5Fget_vfd_handle gives */
} H5FD_h5tx_t;

/* One writer per file and process, shared by every read-write open of it.
 * HDF5 opens a file through the driver before it asks cmp() whether the file
 * is open already; without sharing, the second open would be refused by the
 * lease its own process holds. */
typedef struct shared {
  dev_t dev; /* the store directory */
  ino_t ino;
  char *name;
  h5tx_store *store;
  h5tx_writer *writer;
  int refs;
  int failed; /* a write or truncate failed: HDF5's view and the writer's
                differ, so nothing more is committed and the last close aborts */
  struct shared *next;
} shared;

static shared *shared_list;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

#ifndef H5TX_VFD_PLUGIN
static hid_t H5FD_H5TX_g = H5I_INVALID_HID;
#endif

/* ---- errors ----------------------------------------------------------- */

/* Push an error on HDF5's stack: major H5E_VFL, minor `min`, at the
 * caller's function and line. */
static void push(hid_t min, const char *func, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void push(hid_t min, const char *func, unsigned line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  H5Epush2(H5E_DEFAULT, __FILE__, func, line, H5E_ERR_CLS, H5E_VFL, min, "h5tx: %s", msg);
}
#define FAIL(min, ...) push(min, __func__, __LINE__, __VA_ARGS__)

/* Calls that may fail, with HDF5's automatic error printing off (HDF5's
 * H5E_BEGIN_TRY also uses the deprecated v1 calls, which a library built
 * without deprecated symbols lacks). */
typedef struct quiet {
  H5E_auto2_t func;
  void *data;
} quiet;
static void quiet_begin(quiet *q) {
  q->func = NULL;
  q->data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_end(const quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

/* The program's name, for commit messages. */
static const char *program(void) {
  static char comm[64];
  if (!comm[0]) {
    FILE *f = fopen("/proc/self/comm", "re");
    if (!f || !fgets(comm, sizeof comm, f)) strcpy(comm, "hdf5");
    if (f) fclose(f);
    comm[strcspn(comm, "\n")] = 0;
  }
  return comm;
}

/* The message of a commit: the config's message=, else $H5TX_MESSAGE,
 * else "PROGRAM: why". */
static const char *commit_message(const char *configured, const char *why, char *buf, size_t cap) {
  const char *env = getenv("H5TX_MESSAGE");
  if (configured && *configured) return configured;
  if (env && *env) return env;
  snprintf(buf, cap, "%s: %s", program(), why);
  return buf;
}

/* ---- config and names ---------------------------------------------------- */

enum { COMMIT_FLUSH = 0, COMMIT_CLOSE = 1 };

/* The driver's config: core's keys (h5tx_config) and the keys only the
 * driver knows, which it parses itself (DESIGN.md, "Layers"). */
typedef struct drv_config {
  h5tx_config core;
  char store[H5TX_CONFIG_MAX]; /* store=DIR.h5tx: plain names are opened
                                  inside this store ("" for none) */
  int commit;                  /* commit=flush (default: on every flush and
                                  on close) | close (only on close) */
  int plain;                   /* plain=yes (default): a name outside any
                                  store is a plain POSIX file; no: an error */
} drv_config;

static const char *const drv_keys[] = {"store", "commit", "plain", NULL};

static int drv_key(void *arg, const char *key, const char *val, h5tx_error *err) {
  drv_config *c = arg;
  if (strcmp(key, "store") == 0) {
    size_t n = strlen(val);
    if (n == 0) return h5tx_config_bad(err, key, val, "empty store path");
    if (n >= sizeof c->store) return h5tx_config_bad(err, key, val, "path too long");
    if (n < 6 || strcmp(val + n - 5, ".h5tx") != 0)
      return h5tx_config_bad(err, key, val, "a store's name ends in .h5tx");
    memcpy(c->store, val, n + 1);
  } else if (strcmp(key, "commit") == 0) {
    if (strcmp(val, "flush") == 0)
      c->commit = COMMIT_FLUSH;
    else if (strcmp(val, "close") == 0)
      c->commit = COMMIT_CLOSE;
    else
      return h5tx_config_bad(err, key, val, "expected flush or close");
  } else if (strcmp(key, "plain") == 0) {
    if (strcmp(val, "yes") == 0)
      c->plain = 1;
    else if (strcmp(val, "no") == 0)
      c->plain = 0;
    else
      return h5tx_config_bad(err, key, val, "expected yes or no");
  }
  return 0;
}

static void drv_config_init(drv_config *c) {
  memset(c, 0, sizeof *c);
  h5tx_config_init(&c->core);
  c->commit = COMMIT_FLUSH;
  c->plain = 1;
}

/* Parse `text` over `c`: core's keys by core, the driver's here. `c` is
 * unchanged on error. */
static int drv_config_parse(const char *text, drv_config *c, h5tx_error *err) {
  drv_config n = *c;
  int rc = h5tx_config_parse_with(text, &n.core, drv_keys, drv_key, &n, err);
  if (rc == 0) *c = n;
  return rc;
}

/* The config of `fapl`: from H5Pset_fapl_h5tx's info, or (1.14) the driver
 * config string that HDF5_DRIVER_CONFIG / --vfd-info / H5Pset_driver_by_name
 * set. */
static int fapl_config(hid_t fapl, drv_config *cfg) {
  drv_config_init(cfg);
  h5tx_error e = {0};
  const char *text = NULL;
  const H5FD_h5tx_fapl_t *fa = NULL;
  quiet q;
  if (fapl >= 0 && fapl != H5P_DEFAULT) {
    quiet_begin(&q);
    fa = H5Pget_driver_info(fapl);
    quiet_end(&q);
  }
  if (fa) text = fa->config;
#if H5_VERSION_GE(1, 14, 0)
  char buf[H5FD_H5TX_CONFIG_MAX];
  if (!fa && fapl >= 0) {
    ssize_t n = -1;
    quiet_begin(&q);
    n = H5Pget_driver_config_str(fapl, buf, sizeof buf);
    quiet_end(&q);
    if (n >= (ssize_t)sizeof buf) {
      FAIL(H5E_BADVALUE, "driver config string longer than %d bytes", H5FD_H5TX_CONFIG_MAX - 1);
      return -1;
    }
    if (n > 0) text = buf;
  }
#endif
  if (drv_config_parse(text, cfg, &e) != 0) {
    FAIL(H5E_BADVALUE, "%s", e.msg);
    return -1;
  }
  return 0;
}

/* Where a name points. */
typedef struct target {
  char *store; /* NULL: a plain POSIX file */
  char *file;  /* name inside the store */
  char *spec;  /* revision spec after '@', or NULL */
} target;

static void target_free(target *t) {
  free(t->store);
  free(t->file);
  free(t->spec);
}

/* Split `name` into store, file and revision. 0, or -1 with an error. */
static int resolve(const char *name, const drv_config *cfg, target *t) {
  memset(t, 0, sizeof *t);
  const char *inner = NULL;
  size_t slen = 0;
  /* The first path part ending in ".h5tx" is the store. */
  for (const char *p = name; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 5 && memcmp(p + n - 5, ".h5tx", 5) == 0) {
      slen = (size_t)(p - name) + n;
      inner = e ? e + 1 : "";
      break;
    }
    if (!e) break;
    p = e + 1;
  }
  if (inner) {
    if (!*inner) {
      FAIL(H5E_BADVALUE, "'%s' names a store, not a file in it (try %s/FILE.h5)", name, name);
      return -1;
    }
    t->store = strndup(name, slen);
  } else if (cfg->store[0] && name[0] != '/') {
    t->store = strdup(cfg->store);
    inner = name;
  } else if (cfg->store[0] && strncmp(name, cfg->store, strlen(cfg->store)) == 0 &&
             name[strlen(cfg->store)] == '/') {
    t->store = strdup(cfg->store);
    inner = name + strlen(cfg->store) + 1;
  } else if (cfg->plain) {
    return 0; /* a plain POSIX file */
  } else {
    FAIL(H5E_BADVALUE, "'%s' is outside any store (the config says plain=no)", name);
    return -1;
  }
  const char *at = strrchr(inner, '@');
  t->file = at ? strndup(inner, (size_t)(at - inner)) : strdup(inner);
  if (at) {
    if (!at[1]) {
      FAIL(H5E_BADVALUE, "'%s': nothing after '@' (expected a revision or a tag)", name);
      target_free(t);
      return -1;
    }
    t->spec = strdup(at + 1);
  }
  if (cfg->core.rev[0]) {
    if (t->spec && strcmp(t->spec, cfg->core.rev) != 0) {
      FAIL(H5E_BADVALUE, "'%s' asks for revision '%s' but the config says rev=%s", name, t->spec,
           cfg->core.rev);
      target_free(t);
      return -1;
    }
    if (!t->spec) t->spec = strdup(cfg->core.rev);
  }
  if (!t->store || !t->file) {
    FAIL(H5E_CANTALLOC, "out of memory");
    target_free(t);
    return -1;
  }
  return 0;
}

/* ---- the class ------------------------------------------------------------ */

static H5FD_t *h5tx_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr);
static herr_t h5tx_close(H5FD_t *file);
static int h5tx_cmp(const H5FD_t *f1, const H5FD_t *f2);
static herr_t h5tx_query(const H5FD_t *f, unsigned long *flags);
static haddr_t h5tx_get_eoa(const H5FD_t *file, H5FD_mem_t type);
static herr_t h5tx_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr);
static haddr_t h5tx_get_eof(const H5FD_t *file, H5FD_mem_t type);
static herr_t h5tx_get_handle(H5FD_t *file, hid_t fapl, void **handle);
static herr_t h5tx_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        void *buf);
static herr_t h5tx_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                         const void *buf);
static herr_t h5tx_flush(H5FD_t *file, hid_t dxpl, h5tx_hbool closing);
static herr_t h5tx_truncate(H5FD_t *file, hid_t dxpl, h5tx_hbool closing);
static herr_t h5tx_lock(H5FD_t *file, h5tx_hbool rw);
static herr_t h5tx_unlock(H5FD_t *file);
#if H5_VERSION_GE(1, 14, 0)
static herr_t h5tx_delete(const char *name, hid_t fapl);
#endif

static herr_t h5tx_term(void);

static const H5FD_class_t H5FD_h5tx_g = {
#if H5_VERSION_GE(1, 14, 0)
    .version = H5FD_CLASS_VERSION,
    .value = H5FD_H5TX_VALUE,
    .del = h5tx_delete,
#endif
    .name = H5FD_H5TX_NAME,
    .terminate = h5tx_term,
    .maxaddr = (haddr_t)INT64_MAX,
    .fc_degree = H5F_CLOSE_WEAK,
    .fapl_size = sizeof(H5FD_h5tx_fapl_t),
    .open = h5tx_open,
    .close = h5tx_close,
    .cmp = h5tx_cmp,
    .query = h5tx_query,
    .get_eoa = h5tx_get_eoa,
    .set_eoa = h5tx_set_eoa,
    .get_eof = h5tx_get_eof,
    .get_handle = h5tx_get_handle,
    .read = h5tx_read,
    .write = h5tx_write,
    .flush = h5tx_flush,
    .truncate = h5tx_truncate,
    .lock = h5tx_lock, /* see the top of this file */
    .unlock = h5tx_unlock,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

#ifndef H5TX_VFD_PLUGIN
hid_t H5FD_h5tx_init(void) {
  if (H5I_VFL != H5Iget_type(H5FD_H5TX_g)) H5FD_H5TX_g = H5FDregister(&H5FD_h5tx_g);
  return H5FD_H5TX_g;
}

herr_t H5Pset_fapl_h5tx(hid_t fapl, const char *config) {
  H5FD_h5tx_fapl_t fa;
  memset(&fa, 0, sizeof fa);
  if (config && strlen(config) >= sizeof fa.config) {
    FAIL(H5E_BADVALUE, "config string longer than %d bytes", H5FD_H5TX_CONFIG_MAX - 1);
    return -1;
  }
  drv_config cfg;
  drv_config_init(&cfg);
  h5tx_error e = {0};
  if (drv_config_parse(config, &cfg, &e) != 0) {
    FAIL(H5E_BADVALUE, "%s", e.msg);
    return -1;
  }
  if (config) strcpy(fa.config, config);
  hid_t id = H5FD_h5tx_init();
  if (id < 0) return -1;
  return H5Pset_driver(fapl, id, &fa);
}

ssize_t H5Pget_fapl_h5tx(hid_t fapl, char *buf, size_t size) {
  if (H5Pget_driver(fapl) != H5FD_h5tx_init()) return -1;
  const H5FD_h5tx_fapl_t *fa = H5Pget_driver_info(fapl);
  const char *text = fa ? fa->config : "";
  if (size) snprintf(buf, size, "%s", text);
  return (ssize_t)strlen(text);
}
#endif

/* ---- open and close ----------------------------------------------------- */

static H5FD_h5tx_t *new_file(void) {
  H5FD_h5tx_t *f = calloc(1, sizeof *f);
  if (!f) {
    FAIL(H5E_CANTALLOC, "out of memory");
    return NULL;
  }
  f->fd = -1;
  f->pid = getpid();
  f->rev = H5TX_HEAD;
  return f;
}

/* Drop one reference to a shared writer; the last one closes it (dropping
 * what was not committed). */
static void shared_release(shared *sh) {
  pthread_mutex_lock(&shared_lock);
  int last = --sh->refs == 0;
  if (last)
    for (shared **p = &shared_list; *p; p = &(*p)->next)
      if (*p == sh) {
        *p = sh->next;
        break;
      }
  pthread_mutex_unlock(&shared_lock);
  if (!last) return;
  h5tx_writer_close(sh->writer);
  h5tx_store_close(sh->store);
  free(sh->name);
  free(sh);
}

static void free_file(H5FD_h5tx_t *f) {
  if (f->fd >= 0) close(f->fd);
  h5tx_snap_close(f->snap);
  if (f->shared) shared_release(f->shared);
  h5tx_store_close(f->store);
  free(f->store_path);
  free(f->name);
  free(f->message);
  free(f);
}

static H5FD_t *open_plain(const char *name, unsigned flags) {
  int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) o |= O_CREAT;
  if (flags & H5F_ACC_EXCL) o |= O_EXCL;
  H5FD_h5tx_t *f = new_file();
  if (!f) return NULL;
  f->fd = open(name, o | O_CLOEXEC, 0666);
  struct stat st;
  if (f->fd < 0 || fstat(f->fd, &st) != 0) {
    FAIL(H5E_CANTOPENFILE, "unable to open plain file '%s': %s", name, strerror(errno));
    free_file(f);
    return NULL;
  }
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->eof = (haddr_t)st.st_size;
  return &f->pub;
}

/* Give `f` the process's writer of its file, opening one (and taking the
 * file's lease) if there is none. A second read-write open of a file shares
 * the first one's writer; HDF5 then finds the two equal (cmp) and keeps one. */
static int shared_writer(H5FD_h5tx_t *f, unsigned flags, h5tx_error *e) {
  pthread_mutex_lock(&shared_lock);
  shared *sh = shared_list;
  while (sh && !(sh->dev == f->dev && sh->ino == f->ino && strcmp(sh->name, f->name) == 0))
    sh = sh->next;
  if (!sh) {
    h5tx_writer_opts wo;
    h5tx_writer_opts_init(&wo);
    wo.create = (flags & H5F_ACC_CREAT) != 0;
    wo.truncate = (flags & H5F_ACC_TRUNC) != 0;
    wo.exclusive = (flags & H5F_ACC_EXCL) != 0;
    int rc = H5TX_ENOMEM;
    if (!(sh = calloc(1, sizeof *sh)) || !(sh->name = strdup(f->name)))
      snprintf(e->msg, sizeof e->msg, "out of memory");
    else if ((rc = h5tx_writer_open(f->store, f->name, &wo, &sh->writer, e)) == 0) {
      /* The writer uses the store handle it was opened on (with this
       * open's settings): the shared writer takes it over, so it lives as
       * long as the writer, whichever open of the file closes first. */
      sh->store = f->store;
      f->store = NULL;
    }
    if (rc != 0) {
      pthread_mutex_unlock(&shared_lock);
      if (sh) free(sh->name);
      free(sh);
      return rc;
    }
    sh->dev = f->dev;
    sh->ino = f->ino;
    sh->next = shared_list;
    shared_list = sh;
  }
  sh->refs++;
  pthread_mutex_unlock(&shared_lock);
  f->shared = sh;
  f->writer = sh->writer;
  return 0;
}

/* Give a read-only open of the head of `f`'s file the writer this process
 * holds for it, if any: the file is open read-write here already, and a
 * read-only open must see the same file (what was written and not yet
 * committed), as HDF5 sees it with sec2 - it finds the two equal (cmp) and
 * shares the open file. 1 if shared, 0 if no writer. */
static int shared_reader(H5FD_h5tx_t *f) {
  pthread_mutex_lock(&shared_lock);
  shared *sh = shared_list;
  while (sh && !(sh->dev == f->dev && sh->ino == f->ino && strcmp(sh->name, f->name) == 0))
    sh = sh->next;
  if (sh) sh->refs++;
  pthread_mutex_unlock(&shared_lock);
  if (!sh) return 0;
  f->shared = sh;
  f->writer = sh->writer;
  return 1;
}

/* Stores this process opened lately, held open between H5Fclose and the
 * next H5Fopen so that the store's shared parts (index, page log, live
 * table: the core's) stay up and an open is a marker read and a look-up.
 * Released when HDF5 terminates the driver (H5close, or at exit). While
 * held, `h5tx repair` and `h5tx upgrade` see the store as in use. */
#define HELD_MAX 8
static struct held {
  char *path;
  h5tx_store *s;
  uint64_t used;
} held[HELD_MAX];
static uint64_t held_clock;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

static void hold_store(const char *path) {
  pthread_mutex_lock(&held_lock);
  int free_slot = -1, lru = 0;
  for (int i = 0; i < HELD_MAX; i++) {
    if (held[i].path && strcmp(held[i].path, path) == 0) {
      held[i].used = ++held_clock;
      pthread_mutex_unlock(&held_lock);
      return;
    }
    if (!held[i].path && free_slot < 0) free_slot = i;
    if (held[i].used < held[lru].used) lru = i;
  }
  int i = free_slot >= 0 ? free_slot : lru;
  h5tx_store *old = held[i].s;
  char *old_path = held[i].path;
  held[i].path = NULL;
  held[i].s = NULL;
  h5tx_error e = {0};
  h5tx_store *s = NULL;
  char *p = strdup(path);
  if (p && h5tx_store_open(path, NULL, &s, &e) == 0) {
    held[i].path = p;
    held[i].s = s;
    held[i].used = ++held_clock;
  } else {
    free(p); /* not held: opens just cost more */
  }
  pthread_mutex_unlock(&held_lock);
  h5tx_store_close(old);
  free(old_path);
}

static herr_t h5tx_term(void) {
  pthread_mutex_lock(&held_lock);
  for (int i = 0; i < HELD_MAX; i++) {
    /* in a fork child this touches none of the parent's state: the core
     * closes nothing it did not open in this process */
    if (held[i].s) h5tx_store_close(held[i].s);
    free(held[i].path);
    held[i].path = NULL;
    held[i].s = NULL;
  }
  pthread_mutex_unlock(&held_lock);
  return 0;
}

static H5FD_t *open_store(const target *t, unsigned flags, const h5tx_config *cfg, int commit) {
  h5tx_error e = {0};
  int rdwr = (flags & H5F_ACC_RDWR) != 0;
  if (rdwr && t->spec) {
    FAIL(H5E_CANTOPENFILE,
         "revision '%s' of '%s' in store %s is read-only; open it read-only, or open the file "
         "without @ to write its head",
         t->spec, t->file, t->store);
    return NULL;
  }
  H5FD_h5tx_t *f = new_file();
  if (!f) return NULL;
  f->store_path = strdup(t->store);
  f->name = strdup(t->file);
  f->commit_on_flush = commit == COMMIT_FLUSH;
  f->message = cfg->message[0] ? strdup(cfg->message) : NULL;
  h5tx_store_opts so;
  h5tx_store_opts_init(&so);
  so.create = rdwr && (flags & H5F_ACC_CREAT);
  so.page_size = cfg->page_size;
  so.codec = cfg->codec;
  so.level = cfg->level;
  so.durability = cfg->durability;
  so.dirty_limit = (size_t)cfg->cache;
  if (!f->store_path || !f->name || (cfg->message[0] && !f->message)) {
    FAIL(H5E_CANTALLOC, "out of memory");
    goto fail;
  }
  if (h5tx_store_open(t->store, &so, &f->store, &e) != 0) goto fail_e;
  hold_store(t->store);
  struct stat st;
  if (stat(t->store, &st) != 0) {
    FAIL(H5E_CANTOPENFILE, "store %s: %s", t->store, strerror(errno));
    goto fail;
  }
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->rdonly = !rdwr;
  if (rdwr) {
    if (shared_writer(f, flags, &e) != 0) goto fail_e;
    f->eof = h5tx_writer_length(f->writer);
  } else if (!t->spec && shared_reader(f)) {
    f->eof = h5tx_writer_length(f->writer);
  } else {
    h5tx_rev rev = H5TX_HEAD;
    if (t->spec && h5tx_rev_parse(f->store, t->spec, &rev, &e) != 0) goto fail_e;
    if (h5tx_snap_open(f->store, rev, &f->snap, &e) != 0) goto fail_e;
    f->rev = h5tx_snap_rev(f->snap);
    if (h5tx_snap_stat(f->snap, t->file, &f->st, &e) != 0) goto fail_e;
    f->eof = f->st.length;
  }
  return &f->pub;
fail_e:
  FAIL(H5E_CANTOPENFILE, "%s", e.msg);
fail:
  free_file(f);
  return NULL;
}

static H5FD_t *h5tx_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  (void)maxaddr;
  if (!name || !*name) {
    FAIL(H5E_BADVALUE, "empty file name");
    return NULL;
  }
  drv_config cfg;
  if (fapl_config(fapl, &cfg) != 0) return NULL;
  target t;
  if (resolve(name, &cfg, &t) != 0) return NULL;
  H5FD_t *f = t.store ? open_store(&t, flags, &cfg.core, cfg.commit) : open_plain(name, flags);
  target_free(&t);
  return f;
}

/* Commit the writer's changes. A failed commit (a full disk, say) keeps them
 * in the writer, still what HDF5 wrote, so the next flush or the close tries
 * again. */
static herr_t commit(H5FD_h5tx_t *f, const char *why) {
  if (!f->writer || !h5tx_writer_dirty(f->writer)) return 0;
  /* A fork child (HDF5 closes every open file in a child that calls
   * exit()): the writer is the parent's, the child commits nothing. */
  if (f->pid != getpid()) return 0;
  if (f->shared->failed) {
    FAIL(H5E_WRITEERROR,
         "'%s' in store %s: not committed: an earlier write failed, so what HDF5 wrote is "
         "incomplete; the changes since revision %llu are dropped",
         f->name, f->store_path, (unsigned long long)h5tx_writer_base(f->writer));
    return -1;
  }
  char buf[128];
  h5tx_error e = {0};
  int rc =
      h5tx_writer_commit(f->writer, commit_message(f->message, why, buf, sizeof buf), NULL, &e);
  if (rc == H5TX_ESYNC) { /* landed; the writer goes on from it */
    FAIL(H5E_WRITEERROR, "commit of '%s' landed but was not flushed to disk: %s", f->name, e.msg);
    return -1;
  }
  if (rc != 0) {
    FAIL(H5E_WRITEERROR, "commit of '%s' failed, nothing of it was stored: %s", f->name, e.msg);
    return -1;
  }
  return 0;
}

static herr_t h5tx_close(H5FD_t *file) {
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  herr_t rc = 0;
  if (f->fd >= 0 && close(f->fd) != 0) {
    FAIL(H5E_CANTCLOSEFILE, "closing plain file: %s", strerror(errno));
    rc = -1;
  }
  f->fd = -1;
  /* The last close of a file commits what HDF5 left consistent (after a
   * failure it aborts instead); the duplicate that HDF5 drops after cmp()
   * matched it changes nothing. */
  if (f->shared && f->shared->refs == 1 && commit(f, "close") < 0) rc = -1;
  free_file(f);
  return rc;
}

static int h5tx_cmp(const H5FD_t *a, const H5FD_t *b) {
  const H5FD_h5tx_t *f = (const H5FD_h5tx_t *)a, *g = (const H5FD_h5tx_t *)b;
  /* Plain files and stores alike are identified by device and inode (of
   * the file, or of the store's directory), however their names are
   * spelled: HDF5 resolves external links to absolute names. */
  if ((f->fd >= 0) != (g->fd >= 0)) return f->fd >= 0 ? -1 : 1;
  if (f->dev != g->dev) return f->dev < g->dev ? -1 : 1;
  if (f->ino != g->ino) return f->ino < g->ino ? -1 : 1;
  if (f->fd >= 0) return 0;
  int c = strcmp(f->name, g->name);
  if (!c && f->rev != g->rev) c = f->rev < g->rev ? -1 : 1;
  return c;
}

static herr_t h5tx_query(const H5FD_t *file, unsigned long *flags) {
  const H5FD_h5tx_t *f = (const H5FD_h5tx_t *)file;
  /* The flags sec2 sets (HDF5 2.1 uses its data-sieve buffer only for a
   * driver that sets H5FD_FEAT_DATA_SIEVE), so HDF5 aggregates and
   * accumulates metadata, sieves raw data and aggregates small data, and
   * the store sees few, large writes. Files in a store are byte for byte
   * ordinary HDF5 files (DEFAULT_VFD_COMPATIBLE). Two only for a plain file
   * (and not for the class, asked with no file): POSIX_COMPAT_HANDLE (HDF5
   * then lstat()s the name, and a file in a store has no descriptor) and
   * SUPPORTS_SWMR_IO (a file in a store shows its writes to other processes
   * only by revision, which SWMR readers do not follow). */
  *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
           H5FD_FEAT_AGGREGATE_SMALLDATA;
#if H5_VERSION_GE(1, 14, 0)
  *flags |= H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
#endif
  if (f && f->fd >= 0) *flags |= H5FD_FEAT_POSIX_COMPAT_HANDLE | H5FD_FEAT_SUPPORTS_SWMR_IO;
  return 0;
}

static haddr_t h5tx_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const H5FD_h5tx_t *)file)->eoa;
}

static herr_t h5tx_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
  (void)type;
  ((H5FD_h5tx_t *)file)->eoa = addr;
  return 0;
}

static haddr_t h5tx_get_eof(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  const H5FD_h5tx_t *f = (const H5FD_h5tx_t *)file;
  if (f->writer) return h5tx_writer_length(f->writer);
  return f->eof;
}

static herr_t h5tx_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
  (void)fapl;
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  if (!handle) {
    FAIL(H5E_BADVALUE, "no place for the file handle");
    return -1;
  }
  if (f->fd >= 0) { /* a plain file: its descriptor, as sec2 */
    *handle = &f->fd;
    return 0;
  }
  f->handle.fd = -1;
  f->handle.store = f->store ? f->store : f->shared->store;
  f->handle.writer = f->rdonly ? NULL : f->writer;
  f->handle.snap = f->snap;
  f->handle.name = f->name;
  *handle = &f->handle;
  return 0;
}

/* ---- I/O -------------------------------------------------------------------- */

static int check_range(const H5FD_h5tx_t *f, haddr_t addr, size_t size, const char *op) {
  if (addr == HADDR_UNDEF || addr + size < addr || addr + size > f->eoa) {
    FAIL(H5E_OVERFLOW, "%s of %zu bytes at %llu is past the end of allocation (%llu)", op, size,
         (unsigned long long)addr, (unsigned long long)f->eoa);
    return -1;
  }
  return 0;
}

static herr_t h5tx_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        void *buf) {
  (void)type;
  (void)dxpl;
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  if (check_range(f, addr, size, "read") < 0) return -1;
  h5tx_error e = {0};
  if (f->fd >= 0) {
    uint8_t *p = buf;
    while (size > 0) {
      ssize_t n = pread(f->fd, p, size, (off_t)addr);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        FAIL(H5E_READERROR, "read at %llu: %s", (unsigned long long)addr, strerror(errno));
        return -1;
      }
      if (n == 0) { /* past the end of file: zeros */
        memset(p, 0, size);
        break;
      }
      p += n;
      addr += (haddr_t)n;
      size -= (size_t)n;
    }
    return 0;
  }
  int rc = f->writer ? h5tx_writer_read(f->writer, addr, buf, size, &e)
                     : h5tx_snap_read_stat(f->snap, f->name, &f->st, addr, buf, size, &e);
  if (rc != 0) {
    FAIL(H5E_READERROR, "%s", e.msg);
    return -1;
  }
  return 0;
}

/* A write to a file in a store that holds the superblock (which HDF5 keeps
 * at the file's base address): unmarked (see the top of this file), into
 * f->sb, which `*buf` then points to; and `*skip` set when those bytes are
 * in the file already, so an open and close that change nothing change
 * nothing. 0, or -1 with `e`. */
static int store_superblock(H5FD_h5tx_t *f, haddr_t addr, size_t size, const void **buf, int *skip,
                            h5tx_error *e) {
  haddr_t sb = f->pub.base_addr;
  if (sb < addr || sb - addr >= size || size > sizeof f->sb) return 0;
  memcpy(f->sb, *buf, size);
  if (!h5tx__sb_unmark(f->sb + (sb - addr), size - (size_t)(sb - addr))) return 0;
  *buf = f->sb;
  if (addr + size <= h5tx_writer_length(f->writer)) {
    uint8_t now[sizeof f->sb];
    if (h5tx_writer_read(f->writer, addr, now, size, e) != 0) return -1;
    *skip = memcmp(now, f->sb, size) == 0;
  }
  return 0;
}

static herr_t h5tx_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                         const void *buf) {
  (void)type;
  (void)dxpl;
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  if (check_range(f, addr, size, "write") < 0) return -1;
  if (f->fd >= 0) {
    const uint8_t *p = buf;
    while (size > 0) {
      ssize_t n = pwrite(f->fd, p, size, (off_t)addr);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        FAIL(H5E_WRITEERROR, "write at %llu: %s", (unsigned long long)addr,
             n < 0 ? strerror(errno) : "nothing written");
        return -1;
      }
      p += n;
      addr += (haddr_t)n;
      size -= (size_t)n;
    }
    if (addr > f->eof) f->eof = addr;
    return 0;
  }
  if (!f->writer || f->rdonly) {
    FAIL(H5E_WRITEERROR, "'%s' at revision %llu of store %s is read-only", f->name,
         (unsigned long long)f->rev, f->store_path);
    return -1;
  }
  /* A fork child: the writer is the parent's and must stay as the parent
   * left it (its dirty pages, spill file, lease). The child's writes go
   * nowhere: HDF5's closing flush in a child that calls exit() must succeed
   * (a failed one crashes HDF5 1.10 at exit), and the child could never
   * commit them anyway. */
  if (f->pid != getpid()) return 0;
  h5tx_error e = {0};
  int skip = 0;
  if (store_superblock(f, addr, size, &buf, &skip, &e) != 0) {
    FAIL(H5E_WRITEERROR, "%s", e.msg);
    return -1;
  }
  /* HDF5 writes and flushes the superblock alone while it opens a file
   * (for a new one, before the rest of it exists): no revision of that. */
  if (!(buf == f->sb && addr == f->pub.base_addr && size <= 256)) f->wrote_other = 1;
  if (!skip && h5tx_writer_write(f->writer, addr, buf, size, &e) != 0) {
    f->shared->failed = 1;
    FAIL(H5E_WRITEERROR, "%s", e.msg);
    return -1;
  }
  return 0;
}

static herr_t h5tx_truncate(H5FD_t *file, hid_t dxpl, h5tx_hbool closing) {
  (void)dxpl;
  (void)closing;
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  if (f->fd >= 0) {
    if (f->eoa == f->eof) return 0;
    if (ftruncate(f->fd, (off_t)f->eoa) != 0) {
      FAIL(H5E_CANTGET, "truncating to %llu: %s", (unsigned long long)f->eoa, strerror(errno));
      return -1;
    }
    f->eof = f->eoa;
    return 0;
  }
  if (!f->writer || f->rdonly || h5tx_writer_length(f->writer) == f->eoa) return 0;
  if (f->pid != getpid()) return 0; /* a fork child: as in h5tx_write */
  h5tx_error e = {0};
  if (h5tx_writer_truncate(f->writer, f->eoa, &e) != 0) {
    f->shared->failed = 1;
    FAIL(H5E_WRITEERROR, "%s", e.msg);
    return -1;
  }
  return 0;
}

static herr_t h5tx_flush(H5FD_t *file, hid_t dxpl, h5tx_hbool closing) {
  (void)dxpl;
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  /* On close, the close callback commits (after the final truncate). The
   * flush HDF5 makes while it opens a file (it has written the superblock
   * and nothing else yet) makes no revision. */
  if (closing || !f->commit_on_flush || !f->wrote_other) return 0;
  return commit(f, "flush");
}

/* As sec2 for a plain file: an advisory flock, not waiting. A file system
 * without flock (ENOSYS) is not refused, as HDF5's "best effort" locking.
 * A file in a store: nothing, the store's lease keeps out other writers. */
static herr_t h5tx_lock(H5FD_t *file, h5tx_hbool rw) {
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  if (f->fd < 0) return 0;
  if (flock(f->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 && errno != ENOSYS) {
    FAIL(H5E_CANTLOCKFILE, "unable to lock the file: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static herr_t h5tx_unlock(H5FD_t *file) {
  H5FD_h5tx_t *f = (H5FD_h5tx_t *)file;
  if (f->fd < 0) return 0;
  if (flock(f->fd, LOCK_UN) != 0 && errno != ENOSYS) {
    FAIL(H5E_CANTUNLOCKFILE, "unable to unlock the file: %s", strerror(errno));
    return -1;
  }
  return 0;
}

#if H5_VERSION_GE(1, 14, 0)
/* H5Fdelete: a file in a store is removed from head as one commit. */
static herr_t h5tx_delete(const char *name, hid_t fapl) {
  drv_config cfg;
  if (fapl_config(fapl, &cfg) != 0) return -1;
  target t;
  if (resolve(name, &cfg, &t) != 0) return -1;
  herr_t rc = 0;
  if (!t.store) {
    if (unlink(name) != 0) {
      FAIL(H5E_CANTDELETEFILE, "deleting '%s': %s", name, strerror(errno));
      rc = -1;
    }
    target_free(&t);
    return rc;
  }
  h5tx_error e = {0};
  h5tx_store *s = NULL;
  char buf[128];
  const char *msg = commit_message(cfg.core.message, "delete", buf, sizeof buf);
  if (t.spec) {
    FAIL(H5E_CANTDELETEFILE, "cannot delete revision '%s' of '%s': revisions are immutable", t.spec,
         t.file);
    rc = -1;
  } else if (h5tx_store_open(t.store, NULL, &s, &e) != 0 ||
             h5tx_remove(s, t.file, msg, NULL, &e) != 0) {
    FAIL(H5E_CANTDELETEFILE, "%s", e.msg);
    rc = -1;
  }
  h5tx_store_close(s);
  target_free(&t);
  return rc;
}

#endif

#ifdef H5TX_VFD_PLUGIN
/* The plugin entry points: HDF5 (1.14 on) loads the driver by name. Both
 * are called by libhdf5, so their return address lies in the library the
 * driver must use. A host the plugin cannot serve is told so on stderr, and
 * the plugin then tells HDF5 it is no driver, so the search goes on (and
 * other plugins in the directory still load). */
H5FD_H5TX_API H5PL_type_t H5PLget_plugin_type(void);
H5FD_H5TX_API const void *H5PLget_plugin_info(void);
H5PL_type_t H5PLget_plugin_type(void) {
  if (h5tx_hdf5_bind(__builtin_return_address(0)) != 0) return H5PL_TYPE_NONE;
  return H5PL_TYPE_VFD;
}
/* HDF5 1.10 asks every library in a plugin directory for its info while it
 * looks for a filter, without asking its type, and takes the answer as a
 * filter class (H5Z_class2_t: an int version, then the int filter id): NULL
 * ends its whole search, so a filter plugin beside this one would not load.
 * A refused host gets this instead: a class whose id no filter has. */
static const struct { int version, id; } no_filter = {1, -1};

const void *H5PLget_plugin_info(void) {
  if (h5tx_hdf5_bind(__builtin_return_address(0)) != 0) return &no_filter;
  return &H5FD_h5tx_g;
}
#endif
