# H5txInstall.cmake - the parts of `cmake --install` that belong to no one
# directory: the CMake package (find_package(h5tx)) and the Python module.
# Builds against different HDF5s install into one prefix side by side (see
# vfd/CMakeLists.txt for the driver's names).
include(CMakePackageConfigHelpers)

# ---- CMake package ------------------------------------------------------------
# h5tx-targets.cmake (store and filter) is the same for every build; each
# driver build adds its own h5tx-vfd<suffix>-targets.cmake.
install(EXPORT h5tx NAMESPACE h5tx:: FILE h5tx-targets.cmake DESTINATION ${H5TX_CMAKE_DIR})
configure_package_config_file(cmake/h5tx-config.cmake.in
  ${PROJECT_BINARY_DIR}/h5tx-config.cmake INSTALL_DESTINATION ${H5TX_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/h5tx-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/h5tx-config.cmake ${PROJECT_BINARY_DIR}/h5tx-config-version.cmake
        DESTINATION ${H5TX_CMAKE_DIR})

# ---- Python module --------------------------------------------------------------
# Installed where the Python whose h5py it serves looks under the prefix
# (Debian's /usr/bin/python3: <prefix>/lib/python3.X/dist-packages, searched
# for /usr/local and /usr). The install says whether that Python finds it,
# and if not, the PYTHONPATH to set.
if(EXISTS /usr/bin/python3)
  set(_h5tx_python /usr/bin/python3)
else()
  find_program(_h5tx_python NAMES python3)
endif()
set(H5TX_PYTHON "${_h5tx_python}" CACHE FILEPATH "The Python (with h5py) the h5tx module is for")
set(_h5tx_pydir "")
if(H5TX_PYTHON)
  execute_process(
    COMMAND ${H5TX_PYTHON} -c
      "import sys; d = 'dist' if any(p.endswith('dist-packages') for p in sys.path) else 'site'; print('lib/python%d.%d/%s-packages' % (sys.version_info[0], sys.version_info[1], d))"
    OUTPUT_VARIABLE _h5tx_pydir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _h5tx_pyrc)
  if(NOT _h5tx_pyrc EQUAL 0)
    set(_h5tx_pydir "")
  endif()
endif()
if(NOT _h5tx_pydir)
  set(_h5tx_pydir lib/python3/site-packages)
endif()
set(H5TX_PYTHON_DIR "${_h5tx_pydir}" CACHE STRING
    "Where h5tx.py is installed, relative to the install prefix")
install(FILES python/h5tx.py DESTINATION ${H5TX_PYTHON_DIR})
install(CODE "
  set(_dir \"\${CMAKE_INSTALL_PREFIX}/${H5TX_PYTHON_DIR}\")
  set(_rc 1)
  if(EXISTS \"${H5TX_PYTHON}\")
    execute_process(COMMAND \"${H5TX_PYTHON}\" -c
      \"import os, sys; d = os.path.realpath(sys.argv[1]); sys.exit(0 if d in {os.path.realpath(p) for p in sys.path if p} else 1)\"
      \"\${_dir}\" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  endif()
  if(_rc EQUAL 0)
    message(STATUS \"h5tx: Python module h5tx installed in \${_dir}; ${H5TX_PYTHON} finds it\")
  else()
    message(STATUS \"h5tx: Python module h5tx installed in \${_dir}, where ${H5TX_PYTHON} does not look: use it with PYTHONPATH=\${_dir}\")
  endif()")
