/* superblock.c - clears the file consistency flags of an HDF5 superblock
 * (superblock.h), in what HDF5 writes to a file in a store.
 *
 * With a lock method (which the driver has, as sec2), HDF5 marks a file
 * opened for writing in its superblock ("open for write") and clears the
 * mark at close. A revision committed by a flush while the writer is open
 * would carry the mark, and HDF5 refuses to open a version 3 one read-only
 * ("file is already open for write"); and opening a file read-write and
 * closing it unchanged would write the superblock twice (marked, then
 * unmarked), a change to commit. A revision is a consistent state in its
 * own right and the store's lease keeps out other writers, so the driver
 * stores superblocks unmarked. */
#include "superblock.h"

#include <string.h>

#define ROT(x, k) (((x) << (k)) ^ ((x) >> (32 - (k))))
#define MIX(a, b, c)                                                                               \
  do {                                                                                             \
    a -= c;                                                                                        \
    a ^= ROT(c, 4);                                                                                \
    c += b;                                                                                        \
    b -= a;                                                                                        \
    b ^= ROT(a, 6);                                                                                \
    a += c;                                                                                        \
    c -= b;                                                                                        \
    c ^= ROT(b, 8);                                                                                \
    b += a;                                                                                        \
    a -= c;                                                                                        \
    a ^= ROT(c, 16);                                                                               \
    c += b;                                                                                        \
    b -= a;                                                                                        \
    b ^= ROT(a, 19);                                                                               \
    a += c;                                                                                        \
    c -= b;                                                                                        \
    c ^= ROT(b, 4);                                                                                \
    b += a;                                                                                        \
  } while (0)
#define FINAL(a, b, c)                                                                             \
  do {                                                                                             \
    c ^= b;                                                                                        \
    c -= ROT(b, 14);                                                                               \
    a ^= c;                                                                                        \
    a -= ROT(c, 11);                                                                               \
    b ^= a;                                                                                        \
    b -= ROT(a, 25);                                                                               \
    c ^= b;                                                                                        \
    c -= ROT(b, 16);                                                                               \
    a ^= c;                                                                                        \
    a -= ROT(c, 4);                                                                                \
    b ^= a;                                                                                        \
    b -= ROT(a, 14);                                                                               \
    c ^= b;                                                                                        \
    c -= ROT(b, 24);                                                                               \
  } while (0)

static uint32_t le32(const uint8_t *k, size_t n) { /* n <= 4 bytes, little-endian */
  uint32_t v = 0;
  for (size_t i = 0; i < n; i++)
    v += (uint32_t)k[i] << (8 * i);
  return v;
}

uint32_t h5tx__lookup3(const void *key, size_t length) {
  const uint8_t *k = key;
  uint32_t a, b, c;
  a = b = c = 0xdeadbeef + (uint32_t)length;
  while (length > 12) {
    a += le32(k, 4);
    b += le32(k + 4, 4);
    c += le32(k + 8, 4);
    MIX(a, b, c);
    length -= 12;
    k += 12;
  }
  if (length == 0) return c;
  a += le32(k, length < 4 ? length : 4);
  if (length > 4) b += le32(k + 4, length < 8 ? length - 4 : 4);
  if (length > 8) c += le32(k + 8, length - 8);
  FINAL(a, b, c);
  return c;
}

static const uint8_t signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

int h5tx__sb_unmark(uint8_t *sb, size_t n) {
  if (n < 12 || memcmp(sb, signature, 8) != 0) return 0;
  if (sb[8] <= 1) { /* versions 0 and 1: 4 bytes of flags at 20, no checksum */
    if (n < 24 || le32(sb + 20, 4) == 0) return 0;
    memset(sb + 20, 0, 4);
    return 1;
  }
  if (sb[8] > 3) return 0;
  /* versions 2 and 3: 1 byte of flags at 11; 4 addresses; a checksum */
  size_t o = sb[9], len = 12 + 4 * o + 4;
  if ((o != 2 && o != 4 && o != 8) || n < len || sb[11] == 0) return 0;
  if (h5tx__lookup3(sb, len - 4) != le32(sb + len - 4, 4)) return 0; /* not what we think */
  sb[11] = 0;
  uint32_t sum = h5tx__lookup3(sb, len - 4);
  for (size_t i = 0; i < 4; i++)
    sb[len - 4 + i] = (uint8_t)(sum >> (8 * i));
  return 1;
}
