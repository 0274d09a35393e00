#!/usr/bin/env bash
# The main job, end to end: installs what h5tx needs, builds it, and runs the
# quickstart example on a fresh demo store (printed as it goes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

demo=${H5TX_DEMO_DIR:-$root/build/demo}
rm -rf "$demo"
mkdir -p "$demo"
echo "== the page store: three commits, a tag, a reader that keeps its revision =="
./build/examples/h5tx_quickstart "$demo/lab.h5tx"
echo
echo "== what a store is on disk =="
ls -l "$demo/lab.h5tx"
