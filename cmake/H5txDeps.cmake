# Finds h5tx's dependencies through pkg-config. A missing one stops the
# configuration with the name of the Debian 12 package that provides it.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

# h5tx_require(<prefix> <pkg-config module> <debian package>)
function(h5tx_require prefix module debpkg)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "h5tx needs ${module} (pkg-config module '${module}' not found): "
                        "apt-get install ${debpkg}")
  endif()
  message(STATUS "Found ${module} ${${prefix}_VERSION}")
endfunction()

h5tx_require(LMDB lmdb liblmdb-dev)
h5tx_require(ZSTD libzstd libzstd-dev)
h5tx_require(XXHASH libxxhash libxxhash-dev)
h5tx_require(HDF5 hdf5 libhdf5-dev)
h5tx_require(FUSE3 fuse3 libfuse3-dev)
