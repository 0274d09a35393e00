/* lease.c - one writer per file: leases recording pid, host and start time;
 * a dead holder's lease is taken over, a live one refused by name. */
#include "store.h"

#include "proc.h"

#include <stdio.h>
#include <time.h>

static int holder_busy(h5tx_store *s, const char *name, const h5tx__lease_rec *l, h5tx_error *err) {
  char when[64] = "?";
  time_t sec = (time_t)(l->time_ns / 1000000000u);
  struct tm tm;
  if (gmtime_r(&sec, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return h5tx__err(err, H5TX_EBUSY,
                   "store %s: file '%s' is being written by pid %u on host %s since %s", s->path,
                   name, l->pid, l->host, when);
}

/* 0: no live lease of someone else; *mine: the lease is ours already. */
static int inspect(h5tx_store *s, h5tx__txn *t, const char *name, uint64_t token, int *mine,
                   h5tx_error *err) {
  const h5tx__proc *me = h5tx__proc_self();
  h5tx__val v;
  *mine = 0;
  int rc = h5tx__kv_get(t, KV_LEASES, name, strlen(name), &v, err);
  if (rc == H5TX_ENOENT) return 0;
  if (rc) return rc;
  h5tx__lease_rec l;
  if (h5tx__lease_parse(&v, &l) != 0) return 0; /* unreadable: treat as dead */
  if (l.pid == me->pid && l.boot == me->boot && strcmp(l.host, me->host) == 0 &&
      l.start == me->start) {
    if (token && l.token == token) {
      *mine = 1;
      return 0;
    }
    return holder_busy(s, name, &l, err); /* another writer in this process */
  }
  if (h5tx__proc_alive(l.pid, l.start, l.boot, l.host)) return holder_busy(s, name, &l, err);
  return 0; /* dead holder */
}

int h5tx__lease_check(h5tx_store *s, h5tx__txn *t, const char *name, uint64_t token,
                      h5tx_error *err) {
  int mine;
  return inspect(s, t, name, token, &mine, err);
}

int h5tx__lease_take(h5tx_store *s, h5tx__txn *t, const char *name, uint64_t token,
                     h5tx_error *err) {
  int mine;
  int rc = inspect(s, t, name, token, &mine, err);
  if (rc || mine) return rc;
  const h5tx__proc *me = h5tx__proc_self();
  h5tx__lease_rec l = {.pid = me->pid,
                       .start = me->start,
                       .boot = me->boot,
                       .time_ns = h5tx__now_ns(),
                       .token = token};
  snprintf(l.host, sizeof l.host, "%s", me->host);
  uint8_t buf[40 + sizeof l.host];
  size_t n = h5tx__lease_encode(buf, &l);
  return h5tx__kv_put(t, KV_LEASES, name, strlen(name), buf, n, err);
}

int h5tx__lease_drop(h5tx_store *s, h5tx__txn *t, const char *name, uint64_t token,
                     h5tx_error *err) {
  int mine;
  int rc = inspect(s, t, name, token, &mine, err);
  if (rc == H5TX_EBUSY) return 0; /* someone else's now: leave it */
  if (rc || !mine) return rc;
  rc = h5tx__kv_del(t, KV_LEASES, name, strlen(name), err);
  return rc == H5TX_ENOENT ? 0 : rc;
}
