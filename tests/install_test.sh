#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds the quickstart
# example against the installed header and library through pkg-config and
# runs it: proves `cmake --install` gives users everything they need.
# usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir h5tx)
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags h5tx) "$src/examples/quickstart.c" \
  $(pkg-config --libs h5tx) -Wl,-rpath,"$libdir" -o "$tmp/quickstart"
out=$("$tmp/quickstart" "$tmp/demo.h5tx")
grep -q '@2  notes/today.txt (12 bytes): "hello, world"' <<<"$out"
grep -q "tag 'greeting' is revision 1" <<<"$out"
# The installed h5tx finds h5tx-diff-objects next to it, and that program
# its libraries: it gets as far as HDF5 refusing a file that is no HDF5.
bin="$tmp/prefix/bin"
if "$bin/h5tx" diff --objects "$tmp/demo.h5tx/notes/today.txt" 1 2 --json 2>"$tmp/err"; then
  echo "install_test: diff --objects of a text file succeeded" >&2
  exit 1
fi
grep -q '"code": "not_hdf5"' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
echo "install_test: installed h5tx builds and runs the quickstart, and diff --objects"
