/* dedupe.c - the `dedupe` table (dedupe.h, docs/FORMAT.md "dedupe"). The
 * value is the record's place and, after it, LE64 the number of versions
 * naming the record; a value of the place alone (stores made before the
 * count) counts one. A count may be too high (a record superseded in its
 * own write keeps an entry until compaction drops it), never too low. */
#include "dedupe.h"

#include "internal.h"
#include "pages2.h"

#define DD_VAL (H5TX_PLACE_VAL + 8)

int h5tx__dedupe_parse(const h5tx__val *k, const h5tx__val *v, h5tx__place *p, uint64_t *refs,
                       const char **why) {
  if (k->n != H5TX_DEDUPE_KEY) {
    *why = "a dedupe key of the wrong length";
    return -1;
  }
  if (v->n != H5TX_PLACE_VAL && v->n != DD_VAL) {
    *why = "a dedupe value of the wrong length";
    return -1;
  }
  if (h5tx__place_parse(v->p, H5TX_PLACE_VAL, p, why) != 0) return -1;
  uint8_t dk[H5TX_DEDUPE_KEY];
  h5tx__dedupe_key(dk, p);
  if (memcmp(dk, k->p, sizeof dk) != 0 || p->enc == PLOG_ENC_ZERO) {
    *why = "a dedupe entry whose key is not its place's";
    return -1;
  }
  *refs = v->n == DD_VAL ? h5tx__get_le64((const uint8_t *)v->p + H5TX_PLACE_VAL) : 1;
  return 0;
}

static int bad(h5tx_error *err, const char *why) {
  return h5tx__err(err, H5TX_ECORRUPT, "index table dedupe: %s", why);
}

/* The entry of `p`: 0 with *refs (and its place in *cur if not NULL),
 * H5TX_ENOENT, or an error. */
static int get(h5tx__txn *t, const uint8_t dk[H5TX_DEDUPE_KEY], uint64_t *refs, h5tx__place *cur,
               h5tx_error *err) {
  h5tx__val v, k = {(void *)dk, H5TX_DEDUPE_KEY};
  int rc = h5tx__idx_get(t, IDX_DEDUPE, dk, H5TX_DEDUPE_KEY, &v, err);
  if (rc) return rc;
  h5tx__place p;
  const char *why;
  if (h5tx__dedupe_parse(&k, &v, &p, refs, &why) != 0) return bad(err, why);
  if (cur) *cur = p;
  return 0;
}

static int put(h5tx__txn *t, const h5tx__place *p, uint64_t refs, h5tx_error *err) {
  uint8_t dk[H5TX_DEDUPE_KEY], v[DD_VAL];
  h5tx__dedupe_key(dk, p);
  h5tx__place_encode(v, p);
  h5tx__le64(v + H5TX_PLACE_VAL, refs);
  return h5tx__idx_put(t, IDX_DEDUPE, dk, sizeof dk, v, sizeof v, err);
}

int h5tx__dedupe_ref(h5tx__txn *t, const h5tx__place *p, h5tx_error *err) {
  if (p->enc == PLOG_ENC_ZERO || p->enc == PLOG_ENC_EXTERNAL) return 0;
  uint8_t dk[H5TX_DEDUPE_KEY];
  uint64_t refs = 0;
  h5tx__dedupe_key(dk, p);
  int rc = get(t, dk, &refs, NULL, err);
  if (rc && rc != H5TX_ENOENT) return rc;
  return put(t, p, refs + 1, err);
}

int h5tx__dedupe_unref(h5tx__txn *t, const h5tx__place *p, h5tx_error *err) {
  if (p->enc == PLOG_ENC_ZERO || p->enc == PLOG_ENC_EXTERNAL) return 0;
  uint8_t dk[H5TX_DEDUPE_KEY];
  uint64_t refs;
  h5tx__dedupe_key(dk, p);
  int rc = get(t, dk, &refs, NULL, err);
  if (rc == H5TX_ENOENT) return 0;
  if (rc) return rc;
  if (refs > 1) return put(t, p, refs - 1, err);
  rc = h5tx__kv_del(t, IDX_DEDUPE, dk, sizeof dk, err);
  return rc == H5TX_ENOENT ? 0 : rc;
}

int h5tx__dedupe_move(h5tx__txn *t, const h5tx__place *old, const h5tx__place *neu,
                      h5tx_error *err) {
  if (old->enc == PLOG_ENC_ZERO || old->enc == PLOG_ENC_EXTERNAL) return 0;
  uint8_t dk[H5TX_DEDUPE_KEY];
  uint64_t refs;
  h5tx__dedupe_key(dk, old);
  int rc = get(t, dk, &refs, NULL, err);
  if (rc == H5TX_ENOENT) return 0; /* moved with another version naming it */
  if (rc == 0) rc = h5tx__kv_del(t, IDX_DEDUPE, dk, sizeof dk, err);
  return rc ? rc : put(t, neu, refs, err);
}

/* The entries of content hash `hash` and raw length `raw`: their key
 * prefix. */
static void prefix(uint8_t pre[12], uint64_t hash, uint32_t raw) {
  h5tx__place p = {.content = hash, .raw = raw};
  uint8_t dk[H5TX_DEDUPE_KEY];
  h5tx__dedupe_key(dk, &p);
  memcpy(pre, dk, 12);
}

/* Call `fn` on each entry with the prefix of (hash, raw) until it returns
 * non-zero (1: stop, found). */
static int each(h5tx__cur *c, uint64_t hash, uint32_t raw,
                int (*fn)(void *, const h5tx__place *, h5tx_error *), void *arg, h5tx_error *err) {
  uint8_t pre[12];
  prefix(pre, hash, raw);
  h5tx__val k, v;
  int r = h5tx__kv_seek(c, pre, sizeof pre, &k, &v, err);
  while (r == 0 && k.n >= sizeof pre && memcmp(k.p, pre, sizeof pre) == 0) {
    h5tx__val vv = v;
    h5tx__place p;
    uint64_t refs;
    const char *why;
    int rc = h5tx__idx_value(IDX_DEDUPE, &k, &vv, err);
    if (rc) return rc;
    if (h5tx__dedupe_parse(&k, &vv, &p, &refs, &why) != 0) return bad(err, why);
    if ((rc = fn(arg, &p, err))) return rc;
    r = h5tx__kv_next(c, &k, &v, err);
  }
  return r == H5TX_ENOENT || r == 0 ? 0 : r;
}

typedef struct match_arg {
  h5tx__plog *l;
  const uint8_t *page;
  uint32_t ps;
  uint8_t *buf, *zbuf;
  h5tx__place *out;
} match_arg;

static int try_match(void *arg, const h5tx__place *p, h5tx_error *err) {
  (void)err;
  match_arg *a = arg;
  h5tx_error e = {0};
  if (h5tx__page2_load(a->l, p, a->buf, a->ps, a->zbuf, &e) != 0) return 0;
  if (memcmp(a->buf, a->page, a->ps) != 0) return 0; /* a hash collision */
  *a->out = *p;
  return 1;
}

int h5tx__dedupe_match(h5tx__cur *c, h5tx__plog *l, const uint8_t *page, uint32_t ps, uint64_t hash,
                       uint8_t *buf, uint8_t *zbuf, h5tx__place *out, h5tx_error *err) {
  match_arg a = {l, page, ps, buf, zbuf, out};
  return each(c, hash, ps, try_match, &a, err);
}

typedef struct cur_arg {
  h5tx__place *p;
} cur_arg;

static int same_identity(void *arg, const h5tx__place *p, h5tx_error *err) {
  (void)err;
  h5tx__place *want = ((cur_arg *)arg)->p;
  if (p->wid != want->wid || p->key != want->key || p->check != want->check ||
      p->enc != want->enc || p->stored != want->stored)
    return 0;
  *want = *p;
  return 1;
}

int h5tx__dedupe_current(h5tx__cur *c, h5tx__place *p, h5tx_error *err) {
  cur_arg a = {p};
  int rc = each(c, p->content, p->raw, same_identity, &a, err);
  return rc == 1 ? 0 : rc ? rc : H5TX_ENOENT;
}
