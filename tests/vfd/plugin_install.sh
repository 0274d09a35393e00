#!/usr/bin/env bash
# Installs a build made against HDF5 1.14 into a temporary prefix and checks
# that the driver plugin lands in <prefix>/lib/hdf5/plugins, that nothing
# there links libhdf5 (HDF5 dlopens every file of the directory while it
# searches, so one that did would drag a second libhdf5 into a host whose
# own has another name), and that an unmodified
# HDF5 1.14 h5dump loads it from there by name (the plugin finds libh5tx
# through its $ORIGIN rpath, with no LD_LIBRARY_PATH).
#   usage: plugin_install.sh BUILD_DIR HDF5_BINDIR IMPORT_EXE
set -euo pipefail
build=$1 bindir=$2 import=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
plugins="$tmp/prefix/lib/hdf5/plugins"
fail=0
if [ -f "$plugins/libh5tx_vfd_plugin.so" ]; then
  echo "ok: plugin installed in lib/hdf5/plugins"
else
  echo "FAIL: no libh5tx_vfd_plugin.so in $plugins"; fail=1
fi
for so in "$plugins"/*; do
  if readelf -d "$so" | grep NEEDED | grep -qi hdf5; then
    echo "FAIL: $so links libhdf5"; fail=1
  fi
done
[ $fail = 0 ] && echo "ok: nothing in lib/hdf5/plugins links libhdf5"
# A file made by h5import, imported into a store, dumped through the plugin.
printf '1 2 3 4\n' > "$tmp/in.txt"
printf 'PATH data\nINPUT-CLASS TEXTIN\nRANK 1\nDIMENSION-SIZES 4\n' > "$tmp/in.cfg"
"$bindir/h5import" "$tmp/in.txt" -c "$tmp/in.cfg" -o "$tmp/plain.h5"
"$import" "$tmp/plain.h5" "$tmp/s.h5tx/f.h5" >/dev/null
want=$("$bindir/h5dump" "$tmp/plain.h5" | tail -n +2)
got=$(env -u LD_LIBRARY_PATH HDF5_PLUGIN_PATH="$plugins" HDF5_DRIVER=h5tx \
  "$bindir/h5dump" "$tmp/s.h5tx/f.h5" | tail -n +2) || true
if [ -n "$want" ] && [ "$want" = "$got" ]; then
  echo "ok: installed plugin dumps a file in a store"
else
  echo "FAIL: h5dump through the installed plugin differs:"; echo "$got" | head; fail=1
fi
[ $fail = 0 ] && echo "3 passed, 0 failed" || echo "failed"
exit $fail
