/* fuzz.h - what the libFuzzer harnesses share: a NUL-terminated copy of the
 * input, and FUZZ_ASSERT, which crashes (so libFuzzer keeps the input) when
 * a decoder breaks one of its promises. Messages go to file descriptor 2
 * directly: harnesses may silence stdio's stderr. */
#ifndef H5TX_FUZZ_H
#define H5TX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      dprintf(2, "%s:%d: fuzz assertion failed: %s\n", __FILE__, __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* The input as a C string (cut at its first NUL); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  memcpy(s, data, size);
  s[size] = 0;
  return s;
}

#endif
