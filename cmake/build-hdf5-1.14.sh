#!/usr/bin/env bash
# Builds HDF5 1.14.x (C library and tools) once from Debian's own source
# package, into a cache directory that later runs reuse, and prints its
# install prefix on the last line of stdout. The HDF5 test files of the
# source package (real files of many kinds and both byte orders, which
# h5tx's tests import) are kept in PREFIX/share/hdf5-testfiles.
#
# With -t it also builds (once, cached) HDF5's own C test programs, as a
# CMake build tree of the same source in CACHE_DIR/hdf5-VERSION-tests (the
# suite's programs are never installed, so the tree is kept), and prints
# that tree's path on the last line instead of the prefix. The source tree
# is kept beside it (CACHE_DIR/hdf5-VERSION-src), since the tree's build
# files and HDF5's private headers point into it.
#
# Versions and where their source comes from (a deb-src entry only: no
# binary package of another release is ever added to apt):
#   1.14.5  hdf5 1.14.5+repack-3  Debian 13 "trixie"   (the default)
#   1.14.6  hdf5 1.14.6+repack-2  Debian unstable "sid"
#
#   usage: build-hdf5-1.14.sh [-t] [-v VERSION] [CACHE_DIR]   (default: ~/.cache/h5tx)
# Safe to run again, and after an interrupted run: a build counts only once
# its marker file is written, and the build directories are rebuilt until then.
set -euo pipefail
version=1.14.5
tests=0
while getopts "tv:" opt; do
  case $opt in
    t) tests=1 ;;
    v) version=$OPTARG ;;
    *) echo "usage: build-hdf5-1.14.sh [-t] [-v 1.14.5|1.14.6] [CACHE_DIR]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
case $version in
  1.14.5) debver=1.14.5+repack-3 suite=trixie ;;
  1.14.6) debver=1.14.6+repack-2 suite=sid ;;
  *) echo "build-hdf5: HDF5 $version is not known here (1.14.5 or 1.14.6)" >&2; exit 2 ;;
esac
cache=${1:-${H5TX_CACHE:-$HOME/.cache/h5tx}}
prefix="$cache/hdf5-$version"
srcdir="$cache/hdf5-$version-src"
testdir="$cache/hdf5-$version-tests"

log() { echo "build-hdf5: $*" >&2; }
have_prefix() {
  [ -f "$prefix/.h5tx-complete" ] && [ -x "$prefix/bin/h5dump" ] &&
    [ -d "$prefix/share/hdf5-testfiles" ]
}
have_tests() { [ -f "$testdir/.h5tx-complete" ] && [ -x "$testdir/bin/testhdf5" ]; }
if have_prefix && { [ $tests = 0 ] || have_tests; }; then
  [ $tests = 1 ] && echo "$testdir" || echo "$prefix"
  exit 0
fi

need=()
pkgs=(dpkg-dev build-essential zlib1g-dev)
[ $tests = 1 ] && pkgs+=(cmake)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/h5tx-$suite-src.sources
if [ ! -f "$src_list" ]; then
  log "adding a deb-src (source only) entry for Debian $suite"
  cat > "$src_list" <<SRC
# Added by h5tx (cmake/build-hdf5-1.14.sh): source packages only, to build
# HDF5 $version from Debian's own source. No binary packages of $suite.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
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
jobs=$(nproc)

# Debian's source package, unpacked with Debian's patches, into $1.
unpack_source() {
  log "fetching source package hdf5=$debver (deb-src $suite)"
  (cd "$work" && apt-get source -qq --download-only "hdf5=$debver" >&2)
  rm -rf "$1"
  (cd "$work" && dpkg-source -x --no-check hdf5_*.dsc "$1" >&2)
}

if ! have_prefix; then
  unpack_source "$work/src"
  cd "$work/src"
  log "configuring HDF5 $version (C library and tools only) into $prefix"
  rm -rf "$prefix"
  ./configure --prefix="$prefix" --enable-build-mode=production --enable-shared \
    --disable-static --disable-fortran --disable-cxx --disable-java --disable-hl \
    --disable-tests --disable-doxygen-doc --enable-tools --with-zlib \
    --with-default-plugindir="$prefix/lib/plugin" >"$work/configure.log" 2>&1 ||
    { tail -30 "$work/configure.log" >&2; exit 1; }
  log "building (a few minutes)"
  make -j"$jobs" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
  make install >"$work/install.log" 2>&1 || { tail -20 "$work/install.log" >&2; exit 1; }
  mkdir -p "$prefix/share/hdf5-testfiles"
  cp tools/test/h5dump/testfiles/*.h5 "$prefix/share/hdf5-testfiles/"
  touch "$prefix/.h5tx-complete"
  log "HDF5 $version installed in $prefix"
  cd "$work"
fi
if [ $tests = 0 ]; then
  echo "$prefix"
  exit 0
fi

if ! have_tests; then
  [ -f "$srcdir/.h5tx-complete" ] || {
    unpack_source "$srcdir"
    touch "$srcdir/.h5tx-complete"
  }
  log "building HDF5 $version's test programs (CMake) in $testdir (several minutes)"
  rm -rf "$testdir"
  mkdir -p "$testdir"
  (cd "$testdir" && cmake "$srcdir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
    -DHDF5_BUILD_TOOLS=OFF -DHDF5_BUILD_UTILS=OFF -DHDF5_BUILD_FORTRAN=OFF -DHDF5_BUILD_CPP_LIB=OFF \
    -DHDF5_BUILD_JAVA=OFF -DHDF5_BUILD_HL_LIB=OFF -DHDF5_BUILD_EXAMPLES=OFF \
    -DBUILD_SHARED_LIBS=ON -DBUILD_STATIC_LIBS=OFF -DHDF5_ENABLE_Z_LIB_SUPPORT=ON \
    -DHDF5_ENABLE_SZIP_SUPPORT=OFF -DCMAKE_INSTALL_PREFIX="$testdir/install" \
    >"$testdir/build-configure.log" 2>&1) ||
    { tail -30 "$testdir/build-configure.log" >&2; exit 1; }
  (cd "$testdir" && make -j"$jobs" >"$testdir/build-make.log" 2>&1) ||
    { tail -40 "$testdir/build-make.log" >&2; exit 1; }
  touch "$testdir/.h5tx-complete"
  log "HDF5 $version's test programs built in $testdir"
fi
echo "$testdir"
