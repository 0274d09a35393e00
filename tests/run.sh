#!/usr/bin/env bash
# Builds h5tx and runs the whole test suite:
#  - build/       against the system HDF5 (1.10 on Debian 12): every test;
#  - build-1.14/  against HDF5 1.14.5, built once from Debian's source package
#                 into ~/.cache/h5tx (cmake/build-hdf5-1.14.sh): the driver
#                 and filter tests, including unmodified 1.14 tools loading
#                 the plugins;
#  - build-asan/  with AddressSanitizer + UndefinedBehaviorSanitizer: the core
#                 and filter tests;
#  - build-fuzz/  clang with libFuzzer, ASan and UBSan: each fuzzer for 20 s
#                 on its corpus (tests/fuzz/run.sh).
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

echo "== HDF5 1.14.5 (built once, then cached) =="
hdf5_114=$(bash cmake/build-hdf5-1.14.sh | tail -n 1)
echo "== build against HDF5 1.14.5 ($hdf5_114) =="
cmake -S . -B build-1.14 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH5TX_HDF5_PREFIX="$hdf5_114" \
  -DH5TX_BUILD_BENCH=OFF >/dev/null
cmake --build build-1.14 -j "$jobs" >/dev/null
echo "== driver and filter tests against HDF5 1.14.5 =="
(cd build-1.14 && ctest --output-on-failure -j "$jobs" -L "vfd|filter") || status=1

echo "== build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DH5TX_SANITIZE=ON -DH5TX_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs" >/dev/null

echo "== core and filter tests under ASan + UBSan =="
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" -L "core|filter") || status=1

echo "== fuzzers (clang, libFuzzer + ASan + UBSan, 20 s each) =="
bash tests/fuzz/run.sh 20 || status=1

exit $status
