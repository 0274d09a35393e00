/* pins.c - the live table: readers' pins and writers' leases in one shared
 * mapped file, `readers` (docs/FORMAT.md, "The live table"). A slot belongs
 * to whoever holds an OFD write lock on its first byte. The kernel arbitrates
 * two claimers of a slot and drops the lock with the holder's open file
 * description, i.e. when the holder dies, so liveness needs no pid, /proc or
 * host name. A fork child shares its parent's description: it never unlocks
 * or writes a slot it inherited, and opens a description of its own before
 * it claims anything. */
#include "pins.h"

#include "codec.h"
#include "internal.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "H5TXRDR2"
#define HDR 64
#define NREADERS 4096
#define RSLOT 64
#define NLEASES 1024
#define LSLOT 1152
#define LEASES_OFF (HDR + (size_t)NREADERS * RSLOT)
#define TABLE_SIZE (LEASES_OFF + (size_t)NLEASES * LSLOT)
/* Bytes of the header locked (not written) to serialise the table's
 * initialisation and the claims of leases. */
#define INIT_BYTE 32
#define LEASE_BYTE 33
/* Read-locked (shared) by every process while it commits: a committer
 * that finds another one there will wait for the index's write lock. */
#define COMMIT_BYTE 34

typedef struct rslot {
  uint64_t pin; /* revision + 1; 0: none */
  uint64_t time_ns;
  uint32_t pid;
  uint8_t reserved[44];
} rslot;
_Static_assert(sizeof(rslot) == RSLOT, "reader slot layout");

typedef struct lslot {
  uint64_t hash; /* of the name, never 0; 0: empty. Written last. */
  uint64_t token;
  uint64_t time_ns;
  uint32_t pid;
  uint16_t name_len, host_len;
  char host[64];
  char name[H5TX_MAX_NAME];
  uint8_t reserved[LSLOT - 96 - H5TX_MAX_NAME];
} lslot;
_Static_assert(sizeof(lslot) == LSLOT, "lease slot layout");

/* One per store per process, shared by the process's store handles (as
 * LMDB's environment is): one descriptor, whatever the number of handles. */
struct h5tx__pins {
  uint8_t *map;
  char *path;
  int fd;    /* the description whose locks are this process's slots */
  pid_t pid; /* the process that opened fd */
  dev_t dev; /* the file, to find it in the registry */
  ino_t ino;
  int refs;
  struct h5tx__pins *next;
  /* Slots this process holds: F_OFD_GETLK through fd does not report them
   * (a description never conflicts with its own locks). */
  uint8_t mine[NREADERS + NLEASES];
  int committing; /* commits of this process under way (COMMIT_BYTE held) */
};

/* One lock for every table of the process: it guards the registry and
 * `mine`, and a claim in one thread from a claim in another (their OFD locks
 * are the same owner's, so the kernel would not tell them apart). */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void before_fork(void) { pthread_mutex_lock(&table_lock); }
static void after_fork(void) { pthread_mutex_unlock(&table_lock); }
static void register_atfork(void) { pthread_atfork(before_fork, after_fork, after_fork); }
static h5tx__pins *registry;

static rslot *reader(h5tx__pins *p, int k) { return (rslot *)(p->map + HDR) + k; }
static lslot *lease(h5tx__pins *p, int k) { return (lslot *)(p->map + LEASES_OFF) + k; }
static off_t reader_off(int k) { return (off_t)(HDR + (size_t)k * RSLOT); }
static off_t lease_off(int k) { return (off_t)(LEASES_OFF + (size_t)k * LSLOT); }

/* OFD lock (F_WRLCK) or unlock (F_UNLCK) of the byte at `off`; `wait`: block
 * until it is free. 0, or -1 with errno (EAGAIN: another description has it). */
static int lock_byte(int fd, off_t off, short type, int wait) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1, .l_pid = 0};
  int rc;
  while ((rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) != 0 && errno == EINTR) {
  }
  if (rc != 0 && errno == EACCES) errno = EAGAIN;
  return rc;
}

/* The error of a lock that failed for another reason than being held
 * (EAGAIN): a file system without OFD locks, no memory for locks. */
static int lock_err(h5tx__pins *p, const char *what, h5tx_error *err) {
  int e = errno;
  return h5tx__err(err, h5tx__errno_code(e), "%s %s: locking a slot: %s", what, p->path,
                   strerror(e));
}

/* 1 if another description than p->fd's holds the byte at `off` (ask
 * `mine` about this process's). An error of F_OFD_GETLK counts as held: a
 * slot is never taken for dead on a failure. */
static int held(h5tx__pins *p, off_t off) {
  struct flock fl = {
      .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1, .l_pid = 0};
  if (fcntl(p->fd, F_OFD_GETLK, &fl) != 0) return 1;
  return fl.l_type != F_UNLCK;
}

/* In a fork child: forget the parent's slots (they stay the parent's: its
 * copy of the descriptor keeps the description, and with it the locks)
 * and open a description of our own; closing our copy of the parent's
 * releases nothing. Called with table_lock held. */
static int own(h5tx__pins *p, h5tx_error *err) {
  if (p->pid == getpid() && p->fd >= 0) return 0;
  if (p->fd >= 0) close(p->fd);
  memset(p->mine, 0, sizeof p->mine);
  p->committing = 0;
  p->pid = getpid();
  p->fd = open(p->path, O_RDWR | O_CLOEXEC);
  if (p->fd < 0)
    return h5tx__err(err, h5tx__errno_code(errno), "reader table %s: %s", p->path, strerror(errno));
  return 0;
}

/* This process holds slot `k` (of all NREADERS + NLEASES) through `p`. */
static int is_mine(h5tx__pins *p, int k) {
  /* Atomic: scans read it without table_lock, beside a claim or a release
   * in another thread (a claim sets it before it publishes the pin). */
  return p->pid == getpid() && __atomic_load_n(&p->mine[k], __ATOMIC_SEQ_CST);
}
static void set_mine(h5tx__pins *p, int k, uint8_t v) {
  __atomic_store_n(&p->mine[k], v, __ATOMIC_SEQ_CST);
}

int h5tx__pins_open(const char *dir, h5tx__pins **out, h5tx_error *err) {
  pthread_once(&atfork_once, register_atfork);
  h5tx__pins *p = calloc(1, sizeof *p);
  size_t pl = strlen(dir) + sizeof "/" H5TX__PINS_FILE;
  if (!p || !(p->path = malloc(pl))) {
    free(p);
    return h5tx__err(err, H5TX_ENOMEM, "store %s: out of memory", dir);
  }
  snprintf(p->path, pl, "%s/" H5TX__PINS_FILE, dir);
  p->pid = getpid();
  p->refs = 1;
  p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666); /* less the umask */
  struct stat st;
  if (p->fd < 0 || fstat(p->fd, &st) != 0) {
    int e = errno;
    h5tx__pins_close(p);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: reader table: %s", dir, strerror(e));
  }
  p->dev = st.st_dev;
  p->ino = st.st_ino;
  /* This process has the table open already: share it. */
  pthread_mutex_lock(&table_lock);
  for (h5tx__pins *q = registry; q; q = q->next)
    if (q->pid == p->pid && q->dev == p->dev && q->ino == p->ino) {
      q->refs++;
      pthread_mutex_unlock(&table_lock);
      h5tx__pins_close(p);
      *out = q;
      return 0;
    }
  pthread_mutex_unlock(&table_lock);
  /* One process at a time checks and initialises the table. */
  if (lock_byte(p->fd, INIT_BYTE, F_WRLCK, 1) != 0) {
    int e = errno;
    h5tx__pins_close(p);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: locking the reader table: %s", dir,
                     strerror(e));
  }
  /* Allocate every block now: writing a page of a shared mapping that has
   * no block yet makes the kernel allocate one, and on a full disk that is
   * SIGBUS, not an error. posix_fallocate also sets the size. */
  int e = posix_fallocate(p->fd, 0, (off_t)TABLE_SIZE);
  void *m = MAP_FAILED;
  if (e == 0) {
    m = mmap(NULL, TABLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED) e = errno;
  }
  if (m != MAP_FAILED) {
    p->map = m;
    if (memcmp(p->map, MAGIC, 8) != 0) {
      /* New (all zeros), an older layout or garbage: the table holds
       * nothing durable, and every process of this layout checks the
       * magic under INIT_BYTE before it uses the table. */
      memset(p->map + 8, 0, TABLE_SIZE - 8);
      uint8_t hdr[16];
      h5tx__le32(hdr, NREADERS);
      h5tx__le32(hdr + 4, RSLOT);
      h5tx__le32(hdr + 8, NLEASES);
      h5tx__le32(hdr + 12, LSLOT);
      memcpy(p->map + 8, hdr, sizeof hdr);
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      memcpy(p->map, MAGIC, 8);
    }
  }
  lock_byte(p->fd, INIT_BYTE, F_UNLCK, 0);
  if (m == MAP_FAILED) {
    h5tx__pins_close(p);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: reader table: %s", dir, strerror(e));
  }
  /* Another thread may have opened it meanwhile: two entries are correct
   * too (two descriptions), just not as thrifty. */
  pthread_mutex_lock(&table_lock);
  p->next = registry;
  registry = p;
  pthread_mutex_unlock(&table_lock);
  *out = p;
  return 0;
}

void h5tx__pins_close(h5tx__pins *p) {
  if (!p) return;
  pthread_mutex_lock(&table_lock);
  if (--p->refs > 0) {
    pthread_mutex_unlock(&table_lock);
    return;
  }
  for (h5tx__pins **q = &registry; *q; q = &(*q)->next)
    if (*q == p) {
      *q = p->next;
      break;
    }
  if (p->pid == getpid()) {
    /* Slots still held (a snapshot or writer left open): released here, not
     * by the close below, which releases nothing while a fork child still
     * has a copy of the descriptor. */
    for (int k = 0; k < NREADERS; k++)
      if (p->mine[k]) {
        __atomic_store_n(&reader(p, k)->pin, 0, __ATOMIC_SEQ_CST);
        lock_byte(p->fd, reader_off(k), F_UNLCK, 0);
      }
    for (int k = 0; k < NLEASES; k++)
      if (p->mine[NREADERS + k]) {
        __atomic_store_n(&lease(p, k)->hash, 0, __ATOMIC_SEQ_CST);
        lock_byte(p->fd, lease_off(k), F_UNLCK, 0);
      }
  }
  pthread_mutex_unlock(&table_lock);
  if (p->map) munmap(p->map, TABLE_SIZE);
  if (p->fd >= 0) close(p->fd);
  free(p->path);
  free(p);
}

/* ---- readers ----------------------------------------------------------------------------------
 */

int h5tx__pin(h5tx__pins *p, h5tx_rev rev, int *out, h5tx_error *err) {
  pthread_mutex_lock(&table_lock);
  int rc = own(p, err);
  if (rc) {
    pthread_mutex_unlock(&table_lock);
    return rc;
  }
  /* Start at a slot derived from the pid to spread processes out. */
  unsigned first = ((unsigned)p->pid * 2654435761u) % NREADERS;
  for (unsigned i = 0; i < NREADERS; i++) {
    int k = (int)((first + i) % NREADERS);
    if (p->mine[k]) continue;
    /* Claim: the kernel gives the lock to one description only. */
    if (lock_byte(p->fd, reader_off(k), F_WRLCK, 0) != 0) {
      if (errno == EAGAIN) continue;
      rc = lock_err(p, "reader table", err);
      pthread_mutex_unlock(&table_lock);
      return rc;
    }
    set_mine(p, k, 1);
    h5tx__test_stop("pin-claim");
    rslot *s = reader(p, k);
    __atomic_store_n(&s->pid, (uint32_t)p->pid, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->time_ns, h5tx__now_ns(), __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->pin, rev + 1, __ATOMIC_SEQ_CST);
    h5tx__test_stop("pin-publish");
    pthread_mutex_unlock(&table_lock);
    *out = k;
    return 0;
  }
  pthread_mutex_unlock(&table_lock);
  return h5tx__err(err, H5TX_EBUSY, "reader table full: %d live snapshots (%s)", NREADERS, p->path);
}

void h5tx__pin_move(h5tx__pins *p, int k, h5tx_rev rev) {
  pthread_mutex_lock(&table_lock);
  if (is_mine(p, k)) __atomic_store_n(&reader(p, k)->pin, rev + 1, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&table_lock);
}

void h5tx__unpin(h5tx__pins *p, int k) {
  pthread_mutex_lock(&table_lock);
  /* In a fork child the slot is the parent's: leave it. */
  if (is_mine(p, k)) {
    __atomic_store_n(&reader(p, k)->pin, 0, __ATOMIC_SEQ_CST);
    lock_byte(p->fd, reader_off(k), F_UNLCK, 0);
    set_mine(p, k, 0);
  }
  pthread_mutex_unlock(&table_lock);
}

void h5tx__pins_scan(h5tx__pins *p, h5tx__pin_fn fn, void *arg) {
  pthread_mutex_lock(&table_lock);
  int rc = own(p, NULL);
  pthread_mutex_unlock(&table_lock);
  for (int k = 0; k < NREADERS; k++) {
    rslot *s = reader(p, k);
    uint64_t pin = __atomic_load_n(&s->pin, __ATOMIC_SEQ_CST);
    if (!pin) continue;
    /* Without a description of our own (own() failed) every pin counts. */
    if (rc == 0 && !is_mine(p, k) && !held(p, reader_off(k))) continue; /* a dead process's */
    fn(arg, __atomic_load_n(&s->pid, __ATOMIC_SEQ_CST), pin - 1,
       __atomic_load_n(&s->time_ns, __ATOMIC_SEQ_CST));
  }
}

/* ---- committers ------------------------------------------------------------------------------
 */

int h5tx__commit_enter(h5tx__pins *p) {
  if (!p) return 0;
  pthread_mutex_lock(&table_lock);
  int busy = 0;
  if (own(p, NULL) == 0) {
    busy = p->committing > 0 || held(p, COMMIT_BYTE);
    /* A read lock never conflicts with another: taking it cannot fail for
     * being held. If it fails otherwise, others just do not see us. */
    if (p->committing++ == 0) (void)lock_byte(p->fd, COMMIT_BYTE, F_RDLCK, 0);
  }
  pthread_mutex_unlock(&table_lock);
  h5tx__test_stop("commit-enter");
  return busy;
}

void h5tx__commit_leave(h5tx__pins *p) {
  if (!p) return;
  pthread_mutex_lock(&table_lock);
  /* in a fork child since enter, the count is the parent's: own() reset it */
  if (p->pid == getpid() && p->committing > 0 && --p->committing == 0)
    (void)lock_byte(p->fd, COMMIT_BYTE, F_UNLCK, 0);
  pthread_mutex_unlock(&table_lock);
}

/* ---- leases -----------------------------------------------------------------------------------
 */

static uint64_t name_hash(const char *name, size_t n) {
  uint64_t h = h5tx__hash(name, n);
  return h ? h : 1;
}

static int same_name(const lslot *s, const char *name, size_t n, uint64_t h) {
  return __atomic_load_n(&s->hash, __ATOMIC_SEQ_CST) == h && s->name_len == n &&
         memcmp(s->name, name, n) == 0;
}

static void holder_of(const lslot *s, int k, int mine, h5tx__holder *h) {
  h->slot = k;
  h->pid = s->pid;
  h->token = s->token;
  h->time_ns = s->time_ns;
  size_t hl = s->host_len < sizeof s->host ? s->host_len : sizeof s->host;
  memcpy(h->host, s->host, hl);
  h->host[hl] = 0;
  h->mine = mine;
}

/* The live holder of `name`: its slot, or -1. Called with table_lock and
 * LEASE_BYTE held, or for a report. */
static int live_lease(h5tx__pins *p, const char *name, size_t n, uint64_t h, h5tx__holder *out) {
  for (int k = 0; k < NLEASES; k++) {
    lslot *s = lease(p, k);
    if (!same_name(s, name, n, h)) continue;
    int mine = is_mine(p, NREADERS + k);
    if (mine || held(p, lease_off(k))) {
      if (out) holder_of(s, k, mine, out);
      return k;
    }
  }
  return -1;
}

int h5tx__lease_find(h5tx__pins *p, const char *name, h5tx__holder *out, h5tx_error *err) {
  size_t n = strlen(name);
  pthread_mutex_lock(&table_lock);
  int rc = own(p, err);
  pthread_mutex_unlock(&table_lock);
  if (rc) return rc;
  return live_lease(p, name, n, name_hash(name, n), out) >= 0 ? H5TX_EBUSY : 0;
}

int h5tx__lease_claim(h5tx__pins *p, const char *name, uint64_t token, const char *host, int *slot,
                      h5tx__holder *holder, h5tx_error *err) {
  size_t n = strlen(name);
  if (n > H5TX_MAX_NAME)
    return h5tx__err(err, H5TX_EINVAL, "file name of %zu bytes is longer than %d", n,
                     H5TX_MAX_NAME);
  uint64_t h = name_hash(name, n);
  pthread_mutex_lock(&table_lock);
  int rc = own(p, err);
  if (rc) goto out;
  /* One claimer of a lease at a time, in all processes; a claimer that
   * dies here releases LEASE_BYTE with its description. */
  if (lock_byte(p->fd, LEASE_BYTE, F_WRLCK, 1) != 0) {
    int e = errno;
    rc = h5tx__err(err, h5tx__errno_code(e), "lease table %s: %s", p->path, strerror(e));
    goto out;
  }
  if (live_lease(p, name, n, h, holder) >= 0) {
    rc = H5TX_EBUSY;
    goto unlock;
  }
  holder->pid = 0;
  rc = H5TX_EBUSY; /* until a slot is ours */
  for (int k = 0; k < NLEASES; k++) {
    if (p->mine[NREADERS + k]) continue;
    /* Free or a dead holder's: ours if the kernel gives us its lock. */
    if (lock_byte(p->fd, lease_off(k), F_WRLCK, 0) != 0) {
      if (errno == EAGAIN) continue;
      rc = lock_err(p, "lease table", err);
      break;
    }
    set_mine(p, NREADERS + k, 1);
    lslot *s = lease(p, k);
    __atomic_store_n(&s->hash, 0, __ATOMIC_SEQ_CST);
    h5tx__test_stop("lease-claim");
    s->token = token;
    s->time_ns = h5tx__now_ns();
    s->pid = (uint32_t)p->pid;
    size_t hl = strlen(host);
    if (hl > sizeof s->host) hl = sizeof s->host;
    memcpy(s->host, host, hl);
    s->host_len = (uint16_t)hl;
    memcpy(s->name, name, n);
    s->name_len = (uint16_t)n;
    __atomic_store_n(&s->hash, h, __ATOMIC_SEQ_CST);
    *slot = k;
    rc = 0;
    break;
  }
  if (rc == H5TX_EBUSY)
    h5tx__err(err, H5TX_EBUSY, "lease table full: %d live writers (%s)", NLEASES, p->path);
unlock:
  lock_byte(p->fd, LEASE_BYTE, F_UNLCK, 0);
out:
  pthread_mutex_unlock(&table_lock);
  return rc;
}

void h5tx__lease_release(h5tx__pins *p, int k, uint64_t token) {
  pthread_mutex_lock(&table_lock);
  lslot *s = lease(p, k);
  if (is_mine(p, NREADERS + k) && s->token == token) {
    __atomic_store_n(&s->hash, 0, __ATOMIC_SEQ_CST);
    lock_byte(p->fd, lease_off(k), F_UNLCK, 0);
    set_mine(p, NREADERS + k, 0);
  }
  pthread_mutex_unlock(&table_lock);
}

int h5tx__leases_scan(h5tx__pins *p, h5tx__lease_fn fn, void *arg) {
  pthread_mutex_lock(&table_lock);
  int ok = own(p, NULL) == 0;
  pthread_mutex_unlock(&table_lock);
  for (int k = 0; k < NLEASES; k++) {
    lslot *s = lease(p, k);
    if (!__atomic_load_n(&s->hash, __ATOMIC_SEQ_CST)) continue;
    size_t n = s->name_len;
    if (n == 0 || n > H5TX_MAX_NAME) continue;
    char name[H5TX_MAX_NAME + 1];
    memcpy(name, s->name, n);
    name[n] = 0;
    h5tx__holder h;
    int mine = is_mine(p, NREADERS + k);
    holder_of(s, k, mine, &h);
    int rc = fn(arg, name, &h, !ok || mine || held(p, lease_off(k)));
    if (rc) return rc;
  }
  return 0;
}

/* The first live holder of the store's live table, as a message. */
typedef struct busy_st {
  char what[200];
} busy_st;

static void busy_pin(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since_ns) {
  (void)since_ns;
  busy_st *b = arg;
  if (!b->what[0])
    snprintf(b->what, sizeof b->what, "process %" PRIu32 " reads revision %" PRIu64, pid, rev);
}

static int busy_lease(void *arg, const char *name, const h5tx__holder *h, int alive) {
  busy_st *b = arg;
  if (!alive) return 0;
  snprintf(b->what, sizeof b->what, "process %" PRIu32 " on %s writes %s", h->pid, h->host, name);
  return 1;
}

int h5tx__pins_idle(h5tx__pins *p, const char *verb, const char *path, h5tx_error *err) {
  busy_st b = {{0}};
  h5tx__leases_scan(p, busy_lease, &b);
  if (!b.what[0]) h5tx__pins_scan(p, busy_pin, &b);
  if (b.what[0])
    return h5tx__err(err, H5TX_EBUSY,
                     "cannot %s store %s while it is in use (%s): close it everywhere first", verb,
                     path, b.what);
  return 0;
}
