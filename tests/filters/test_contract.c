/* test_contract.c - the zstd filter plugin's callback against the contract
 * HDF5 holds filters to, checked on the function itself (loaded from the
 * plugin file like HDF5 does, with no libhdf5 in the process): what HDF5
 * 2.2 checks at run time - the returned size fits the buffer the filter
 * hands back, and what is compressed decompresses to the same bytes - and
 * that a failure returns 0 leaving HDF5's buffer as it was (HDF5 frees it).
 *   usage: filter_contract PLUGIN.so */
#include "check.h"

#include <H5PLextern.h>
#include <H5Zpublic.h>
#include <dlfcn.h>

static H5Z_func_t filter;

/* Run the filter on a malloc'd copy of `in`; the result in *out (malloc'd,
 * *cap bytes); returns the filter's return value. */
static size_t run(unsigned flags, int level, int have_level, const void *in, size_t n, void **out,
                  size_t *cap) {
  unsigned cd[1] = {(unsigned)level};
  void *buf = malloc(n ? n : 1);
  REQUIRE(buf);
  memcpy(buf, in, n);
  size_t size = n;
  size_t r = filter(flags, have_level ? 1 : 0, cd, n, &size, &buf);
  *out = buf;
  *cap = size;
  return r;
}

int main(int argc, char **argv) {
  REQUIRE(argc == 2);
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) fprintf(stderr, "%s\n", dlerror());
  REQUIRE(h);
  const void *(*info)(void) = (const void *(*)(void))dlsym(h, "H5PLget_plugin_info");
  REQUIRE(info);
  const H5Z_class2_t *cls = info();
  REQUIRE(cls && cls->id == 32015 && cls->filter);
  filter = cls->filter;
  uint64_t rng = test_seed("filter_contract");

  const size_t sizes[] = {1, 7, 100, 4096, 65536, 1 << 20, 3000001};
  const struct { int level, have; } levels[] = {{0, 0}, {1, 1}, {3, 1}, {19, 1}, {-5, 1}, {100, 1}};
  int cases = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    size_t n = sizes[si];
    uint8_t *data = malloc(n);
    REQUIRE(data);
    for (int kind = 0; kind < 3; kind++) {
      for (size_t i = 0; i < n; i++) /* random, repetitive, all zero */
        data[i] = kind == 0 ? (uint8_t)rng_next(&rng) : kind == 1 ? (uint8_t)(i % 17) : 0;
      for (size_t li = 0; li < sizeof levels / sizeof *levels; li++) {
        if (n > 65536 && levels[li].level == 19) continue; /* slow, nothing new */
        void *packed;
        size_t cap;
        size_t m = run(0, levels[li].level, levels[li].have, data, n, &packed, &cap);
        /* fits: what is returned lies within the buffer handed back */
        CHECK(m > 0 && m <= cap);
        void *back;
        size_t cap2;
        size_t r =
            run(H5Z_FLAG_REVERSE, levels[li].level, levels[li].have, packed, m, &back, &cap2);
        /* round trip: the same bytes, the same length, within the buffer */
        CHECK(r == n && r <= cap2 && memcmp(back, data, n) == 0);
        free(packed);
        free(back);
        cases++;
      }
    }
    free(data);
  }

  /* Failures return 0 and leave HDF5's buffer, pointer and size as they were. */
  uint8_t junk[512];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)rng_next(&rng);
  uint8_t *data = malloc(100000);
  REQUIRE(data);
  for (size_t i = 0; i < 100000; i++)
    data[i] = (uint8_t)(i % 251);
  void *packed;
  size_t cap;
  size_t m = run(0, 3, 1, data, 100000, &packed, &cap);
  REQUIRE(m > 8);
  const struct {
    const void *in;
    size_t n;
    const char *what;
  } bad[] = {{junk, sizeof junk, "not a zstd frame"},
             {packed, m / 2, "a truncated frame"},
             {packed, m - 1, "a frame without its last byte (checksum)"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    void *buf = malloc(bad[i].n);
    REQUIRE(buf);
    memcpy(buf, bad[i].in, bad[i].n);
    void *was = buf;
    size_t size = bad[i].n;
    size_t r = filter(H5Z_FLAG_REVERSE, 0, NULL, bad[i].n, &size, &buf);
    if (r != 0 || buf != was || size != bad[i].n || memcmp(buf, bad[i].in, bad[i].n) != 0) {
      fprintf(stderr, "%s: returned %zu, buffer %s\n", bad[i].what, r,
              buf == was ? "kept" : "replaced");
      CHECK(0);
    }
    free(buf);
    cases++;
  }
  free(packed);
  free(data);
  printf("%d cases\n", cases);
  return check_done("filter_contract");
}
