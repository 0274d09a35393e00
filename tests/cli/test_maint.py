"""upgrade and repair: the checked-in format-1 store (tests/data, made by the
format-1 code) upgraded by `h5tx upgrade` reads byte for byte what the
format-1 code exported (tests/data/format1-small.sha256), with its messages,
collected revisions and tags; every other command refuses a format-1 store
naming `h5tx upgrade`. `h5tx repair` rebuilds a lost or damaged index from
the page log, every revision byte for byte, tags and messages kept; both are
refused while another process has the store open (the holder is named)."""
import ctypes
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

from conftest import LIB, ROOT, Holder, h5tx, h5tx_json, read, write

DATA = os.path.join(ROOT, "tests", "data")
MESSAGES = ["a back as it was", "grow b", "truncate a", "create b", "overwrite part of a",
            "create a"]  # newest first, as make_format1_store.sh committed them
COLLECTED = [1, 3, 4]  # its gc --keep-last 2 kept 5, 6 and the tagged 2
TAGS = {"v1": 2, "last": 6}


def manifest():
    """{(name, rev): sha256} of every file at every readable revision."""
    out = {}
    with open(os.path.join(DATA, "format1-small.sha256")) as f:
        for line in f:
            digest, what = line.split()
            name, rev = what.rsplit("@", 1)
            out[(name, int(rev))] = digest
    return out


@pytest.fixture
def format1(tmp_path):
    """The checked-in format-1 store, unpacked: tmp_path/f1/small.h5tx."""
    with tarfile.open(os.path.join(DATA, "format1-small.tar.gz")) as t:
        t.extractall(tmp_path / "f1")
    s = tmp_path / "f1" / "small.h5tx"
    assert read(s / "h5tx-store").splitlines()[1] == b"format 1"
    return s


def tree(path, volatile=False):
    """Every entry under `path` with its size and mtime: "nothing touched".
    volatile: leave out what every open of a store writes and what holds
    nothing durable (the live table, LMDB's lock file)."""
    out = {}
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            if volatile and n in ("readers", "lock.mdb"):
                continue
            st = os.lstat(os.path.join(d, n))
            out[os.path.relpath(os.path.join(d, n), path)] = (st.st_size, st.st_mtime_ns)
    return out


# ---- format 1 refused -------------------------------------------------------------


@pytest.mark.parametrize("args", [["log", "S"], ["ls", "S"], ["export", "S/a.h5", "OUT"],
                                  ["stats", "S"], ["verify", "S"], ["tags", "S"],
                                  ["show", "S@6"], ["repair", "S"],
                                  ["import", "SRC", "S/new.h5"], ["tag", "S", "t"],
                                  ["gc", "S", "--keep-last", "1"], ["rm", "S/a.h5"],
                                  ["mv", "S/a.h5", "b.h5"], ["diff", "S/a.h5", "5", "6"]],
                         ids=lambda a: a[0])
def test_format1_refused_naming_upgrade(tmp_path, format1, args):
    write(tmp_path / "src", b"new bytes")
    before = tree(format1)
    fixed = {"OUT": str(tmp_path / "out"), "SRC": str(tmp_path / "src")}
    argv = [fixed.get(a, str(format1) + a[1:] if a.startswith("S") else a) for a in args]
    want = "store %s has format 1; run `h5tx upgrade %s` to convert it" % (format1, format1)
    p = h5tx(*argv, code=1)
    assert p.err.startswith("h5tx: ") and want in p.err, p.err
    assert p.out == ""
    if args[0] not in ("export", "import"):
        e = json.loads(h5tx(*argv, "--json", code=1).err)["error"]
        assert (e["code"], e["exit"]) == ("H5TX_EFORMAT", 1) and want in e["message"], e
    assert not os.path.exists(tmp_path / "out")
    assert tree(format1) == before  # nothing created, nothing changed


# ---- upgrade ----------------------------------------------------------------------


def exports(store, tmp_path, names, revs):
    """{(name, rev): sha256} of what `h5tx export` writes, for those that exist."""
    out = {}
    for rev in revs:
        for name in names:
            p = h5tx("export", "%s/%s@%d" % (store, name, rev), tmp_path / "x", code=None)
            if p.returncode == 0:
                out[(name, rev)] = hashlib.sha256(read(tmp_path / "x")).hexdigest()
            else:
                assert p.returncode == 1, p.err
                assert ("garbage-collected" in p.err) == (rev in COLLECTED), p.err
    return out


def test_upgrade_keeps_every_revision_message_and_tag(tmp_path, format1):
    p = h5tx("upgrade", format1)
    lines = p.out.splitlines()
    kept = glob.glob(str(tmp_path / "f1" / ".small.h5tx.format1-*"))
    assert len(kept) == 1 and re.fullmatch(r".*/\.small\.h5tx\.format1-\d+", kept[0]), kept
    kept = kept[0]
    assert lines[0].startswith("upgrading store %s from format 1 to format 2" % format1)
    assert "the format-1 store is kept as %s" % kept in p.out
    assert lines[-1] == ("upgraded store %s to format 2: 6 revisions (3 collected), 2 files at "
                         "head and 2 tags kept; the format-1 store was moved to %s"
                         % (format1, kept)), p.out
    assert p.err == ""
    # The old store is kept as it was; the new one has format 2.
    assert read(os.path.join(kept, "h5tx-store")).splitlines()[1] == b"format 1"
    assert os.path.exists(os.path.join(kept, "data.mdb"))
    assert read(format1 / "h5tx-store").splitlines()[1] == b"format 2"
    # Every file at every revision: what the format-1 code exported.
    want = manifest()
    assert exports(format1, tmp_path, ["a.h5", "d/b.h5"], range(1, 7)) == want
    # Messages, collected flags and tags.
    log = h5tx_json("log", format1)["commits"]
    assert [c["message"] for c in log] == MESSAGES
    assert [c["revision"] for c in log] == [6, 5, 4, 3, 2, 1]
    assert sorted(c["revision"] for c in log if c["collected"]) == COLLECTED
    assert {t["name"]: t["revision"] for t in h5tx_json("tags", format1)["tags"]} == TAGS
    h5tx("verify", format1)
    # The upgraded store takes commits.
    j = h5tx_json("import", write(tmp_path / "n", b"n" * 5000), "%s/n.h5" % format1)
    assert j["revision"] == 7
    assert h5tx("export", "%s/a.h5@last" % format1, "-").stdout == \
        h5tx("export", "%s/a.h5@6" % format1, "-").stdout


def test_upgrade_json_and_again(tmp_path, format1):
    j = h5tx_json("upgrade", format1)
    kept = glob.glob(str(tmp_path / "f1" / ".small.h5tx.format1-*"))
    assert len(kept) == 1
    assert j["store"] == str(format1) and j["upgraded"] is True and j["kept"] == kept[0]
    assert (j["head"], j["revisions"], j["collected"], j["files"], j["tags"]) == (6, 6, 3, 2, 2)
    assert any("kept as %s" % kept[0] in m for m in j["messages"]), j
    # Again: format 2 already, nothing changes, exit 0.
    before = tree(tmp_path / "f1", volatile=True)
    p = h5tx("upgrade", format1)
    assert p.out == "store %s has format 2 already: nothing to upgrade\n" % format1
    j = h5tx_json("upgrade", format1)
    assert (j["upgraded"], j["kept"], j["head"]) == (False, None, 6)
    assert j["messages"] == ["store %s has format 2 already: nothing to upgrade" % format1]
    assert tree(tmp_path / "f1", volatile=True) == before


def test_repair_of_an_upgraded_store(tmp_path, format1):
    """The upgrade's page log alone gives back every revision: collected
    ones stay collected, the rest read what the format-1 code exported."""
    h5tx("upgrade", format1)
    shutil.rmtree(format1 / "index")
    p = h5tx("repair", format1)
    assert p.out.splitlines()[-1].startswith(
        "repaired store %s: index rebuilt from the page log, head at revision 6: 6 revisions "
        "(3 collected), 2 files at head, 2 tags; everything" % format1), p.out
    assert exports(format1, tmp_path, ["a.h5", "d/b.h5"], range(1, 7)) == manifest()
    log = h5tx_json("log", format1)["commits"]
    assert [c["message"] for c in log] == MESSAGES
    assert sorted(c["revision"] for c in log if c["collected"]) == COLLECTED
    assert {t["name"]: t["revision"] for t in h5tx_json("tags", format1)["tags"]} == TAGS
    h5tx("verify", format1)


def test_upgrade_errors(tmp_path):
    p = h5tx("upgrade", tmp_path / "none.h5tx", code=1)
    assert "none.h5tx" in p.err and "not an h5tx store" in p.err
    os.mkdir(tmp_path / "plain.h5tx")
    e = json.loads(h5tx("upgrade", tmp_path / "plain.h5tx", "--json", code=1).err)["error"]
    assert e["code"] == "H5TX_EFORMAT" and "not an h5tx store" in e["message"]
    # A newer format is not downgraded, nor touched.
    os.mkdir(tmp_path / "new.h5tx")
    write(tmp_path / "new.h5tx" / "h5tx-store", b"h5tx store\nformat 3\n")
    for verb in ("upgrade", "repair"):
        e = json.loads(h5tx(verb, tmp_path / "new.h5tx", "--json", code=1).err)["error"]
        assert e["code"] == "H5TX_EFORMAT" and "has format 3" in e["message"], e
        assert "upgrade h5tx" in e["message"], e
    assert os.listdir(tmp_path / "new.h5tx") == ["h5tx-store"]
    assert "did you mean 'upgrade'?" in h5tx("upgrde", code=2).err
    assert "did you mean 'repair'?" in h5tx("repiar", code=2).err


# What an older h5tx reading the store holds: a pin in the live table
# (docs/FORMAT-1.md, "The live table", unchanged in format 2), held by an
# OFD lock on the slot's first byte. Prints "ready", holds until stdin closes.
OLD_READER = r"""
import fcntl, os, struct, sys, time
path, rev = sys.argv[1], int(sys.argv[2])
HDR, NR, RS, NL, LS = 64, 4096, 64, 1024, 1152
size = HDR + NR * RS + NL * LS
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
def lock(kind, byte, cmd):
    fcntl.fcntl(fd, cmd, struct.pack("hhqqi4x", kind, os.SEEK_SET, byte, 1, 0))
lock(fcntl.F_WRLCK, 32, fcntl.F_OFD_SETLKW)
os.posix_fallocate(fd, 0, size)
if os.pread(fd, 8, 0) != b"H5TXRDR2":
    os.pwrite(fd, struct.pack("<IIII", NR, RS, NL, LS), 8)
    os.pwrite(fd, b"H5TXRDR2", 0)
lock(fcntl.F_UNLCK, 32, fcntl.F_OFD_SETLK)
lock(fcntl.F_WRLCK, HDR, fcntl.F_OFD_SETLK)
os.pwrite(fd, struct.pack("=QQI", rev + 1, time.time_ns(), os.getpid()), HDR)
print("ready", flush=True)
sys.stdin.read()
"""


def test_upgrade_refused_while_an_older_h5tx_reads_it(tmp_path, format1):
    before = tree(format1)
    r = subprocess.Popen([sys.executable, "-c", OLD_READER, str(format1 / "readers"), "6"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert r.stdout.readline() == "ready\n"
        p = h5tx("upgrade", format1, code=1)
        assert ("cannot upgrade store %s while it is in use (process %d reads revision 6)"
                % (format1, r.pid)) in p.err, p.err
        e = json.loads(h5tx("upgrade", format1, "--json", code=1).err)["error"]
        assert e["code"] == "H5TX_EBUSY" and str(r.pid) in e["message"]
        assert glob.glob(str(tmp_path / "f1" / ".small.h5tx.*")) == []
        assert read(format1 / "h5tx-store").splitlines()[1] == b"format 1"
    finally:
        r.stdin.close()
        r.wait(timeout=30)
    # The reader is gone (its lock with it): the upgrade goes through.
    after = tree(format1)
    after.pop("readers", None)
    before.pop("readers", None)
    assert after == before
    h5tx("upgrade", format1)
    assert read(format1 / "h5tx-store").splitlines()[1] == b"format 2"


# ---- repair -----------------------------------------------------------------------


def make_history(tmp_path, store):
    """Several commits of several files, tags, a rename and a remove."""
    rnd = __import__("random").Random(7)
    noise = bytes(rnd.getrandbits(8) for _ in range(300000))
    h5tx("init", store, "--page-size", "4096")
    h5tx("import", write(tmp_path / "s", noise[:50000]), "%s/a.h5" % store, "-m", "a")   # 1
    h5tx("import", write(tmp_path / "s", b"b" * 70000), "%s/d/b.h5" % store)            # 2
    h5tx("import", write(tmp_path / "s", noise[:20000] + b"x" * 9000 + noise[29000:80000]),
         "%s/a.h5" % store, "-m", "a again, longer")                                     # 3
    h5tx("tag", store, "v1")
    h5tx("import", write(tmp_path / "s", noise[100000:133333]), "%s/c.h5" % store)      # 4
    h5tx("mv", "%s/a.h5" % store, "runs/a.h5", "-m", "move a")                           # 5
    h5tx("rm", "%s/d/b.h5" % store, "-m", "drop b")                                      # 6
    h5tx("import", write(tmp_path / "s", noise[:1000]), "%s/c.h5" % store, "-m", "cut c")  # 7
    h5tx("tag", store, "last")
    h5tx("tag", store, "moved", 5)


def snapshot(store, tmp_path):
    """Everything a reader sees: every file at every revision, log, tags."""
    head = h5tx_json("log", store, "-n", 1)["commits"][0]["revision"]
    files = {}
    for rev in range(1, head + 1):
        for f in h5tx_json("ls", "%s@%d" % (store, rev))["files"]:
            files[(f["name"], rev)] = h5tx("export", "%s/%s@%d" % (store, f["name"], rev),
                                           "-").stdout
    log = h5tx_json("log", store)["commits"]
    tags = h5tx_json("tags", store)["tags"]
    return head, files, log, tags


@pytest.fixture
def history(tmp_path):
    s = tmp_path / "lab.h5tx"
    make_history(tmp_path, s)
    before = snapshot(s, tmp_path)
    assert before[0] == 7 and len(before[1]) >= 12 and len(before[3]) == 3
    return s, before


def check_repaired(store, tmp_path, before, p):
    assert p.err == ""
    assert "not rebuilt" not in p.out
    assert p.out.splitlines()[-1] == (
        "repaired store %s: index rebuilt from the page log, head at revision 7: 7 revisions "
        "(0 collected), 2 files at head, 3 tags; everything the page log holds was rebuilt"
        % store), p.out
    after = snapshot(store, tmp_path)
    assert after[0] == before[0]
    assert sorted(after[1]) == sorted(before[1])
    for k in before[1]:
        assert after[1][k] == before[1][k], k
    assert after[2] == before[2]  # messages, times, hosts, pids, files changed
    assert after[3] == before[3]
    h5tx("verify", store)
    # It takes commits again.
    assert h5tx_json("import", write(tmp_path / "n", b"new"), "%s/n.h5" % store)["revision"] == 8


def test_repair_lost_index(tmp_path, history):
    store, before = history
    shutil.rmtree(store / "index")
    p = h5tx("repair", store)
    assert p.out.splitlines()[0] == "the store had no index; the built-in defaults are used"
    check_repaired(store, tmp_path, before, p)


def test_repair_truncated_index(tmp_path, history):
    store, before = history
    data = store / "index" / "data.mdb"
    os.truncate(data, os.path.getsize(data) // 2)
    p = h5tx("repair", store)
    aside = glob.glob(str(store / "index.damaged-*"))
    assert len(aside) == 1 and os.path.getsize(os.path.join(aside[0], "data.mdb")) > 0
    assert p.out.splitlines()[0] == "the old index is kept in %s" % aside[0]
    check_repaired(store, tmp_path, before, p)


@pytest.mark.parametrize("damage", ["no index", "truncated"])
def test_a_damaged_index_points_to_repair(tmp_path, history, damage):
    """Commands that cannot open a store for its index say what is wrong
    and that `h5tx repair` rebuilds it (not `h5tx init`)."""
    store, before = history
    if damage == "no index":
        shutil.rmtree(store / "index")
    else:
        os.truncate(store / "index" / "data.mdb", 20000)
    hint = "'h5tx repair %s' rebuilds the index from the page log" % store
    for args in (["log", store], ["import", tmp_path / "s", "%s/new.h5" % store]):
        p = h5tx(*args, code=1)
        assert hint in p.err and "h5tx init" not in p.err, p.err
    e = json.loads(h5tx("ls", store, "--json", code=1).err)["error"]
    assert hint in e["message"] and e["exit"] == 1, e
    h5tx("repair", store)
    assert snapshot(store, tmp_path) == before


def test_repair_again_within_the_same_second(tmp_path, history):
    """An index moved aside before, under the name this repair would use
    (index.damaged-TIME, TIME in seconds), stays; the new one goes beside it."""
    store, before = history
    now = int(time.time())
    for t in range(now, now + 5):
        os.mkdir(store / ("index.damaged-%d" % t))
        write(store / ("index.damaged-%d" % t) / "data.mdb", b"earlier")
    p = h5tx("repair", store)
    aside = p.out.splitlines()[0].split("the old index is kept in ")[1]
    assert os.path.getsize(os.path.join(aside, "data.mdb")) > len(b"earlier")
    for t in range(now, now + 5):
        assert read(store / ("index.damaged-%d" % t) / "data.mdb") == b"earlier"
    assert snapshot(store, tmp_path) == before


def test_repair_json(tmp_path, history):
    store, before = history
    shutil.rmtree(store / "index")
    j = h5tx_json("repair", store)
    assert j == {"store": str(store), "ok": True, "head": 7, "revisions": 7, "collected": 0,
                 "files": 2, "tags": 3,
                 "notes": ["the store had no index; the built-in defaults are used"],
                 "not_rebuilt": []}
    assert snapshot(store, tmp_path) == before


def test_repair_reports_what_the_log_lost(tmp_path, history):
    """The log's tail cut inside the last commit's records: history stops
    before it, the loss is named, exit status 1."""
    store, before = history
    sizes = {f: os.path.getsize(f) for f in glob.glob(str(store / "log" / "*"))}
    h5tx("import", write(tmp_path / "z", os.urandom(40000)), "%s/z.h5" % store)  # 8
    grown = [f for f in glob.glob(str(store / "log" / "*")) if os.path.getsize(f) > sizes.get(f, 0)]
    assert grown
    for f in grown:
        old = sizes.get(f, 0)
        os.truncate(f, old + (os.path.getsize(f) - old) // 2)
    shutil.rmtree(store / "index")
    p = h5tx("repair", store, code=1)
    lost = [line for line in p.out.splitlines() if line.startswith("not rebuilt: ")]
    assert lost, p.out
    assert "could not be rebuilt" in p.out.splitlines()[-1]
    assert "head at revision 7" in p.out.splitlines()[-1]
    assert "store %s was repaired up to revision 7, but" % store in p.err
    assert snapshot(store, tmp_path) == before


def test_repair_refused_while_in_use(tmp_path, history):
    store, before = history
    listing = sorted(os.listdir(store))
    with Holder("snap", store, 3) as reader:
        p = h5tx("repair", store, code=1)
        assert ("h5tx: cannot repair store %s while it is in use (process %d reads revision 3)"
                % (store, reader.pid)) in p.err, p.err
        e = json.loads(h5tx("repair", store, "--json", code=1).err)["error"]
        assert e["code"] == "H5TX_EBUSY" and "process %d" % reader.pid in e["message"]
        assert sorted(os.listdir(store)) == listing  # the index was not moved aside
    with Holder("writer", store, "runs/a.h5") as writer:
        p = h5tx("repair", store, code=1)
        assert "process %d on" % writer.pid in p.err and "writes runs/a.h5" in p.err, p.err
    assert sorted(os.listdir(store)) == listing
    # Open with nothing read: its index is still the one repair would move
    # aside, and its next commit would go there.
    with Holder("open", store):
        p = h5tx("repair", store, code=1)
        assert ("h5tx: cannot repair store %s while it is in use (a process has it open)"
                % store) in p.err, p.err
        assert sorted(os.listdir(store)) == listing
    p = h5tx("repair", store)
    assert p.out.startswith("the old index is kept in %s/index.damaged-" % store)
    assert snapshot(store, tmp_path) == before


# ---- the C API in this process (ctypes) ---------------------------------------------


class Err(ctypes.Structure):  # h5tx_error
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


SAY = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


def api():
    lib = ctypes.CDLL(LIB)
    vp = ctypes.c_void_p
    lib.h5tx_store_open.argtypes = [ctypes.c_char_p, vp, ctypes.POINTER(vp), ctypes.POINTER(Err)]
    lib.h5tx_snap_open.argtypes = [vp, ctypes.c_uint64, ctypes.POINTER(vp), ctypes.POINTER(Err)]
    lib.h5tx_snap_close.argtypes = lib.h5tx_store_close.argtypes = [vp]
    lib.h5tx_store_repair.argtypes = [ctypes.c_char_p, SAY, vp, ctypes.POINTER(ctypes.c_uint64),
                                      ctypes.POINTER(Err)]
    lib.h5tx_store_upgrade.argtypes = [ctypes.c_char_p, SAY, vp, ctypes.POINTER(Err)]
    return lib


def test_api_refuses_while_this_process_reads(tmp_path, history):
    """The process that calls has a snapshot open itself: refused too, and
    a NULL say or head is allowed."""
    store, before = history
    lib, err, lines = api(), Err(), []
    say = SAY(lambda arg, line: lines.append(line.decode()))
    s, snap, head = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint64(99)
    assert lib.h5tx_store_open(str(store).encode(), None, ctypes.byref(s), ctypes.byref(err)) == 0
    assert lib.h5tx_snap_open(s, 4, ctypes.byref(snap), ctypes.byref(err)) == 0
    rc = lib.h5tx_store_repair(str(store).encode(), say, None, ctypes.byref(head),
                               ctypes.byref(err))
    assert (rc, err.code) == (-4, -4)  # H5TX_EBUSY
    assert ("process %d reads revision 4" % os.getpid()) in err.msg.decode(), err.msg
    assert lines == [] and head.value == 0
    lib.h5tx_snap_close(snap)
    lib.h5tx_store_close(s)
    assert lib.h5tx_store_repair(str(store).encode(), SAY(), None, None, ctypes.byref(err)) == 0
    # Opened again in this process: the rebuilt index, not the one moved aside.
    lib.h5tx_store_head.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64),
                                    ctypes.POINTER(Err)]
    assert lib.h5tx_store_open(str(store).encode(), None, ctypes.byref(s), ctypes.byref(err)) == 0
    assert lib.h5tx_store_head(s, ctypes.byref(head), ctypes.byref(err)) == 0 and head.value == 7
    lib.h5tx_store_close(s)
    assert len(glob.glob(str(store / "index.damaged-*"))) == 1
    # Upgrade of a format-2 store: said, nothing done, 0.
    assert lib.h5tx_store_upgrade(str(store).encode(), say, None, ctypes.byref(err)) == 0
    assert lines == ["store %s has format 2 already: nothing to upgrade" % store]
    assert snapshot(store, tmp_path) == before
