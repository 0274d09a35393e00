#!/usr/bin/env bash
# Installs the Debian 12 packages h5tx needs to build and test, if missing.
# Used by examples/quickstart.sh and tests/run.sh; safe to run repeatedly.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  python3-h5netcdf python3-xarray
  liblmdb-dev libzstd-dev liblz4-dev libxxhash-dev libhdf5-dev libfuse3-dev
  hdf5-tools python3-h5py python3-numpy python3-pytest python3-hdf5plugin python3-zstandard
  fuse3 r-cran-hdf5r patchelf
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "h5tx: missing Debian packages: ${missing[*]}" >&2
  echo "h5tx: install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "h5tx: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
