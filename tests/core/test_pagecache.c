/* test_pagecache.c - the decoded-page cache (pagecache.h): a page kept is
 * given back in parts for its record only (segment, offset and check all
 * match), a record of another size or check misses, the byte budget is
 * kept, and a NULL cache always misses. */
#include "check.h"
#include "pagecache.h"

int main(void) {
  enum { PS = 4096 };
  uint8_t page[PS], got[PS];
  for (int i = 0; i < PS; i++)
    page[i] = (uint8_t)(i * 7 + 3);
  h5tx__pcache *c = h5tx__pcache_new(8 * PS);
  REQUIRE(c);
  h5tx__place p = {.seg = 3, .off = 8192, .raw = PS, .check = 0x1234};
  CHECK(h5tx__pcache_get(c, &p, 0, 10, got) == 0);
  h5tx__pcache_put(c, &p, page);
  CHECK(h5tx__pcache_get(c, &p, 100, 200, got) == 1 && memcmp(got, page + 100, 200) == 0);
  CHECK(h5tx__pcache_get(c, &p, PS - 1, 2, got) == 0); /* past the page */
  h5tx__place q = p;
  q.check ^= 1; /* another record at the same place (a rewritten segment) */
  CHECK(h5tx__pcache_get(c, &q, 0, 10, got) == 0);
  q = p;
  q.off += PS;
  CHECK(h5tx__pcache_get(c, &q, 0, 10, got) == 0);
  /* many pages: never more than the budget held, the newest kept */
  int hits = 0;
  for (uint64_t i = 0; i < 200; i++) {
    h5tx__place r = {.seg = 9, .off = i * PS, .raw = PS, .check = i};
    page[0] = (uint8_t)i;
    h5tx__pcache_put(c, &r, page);
    if (h5tx__pcache_get(c, &r, 0, 1, got) && got[0] == (uint8_t)i) hits++;
  }
  printf("core_pagecache: %d of 200 fresh pages kept within a budget of 8\n", hits);
  int held = 0;
  for (uint64_t i = 0; i < 200; i++) {
    h5tx__place r = {.seg = 9, .off = i * PS, .raw = PS, .check = i};
    held += h5tx__pcache_get(c, &r, 0, 1, got);
  }
  CHECK(held <= 8 && held >= 1);
  CHECK(h5tx__pcache_get(NULL, &p, 0, 1, got) == 0);
  h5tx__pcache_free(c);
  return check_done("core_pagecache");
}
