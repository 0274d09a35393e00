#!/usr/bin/env bash
# The main job, end to end: installs what h5tx needs, builds it (and HDF5
# 1.14.5 once, from Debian's source package, for the plugin demo), then:
#  1. the page store alone: commits, a tag, a reader that keeps its revision;
#  2. HDF5 through the driver: a file written in several flushes, each a
#     revision, and a reader that keeps its revision while the writer commits;
#  3. unmodified HDF5 1.14 tools (h5ls, h5dump) loading the driver as a plugin
#     by name, on head and on an earlier revision;
#  4. the h5tx command: the log, a tag, what changed between revisions, an
#     old revision exported as a plain file any HDF5 reads, a verify;
#  5. h5tx mount: head and every revision as plain files, read by the
#     system's HDF5 1.10 h5dump (which cannot load the driver), unmounted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash cmake/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" >/dev/null
hdf5_114=$(bash cmake/build-hdf5-1.14.sh | tail -n 1)
cmake -S . -B build-1.14 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH5TX_HDF5_PREFIX="$hdf5_114" \
  -DH5TX_BUILD_BENCH=OFF >/dev/null
cmake --build build-1.14 -j "$jobs" >/dev/null

demo=${H5TX_DEMO_DIR:-$root/build/demo}
rm -rf "$demo"
mkdir -p "$demo"
run() { echo "\$ $*"; "$@"; }

echo "== 1. the page store: three commits, a tag, a reader that keeps its revision =="
./build/examples/h5tx_quickstart "$demo/notes.h5tx"
echo
echo "== 2. HDF5 through the driver (C, system HDF5 $(pkg-config --modversion hdf5)) =="
./build/examples/h5tx_hdf5_quickstart "$demo/lab.h5tx"
echo
echo "== 3. unmodified HDF5 1.14.5 tools load the driver by name =="
export HDF5_PLUGIN_PATH="$root/build-1.14/vfd/plugin" HDF5_DRIVER=h5tx
echo "HDF5_PLUGIN_PATH=$HDF5_PLUGIN_PATH HDF5_DRIVER=$HDF5_DRIVER"
cd "$demo"
run "$hdf5_114/bin/h5ls" -r lab.h5tx/experiment/run1.h5
echo "-- head: every sample"
run "$hdf5_114/bin/h5dump" -H lab.h5tx/experiment/run1.h5
echo "-- revision 2: what the second flush committed (2000 samples)"
run "$hdf5_114/bin/h5dump" -H lab.h5tx/experiment/run1.h5@2
echo "-- revision 2, its last two samples"
run "$hdf5_114/bin/h5dump" -d temperature -s 1998 -c 2 lab.h5tx/experiment/run1.h5@2

echo
echo "== 4. the h5tx command =="
unset HDF5_PLUGIN_PATH HDF5_DRIVER
h5tx="$root/build/tools/h5tx"
run "$h5tx" log lab.h5tx
run "$h5tx" tag lab.h5tx two-batches 2
run "$h5tx" ls lab.h5tx
run "$h5tx" diff lab.h5tx/experiment/run1.h5 two-batches head
run "$h5tx" export lab.h5tx/experiment/run1.h5@two-batches run1-two-batches.h5
echo "-- the exported revision is a plain HDF5 file: the system's h5dump ($(pkg-config --modversion hdf5)) reads it"
run h5dump -H run1-two-batches.h5
run "$h5tx" verify lab.h5tx

echo
echo "== 5. h5tx mount: every revision as a plain file =="
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "skipped: FUSE is not available here (/dev/fuse or fusermount3 missing)"
  exit 0
fi
mnt="$demo/mnt"
mkdir -p "$mnt"
trap '"$h5tx" umount "$mnt" >/dev/null 2>&1 || true' EXIT
run "$h5tx" mount lab.h5tx "$mnt"
run ls "$mnt" "$mnt/experiment" "$mnt/@2/experiment"
echo "-- head, through the mount, by the system's h5dump"
run h5dump -H "$mnt/experiment/run1.h5"
echo "-- revision 2 and the tag two-batches: the same immutable file"
run h5dump -d temperature -s 1998 -c 2 "$mnt/@two-batches/experiment/run1.h5"
run "$h5tx" umount "$mnt"
trap - EXIT
