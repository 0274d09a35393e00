/* hash_simd.c - XXH3-64 (seed 0) compiled inline for one vector unit:
 * built once with -mavx2 (H5TX_HASH_NAME h5tx__hash_avx2) and once with
 * -mavx512f (h5tx__hash_avx512); codec.c picks one at run time when the
 * CPU has it. The output is XXH3's, whatever the vector unit (FORMAT.md,
 * "Hash"); only the speed differs (the shared libxxhash runs its SSE2
 * path: 6 GB/s here against 16 with AVX2 and 21 with AVX-512). */
#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t H5TX_HASH_NAME(const void *p, size_t len);
uint64_t H5TX_HASH_NAME(const void *p, size_t len) { return XXH3_64bits(p, len); }
