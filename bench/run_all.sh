#!/bin/sh
# run_all.sh - every benchmark of issue 10's targets in one command, each
# program running its baselines in the same run as h5tx; the Markdown
# tables go to OUT/*.md (stderr progress to OUT/*.log). Run from the
# repository root as root (the mount, drop_caches), after building BUILD:
#
#   sh bench/run_all.sh [--quick] [--build BUILD] [--build-114 BUILD114] [--dir DIR] [--out OUT]
#
# --quick: small sizes and few trials (a few minutes in all), to check that
# everything runs; without it the full sizes of docs/BENCHMARKS.md (30-40
# minutes on the 2-vCPU machine there). BUILD114 (optional): a build against
# HDF5 1.14 for the ANCHORS workload with Onion. PYTHON: a python3 whose
# h5py uses BUILD's HDF5 (default /usr/bin/python3).
set -eu

build=build
build114=
dir=${TMPDIR:-/tmp}
out=bench-results
quick=
while [ $# -gt 0 ]; do
  case $1 in
  --quick) quick=1 ;;
  --build) build=$2; shift ;;
  --build-114) build114=$2; shift ;;
  --dir) dir=$2; shift ;;
  --out) out=$2; shift ;;
  -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
  *) echo "run_all.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
python=${PYTHON:-/usr/bin/python3}
mkdir -p "$out" "$dir"

# name, then the command; stdout to OUT/name.md, stderr to OUT/name.log
run() {
  name=$1
  shift
  echo "run_all.sh: $name: $*" >&2
  start=$(date +%s)
  if "$@" >"$out/$name.md" 2>"$out/$name.log"; then
    echo "run_all.sh: $name done in $(($(date +%s) - start)) s" >&2
  else
    echo "run_all.sh: $name FAILED (see $out/$name.log)" >&2
    failed=1
  fi
}
failed=

if [ -n "$quick" ]; then
  a="--size 64 --trials 2 --revisions 10 --old-rev 5"
  cb="--size 64 --trials 2 --commits 50"
  fb="--size 64 --trials 2"
  ub="--quick"
else
  a=""
  cb=""
  fb=""
  ub=""
fi

for data in noisy compressible; do
  # shellcheck disable=SC2086
  run "core-$data" "$build/bench/h5tx_core_bench" --dir "$dir" --data "$data" $cb
  # shellcheck disable=SC2086
  run "anchors-1.10-$data" "$build/bench/h5tx_hdf5_bench" --mode anchors --dir "$dir" \
    --data "$data" $a
  if [ -n "$build114" ]; then
    # shellcheck disable=SC2086
    run "anchors-1.14-$data" "$build114/bench/h5tx_hdf5_bench" --mode anchors --dir "$dir" \
      --data "$data" $a
  fi
done
# shellcheck disable=SC2086
run fuse "$build/bench/h5tx_fuse_bench" --dir "$dir" $fb
# shellcheck disable=SC2086
run user "$python" bench/user_bench.py --build "$build" --dir "$dir" $ub

echo "run_all.sh: tables in $out/" >&2
[ -z "$failed" ]
