/* writer.c - writers: a file's dirty pages (in memory up to a bound, then in
 * a temporary spill file), truncation, and the commit that turns them into
 * one revision in a single write transaction. */
#include "store.h"

#include "codec.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NO_PAGE UINT64_MAX
/* Internal: a commit found nothing to change; its transaction is dropped. */
#define H5TX__ENOCHANGE (-1001)

typedef struct dpage {
  uint64_t page; /* NO_PAGE: empty slot */
  uint8_t *mem;  /* the page, or NULL when spilled */
  int64_t spill; /* offset in the spill file, or -1 */
} dpage;

struct h5tx_writer {
  h5tx_store *s;
  char *name;
  uint64_t token;
  pid_t pid; /* the process that opened it: a fork child only reads */
  int slot;  /* pin of the base revision, -1 if none */
  int lease; /* slot of the file's lease, -1 if none */
  h5tx_rev base;
  uint64_t fid; /* 0: the file does not exist at base, created at commit */
  uint32_t ps;
  int codec, level, durability;
  uint64_t base_len, len;
  uint64_t trunc_page; /* lowest page cut off by a truncation, or NO_PAGE */
  int changed;
  dpage *tab;
  size_t cap, n;
  size_t mem_bytes, limit;
  int spill_fd;
  uint64_t spill_end;
  uint8_t *scratch, *scratch2, *enc;
  h5tx__zpolicy zp; /* whether compression pays, over the commit's pages */
  /* A read transaction held for the length of one call, opened lazily. */
  h5tx__txn *rt;
  h5tx__cur *rc;
};

void h5tx_writer_opts_init(h5tx_writer_opts *o) {
  memset(o, 0, sizeof *o);
  o->base = H5TX_HEAD;
  o->codec = -1;
  o->durability = -1;
}

static uint64_t next_token(void) {
  static uint64_t counter;
  uint64_t c = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
  return ((uint64_t)h5tx__proc_self()->pid << 32) ^ (h5tx__now_ns() << 8) ^ c;
}

/* ---- dirty page table ------------------------------------------------ */

static size_t slot_of(uint64_t page, size_t cap) {
  return (size_t)((page * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static dpage *find(h5tx_writer *w, uint64_t page) {
  if (!w->cap) return NULL;
  for (size_t i = slot_of(page, w->cap);; i = (i + 1) & (w->cap - 1)) {
    if (w->tab[i].page == page) return &w->tab[i];
    if (w->tab[i].page == NO_PAGE) return NULL;
  }
}

static int rehash(h5tx_writer *w, size_t cap) {
  dpage *t = malloc(cap * sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < cap; i++)
    t[i].page = NO_PAGE;
  for (size_t i = 0; i < w->cap; i++) {
    if (w->tab[i].page == NO_PAGE) continue;
    size_t j = slot_of(w->tab[i].page, cap);
    while (t[j].page != NO_PAGE)
      j = (j + 1) & (cap - 1);
    t[j] = w->tab[i];
  }
  free(w->tab);
  w->tab = t;
  w->cap = cap;
  return 0;
}

/* Opened by another process: this is a fork child, which must leave the
 * parent's lease, pin and spill file alone. */
static int forked(const h5tx_writer *w) { return w->pid != getpid(); }

static int fork_err(h5tx_writer *w, h5tx_error *err) {
  return h5tx__err(err, H5TX_EFORK,
                   "store %s: file '%s': writer opened in process %d cannot change it in child %d "
                   "after fork(); open a writer in the child",
                   w->s->path, w->name, (int)w->pid, (int)getpid());
}

static void drop_all(h5tx_writer *w) {
  for (size_t i = 0; i < w->cap; i++)
    free(w->tab[i].page == NO_PAGE ? NULL : w->tab[i].mem);
  free(w->tab);
  w->tab = NULL;
  w->cap = w->n = 0;
  w->mem_bytes = 0;
  /* Give the spill file's space back; it is reused from 0 either way. A
   * fork child shares the file with its parent: it keeps its hands off. */
  if (w->spill_fd >= 0 && w->spill_end && !forked(w)) (void)!ftruncate(w->spill_fd, 0);
  w->spill_end = 0;
}

static int sys_err(h5tx_writer *w, h5tx_error *err, const char *what) {
  int e = errno;
  return h5tx__err(err, h5tx__errno_code(e), "store %s: file '%s': %s: %s", w->s->path, w->name,
                   what, strerror(e));
}

static int spill_open(h5tx_writer *w, h5tx_error *err) {
  if (w->spill_fd >= 0) return 0;
  w->spill_fd = open(w->s->path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (w->spill_fd < 0) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/" H5TX__SPILL_PREFIX "XXXXXX", w->s->path);
    w->spill_fd = mkostemp(tmp, O_CLOEXEC);
    if (w->spill_fd < 0) return sys_err(w, err, "creating spill file");
    unlink(tmp);
  }
  return 0;
}

static int spill_rw(h5tx_writer *w, int write, int64_t off, uint8_t *buf, h5tx_error *err) {
  size_t done = 0;
  while (done < w->ps) {
    ssize_t r = write ? pwrite(w->spill_fd, buf + done, w->ps - done, off + (off_t)done)
                      : pread(w->spill_fd, buf + done, w->ps - done, off + (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;
      return sys_err(w, err, write ? "writing spill file" : "reading spill file");
    }
    done += (size_t)r;
  }
  return 0;
}

/* Add page `page` to the table: in memory while under the bound, else with
 * a slot in the spill file. Its content is not set. */
static int insert(h5tx_writer *w, uint64_t page, dpage **out, h5tx_error *err) {
  if ((w->n + 1) * 2 > w->cap && rehash(w, w->cap ? w->cap * 2 : 64) != 0)
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  dpage e = {page, NULL, -1};
  if (w->mem_bytes + w->ps <= w->limit) {
    if (!(e.mem = malloc(w->ps))) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
    w->mem_bytes += w->ps;
  } else {
    int rc = spill_open(w, err);
    if (rc) return rc;
    e.spill = (int64_t)w->spill_end;
    w->spill_end += w->ps;
  }
  size_t j = slot_of(page, w->cap);
  while (w->tab[j].page != NO_PAGE)
    j = (j + 1) & (w->cap - 1);
  w->tab[j] = e;
  w->n++;
  *out = &w->tab[j];
  return 0;
}

/* ---- base content ------------------------------------------------------ */

static int txn_begin(h5tx_writer *w, h5tx_error *err) {
  if (w->rt) return 0;
  int rc = h5tx__kv_read(w->s->kv, &w->rt, err);
  if (rc) return rc;
  /* The base is pinned; should the pin have been lost and the base
   * collected, its pages read as H5TX_EGONE, never as zeros. */
  h5tx_rev head;
  if ((rc = h5tx__rev_check_pinned(w->s, w->rt, w->base, &head, err)) ||
      (rc = h5tx__kv_cursor(w->rt, KV_PAGES, &w->rc, err))) {
    h5tx__kv_done(w->rt);
    w->rt = NULL;
  }
  return rc;
}

static void txn_end(h5tx_writer *w) {
  if (!w->rt) return;
  h5tx__kv_cursor_close(w->rc);
  h5tx__kv_done(w->rt);
  w->rt = NULL;
  w->rc = NULL;
}

/* The content page `page` had at base, as this writer sees it before its
 * own changes: zeros past a truncation or the base length. */
static int base_load(h5tx_writer *w, uint64_t page, uint8_t *dst, h5tx_error *err) {
  if (!w->fid || page >= w->trunc_page || page * w->ps >= w->base_len) {
    memset(dst, 0, w->ps);
    return 0;
  }
  int rc = txn_begin(w, err);
  if (rc) return rc;
  return h5tx__page_load(w->s, w->rc, w->name, w->fid, page, w->base, w->ps, dst, err);
}

/* The current content of a dirty page into `dst` (may return e->mem). */
static int dirty_content(h5tx_writer *w, dpage *e, uint8_t *dst, const uint8_t **out,
                         h5tx_error *err) {
  if (e->mem) {
    *out = e->mem;
    return 0;
  }
  *out = dst;
  return spill_rw(w, 0, e->spill, dst, err);
}

/* ---- open / close -------------------------------------------------------- */

typedef struct open_arg {
  h5tx_writer *w;
  const h5tx_writer_opts *o;
  h5tx_rev pinned;
  /* results */
  h5tx_rev base;
  uint64_t fid, len;
  uint32_t ps;
} open_arg;

/* Runs in a read transaction, with the lease taken. */
static int open_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  open_arg *a = arg;
  h5tx_writer *w = a->w;
  h5tx_store *s = w->s;
  h5tx_rev head;
  int rc = h5tx__rev_check(s, t, a->pinned, &head, err);
  if (rc) return rc;
  /* Pinned after the lease was taken: no commit of this file can follow it
   * (a rename racing the lease shows as a conflict at commit). */
  a->base = a->pinned;
  h5tx_stat st;
  rc = h5tx__stat(s, t, w->name, a->base, &st, err);
  if (rc == H5TX_ENOENT) {
    if (!a->o->create)
      return h5tx__err(err, H5TX_ENOENT, "store %s: no file '%s' at revision %llu", s->path,
                       w->name, (unsigned long long)a->base);
    /* A new name: the mount must be able to show it beside the files of
     * the writer's base and of head (commit checks head again). */
    if ((rc = h5tx__check_new_name(w->name, err)) ||
        (rc = h5tx__name_clash(t, s->path, w->name, NULL, a->base, H5TX_EEXIST, err)) ||
        (head != a->base &&
         (rc = h5tx__name_clash(t, s->path, w->name, NULL, head, H5TX_EEXIST, err))))
      return rc;
    a->fid = 0;
    a->len = 0;
    a->ps = a->o->page_size ? a->o->page_size : s->page_size;
    return 0;
  }
  if (rc) return rc;
  if (a->o->exclusive)
    return h5tx__err(err, H5TX_EEXIST, "store %s: file '%s' exists", s->path, w->name);
  a->fid = st.file_id;
  a->len = st.length;
  a->ps = st.page_size;
  return 0;
}

/* Free `w`; the lease, the pin and the spill file's space go back unless
 * this is a fork child (then they stay the parent's; closing the child's
 * copy of the spill descriptor leaves the parent's file as it is). */
static void writer_free(h5tx_writer *w) {
  txn_end(w);
  drop_all(w);
  if (w->spill_fd >= 0) close(w->spill_fd);
  if (!forked(w)) {
    h5tx__lease_drop(w->s, w->lease, w->token);
    if (w->slot >= 0) h5tx__unpin(w->s->pins, w->slot);
  }
  free(w->scratch);
  free(w->scratch2);
  free(w->enc);
  free(w->name);
  free(w);
}

int h5tx_writer_open(h5tx_store *s, const char *name, const h5tx_writer_opts *opts,
                     h5tx_writer **out, h5tx_error *err) {
  h5tx_writer_opts def;
  if (!opts) {
    h5tx_writer_opts_init(&def);
    opts = &def;
  }
  int rc = h5tx__check_name(name, err);
  if (rc) return rc;
  if (s->read_only)
    return h5tx__err(err, H5TX_EROFS, "store %s: opened read-only; cannot write '%s'", s->path,
                     name);
  int rc0 = h5tx__check_options("", opts->page_size, opts->codec, opts->durability, err);
  if (rc0) return rc0;

  h5tx_writer *w = calloc(1, sizeof *w);
  if (!w || !(w->name = strdup(name))) {
    free(w);
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  }
  w->s = s;
  w->pid = getpid();
  w->slot = -1;
  w->lease = -1;
  w->spill_fd = -1;
  w->token = next_token();
  w->trunc_page = NO_PAGE;
  w->codec = opts->codec >= 0 ? opts->codec : s->codec;
  w->level = opts->level ? opts->level : s->level;
  w->durability = opts->durability >= 0 ? opts->durability : s->durability;
  w->limit = s->dirty_limit;

  open_arg a = {w, opts, 0, 0, 0, 0, 0};
  /* The lease first (a slot of the live table, no index write, no flush),
   * then the base: pinned, so gc keeps it, and taken after the lease, so
   * no commit of this file can come between the base and this writer. */
  if ((rc = h5tx__lease_take(s, w->name, w->token, &w->lease, err))) goto fail;
  if ((rc = h5tx__pin_rev(s, opts->base, &a.pinned, &w->slot, err))) goto fail;
  h5tx__txn *t;
  if ((rc = h5tx__kv_read(s->kv, &t, err))) goto fail;
  rc = open_fn(t, &a, err);
  h5tx__kv_done(t);
  if (rc) goto fail;
  w->base = a.base;
  w->fid = a.fid;
  w->base_len = w->len = a.len;
  w->ps = a.ps;
  w->changed = a.fid == 0; /* a new file is a change even when empty */
  if (!(w->scratch = malloc(w->ps)) || !(w->scratch2 = malloc(w->ps)) ||
      !(w->enc = malloc(h5tx__page_bound(w->ps)))) {
    rc = h5tx__err(err, H5TX_ENOMEM, "out of memory");
    goto fail;
  }
  if (opts->truncate && w->len) {
    if ((rc = h5tx_writer_truncate(w, 0, err))) goto fail;
  }
  *out = w;
  return 0;
fail:
  writer_free(w);
  return rc;
}

void h5tx_writer_close(h5tx_writer *w) {
  if (!w) return;
  writer_free(w);
}

void h5tx_writer_abort(h5tx_writer *w) {
  txn_end(w);
  drop_all(w);
  w->len = w->base_len;
  w->trunc_page = NO_PAGE;
  w->changed = w->fid == 0;
}

uint64_t h5tx_writer_length(const h5tx_writer *w) { return w->len; }
uint32_t h5tx_writer_page_size(const h5tx_writer *w) { return w->ps; }
h5tx_rev h5tx_writer_base(const h5tx_writer *w) { return w->base; }
int h5tx_writer_dirty(const h5tx_writer *w) { return w->changed || w->n > 0; }

/* ---- read / write / truncate -------------------------------------------- */

int h5tx_writer_read(h5tx_writer *w, uint64_t off, void *buf, size_t len, h5tx_error *err) {
  int rc = h5tx__read_clamp(w->s->path, w->name, off, &len, buf, w->len, err);
  if (rc || len == 0) return rc;
  uint8_t *out = buf;
  while (len > 0 && rc == 0) {
    uint64_t page = off / w->ps;
    size_t in = (size_t)(off % w->ps), n = w->ps - in < len ? w->ps - in : len;
    dpage *e = find(w, page);
    const uint8_t *src;
    if (e) {
      rc = dirty_content(w, e, w->scratch, &src, err);
    } else {
      rc = base_load(w, page, w->scratch, err);
      src = w->scratch;
    }
    if (rc == 0) memcpy(out, src + in, n);
    out += n;
    off += n;
    len -= n;
  }
  txn_end(w);
  return rc;
}

/* Modify bytes [in, in+n) of page `page` to `src` (NULL: zeros). */
static int page_put(h5tx_writer *w, uint64_t page, size_t in, const uint8_t *src, size_t n,
                    h5tx_error *err) {
  int full = in == 0 && n == w->ps;
  dpage *e = find(w, page);
  int rc;
  uint8_t *target;
  if (!e) {
    if ((rc = insert(w, page, &e, err))) return rc;
    target = e->mem ? e->mem : w->scratch;
    if (!full && (rc = base_load(w, page, target, err))) return rc;
  } else {
    target = e->mem ? e->mem : w->scratch;
    if (!e->mem && !full && (rc = spill_rw(w, 0, e->spill, target, err))) return rc;
  }
  if (src)
    memcpy(target + in, src, n);
  else
    memset(target + in, 0, n);
  if (!e->mem) return spill_rw(w, 1, e->spill, target, err);
  return 0;
}

int h5tx_writer_write(h5tx_writer *w, uint64_t off, const void *buf, size_t len, h5tx_error *err) {
  if (forked(w)) return fork_err(w, err);
  if (off > H5TX_MAX_LENGTH || len > H5TX_MAX_LENGTH - off)
    return h5tx__err(err, H5TX_ERANGE,
                     "store %s: file '%s': a write of %zu bytes at %llu would end past the "
                     "largest length, %llu bytes",
                     w->s->path, w->name, len, (unsigned long long)off,
                     (unsigned long long)H5TX_MAX_LENGTH);
  const uint8_t *src = buf;
  int rc = 0;
  uint64_t end = off + len;
  while (len > 0 && rc == 0) {
    uint64_t page = off / w->ps;
    size_t in = (size_t)(off % w->ps), n = w->ps - in < len ? w->ps - in : len;
    rc = page_put(w, page, in, src, n, err);
    src += n;
    off += n;
    len -= n;
  }
  txn_end(w);
  if (rc) return rc;
  if (end > w->len) w->len = end;
  w->changed = 1;
  return 0;
}

int h5tx_writer_truncate(h5tx_writer *w, uint64_t length, h5tx_error *err) {
  if (forked(w)) return fork_err(w, err);
  if (length > H5TX_MAX_LENGTH)
    return h5tx__err(err, H5TX_ERANGE,
                     "store %s: file '%s': length %llu is over the largest, %llu bytes", w->s->path,
                     w->name, (unsigned long long)length, (unsigned long long)H5TX_MAX_LENGTH);
  w->changed = 1;
  if (length >= w->len) {
    w->len = length;
    return 0;
  }
  uint64_t keep = (length + w->ps - 1) / w->ps; /* pages still (partly) inside */
  /* Drop dirty pages past the new end. */
  int any = 0;
  for (size_t i = 0; i < w->cap; i++)
    if (w->tab[i].page != NO_PAGE && w->tab[i].page >= keep) {
      if (w->tab[i].mem) w->mem_bytes -= w->ps;
      free(w->tab[i].mem);
      w->tab[i].page = NO_PAGE;
      w->n--;
      any = 1;
    }
  if (any && rehash(w, w->cap) != 0) return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  /* Zero the tail of the last partial page, so growing again reads zeros. */
  int rc = 0;
  size_t in = (size_t)(length % w->ps);
  if (in) rc = page_put(w, keep - 1, in, NULL, w->ps - in, err);
  txn_end(w);
  if (rc) return rc;
  if (keep < w->trunc_page) w->trunc_page = keep;
  w->len = length;
  return 0;
}

/* ---- commit ---------------------------------------------------------------- */

typedef struct commit_arg {
  h5tx_writer *w;
  const char *msg;
  h5tx_commit_fn progress;
  void *parg;
  dpage **pages; /* dirty pages sorted by page number */
  size_t npages;
  /* results */
  h5tx_rev rev;
  uint64_t fid;
} commit_arg;

static int cmp_page(const void *a, const void *b) {
  uint64_t x = (*(dpage *const *)a)->page, y = (*(dpage *const *)b)->page;
  return x < y ? -1 : x > y;
}

/* Write the commit record of `rev` (changing file `fid`, and `fid2` unless
 * 0) and move head. */
static int put_commit(h5tx__txn *t, h5tx_rev rev, const char *msg, uint64_t fid, uint64_t fid2,
                      uint64_t bytes, uint64_t pages, h5tx_error *err) {
  const h5tx__proc *me = h5tx__proc_self();
  uint8_t fids[16];
  h5tx__le64(fids, fid);
  h5tx__le64(fids + 8, fid2);
  size_t ml = msg ? strlen(msg) : 0;
  h5tx__commit_rec c = {.flags = 0,
                        .parent = rev - 1,
                        .time_ns = h5tx__now_ns(),
                        .pid = me->pid,
                        .host = me->host,
                        .host_len = strlen(me->host),
                        .msg = msg,
                        .msg_len = ml > 65535 ? 65535 : ml,
                        .nfiles = fid2 ? 2 : 1,
                        .fids = fids,
                        .bytes_added = bytes,
                        .pages_added = pages};
  uint8_t key[8];
  h5tx__be64(key, rev);
  void *where;
  int rc = h5tx__kv_reserve(t, KV_COMMITS, key, 8, h5tx__commit_size(&c), &where, err);
  if (rc) return rc;
  h5tx__commit_encode(where, &c);
  return h5tx__meta_put(t, "head", rev, err);
}

/* Is the dirty content `data` (hash `h`) the same as what the file holds at
 * base for `page`? `exists`: a version is stored; `zero`: it is a zero page. */
static int same_as_base(h5tx_writer *w, h5tx__cur *c, uint64_t page, const uint8_t *data,
                        uint64_t h, int *same, h5tx_error *err) {
  h5tx__val k, v;
  *same = 0;
  int rc = h5tx__page_find(c, w->fid, page, w->base, &k, &v, err);
  if (rc == H5TX_ENOENT) {
    *same = h5tx__is_zero(data, w->ps);
    return 0;
  }
  if (rc) return rc;
  /* A base version that fails its checks is simply "different": the new
   * page does not depend on it (a partial write would have failed when it
   * merged), and storing it heals head. */
  h5tx__page_rec r;
  const char *why;
  if (h5tx__page_parse(&k, &v, &r, &why) != 0) return 0;
  if (r.enc == H5TX_ENC_ZERO) {
    *same = h5tx__is_zero(data, w->ps);
    return 0;
  }
  if (r.content != h) return 0;
  if (h5tx__page_decode(&r, w->scratch2, w->ps, &why) != 0) return 0;
  *same = memcmp(w->scratch2, data, w->ps) == 0;
  return 0;
}

static int put_page(h5tx__txn *t, h5tx_writer *w, uint64_t fid, uint64_t page, h5tx_rev rev,
                    const uint8_t *data, uint64_t h, uint64_t *bytes, h5tx_error *err) {
  uint8_t key[H5TX_PAGE_KEY];
  h5tx__page_key(key, fid, page, rev);
  size_t n = h5tx__page_encode(w->enc, key, data, w->ps, h, w->codec, w->level, &w->zp);
  *bytes += n;
  return h5tx__kv_put(t, KV_PAGES, key, sizeof key, w->enc, n, err);
}

static int commit_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  commit_arg *a = arg;
  h5tx_writer *w = a->w;
  h5tx_store *s = w->s;
  h5tx__zpolicy_init(&w->zp); /* again on a replay */
  h5tx_rev head;
  int rc = h5tx__meta_get(t, "head", &head, err);
  if (rc)
    return rc == H5TX_ENOENT ? h5tx__err(err, H5TX_ECORRUPT, "store %s: no head", s->path) : rc;
  /* Pages equal to the base's are not stored: the base must still be there. */
  if ((rc = h5tx__rev_check_pinned(s, t, w->base, &head, err))) return rc;
  /* Conflict: has the name or the file moved on since base? */
  uint64_t fid_now = 0;
  h5tx_rev at = 0;
  rc = h5tx__name_lookup(t, w->name, head, &fid_now, &at, err);
  if (rc && rc != H5TX_ENOENT) return rc;
  if (fid_now != w->fid && at > w->base)
    return h5tx__err(err, H5TX_ECONFLICT,
                     "store %s: file '%s' was %s by revision %llu after this writer's base %llu",
                     s->path, w->name, fid_now ? "created" : "removed", (unsigned long long)at,
                     (unsigned long long)w->base);
  if (w->fid) {
    uint64_t len_now;
    if ((rc = h5tx__length_lookup(t, w->fid, head, &len_now, &at, err))) return rc;
    if (at > w->base)
      return h5tx__err(err, H5TX_ECONFLICT,
                       "store %s: file '%s' was changed by revision %llu after this writer's "
                       "base %llu",
                       s->path, w->name, (unsigned long long)at, (unsigned long long)w->base);
  }
  h5tx_rev rev = head + 1;
  uint64_t fid = w->fid;
  uint8_t k8[8];
  /* A file created meanwhile at a directory above the name, or under it. */
  if (!fid && (rc = h5tx__name_clash(t, s->path, w->name, NULL, head, H5TX_ECONFLICT, err)))
    return rc;
  if (!fid) {
    if ((rc = h5tx__meta_get(t, "next_file_id", &fid, err))) return rc;
    if ((rc = h5tx__meta_put(t, "next_file_id", fid + 1, err))) return rc;
    uint8_t fr[16 + H5TX_MAX_NAME];
    size_t nl = strlen(w->name);
    memset(fr, 0, 16);
    h5tx__le32(fr, w->ps);
    h5tx__le64(fr + 8, rev);
    memcpy(fr + 16, w->name, nl);
    h5tx__be64(k8, fid);
    if ((rc = h5tx__kv_put(t, KV_FILES, k8, 8, fr, 16 + nl, err))) return rc;
    uint8_t nk[H5TX_NAME_KEY_MAX];
    size_t kl = h5tx__name_key(nk, w->name, nl, rev);
    h5tx__le64(k8, fid);
    if ((rc = h5tx__kv_put(t, KV_NAMES, nk, kl, k8, 8, err))) return rc;
  }
  uint64_t bytes = 0, pages = 0;
  uint64_t end_page = (w->len + w->ps - 1) / w->ps;
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, KV_PAGES, &c, err))) return rc;
  for (size_t i = 0; i < a->npages && rc == 0; i++) {
    dpage *e = a->pages[i];
    if (e->page >= end_page) continue;
    const uint8_t *data;
    if ((rc = dirty_content(w, e, w->scratch, &data, err))) break;
    uint64_t h = h5tx__hash(data, w->ps);
    int same = 0;
    if (w->fid) {
      /* Equal to the stored version: reads at the new revision find that
       * version, so nothing is stored (past a truncation too). */
      if ((rc = same_as_base(w, c, e->page, data, h, &same, err))) break;
    } else {
      same = h5tx__is_zero(data, w->ps);
    }
    if (!same) {
      rc = put_page(t, w, fid, e->page, rev, data, h, &bytes, err);
      pages++;
    }
    int stop = rc == 0 && a->progress ? a->progress(a->parg, i + 1, a->npages) : 0;
    if (stop)
      rc = h5tx__err(err, stop,
                     "store %s: file '%s': commit stopped by the caller after %zu of %zu pages; "
                     "nothing was committed",
                     s->path, w->name, i + 1, a->npages);
  }
  /* Tombstones: stored non-zero pages past a truncation that no dirty page
   * replaces, so that they read as zeros from this revision on. */
  if (rc == 0 && w->fid && w->trunc_page != NO_PAGE) {
    memset(w->scratch, 0, w->ps);
    uint64_t zh = h5tx__hash(w->scratch, w->ps);
    uint64_t p = w->trunc_page;
    h5tx__val k, v;
    uint8_t key[H5TX_PAGE_KEY];
    for (;;) {
      /* First key >= (fid, p, ~base): the newest version <= base of page p,
       * or else a version of a later page. */
      h5tx__page_key(key, w->fid, p, w->base);
      rc = h5tx__kv_seek(c, key, sizeof key, &k, &v, err);
      if (rc == H5TX_ENOENT) {
        rc = 0;
        break;
      }
      if (rc) break;
      const uint8_t *kp = k.p;
      if (k.n != H5TX_PAGE_KEY || h5tx__get_be64(kp) != w->fid) break;
      uint64_t kpage = h5tx__get_be64(kp + 8);
      if (kpage != p) { /* page p has nothing <= base: look at kpage */
        p = kpage;
        continue;
      }
      dpage *e = find(w, p);
      if (!(e && p < end_page) && v.n >= 2 && ((const uint8_t *)v.p)[1] != H5TX_ENC_ZERO) {
        if ((rc = put_page(t, w, fid, p, rev, w->scratch, zh, &bytes, err))) break;
        pages++;
      }
      p++;
    }
  }
  h5tx__kv_cursor_close(c);
  if (rc) return rc;
  /* Nothing stored, same length, same file: no revision. */
  if (pages == 0 && w->fid && w->len == w->base_len) return H5TX__ENOCHANGE;
  uint8_t lk[H5TX_LEN_KEY], lv[8];
  h5tx__len_key(lk, fid, rev);
  h5tx__le64(lv, w->len);
  if ((rc = h5tx__kv_put(t, KV_LENGTHS, lk, sizeof lk, lv, 8, err))) return rc;
  if ((rc = put_commit(t, rev, a->msg, fid, 0, bytes, pages, err))) return rc;
  a->rev = rev;
  a->fid = fid;
  return 0;
}

int h5tx_writer_commit(h5tx_writer *w, const char *message, h5tx_rev *rev, h5tx_error *err) {
  return h5tx_writer_commit_progress(w, message, NULL, NULL, rev, err);
}

int h5tx_writer_commit_progress(h5tx_writer *w, const char *message, h5tx_commit_fn fn, void *arg,
                                h5tx_rev *rev, h5tx_error *err) {
  if (forked(w)) return fork_err(w, err);
  if (!h5tx_writer_dirty(w)) { /* every change of length also marks it changed */
    if (rev) *rev = w->base;
    return 0;
  }
  commit_arg a = {w, message, fn, arg, NULL, 0, 0, 0};
  if (w->n) {
    if (!(a.pages = malloc(w->n * sizeof *a.pages)))
      return h5tx__err(err, H5TX_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->cap; i++)
      if (w->tab[i].page != NO_PAGE) a.pages[a.npages++] = &w->tab[i];
    qsort(a.pages, a.npages, sizeof *a.pages, cmp_page);
  }
  /* Each page record takes at most a page plus its header and LMDB's. */
  int rc = h5tx__kv_prepare(w->s->kv, (uint64_t)a.npages * (w->ps + 64), err);
  if (rc == 0) rc = h5tx__kv_write(w->s->kv, commit_fn, &a, w->durability == H5TX_SYNC, err);
  free(a.pages);
  if (rc == H5TX__ENOCHANGE) {
    a.rev = w->base;
    a.fid = w->fid;
    rc = 0;
  }
  /* H5TX_ESYNC: the commit landed; only its flush failed. The writer goes
   * on from the new revision, and the message says which it is. */
  int landed = rc == H5TX_ESYNC;
  if (landed && err) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    h5tx__err(err, H5TX_ESYNC, "'%s' committed as revision %llu: %s", w->name,
              (unsigned long long)a.rev, why);
  }
  if (rc && !landed) return rc;
  w->base = a.rev;
  w->fid = a.fid;
  w->base_len = w->len;
  w->trunc_page = NO_PAGE;
  w->changed = 0;
  drop_all(w);
  if (w->slot >= 0) h5tx__pin_move(w->s->pins, w->slot, w->base);
  if (rev) *rev = a.rev;
  return rc;
}

/* ---- remove and rename ------------------------------------------------------ */

typedef struct rename_arg {
  h5tx_store *s;
  const char *from, *to, *msg; /* to == NULL: remove */
  h5tx_rev rev;
} rename_arg;

/* Point `name` at file `fid` (0: absent) from revision `rev` on. */
static int set_name(h5tx__txn *t, const char *name, uint64_t fid, h5tx_rev rev, h5tx_error *err) {
  uint8_t nk[H5TX_NAME_KEY_MAX], v[8];
  size_t kl = h5tx__name_key(nk, name, strlen(name), rev);
  h5tx__le64(v, fid);
  return h5tx__kv_put(t, KV_NAMES, nk, kl, v, 8, err);
}

/* Record in lengths that file `fid` changed at `rev` (its length as at
 * head), so writers based on earlier revisions get a conflict. */
static int mark_changed(h5tx__txn *t, uint64_t fid, h5tx_rev head, h5tx_rev rev, h5tx_error *err) {
  uint64_t len = 0;
  int rc = h5tx__length_lookup(t, fid, head, &len, NULL, err);
  if (rc && rc != H5TX_ENOENT) return rc;
  uint8_t lk[H5TX_LEN_KEY], lv[8];
  h5tx__len_key(lk, fid, rev);
  h5tx__le64(lv, len);
  return h5tx__kv_put(t, KV_LENGTHS, lk, sizeof lk, lv, 8, err);
}

/* One commit that moves `from` to `to`, or removes it (to == NULL). */
static int rename_fn(h5tx__txn *t, void *arg, h5tx_error *err) {
  rename_arg *a = arg;
  int rc = h5tx__lease_check(a->s, a->from, err);
  if (!rc && a->to) rc = h5tx__lease_check(a->s, a->to, err);
  if (rc) return rc;
  h5tx_rev head;
  if ((rc = h5tx__meta_get(t, "head", &head, err))) return rc;
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
  h5tx_rev rev = head + 1;
  if ((a->to && (rc = set_name(t, a->to, fid, rev, err))) ||
      (rc = set_name(t, a->from, 0, rev, err)) || (rc = mark_changed(t, fid, head, rev, err)))
    return rc;
  if (old_to && (rc = mark_changed(t, old_to, head, rev, err))) return rc;
  if ((rc = put_commit(t, rev, a->msg, fid, old_to, 0, 0, err))) return rc;
  a->rev = rev;
  return 0;
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
  rename_arg a = {s, from, to, message, 0};
  rc = h5tx__kv_write(s->kv, rename_fn, &a, s->durability == H5TX_SYNC, err);
  if ((rc == 0 || rc == H5TX_ESYNC) && rev) *rev = a.rev; /* ESYNC: landed */
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
