/* hdf5_api.h - every HDF5 function and global the driver uses, and, in the
 * plugin build (H5TX_VFD_PLUGIN), where they come from: a table filled at
 * run time from the libhdf5 that loaded the plugin, so the plugin has no
 * link-time dependency on libhdf5 and serves a host whose libhdf5 carries
 * another file name and soname, loaded RTLD_LOCAL (pip's h5py wheels).
 *
 * The driver source (H5FDh5tx.c) calls HDF5 by its usual names; in the
 * plugin build this header turns each of those names into the table's
 * entry, so one source serves both builds. A name missing from the lists
 * below fails to link the plugin (-Wl,--no-undefined), so none slips by. */
#ifndef H5TX_HDF5_API_H
#define H5TX_HDF5_API_H

#include <hdf5.h>

/* Functions: X(name). */
#define H5TX_HDF5_FUNCS(X)                                                                         \
  X(H5get_libversion)                                                                              \
  X(H5open)                                                                                        \
  X(H5check_version)                                                                               \
  X(H5Epush2)                                                                                      \
  X(H5Eget_auto2)                                                                                  \
  X(H5Eset_auto2)                                                                                  \
  X(H5Pget_driver_info)                                                                            \
  X(H5Pget_driver_config_str)

/* Global ids (variables in libhdf5, behind macros such as H5E_VFL). */
#define H5TX_HDF5_VARS(X)                                                                          \
  X(H5E_ERR_CLS_g)                                                                                 \
  X(H5E_VFL_g)                                                                                     \
  X(H5E_BADVALUE_g)                                                                                \
  X(H5E_CANTALLOC_g)                                                                               \
  X(H5E_CANTOPENFILE_g)                                                                            \
  X(H5E_CANTCLOSEFILE_g)                                                                           \
  X(H5E_CANTDELETEFILE_g)                                                                          \
  X(H5E_WRITEERROR_g)                                                                              \
  X(H5E_READERROR_g)                                                                               \
  X(H5E_UNSUPPORTED_g)                                                                             \
  X(H5E_OVERFLOW_g)                                                                                \
  X(H5E_CANTGET_g)                                                                                 \
  X(H5E_CANTLOCKFILE_g)                                                                            \
  X(H5E_CANTUNLOCKFILE_g)

#ifdef H5TX_VFD_PLUGIN
#define H5TX_API_FUNC(name) __typeof__(name) *name;
#define H5TX_API_VAR(name) __typeof__(name) *name;
typedef struct h5tx_hdf5_api {
  H5TX_HDF5_FUNCS(H5TX_API_FUNC)
  H5TX_HDF5_VARS(H5TX_API_VAR)
} h5tx_hdf5_api;
#undef H5TX_API_FUNC
#undef H5TX_API_VAR

/* The table, filled by h5tx_hdf5_bind() (hdf5_api.c). */
extern h5tx_hdf5_api h5tx_hdf5 __attribute__((visibility("hidden")));

/* Bind the table to the libhdf5 containing code address `caller` (the
 * return address of a plugin entry point, which libhdf5 calls). 0 when the
 * table serves that library; -1 after printing why not (a host whose HDF5
 * version this build cannot serve, a library whose symbols cannot be
 * found, a second, different libhdf5 in the same process). */
int h5tx_hdf5_bind(const void *caller) __attribute__((visibility("hidden")));

#ifndef H5TX_HDF5_API_IMPL
#define H5get_libversion (h5tx_hdf5.H5get_libversion)
#define H5open (h5tx_hdf5.H5open)
#define H5check_version (h5tx_hdf5.H5check_version)
#define H5Epush2 (h5tx_hdf5.H5Epush2)
#define H5Eget_auto2 (h5tx_hdf5.H5Eget_auto2)
#define H5Eset_auto2 (h5tx_hdf5.H5Eset_auto2)
#define H5Pget_driver_info (h5tx_hdf5.H5Pget_driver_info)
#define H5Pget_driver_config_str (h5tx_hdf5.H5Pget_driver_config_str)
#define H5E_ERR_CLS_g (*h5tx_hdf5.H5E_ERR_CLS_g)
#define H5E_VFL_g (*h5tx_hdf5.H5E_VFL_g)
#define H5E_BADVALUE_g (*h5tx_hdf5.H5E_BADVALUE_g)
#define H5E_CANTALLOC_g (*h5tx_hdf5.H5E_CANTALLOC_g)
#define H5E_CANTOPENFILE_g (*h5tx_hdf5.H5E_CANTOPENFILE_g)
#define H5E_CANTCLOSEFILE_g (*h5tx_hdf5.H5E_CANTCLOSEFILE_g)
#define H5E_CANTDELETEFILE_g (*h5tx_hdf5.H5E_CANTDELETEFILE_g)
#define H5E_WRITEERROR_g (*h5tx_hdf5.H5E_WRITEERROR_g)
#define H5E_READERROR_g (*h5tx_hdf5.H5E_READERROR_g)
#define H5E_UNSUPPORTED_g (*h5tx_hdf5.H5E_UNSUPPORTED_g)
#define H5E_OVERFLOW_g (*h5tx_hdf5.H5E_OVERFLOW_g)
#define H5E_CANTGET_g (*h5tx_hdf5.H5E_CANTGET_g)
#define H5E_CANTLOCKFILE_g (*h5tx_hdf5.H5E_CANTLOCKFILE_g)
#define H5E_CANTUNLOCKFILE_g (*h5tx_hdf5.H5E_CANTUNLOCKFILE_g)
#endif
#endif /* H5TX_VFD_PLUGIN */
#endif
