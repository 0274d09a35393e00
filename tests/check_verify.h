/* check_verify.h - what h5tx_verify() found, kept for the tests to search:
 * the damage and notes it reported, each a line. */
#ifndef H5TX_CHECK_VERIFY_H
#define H5TX_CHECK_VERIFY_H

#include "check.h"

typedef struct findings {
  int damage, notes;
  char text[32768]; /* "damage: ...\n" and "note: ...\n" lines */
  size_t len;
  h5tx_verify_result res;
} findings;

static inline void on_finding(void *arg, int kind, const char *msg) {
  findings *f = arg;
  if (kind == H5TX_VERIFY_DAMAGE)
    f->damage++;
  else
    f->notes++;
  int n = snprintf(f->text + f->len, sizeof f->text - f->len, "%s: %s\n",
                   kind == H5TX_VERIFY_DAMAGE ? "damage" : "note", msg);
  if (n > 0 && (size_t)n < sizeof f->text - f->len) f->len += (size_t)n;
}

/* Verify the store at `path` with a handle of its own; prints what it found. */
static inline findings verify_store(const char *path) {
  h5tx_error e = {0};
  findings f;
  memset(&f, 0, sizeof f);
  h5tx_store *s;
  OK(h5tx_store_open(path, NULL, &s, &e));
  OK(h5tx_verify(s, on_finding, NULL, &f, &f.res, &e));
  h5tx_store_close(s);
  CHECK(f.res.problems == (uint64_t)f.damage && f.res.notes == (uint64_t)f.notes);
  printf("verify %s: %d damage, %d notes\n%s", path, f.damage, f.notes, f.text);
  return f;
}

/* 1 if a line of kind `kind` ("damage" or "note") holds both `a` and `b`. */
static inline int found(const findings *f, const char *kind, const char *a, const char *b) {
  const char *line = f->text;
  while (*line) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char buf[2048];
    snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), line);
    if (strncmp(buf, kind, strlen(kind)) == 0 && strstr(buf, a) && strstr(buf, b)) return 1;
    line += n + (end != NULL);
  }
  return 0;
}

#endif
