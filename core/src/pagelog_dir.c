/* pagelog_dir.c - the page log in a local directory: segment files
 * `SSSSSSSSSSSSSSSS.seg`, batches of records with raw pages aligned for a
 * direct pread (docs/FORMAT.md, "The page log"). The only place that knows
 * the segment and batch byte layout. */
#include "pagelog.h"

#include "codec.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_MAGIC "H5TXSEG2"
#define BAT_MAGIC "H5TXBAT2"
#define ENTRY 48
#define ENTRY0 64
#define NFD 16 /* cached read descriptors */
#define MAX_IOV 512
#define NBAD 16 /* segments remembered one by one as untrusted */

struct h5tx__plog {
  char *dir;
  uint8_t sid[16];
  int read_only;
  uint64_t seg_size;
  pthread_mutex_t mu;
  /* the open segment this process appends to; fd -1 when none */
  int fd;
  pid_t pid;
  uint64_t seg, end, nbatches;
  /* descriptors written since the last flush (rolled segments) */
  int pending[8];
  uint64_t pending_seg[8];
  int npending;
  int dirty, dir_dirty;
  /* segments a flush failed on (h5tx__plog_untrusted); beyond NBAD of
   * them, every segment up to bad_upto */
  uint64_t bad[NBAD];
  int nbad;
  uint64_t bad_upto;
  /* read descriptors, by segment */
  struct {
    uint64_t seg;
    int fd;
  } rd[NFD];
  unsigned rd_next;
};

static const uint8_t zeros[4096];

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static void seg_path(const h5tx__plog *l, uint64_t seg, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%016" PRIx64 ".seg", l->dir, seg);
}

uint64_t h5tx__plog_write_id(void) {
  uint64_t v = 0;
  while (v == 0) {
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
      v = h5tx__now_ns() ^ ((uint64_t)getpid() << 32);
  }
  return v;
}

uint64_t h5tx__plog_check(const uint8_t sid[16], const h5tx__place *p, uint64_t payload_hash) {
  uint8_t b[64] = {0};
  memcpy(b, sid, 16);
  h5tx__le64(b + 16, p->wid);
  h5tx__le64(b + 24, p->key);
  b[32] = p->kind;
  b[33] = p->enc;
  h5tx__le32(b + 36, p->stored);
  h5tx__le32(b + 40, p->raw);
  h5tx__le64(b + 44, p->content);
  h5tx__le64(b + 52, payload_hash);
  return h5tx__hash(b, 60);
}

static int io_err(h5tx_error *err, int e, const char *what, const char *path) {
  return h5tx__err(err, h5tx__errno_code(e), "page log %s: %s: %s", path, what, strerror(e));
}

int h5tx__plog_open(const char *dir, const uint8_t sid[16], int create, int read_only,
                    uint64_t seg_size, h5tx__plog **out, h5tx_error *err) {
  *out = NULL;
  if (create && mkdir(dir, 0777) != 0 && errno != EEXIST)
    return io_err(err, errno, "cannot create the directory", dir);
  struct stat st;
  if (stat(dir, &st) != 0) return io_err(err, errno, "cannot open the directory", dir);
  if (!S_ISDIR(st.st_mode))
    return h5tx__err(err, H5TX_ECORRUPT, "page log %s: not a directory", dir);
  h5tx__plog *l = calloc(1, sizeof *l);
  if (!l || !(l->dir = strdup(dir))) {
    free(l);
    return h5tx__err(err, H5TX_ENOMEM, "page log %s: out of memory", dir);
  }
  memcpy(l->sid, sid, 16);
  l->read_only = read_only;
  l->seg_size = seg_size ? seg_size : PLOG_SEG_DEFAULT;
  l->fd = -1;
  for (int i = 0; i < NFD; i++)
    l->rd[i].fd = -1;
  pthread_mutex_init(&l->mu, NULL);
  *out = l;
  return 0;
}

static void seg_header(const h5tx__plog *l, uint64_t seg, uint8_t h[PLOG_HDR]) {
  memset(h, 0, PLOG_HDR);
  memcpy(h, SEG_MAGIC, 8);
  h5tx__le32(h + 8, 2);
  h5tx__le32(h + 12, PLOG_HDR);
  h5tx__le64(h + 16, seg);
  memcpy(h + 24, l->sid, 16);
  h5tx__le64(h + 40, h5tx__now_ns());
  h5tx__le64(h + PLOG_HDR - 8, h5tx__hash(h, PLOG_HDR - 8));
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = pwrite(fd, b, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    b += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

/* Read exactly n bytes; ENODATA at end of file. */
static int pread_all(int fd, void *p, size_t n, uint64_t off) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = pread(fd, b, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return ENODATA;
    b += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

static int max_segment(const h5tx__plog *l, uint64_t *max, h5tx_error *err) {
  DIR *d = opendir(l->dir);
  if (!d) return io_err(err, errno, "cannot list", l->dir);
  *max = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *e;
    if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg") != 0) continue;
    uint64_t v = strtoull(de->d_name, &e, 16);
    if (e == de->d_name + 16 && v > *max) *max = v;
  }
  closedir(d);
  return 0;
}

/* Create this process's next segment; l->mu held. The header is written
 * to a temporary file and flushed, then the file is linked in under the
 * next free number, so no segment file is ever seen without its header,
 * also after a power cut (a writer killed in between leaves a `.tmp-`
 * file, which no reader looks at). */
static int seg_create(h5tx__plog *l, h5tx_error *err) {
  uint64_t n = 0;
  int rc = max_segment(l, &n, err);
  if (rc) return rc;
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.tmp-%d-%llu", l->dir, (int)getpid(),
           (unsigned long long)h5tx__now_ns());
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return io_err(err, errno, "cannot create a segment", tmp);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  int e = fcntl(fd, F_OFD_SETLK, &fl) != 0 ? errno : 0;
  for (; e == 0;) {
    n++;
    uint8_t h[PLOG_HDR];
    seg_header(l, n, h);
    if ((e = pwrite_all(fd, h, PLOG_HDR, 0))) break;
    /* the header on disk before the name: a power cut must not leave a
     * segment whose header never got there (core_powerloss) */
    if (fdatasync(fd) != 0) {
      e = errno;
      break;
    }
    seg_path(l, n, path, sizeof path);
    if (link(tmp, path) == 0) break;
    if (errno != EEXIST) e = errno;
  }
  unlink(tmp);
  /* Go on through the segment's own name (what /proc and lsof show), its
   * lock taken again there. */
  int fd2 = e ? -1 : open(path, O_RDWR | O_CLOEXEC);
  if (!e && fd2 < 0) e = errno;
  close(fd); /* its lock goes: two descriptions' locks would conflict */
  if (!e && fcntl(fd2, F_OFD_SETLK, &fl) != 0) e = errno;
  if (e) {
    if (fd2 >= 0) close(fd2);
    return io_err(err, e, "cannot create a segment", tmp);
  }
  fd = fd2;
  l->fd = fd;
  l->pid = getpid();
  l->seg = n;
  l->end = PLOG_HDR;
  l->nbatches = 0;
  l->dirty = 1;
  l->dir_dirty = 1;
  return 0;
}

/* A flush of segment `seg` failed. What of it was not on disk before may
 * be gone from the page cache, and Linux clears the error once reported, so
 * a later flush that succeeds proves nothing: the segment is never trusted
 * again (h5tx__plog_untrusted) nor appended to. l->mu held. */
static void seg_distrust(h5tx__plog *l, uint64_t seg) {
  for (int i = 0; i < l->nbad; i++)
    if (l->bad[i] == seg) return;
  if (l->nbad < NBAD)
    l->bad[l->nbad++] = seg;
  else if (seg > l->bad_upto)
    l->bad_upto = seg; /* many failures: distrust everything up to it */
}

int h5tx__plog_untrusted(h5tx__plog *l, const h5tx__place *p) {
  pthread_mutex_lock(&l->mu);
  int bad = p->seg <= l->bad_upto;
  for (int i = 0; i < l->nbad && !bad; i++)
    bad = l->bad[i] == p->seg;
  pthread_mutex_unlock(&l->mu);
  return bad;
}

/* Stop appending to the open segment; its descriptor waits for the next
 * flush. l->mu held. */
static void seg_retire(h5tx__plog *l) {
  if (l->fd < 0) return;
  if (l->dirty && l->npending < (int)(sizeof l->pending / sizeof l->pending[0])) {
    l->pending_seg[l->npending] = l->seg;
    l->pending[l->npending++] = l->fd;
  } else {
    if (l->dirty && fdatasync(l->fd) != 0) /* no room to defer it: flush now */
      seg_distrust(l, l->seg);
    close(l->fd);
  }
  l->fd = -1;
  l->dirty = 0;
}

static size_t rec_align(const h5tx__plog_rec *r) {
  if (r->kind == PLOG_PAGE && r->enc == PLOG_ENC_RAW && r->raw && !(r->raw & (r->raw - 1)))
    return r->raw < 4096 ? r->raw : 4096;
  return 8;
}

/* Lay out up to PLOG_MAX_ENTRIES records from recs at batch offset `at`:
 * returns how many fit before `limit` (at least one) and the batch length. */
static size_t layout(const h5tx__plog_rec *recs, size_t n, uint64_t at, uint64_t limit,
                     uint64_t *offs, uint64_t *len) {
  uint64_t cur = at + PLOG_HDR;
  size_t k = 0;
  while (k < n && k < PLOG_MAX_ENTRIES) {
    uint64_t o = align_up(cur, rec_align(&recs[k]));
    if (k > 0 && align_up(o + recs[k].stored, 4096) > limit) break;
    offs[k] = o;
    cur = o + recs[k].stored;
    k++;
  }
  *len = align_up(cur, 4096) - at;
  return k;
}

static int append_batch(h5tx__plog *l, uint64_t wid, const h5tx__plog_rec *recs, size_t k,
                        const uint64_t *offs, uint64_t len, h5tx__place *places, h5tx_error *err) {
  uint8_t h[PLOG_HDR] = {0};
  uint64_t at = l->end;
  memcpy(h, BAT_MAGIC, 8);
  h5tx__le32(h + 8, (uint32_t)k);
  h5tx__le64(h + 16, len);
  h5tx__le64(h + 24, l->seg);
  h5tx__le64(h + 32, at);
  h5tx__le64(h + 40, wid);
  struct iovec iov[2 * PLOG_MAX_ENTRIES + 2];
  int ni = 0;
  iov[ni++] = (struct iovec){h, PLOG_HDR};
  uint64_t cur = at + PLOG_HDR;
  for (size_t i = 0; i < k; i++) {
    const h5tx__plog_rec *r = &recs[i];
    h5tx__place p = {.seg = l->seg,
                     .off = offs[i],
                     .stored = r->stored,
                     .raw = r->raw,
                     .wid = wid,
                     .key = r->key,
                     .kind = r->kind,
                     .enc = r->enc};
    uint64_t ph = (r->kind == PLOG_PAGE && r->enc == PLOG_ENC_RAW)
                      ? r->content
                      : h5tx__hash(r->payload, r->stored);
    p.content = (r->kind == PLOG_PAGE) ? r->content : ph;
    p.check = h5tx__plog_check(l->sid, &p, ph);
    uint8_t *e = h + ENTRY0 + ENTRY * i;
    e[0] = p.kind;
    e[1] = p.enc;
    h5tx__le32(e + 4, p.stored);
    h5tx__le64(e + 8, p.off);
    h5tx__le64(e + 16, p.key);
    h5tx__le32(e + 24, p.raw);
    h5tx__le64(e + 32, p.content);
    h5tx__le64(e + 40, p.check);
    if (offs[i] > cur) iov[ni++] = (struct iovec){(void *)zeros, offs[i] - cur};
    if (r->stored) iov[ni++] = (struct iovec){(void *)r->payload, r->stored};
    cur = offs[i] + r->stored;
    places[i] = p;
  }
  if (at + len > cur) iov[ni++] = (struct iovec){(void *)zeros, at + len - cur};
  h5tx__le64(h + PLOG_HDR - 8, h5tx__hash(h, PLOG_HDR - 8));
  /* pwritev may write short: finish with plain writes */
  uint64_t off = at, left = len;
  int i = 0;
  while (left) {
    ssize_t w = pwritev(l->fd, iov + i, ni - i > IOV_MAX ? IOV_MAX : ni - i, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      char path[PATH_MAX];
      seg_path(l, l->seg, path, sizeof path);
      int e = w < 0 ? errno : EIO;
      /* a failed append leaves garbage past l->end; the next batch goes
       * to a new segment, this one is retired (its valid part ends here) */
      seg_retire(l);
      return io_err(err, e, "cannot append", path);
    }
    off += (uint64_t)w;
    left -= (uint64_t)w;
    while (w > 0 && (size_t)w >= iov[i].iov_len) {
      w -= (ssize_t)iov[i].iov_len;
      i++;
    }
    if (w > 0) {
      iov[i].iov_base = (uint8_t *)iov[i].iov_base + w;
      iov[i].iov_len -= (size_t)w;
    }
  }
  l->end = at + len;
  l->nbatches++;
  l->dirty = 1;
  return 0;
}

static int seal_locked(h5tx__plog *l, h5tx_error *err) {
  if (l->fd < 0 || l->pid != getpid()) return 0;
  uint8_t pl[16];
  h5tx__le64(pl, l->nbatches);
  h5tx__le64(pl + 8, l->end);
  h5tx__plog_rec r = {
      .kind = PLOG_SEAL, .enc = PLOG_ENC_RAW, .raw = 16, .payload = pl, .stored = 16};
  uint64_t off, len;
  h5tx__place p;
  layout(&r, 1, l->end, UINT64_MAX, &off, &len);
  int rc = append_batch(l, 0, &r, 1, &off, len, &p, err);
  if (rc == 0) seg_retire(l);
  return rc;
}

int h5tx__plog_append(h5tx__plog *l, uint64_t wid, const h5tx__plog_rec *recs, size_t n,
                      h5tx__place *places, h5tx_error *err) {
  if (l->read_only) return h5tx__err(err, H5TX_EROFS, "page log %s: read-only", l->dir);
  int rc = 0;
  pthread_mutex_lock(&l->mu);
  if (l->fd >= 0 && l->pid != getpid()) {
    /* a fork child: the segment is the parent's */
    close(l->fd);
    l->fd = -1;
    l->npending = 0;
  }
  while (n && rc == 0) {
    uint64_t offs[PLOG_MAX_ENTRIES], len;
    if (l->fd < 0 && (rc = seg_create(l, err))) break;
    size_t k = layout(recs, n, l->end, l->seg_size, offs, &len);
    if (l->end + len > l->seg_size && l->nbatches > 0) {
      /* full: seal and go on in a new segment (an empty segment takes
       * one record even past the size) */
      if ((rc = seal_locked(l, err))) break;
      continue;
    }
    rc = append_batch(l, wid, recs, k, offs, len, places, err);
    recs += k;
    places += k;
    n -= k;
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}

/* A failed flush of segment `seg`: distrusted, the error in `err` unless
 * one is there already. l->mu held. */
static int flush_failed(h5tx__plog *l, uint64_t seg, int e, int rc, h5tx_error *err) {
  seg_distrust(l, seg);
  if (rc) return rc;
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  return io_err(err, e,
                "cannot flush (its records not known to be on disk are abandoned: later "
                "appends go to a new segment)",
                path);
}

int h5tx__plog_flush(h5tx__plog *l, h5tx_error *err) {
  int rc = 0;
  pthread_mutex_lock(&l->mu);
  /* Every rolled segment is flushed once: one that fails is distrusted,
   * never flushed again (a second try could "succeed" over lost pages). */
  while (l->npending > 0) {
    l->npending--;
    int fd = l->pending[l->npending];
    if (fdatasync(fd) != 0) rc = flush_failed(l, l->pending_seg[l->npending], errno, rc, err);
    close(fd);
  }
  if (rc == 0 && l->fd >= 0 && l->dirty && l->pid == getpid()) {
    if (fdatasync(l->fd) != 0) {
      /* abandoned, unsealed: the next append opens a new segment */
      rc = flush_failed(l, l->seg, errno, rc, err);
      close(l->fd);
      l->fd = -1;
    }
    l->dirty = 0;
  }
  if (rc == 0 && l->dir_dirty) {
    int e = h5tx__sync_dir(l->dir);
    if (e)
      rc = io_err(err, e, "cannot flush", l->dir);
    else
      l->dir_dirty = 0;
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}

int h5tx__plog_seal(h5tx__plog *l, h5tx_error *err) {
  pthread_mutex_lock(&l->mu);
  int rc = seal_locked(l, err);
  pthread_mutex_unlock(&l->mu);
  return rc;
}

void h5tx__plog_close(h5tx__plog *l) {
  if (!l) return;
  h5tx_error e;
  pthread_mutex_lock(&l->mu);
  if (l->fd >= 0 && l->pid == getpid()) seal_locked(l, &e);
  if (l->fd >= 0) close(l->fd);
  for (int i = 0; i < l->npending; i++)
    close(l->pending[i]);
  for (int i = 0; i < NFD; i++)
    if (l->rd[i].fd >= 0) close(l->rd[i].fd);
  pthread_mutex_unlock(&l->mu);
  pthread_mutex_destroy(&l->mu);
  free(l->dir);
  free(l);
}

/* A read descriptor for `seg` (cached). -1 with errno on failure. */
static int rd_fd(h5tx__plog *l, uint64_t seg) {
  pthread_mutex_lock(&l->mu);
  for (int i = 0; i < NFD; i++)
    if (l->rd[i].fd >= 0 && l->rd[i].seg == seg) {
      int fd = dup(l->rd[i].fd);
      pthread_mutex_unlock(&l->mu);
      return fd;
    }
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int ret = -1, e = errno;
  if (fd >= 0) {
    unsigned slot = l->rd_next++ % NFD;
    if (l->rd[slot].fd >= 0) close(l->rd[slot].fd);
    l->rd[slot].seg = seg;
    l->rd[slot].fd = fd;
    ret = dup(fd);
    e = errno;
  }
  pthread_mutex_unlock(&l->mu);
  errno = e;
  return ret;
}

static int verify(h5tx__plog *l, const h5tx__place *p, const void *buf, h5tx_error *err) {
  if (h5tx__plog_check(l->sid, p, h5tx__hash(buf, p->stored)) != p->check)
    return h5tx__err(err, H5TX_ECORRUPT,
                     "checksum mismatch (page log segment %016" PRIx64 " offset %" PRIu64 ")",
                     p->seg, p->off);
  return 0;
}

static int open_for_read(h5tx__plog *l, uint64_t seg, int *fd, h5tx_error *err) {
  *fd = rd_fd(l, seg);
  if (*fd >= 0) return 0;
  if (errno == ENOENT) return H5TX_ENOENT;
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  return io_err(err, errno, "cannot open", path);
}

int h5tx__plog_read_run(h5tx__plog *l, const h5tx__place *p, size_t n, void *const *dsts,
                        h5tx_error *err) {
  size_t i = 0;
  while (i < n) {
    /* a run: same segment, adjacent payloads */
    size_t j = i + 1;
    while (j < n && j - i < MAX_IOV && p[j].seg == p[i].seg &&
           p[j].off == p[j - 1].off + p[j - 1].stored)
      j++;
    int fd, rc = open_for_read(l, p[i].seg, &fd, err);
    if (rc) return rc;
    struct iovec iov[MAX_IOV];
    uint64_t total = 0;
    for (size_t k = i; k < j; k++) {
      iov[k - i] = (struct iovec){dsts[k], p[k].stored};
      total += p[k].stored;
    }
    uint64_t off = p[i].off, got = 0;
    int e = 0;
    size_t first = 0;
    while (got < total) {
      ssize_t r = preadv(fd, iov + first, (int)(j - i - first), (off_t)(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        e = r < 0 ? errno : ENODATA;
        break;
      }
      got += (uint64_t)r;
      while (r > 0 && (size_t)r >= iov[first].iov_len) {
        r -= (ssize_t)iov[first].iov_len;
        first++;
      }
      if (r > 0) {
        iov[first].iov_base = (uint8_t *)iov[first].iov_base + r;
        iov[first].iov_len -= (size_t)r;
      }
    }
    close(fd);
    if (e == ENODATA)
      return h5tx__err(err, H5TX_ECORRUPT,
                       "page log segment %016" PRIx64 " offset %" PRIu64
                       ": the segment ends before the record",
                       p[i].seg, p[i].off);
    if (e) {
      char path[PATH_MAX];
      seg_path(l, p[i].seg, path, sizeof path);
      return io_err(err, e, "cannot read", path);
    }
    for (size_t k = i; k < j; k++)
      if ((rc = verify(l, &p[k], dsts[k], err))) return rc;
    i = j;
  }
  return 0;
}

int h5tx__plog_read(h5tx__plog *l, const h5tx__place *p, void *dst, h5tx_error *err) {
  return h5tx__plog_read_run(l, p, 1, &dst, err);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int h5tx__plog_segments(h5tx__plog *l, uint64_t **segs, size_t *n, h5tx_error *err) {
  *segs = NULL;
  *n = 0;
  DIR *d = opendir(l->dir);
  if (!d) return io_err(err, errno, "cannot list", l->dir);
  size_t cap = 0;
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(d))) {
    char *e;
    if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg") != 0) continue;
    uint64_t v = strtoull(de->d_name, &e, 16);
    if (e != de->d_name + 16) continue;
    if (h5tx__grow(segs, &cap, *n, sizeof **segs, 16)) {
      rc = h5tx__err(err, H5TX_ENOMEM, "page log %s: out of memory", l->dir);
      break;
    }
    (*segs)[(*n)++] = v;
  }
  closedir(d);
  if (rc) {
    free(*segs);
    *segs = NULL;
    *n = 0;
    return rc;
  }
  if (*n) qsort(*segs, *n, sizeof **segs, cmp_u64);
  return 0;
}

int h5tx__plog_busy(h5tx__plog *l, uint64_t seg) {
  pthread_mutex_lock(&l->mu);
  int mine = l->fd >= 0 && l->seg == seg && l->pid == getpid();
  pthread_mutex_unlock(&l->mu);
  if (mine) return 1;
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  int busy = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  close(fd);
  return busy;
}

uint64_t h5tx__plog_open_segment(h5tx__plog *l) {
  pthread_mutex_lock(&l->mu);
  uint64_t seg = l->fd >= 0 && l->pid == getpid() ? l->seg : 0;
  pthread_mutex_unlock(&l->mu);
  return seg;
}

int h5tx__plog_sync_segment(h5tx__plog *l, uint64_t seg, h5tx_error *err) {
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? H5TX_ENOENT : io_err(err, errno, "cannot open", path);
  int e = fdatasync(fd) != 0 ? errno : 0;
  close(fd);
  return e ? io_err(err, e, "cannot flush", path) : 0;
}

int h5tx__plog_delete(h5tx__plog *l, uint64_t seg, h5tx_error *err) {
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  pthread_mutex_lock(&l->mu);
  for (int i = 0; i < NFD; i++)
    if (l->rd[i].fd >= 0 && l->rd[i].seg == seg) {
      close(l->rd[i].fd);
      l->rd[i].fd = -1;
    }
  pthread_mutex_unlock(&l->mu);
  if (unlink(path) != 0 && errno != ENOENT) return io_err(err, errno, "cannot delete", path);
  return 0;
}

int h5tx__plog_size(h5tx__plog *l, uint64_t seg, uint64_t *size, h5tx_error *err) {
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  struct stat st;
  if (stat(path, &st) != 0)
    return errno == ENOENT ? H5TX_ENOENT : io_err(err, errno, "cannot stat", path);
  *size = (uint64_t)st.st_size;
  return 0;
}

int h5tx__plog_scan(h5tx__plog *l, uint64_t seg, h5tx__plog_scan_fn fn, void *arg, uint64_t *end,
                    int *sealed, const char **why, h5tx_error *err) {
  return h5tx__plog_scan_from(l, seg, 0, fn, arg, end, sealed, why, err);
}

int h5tx__plog_scan_from(h5tx__plog *l, uint64_t seg, uint64_t from, h5tx__plog_scan_fn fn,
                         void *arg, uint64_t *end, int *sealed, const char **why, h5tx_error *err) {
  *end = 0;
  *sealed = 0;
  const char *reason = NULL;
  char path[PATH_MAX];
  seg_path(l, seg, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_err(err, errno, "cannot open", path);
  uint8_t h[PLOG_HDR];
  int rc = 0, e = pread_all(fd, h, PLOG_HDR, 0);
  if (e) {
    close(fd);
    if (e == ENODATA)
      return h5tx__err(err, H5TX_ECORRUPT, "page log %s: shorter than its header", path);
    return io_err(err, e, "cannot read", path);
  }
  if (memcmp(h, SEG_MAGIC, 7) != 0 ||
      h5tx__get_le64(h + PLOG_HDR - 8) != h5tx__hash(h, PLOG_HDR - 8)) {
    close(fd);
    return h5tx__err(err, H5TX_ECORRUPT, "page log %s: segment header check mismatch", path);
  }
  if (h[7] != '2' || h5tx__get_le32(h + 8) != 2) {
    close(fd);
    return h5tx__err(err, H5TX_EFORMAT, "page log %s: segment version %u: written by a newer h5tx",
                     path, h5tx__get_le32(h + 8));
  }
  if (h5tx__get_le64(h + 16) != seg || memcmp(h + 24, l->sid, 16) != 0) {
    close(fd);
    return h5tx__err(err, H5TX_ECORRUPT, "page log %s: segment of another %s", path,
                     h5tx__get_le64(h + 16) != seg ? "number" : "store");
  }
  uint64_t at = from > PLOG_HDR && from % 4096 == 0 ? from : PLOG_HDR;
  uint8_t *buf = NULL;
  size_t cap = 0;
  for (;;) {
    *end = at;
    e = pread_all(fd, h, PLOG_HDR, at);
    if (e == ENODATA) {
      /* a clean end, or a header torn short */
      struct stat st;
      if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > at) reason = "a torn batch at the end";
      break;
    }
    if (e) {
      rc = io_err(err, e, "cannot read", path);
      break;
    }
    uint32_t k = h5tx__get_le32(h + 8);
    uint64_t len = h5tx__get_le64(h + 16);
    if (memcmp(h, BAT_MAGIC, 8) != 0 ||
        h5tx__get_le64(h + PLOG_HDR - 8) != h5tx__hash(h, PLOG_HDR - 8)) {
      int allzero = 1;
      for (size_t i = 0; i < PLOG_HDR && allzero; i++)
        allzero = h[i] == 0;
      reason = allzero ? "zeros after the last batch" : "a batch header fails its check";
      break;
    }
    if (k < 1 || k > PLOG_MAX_ENTRIES || len < PLOG_HDR || len % 4096 ||
        h5tx__get_le64(h + 24) != seg || h5tx__get_le64(h + 32) != at ||
        len > ((uint64_t)1 << 40)) {
      reason = "a batch header names another place";
      break;
    }
    struct stat fst;
    if (fstat(fd, &fst) != 0) {
      rc = io_err(err, errno, "cannot stat", path);
      break;
    }
    if (at + len > (uint64_t)fst.st_size) {
      /* checked before allocating: a corrupt length must not ask for
       * terabytes */
      reason = "a torn batch at the end";
      break;
    }
    if (len - PLOG_HDR > cap) {
      uint8_t *nb = realloc(buf, len - PLOG_HDR);
      if (!nb) {
        rc = h5tx__err(err, H5TX_ENOMEM, "page log %s: out of memory", path);
        break;
      }
      buf = nb;
      cap = len - PLOG_HDR;
    }
    e = pread_all(fd, buf, len - PLOG_HDR, at + PLOG_HDR);
    if (e == ENODATA) {
      reason = "a torn batch at the end";
      break;
    }
    if (e) {
      rc = io_err(err, e, "cannot read", path);
      break;
    }
    uint64_t wid = h5tx__get_le64(h + 40);
    int bad = 0, seal = 0;
    h5tx__place ps[PLOG_MAX_ENTRIES];
    for (uint32_t i = 0; i < k && !bad; i++) {
      const uint8_t *en = h + ENTRY0 + ENTRY * i;
      h5tx__place *p = &ps[i];
      *p = (h5tx__place){.seg = seg,
                         .off = h5tx__get_le64(en + 8),
                         .stored = h5tx__get_le32(en + 4),
                         .raw = h5tx__get_le32(en + 24),
                         .wid = wid,
                         .key = h5tx__get_le64(en + 16),
                         .content = h5tx__get_le64(en + 32),
                         .check = h5tx__get_le64(en + 40),
                         .kind = en[0],
                         .enc = en[1]};
      /* inside the batch's payloads, in a form no offset can overflow */
      if (p->off < at + PLOG_HDR || p->off > at + len || p->stored > at + len - p->off ||
          p->check !=
              h5tx__plog_check(l->sid, p, h5tx__hash(buf + (p->off - at - PLOG_HDR), p->stored)))
        bad = 1;
      if (p->kind == PLOG_SEAL) seal = 1;
    }
    if (bad) {
      reason = "a record fails its check";
      break;
    }
    for (uint32_t i = 0; i < k && rc == 0; i++)
      if (ps[i].kind != PLOG_SEAL) rc = fn(arg, &ps[i], buf + (ps[i].off - at - PLOG_HDR), err);
    if (rc) break;
    at += len;
    *end = at;
    if (seal) {
      *sealed = 1;
      break;
    }
  }
  free(buf);
  close(fd);
  if (why) *why = reason;
  return rc;
}

void h5tx__plog_seg_path(const h5tx__plog *l, uint64_t seg, char *buf, size_t cap) {
  seg_path(l, seg, buf, cap);
}
