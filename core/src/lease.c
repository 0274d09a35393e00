/* lease.c - one writer per file: a lease is a slot of the live table
 * (pins.c) that the writer's process holds; a live holder is refused by pid
 * and host, a dead holder's lease is taken over. Taking and dropping a lease
 * touches no index transaction and flushes nothing. */
#include "store.h"

#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int holder_busy(h5tx_store *s, const char *name, const h5tx__holder *h, h5tx_error *err) {
  char when[64] = "?";
  time_t sec = (time_t)(h->time_ns / 1000000000u);
  struct tm tm;
  if (gmtime_r(&sec, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return h5tx__err(err, H5TX_EBUSY,
                   "store %s: file '%s' is being written by pid %u on host %s since %s", s->path,
                   name, h->pid, h->host, when);
}

int h5tx__lease_take(h5tx_store *s, const char *name, uint64_t token, int *slot, h5tx_error *err) {
  if (!s->pins)
    return h5tx__err(err, H5TX_EROFS, "store %s: no reader table; cannot write '%s'", s->path,
                     name);
  h5tx__holder h;
  int rc = h5tx__lease_claim(s->pins, name, token, h5tx__proc_self()->host, slot, &h, err);
  if (rc == H5TX_EBUSY && h.pid) return holder_busy(s, name, &h, err);
  return rc;
}

int h5tx__lease_check(h5tx_store *s, const char *name, h5tx_error *err) {
  if (!s->pins) return 0;
  h5tx__holder h;
  int rc = h5tx__lease_find(s->pins, name, &h, err);
  if (rc == H5TX_EBUSY) return holder_busy(s, name, &h, err);
  return rc;
}

void h5tx__lease_drop(h5tx_store *s, int slot, uint64_t token) {
  if (s->pins && slot >= 0) h5tx__lease_release(s->pins, slot, token);
}

/* ---- h5tx_leases: the table's leases in name order ---- */

typedef struct lease_list {
  h5tx_lease *v;
  size_t n, cap;
  int oom;
} lease_list;

static int collect(void *arg, const char *name, const h5tx__holder *h, int alive) {
  lease_list *l = arg;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    h5tx_lease *v = realloc(l->v, cap * sizeof *v);
    if (!v) {
      l->oom = 1;
      return 1;
    }
    l->v = v;
    l->cap = cap;
  }
  char *nm = strdup(name), *host = strdup(h->host);
  if (!nm || !host) {
    free(nm);
    free(host);
    l->oom = 1;
    return 1;
  }
  l->v[l->n++] = (h5tx_lease){nm, h->pid, host, h->time_ns, alive};
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const h5tx_lease *)a)->name, ((const h5tx_lease *)b)->name);
}

int h5tx_leases(h5tx_store *s, h5tx_lease_fn fn, void *arg, h5tx_error *err) {
  if (!s->pins) return 0;
  lease_list l = {NULL, 0, 0, 0};
  h5tx__leases_scan(s->pins, collect, &l);
  int rc = 0;
  if (l.oom) {
    rc = h5tx__err(err, H5TX_ENOMEM, "store %s: out of memory listing leases", s->path);
  } else {
    if (l.n) qsort(l.v, l.n, sizeof *l.v, by_name);
    for (size_t i = 0; i < l.n && rc == 0; i++)
      rc = fn(arg, &l.v[i]);
  }
  for (size_t i = 0; i < l.n; i++) {
    free((char *)l.v[i].name);
    free((char *)l.v[i].host);
  }
  free(l.v);
  return rc;
}
