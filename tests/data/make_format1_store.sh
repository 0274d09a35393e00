#!/usr/bin/env bash
# make_format1_store.sh - how tests/data/format1-small.tar.gz was made: a
# small store written by the format-1 code (h5tx before issue 10, commit
# 274cdc8), kept so that `h5tx upgrade` can be tested after the store has
# switched to format 2 (any build before the switch writes format 1). Six revisions of two files (noisy, compressible and
# zero pages; an overwrite, a truncation, a re-import of identical bytes
# that makes no revision), two tags, and a gc that collected revisions.
# format1-small.sha256 lists the sha256 of every file at every readable
# revision, as `h5tx export` of the format-1 code wrote it.
#   usage: make_format1_store.sh H5TX_CLI OUTDIR   (H5TX_CLI of a format-1 build)
set -euo pipefail
h5tx=$1 out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
s=$work/small.h5tx
python3 - "$work" <<'PY'
import os, random, sys
w = sys.argv[1]
r = random.Random(42)
noisy = bytes(r.getrandbits(8) for _ in range(12 * 4096))
comp = bytes((i // 50) % 256 for i in range(12 * 4096))
zero = bytes(8 * 4096)
open(os.path.join(w, "a1"), "wb").write(noisy + comp + zero)
a2 = bytearray(noisy + comp + zero); a2[5 * 4096 + 17: 5 * 4096 + 17 + 3 * 4096] = comp[:3 * 4096]
open(os.path.join(w, "a2"), "wb").write(a2)
open(os.path.join(w, "a3"), "wb").write(bytes(a2[:10 * 4096 + 100]))
open(os.path.join(w, "b1"), "wb").write(comp[:7 * 4096 + 5])
open(os.path.join(w, "b2"), "wb").write(comp[:7 * 4096 + 5] + noisy[:4096])
PY
"$h5tx" init "$s" --page-size 4096
"$h5tx" import "$work/a1" "$s/a.h5" -m "create a" >/dev/null
"$h5tx" import "$work/a2" "$s/a.h5" -m "overwrite part of a" >/dev/null
"$h5tx" import "$work/b1" "$s/d/b.h5" -m "create b" >/dev/null
"$h5tx" tag "$s" v1 2
"$h5tx" import "$work/a3" "$s/a.h5" -m "truncate a" >/dev/null
"$h5tx" import "$work/a3" "$s/a.h5" -m "identical: no revision" >/dev/null
"$h5tx" import "$work/b2" "$s/d/b.h5" -m "grow b" >/dev/null
"$h5tx" import "$work/a1" "$s/a.h5" -m "a back as it was" >/dev/null
"$h5tx" tag "$s" last head
"$h5tx" gc "$s" --keep-last 2 >/dev/null
: > "$work/sums"
for rev in 1 2 3 4 5 6; do
  for f in a.h5 d/b.h5; do
    if "$h5tx" export "$s/$f@$rev" "$work/x" 2>/dev/null; then
      echo "$(sha256sum < "$work/x" | cut -d' ' -f1)  $f@$rev" >> "$work/sums"
    fi
  done
done
mkdir -p "$out"
cp "$work/sums" "$out/format1-small.sha256"
# the live table and LMDB's lock file hold nothing durable
tar -C "$work" --exclude=readers --exclude=lock.mdb -czf "$out/format1-small.tar.gz" small.h5tx
