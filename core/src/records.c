/* records.c - byte layout of keys and records (docs/FORMAT.md). */
#include "records.h"

#include "index.h"

#include "codec.h"

#include <stdlib.h>

void h5tx__page_key(uint8_t k[H5TX_PAGE_KEY], uint64_t fid, uint64_t page, h5tx_rev rev) {
  h5tx__be64(k, fid);
  h5tx__be64(k + 8, page);
  h5tx__be64(k + 16, ~rev);
}

void h5tx__len_key(uint8_t k[H5TX_LEN_KEY], uint64_t fid, h5tx_rev rev) {
  h5tx__be64(k, fid);
  h5tx__be64(k + 8, ~rev);
}

size_t h5tx__name_key(uint8_t k[H5TX_NAME_KEY_MAX], const char *name, size_t nlen, h5tx_rev rev) {
  memcpy(k, name, nlen);
  k[nlen] = 0;
  h5tx__be64(k + nlen + 1, ~rev);
  return nlen + 9;
}

h5tx_rev h5tx__key_rev(const h5tx__val *k) {
  return ~h5tx__get_be64((const uint8_t *)k->p + k->n - 8);
}

int h5tx__is_zero(const uint8_t *p, size_t n) {
  /* Word at a time; pages are large. */
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w) return 0;
  }
  for (; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static uint64_t record_sum(const uint8_t *key, size_t klen, const uint8_t *hdr,
                           const uint8_t *payload, size_t plen) {
  /* key || header bytes 0..15 || payload */
  h5tx__hasher h;
  h5tx__hasher_init(&h);
  h5tx__hasher_add(&h, key, klen);
  h5tx__hasher_add(&h, hdr, 16);
  h5tx__hasher_add(&h, payload, plen);
  return h5tx__hasher_end(&h);
}

int h5tx__page_parse(const h5tx__val *key, const h5tx__val *val, h5tx__page_rec *out,
                     const char **why) {
  const uint8_t *v = val->p;
  if (val->n < H5TX_PAGE_HDR) {
    *why = "record shorter than its header";
    return -1;
  }
  if (v[0] != 1) {
    *why = "unknown page record version";
    return -1;
  }
  uint64_t sum = h5tx__get_le64(v + 16);
  if (record_sum(key->p, key->n, v, v + H5TX_PAGE_HDR, val->n - H5TX_PAGE_HDR) != sum) {
    *why = "checksum mismatch";
    return -1;
  }
  out->enc = v[1];
  out->raw_len = h5tx__get_le32(v + 4);
  out->content = h5tx__get_le64(v + 8);
  out->payload = v + H5TX_PAGE_HDR;
  out->payload_len = val->n - H5TX_PAGE_HDR;
  if (out->enc > H5TX_ENC_ZSTD) {
    *why = "unknown page encoding";
    return -1;
  }
  return 0;
}

int h5tx__page_decode(const h5tx__page_rec *r, uint8_t *dst, uint32_t page_size, const char **why) {
  if (r->raw_len != page_size) {
    *why = "page record length differs from the file's page size";
    return -1;
  }
  switch (r->enc) {
  case H5TX_ENC_ZERO: memset(dst, 0, page_size); return 0; /* nothing to hash: content is fixed */
  case H5TX_ENC_RAW:
    if (r->payload_len != page_size) {
      *why = "raw page payload has the wrong length";
      return -1;
    }
    /* The record checksum (checked by h5tx__page_parse) covers these very
     * bytes: hashing them again would prove nothing. */
    memcpy(dst, r->payload, page_size);
    return 0;
  case H5TX_ENC_ZSTD: {
    size_t n = h5tx__zstd_decompress(dst, page_size, r->payload, r->payload_len, why);
    if (n != page_size) {
      if (n != (size_t)-1) *why = "zstd payload decoded to the wrong length";
      return -1;
    }
    break;
  }
  }
  if (h5tx__hash(dst, page_size) != r->content) {
    *why = "content hash mismatch after decoding";
    return -1;
  }
  return 0;
}

size_t h5tx__page_bound(uint32_t page_size) {
  size_t z = h5tx__zstd_bound(page_size);
  return H5TX_PAGE_HDR + (z > page_size ? z : page_size);
}

size_t h5tx__page_encode(uint8_t *dst, const uint8_t key[H5TX_PAGE_KEY], const uint8_t *page,
                         uint32_t page_size, uint64_t content, int codec, int level,
                         h5tx__zpolicy *zp) {
  uint8_t *pl = dst + H5TX_PAGE_HDR;
  size_t plen = 0;
  int enc;
  if (h5tx__is_zero(page, page_size)) {
    enc = H5TX_ENC_ZERO;
  } else {
    enc = H5TX_ENC_RAW;
    if (codec == H5TX_CODEC_ZSTD && (!zp || h5tx__zpolicy_try(zp))) {
      size_t cap = h5tx__zstd_bound(page_size);
      /* No zstd checksum: the record carries its own (XXH3). */
      size_t z = h5tx__zstd_compress(pl, cap, page, page_size, level, 0, NULL);
      if (z && z <= page_size - page_size / 8) {
        enc = H5TX_ENC_ZSTD;
        plen = z;
      }
      if (zp) h5tx__zpolicy_result(zp, enc == H5TX_ENC_ZSTD);
    }
    if (enc == H5TX_ENC_RAW) {
      memcpy(pl, page, page_size);
      plen = page_size;
    }
  }
  dst[0] = 1;
  dst[1] = (uint8_t)enc;
  dst[2] = dst[3] = 0;
  h5tx__le32(dst + 4, page_size);
  h5tx__le64(dst + 8, enc == H5TX_ENC_ZERO ? 0 : content);
  h5tx__le64(dst + 16, record_sum(key, H5TX_PAGE_KEY, dst, pl, plen));
  return H5TX_PAGE_HDR + plen;
}

size_t h5tx__commit_size(const h5tx__commit_rec *c) {
  return 56 + c->host_len + c->msg_len + 8 * (size_t)c->nfiles;
}

void h5tx__commit_encode(uint8_t *d, const h5tx__commit_rec *c) {
  memset(d, 0, 56);
  h5tx__le32(d, 1);
  h5tx__le32(d + 4, c->flags);
  h5tx__le64(d + 8, c->parent);
  h5tx__le64(d + 16, c->time_ns);
  h5tx__le32(d + 24, c->pid);
  h5tx__le16(d + 28, (uint16_t)c->host_len);
  h5tx__le16(d + 30, (uint16_t)c->msg_len);
  h5tx__le32(d + 32, c->nfiles);
  h5tx__le64(d + 40, c->bytes_added);
  h5tx__le64(d + 48, c->pages_added);
  memcpy(d + 56, c->host, c->host_len);
  if (c->msg_len) memcpy(d + 56 + c->host_len, c->msg, c->msg_len);
  memcpy(d + 56 + c->host_len + c->msg_len, c->fids, 8 * (size_t)c->nfiles);
}

int h5tx__commit_parse(const h5tx__val *v, h5tx__commit_rec *c) {
  const uint8_t *d = v->p;
  if (v->n < 56 || h5tx__get_le32(d) != 1) return -1;
  c->flags = h5tx__get_le32(d + 4);
  c->parent = h5tx__get_le64(d + 8);
  c->time_ns = h5tx__get_le64(d + 16);
  c->pid = h5tx__get_le32(d + 24);
  c->host_len = h5tx__get_le16(d + 28);
  c->msg_len = h5tx__get_le16(d + 30);
  c->nfiles = h5tx__get_le32(d + 32);
  c->bytes_added = h5tx__get_le64(d + 40);
  c->pages_added = h5tx__get_le64(d + 48);
  if (h5tx__commit_size(c) != v->n) return -1;
  c->host = (const char *)d + 56;
  c->msg = c->host + c->host_len;
  c->fids = (const uint8_t *)c->msg + c->msg_len;
  return 0;
}

int h5tx__file_parse(const h5tx__val *v, h5tx__file_rec *out) {
  const uint8_t *d = v->p;
  if (v->n < 16) return -1;
  out->page_size = h5tx__get_le32(d);
  out->created = h5tx__get_le64(d + 8);
  uint32_t ps = out->page_size;
  if (!h5tx__page_size_ok(ps)) return -1;
  return 0;
}

size_t h5tx__lease_encode(uint8_t *d, const h5tx__lease_rec *l) {
  memset(d, 0, 40);
  h5tx__le32(d, l->pid);
  h5tx__le64(d + 8, l->start);
  h5tx__le64(d + 16, l->boot);
  h5tx__le64(d + 24, l->time_ns);
  h5tx__le64(d + 32, l->token);
  size_t hl = strnlen(l->host, sizeof l->host - 1);
  memcpy(d + 40, l->host, hl);
  return 40 + hl;
}

int h5tx__lease_parse(const h5tx__val *v, h5tx__lease_rec *l) {
  const uint8_t *d = v->p;
  if (v->n < 40 || v->n - 40 >= sizeof l->host) return -1;
  l->pid = h5tx__get_le32(d);
  l->start = h5tx__get_le64(d + 8);
  l->boot = h5tx__get_le64(d + 16);
  l->time_ns = h5tx__get_le64(d + 24);
  l->token = h5tx__get_le64(d + 32);
  memcpy(l->host, d + 40, v->n - 40);
  l->host[v->n - 40] = 0;
  return 0;
}

int h5tx__meta_get(h5tx__txn *t, const char *word, uint64_t *v, h5tx_error *err) {
  h5tx__val val;
  int rc = h5tx__kv_get(t, KV_META, word, strlen(word), &val, err);
  if (rc) return rc;
  if (val.n == 8)
    *v = h5tx__get_le64(val.p);
  else if (val.n == 4)
    *v = h5tx__get_le32(val.p);
  else
    return h5tx__err(err, H5TX_ECORRUPT, "meta/%s has %zu bytes", word, val.n);
  return 0;
}

int h5tx__meta_put(h5tx__txn *t, const char *word, uint64_t v, h5tx_error *err) {
  uint8_t b[8];
  h5tx__le64(b, v);
  return h5tx__kv_put(t, KV_META, word, strlen(word), b, 8, err);
}

int h5tx__name_lookup(h5tx__txn *t, const char *name, h5tx_rev rev, uint64_t *fid, h5tx_rev *at,
                      h5tx_error *err) {
  uint8_t key[H5TX_NAME_KEY_MAX];
  size_t nlen = strlen(name);
  size_t kl = h5tx__name_key(key, name, nlen, rev);
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_NAMES, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  rc = h5tx__kv_seek(c, key, kl, &k, &v, err);
  if (rc == 0) {
    if (k.n != kl || memcmp(k.p, key, nlen + 1) != 0)
      rc = H5TX_ENOENT;
    else if ((rc = h5tx__idx_value(IDX_NAMES, &k, &v, err)))
      ;
    else if (v.n != 8)
      rc = h5tx__err(err, H5TX_ECORRUPT, "names entry of '%s' has %zu bytes", name, v.n);
    else {
      *fid = h5tx__get_le64(v.p);
      if (at) *at = h5tx__key_rev(&k);
    }
  }
  h5tx__kv_cursor_close(c);
  return rc;
}

/* Is `name` a live file at `rev`, and not `except`? 1, 0 or an error. */
static int live_at(h5tx__txn *t, const char *name, const char *except, h5tx_rev rev, h5tx_rev *at,
                   h5tx_error *err) {
  if (except && strcmp(name, except) == 0) return 0;
  uint64_t fid = 0;
  int rc = h5tx__name_lookup(t, name, rev, &fid, at, err);
  if (rc == H5TX_ENOENT) return 0;
  return rc ? rc : fid != 0;
}

int h5tx__name_clash(h5tx__txn *t, const char *store, const char *name, const char *except,
                     h5tx_rev rev, int code, h5tx_error *err) {
  char other[H5TX_MAX_NAME + 2];
  size_t n = strlen(name);
  h5tx_rev at = 0;
  int rc;
  /* A file at one of the directories above `name`. */
  for (size_t i = 0; i < n; i++) {
    if (name[i] != '/') continue;
    memcpy(other, name, i);
    other[i] = 0;
    if ((rc = live_at(t, other, except, rev, &at, err)) < 0) return rc;
    if (rc)
      return h5tx__err(err, code,
                       "store %s: cannot create '%s': '%s' is a file (since revision %llu), so "
                       "it cannot also be a directory",
                       store, name, other, (unsigned long long)at);
  }
  /* A file under `name` as a directory: the names "name/..." sort together. */
  h5tx__cur *c;
  if ((rc = h5tx__kv_cursor(t, IDX_NAMES, &c, err))) return rc;
  uint8_t key[H5TX_NAME_KEY_MAX];
  memcpy(key, name, n);
  key[n] = '/';
  h5tx__val k, v;
  rc = h5tx__kv_seek(c, key, n + 1, &k, &v, err);
  while (rc == 0) {
    if (k.n < 9 || k.n - 9 > H5TX_MAX_NAME) {
      rc = h5tx__err(err, H5TX_ECORRUPT, "store %s: malformed names key", store);
      break;
    }
    size_t on = k.n - 9;
    if (on <= n || memcmp(k.p, name, n) != 0 || ((const char *)k.p)[n] != '/') {
      rc = H5TX_ENOENT;
      break;
    }
    memcpy(other, k.p, on);
    other[on] = 0;
    if ((rc = live_at(t, other, except, rev, &at, err)) < 0) break;
    if (rc) {
      rc = h5tx__err(err, code,
                     "store %s: cannot create '%s': file '%s' (since revision %llu) has it as a "
                     "directory, so it cannot also be a file",
                     store, name, other, (unsigned long long)at);
      break;
    }
    /* Past every entry of `other`: other || 01 sorts after them. */
    memcpy(key, other, on);
    key[on] = 1;
    rc = h5tx__kv_seek(c, key, on + 1, &k, &v, err);
  }
  h5tx__kv_cursor_close(c);
  return rc == H5TX_ENOENT ? 0 : rc;
}

int h5tx__length_lookup(h5tx__txn *t, uint64_t fid, h5tx_rev rev, uint64_t *len, h5tx_rev *at,
                        h5tx_error *err) {
  uint8_t key[H5TX_LEN_KEY];
  h5tx__len_key(key, fid, rev);
  h5tx__cur *c;
  int rc = h5tx__kv_cursor(t, IDX_LENGTHS, &c, err);
  if (rc) return rc;
  h5tx__val k, v;
  rc = h5tx__kv_seek(c, key, sizeof key, &k, &v, err);
  if (rc == 0) {
    if (k.n != H5TX_LEN_KEY || memcmp(k.p, key, 8) != 0)
      rc = H5TX_ENOENT;
    else if ((rc = h5tx__idx_value(IDX_LENGTHS, &k, &v, err)))
      ;
    else if (v.n != 8)
      rc = h5tx__err(err, H5TX_ECORRUPT, "lengths entry of file %llu has %zu bytes",
                     (unsigned long long)fid, v.n);
    else {
      *len = h5tx__get_le64(v.p);
      if (at) *at = h5tx__key_rev(&k);
    }
  }
  h5tx__kv_cursor_close(c);
  return rc;
}
