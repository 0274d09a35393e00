#!/usr/bin/env bash
# Installs one or more builds (the system HDF5's and others, e.g. HDF5 1.14's)
# into ONE temporary prefix, in the order given, and checks that what users
# get from it works with nothing but that prefix:
#  - no build overwrote another's driver: each installed libh5tx_vfd*.so
#    needs the libhdf5 its build linked;
#  - pkg-config: h5tx builds and runs the quickstart; each h5tx_vfd*.pc
#    builds and runs the HDF5 quickstart through its driver;
#  - find_package(h5tx) from a tiny CMake project links h5tx::h5tx, every
#    h5tx::vfd* and (through HDF5_PLUGIN_PATH at h5tx::zstd_filter's
#    directory) the zstd filter, and each program runs;
#  - /usr/bin/python3 (Debian's h5py) imports the installed h5tx with only
#    the prefix's module directory on PYTHONPATH and writes a store file
#    through the driver, which it loads from the prefix;
#  - an HDF5 >= 1.14 build's plugin, from <prefix>/lib/hdf5/plugins, serves
#    that HDF5's h5dump selected by HDF5_DRIVER=h5tx alone.
#  - the installed h5tx runs the installed h5tx-diff-objects.
# usage: install_test.sh BUILD_DIR SOURCE_DIR [MORE_BUILD_DIRS...]
# Exits 77 (skipped) when a build directory named after the first is missing.
set -euo pipefail
build=$1 src=$2
shift 2
builds=("$build" "$@")
for b in "${builds[@]}"; do
  if [ ! -f "$b/CMakeCache.txt" ]; then
    echo "install_test: SKIPPED: no build in $b (build it first)"
    exit 77
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail=0
ok() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*"
  fail=1
}
cache() { sed -n "s/^$2:[A-Z]*=//p" "$1/CMakeCache.txt"; }
hdf5_needed() { readelf -d "$1" | sed -n 's/.*NEEDED.*\[\(libhdf5[^]]*\)\].*/\1/p'; }

for b in "${builds[@]}"; do
  cmake --install "$b" --prefix "$prefix" >"$tmp/install.log"
done
grep -q "h5tx: Python module h5tx installed in" "$tmp/install.log" ||
  bad "cmake --install does not say where the Python module went"

# ---- each build's driver is there, linked to its own HDF5 ----------------------
vfd_names=()
for b in "${builds[@]}"; do
  suffix=$(cache "$b" H5TX_VFD_SUFFIX)
  built=$(ls "$b"/vfd/libh5tx_vfd"$suffix".so.*.*.* | head -1)
  inst="$prefix/lib/libh5tx_vfd$suffix.so"
  if [ ! -e "$inst" ]; then
    bad "$inst missing after installing $b"
  elif [ "$(hdf5_needed "$built")" != "$(hdf5_needed "$inst")" ]; then
    bad "$inst needs $(hdf5_needed "$inst") but $b built it for $(hdf5_needed "$built")"
  else
    ok "lib/libh5tx_vfd$suffix.so needs $(hdf5_needed "$inst") as built in $b"
  fi
  vfd_names+=("vfd$suffix")
done

# ---- pkg-config ---------------------------------------------------------------------
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir h5tx)
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags h5tx) "$src/examples/quickstart.c" \
  $(pkg-config --libs h5tx) -Wl,-rpath,"$libdir" -o "$tmp/quickstart"
out=$("$tmp/quickstart" "$tmp/demo.h5tx")
if grep -q '@2  notes/today.txt (12 bytes): "hello, world"' <<<"$out" &&
  grep -q "tag 'greeting' is revision 1" <<<"$out"; then
  ok "quickstart built with pkg-config h5tx runs"
else
  bad "quickstart: $out"
fi
# The installed h5tx finds h5tx-diff-objects next to it, and that program
# its libraries: it gets as far as HDF5 refusing a file that is no HDF5.
if "$prefix/bin/h5tx" diff --objects "$tmp/demo.h5tx/notes/today.txt" 1 2 --json 2>"$tmp/err"; then
  bad "diff --objects of a text file succeeded"
elif grep -q '"code": "not_hdf5"' "$tmp/err"; then
  ok "the installed h5tx runs the installed h5tx-diff-objects"
else
  bad "diff --objects: $(cat "$tmp/err")"
fi
for v in "${vfd_names[@]}"; do
  pc="h5tx_$v"
  if ! libs=$(pkg-config --libs "$pc"); then
    bad "pkg-config --libs $pc"
    continue
  fi
  grep -q -- "-lh5tx_$v" <<<"$libs" || bad "pkg-config --libs $pc: $libs"
  cc -std=c11 -Wall -Wextra $(pkg-config --cflags "$pc") "$src/examples/hdf5_quickstart.c" \
    $libs -Wl,-rpath,"$libdir" -o "$tmp/hq_$v"
  if out=$("$tmp/hq_$v" "$tmp/pc_$v.h5tx" 2>&1) && grep -q "batch 3 flushed -> revision 3" <<<"$out"; then
    ok "hdf5_quickstart built with pkg-config $pc runs ($libs)"
  else
    bad "hdf5_quickstart with $pc: $out"
  fi
done

# ---- find_package(h5tx) ---------------------------------------------------------------
mkdir -p "$tmp/proj"
cp "$src/examples/quickstart.c" "$src/examples/hdf5_quickstart.c" "$tmp/proj/"
cat >"$tmp/proj/filter.c" <<'EOF'
/* Writes a zstd-filtered (32015) dataset and reads it back: the filter
 * plugin comes from HDF5_PLUGIN_PATH. */
#include <hdf5.h>
#include <stdio.h>
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int w[1000], r[1000];
  for (int i = 0; i < 1000; i++) w[i] = i % 7;
  hsize_t dims[1] = {1000}, chunk[1] = {250};
  unsigned level = 3;
  hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  if (H5Pset_filter(dcpl, 32015, H5Z_FLAG_MANDATORY, 1, &level) < 0) return 1;
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(f, "x", H5T_NATIVE_INT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0) return 1;
  H5Dclose(d);
  H5Fclose(f);
  f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  d = H5Dopen2(f, "x", H5P_DEFAULT);
  if (d < 0 || H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, r) < 0) return 1;
  for (int i = 0; i < 1000; i++)
    if (r[i] != w[i]) return 1;
  hid_t plist = H5Dget_create_plist(d);
  unsigned flags, n = 1, v[1];
  char name[64];
  H5Z_filter_t id = H5Pget_filter2(plist, 0, &flags, &n, v, sizeof name, name, NULL);
  printf("filter %d level %u round trip ok\n", (int)id, v[0]);
  return id == 32015 ? 0 : 1;
}
EOF
cat >"$tmp/proj/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(uses_h5tx C)
find_package(h5tx 0.1 REQUIRED COMPONENTS h5tx zstd_filter ${vfd_names[*]})
add_executable(quickstart quickstart.c)
target_link_libraries(quickstart PRIVATE h5tx::h5tx)
foreach(v ${vfd_names[*]})
  add_executable(hq_\${v} hdf5_quickstart.c)
  target_link_libraries(hq_\${v} PRIVATE h5tx::\${v})
  add_executable(filter_\${v} filter.c)
  target_link_libraries(filter_\${v} PRIVATE h5tx::\${v})
endforeach()
file(GENERATE OUTPUT plugin_dir.txt CONTENT "\$<TARGET_FILE_DIR:h5tx::zstd_filter>")
EOF
if cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/proj/build" >>"$tmp/cmake.log" 2>&1; then
  pb="$tmp/proj/build"
  plugdir=$(cat "$pb/plugin_dir.txt")
  [ "$plugdir" = "$prefix/lib/hdf5/plugins" ] || bad "h5tx::zstd_filter is in $plugdir"
  if "$pb/quickstart" "$tmp/cm.h5tx" | grep -q "tag 'greeting' is revision 1"; then
    ok "find_package(h5tx): h5tx::h5tx links and runs"
  else
    bad "find_package(h5tx): quickstart"
  fi
  for v in "${vfd_names[@]}"; do
    if out=$("$pb/hq_$v" "$tmp/cm_$v.h5tx" 2>&1) && grep -q "batch 3 flushed" <<<"$out"; then
      ok "find_package(h5tx): h5tx::$v links and runs"
    else
      bad "find_package(h5tx): h5tx::$v: $out"
    fi
    if out=$(HDF5_PLUGIN_PATH="$plugdir" "$pb/filter_$v" "$tmp/f_$v.h5" 2>&1) &&
      grep -q "filter 32015 level 3 round trip ok" <<<"$out"; then
      ok "find_package(h5tx): h5tx::zstd_filter's directory serves HDF5 of h5tx::$v"
    else
      bad "zstd filter under h5tx::$v: $out"
    fi
  done
else
  bad "find_package(h5tx) project: $(tail -20 "$tmp/cmake.log")"
fi

# ---- Python, with only the prefix ------------------------------------------------------
pydir=$(dirname "$(find "$prefix" -name h5tx.py | head -1)")
has_system_vfd=0
for v in "${vfd_names[@]}"; do [ "$v" = vfd ] && has_system_vfd=1; done
pyout=$(cd "$tmp" && env -i PATH=/usr/bin:/bin HOME="$tmp" PYTHONPATH="$pydir" \
  /usr/bin/python3 -c '
import h5py, h5tx
with h5py.File("py.h5tx/a.h5", "w", driver="h5tx", message="from the prefix") as f:
    f["x"] = [1, 2, 3]
print(h5tx.library_path(), h5tx.head("py.h5tx"))' 2>&1) && pyrc=0 || pyrc=$?
if ! /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  echo "SKIPPED: python part: /usr/bin/python3 has no h5py (apt-get install python3-h5py)"
elif [ $has_system_vfd = 1 ]; then
  if [ $pyrc = 0 ] && [ "$pyout" = "$prefix/lib/libh5tx_vfd.so 1" ]; then
    ok "python3 imports h5tx from $pydir and writes through $prefix/lib/libh5tx_vfd.so"
  else
    bad "python3 with the installed h5tx: $pyout"
  fi
elif [ $pyrc != 0 ] && grep -q "h5tx: cannot load the driver library" <<<"$pyout"; then
  ok "no driver for h5py's HDF5 installed: python3 says so"
else
  bad "python3 without a driver for its HDF5: $pyout"
fi

# ---- the plugin of each HDF5 >= 1.14 build, from the prefix ----------------------
for b in "${builds[@]}"; do
  hprefix=$(cache "$b" H5TX_HDF5_PREFIX)
  [ -n "$hprefix" ] && [ -x "$hprefix/bin/h5dump" ] || continue
  ver=$(cache "$b" H5TX_VFD_SUFFIX)
  store="$tmp/cm_vfd$ver.h5tx/experiment/run1.h5"
  if out=$(env -u LD_LIBRARY_PATH HDF5_PLUGIN_PATH="$prefix/lib/hdf5/plugins" HDF5_DRIVER=h5tx \
    "$hprefix/bin/h5ls" -r "$store" 2>&1) && grep -q "temperature" <<<"$out"; then
    ok "$hprefix/bin/h5ls lists $store through the plugin in $prefix/lib/hdf5/plugins"
  else
    bad "h5ls through the installed plugin: $out"
  fi
  # Commit messages from an unmodified program: message= in the config,
  # else H5TX_MESSAGE.
  rp="$tmp/rp$ver.h5tx"
  for how in "HDF5_DRIVER_CONFIG=message=repacked by h5repack" "H5TX_MESSAGE=from the environment"; do
    env -u LD_LIBRARY_PATH HDF5_PLUGIN_PATH="$prefix/lib/hdf5/plugins" HDF5_DRIVER=h5tx "$how" \
      "$hprefix/bin/h5repack" "$tmp/f_vfd$ver.h5" "$rp/${how%%=*}.h5" >/dev/null 2>&1 ||
      bad "h5repack into $rp with $how"
  done
  msgs=$("$prefix/bin/h5tx" log "$rp" --json | /usr/bin/python3 -c \
    'import json, sys; print("|".join(c["message"] for c in json.load(sys.stdin)["commits"]))')
  if [ "$msgs" = "from the environment|repacked by h5repack" ]; then
    ok "h5repack's commits say what message= and H5TX_MESSAGE said"
  else
    bad "h5repack's commit messages: $msgs"
  fi
done

[ $fail = 0 ] && echo "install_test: passed (${#builds[@]} build(s) in one prefix)"
exit $fail
