#!/usr/bin/env bash
# Builds HDF5 1.14.5 (C library and tools) once from Debian's own source
# package, into a cache directory that later runs reuse, and prints its
# install prefix on the last line of stdout. The HDF5 test files of the
# source package (real files of many kinds and both byte orders, which
# h5tx's tests import) are kept in PREFIX/share/hdf5-testfiles.
#
# Debian 12 has only HDF5 1.10. The source comes from Debian 13 "trixie"
# through a deb-src entry only: no binary package of another release is ever
# added to apt.
#   usage: build-hdf5-1.14.sh [CACHE_DIR]   (default: ~/.cache/h5tx)
set -euo pipefail
version=1.14.5
debver=1.14.5+repack-3
cache=${1:-${H5TX_CACHE:-$HOME/.cache/h5tx}}
prefix="$cache/hdf5-$version"
if [ -f "$prefix/.h5tx-complete" ] && [ -x "$prefix/bin/h5dump" ] &&
  [ -d "$prefix/share/hdf5-testfiles" ]; then
  echo "$prefix"
  exit 0
fi

log() { echo "build-hdf5: $*" >&2; }
need=()
for p in dpkg-dev build-essential zlib1g-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/h5tx-trixie-src.sources
if [ ! -f "$src_list" ]; then
  log "adding a deb-src (source only) entry for Debian 13 trixie"
  cat > "$src_list" <<'SRC'
# Added by h5tx (cmake/build-hdf5-1.14.sh): source packages only, to build
# HDF5 1.14.5 from Debian's own source. No binary packages of trixie.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq >&2
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/h5tx-hdf5-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
log "fetching source package hdf5=$debver"
apt-get source -qq --download-only "hdf5=$debver" >&2
dpkg-source -x --no-check hdf5_*.dsc src >&2
cd src
log "configuring (C library and tools only) into $prefix"
./configure --prefix="$prefix" --enable-build-mode=production --enable-shared \
  --disable-static --disable-fortran --disable-cxx --disable-java --disable-hl \
  --disable-tests --disable-doxygen-doc --enable-tools --with-zlib \
  --with-default-plugindir="$prefix/lib/plugin" >"$work/configure.log" 2>&1 ||
  { tail -30 "$work/configure.log" >&2; exit 1; }
log "building (a few minutes)"
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
make install >"$work/install.log" 2>&1 || { tail -20 "$work/install.log" >&2; exit 1; }
mkdir -p "$prefix/share/hdf5-testfiles"
cp tools/test/h5dump/testfiles/*.h5 "$prefix/share/hdf5-testfiles/"
touch "$prefix/.h5tx-complete"
log "HDF5 $version installed in $prefix"
echo "$prefix"
