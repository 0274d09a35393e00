#!/usr/bin/env bash
# realfiles.sh - HDF5's own test files, read through the h5tx driver by an
# unmodified HDF5 1.14 h5dump.
#
# Every *.h5 of TESTFILES_DIR is imported byte for byte into one store (all
# first, so external links between them resolve inside the store), then
#   HDF5_DRIVER=h5tx h5dump STORE.h5tx/NAME
# must print exactly what h5dump of the original prints (the file's name,
# which h5dump also prints in region and object references, is the only
# allowed difference: both are named with prefixes of the same length,
# orig.d/NAME and s.h5tx/NAME, so even line wrapping agrees).
# Skipped, and counted: multi-file families and split/multi files (tfamily*,
# tmulti-*, tsplit*), and files plain h5dump itself fails on or times out on
# (deliberately malformed or huge). For the ones it fails on, the driver's
# h5dump must fail the same way (same exit status and output, no crash).
# At least 50 files must be compared, with both byte orders among them.
#
# usage: realfiles.sh HDF5_1.14_BINDIR PLUGIN_DIR IMPORT_EXE TESTFILES_DIR
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 HDF5_1.14_BINDIR PLUGIN_DIR IMPORT_EXE TESTFILES_DIR" >&2
  exit 2
fi
BIN=$(cd "$1" && pwd)
PLUGIN=$(cd "$2" && pwd)
IMPORT=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
FILES=$(cd "$4" && pwd)
H5DUMP=$BIN/h5dump
[[ -x $H5DUMP ]] || { echo "FAIL: no h5dump in $BIN" >&2; exit 1; }
[[ -x $IMPORT ]] || { echo "FAIL: no import program $IMPORT" >&2; exit 1; }
compgen -G "$PLUGIN/*.so" >/dev/null || { echo "FAIL: no plugin in $PLUGIN" >&2; exit 1; }

MIN_COMPARED=50
PLAIN_TIMEOUT=5 # seconds per h5dump of an original (all but huge ones take < 1 s)
H5TX_TIMEOUT=20 # seconds per h5dump through the driver

unset HDF5_DRIVER HDF5_DRIVER_CONFIG HDF5_VOL_CONNECTOR HDF5_EXT_PREFIX
export HDF5_PLUGIN_PATH=$PLUGIN

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tx_realfiles.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
T0=$SECONDS
ln -s "$FILES" orig.d # as long as "s.h5tx"

npass=0
nfail=0
fail() { # fail WHAT [DETAILS]
  nfail=$((nfail + 1))
  echo "FAIL $1"
  if [[ $# -gt 1 && -n $2 ]]; then printf '%s\n' "$2" | head -n 20 | sed 's/^/     | /' || true; fi
}

names=()
for f in "$FILES"/*.h5; do
  [[ -f $f ]] && names+=("$(basename "$f")")
done
if [[ ${#names[@]} -eq 0 ]]; then
  echo "FAIL: no *.h5 files in $FILES" >&2
  exit 1
fi

# Import them all (byte for byte, one commit each).
for n in "${names[@]}"; do
  if ! out=$("$IMPORT" "orig.d/$n" "s.h5tx/$n" 2>&1) || ! [[ $out =~ ^[0-9]+$ ]]; then
    fail "import of $n" "$out"
  fi
done

compared=0
skipped=0
malformed=0
be_files=0
le_files=0
be_names=()
for n in "${names[@]}"; do
  case $n in
  tfamily[0-9]* | tmulti-* | tsplit*)
    skipped=$((skipped + 1))
    echo "skip $n (one part of a multi-file family or split file)"
    continue
    ;;
  esac
  prc=0
  timeout "$PLAIN_TIMEOUT" "$H5DUMP" "orig.d/$n" >plain.out 2>plain.err || prc=$?
  trc=0
  if [[ $prc -ge 124 ]]; then
    skipped=$((skipped + 1))
    echo "skip $n (plain h5dump timed out or crashed: exit status $prc)"
    continue
  fi
  timeout "$H5TX_TIMEOUT" env HDF5_DRIVER=h5tx "$H5DUMP" "s.h5tx/$n" >h5tx.raw 2>h5tx.err || trc=$?
  # The file's name is the one allowed difference.
  sed "s#s\.h5tx/${n//./\\.}#orig.d/$n#g" h5tx.raw >h5tx.out
  if [[ $prc -ne 0 ]]; then
    skipped=$((skipped + 1))
    malformed=$((malformed + 1))
    echo "skip $n (plain h5dump fails: exit status $prc)"
    if [[ $trc -ne $prc ]]; then
      fail "$n: plain h5dump fails with $prc, through the driver with $trc" "$(head -n 40 h5tx.err)"
    elif ! cmp -s plain.out h5tx.out; then
      fail "$n: plain h5dump and h5dump through the driver fail differently" \
        "$(diff plain.out h5tx.out | head -n 40)"
    else
      npass=$((npass + 1))
    fi
    continue
  fi
  compared=$((compared + 1))
  if [[ $trc -ne 0 ]]; then
    fail "$n: h5dump through the driver exits with $trc (plain: 0)" "$(head -n 40 h5tx.err)"
  elif ! diff plain.out h5tx.out >diff.txt; then
    fail "$n: h5dump through the driver differs from h5dump of the original" "$(head -n 40 diff.txt)"
  else
    npass=$((npass + 1))
    echo "ok   $n"
    if grep -qE 'H5T_(STD_[IUB][0-9]+|IEEE_F[0-9]+)BE' plain.out; then
      be_files=$((be_files + 1))
      be_names+=("$n")
    fi
    if grep -qE 'H5T_(STD_[IUB][0-9]+|IEEE_F[0-9]+)LE' plain.out; then
      le_files=$((le_files + 1))
    fi
  fi
done

echo "compared $compared files; skipped $skipped ($malformed of them because plain h5dump fails on them: each checked to fail the same way through the driver)"
echo "equal dumps with big-endian types: $be_files (${be_names[*]:0:8} ...), with little-endian types: $le_files"
if [[ $compared -lt $MIN_COMPARED ]]; then
  fail "only $compared files compared, at least $MIN_COMPARED wanted"
fi
if [[ $be_files -eq 0 || $le_files -eq 0 ]]; then
  fail "both byte orders must be among the equal dumps (big-endian: $be_files, little-endian: $le_files)"
fi
echo "$npass passed, $nfail failed ($((SECONDS - T0)) s)"
[[ $nfail -eq 0 ]]
