/* common.c - the code the h5tx command and h5tx mount share (h5tx_common.h):
 * loading a store's tags and formatting times as the log shows them. */
#include "h5tx_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int add_tag(void *arg, const char *name, h5tx_rev rev) {
  h5tx_common_tags *l = arg;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    h5tx_common_tag *v = realloc(l->v, cap * sizeof *v);
    if (!v) return H5TX_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if (!(l->v[l->n].name = strdup(name))) return H5TX_ENOMEM;
  l->v[l->n++].rev = rev;
  return 0;
}

int h5tx_common_tags_load(h5tx_store *s, h5tx_common_tags *l, h5tx_error *e) {
  memset(l, 0, sizeof *l);
  int rc = h5tx_tags(s, add_tag, l, e);
  if (rc) h5tx_common_tags_free(l);
  return rc;
}

void h5tx_common_tags_free(h5tx_common_tags *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].name);
  free(l->v);
  memset(l, 0, sizeof *l);
}

const char *h5tx_common_time(char buf[32], uint64_t ns, int iso) {
  time_t t = (time_t)(ns / 1000000000u);
  struct tm tm;
  if (!gmtime_r(&t, &tm) ||
      !strftime(buf, 32, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%SZ", &tm))
    snprintf(buf, 32, "?");
  return buf;
}
