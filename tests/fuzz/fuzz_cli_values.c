/* fuzz_cli_values.c - the h5tx command's parsers of values (tools/util.c):
 * numbers (cli_parse_u64: --keep-last, --threads, --max), dates and ages
 * (cli_parse_date: gc --keep-since) and the option parser itself
 * (cli_parse: argv split at NUL bytes). Byte 0 picks the parser. Promises
 * checked: no crash or sanitizer report; a number is all digits and prints
 * back as itself; a date is a positive time, and a calendar date or time
 * prints back as exactly the text given. */
#include "fuzz.h"

#include "cli_stubs.h"

#include <time.h>

static void number(const char *s) {
  uint64_t v;
  if (cli_parse_u64(s, &v) != 0) return;
  FUZZ_ASSERT(*s && strspn(s, "0123456789") == strlen(s));
  while (s[0] == '0' && s[1]) /* leading zeros */
    s++;
  char back[32];
  snprintf(back, sizeof back, "%llu", (unsigned long long)v);
  FUZZ_ASSERT(strcmp(back, s) == 0);
}

static void date(const char *s) {
  const uint64_t now = 1764547200ull * 1000000000u; /* 2025-12-01, fixed: reproducible */
  uint64_t ns;
  if (cli_parse_date(s, now, &ns) != 0) return;
  FUZZ_ASSERT(ns > 0);
  if (strchr(s, '-')) {
    /* A date prints back as exactly what was given, in the same shape. */
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    FUZZ_ASSERT(gmtime_r(&t, &tm));
    char back[64];
    int n =
        snprintf(back, sizeof back, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    size_t len = strlen(s);
    int zulu = len > 10 && s[len - 1] == 'Z';
    if (len - (size_t)zulu > 10) {
      const char *colon = strchr(s, ':');
      int seconds = colon && strchr(colon + 1, ':');
      n += snprintf(back + n, sizeof back - (size_t)n, "%c%02d:%02d", s[10], tm.tm_hour, tm.tm_min);
      if (seconds) n += snprintf(back + n, sizeof back - (size_t)n, ":%02d", tm.tm_sec);
    }
    if (zulu) snprintf(back + n, sizeof back - (size_t)n, "Z");
    if (strcmp(back, s) != 0) {
      dprintf(2, "date '%s' parsed as %s\n", s, back);
      abort();
    }
  } else {
    FUZZ_ASSERT(ns <= now);
  }
}

static void options(const uint8_t *data, size_t size) {
  static const cli_opt opts[] = {
      {"keep-last", 'n', 1}, {"json", 0, 0}, {"x", 'x', 0}, {NULL, 0, 0}};
  char *buf = malloc(size + 1);
  if (!buf) abort();
  memcpy(buf, data, size);
  buf[size] = 0;
  char *argv[64];
  int argc = 0;
  argv[argc++] = (char *)"fuzz";
  for (char *p = buf; p < buf + size && argc < 63; p += strlen(p) + 1)
    argv[argc++] = p;
  argv[argc] = NULL;
  cli_args a;
  int rc = cli_parse(&fuzz_cmd, opts, 0, CLI_MAX_POS, argc, argv, &a);
  if (rc == -1) {
    FUZZ_ASSERT(a.npos >= 0 && a.npos <= CLI_MAX_POS);
    for (int i = 0; opts[i].name; i++)
      FUZZ_ASSERT(!a.set[i] || !opts[i].has_arg || a.val[i]);
  }
  free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_stderr();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *s = fuzz_cstr(data + 1, size - 1);
  switch (data[0] % 3) {
  case 0: number(s); break;
  case 1: date(s); break;
  case 2: options(data + 1, size - 1); break;
  }
  free(s);
  return 0;
}
