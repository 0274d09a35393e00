#!/usr/bin/env bash
# run.sh - builds the libFuzzer harnesses (clang, ASan + UBSan) in
# build-fuzz/ and runs each one for SECONDS (default 25) on a copy of its
# corpus in tests/fuzz/corpus/<target>/. Every file of the corpus (seeds and
# the regress-* inputs of bugs found before) runs first; any crash, sanitizer
# report or broken promise fails the run, and the input that caused it is
# left in build-fuzz/artifacts/<target>/ (add it to the corpus as
# regress-NAME once the bug is fixed).
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-25}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config target vfd_name page records marker cli_values segment records2 page2)
build=$root/build-fuzz
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found (apt-get install clang)" >&2
  exit 1
fi
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH5TX_FUZZ=ON \
  -DH5TX_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzzers >/dev/null
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
  work=$build/corpus/$t art=$build/artifacts/$t
  rm -rf "$work" "$art"
  mkdir -p "$work" "$art"
  log=$build/fuzz_$t.log
  # New inputs go to the scratch corpus; the repository's is only read.
  if "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz: $t: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${secs} s"
  else
    echo "fuzz: $t: FAILED (input kept in $art/):" >&2
    grep -E 'ERROR|SUMMARY|assertion|parsed as|runtime error' "$log" | head -20 >&2 || tail -30 "$log" >&2
    status=1
  fi
done
exit $status
