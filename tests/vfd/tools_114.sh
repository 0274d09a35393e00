#!/usr/bin/env bash
# tools_114.sh - unmodified HDF5 1.14 command-line tools on files in an h5tx
# store, through the driver loaded as a plugin (HDF5_DRIVER=h5tx, or the
# tools' --vfd-name/--vfd-info options):
#  - h5dump/h5ls of a store file (imported byte for byte, and written by
#    h5repack) equal those of the plain original, by both ways of naming
#    the driver;
#  - h5repack copies plain files into a store and out of it, h5diff and
#    h5copy read and write through the driver;
#  - every write is a revision: NAME@REV and rev= read each one, h5mkgrp
#    makes a new one, h5delete removes head only;
#  - bad HDF5_DRIVER_CONFIG / --vfd-info fail naming the key;
#  - plain files outside any store are served as POSIX files (plain=no
#    refuses them), store= puts plain relative names inside a store;
#  - write access to a past revision fails with "read-only" and changes
#    nothing.
#
# usage: tools_114.sh HDF5_1.14_BINDIR PLUGIN_DIR IMPORT_EXE
#
# The tools hide the driver's messages about a failed open unless given
# --enable-error-stack=2 (h5tools_fopen opens inside H5E_BEGIN_TRY), and
# h5dump/h5ls/h5repack retry a failed open with the built-in drivers, so
# checks that must not fall back use --vfd-name.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 HDF5_1.14_BINDIR PLUGIN_DIR IMPORT_EXE" >&2
  exit 2
fi
BIN=$(cd "$1" && pwd)
PLUGIN=$(cd "$2" && pwd)
IMPORT=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
for t in h5dump h5ls h5repack h5diff h5import h5mkgrp h5copy h5delete; do
  [[ -x $BIN/$t ]] || { echo "FAIL: no HDF5 tool $BIN/$t" >&2; exit 1; }
done
[[ -x $IMPORT ]] || { echo "FAIL: no import program $IMPORT" >&2; exit 1; }
compgen -G "$PLUGIN/*.so" >/dev/null || { echo "FAIL: no plugin in $PLUGIN" >&2; exit 1; }

unset HDF5_DRIVER HDF5_DRIVER_CONFIG HDF5_VOL_CONNECTOR HDF5_EXT_PREFIX
export HDF5_PLUGIN_PATH=$PLUGIN

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tx_tools114.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
T0=$SECONDS

npass=0
nfail=0
pass() {
  npass=$((npass + 1))
  echo "ok   $1"
}
fail() { # fail WHAT [DETAILS]
  nfail=$((nfail + 1))
  echo "FAIL $1"
  if [[ $# -gt 1 && -n $2 ]]; then printf '%s\n' "$2" | head -n 25 | sed 's/^/     | /' || true; fi
}

# run [tx | txc CONFIG] CMD...: run CMD with a time limit; stdout in
# out.txt, stderr in err.txt, exit status in RC. Never fails itself.
# "tx" runs it with HDF5_DRIVER=h5tx, "txc CONFIG" also with
# HDF5_DRIVER_CONFIG=CONFIG.
RC=0
run() {
  local pre=()
  case $1 in
  tx) pre=(env HDF5_DRIVER=h5tx) && shift ;;
  txc) pre=(env HDF5_DRIVER=h5tx "HDF5_DRIVER_CONFIG=$2") && shift 2 ;;
  esac
  RC=0
  timeout 120 "${pre[@]}" "$@" >"$tmp/out.txt" 2>"$tmp/err.txt" || RC=$?
}

# expect_same WHAT REF CMD...: CMD succeeds and prints what file REF holds,
# apart from the first line (which names the file).
expect_same() {
  local what=$1 ref=$2
  shift 2
  run "$@"
  if [[ $RC -ne 0 ]]; then
    fail "$what: exit status $RC" "$(head -n 40 "$tmp/err.txt")"
  elif [[ $(wc -l <"$tmp/out.txt") -lt 3 ]]; then
    fail "$what: (almost) no output" "$(cat "$tmp/out.txt" "$tmp/err.txt" | head -n 40)"
  elif ! diff <(tail -n +2 "$ref") <(tail -n +2 "$tmp/out.txt") >"$tmp/diff.txt"; then
    fail "$what: output differs from the plain file's" "$(head -n 40 "$tmp/diff.txt")"
  else
    pass "$what"
  fi
}

# expect_ok WHAT CMD...: CMD exits 0.
expect_ok() {
  local what=$1
  shift
  run "$@"
  if [[ $RC -eq 0 ]]; then pass "$what"; else fail "$what: exit status $RC" "$(head -n 40 "$tmp/err.txt")"; fi
}

# expect_rc WHAT RC CMD...: CMD exits with status RC.
expect_rc() {
  local what=$1 want=$2
  shift 2
  run "$@"
  if [[ $RC -eq $want ]]; then
    pass "$what"
  else
    fail "$what: exit status $RC, expected $want" "$(cat "$tmp/out.txt" "$tmp/err.txt" | head -n 40)"
  fi
}

# expect_fail WHAT TEXT CMD...: CMD exits non-zero (not by a signal or the
# time limit) and its stderr contains TEXT (empty: anything).
expect_fail() {
  local what=$1 text=$2
  shift 2
  run "$@"
  if [[ $RC -eq 0 ]]; then
    fail "$what: succeeded, expected a failure" "$(head -n 40 "$tmp/err.txt")"
  elif [[ $RC -ge 124 ]]; then
    fail "$what: exit status $RC (killed or timed out), expected a plain failure" \
      "$(head -n 40 "$tmp/err.txt")"
  elif [[ -n $text ]] && ! grep -qF -- "$text" "$tmp/err.txt"; then
    fail "$what: stderr does not say \"$text\"" "$(head -n 40 "$tmp/err.txt")"
  else
    pass "$what"
  fi
}

# expect_stderr WHAT TEXT CMD...: CMD's stderr contains TEXT, whatever its
# exit status (for tools that retry a refused open with another driver).
expect_stderr() {
  local what=$1 text=$2
  shift 2
  run "$@"
  if grep -qF -- "$text" "$tmp/err.txt"; then
    pass "$what"
  else
    fail "$what: stderr does not say \"$text\" (exit status $RC)" "$(head -n 40 "$tmp/err.txt")"
  fi
}

# newest_rev NAME: the newest revision N for which NAME@N opens, probing
# from 1 up (NAME must exist at every revision of its store).
newest_rev() {
  local r=0
  while [[ $r -lt 100 ]] && timeout 60 "$BIN/h5ls" --vfd-name=h5tx "$1@$((r + 1))" >/dev/null 2>&1; do
    r=$((r + 1))
  done
  echo "$r"
}

# ---- plain sources, made with h5import and the default driver ------------
# src1 and src2 have the same objects with different values: a big-endian
# integer array, a chunked gzip float dataset in a nested group and a 2.4 MB
# contiguous one (many store pages).
make_source() { # make_source OUT INT_START FLOAT_STEP
  seq "$2" $(($2 + 19999)) >ints.txt
  awk -v s="$3" 'BEGIN { for (i = 0; i < 300000; i++) printf "%.3f\n", i * s }' >floats.txt
  cat >ints.cfg <<'EOF'
PATH /grp/ints
INPUT-CLASS TEXTIN
INPUT-SIZE 32
RANK 2
DIMENSION-SIZES 200 100
OUTPUT-CLASS IN
OUTPUT-SIZE 32
OUTPUT-ARCHITECTURE STD
OUTPUT-BYTE-ORDER BE
EOF
  cat >chunked.cfg <<'EOF'
PATH /grp/sub/floats
INPUT-CLASS TEXTFP
INPUT-SIZE 64
RANK 1
DIMENSION-SIZES 300000
OUTPUT-CLASS FP
OUTPUT-SIZE 64
OUTPUT-ARCHITECTURE IEEE
OUTPUT-BYTE-ORDER LE
CHUNKED-DIMENSION-SIZES 10000
COMPRESSION-TYPE GZIP
COMPRESSION-PARAM 6
EOF
  cat >raw.cfg <<'EOF'
PATH /raw
INPUT-CLASS TEXTFP
INPUT-SIZE 64
RANK 1
DIMENSION-SIZES 300000
OUTPUT-CLASS FP
OUTPUT-SIZE 64
EOF
  if ! "$BIN/h5import" ints.txt -c ints.cfg floats.txt -c chunked.cfg floats.txt -c raw.cfg \
    -o "$1" >import.log 2>&1; then
    echo "FAIL: h5import could not make $1:" >&2
    cat import.log >&2
    exit 1
  fi
}
make_source src1.h5 1 0.5
make_source src2.h5 7 0.25
"$BIN/h5repack" src1.h5 src1_repacked.h5 # the layout h5repack gives src1
for f in src1 src2; do
  "$BIN/h5dump" $f.h5 >$f.dump
  "$BIN/h5dump" -p $f.h5 >$f.pdump
  "$BIN/h5ls" -rv $f.h5 >$f.ls
done
"$BIN/h5dump" -p src1_repacked.h5 >src1_repacked.pdump
"$BIN/h5ls" -rv src1_repacked.h5 >src1_repacked.ls
if cmp -s <(tail -n +2 src1.dump) <(tail -n +2 src2.dump); then
  echo "FAIL: the two sources dump the same; the checks below would prove nothing" >&2
  exit 1
fi

# ---- a file imported byte for byte: dumps and listings equal the original -
echo "# imported file"
run "$IMPORT" src1.h5 st.h5tx/imp/src1.h5
if [[ $RC -eq 0 && $(cat out.txt) =~ ^[0-9]+$ ]]; then
  pass "import src1.h5 into st.h5tx/imp/src1.h5 (revision $(cat out.txt))"
else
  fail "import src1.h5 into a store: exit status $RC, output '$(cat out.txt)'" "$(head -n 40 err.txt)"
fi
imp=st.h5tx/imp/src1.h5
expect_same "h5dump, HDF5_DRIVER=h5tx" src1.dump tx "$BIN/h5dump" $imp
expect_same "h5dump --vfd-name h5tx --vfd-info" src1.dump \
  "$BIN/h5dump" --vfd-name h5tx --vfd-info 'cache=64M' $imp
expect_same "h5dump --vfd-value 301 (by class value)" src1.dump "$BIN/h5dump" --vfd-value 301 $imp
expect_same "h5dump -p (layout, filters, addresses), HDF5_DRIVER=h5tx" src1.pdump \
  tx "$BIN/h5dump" -p $imp
expect_same "h5ls -rv, HDF5_DRIVER=h5tx" src1.ls tx "$BIN/h5ls" -rv $imp
expect_same "h5ls -rv --vfd-name=h5tx --vfd-info=" src1.ls \
  "$BIN/h5ls" --vfd-name=h5tx --vfd-info='cache=64M' -rv $imp

# ---- h5repack into and out of a store; h5diff, h5copy ----------------------
echo "# h5repack, h5diff, h5copy"
expect_ok "h5repack --dst-vfd-name h5tx src1.h5 st.h5tx/rp/a.h5" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx src1.h5 st.h5tx/rp/a.h5
expect_same "h5dump of the repacked file, HDF5_DRIVER=h5tx" src1.dump tx "$BIN/h5dump" st.h5tx/rp/a.h5
expect_same "h5dump --vfd-name h5tx of the repacked file" src1.dump \
  "$BIN/h5dump" --vfd-name h5tx st.h5tx/rp/a.h5
expect_same "h5ls -rv of it equals that of a plain h5repack (same layout)" src1_repacked.ls \
  tx "$BIN/h5ls" -rv st.h5tx/rp/a.h5
expect_same "h5dump -p of it equals that of a plain h5repack" src1_repacked.pdump \
  tx "$BIN/h5dump" -p st.h5tx/rp/a.h5
expect_ok "h5repack --dst-vfd-name h5tx --dst-vfd-info 'page_size=4K;codec=none;commit=close'" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx \
  --dst-vfd-info 'page_size=4K;codec=none;commit=close' src1.h5 st.h5tx/rp/b.h5
expect_same "h5dump of the 4K-page file" src1.dump tx "$BIN/h5dump" st.h5tx/rp/b.h5
expect_rc "h5diff --vfd-name-2 h5tx src1.h5 st.h5tx/rp/b.h5: no differences" 0 \
  "$BIN/h5diff" --enable-error-stack --vfd-name-2 h5tx src1.h5 st.h5tx/rp/b.h5
expect_rc "h5diff --vfd-name-1/-2 h5tx between two store files: no differences" 0 \
  "$BIN/h5diff" --enable-error-stack --vfd-name-1 h5tx --vfd-name-2 h5tx \
  st.h5tx/rp/a.h5 st.h5tx/rp/b.h5
expect_rc "h5diff --vfd-name-2 h5tx src2.h5 st.h5tx/rp/b.h5: differences found" 1 \
  "$BIN/h5diff" --enable-error-stack --vfd-name-2 h5tx src2.h5 st.h5tx/rp/b.h5
expect_ok "h5repack --src-vfd-name h5tx st.h5tx/rp/b.h5 out.h5 (out of the store)" \
  "$BIN/h5repack" --enable-error-stack --src-vfd-name h5tx st.h5tx/rp/b.h5 out.h5
expect_same "h5dump of the plain copy, default driver" src1.dump "$BIN/h5dump" out.h5
expect_rc "h5diff src1.h5 out.h5 (default driver): no differences" 0 \
  "$BIN/h5diff" --enable-error-stack src1.h5 out.h5
expect_ok "h5copy src1.h5:/grp into a new store file, HDF5_DRIVER=h5tx" \
  tx "$BIN/h5copy" -i src1.h5 -o st.h5tx/cp.h5 -s /grp -d /grp
expect_ok "h5copy src2.h5:/grp into the same store file as /grp2" \
  tx "$BIN/h5copy" -i src2.h5 -o st.h5tx/cp.h5 -s /grp -d /grp2
expect_rc "h5diff of the copied groups (src1 /grp)" 0 \
  "$BIN/h5diff" --enable-error-stack --vfd-name-2 h5tx src1.h5 st.h5tx/cp.h5 /grp /grp
expect_rc "h5diff of the copied groups (src2 /grp as /grp2)" 0 \
  "$BIN/h5diff" --enable-error-stack --vfd-name-2 h5tx src2.h5 st.h5tx/cp.h5 /grp /grp2

# ---- revisions ---------------------------------------------------------------
echo "# revisions"
expect_ok "h5repack src1.h5 into a new store rv.h5tx/f.h5" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx src1.h5 rv.h5tx/f.h5
rev1=$(newest_rev rv.h5tx/f.h5)
expect_ok "h5repack src2.h5 over rv.h5tx/f.h5" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx src2.h5 rv.h5tx/f.h5
rev2=$(newest_rev rv.h5tx/f.h5)
if [[ $rev1 -ge 1 && $rev2 -gt $rev1 ]]; then
  pass "each h5repack made a revision (@$rev1, @$rev2)"
else
  fail "h5repack made no new revision: newest revisions found @$rev1, then @$rev2"
fi
[[ $rev1 -ge 1 ]] || rev1=1
[[ $rev2 -gt $rev1 ]] || rev2=$((rev1 + 1))
expect_same "h5dump rv.h5tx/f.h5@$rev1 equals src1" src1.dump tx "$BIN/h5dump" "rv.h5tx/f.h5@$rev1"
expect_same "h5dump rv.h5tx/f.h5@$rev2 equals src2" src2.dump tx "$BIN/h5dump" "rv.h5tx/f.h5@$rev2"
expect_same "h5dump rv.h5tx/f.h5 (head) equals src2" src2.dump tx "$BIN/h5dump" rv.h5tx/f.h5
expect_same "h5dump --vfd-info rev=$rev1 rv.h5tx/f.h5 equals src1" src1.dump \
  "$BIN/h5dump" --vfd-name h5tx --vfd-info "rev=$rev1" rv.h5tx/f.h5
expect_same "h5ls -rv rv.h5tx/f.h5@$rev1 equals that of a plain h5repack" src1_repacked.ls \
  tx "$BIN/h5ls" -rv "rv.h5tx/f.h5@$rev1"
expect_fail "h5dump of a revision that does not exist yet fails" "" \
  tx "$BIN/h5dump" -H rv.h5tx/f.h5@$((rev2 + 1))
expect_rc "h5diff between @$rev1 and @$rev2: differences found" 1 \
  "$BIN/h5diff" --enable-error-stack --vfd-name-1 h5tx --vfd-name-2 h5tx \
  "rv.h5tx/f.h5@$rev1" "rv.h5tx/f.h5@$rev2"
expect_ok "h5repack --src-vfd-name h5tx rv.h5tx/f.h5@$rev1 old.h5 (restore a revision)" \
  "$BIN/h5repack" --enable-error-stack --src-vfd-name h5tx "rv.h5tx/f.h5@$rev1" old.h5
expect_rc "h5diff src1.h5 old.h5: no differences" 0 "$BIN/h5diff" --enable-error-stack src1.h5 old.h5

# ---- write access to a past revision ----------------------------------------
echo "# past revisions are read-only"
expect_fail "h5repack --dst-vfd-name h5tx into rv.h5tx/f.h5@$rev1 fails" "read-only" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx src2.h5 "rv.h5tx/f.h5@$rev1"
expect_fail "h5repack --dst-vfd-info rev=$rev1 into rv.h5tx/f.h5 fails" "read-only" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx --dst-vfd-info "rev=$rev1" \
  src2.h5 rv.h5tx/f.h5
expect_fail "h5mkgrp (opens read-write) on rv.h5tx/f.h5@$rev1 fails" "" \
  tx "$BIN/h5mkgrp" "rv.h5tx/f.h5@$rev1" /nope
expect_same "rv.h5tx/f.h5@$rev1 still equals src1" src1.dump tx "$BIN/h5dump" "rv.h5tx/f.h5@$rev1"
expect_same "head still equals src2" src2.dump tx "$BIN/h5dump" rv.h5tx/f.h5
r=$(newest_rev rv.h5tx/f.h5)
if [[ $r -eq $rev2 ]]; then pass "no revision was made"; else fail "refused writes made revision @$r"; fi

# ---- read-write opens of head: h5mkgrp, h5delete ----------------------------
echo "# h5mkgrp and h5delete on head"
expect_ok "h5mkgrp rv.h5tx/f.h5 /added, HDF5_DRIVER=h5tx" tx "$BIN/h5mkgrp" rv.h5tx/f.h5 /added
rev3=$(newest_rev rv.h5tx/f.h5)
if [[ $rev3 -gt $rev2 ]]; then pass "h5mkgrp made revision @$rev3"; else fail "h5mkgrp made no revision"; fi
run tx "$BIN/h5ls" rv.h5tx/f.h5
if [[ $RC -eq 0 ]] && grep -q '^added  *Group' out.txt; then
  pass "head has /added"
else
  fail "head lacks /added (h5ls exit status $RC)" "$(cat out.txt err.txt | head -n 40)"
fi
expect_same "rv.h5tx/f.h5@$rev2 still equals src2 (no /added)" src2.dump \
  tx "$BIN/h5dump" "rv.h5tx/f.h5@$rev2"
expect_ok "h5delete rv.h5tx/f.h5, HDF5_DRIVER=h5tx" tx "$BIN/h5delete" rv.h5tx/f.h5
expect_fail "head no longer has rv.h5tx/f.h5" "" tx "$BIN/h5ls" --vfd-name=h5tx rv.h5tx/f.h5
expect_same "rv.h5tx/f.h5@$rev2 is still readable after the delete" src2.dump \
  tx "$BIN/h5dump" "rv.h5tx/f.h5@$rev2"
expect_fail "h5delete of a revision fails" "" tx "$BIN/h5delete" "rv.h5tx/f.h5@$rev1"

# ---- config errors -----------------------------------------------------------
echo "# config errors"
expect_fail "HDF5_DRIVER_CONFIG with an unknown key" "unknown config key 'bogus'" \
  txc 'bogus=1' "$BIN/h5dump" --enable-error-stack=2 -H $imp
expect_fail "HDF5_DRIVER_CONFIG with a bad value" "config key 'page_size': bad value '3000'" \
  txc 'page_size=3000' "$BIN/h5dump" --enable-error-stack=2 -H $imp
expect_fail "--vfd-info with an unknown key" "unknown config key 'colour'" \
  "$BIN/h5dump" --enable-error-stack=2 --vfd-name h5tx --vfd-info 'colour=blue' -H $imp
expect_fail "--vfd-info with a bad value" "config key 'durability': bad value 'maybe'" \
  "$BIN/h5dump" --enable-error-stack=2 --vfd-name h5tx --vfd-info 'durability=maybe' -H $imp
expect_fail "h5repack --dst-vfd-info with a bad value" "config key 'codec'" \
  "$BIN/h5repack" --enable-error-stack --dst-vfd-name h5tx --dst-vfd-info 'codec=brotli' \
  src1.h5 st.h5tx/rp/c.h5
expect_fail "...and made no file" "" tx "$BIN/h5ls" --vfd-name=h5tx st.h5tx/rp/c.h5

# ---- plain files outside any store -------------------------------------------
echo "# plain files"
expect_same "h5dump --vfd-name h5tx of a plain file" src1.dump "$BIN/h5dump" --vfd-name h5tx src1.h5
expect_same "h5dump of a plain file, HDF5_DRIVER=h5tx" src1.dump tx "$BIN/h5dump" src1.h5
expect_same "h5ls -rv --vfd-name=h5tx of a plain file" src1.ls \
  "$BIN/h5ls" --vfd-name=h5tx -rv src1.h5
cp src2.h5 plainrw.h5
expect_ok "h5mkgrp --vfd-name=h5tx on a plain file" "$BIN/h5mkgrp" --vfd-name=h5tx plainrw.h5 /made
run "$BIN/h5ls" plainrw.h5
if [[ $RC -eq 0 ]] && grep -q '^made  *Group' out.txt; then
  pass "the plain file has /made (default driver)"
else
  fail "the plain file lacks /made (h5ls exit status $RC)" "$(cat out.txt err.txt | head -n 40)"
fi
expect_fail "--vfd-info plain=no refuses a plain file" "outside any store" \
  "$BIN/h5dump" --enable-error-stack=2 --vfd-name h5tx --vfd-info 'plain=no' -H src1.h5
# h5dump then retries with the built-in drivers, so only its stderr tells.
expect_stderr "HDF5_DRIVER_CONFIG=plain=no: the driver refuses a plain file" "outside any store" \
  txc 'plain=no' "$BIN/h5dump" --enable-error-stack=2 -H src1.h5
expect_fail "--vfd-info plain=no: h5mkgrp on a plain file fails" "" \
  "$BIN/h5mkgrp" --vfd-name=h5tx --vfd-info=plain=no plainrw.h5 /refused
run "$BIN/h5ls" plainrw.h5
if [[ $RC -eq 0 ]] && ! grep -q '^refused' out.txt; then
  pass "...and did not change it"
else
  fail "the refused h5mkgrp changed the plain file (or h5ls failed: $RC)" "$(cat out.txt err.txt | head -n 40)"
fi

# ---- store=: plain relative names inside a store -----------------------------
echo "# store= config"
mkdir work other
lab=$tmp/lab.h5tx
cd work
run txc "store=$lab" "$BIN/h5repack" --enable-error-stack "$tmp/src1.h5" inlab.h5
if [[ $RC -eq 0 ]]; then pass "h5repack with store=$lab to inlab.h5"; else
  fail "h5repack with store=DIR/lab.h5tx: exit status $RC" "$(head -n 40 "$tmp/err.txt")"; fi
run txc "store=$lab" "$BIN/h5repack" --enable-error-stack "$tmp/src2.h5" runs/r2.h5
if [[ $RC -eq 0 ]]; then pass "h5repack with store= to runs/r2.h5"; else
  fail "h5repack with store= to runs/r2.h5: exit status $RC" "$(head -n 40 "$tmp/err.txt")"; fi
cd "$tmp"
if [[ ! -e work/inlab.h5 && ! -e work/runs && -d $lab ]]; then
  pass "no plain file was made, the store was"
else
  fail "store= made plain files or no store" "$(ls -l work "$tmp")"
fi
expect_same "h5dump lab.h5tx/inlab.h5 (named in full, no config)" src1.dump \
  tx "$BIN/h5dump" lab.h5tx/inlab.h5
expect_same "h5dump lab.h5tx/runs/r2.h5 (named in full, no config)" src2.dump \
  tx "$BIN/h5dump" lab.h5tx/runs/r2.h5
cd other
expect_same "h5dump inlab.h5 with HDF5_DRIVER_CONFIG=store=..." "$tmp/src1.dump" \
  txc "store=$lab" "$BIN/h5dump" inlab.h5
expect_same "h5dump runs/r2.h5 with --vfd-info store=..." "$tmp/src2.dump" \
  "$BIN/h5dump" --vfd-name h5tx --vfd-info "store=$lab" runs/r2.h5
expect_same "h5dump with store= and an absolute plain name reads the plain file" "$tmp/src2.dump" \
  "$BIN/h5dump" --vfd-name h5tx --vfd-info "store=$lab" "$tmp/src2.h5"
expect_fail "h5dump with store= of a name not in the store fails" "" \
  "$BIN/h5dump" --vfd-name h5tx --vfd-info "store=$lab" -H src1.h5
cd "$tmp"

# A tool that fell back to a built-in driver would have made plain files
# inside a store directory.
stray=$(find "$tmp" -path '*.h5tx/*' -name '*.h5*' -print)
if [[ -z $stray ]]; then
  pass "no plain HDF5 file inside any store directory"
else
  fail "plain files inside store directories" "$stray"
fi

echo "$npass passed, $nfail failed ($((SECONDS - T0)) s)"
[[ $nfail -eq 0 ]]
