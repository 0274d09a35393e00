/* textfiles.c - the text files of .h5tx: the commit log and the mount's
 * counters, generated at each open. */
#include "fs_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include "h5tx_common.h"

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + (size_t)n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

typedef struct log_arg {
  sbuf *b;
  const h5tx_common_tags *tags;
} log_arg;

static int log_commit(void *arg, const h5tx_commit *c) {
  log_arg *a = arg;
  char when[32];
  sb_printf(a->b, "revision %" PRIu64 "  %s  pid %" PRIu32 " on %s", c->rev,
            h5tx_common_time(when, c->time_ns, 0), c->pid, c->host ? c->host : "?");
  for (size_t i = 0; i < a->tags->n; i++)
    if (a->tags->v[i].rev == c->rev) sb_printf(a->b, "  tag %s", a->tags->v[i].name);
  sb_printf(a->b, "%s\n", c->collected ? "  (collected)" : "");
  if (c->message && c->message[0]) sb_printf(a->b, "    %s\n", c->message);
  for (uint32_t i = 0; i < c->nfiles; i++)
    sb_printf(a->b, "    file %s\n", c->files[i]);
  return 0;
}

/* The text of .h5tx/log or .h5tx/stats, now. Returns an errno. */
static int make_text(h5tx_fuse__fs *fs, int kind, sbuf *b) {
  if (kind == K_MSTATS) {
    size_t writers = 0;
    pthread_mutex_lock(&fs->lock);
    for (node *n = fs->wlist; n; n = n->wnext)
      writers++;
    pthread_mutex_unlock(&fs->lock);
    h5tx_rev head = 0;
    h5tx_store_head(fs->s, &head, NULL);
    sb_printf(b,
              "reads %" PRIu64 "\nbytes %" PRIu64 "\ncommits %" PRIu64
              "\nwriters %zu\nhead %" PRIu64 "\n",
              atomic_load(&fs->reads), atomic_load(&fs->bytes), atomic_load(&fs->commits), writers,
              head);
    return b->oom ? ENOMEM : 0;
  }
  h5tx_common_tags tags;
  h5tx_error e = {0, ""};
  int rc = h5tx_common_tags_load(fs->s, &tags, &e);
  log_arg a = {b, &tags};
  if (!rc) rc = h5tx_log(fs->s, H5TX_HEAD, log_commit, &a, &e);
  h5tx_common_tags_free(&tags);
  if (rc) {
    h5tx_fuse__log(fs, "log: %s", e.msg[0] ? e.msg : h5tx_strerror(rc));
    return h5tx_fuse__to_errno(rc);
  }
  return b->oom ? ENOMEM : 0;
}

void h5tx_fuse__open_text(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi) {
  sbuf b = {0};
  int rc = make_text(fs, n->kind, &b);
  fh *f = rc ? NULL : h5tx_fuse__fh_new(fs, F_TEXT, n);
  if (!f) {
    free(b.p);
    fuse_reply_err(req, rc ? rc : ENOMEM);
    return;
  }
  f->buf = b.p;
  f->len = b.len;
  fi->direct_io = 1; /* generated anew at each open; its size is not known before */
  h5tx_fuse__reply_open_fh(fs, req, fi, f);
}
