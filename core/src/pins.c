/* pins.c - the reader table: 4096 slots in a shared mapped file; a slot is
 * claimed by compare-and-swap on its owner pid, so no lock is taken. */
#include "pins.h"

#include "internal.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSLOTS 4096
#define HDR 64
#define MAGIC "H5TXRDR1"

typedef struct slot {
  uint64_t owner; /* pid | claim counter << 32; 0 free */
  uint64_t start;
  uint64_t boot;
  uint64_t pin; /* rev + 1; 0 none */
  uint64_t time_ns;
  uint64_t reserved[3];
} slot;
_Static_assert(sizeof(slot) == 64, "slot layout");

struct h5tx__pins {
  uint8_t *map;
  size_t size;
};

static uint64_t claims;

static slot *slots(h5tx__pins *p) { return (slot *)(p->map + HDR); }

int h5tx__pins_open(const char *dir, h5tx__pins **out, h5tx_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/" H5TX__PINS_FILE, dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666); /* less the umask */
  if (fd < 0)
    return h5tx__err(err, h5tx__errno_code(errno), "store %s: reader table: %s", dir,
                     strerror(errno));
  size_t size = HDR + (size_t)NSLOTS * sizeof(slot);
  /* Allocate every block now: writing a page of a shared mapping that has
   * no block yet makes the kernel allocate one, and on a full disk that is
   * SIGBUS, not an error. posix_fallocate also sets the size. */
  int fe = 0;
  if ((fe = posix_fallocate(fd, 0, (off_t)size)) != 0) {
    int e = fe;
    close(fd);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: reader table: %s", dir, strerror(e));
  }
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (m == MAP_FAILED)
    return h5tx__err(err, h5tx__errno_code(e), "store %s: reader table: mmap: %s", dir,
                     strerror(e));
  h5tx__pins *p = malloc(sizeof *p);
  if (!p) {
    munmap(m, size);
    return h5tx__err(err, H5TX_ENOMEM, "store %s: out of memory", dir);
  }
  p->map = m;
  p->size = size;
  if (memcmp(p->map, MAGIC, 8) != 0) {
    /* New file (all zeros) or garbage: the table holds nothing durable. */
    uint8_t hdr[HDR] = MAGIC;
    uint32_t n = NSLOTS;
    memcpy(hdr + 8, &n, 4);
    memcpy(p->map, hdr, HDR);
  }
  *out = p;
  return 0;
}

void h5tx__pins_close(h5tx__pins *p) {
  if (!p) return;
  munmap(p->map, p->size);
  free(p);
}

static int owner_alive(const slot *s, uint64_t owner) {
  uint64_t start = __atomic_load_n(&s->start, __ATOMIC_SEQ_CST);
  uint64_t boot = __atomic_load_n(&s->boot, __ATOMIC_SEQ_CST);
  if (start == 0) return 1; /* being claimed right now */
  return h5tx__proc_alive((uint32_t)owner, start, boot, NULL);
}

int h5tx__pin(h5tx__pins *p, h5tx_rev rev, int *out, h5tx_error *err) {
  const h5tx__proc *me = h5tx__proc_self();
  slot *sl = slots(p);
  /* Start at a slot derived from the pid to spread processes out. */
  unsigned first = (me->pid * 2654435761u) % NSLOTS;
  for (unsigned i = 0; i < NSLOTS; i++) {
    unsigned k = (first + i) % NSLOTS;
    slot *s = &sl[k];
    uint64_t owner = __atomic_load_n(&s->owner, __ATOMIC_SEQ_CST);
    if (owner != 0 && owner_alive(s, owner)) continue;
    /* Free, or its owner is dead: claim it. */
    /* The counter makes every claim's owner word unique, so two claimers
     * racing for a slot whose dead owner had our pid cannot both win. */
    uint64_t mine = (uint64_t)me->pid | (__atomic_add_fetch(&claims, 1, __ATOMIC_SEQ_CST) << 32);
    if (!__atomic_compare_exchange_n(&s->owner, &owner, mine, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST))
      continue;
    __atomic_store_n(&s->start, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->pin, rev + 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->boot, me->boot, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->time_ns, h5tx__now_ns(), __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->start, me->start, __ATOMIC_SEQ_CST);
    *out = (int)k;
    return 0;
  }
  return h5tx__err(err, H5TX_EBUSY, "reader table full: %d live snapshots", NSLOTS);
}

void h5tx__pin_move(h5tx__pins *p, int k, h5tx_rev rev) {
  __atomic_store_n(&slots(p)[k].pin, rev + 1, __ATOMIC_SEQ_CST);
}

void h5tx__unpin(h5tx__pins *p, int k) {
  slot *s = &slots(p)[k];
  __atomic_store_n(&s->pin, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&s->owner, 0, __ATOMIC_SEQ_CST);
}

void h5tx__pins_scan(h5tx__pins *p, h5tx__pin_fn fn, void *arg) {
  slot *sl = slots(p);
  for (unsigned k = 0; k < NSLOTS; k++) {
    slot *s = &sl[k];
    uint64_t owner = __atomic_load_n(&s->owner, __ATOMIC_SEQ_CST);
    if (!owner) continue;
    uint64_t pin = __atomic_load_n(&s->pin, __ATOMIC_SEQ_CST);
    if (!pin) continue;
    if (!owner_alive(s, owner)) continue;
    fn(arg, (uint32_t)owner, pin - 1, __atomic_load_n(&s->time_ns, __ATOMIC_SEQ_CST));
  }
}
