/* pagecache.c - decoded pages kept per store and process (pagecache.h): a
 * direct-mapped table of whole pages under one mutex. */
#include "pagecache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
  uint64_t seg, off, check;
  uint32_t len; /* 0: empty */
  uint8_t *page;
} slot;

struct h5tx__pcache {
  pthread_mutex_t mu;
  size_t nslots, budget, used;
  slot *slots;
};

h5tx__pcache *h5tx__pcache_new(size_t bytes) {
  h5tx__pcache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->budget = bytes;
  c->nslots = 64;
  if (!(c->slots = calloc(c->nslots, sizeof *c->slots))) {
    free(c);
    return NULL;
  }
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

void h5tx__pcache_free(h5tx__pcache *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nslots; i++)
    free(c->slots[i].page);
  free(c->slots);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static slot *slot_of(h5tx__pcache *c, const h5tx__place *p) {
  uint64_t h = (p->seg * 0x9E3779B97F4A7C15ull) ^ (p->off * 0xC2B2AE3D27D4EB4Full) ^ p->check;
  return &c->slots[(h >> 20) % c->nslots];
}

int h5tx__pcache_get(h5tx__pcache *c, const h5tx__place *p, size_t in, size_t n, void *dst) {
  if (!c || in + n > p->raw) return 0;
  pthread_mutex_lock(&c->mu);
  slot *s = slot_of(c, p);
  int hit = s->len == p->raw && s->seg == p->seg && s->off == p->off && s->check == p->check;
  if (hit) memcpy(dst, s->page + in, n);
  pthread_mutex_unlock(&c->mu);
  return hit;
}

void h5tx__pcache_put(h5tx__pcache *c, const h5tx__place *p, const void *page) {
  if (!c || p->raw == 0) return;
  pthread_mutex_lock(&c->mu);
  slot *s = slot_of(c, p);
  if (s->len != p->raw) {
    /* a page of another size in this slot: make room within the budget */
    size_t after = c->used - s->len + p->raw;
    uint8_t *np = after <= c->budget ? realloc(s->page, p->raw) : NULL;
    if (!np) {
      pthread_mutex_unlock(&c->mu);
      return;
    }
    c->used = after;
    s->page = np;
    s->len = p->raw;
  }
  memcpy(s->page, page, p->raw);
  s->seg = p->seg;
  s->off = p->off;
  s->check = p->check;
  pthread_mutex_unlock(&c->mu);
}
