/* config.c - the one place that parses and validates h5tx settings: the
 * config strings ("codec=zstd:3; durability=nosync; rev=42") of the driver,
 * the CLI and the mount, with the keys only a caller knows (the driver's
 * store, commit, plain) handed to that caller; the codec table; and the
 * checks of page size, codec, level and durability that the store and
 * writer options go through too. */
#include "internal.h"

#include "codec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* The codecs, by the name a config gives them. `levels`: the codec takes
 * NAME:LEVEL, a level from `min` to `max` (0 is "the store's"), which the
 * codec must take as given. A codec added here is parsed, formatted, named
 * in the messages and accepted by the option checks. */
static const struct codec_def {
  const char *name;
  int codec, levels, min, max;
} codecs[] = {
    {"none", H5TX_CODEC_NONE, 0, 0, 0},
    {"zstd", H5TX_CODEC_ZSTD, 1, -131072, 22},
    {"lz4", H5TX_CODEC_LZ4, 0, 0, 0},
};
enum { NCODECS = sizeof codecs / sizeof codecs[0] };

static const struct codec_def *codec_def(int codec) {
  for (int i = 0; i < NCODECS; i++)
    if (codecs[i].codec == codec) return &codecs[i];
  return NULL;
}

static int level_ok(const struct codec_def *d, long level) {
  if (level == 0) return 1;
  if (!d->levels || level < d->min || level > d->max) return 0;
  return d->codec != H5TX_CODEC_ZSTD || h5tx__zstd_clamp((int)level) == (int)level;
}

/* "none, zstd or zstd:LEVEL", from the table. */
static void codec_choices(char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; i < NCODECS; i++) {
    const char *sep = i == 0 ? "" : i == NCODECS - 1 && !codecs[i].levels ? " or " : ", ";
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", sep, codecs[i].name);
    if (codecs[i].levels)
      n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s:LEVEL",
                            i == NCODECS - 1 ? " or " : ", ", codecs[i].name);
  }
}

const char *h5tx_codec_name(int codec) {
  const struct codec_def *d = codec_def(codec);
  return d ? d->name : NULL;
}

int h5tx__page_size_ok(uint64_t ps) {
  return ps >= H5TX_MIN_PAGE_SIZE && ps <= H5TX_MAX_PAGE_SIZE && !(ps & (ps - 1));
}

int h5tx__check_options(const char *prefix, uint32_t ps, int codec, int level, int durability,
                        h5tx_error *err) {
  if (ps && !h5tx__page_size_ok(ps))
    return h5tx__err(err, H5TX_EINVAL, "%spage size %u is not a power of two in %u..%u", prefix, ps,
                     H5TX_MIN_PAGE_SIZE, H5TX_MAX_PAGE_SIZE);
  const struct codec_def *d = codec_def(codec);
  if (codec != -1 && !d) return h5tx__err(err, H5TX_EINVAL, "%sunknown codec %d", prefix, codec);
  /* A level with the store's codec (-1) is checked when it meets that codec;
   * a codec without levels ignores one (a store's defaults keep zstd's level
   * while its codec is none). */
  if (d && d->levels && !level_ok(d, level))
    return h5tx__err(err, H5TX_EINVAL, "%scodec %s does not take level %d", prefix, d->name, level);
  if (durability != -1 && durability != H5TX_SYNC && durability != H5TX_NOSYNC)
    return h5tx__err(err, H5TX_EINVAL, "%sunknown durability %d", prefix, durability);
  return 0;
}

void h5tx_config_init(h5tx_config *c) {
  memset(c, 0, sizeof *c);
  c->codec = -1;
  c->durability = -1;
}

/* The keys core parses; a caller's own keys come after them. */
static const char *const keys[] = {"rev",   "page_size", "codec", "durability",
                                   "cache", "message",   NULL};
enum { NKEYS = 6, MAX_KEYS = 32 };

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

int h5tx_config_bad(h5tx_error *err, const char *key, const char *val, const char *why) {
  return h5tx__err(err, H5TX_EINVAL, "config key '%s': bad value '%s': %s", key, val, why);
}

static int set_codec(h5tx_config *c, const char *key, const char *val, h5tx_error *err) {
  char choices[256], why[320];
  codec_choices(choices, sizeof choices);
  const char *colon = strchr(val, ':');
  size_t nl = colon ? (size_t)(colon - val) : strlen(val);
  for (int i = 0; i < NCODECS; i++) {
    const struct codec_def *d = &codecs[i];
    if (strlen(d->name) != nl || strncmp(val, d->name, nl) != 0) continue;
    long lv = 0;
    if (colon) {
      char *end;
      errno = 0;
      lv = strtol(colon + 1, &end, 10);
      if (!d->levels) {
        snprintf(why, sizeof why, "codec %s takes no level (expected %s)", d->name, choices);
        return h5tx_config_bad(err, key, val, why);
      }
      if (errno || end == colon + 1 || *end || lv == 0 || !level_ok(d, lv)) {
        snprintf(why, sizeof why, "expected %s:LEVEL with a non-zero %s level (at most %d)",
                 d->name, d->name, d->max);
        return h5tx_config_bad(err, key, val, why);
      }
    }
    c->codec = d->codec;
    c->level = (int)lv;
    return 0;
  }
  snprintf(why, sizeof why, "expected %s", choices);
  return h5tx_config_bad(err, key, val, why);
}

static int set(h5tx_config *c, const char *key, const char *val, h5tx_error *err) {
  if (strcmp(key, "rev") == 0) {
    if (!*val || strlen(val) >= sizeof c->rev || strchr(val, '/') || strchr(val, '@'))
      return h5tx_config_bad(err, key, val, "expected a revision number or a tag name");
    strcpy(c->rev, val);
  } else if (strcmp(key, "page_size") == 0) {
    uint64_t n;
    if (parse_size(val, &n) || !h5tx__page_size_ok(n))
      return h5tx_config_bad(err, key, val, "expected a power of two from 512 to 16M");
    c->page_size = (uint32_t)n;
  } else if (strcmp(key, "codec") == 0) {
    return set_codec(c, key, val, err);
  } else if (strcmp(key, "durability") == 0) {
    if (strcmp(val, "sync") == 0)
      c->durability = H5TX_SYNC;
    else if (strcmp(val, "nosync") == 0)
      c->durability = H5TX_NOSYNC;
    else
      return h5tx_config_bad(err, key, val, "expected sync or nosync");
  } else if (strcmp(key, "cache") == 0) {
    uint64_t n;
    if (parse_size(val, &n) || n == 0)
      return h5tx_config_bad(err, key, val, "expected a size such as 256M");
    c->cache = n;
  } else if (strcmp(key, "message") == 0) {
    if (!*val) return h5tx_config_bad(err, key, val, "empty commit message");
    if (strlen(val) >= sizeof c->message)
      return h5tx_config_bad(err, key, val, "longer than 1023 bytes");
    strcpy(c->message, val);
  }
  return 0;
}

/* The key's number: core's first, then the caller's; -1 if unknown. */
static int key_index(const char *key, const char *const *extra) {
  for (int k = 0; k < NKEYS; k++)
    if (strcmp(keys[k], key) == 0) return k;
  for (int k = 0; extra && extra[k] && NKEYS + k < MAX_KEYS; k++)
    if (strcmp(extra[k], key) == 0) return NKEYS + k;
  return -1;
}

static int unknown(h5tx_error *err, const char *key, const char *const *extra) {
  char known[512];
  size_t n = 0;
  for (int k = 0; k < NKEYS; k++)
    n += (size_t)snprintf(known + n, n < sizeof known ? sizeof known - n : 0, "%s%s", k ? ", " : "",
                          keys[k]);
  for (int k = 0; extra && extra[k] && NKEYS + k < MAX_KEYS; k++)
    n += (size_t)snprintf(known + n, n < sizeof known ? sizeof known - n : 0, ", %s", extra[k]);
  return h5tx__err(err, H5TX_EINVAL, "unknown config key '%s' (known: %s)", key, known);
}

int h5tx_config_parse_with(const char *text, h5tx_config *out, const char *const *extra,
                           h5tx_config_key_fn fn, void *arg, h5tx_error *err) {
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
  uint32_t seen = 0;
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
    int k = key_index(key, extra);
    if (k < 0) {
      rc = unknown(err, key, extra);
    } else if (seen & (1u << k)) {
      rc = h5tx__err(err, H5TX_EINVAL, "config key '%s' given twice", key);
    } else {
      seen |= 1u << k;
      if (k < NKEYS)
        rc = set(c, key, val, err);
      else if (fn)
        rc = fn(arg, key, val, err);
    }
  }
  if (rc == 0) *out = *c;
  free(copy);
  free(c);
  return rc;
}

int h5tx_config_parse(const char *text, h5tx_config *out, h5tx_error *err) {
  return h5tx_config_parse_with(text, out, NULL, NULL, NULL, err);
}

size_t h5tx_config_format(const h5tx_config *c, char *buf, size_t cap) {
  char tmp[H5TX_CONFIG_MAX + 512];
  size_t n = 0;
#define ADD(...) n += (size_t)snprintf(tmp + n, n < sizeof tmp ? sizeof tmp - n : 0, __VA_ARGS__)
  const struct codec_def *d = codec_def(c->codec);
  if (c->rev[0]) ADD("rev=%s;", c->rev);
  if (c->page_size) ADD("page_size=%u;", c->page_size);
  if (d && d->levels && c->level) ADD("codec=%s:%d;", d->name, c->level);
  if (d && !(d->levels && c->level)) ADD("codec=%s;", d->name);
  if (c->durability == H5TX_SYNC) ADD("durability=sync;");
  if (c->durability == H5TX_NOSYNC) ADD("durability=nosync;");
  if (c->cache) ADD("cache=%llu;", (unsigned long long)c->cache);
  if (c->message[0]) ADD("message=%s;", c->message);
#undef ADD
  if (n && n < sizeof tmp) tmp[--n] = 0; /* drop the last ';' */
  if (n >= sizeof tmp) n = sizeof tmp - 1;
  if (cap) snprintf(buf, cap, "%s", n ? tmp : "");
  return n;
}
