#!/usr/bin/env bash
# Every C source and header git tracks follows the project's .clang-format.
# Skipped (exit 77) when clang-format is not installed.
#   usage: format_test.sh SOURCE_DIR
set -euo pipefail
cd "$1"
if ! command -v clang-format >/dev/null; then
  echo "format: SKIPPED: clang-format is not installed"
  exit 77
fi
bad=0 n=0
while IFS= read -r f; do
  n=$((n + 1))
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=$((bad + 1))
  fi
done < <(git ls-files '*.c' '*.h')
echo "$((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
