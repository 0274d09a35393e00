#!/usr/bin/env bash
# The zstd filter plugin must not link libhdf5 (so one binary loads into
# HDF5 1.10, 1.14 and HDF5 builds bundled by other programs), and must export
# nothing but HDF5's two plugin entry points.
#   usage: no_libhdf5.sh PLUGIN.so
set -euo pipefail
plugin=$1
fail=0
needed=$(readelf -d "$plugin" | awk '/NEEDED/ {print $5}')
echo "NEEDED: $needed"
if grep -qi hdf5 <<<"$needed" || ldd "$plugin" | grep -qi hdf5; then
  echo "FAIL: $plugin depends on libhdf5"; fail=1
else
  echo "ok: no libhdf5 dependency"
fi
exports=$(nm -D --defined-only "$plugin" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
if [ "$exports" = "H5PLget_plugin_info H5PLget_plugin_type " ]; then
  echo "ok: exports only H5PLget_plugin_info and H5PLget_plugin_type"
else
  echo "FAIL: exports '$exports'"; fail=1
fi
[ $fail = 0 ] && echo "2 passed, 0 failed"
exit $fail
