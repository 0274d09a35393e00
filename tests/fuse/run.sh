#!/usr/bin/env bash
# Runs the h5tx mount tests (pytest, Debian's python3), or exits 77 - which
# ctest reports as skipped - naming what is missing: /dev/fuse (a container
# without it) or fusermount3 (package fuse3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -c /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
  echo "SKIP: /dev/fuse is missing or not usable here: cannot mount FUSE file systems"
  exit 77
fi
if ! command -v fusermount3 >/dev/null 2>&1; then
  echo "SKIP: fusermount3 not found (apt-get install fuse3)"
  exit 77
fi
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider "$here" "$@"
