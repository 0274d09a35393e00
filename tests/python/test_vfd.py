"""The h5tx HDF5 driver seen from h5py (Debian's /usr/bin/python3, HDF5 1.10).

Run: H5TX_VFD_LIB=build/vfd/libh5tx_vfd.so PYTHONPATH=python \
     /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python
Randomized tests print their seed; H5TX_TEST_SEED=N repeats a run.
"""
import copy
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

import h5tx

PY = "/usr/bin/python3"  # Debian's Python, whose h5py uses the system HDF5
H5DUMP = "/usr/bin/h5dump"


# ---- helpers ---------------------------------------------------------------------

def rng_for(test):
    seed = int(os.environ.get("H5TX_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print("%s: seed %d (repeat with H5TX_TEST_SEED=%d)" % (test, seed, seed))
    return random.Random(seed), seed


def child_env():
    env = dict(os.environ)
    here = os.path.dirname(os.path.abspath(h5tx.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    env["H5TX_VFD_LIB"] = os.path.abspath(h5tx.library_path())
    return env


def run_py(code, *args, cwd, env=None):
    """Run `code` in a new /usr/bin/python3; its CompletedProcess."""
    return subprocess.run([PY, "-c", code, *map(str, args)], cwd=cwd,
                          env=dict(child_env(), **(env or {})), capture_output=True, text=True,
                          timeout=60)


class Child:
    """A /usr/bin/python3 process answering one JSON line per line it is sent."""

    def __init__(self, code, *args, cwd):
        self.p = subprocess.Popen([PY, "-c", code, *map(str, args)], cwd=cwd, env=child_env(),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def reply(self):
        line = self.p.stdout.readline()
        if not line:
            self.p.wait(timeout=30)
            raise AssertionError("child died (exit %s): %s" % (self.p.returncode,
                                                               self.p.stderr.read()))
        return json.loads(line)

    def ask(self, command):
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()
        return self.reply()

    def finish(self):
        self.p.stdin.close()
        err = self.p.stderr.read()
        assert self.p.wait(timeout=30) == 0, err
        assert err == "", err


def as_python(value):
    """An attribute or data value as plain Python (str for strings)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    if isinstance(value, list):
        return [as_python(v) for v in value]
    return value


class Model:
    """A writer that applies every change to an h5py file and to an in-memory
    record of what the file must contain."""

    def __init__(self, f):
        self.f = f
        self.objs = {"/": {"kind": "group", "attrs": {}}}

    def group(self, path):
        self.f.create_group(path)
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.objs.setdefault("/" + "/".join(parts[:i]), {"kind": "group", "attrs": {}})

    def dataset(self, path, data, **kw):
        self.f.create_dataset(path, data=data, **kw)
        self.objs[path] = {"kind": "dataset", "attrs": {}, "data": np.array(data, copy=True),
                           "chunks": kw.get("chunks"), "compression": kw.get("compression"),
                           "maxshape": kw.get("maxshape", data.shape),
                           "str": data.dtype == object}

    def write(self, path, index, values):
        self.f[path][index] = values
        self.objs[path]["data"][index] = values

    def resize(self, path, n, fill):
        self.f[path].resize((n,) + self.f[path].shape[1:])
        old = self.objs[path]["data"]
        new = np.empty((n,) + old.shape[1:], dtype=old.dtype)
        new[:min(n, len(old))] = old[:n]
        new[len(old):] = fill
        self.objs[path]["data"] = new
        self.f[path][len(old):] = fill

    def delete(self, path):
        del self.f[path]
        for p in [p for p in self.objs if p == path or p.startswith(path + "/")]:
            del self.objs[p]

    def attr(self, path, key, value):
        self.f[path].attrs[key] = value
        self.objs[path]["attrs"][key] = as_python(value)

    def del_attr(self, path, key):
        del self.f[path].attrs[key]
        del self.objs[path]["attrs"][key]

    def record(self):
        return copy.deepcopy(self.objs)


def assert_content(f, expected, where):
    seen = {"/": f}
    f.visititems(lambda name, obj: seen.__setitem__("/" + name, obj))
    assert sorted(seen) == sorted(expected), where
    for path, exp in expected.items():
        obj = seen[path]
        attrs = {k: as_python(v) for k, v in obj.attrs.items()}
        assert attrs == exp["attrs"], (where, path)
        if exp["kind"] == "group":
            assert isinstance(obj, h5py.Group), (where, path)
            continue
        assert isinstance(obj, h5py.Dataset), (where, path)
        assert obj.shape == exp["data"].shape, (where, path)
        assert (obj.chunks, obj.compression, obj.maxshape) == (
            exp["chunks"], exp["compression"], exp["maxshape"]), (where, path)
        if exp["str"]:
            assert h5py.check_string_dtype(obj.dtype) is not None, (where, path)
            assert obj.asstr()[()].tolist() == exp["data"].tolist(), (where, path)
        else:
            assert obj.dtype == exp["data"].dtype, (where, path)
            assert np.array_equal(obj[()], exp["data"]), (where, path)


def plain_copy(name, dest):
    """Write the bytes of `name` (read by the store, not HDF5) to plain file
    `dest`: a file in a store is an ordinary HDF5 file."""
    with open(dest, "wb") as out:
        out.write(h5tx.read_bytes(name))
    return dest


# ---- round trip --------------------------------------------------------------------

WORDS = ["alpha", "béta", "γάμμα", "delta", "", "a much longer string " * 4, "z"]


def words(rng, n):
    return np.array([rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(n)],
                    dtype=object)


def test_round_trip_every_revision(tmp_path):
    rng, _ = rng_for("round trip")
    nprng = np.random.default_rng(rng.randrange(2**32))
    store = tmp_path / "lab.h5tx"
    name = "%s/runs/f.h5" % store
    expected = {}  # revision -> record
    strs = h5py.string_dtype()
    with h5tx.File(name, "w") as f:
        assert h5tx.head(store) == 0  # creating is not committing
        m = Model(f)

        def commit(rev):
            assert_content(f, m.objs, "writer before revision %d" % rev)
            f.flush()
            assert h5tx.head(store) == rev
            expected[rev] = m.record()
            # The new revision reads back while its writer stays open.
            with h5tx.File("%s@%d" % (name, rev)) as r:
                assert_content(r, expected[rev], "revision %d, writer open" % rev)

        m.attr("/", "title", "h5tx round trip")
        m.attr("/", "version", 1)
        m.group("/g")
        m.attr("/g", "units", "m/s")
        m.dataset("/g/contig", nprng.standard_normal((50, 7)))
        m.dataset("/g/chunked", nprng.integers(-2**31, 2**31, 1000, dtype=np.int32),
                  chunks=(64,), maxshape=(None,))
        m.dataset("/gz", np.repeat(nprng.random((20, 1), dtype=np.float32), 30, axis=1),
                  chunks=(5, 30), compression="gzip", compression_opts=4, shuffle=True)
        m.dataset("/names", words(rng, 20), dtype=strs, chunks=(8,), maxshape=(None,))
        m.attr("/names", "note", "variable-length strings")
        commit(1)

        m.write("/g/contig", np.s_[10:20], nprng.standard_normal((10, 7)))
        m.resize("/g/chunked", 1500, 7)
        m.attr("/", "version", 2)
        m.attr("/", "title", "changed")
        m.group("/h/sub/deeper")
        m.attr("/h/sub", "level", np.int16(2))
        commit(2)

        m.delete("/gz")
        m.dataset("/gz2", nprng.integers(0, 4, 200_000), chunks=(10_000,),
                  compression="gzip")
        m.resize("/names", 30, "appended")
        m.del_attr("/g", "units")
        m.attr("/g", "vector", np.arange(5, dtype=np.float64) / 3)
        commit(3)

        m.write("/g/chunked", np.s_[:], np.arange(1500, dtype=np.int32))
        m.dataset("/big", nprng.standard_normal(300_000))  # 2.4 MB, many pages
        commit(4)

        m.resize("/g/chunked", 100, 0)
        m.delete("/h")
        m.attr("/", "words", np.array(words(rng, 3), dtype=strs))
        commit(5)

        for rev in range(6, 12):  # random small changes
            what = rng.randrange(4)
            if what == 0:
                i = rng.randrange(300_000 - 100)
                m.write("/big", np.s_[i:i + 100], nprng.standard_normal(100))
            elif what == 1:
                i = rng.randrange(30)
                m.write("/names", i, words(rng, 1)[0])
            elif what == 2:
                m.resize("/g/chunked", rng.randrange(1, 3000), rng.randrange(100))
            else:
                m.dataset("/extra%d" % rev, words(rng, rng.randrange(1, 10)), dtype=strs)
            m.attr("/", "version", rev)
            commit(rev)
    assert h5tx.head(store) == 11  # close after flush: nothing left to commit

    with h5tx.File(name) as f:
        assert f.mode == "r"
        assert_content(f, expected[11], "head")
    for rev, record in expected.items():
        with h5tx.File("%s@%d" % (name, rev)) as f:
            assert_content(f, record, "revision %d" % rev)
        # The store's own bytes are an ordinary HDF5 file of that revision.
        copy = plain_copy("%s@%d" % (name, rev), tmp_path / "copy.h5")
        with h5py.File(copy, "r") as f:
            assert_content(f, record, "plain copy of revision %d" % rev)


def test_tags_and_commit_on_close(tmp_path):
    store = tmp_path / "s.h5tx"
    name = "%s/f.h5" % store
    with h5tx.File(name, "w", config="commit=close") as f:
        f["x"] = np.arange(3)
        f.flush()
        f["y"] = 1.5
        f.flush()
        assert h5tx.head(store) == 0  # commit=close: flushes commit nothing
    assert h5tx.head(store) == 1
    h5tx.tag(store, "first")
    with h5tx.File(name, "a", config={"commit": "flush", "codec": "none"}) as f:
        f["x"][0] = 10
        f.flush()
    assert h5tx.head(store) == 2
    with h5tx.File(name + "@first") as f:
        assert f["x"][()].tolist() == [0, 1, 2] and f["y"][()] == 1.5
    with h5tx.File(name) as f:
        assert f["x"][()].tolist() == [10, 1, 2]
    # The config's rev key opens a revision of a name without '@'.
    with h5tx.File(name, config="rev=1") as f:
        assert f["x"][0] == 0


def test_small_cache_spills_with_config(tmp_path):
    store = tmp_path / "s.h5tx"
    name = "%s/f.h5" % store
    x = np.random.default_rng(7).standard_normal(700_000)  # 5.6 MB > cache
    config = "cache=64K; page_size=4K; codec=zstd:1; durability=nosync"
    with h5tx.File(name, "w", config=config) as f:
        f["x"] = x
        f.flush()
        f["x"][::1000] = 0
    y = x.copy()
    y[::1000] = 0
    assert h5tx.head(store) == 2
    with h5tx.File(name + "@1") as f:
        assert np.array_equal(f["x"][()], x)
    with h5tx.File(name) as f:
        assert np.array_equal(f["x"][()], y)


def test_same_process_opens_a_written_file_twice(tmp_path):
    name = "%s/f.h5" % (tmp_path / "s.h5tx")
    with h5tx.File(name, "w") as f:
        f["x"] = 1
        with h5tx.File(name, "r+") as g:
            assert g.id == f.id  # HDF5 shares the one open file
            g["y"] = 2
    with h5tx.File(name) as f:
        assert sorted(f) == ["x", "y"]


def test_modes(tmp_path):
    store = tmp_path / "s.h5tx"
    name = "%s/f.h5" % store
    with pytest.raises(OSError, match=re.escape("store %s does not exist" % store)):
        h5tx.File(name, "r")
    with h5tx.File(name, "a") as f:  # 'a' creates store and file
        assert f.mode == "r+"
        f["x"] = [1, 2]
    with h5tx.File(name, "a") as f:  # and then opens them read-write
        assert f["x"][()].tolist() == [1, 2]
        f["z"] = 3
    for mode in ("w-", "x"):
        with pytest.raises(OSError, match="file 'f.h5' exists"):
            h5tx.File(name, mode)
    with h5tx.File(name, "r+") as f:
        assert sorted(f) == ["x", "z"]
    with h5tx.File(name, "w") as f:  # truncates head; older revisions keep it
        f["y"] = 0
    head = h5tx.head(store)
    with h5tx.File(name) as f:
        assert sorted(f) == ["y"]
    with h5tx.File("%s@%d" % (name, head - 1)) as f:
        assert sorted(f) == ["x", "z"]
    with h5tx.File("%s/g.h5" % store, "x") as f:
        f["a"] = 1
    with pytest.raises(OSError, match="no file 'none.h5' at revision %d" % h5tx.head(store)):
        h5tx.File("%s/none.h5" % store, "r+")
    with pytest.raises(ValueError, match="invalid mode"):
        h5tx.File(name, "rw")


def test_plain_files_and_store_key(tmp_path, monkeypatch):
    plain = tmp_path / "plain.h5"
    with h5tx.File(plain, "w") as f:  # outside a store: an ordinary file
        f["x"] = np.arange(4)
    with h5py.File(plain, "r") as f:
        assert f["x"][()].tolist() == [0, 1, 2, 3]
    store = tmp_path / "s.h5tx"
    with h5tx.File("%s/first.h5" % store, "w") as f:
        f["a"] = 1
    # store=DIR.h5tx: relative names are files in that store.
    monkeypatch.chdir(tmp_path)
    with h5tx.File("inner/f.h5", "w", config="store=%s" % store) as f:
        f["b"] = 2
    assert not os.path.exists(tmp_path / "inner")
    with h5tx.File("%s/inner/f.h5" % store) as f:
        assert f["b"][()] == 2


# ---- several processes ---------------------------------------------------------------

READ_DATA = r"""
import json, sys, h5tx
f = h5tx.File(sys.argv[1], "r")
print(json.dumps({k: f[k][()].tolist() for k in sorted(f)}))
f.close()
"""


def test_libver_latest_revision_opens_while_writer_open(tmp_path):
    store = tmp_path / "s.h5tx"
    name = "%s/latest.h5" % store
    with h5tx.File(name, "w", libver="latest") as f:
        bounds = f.id.get_access_plist().get_libver_bounds()
        assert bounds == (h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
        d = f.create_dataset("d", data=np.arange(10), chunks=(4,), maxshape=(None,))
        f.flush()
        for target, want in ((name, list(range(10))), (name + "@1", list(range(10)))):
            r = run_py(READ_DATA, target, cwd=tmp_path)
            assert (r.returncode, r.stderr) == (0, ""), (target, r.stderr)
            assert json.loads(r.stdout) == {"d": want}
        d.resize((12,))
        d[10:] = [-1, -2]
        f.flush()
        r = run_py(READ_DATA, name, cwd=tmp_path)
        assert (r.returncode, r.stderr) == (0, "")
        assert json.loads(r.stdout) == {"d": list(range(10)) + [-1, -2]}
        # The store's bytes of the revision are a clean HDF5 file (superblock
        # v3 without "open for writing" flags) for HDF5 without the driver.
        copy = plain_copy(name + "@1", tmp_path / "copy.h5")
        with h5py.File(copy, "r") as c:
            assert c["d"][()].tolist() == list(range(10))
        dump = subprocess.run([H5DUMP, "-d", "/d", str(copy)], capture_output=True, text=True)
        assert dump.returncode == 0, dump.stderr
        assert "( 10 ) / ( H5S_UNLIMITED )" in dump.stdout
    assert h5tx.head(store) == 2


READER = r"""
import hashlib, json, sys, h5tx
f = h5tx.File(sys.argv[1], "r", rdcc_nbytes=0)  # no chunk cache: every read is I/O
def state():
    out = {"keys": sorted(f), "attrs": {k: int(v) for k, v in f.attrs.items()}}
    for k in ("big", "chunked"):
        out[k] = [f[k].shape, hashlib.sha256(f[k][()].tobytes()).hexdigest()]
    return out
print(json.dumps(state()), flush=True)
for line in sys.stdin:
    print(json.dumps(state()), flush=True)
f.close()
"""


def state_of(big, chunked, keys, version):
    return {"keys": sorted(keys), "attrs": {"version": version},
            "big": [list(big.shape), hashlib.sha256(big.tobytes()).hexdigest()],
            "chunked": [list(chunked.shape), hashlib.sha256(chunked.tobytes()).hexdigest()]}


def test_snapshot_isolation_across_processes(tmp_path):
    rng, _ = rng_for("snapshot isolation")
    nprng = np.random.default_rng(rng.randrange(2**32))
    store = tmp_path / "s.h5tx"
    name = "%s/f.h5" % store
    big = nprng.standard_normal(400_000)  # 3.2 MB contiguous, rewritten in place
    chunked = nprng.integers(0, 1000, 50_000)
    with h5tx.File(name, "w") as f:
        f["big"] = big
        f.create_dataset("chunked", data=chunked, chunks=(1000,), maxshape=(None,))
        f.attrs["version"] = 1
        f.flush()
        rev = h5tx.head(store)
        want = state_of(big, chunked, ["big", "chunked"], 1)
        reader = Child(READER, name, cwd=tmp_path)  # opens head: revision `rev`
        try:
            assert reader.reply() == want
            for i in range(2, 7):
                f["big"][...] = nprng.standard_normal(big.shape)
                f["chunked"].resize((50_000 + 1000 * i,))
                f["chunked"][...] = nprng.integers(0, 1000, 50_000 + 1000 * i)
                f["new%d" % i] = np.arange(i)
                f.attrs["version"] = i
                f.flush()
                assert h5tx.head(store) == rev + i - 1
                assert reader.ask("read") == want, "reader after commit %d" % i
            now = f["big"][()], f["chunked"][()]
        finally:
            reader.finish()
    # A reader that opens now sees the newest revision.
    fresh = Child(READER, name, cwd=tmp_path)
    assert fresh.reply() == state_of(*now, ["big", "chunked"] + ["new%d" % i for i in
                                                                 range(2, 7)], 6)
    fresh.finish()


TRY_WRITE = r"""
import json, sys, h5tx
out = {}
with h5tx.File(sys.argv[1], "r") as f:
    out["r"] = f["x"][()].tolist()
for mode in ("r+", "a", "w"):
    try:
        h5tx.File(sys.argv[1], mode).close()
        out[mode] = "opened"
    except OSError as e:
        out[mode] = str(e)
print(json.dumps(out))
"""


def test_second_writer_refused_naming_holder(tmp_path):
    name = "%s/f.h5" % (tmp_path / "s.h5tx")
    with h5tx.File(name, "w") as f:
        f["x"] = [1, 2, 3]
        f.flush()
        f["x"][0] = 100  # not committed: nobody else sees it
        r = run_py(TRY_WRITE, name, cwd=tmp_path)
        assert (r.returncode, r.stderr) == (0, "")
        out = json.loads(r.stdout)
        for mode in ("r+", "a", "w"):
            assert "is being written by pid %d" % os.getpid() in out[mode], (mode, out[mode])
        assert out["r"] == [1, 2, 3]
    r = run_py(TRY_WRITE, name, cwd=tmp_path)  # the lease is free again
    assert (r.returncode, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {"r": [100, 2, 3], "r+": "opened", "a": "opened",
                                    "w": "opened"}


APPENDER = r"""
import sys, h5tx
with h5tx.File(sys.argv[1], "w") as f:
    d = f.create_dataset("d", shape=(0,), dtype="i8", chunks=(64,), maxshape=(None,))
    for i in range(int(sys.argv[2])):
        d.resize((i + 1,))
        d[i] = i
        f.flush()
"""


def test_writers_of_different_files_in_one_store(tmp_path):
    store = tmp_path / "s.h5tx"
    flushes = 25
    procs = [subprocess.Popen([PY, "-c", APPENDER, "%s/w%d.h5" % (store, i), str(flushes)],
                              cwd=tmp_path, env=child_env(), stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read()
        p.stderr.close()
    # Independent files never conflict: every flush of each made a revision.
    assert h5tx.head(store) == 3 * flushes
    for i in range(3):
        with h5tx.File("%s/w%d.h5" % (store, i)) as f:
            assert f["d"][()].tolist() == list(range(flushes))


# ---- crash -------------------------------------------------------------------------------

CRASH_WRITER = r"""
import os, sys, numpy as np, h5tx
def say(line):  # one write(2) per line: a kill never leaves half a line
    os.write(1, (line + "\n").encode())
f = h5tx.File(sys.argv[1], "r+")
d, z = f["d"], f["z"]
n = d.shape[0]
say("ready %d" % n)
while True:
    m = n + 1 + (n * 7919) % 1500
    vals = (np.arange(n, m, dtype=np.int64) * 2654435761) % 2**31
    d.resize((m,)); d[n:] = vals
    z.resize((m,)); z[n:] = vals
    d.attrs["n"] = m
    f["meta"][0] = m
    say("about to flush %d" % m)
    f.flush()
    say("flushed %d" % m)
    n = m
"""


def expected_values(n):
    return (np.arange(n, dtype=np.int64) * 2654435761) % 2**31


def check_crashed_file(name, n_allowed, tmp_path, where):
    with h5tx.File(name, "r") as f:
        n = f["d"].shape[0]
        assert n in n_allowed, where
        assert f["d"].attrs["n"] == n and f["meta"][0] == n, where
        assert np.array_equal(f["d"][()], expected_values(n)), where
        assert np.array_equal(f["z"][()], expected_values(n)), where
    # Without the driver: the store's bytes for head, as an HDF5 file.
    copy = plain_copy(name, tmp_path / "crash-copy.h5")
    with h5py.File(copy, "r") as f:
        assert np.array_equal(f["z"][()], expected_values(n)), where
    dump = subprocess.run([H5DUMP, "-H", str(copy)], capture_output=True, text=True)
    assert dump.returncode == 0, (where, dump.stderr)
    assert "( %d ) / ( H5S_UNLIMITED )" % n in dump.stdout, where
    return n


def test_sigkill_during_flushes(tmp_path):
    rng, seed = rng_for("crash")
    store = tmp_path / "s.h5tx"
    name = "%s/crash.h5" % store
    with h5tx.File(name, "w") as f:
        f.create_dataset("d", shape=(0,), dtype=np.int64, chunks=(4096,), maxshape=(None,))
        f.create_dataset("z", shape=(0,), dtype=np.int64, chunks=(4096,), maxshape=(None,),
                         compression="gzip")
        f.create_dataset("meta", data=[0])
        f["d"].attrs["n"] = 0
    n, rounds, kills_mid_flush, t0 = 0, 0, 0, time.monotonic()
    while rounds < 40 and time.monotonic() - t0 < 40:
        rounds += 1
        where = "round %d (seed %d)" % (rounds, seed)
        head_before = h5tx.head(store)
        p = subprocess.Popen([PY, "-c", CRASH_WRITER, name], cwd=tmp_path, env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = p.stdout.readline().split()
            assert ready == ["ready", str(n)], (where, ready, p.stderr.read() if not ready
                                                else "")
            time.sleep(rng.uniform(0, 0.25))  # picks the moment; not synchronisation
        finally:
            p.kill()
        # Not communicate(): it would miss what readline() has buffered.
        lines, err = p.stdout.read(), p.stderr.read()
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGKILL and err == "", (where, err)
        flushed, in_flight = n, None
        for line in lines.splitlines():
            word = line.split()
            if len(word) == 4 and word[:3] == ["about", "to", "flush"]:
                in_flight = int(word[3])
            elif len(word) == 2 and word[0] == "flushed":
                assert int(word[1]) == in_flight, (where, line)
                flushed, in_flight = in_flight, None
            else:
                raise AssertionError("%s: unexpected line %r in %r" % (where, line, lines))
        allowed = {flushed} | ({in_flight} if in_flight is not None else set())
        n = check_crashed_file(name, allowed, tmp_path, where)
        kills_mid_flush += n == in_flight
        # One revision per completed flush, none for the killed writer.
        commits = sum(1 for line in lines.splitlines() if line.startswith("flushed"))
        assert h5tx.head(store) - head_before == commits + (n == in_flight), where
    print("crash: %d rounds, final length %d, %d killed after the commit, before 'flushed'"
          % (rounds, n, kills_mid_flush))
    assert rounds >= 20 and n > 0
    # The last killed writer's lease is taken over; the file goes on.
    with h5tx.File(name, "r+") as f:
        f["meta"][0] = -1
    with h5tx.File(name) as f:
        assert f["meta"][0] == -1 and f["d"].shape == (n,)


# ---- bad input ------------------------------------------------------------------------

def test_bad_input(tmp_path):
    store = tmp_path / "s.h5tx"
    name = "%s/f.h5" % store
    with pytest.raises(ValueError, match=r"unknown config key 'colour' \(known: rev, page_size, "
                       r".*, store, commit, plain\)"):
        h5tx.File(name, "w", config="colour=red")
    with pytest.raises(ValueError, match="config key 'page_size': bad value '1000': expected "
                                         "a power of two"):
        h5tx.File(name, "w", config="page_size=1000")
    with pytest.raises(ValueError, match="config key 'commit': bad value 'sometimes'"):
        h5tx.File(name, "w", config={"commit": "sometimes"})
    with pytest.raises(ValueError, match="config key 'codec' given twice"):
        h5tx.File(name, "w", config="codec=none; codec=zstd")
    assert not store.exists()  # nothing was created by a refused config

    with h5tx.File(name, "w") as f:
        f["x"] = 1
    for mode in ("r+", "a", "w"):
        with pytest.raises(OSError, match=re.escape(
                "revision '1' of 'f.h5' in store %s is read-only" % store)):
            h5tx.File(name + "@1", mode)
    with pytest.raises(OSError, match=re.escape("store %s: no revision 7 (head is 1)" % store)):
        h5tx.File(name + "@7")
    with pytest.raises(OSError, match=re.escape("store %s: no tag 'release'" % store)):
        h5tx.File(name + "@release")
    with pytest.raises(OSError, match=r"revision '2' but the config says rev=1"):
        h5tx.File(name + "@2", config="rev=1")
    with pytest.raises(OSError, match=re.escape(
            "'%s' is outside any store (the config says plain=no)" % (tmp_path / "plain.h5"))):
        h5tx.File(tmp_path / "plain.h5", "w", config="plain=no")
    assert not (tmp_path / "plain.h5").exists()
    with pytest.raises(OSError, match="names a store, not a file in it"):
        h5tx.File(store, "r")
    with pytest.raises(OSError, match=re.escape(
            "parent directory %s does not exist" % (tmp_path / "nodir"))):
        h5tx.File("%s/nodir/t.h5tx/f.h5" % tmp_path, "w")
    with pytest.raises(ValueError, match="unknown libver"):
        h5tx.File(name, libver="newest")
    with pytest.raises(h5tx.Error, match="no file 'g.h5' at revision 1") as e:
        h5tx.read_bytes("%s/g.h5" % store)
    assert e.value.codename == "H5TX_ENOENT"


def test_missing_driver_library_is_named(tmp_path):
    r = run_py("import h5tx; h5tx.File('s.h5tx/f.h5', 'w')", cwd=tmp_path,
               env={"H5TX_VFD_LIB": str(tmp_path / "nowhere" / "libh5tx_vfd.so")})
    assert r.returncode == 1
    assert "cannot load the driver library libh5tx_vfd.so; tried: %s (missing)" % (
        tmp_path / "nowhere" / "libh5tx_vfd.so") in r.stderr
    assert not (tmp_path / "s.h5tx").exists()
