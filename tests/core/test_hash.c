/* test_hash.c - h5tx__hash (XXH3-64, seed 0, through the widest vector
 * unit this CPU has: codec.c) gives exactly what libxxhash's XXH3_64bits
 * gives, for every length class (0 to a few pages, unaligned starts);
 * FORMAT.md freezes that output. */
#include "check.h"
#include "codec.h"

#include <xxhash.h>

int main(void) {
  uint64_t seed = test_seed("core_hash");
  size_t cap = 300000 + 64;
  uint8_t *b = malloc(cap);
  REQUIRE(b);
  for (size_t i = 0; i < cap; i++)
    b[i] = (uint8_t)rng_next(&seed);
  size_t lens[] = {0, 1, 3, 8, 16, 17, 128, 129, 240, 241, 1024, 4095, 4096, 65536, 65537, 300000};
  int bad = 0;
  for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
    for (size_t off = 0; off < 8; off++)
      if (h5tx__hash(b + off, lens[k]) != XXH3_64bits(b + off, lens[k])) bad++;
  for (int i = 0; i < 2000; i++) {
    size_t n = (size_t)rng_below(&seed, 300000), off = (size_t)rng_below(&seed, 64);
    if (h5tx__hash(b + off, n) != XXH3_64bits(b + off, n)) bad++;
  }
  CHECK(bad == 0);
  /* FORMAT.md's frozen output: XXH3-64 of "h5tx" with seed 0 */
  CHECK(h5tx__hash("h5tx", 4) == XXH3_64bits("h5tx", 4));
  free(b);
  return check_done("core_hash");
}
