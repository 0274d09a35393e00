/* records2.c - byte layout of format 2's page place and log commit record
 * (docs/FORMAT.md, "pages — page place", "The commit record in the log"). */
#include "records2.h"

#include "internal.h"

#include <stdlib.h>

#define LC_HDR 48

void h5tx__place_encode(uint8_t d[H5TX_PLACE_VAL], const h5tx__place *p) {
  memset(d, 0, H5TX_PLACE_VAL);
  d[0] = 2;
  d[1] = p->enc;
  h5tx__le32(d + 4, p->raw);
  h5tx__le32(d + 8, p->stored);
  h5tx__le64(d + 16, p->seg);
  h5tx__le64(d + 24, p->off);
  h5tx__le64(d + 32, p->wid);
  h5tx__le64(d + 40, p->key);
  h5tx__le64(d + 48, p->content);
  h5tx__le64(d + 56, p->check);
}

int h5tx__place_parse(const void *v, size_t n, h5tx__place *p, const char **why) {
  const uint8_t *d = v;
  if (n != H5TX_PLACE_VAL) {
    *why = "a page place has the wrong length";
    return -1;
  }
  if (d[0] != 2) {
    *why = "a page place of an unknown version (written by a newer h5tx?)";
    return -1;
  }
  if (d[1] > PLOG_ENC_LAST) {
    *why = "a page place with an unknown encoding (written by a newer h5tx?)";
    return -1;
  }
  *p = (h5tx__place){.kind = PLOG_PAGE,
                     .enc = d[1],
                     .raw = h5tx__get_le32(d + 4),
                     .stored = h5tx__get_le32(d + 8),
                     .seg = h5tx__get_le64(d + 16),
                     .off = h5tx__get_le64(d + 24),
                     .wid = h5tx__get_le64(d + 32),
                     .key = h5tx__get_le64(d + 40),
                     .content = h5tx__get_le64(d + 48),
                     .check = h5tx__get_le64(d + 56)};
  if ((p->enc == PLOG_ENC_ZERO) != (p->stored == 0) ||
      (p->enc == PLOG_ENC_RAW && p->stored != p->raw) || p->stored > p->raw + (p->raw >> 3) + 512) {
    *why = "a page place whose lengths do not match its encoding";
    return -1;
  }
  return 0;
}

void h5tx__dedupe_key(uint8_t dk[H5TX_DEDUPE_KEY], const h5tx__place *p) {
  h5tx__be64(dk, p->content);
  dk[8] = (uint8_t)(p->raw >> 24);
  dk[9] = (uint8_t)(p->raw >> 16);
  dk[10] = (uint8_t)(p->raw >> 8);
  dk[11] = (uint8_t)p->raw;
  h5tx__be64(dk + 12, p->seg);
  h5tx__be64(dk + 20, p->off);
}

int h5tx__buf_add(h5tx__buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n)
      cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (!np) return -1;
    b->p = np;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}

void h5tx__buf_free(h5tx__buf *b) {
  free(b->p);
  *b = (h5tx__buf){0};
}

int h5tx__lcommit_begin(h5tx__buf *b, const h5tx__lcommit *c) {
  uint8_t h[LC_HDR] = {0};
  size_t hl = c->host_len > 65535 ? 65535 : c->host_len;
  size_t ml = c->msg_len > 65535 ? 65535 : c->msg_len;
  h5tx__le64(h, c->rev);
  h5tx__le64(h + 8, c->parent);
  h5tx__le64(h + 16, c->branch);
  h5tx__le64(h + 24, c->time_ns);
  h5tx__le32(h + 32, c->pid);
  h5tx__le16(h + 36, (uint16_t)hl);
  h5tx__le16(h + 38, (uint16_t)ml);
  b->n = 0;
  return h5tx__buf_add(b, h, LC_HDR) || h5tx__buf_add(b, c->host, hl) ||
                 h5tx__buf_add(b, c->msg, ml)
             ? -1
             : 0;
}

int h5tx__lcommit_add(h5tx__buf *b, const h5tx__lop *o) {
  uint8_t d[96] = {0};
  size_t n = 4;
  d[0] = (uint8_t)o->op;
  uint16_t nl = (uint16_t)(o->name_len > 65535 ? 65535 : o->name_len);
  h5tx__le64(d + 4, o->fid);
  switch (o->op) {
  case LOP_FILE:
    h5tx__le32(d + 12, o->page_size);
    h5tx__le64(d + 16, o->a);
    h5tx__le64(d + 24, o->b);
    h5tx__le16(d + 32, nl);
    n = 34;
    break;
  case LOP_NAME:
    h5tx__le16(d + 12, nl);
    n = 14;
    break;
  case LOP_LENGTH:
  case LOP_PAGES:
    h5tx__le64(d + 12, o->a);
    n = 20;
    break;
  case LOP_REF: {
    const h5tx__place *p = &o->place;
    h5tx__le64(d + 12, o->a);
    h5tx__le64(d + 20, p->seg);
    h5tx__le64(d + 28, p->off);
    h5tx__le64(d + 36, p->wid);
    h5tx__le64(d + 44, p->key);
    d[52] = p->enc;
    h5tx__le32(d + 53, p->stored);
    h5tx__le32(d + 57, p->raw);
    h5tx__le64(d + 61, p->content);
    h5tx__le64(d + 69, p->check);
    n = 77;
    break;
  }
  default: return -1;
  }
  int named = o->op == LOP_FILE || o->op == LOP_NAME;
  if (h5tx__buf_add(b, d, n) || (named && h5tx__buf_add(b, o->name, nl))) return -1;
  h5tx__le32(b->p + 40, h5tx__get_le32(b->p + 40) + 1);
  return 0;
}

int h5tx__lcommit_parse(const void *p, size_t n, h5tx__lcommit *c, const char **why) {
  const uint8_t *d = p;
  if (n < LC_HDR) {
    *why = "a commit record shorter than its header";
    return -1;
  }
  *c = (h5tx__lcommit){.rev = h5tx__get_le64(d),
                       .parent = h5tx__get_le64(d + 8),
                       .branch = h5tx__get_le64(d + 16),
                       .time_ns = h5tx__get_le64(d + 24),
                       .pid = h5tx__get_le32(d + 32),
                       .host_len = h5tx__get_le16(d + 36),
                       .msg_len = h5tx__get_le16(d + 38),
                       .nops = h5tx__get_le32(d + 40)};
  if (c->rev == 0 || c->parent >= c->rev) {
    *why = "a commit record whose revision does not follow its parent";
    return -1;
  }
  if (LC_HDR + c->host_len + c->msg_len > n) {
    *why = "a commit record shorter than its host and message";
    return -1;
  }
  c->host = (const char *)d + LC_HDR;
  c->msg = c->host + c->host_len;
  c->ops = (const uint8_t *)c->msg + c->msg_len;
  c->ops_len = n - LC_HDR - c->host_len - c->msg_len;
  return 0;
}

int h5tx__lcommit_next(const h5tx__lcommit *c, h5tx__lcommit_it *it, h5tx__lop *o,
                       const char **why) {
  static const size_t fixed[] = {0, 34, 14, 20, 20, 77};
  const uint8_t *d = c->ops + it->pos;
  size_t left = c->ops_len - it->pos;
  if (left == 0 || it->done == c->nops) {
    if (left == 0 && it->done == c->nops) return 0;
    *why = "a commit record whose operation count does not match its operations";
    return -1;
  }
  if (left < 4 || d[0] < LOP_FILE || d[0] > LOP_REF) {
    *why = left < 4 ? "a commit record ends inside an operation"
                    : "a commit record with an unknown operation (written by a newer h5tx?)";
    return -1;
  }
  size_t n = fixed[d[0]];
  if (left < n) {
    *why = "a commit record ends inside an operation";
    return -1;
  }
  *o = (h5tx__lop){.op = d[0], .fid = h5tx__get_le64(d + 4)};
  switch (o->op) {
  case LOP_FILE:
    o->page_size = h5tx__get_le32(d + 12);
    o->a = h5tx__get_le64(d + 16);
    o->b = h5tx__get_le64(d + 24);
    o->name_len = h5tx__get_le16(d + 32);
    break;
  case LOP_NAME: o->name_len = h5tx__get_le16(d + 12); break;
  case LOP_LENGTH:
  case LOP_PAGES: o->a = h5tx__get_le64(d + 12); break;
  case LOP_REF:
    o->a = h5tx__get_le64(d + 12);
    o->place = (h5tx__place){.kind = PLOG_PAGE,
                             .seg = h5tx__get_le64(d + 20),
                             .off = h5tx__get_le64(d + 28),
                             .wid = h5tx__get_le64(d + 36),
                             .key = h5tx__get_le64(d + 44),
                             .enc = d[52],
                             .stored = h5tx__get_le32(d + 53),
                             .raw = h5tx__get_le32(d + 57),
                             .content = h5tx__get_le64(d + 61),
                             .check = h5tx__get_le64(d + 69)};
    break;
  }
  if (o->op == LOP_REF && o->place.enc > PLOG_ENC_LAST) {
    *why = "a commit record with an unknown page encoding (written by a newer h5tx?)";
    return -1;
  }
  if (left - n < o->name_len) {
    *why = "a commit record ends inside a name";
    return -1;
  }
  o->name = o->name_len ? (const char *)d + n : NULL;
  it->pos += n + o->name_len;
  it->done++;
  return 1;
}

int h5tx__ltag_encode(h5tx__buf *b, const char *name, size_t nlen, h5tx_rev rev) {
  uint8_t h[10];
  if (nlen > 65535) return -1;
  h5tx__le64(h, rev);
  h5tx__le16(h + 8, (uint16_t)nlen);
  b->n = 0;
  return h5tx__buf_add(b, h, sizeof h) || h5tx__buf_add(b, name, nlen) ? -1 : 0;
}

int h5tx__ltag_parse(const void *p, size_t n, const char **name, size_t *nlen, h5tx_rev *rev) {
  const uint8_t *d = p;
  if (n < 10 || (size_t)h5tx__get_le16(d + 8) + 10 != n) return -1;
  *rev = h5tx__get_le64(d);
  *nlen = h5tx__get_le16(d + 8);
  *name = (const char *)d + 10;
  return 0;
}

int h5tx__file2_encode(h5tx__buf *b, uint32_t page_size, h5tx_rev created, uint64_t origin_fid,
                       h5tx_rev origin_rev, const char *name, size_t nlen) {
  uint8_t h[32] = {0};
  h5tx__le32(h, page_size);
  h5tx__le64(h + 8, created);
  h5tx__le64(h + 16, origin_fid);
  h5tx__le64(h + 24, origin_rev);
  b->n = 0;
  return h5tx__buf_add(b, h, sizeof h) || h5tx__buf_add(b, name, nlen) ? -1 : 0;
}

int h5tx__commit2_encode(h5tx__buf *b, const h5tx__lcommit *c, const uint8_t *fids, uint32_t nfiles,
                         uint64_t bytes_added, uint64_t pages_added, uint64_t wid, uint64_t seg,
                         uint64_t off) {
  uint8_t h[88] = {0};
  size_t hl = c->host_len > 65535 ? 65535 : c->host_len;
  size_t ml = c->msg_len > 65535 ? 65535 : c->msg_len;
  h5tx__le32(h, 2);
  h5tx__le64(h + 8, c->parent);
  h5tx__le64(h + 16, c->time_ns);
  h5tx__le32(h + 24, c->pid);
  h5tx__le16(h + 28, (uint16_t)hl);
  h5tx__le16(h + 30, (uint16_t)ml);
  h5tx__le32(h + 32, nfiles);
  h5tx__le64(h + 40, bytes_added);
  h5tx__le64(h + 48, pages_added);
  h5tx__le64(h + 56, c->branch);
  h5tx__le64(h + 64, wid);
  h5tx__le64(h + 72, seg);
  h5tx__le64(h + 80, off);
  b->n = 0;
  return h5tx__buf_add(b, h, sizeof h) || h5tx__buf_add(b, c->host, hl) ||
                 h5tx__buf_add(b, c->msg, ml) || h5tx__buf_add(b, fids, 8 * (size_t)nfiles)
             ? -1
             : 0;
}

int h5tx__file2_parse(const void *v, size_t n, h5tx__file2 *f) {
  const uint8_t *p = v;
  if (n < 32) return -1;
  f->page_size = h5tx__get_le32(p);
  f->flags = h5tx__get_le32(p + 4);
  f->created = h5tx__get_le64(p + 8);
  f->origin_fid = h5tx__get_le64(p + 16);
  f->origin_rev = h5tx__get_le64(p + 24);
  f->name = (const char *)p + 32;
  f->name_len = n - 32;
  f->cut = 0;
  if (f->flags & H5TX_FILE_CUT) {
    if (n < 40) return -1;
    f->name_len -= 8;
    f->cut = h5tx__get_le64(p + n - 8);
  }
  if (f->page_size == 0 || (f->page_size & (f->page_size - 1))) return -1;
  return 0;
}

int h5tx__file2_recut(h5tx__buf *b, const h5tx__file2 *f, h5tx_rev cut) {
  uint8_t c[8];
  if (h5tx__file2_encode(b, f->page_size, f->created, f->origin_fid, f->origin_rev, f->name,
                         f->name_len))
    return -1;
  h5tx__le32(b->p + 4, f->flags | H5TX_FILE_CUT);
  h5tx__le64(c, cut);
  return h5tx__buf_add(b, c, 8);
}

int h5tx__commit2_parse(const void *v, size_t n, h5tx__commit2 *c) {
  const uint8_t *p = v;
  if (n < 88 || h5tx__get_le32(p) != 2) return -1;
  c->flags = h5tx__get_le32(p + 4);
  c->parent = h5tx__get_le64(p + 8);
  c->time_ns = h5tx__get_le64(p + 16);
  c->pid = h5tx__get_le32(p + 24);
  c->host_len = h5tx__get_le16(p + 28);
  c->msg_len = h5tx__get_le16(p + 30);
  c->nfiles = h5tx__get_le32(p + 32);
  c->bytes_added = h5tx__get_le64(p + 40);
  c->pages_added = h5tx__get_le64(p + 48);
  c->branch = h5tx__get_le64(p + 56);
  c->wid = h5tx__get_le64(p + 64);
  c->seg = h5tx__get_le64(p + 72);
  c->off = h5tx__get_le64(p + 80);
  if (88 + c->host_len + c->msg_len + 8 * (size_t)c->nfiles != n) return -1;
  c->host = (const char *)p + 88;
  c->msg = c->host + c->host_len;
  c->fids = (const uint8_t *)c->msg + c->msg_len;
  return 0;
}
