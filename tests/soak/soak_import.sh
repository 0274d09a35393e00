#!/usr/bin/env bash
# soak_import.sh - the h5tx import writer of the crash soak (soak.py runs
# it): imports SRC_DIR/0, SRC_DIR/1, ... in turn as NAME of STORE, reporting
# "about I" before and "committed I" after each import on stdout (one line
# per echo, which bash writes with one write(2)), then starts over.
# usage: soak_import.sh H5TX STORE NAME SRC_DIR COUNT
set -euo pipefail
cli=$1 store=$2 name=$3 src=$4 count=$5
while true; do
  for ((i = 0; i < count; i++)); do
    echo "about $i"
    "$cli" import -m "soak import $i" "$src/$i" "$store/$name" >/dev/null
    echo "committed $i"
  done
done
