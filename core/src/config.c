/* config.c - the one parser of h5tx configuration strings
 * ("store=lab.h5tx; codec=zstd:3; commit=close"). */
#include "internal.h"

#include "codec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void h5tx_config_init(h5tx_config *c) {
  memset(c, 0, sizeof *c);
  c->codec = -1;
  c->durability = -1;
  c->commit = H5TX_COMMIT_FLUSH;
  c->plain = 1;
}

static const char *const keys[] = {"store",      "rev",   "page_size", "codec",   "commit",
                                   "durability", "cache", "plain",     "message", NULL};

static const char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = 0;
  return s;
}

/* Parse a size: digits with an optional K, M or G (powers of 1024). */
static int parse_size(const char *v, uint64_t *out) {
  if (!isdigit((unsigned char)*v)) return -1;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno) return -1;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10;
  if (*end == 'M' || *end == 'm') shift = 20;
  if (*end == 'G' || *end == 'g') shift = 30;
  if (shift) end++;
  if ((*end == 'B' || *end == 'b') && end[1] == 0) end++;
  if (*end || (shift && n > (UINT64_MAX >> shift))) return -1;
  *out = (uint64_t)n << shift;
  return 0;
}

static int bad(h5tx_error *err, const char *key, const char *val, const char *why) {
  return h5tx__err(err, H5TX_EINVAL, "config key '%s': bad value '%s': %s", key, val, why);
}

static int set(h5tx_config *c, const char *key, const char *val, h5tx_error *err) {
  if (strcmp(key, "store") == 0) {
    size_t n = strlen(val);
    if (n == 0) return bad(err, key, val, "empty store path");
    if (n >= sizeof c->store) return bad(err, key, val, "path too long");
    if (n < 6 || strcmp(val + n - 5, ".h5tx") != 0)
      return bad(err, key, val, "a store's name ends in .h5tx");
    memcpy(c->store, val, n + 1);
  } else if (strcmp(key, "rev") == 0) {
    if (!*val || strlen(val) >= sizeof c->rev || strchr(val, '/') || strchr(val, '@'))
      return bad(err, key, val, "expected a revision number or a tag name");
    strcpy(c->rev, val);
  } else if (strcmp(key, "page_size") == 0) {
    uint64_t n;
    if (parse_size(val, &n) || !h5tx__page_size_ok(n))
      return bad(err, key, val, "expected a power of two from 512 to 16M");
    c->page_size = (uint32_t)n;
  } else if (strcmp(key, "codec") == 0) {
    if (strcmp(val, "none") == 0) {
      c->codec = H5TX_CODEC_NONE;
    } else if (strcmp(val, "zstd") == 0) {
      c->codec = H5TX_CODEC_ZSTD;
    } else if (strcmp(val, "lz4") == 0) {
      c->codec = H5TX_CODEC_LZ4;
    } else if (strncmp(val, "zstd:", 5) == 0) {
      char *end;
      errno = 0;
      long lv = strtol(val + 5, &end, 10);
      if (errno || end == val + 5 || *end || lv < -131072 || lv > 22 || lv == 0 ||
          h5tx__zstd_clamp((int)lv) != (int)lv)
        return bad(err, key, val, "expected zstd:LEVEL with a non-zero zstd level (at most 22)");
      c->codec = H5TX_CODEC_ZSTD;
      c->level = (int)lv;
    } else {
      return bad(err, key, val, "expected none, zstd, zstd:LEVEL or lz4");
    }
  } else if (strcmp(key, "commit") == 0) {
    if (strcmp(val, "flush") == 0)
      c->commit = H5TX_COMMIT_FLUSH;
    else if (strcmp(val, "close") == 0)
      c->commit = H5TX_COMMIT_CLOSE;
    else
      return bad(err, key, val, "expected flush or close");
  } else if (strcmp(key, "durability") == 0) {
    if (strcmp(val, "sync") == 0)
      c->durability = H5TX_SYNC;
    else if (strcmp(val, "nosync") == 0)
      c->durability = H5TX_NOSYNC;
    else
      return bad(err, key, val, "expected sync or nosync");
  } else if (strcmp(key, "cache") == 0) {
    uint64_t n;
    if (parse_size(val, &n) || n == 0) return bad(err, key, val, "expected a size such as 256M");
    c->cache = n;
  } else if (strcmp(key, "plain") == 0) {
    if (strcmp(val, "yes") == 0)
      c->plain = 1;
    else if (strcmp(val, "no") == 0)
      c->plain = 0;
    else
      return bad(err, key, val, "expected yes or no");
  } else if (strcmp(key, "message") == 0) {
    if (!*val) return bad(err, key, val, "empty commit message");
    if (strlen(val) >= sizeof c->message) return bad(err, key, val, "longer than 1023 bytes");
    strcpy(c->message, val);
  }
  return 0;
}

int h5tx_config_parse(const char *text, h5tx_config *out, h5tx_error *err) {
  if (!text) return 0;
  size_t len = strlen(text);
  char *copy = malloc(len + 1);
  h5tx_config *c = malloc(sizeof *c);
  if (!copy || !c) {
    free(copy);
    free(c);
    return h5tx__err(err, H5TX_ENOMEM, "out of memory");
  }
  memcpy(copy, text, len + 1);
  *c = *out;
  unsigned seen = 0;
  int rc = 0;
  char *save = NULL;
  for (char *item = strtok_r(copy, ";", &save); item && !rc; item = strtok_r(NULL, ";", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) {
      const char *t = trim(item);
      if (*t) rc = h5tx__err(err, H5TX_EINVAL, "config item '%s' is not key=value", t);
      continue;
    }
    *eq = 0;
    const char *key = trim(item), *val = trim(eq + 1);
    int k = 0;
    while (keys[k] && strcmp(keys[k], key) != 0)
      k++;
    if (!keys[k]) {
      rc = h5tx__err(err, H5TX_EINVAL,
                     "unknown config key '%s' (known: store, rev, page_size, codec, commit, "
                     "durability, cache, plain, message)",
                     key);
    } else if (seen & (1u << k)) {
      rc = h5tx__err(err, H5TX_EINVAL, "config key '%s' given twice", key);
    } else {
      seen |= 1u << k;
      rc = set(c, key, val, err);
    }
  }
  if (rc == 0) *out = *c;
  free(copy);
  free(c);
  return rc;
}

size_t h5tx_config_format(const h5tx_config *c, char *buf, size_t cap) {
  h5tx_config d;
  h5tx_config_init(&d);
  char tmp[H5TX_CONFIG_MAX + 512];
  size_t n = 0;
#define ADD(...) n += (size_t)snprintf(tmp + n, n < sizeof tmp ? sizeof tmp - n : 0, __VA_ARGS__)
  if (c->store[0]) ADD("store=%s;", c->store);
  if (c->rev[0]) ADD("rev=%s;", c->rev);
  if (c->page_size) ADD("page_size=%u;", c->page_size);
  if (c->codec == H5TX_CODEC_NONE) ADD("codec=none;");
  if (c->codec == H5TX_CODEC_ZSTD && c->level) ADD("codec=zstd:%d;", c->level);
  if (c->codec == H5TX_CODEC_ZSTD && !c->level) ADD("codec=zstd;");
  if (c->codec == H5TX_CODEC_LZ4) ADD("codec=lz4;");
  if (c->commit != d.commit) ADD("commit=close;");
  if (c->durability == H5TX_SYNC) ADD("durability=sync;");
  if (c->durability == H5TX_NOSYNC) ADD("durability=nosync;");
  if (c->cache) ADD("cache=%llu;", (unsigned long long)c->cache);
  if (!c->plain) ADD("plain=no;");
  if (c->message[0]) ADD("message=%s;", c->message);
#undef ADD
  if (n && n < sizeof tmp) tmp[--n] = 0; /* drop the last ';' */
  if (n >= sizeof tmp) n = sizeof tmp - 1;
  if (cap) snprintf(buf, cap, "%s", n ? tmp : "");
  return n;
}
