/* H5FDh5tx.h - the h5tx HDF5 virtual file driver: HDF5 files kept in an h5tx
 * store, every flush an atomic, durable revision.
 *
 * Names: "lab.h5tx/runs/r1.h5" is the head of file runs/r1.h5 in store
 * lab.h5tx (created on first use); "lab.h5tx/runs/r1.h5@42" is revision 42,
 * and "...@NAME" a tagged revision, both read-only. A name outside any store
 * is a plain POSIX file unless the config says plain=no; with store=DIR.h5tx
 * in the config, plain relative names are opened inside that store.
 *
 * Config: "key=value;...": rev, page_size, codec, durability (sync|nosync),
 * cache and message as parsed by h5tx_config_parse() (h5tx.h), and the
 * driver's own keys store (DIR.h5tx), commit (flush|close) and plain
 * (yes|no). Errors name the key. A commit's message is the
 * config's message=, else $H5TX_MESSAGE, else "PROGRAM: flush" (or close).
 *
 * Works with HDF5 1.10 (link this library and call H5Pset_fapl_h5tx) and
 * HDF5 1.14, where the same library is also a VFD plugin loaded by name:
 *   HDF5_PLUGIN_PATH=<prefix>/lib/hdf5/plugins HDF5_DRIVER=h5tx
 *   HDF5_DRIVER_CONFIG='commit=close' h5dump lab.h5tx/r1.h5 */
#ifndef H5FDh5tx_H
#define H5FDh5tx_H

#include <hdf5.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define H5FD_H5TX_API __attribute__((visibility("default")))
#else
#define H5FD_H5TX_API
#endif

/** The driver's name, as given to HDF5_DRIVER and --vfd-name. */
#define H5FD_H5TX_NAME "h5tx"
/** The driver's class value: HDF5 1.14's testing range is 256-511. */
#define H5FD_H5TX_VALUE ((H5FD_class_value_t)301)
/** Longest config string the fapl carries (bytes, with the NUL). */
#define H5FD_H5TX_CONFIG_MAX 4096

/** What H5Fget_vfd_handle gives for a file in a store: the driver's own
 * objects for it, valid until the file closes (h5tx.h describes them). For
 * a plain file outside any store it gives, like sec2, a pointer to the
 * file's POSIX descriptor (an int). */
typedef struct H5FD_h5tx_handle_t {
  int fd;                     /**< -1: a file in a store has no descriptor */
  struct h5tx_store *store;   /**< the store */
  struct h5tx_writer *writer; /**< opened read-write: the file's writer; else NULL */
  struct h5tx_snap *snap;     /**< opened read-only: the snapshot read; else NULL */
  const char *name;           /**< the file's name in the store */
} H5FD_h5tx_handle_t;

/** The driver's id, registering it on first use. */
#define H5FD_H5TX (H5FD_h5tx_init())

/** Register the driver with HDF5 (once) and return its id; negative on
 * failure. */
H5FD_H5TX_API hid_t H5FD_h5tx_init(void);

/** Make file access list `fapl` use h5tx with `config` (NULL or "" for the
 * defaults). The config is checked now: a bad one fails here, with an HDF5
 * error naming the key.
 * @return non-negative on success, negative on failure */
H5FD_H5TX_API herr_t H5Pset_fapl_h5tx(hid_t fapl, const char *config);

/** Copy the config string set on `fapl` into `buf` (`size` bytes, always
 * NUL-terminated when size > 0).
 * @return its length, or negative if `fapl` does not use h5tx */
H5FD_H5TX_API ssize_t H5Pget_fapl_h5tx(hid_t fapl, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
