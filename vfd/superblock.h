/* superblock.h - the one thing the driver changes in what HDF5 writes: the
 * file consistency flags of the superblock (superblock.c). */
#ifndef H5TX_VFD_SUPERBLOCK_H
#define H5TX_VFD_SUPERBLOCK_H

#include <stddef.h>
#include <stdint.h>

/* `sb` holds the first `n` bytes of an HDF5 superblock (signature first).
 * If it marks the file open for writing (the file consistency flags of
 * superblock versions 0 to 3), clear the flags there - and for versions 2
 * and 3 recompute the checksum, when the one there holds - and return 1;
 * else (nothing marked, not all of it in `n` bytes, not a superblock known
 * here) leave it and return 0. */
int h5tx__sb_unmark(uint8_t *sb, size_t n);

/* HDF5's metadata checksum (Bob Jenkins' lookup3 hash, initial value 0). */
uint32_t h5tx__lookup3(const void *key, size_t length);

#endif
