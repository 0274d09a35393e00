#!/usr/bin/env bash
# Builds h5tx and runs the whole test suite:
#  - build/         against the system HDF5 (1.10 on Debian 12): every test;
#  - build-1.14/    against HDF5 1.14.5 and
#  - build-1.14.6/  against HDF5 1.14.6, each built once from Debian's source
#                   package into ~/.cache/h5tx (cmake/build-hdf5-1.14.sh): the
#                   driver and filter tests, including unmodified tools of
#                   both versions loading the same plugin file, and a host
#                   that loads a renamed libhdf5 RTLD_LOCAL (as pip's h5py);
#  - HDF5's own C test programs of 1.14.5 and 1.14.6 (their build trees are
#    cached beside the installs) through the driver plugin, in pass-through
#    and in store mode (tests/hdf5suite/run_suite.sh);
#  - build-asan/    with AddressSanitizer + UndefinedBehaviorSanitizer: the
#                   core and filter tests (not the Python one: Python cannot
#                   load sanitized libraries through ctypes);
#  - build-fuzz/    clang with libFuzzer, ASan and UBSan: each fuzzer for 20 s
#                   on its corpus (tests/fuzz/run.sh).
# The first run includes the short crash soak (ctest 'soak', 100 rounds).
# Exits non-zero if any test (or any sanitizer) fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash cmake/install-deps.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" >/dev/null

echo "== tests =="
status=0
(cd build && ctest --output-on-failure -j "$jobs") || status=1

echo "== HDF5 1.14.5 and 1.14.6 (built once, then cached) =="
hdf5_114=$(bash cmake/build-hdf5-1.14.sh -v 1.14.5 | tail -n 1)
hdf5_1146=$(bash cmake/build-hdf5-1.14.sh -v 1.14.6 | tail -n 1)
for v in 1.14.5 1.14.6; do
  if [ $v = 1.14.5 ]; then dir=build-1.14 prefix=$hdf5_114 other=$hdf5_1146; else
    dir=build-1.14.6 prefix=$hdf5_1146 other=$hdf5_114; fi
  echo "== build against HDF5 $v ($prefix) =="
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH5TX_HDF5_PREFIX="$prefix" \
    -DH5TX_HDF5_ALSO="$other" -DH5TX_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "== driver and filter tests against HDF5 $v (plugin also under the other's tools) =="
  (cd "$dir" && ctest --output-on-failure -j "$jobs" -L "vfd|filter") || status=1
done

echo "== HDF5's own test programs of 1.14.5 and 1.14.6 through the driver plugin (together) =="
suite_logs=$(mktemp -d "${TMPDIR:-/tmp}/h5tx-suites.XXXXXX")
for v in 1.14.5 1.14.6; do
  dir=build-1.14; [ $v = 1.14.6 ] && dir=build-1.14.6
  tree=$(bash cmake/build-hdf5-1.14.sh -t -v $v | tail -n 1)
  (if bash tests/hdf5suite/run_suite.sh "$v" "$tree" "$dir/vfd/plugin" >"$suite_logs/$v.log" 2>&1
  then echo 0; else echo 1; fi >"$suite_logs/$v.rc") &
done
wait
for v in 1.14.5 1.14.6; do
  cat "$suite_logs/$v.log"
  [ "$(cat "$suite_logs/$v.rc" 2>/dev/null)" = 0 ] || status=1
done
rm -rf "$suite_logs"

echo "== build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DH5TX_SANITIZE=ON -DH5TX_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs" >/dev/null

echo "== core and filter tests under ASan + UBSan =="
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" -L "core|filter" -E "^python$") || status=1

echo "== fuzzers (clang, libFuzzer + ASan + UBSan, 20 s each) =="
bash tests/fuzz/run.sh 20 || status=1

exit $status
