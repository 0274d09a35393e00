/* out.h - output of the h5tx command: the one JSON writer (--json) and
 * aligned text tables. */
#ifndef H5TX_CLI_OUT_H
#define H5TX_CLI_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- JSON ---------------------------------------------------------------- */

#define CLI_JSON_DEPTH 16

/** Writes one JSON document, indented, to a stream. Every value takes a key:
 * the member name inside an object, NULL inside an array or at the top.
 * Strings are escaped per RFC 8259; bytes that are not UTF-8 become U+FFFD,
 * so the output is always valid JSON whatever names and messages hold. */
typedef struct cli_json {
  FILE *f;
  int depth;
  char close[CLI_JSON_DEPTH]; /* '}' or ']' per open level */
  int count[CLI_JSON_DEPTH];  /* values written at that level */
} cli_json;

void cli_json_init(cli_json *j, FILE *f);
void cli_json_object(cli_json *j, const char *key);
void cli_json_array(cli_json *j, const char *key);
/** Close the innermost object or array; at the top, end the document. */
void cli_json_end(cli_json *j);
void cli_json_str(cli_json *j, const char *key, const char *v); /* NULL: null */
void cli_json_u64(cli_json *j, const char *key, uint64_t v);
void cli_json_i64(cli_json *j, const char *key, int64_t v);
void cli_json_double(cli_json *j, const char *key, double v); /* not finite: null */
void cli_json_bool(cli_json *j, const char *key, int v);
void cli_json_null(cli_json *j, const char *key);

/** Write `s` as a JSON string literal, quotes included. */
void cli_json_quote(FILE *f, const char *s);

/* ---- text tables --------------------------------------------------------- */

/** Rows of cells printed with aligned columns. */
typedef struct cli_table {
  size_t ncol;
  const char *align; /* per column: 'l' or 'r' */
  char **cells;      /* row-major, nrows * ncol */
  size_t nrows, cap;
} cli_table;

/** `align` has one letter per column ("lrrl"), which also gives their number. */
void cli_table_init(cli_table *t, const char *align);
/** Add a row of `t->ncol` cells (copied; NULL prints as empty). 0 or -1. */
int cli_table_row(cli_table *t, ...);
/** Print the rows, columns two spaces apart, and free the table. */
void cli_table_print(cli_table *t, FILE *f);

#endif /* H5TX_CLI_OUT_H */
