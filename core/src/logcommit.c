/* logcommit.c - the one way a revision is made (docs/FORMAT.md, "Commit"):
 * inside the index write transaction, the log commit record is appended
 * to the page log (and flushed for `sync`) and applied to the index by
 * h5tx__apply_commit; a record whose transaction then fails is voided.
 * Also the commits that change only names: remove and rename. */
#include "store.h"

#include "proc.h"

#include <stdio.h>
#include <stdlib.h>

void h5tx__commit_head(h5tx__lcommit *c, h5tx_rev rev, h5tx_rev parent, const char *msg) {
  const h5tx__proc *me = h5tx__proc_self();
  size_t ml = msg ? strlen(msg) : 0;
  *c = (h5tx__lcommit){.rev = rev,
                       .parent = parent,
                       .branch = 0,
                       .time_ns = h5tx__now_ns(),
                       .pid = me->pid,
                       .host = me->host,
                       .host_len = strlen(me->host),
                       .msg = msg ? msg : "",
                       .msg_len = ml > 65535 ? 65535 : ml};
}

void h5tx__log_void(h5tx_store *s, h5tx__logged *lg, int sync) {
  if (!lg->appended) return;
  lg->appended = 0;
  uint8_t z[8] = {0};
  h5tx__plog_rec r = {.kind = PLOG_VOID,
                      .enc = PLOG_ENC_RAW,
                      .key = lg->at.key,
                      .raw = 8,
                      .payload = z,
                      .stored = 8};
  h5tx__place p;
  h5tx_error e = {0};
  /* If even this fails, recovery and repair still see a commit record the
   * index does not have: roll-forward applies it only if it follows head
   * with every page record intact, which is then a whole revision. */
  if (h5tx__plog_append(s->log, lg->cwid, &r, 1, &p, &e) == 0 && sync)
    (void)h5tx__plog_flush(s->log, &e);
}

int h5tx__log_commit(h5tx_store *s, h5tx__txn *t, const h5tx__buf *b, uint64_t pages_wid,
                     h5tx__wid_pages_fn pages, void *arg, int sync, h5tx__logged *lg,
                     h5tx_error *err) {
  h5tx__lcommit c;
  const char *why = NULL;
  if (h5tx__lcommit_parse(b->p, b->n, &c, &why) != 0)
    return h5tx__err(err, H5TX_EINVAL, "store %s: commit record not well formed: %s", s->path, why);
  /* A replay of the transaction (the index grew its map): the record the
   * last attempt appended never committed. */
  h5tx__log_void(s, lg, 0);
  lg->cwid = h5tx__plog_write_id();
  h5tx__plog_rec r = {.kind = PLOG_COMMIT,
                      .enc = PLOG_ENC_RAW,
                      .key = c.rev,
                      .raw = (uint32_t)b->n,
                      .payload = b->p,
                      .stored = (uint32_t)b->n};
  int rc = h5tx__plog_append(s->log, lg->cwid, &r, 1, &lg->at, err);
  if (rc) return rc;
  lg->appended = 1;
  /* sync: every record the index will point at is on disk before it does */
  if (sync && (rc = h5tx__plog_flush(s->log, err))) {
    if (err) {
      char why2[sizeof err->msg];
      snprintf(why2, sizeof why2, "%s", err->msg);
      h5tx__err(err, rc, "store %s: flushing the page log failed, nothing was committed: %s",
                s->path, why2);
    }
    return rc;
  }
  h5tx__place at = lg->at;
  at.wid = pages_wid;
  if ((rc = h5tx__apply_commit(t, &c, &at, pages, arg, err))) return rc;
  /* what recovery needs: the boot this commit was made in, and how far the
   * index has taken in the commit's segment (the end of its batch) */
  uint64_t end = (lg->at.off + lg->at.stored + 4095) / 4096 * 4096;
  if ((rc = h5tx__meta2_put(t, "boot", h5tx__boot_id(), err)) ||
      (rc = h5tx__segment_put(t, lg->at.seg, 0, end, err)))
    return rc;
  if (sync) {
    /* durable: every revision up to it has its records on disk. A nosync
     * commit of another handle may sit below this one unflushed; then
     * durable stays where it was and recovery checks from there. */
    h5tx_rev durable = 0;
    rc = h5tx__meta2_get(t, "durable", &durable, err);
    if (rc == 0 && durable + 1 == c.rev) rc = h5tx__meta2_put(t, "durable", c.rev, err);
  }
  return rc;
}

/* ---- remove and rename ------------------------------------------------------ */

typedef struct rename_arg {
  h5tx_store *s;
  const char *from, *to, *msg; /* to == NULL: remove */
  h5tx__logged lg;
  h5tx_rev rev;
} rename_arg;

static int no_pages(void *arg, uint64_t wid, const h5tx__place **pl, size_t *n, h5tx_error *err) {
  (void)arg;
  (void)wid;
  (void)err;
  *pl = NULL;
  *n = 0;
  return 0;
}

int h5tx__mark_changed(h5tx__txn *t, h5tx__buf *b, uint64_t fid, h5tx_rev head, h5tx_error *err) {
  uint64_t len = 0;
  int rc = h5tx__length_lookup(t, fid, head, &len, NULL, err);
  if (rc && rc != H5TX_ENOENT) return rc;
  h5tx__lop o = {.op = LOP_LENGTH, .fid = fid, .a = len};
  return h5tx__lcommit_add(b, &o) ? h5tx__err(err, H5TX_ENOMEM, "out of memory") : 0;
}

/* One commit that moves `from` to `to`, or removes it (to == NULL). */
static int rename_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  rename_arg *a = arg;
  int rc = h5tx__lease_check(a->s, a->from, err);
  if (!rc && a->to) rc = h5tx__lease_check(a->s, a->to, err);
  if (rc) return rc;
  h5tx_rev head;
  if ((rc = h5tx__meta2_get(t, "head", &head, err))) return rc;
  uint64_t fid = 0, old_to = 0;
  rc = h5tx__name_lookup(t, a->from, head, &fid, NULL, err);
  if (rc == H5TX_ENOENT || (rc == 0 && fid == 0))
    return h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at head (revision %llu)", a->s->path,
                     a->from, (unsigned long long)head);
  if (rc) return rc;
  if (a->to && (rc = h5tx__name_lookup(t, a->to, head, &old_to, NULL, err)) && rc != H5TX_ENOENT)
    return rc;
  if (a->to && (rc = h5tx__name_clash(t, a->s->path, a->to, a->from, head, H5TX_EEXIST, err)))
    return rc;
  h5tx__lcommit c;
  h5tx__buf b = {0};
  h5tx__commit_head(&c, head + 1, head, a->msg);
  h5tx__lop to = {.op = LOP_NAME, .fid = fid, .name = a->to, .name_len = a->to ? strlen(a->to) : 0};
  h5tx__lop from = {.op = LOP_NAME, .fid = 0, .name = a->from, .name_len = strlen(a->from)};
  if (h5tx__lcommit_begin(&b, &c) || (a->to && h5tx__lcommit_add(&b, &to)) ||
      h5tx__lcommit_add(&b, &from))
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
  if (rc == 0) rc = h5tx__mark_changed(t, &b, fid, head, err);
  if (rc == 0 && old_to) rc = h5tx__mark_changed(t, &b, old_to, head, err);
  if (rc == 0)
    rc = h5tx__log_commit(a->s, t, &b, 0, no_pages, NULL, a->s->durability == H5TX_SYNC, &a->lg,
                          err);
  h5tx__buf_free(&b);
  if (rc == 0) a->rev = head + 1;
  return rc;
}

static int move(h5tx_store *s, const char *from, const char *to, const char *message, h5tx_rev *rev,
                h5tx_error *err) {
  int rc = h5tx__check_name(from, err);
  if (!rc && to) rc = h5tx__check_new_name(to, err);
  if (rc) return rc;
  if (to && strcmp(from, to) == 0)
    return h5tx__err(err, H5TX_EINVAL, "store %s: cannot rename '%s' to itself", s->path, from);
  if (s->read_only)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot %s '%s'", s->path,
                     to ? "rename" : "remove", from);
  rename_arg a = {.s = s, .from = from, .to = to, .msg = message};
  rc = h5tx__kv_write(s->kv, rename_fn, &a, 0, err);
  if (rc) h5tx__log_void(s, &a.lg, s->durability == H5TX_SYNC);
  if (rc == 0 && rev) *rev = a.rev;
  return rc;
}

int h5tx_remove(h5tx_store *s, const char *name, const char *message, h5tx_rev *rev,
                h5tx_error *err) {
  return move(s, name, NULL, message, rev, err);
}

int h5tx_rename(h5tx_store *s, const char *from, const char *to, const char *message, h5tx_rev *rev,
                h5tx_error *err) {
  return move(s, from, to, message, rev, err);
}
