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
h5tx_require(LZ4 liblz4 liblz4-dev)
h5tx_require(XXHASH libxxhash libxxhash-dev)

# HDF5: the system's (1.10 on Debian 12, through pkg-config), or the one
# installed at H5TX_HDF5_PREFIX (HDF5 1.14 built by cmake/build-hdf5-1.14.sh).
set(H5TX_HDF5_PREFIX "" CACHE PATH "Build the driver against the HDF5 at this prefix")
add_library(h5tx_hdf5 INTERFACE)
if(H5TX_HDF5_PREFIX)
  find_path(H5TX_HDF5_INCLUDE H5public.h PATHS ${H5TX_HDF5_PREFIX}/include NO_DEFAULT_PATH)
  find_library(H5TX_HDF5_LIBRARY hdf5 PATHS ${H5TX_HDF5_PREFIX}/lib NO_DEFAULT_PATH)
  if(NOT H5TX_HDF5_INCLUDE OR NOT H5TX_HDF5_LIBRARY)
    message(FATAL_ERROR "no HDF5 at H5TX_HDF5_PREFIX=${H5TX_HDF5_PREFIX} "
                        "(run cmake/build-hdf5-1.14.sh to build HDF5 1.14.5 there)")
  endif()
  target_include_directories(h5tx_hdf5 INTERFACE ${H5TX_HDF5_INCLUDE})
  target_link_libraries(h5tx_hdf5 INTERFACE ${H5TX_HDF5_LIBRARY})
  set(H5TX_HDF5_BINDIR ${H5TX_HDF5_PREFIX}/bin)
else()
  h5tx_require(HDF5 hdf5 libhdf5-dev)
  target_link_libraries(h5tx_hdf5 INTERFACE PkgConfig::HDF5)
  find_path(H5TX_HDF5_INCLUDE H5public.h PATHS ${HDF5_INCLUDE_DIRS} NO_DEFAULT_PATH)
  set(H5TX_HDF5_BINDIR /usr/bin)
endif()
file(STRINGS ${H5TX_HDF5_INCLUDE}/H5public.h _h5v REGEX "^#define H5_VERS_(MAJOR|MINOR|RELEASE)[ \t]")
string(REGEX REPLACE ".*H5_VERS_MAJOR[ \t]+([0-9]+).*" "\\1" H5TX_HDF5_MAJOR "${_h5v}")
string(REGEX REPLACE ".*H5_VERS_MINOR[ \t]+([0-9]+).*" "\\1" H5TX_HDF5_MINOR "${_h5v}")
string(REGEX REPLACE ".*H5_VERS_RELEASE[ \t]+([0-9]+).*" "\\1" H5TX_HDF5_RELEASE "${_h5v}")
set(H5TX_HDF5_VERSION "${H5TX_HDF5_MAJOR}.${H5TX_HDF5_MINOR}.${H5TX_HDF5_RELEASE}")
if(H5TX_HDF5_VERSION VERSION_LESS 1.10 OR (H5TX_HDF5_VERSION VERSION_GREATER_EQUAL 1.11 AND
                                          H5TX_HDF5_VERSION VERSION_LESS 1.14))
  message(FATAL_ERROR "HDF5 ${H5TX_HDF5_VERSION} is not supported: h5tx builds with HDF5 1.10 "
                      "or 1.14 (cmake/build-hdf5-1.14.sh builds 1.14.5)")
endif()
message(STATUS "HDF5 ${H5TX_HDF5_VERSION} (${H5TX_HDF5_INCLUDE}), tools in ${H5TX_HDF5_BINDIR}")
h5tx_require(FUSE3 fuse3 libfuse3-dev)
