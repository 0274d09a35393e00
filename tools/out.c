/* out.c - the h5tx command's output: one JSON writer (escaping, UTF-8
 * checking, indentation) and aligned text tables. */
#include "out.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at `s` (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  unsigned cp = c & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void cli_json_quote(FILE *f, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str);
  fputc('"', f);
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc((int)c, f);
      i++;
    } else if (c < 0x20) {
      switch (c) {
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      case '\b': fputs("\\b", f); break;
      case '\f': fputs("\\f", f); break;
      default: fprintf(f, "\\u%04x", c);
      }
      i++;
    } else {
      size_t len = utf8_len(s + i, n - i);
      if (len == 0) {
        fputs("\\ufffd", f); /* not UTF-8: one replacement per bad byte */
        i++;
      } else {
        fwrite(s + i, 1, len, f);
        i += len;
      }
    }
  }
  fputc('"', f);
}

void cli_json_init(cli_json *j, FILE *f) {
  memset(j, 0, sizeof *j);
  j->f = f;
}

/* Separator, indentation and key before a value. */
static void member(cli_json *j, const char *key) {
  int d = j->depth - 1 < CLI_JSON_DEPTH ? j->depth - 1 : CLI_JSON_DEPTH - 1;
  if (j->depth > 0) {
    if (j->count[d]++) fputc(',', j->f);
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->f);
  }
  if (key && j->depth > 0 && j->close[d] == '}') {
    cli_json_quote(j->f, key);
    fputs(": ", j->f);
  }
}

static void open_level(cli_json *j, const char *key, char open, char close) {
  member(j, key);
  fputc(open, j->f);
  if (j->depth < CLI_JSON_DEPTH) {
    j->close[j->depth] = close;
    j->count[j->depth] = 0;
  }
  j->depth++;
}

void cli_json_object(cli_json *j, const char *key) { open_level(j, key, '{', '}'); }

void cli_json_array(cli_json *j, const char *key) { open_level(j, key, '[', ']'); }

void cli_json_end(cli_json *j) {
  if (j->depth == 0) return;
  j->depth--;
  int d = j->depth < CLI_JSON_DEPTH ? j->depth : CLI_JSON_DEPTH - 1;
  if (j->count[d]) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->f);
  }
  fputc(j->close[d], j->f);
  if (j->depth == 0) fputc('\n', j->f);
}

void cli_json_str(cli_json *j, const char *key, const char *v) {
  member(j, key);
  if (v)
    cli_json_quote(j->f, v);
  else
    fputs("null", j->f);
}

void cli_json_u64(cli_json *j, const char *key, uint64_t v) {
  member(j, key);
  fprintf(j->f, "%llu", (unsigned long long)v);
}

void cli_json_i64(cli_json *j, const char *key, int64_t v) {
  member(j, key);
  fprintf(j->f, "%lld", (long long)v);
}

void cli_json_double(cli_json *j, const char *key, double v) {
  member(j, key);
  if (isfinite(v))
    fprintf(j->f, "%.6g", v);
  else
    fputs("null", j->f);
}

void cli_json_bool(cli_json *j, const char *key, int v) {
  member(j, key);
  fputs(v ? "true" : "false", j->f);
}

void cli_json_null(cli_json *j, const char *key) {
  member(j, key);
  fputs("null", j->f);
}

/* ---- text tables --------------------------------------------------------- */

void cli_table_init(cli_table *t, const char *align) {
  memset(t, 0, sizeof *t);
  t->align = align;
  t->ncol = strlen(align);
}

int cli_table_row(cli_table *t, ...) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    char **c = realloc(t->cells, cap * t->ncol * sizeof *c);
    if (!c) return -1;
    t->cells = c;
    t->cap = cap;
  }
  va_list ap;
  va_start(ap, t);
  char **row = t->cells + t->nrows * t->ncol;
  int rc = 0;
  for (size_t i = 0; i < t->ncol; i++) {
    const char *s = va_arg(ap, const char *);
    row[i] = strdup(s ? s : "");
    if (!row[i]) rc = -1;
  }
  va_end(ap);
  t->nrows++;
  return rc;
}

/* Display width: code points, not bytes. */
static size_t width(const char *s) {
  size_t w = 0;
  for (; s && *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80) w++;
  return w;
}

void cli_table_print(cli_table *t, FILE *f) {
  size_t *w = calloc(t->ncol ? t->ncol : 1, sizeof *w);
  for (size_t r = 0; r < t->nrows && w; r++)
    for (size_t c = 0; c < t->ncol; c++) {
      size_t x = width(t->cells[r * t->ncol + c]);
      if (x > w[c]) w[c] = x;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncol; c++) {
      const char *s = t->cells[r * t->ncol + c];
      s = s ? s : "";
      size_t pad = w ? w[c] - width(s) : 0;
      int last = c + 1 == t->ncol;
      if (c) fputs("  ", f);
      if (t->align[c] == 'r')
        fprintf(f, "%*s%s", (int)pad, "", s);
      else
        fprintf(f, "%s%*s", s, last ? 0 : (int)pad, "");
    }
    fputc('\n', f);
  }
  for (size_t i = 0; i < t->nrows * t->ncol; i++)
    free(t->cells[i]);
  free(t->cells);
  free(w);
  memset(t, 0, sizeof *t);
}
