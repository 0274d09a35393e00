/* H5Zzstd.c - the Zstandard HDF5 filter, registered id 32015, as a plugin
 * HDF5 loads from HDF5_PLUGIN_PATH.
 *
 * Byte-compatible with the registered filter 32015 (the reference plugin,
 * hdf5plugin's Zstd, the HDF Group's H5Zzstd): cd_values[0] is the level as
 * a signed int (clamped to zstd's range; none means 3); each chunk is
 * exactly one zstd frame with its content size, no dictionary, no header.
 * Frames without a content size (streaming writers) are decoded by
 * streaming. The frames this plugin writes also carry zstd's content
 * checksum (part of the zstd frame format, verified by every zstd decoder),
 * so a corrupt or truncated chunk fails the read instead of giving wrong
 * bytes. Frames from writers that leave the checksum out can only be checked
 * as far as zstd's structure goes. HDF5 does not tell a filter the chunk
 * size, so a valid frame that decodes to fewer bytes than the chunk cannot
 * be caught here (true of every implementation of 32015).
 *
 * The plugin does not link libhdf5: it uses HDF5's headers for types only,
 * so one binary loads into HDF5 1.10, 1.14 and HDF5 builds bundled by other
 * programs. Chunk buffers are malloc'd and freed with free(), as HDF5 does
 * for filter buffers. zstd itself is wrapped in one place, core/src/codec.c,
 * shared with the page store. */
#include "codec.h"

#include <H5PLextern.h>
#include <H5Zpublic.h>
#include <stdint.h>
#include <stdlib.h>

#define H5Z_FILTER_ZSTD 32015
#define DEFAULT_LEVEL 3
/* A chunk decodes to at most 4 GiB (HDF5's chunk size limit). */
#define MAX_CHUNK ((size_t)UINT32_MAX)

static size_t H5Z_zstd_filter(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
                              size_t nbytes, size_t *buf_size, void **buf) {
  void *out = NULL;
  size_t out_len = 0;
  if (flags & H5Z_FLAG_REVERSE) {
    if (h5tx__zstd_decompress_alloc(*buf, nbytes, MAX_CHUNK, &out, &out_len, NULL) != 0)
      return 0; /* HDF5: "filter returned failure during read" */
    free(*buf);
    *buf = out;
    *buf_size = out_len;
    return out_len;
  }
  int level = cd_nelmts > 0 ? (int)cd_values[0] : DEFAULT_LEVEL;
  size_t cap = h5tx__zstd_bound(nbytes);
  if (!(out = malloc(cap))) return 0;
  out_len = h5tx__zstd_compress(out, cap, *buf, nbytes, h5tx__zstd_clamp(level), 1, NULL);
  if (out_len == 0) {
    free(out);
    return 0;
  }
  free(*buf);
  *buf = out;
  *buf_size = cap;
  return out_len;
}

static const H5Z_class2_t H5Z_ZSTD[1] = {{
    .version = H5Z_CLASS_T_VERS,
    .id = H5Z_FILTER_ZSTD,
    .encoder_present = 1,
    .decoder_present = 1,
    .name = "Zstandard compression: http://www.zstd.net",
    .can_apply = NULL,
    .set_local = NULL,
    .filter = H5Z_zstd_filter,
}};

__attribute__((visibility("default"))) H5PL_type_t H5PLget_plugin_type(void) {
  return H5PL_TYPE_FILTER;
}
__attribute__((visibility("default"))) const void *H5PLget_plugin_info(void) { return H5Z_ZSTD; }
