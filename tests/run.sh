#!/usr/bin/env bash
# Builds h5tx and runs the whole test suite with ctest, then builds it again
# with AddressSanitizer + UndefinedBehaviorSanitizer and runs the core tests
# under them. Exits non-zero if any test (or any sanitizer) fails.
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

echo "== build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DH5TX_SANITIZE=ON -DH5TX_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs" >/dev/null

echo "== core tests under ASan + UBSan =="
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" -L core) || status=1

exit $status
