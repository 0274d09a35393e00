"""init, import, export, ls and diff: byte-identical round trips of real
HDF5 files, refused and interrupted imports that commit nothing, exports
that never leave half a file."""
import filecmp
import os
import signal
import stat
import subprocess

import h5py
import numpy as np
import pytest

from conftest import CLI, Holder, flip, h5tx, h5tx_json, read, write

TESTFILES = "/root/.cache/h5tx/hdf5-1.14.5/share/hdf5-testfiles"


def head(store):
    return h5tx_json("stats", store)["head"]


# ---- init --------------------------------------------------------------------

def test_init(tmp_path):
    s = tmp_path / "lab.h5tx"
    p = h5tx("init", s)
    assert p.out == "created store %s: page size 64 KiB, codec lz4, durability sync\n" % s
    assert (s / "h5tx-store").read_text().startswith("h5tx store\n")
    p = h5tx("init", s, code=1)
    assert p.err == "h5tx: store %s already exists\n" % s
    (tmp_path / "other.h5tx").mkdir()
    p = h5tx("init", tmp_path / "other.h5tx", code=1)
    assert "already exists (and is not an h5tx store)" in p.err
    p = h5tx("init", tmp_path / "missing" / "x.h5tx", code=1)
    assert "parent directory" in p.err and "does not exist" in p.err


def test_init_options(tmp_path):
    s = tmp_path / "raw.h5tx"
    p = h5tx("init", s, "--page-size", "4K", "--codec", "none", "--durability=nosync")
    assert "page size 4 KiB, codec none, durability nosync" in p.out
    write(tmp_path / "z", b"\1" * 40000)
    h5tx("import", tmp_path / "z", "%s/z" % s)
    f, = h5tx_json("ls", s)["files"]
    assert f["page_size"] == 4096 and f["pages"] == 10 and f["raw_pages"] == 10


# ---- import and export -------------------------------------------------------

def roundtrip(tmp_path, store, files):
    """Import every file, export each at head and compare byte for byte."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    names = []
    for i, src in enumerate(files):
        name = "files/%03d-%s" % (i, os.path.basename(src))
        p = h5tx("import", src, "%s/%s" % (store, name))
        assert "imported %s as %s/%s" % (src, store, name) in p.out
        names.append(name)
    for src, name in zip(files, names):
        dst = out / os.path.basename(name)
        h5tx("export", "%s/%s" % (store, name), dst)
        assert filecmp.cmp(src, dst, shallow=False), name
    return names


def test_hdf5_testfiles_roundtrip(tmp_path, store):
    if not os.path.isdir(TESTFILES):
        pytest.skip("%s is missing (HDF5 1.14.5's test files: cmake/build-hdf5-1.14.sh)"
                    % TESTFILES)
    files = sorted(os.path.join(TESTFILES, f) for f in os.listdir(TESTFILES))
    assert len(files) > 50
    names = roundtrip(tmp_path, store, files)
    listing = h5tx_json("ls", "%s/files" % store)
    assert [f["name"] for f in listing["files"]] == names
    for f, src in zip(listing["files"], files):
        assert f["size"] == os.path.getsize(src)
    assert h5tx_json("verify", store)["ok"]


def make_h5py_files(d):
    rng = np.random.default_rng(7)
    paths = []
    p = str(d / "chunked_gzip.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(300000, dtype="f8"), chunks=(10000,),
                         compression="gzip", shuffle=True)
        f["x"].attrs["units"] = "m/s"
    paths.append(p)
    p = str(d / "contiguous_random.h5")
    with h5py.File(p, "w") as f:
        f["noise"] = rng.standard_normal((512, 1024))  # 4 MiB, incompressible
        f["zeros"] = np.zeros((256, 1024))
    paths.append(p)
    p = str(d / "groups.h5")
    with h5py.File(p, "w", libver="latest") as f:
        for i in range(50):
            g = f.create_group("g%02d/sub" % i)
            g.attrs["i"] = i
            g["v"] = np.full(10, i)
        f["s"] = "ünïcödé string"
    paths.append(p)
    p = str(d / "empty.h5")
    h5py.File(p, "w").close()
    paths.append(p)
    p = str(d / "userblock.h5")
    with h5py.File(p, "w", userblock_size=4096) as f:
        f["x"] = [1, 2, 3]
    paths.append(p)
    return paths


def test_h5py_files_roundtrip(tmp_path, store):
    files = make_h5py_files(tmp_path)
    names = roundtrip(tmp_path, store, files)
    with h5py.File(tmp_path / "out" / os.path.basename(names[0]), "r") as f:
        assert f["x"][12345] == 12345.0 and f["x"].attrs["units"] == "m/s"


def test_plain_files_and_revisions(tmp_path, store):
    a = write(tmp_path / "a", os.urandom(200000))
    b = write(tmp_path / "b", b"short")
    e = write(tmp_path / "e", b"")
    h5tx("import", a, "%s/f" % store)                        # 1
    h5tx("tag", store, "first")
    h5tx("import", b, "%s/f" % store, "-m", "shrink")       # 2: truncates
    h5tx("import", e, "%s/empty" % store)                    # 3: an empty file is a commit
    p = h5tx("import", b, "%s/f" % store)                    # same bytes: no revision
    assert "nothing to commit (revision 3)" in p.out
    assert head(store) == 3
    for spec, want in (("1", a), ("first", a), ("2", b), ("head", b), ("", b)):
        out = tmp_path / ("o-" + (spec or "none"))
        h5tx("export", "%s/f%s" % (store, "@" + spec if spec else ""), out)
        assert read(out) == read(want), spec
    h5tx("export", "%s/empty" % store, tmp_path / "oe")
    assert read(tmp_path / "oe") == b""
    # Into a directory: under the file's last name. To stdout with '-'.
    (tmp_path / "dir").mkdir()
    p = h5tx("export", "%s/f@1" % store, tmp_path / "dir")
    assert read(tmp_path / "dir" / "f") == read(a)
    assert p.out == "exported %s/f@1 to %s/dir/f: 195 KiB\n" % (store, tmp_path)
    p = h5tx("export", "%s/f@first" % store, "-")
    assert p.stdout == read(a) and p.stderr == b""
    # From stdin with '-'.
    with open(a, "rb") as f:
        h5tx("import", "-", "%s/stdin" % store, stdin=f)
    h5tx("export", "%s/stdin" % store, tmp_path / "os")
    assert read(tmp_path / "os") == read(a)
    assert h5tx_json("log", store, "-n", "1")["commits"][0]["message"] == "import -"


def test_import_options(tmp_path, store):
    a = write(tmp_path / "a", bytes(range(256)) * 400)
    h5tx("import", a, "%s/p" % store, "--page-size", "1K", "--codec", "zstd:9", "-m", "mine")
    f, = h5tx_json("ls", store)["files"]
    assert f["page_size"] == 1024 and f["pages"] == 100 and f["zstd_pages"] == 100
    assert h5tx_json("log", store)["commits"][0]["message"] == "mine"
    # The page size is fixed when a file is created.
    p = h5tx("import", a, "%s/p" % store, "--page-size", "4K", code=1)
    assert p.err == ("h5tx: store %s: file 'p' exists with page size 1 KiB; --page-size 4 KiB "
                     "applies only to new files\n" % store)
    assert head(store) == 1


def test_import_refused_commits_nothing(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"x" * 1000), "%s/f" % store)
    p = h5tx("import", tmp_path, "%s/f" % store, code=1)
    assert p.err == "h5tx: %s is a directory; import copies one file\n" % tmp_path
    p = h5tx("import", tmp_path / "nope", "%s/f" % store, code=1)
    assert p.err == "h5tx: cannot open %s: No such file or directory\n" % (tmp_path / "nope")
    p = h5tx("import", tmp_path / "a", "%s/missing.h5tx/f" % tmp_path, code=1)
    assert p.err == ("h5tx: store %s/missing.h5tx does not exist (create it with 'h5tx init "
                     "%s/missing.h5tx')\n" % (tmp_path, tmp_path))
    assert not (tmp_path / "missing.h5tx").exists()
    # A read error (reading the importer's own memory at 0 fails with EIO).
    p = h5tx("import", "/proc/self/mem", "%s/f" % store, code=1)
    assert p.err == ("h5tx: reading /proc/self/mem at byte 0: Input/output error; nothing was "
                     "imported\n")
    # A live writer holds the file: refused, naming the holder.
    with Holder("writer", store, "f") as w:
        p = h5tx("import", tmp_path / "a", "%s/f" % store, code=1)
        assert str(w.pid) in p.err
    assert head(store) == 1
    h5tx("export", "%s/f" % store, tmp_path / "o")
    assert read(tmp_path / "o") == b"x" * 1000


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_import_interrupted_half_way_commits_nothing(tmp_path, store, sig):
    """A FIFO delivers part of a file, then the import is interrupted (it
    stops itself after its first chunk: test hook H5TX_TEST_STOP=read): no
    revision, the lease is released, the old content stays."""
    h5tx("import", write(tmp_path / "old", b"old" * 1000), "%s/f" % store)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    env = dict(os.environ, H5TX_TEST_STOP="read")
    p = subprocess.Popen([CLI, "import", str(fifo), "%s/f" % store], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(fifo, "wb") as w:
        w.write(os.urandom(4 << 20))  # one chunk: read in full, written to the writer
        w.flush()
        _, status = os.waitpid(p.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        p.send_signal(sig)
        p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert err.decode() == ("h5tx: import of %s into %s/f interrupted; nothing was imported\n"
                            % (fifo, store))
    assert out == b""
    st = h5tx_json("stats", store)
    assert st["head"] == 1 and st["leases"] == []
    h5tx("export", "%s/f" % store, tmp_path / "o")
    assert read(tmp_path / "o") == b"old" * 1000


def test_import_refuses_names_the_mount_cannot_show(tmp_path, store):
    """x beside x/y, .h5tx at the root, control characters: refused with the
    reason, nothing committed."""
    a = write(tmp_path / "a", b"a" * 100)
    h5tx("import", a, "%s/x" % store)
    h5tx("import", a, "%s/d/e" % store)
    p = h5tx("import", a, "%s/x/y" % store, code=1)
    assert "cannot create 'x/y': 'x' is a file" in p.err
    p = h5tx("import", a, "%s/d" % store, code=1)
    assert "cannot create 'd': file 'd/e'" in p.err
    p = h5tx("import", a, "%s/.h5tx" % store, code=2)
    assert "'.h5tx' at the root is reserved" in p.err
    p = h5tx("import", a, "%s/new\nrevision 9" % store, code=2)
    assert "control character 0x0a at byte 3" in p.err
    assert head(store) == 2
    assert [f["name"] for f in h5tx_json("ls", store)["files"]] == ["d/e", "x"]


@pytest.mark.parametrize("length", [503, 511, 1024])
def test_import_refuses_long_name_before_reading(tmp_path, store, length):
    """A name the index cannot key is refused before a byte is read: the
    import fails while its input is still open and empty."""
    name = "/".join(["n" * 99] * 11)[:length]
    r, w = os.pipe()
    p = subprocess.Popen([CLI, "import", "-", "%s/%s" % (store, name)], stdin=r,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(r)
    try:
        out, err = p.communicate(timeout=30)
    finally:
        os.close(w)
    assert p.returncode == 2
    assert ("file name of %d bytes is over the limit of 502 bytes" % length) in err.decode()
    assert head(store) == 0


def run_stopped_at(point, argv):
    """Run h5tx with the test hook H5TX_TEST_STOP=point: it stops itself
    (SIGSTOP) at that point of its work. Returns the process, stopped."""
    env = dict(os.environ, H5TX_TEST_STOP=point)
    p = subprocess.Popen([CLI] + [str(a) for a in argv], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    _, status = os.waitpid(p.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), "h5tx did not reach %r: status %#x" % (point, status)
    return p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("point", ["read", "commit", "committed"])
def test_import_interrupted_at_each_phase(tmp_path, store, sig, point):
    """A signal while reading or while committing (before the commit point)
    commits nothing and says so; one after the commit point reports the
    revision that holds the whole import. The signal arrives exactly at the
    phase: h5tx stops itself there (test hook), the signal is sent, then
    SIGCONT delivers it."""
    h5tx("import", write(tmp_path / "old", b"old" * 1000), "%s/f" % store)
    data = b"".join(os.urandom(64) * 512 for _ in range(384))  # 12 MiB, compressible
    src = write(tmp_path / "big", data)
    p = run_stopped_at(point, ["import", src, "%s/f" % store])
    os.kill(p.pid, sig)
    os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    out, err = out.decode(), err.decode()
    st = h5tx_json("stats", store)
    assert st["leases"] == []
    if point == "committed":
        assert p.returncode == 0, err
        assert out == "imported %s as %s/f: 12 MiB, revision 2\n" % (src, store)
        assert err == ("h5tx: interrupted after the commit point: revision 2 holds all of %s\n"
                       % src)
        assert st["head"] == 2
        assert h5tx("export", "%s/f" % store, "-").stdout == data
        return
    assert p.returncode == 1 and out == ""
    if point == "read":
        assert err == ("h5tx: import of %s into %s/f interrupted; nothing was imported\n"
                       % (src, store))
    else:
        assert err == ("h5tx: import of %s into %s/f interrupted while committing, before the "
                       "commit point; nothing was imported\n" % (src, store))
    assert st["head"] == 1
    assert h5tx("export", "%s/f" % store, "-").stdout == b"old" * 1000


def test_import_from_fifo(tmp_path, store):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = os.urandom(3 << 20) + b"tail"
    p = subprocess.Popen([CLI, "import", str(fifo), "%s/f" % store], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    with open(fifo, "wb") as w:
        for i in range(0, len(data), 100000):  # short reads on the other side
            w.write(data[i:i + 100000])
            w.flush()
    assert p.wait(timeout=30) == 0
    assert h5tx("export", "%s/f" % store, "-").stdout == data


def test_export_into_fifo_and_through_symlink(tmp_path, store):
    """A FIFO (like /dev/null, a device) is written into, never replaced by
    a regular file; a symlink is written through and stays a symlink."""
    src = tmp_path / "src.bin"
    data = os.urandom(200000)
    src.write_bytes(data)
    h5tx("import", src, "%s/f" % store)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = subprocess.Popen([CLI, "export", "%s/f" % store, str(fifo)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    with open(fifo, "rb") as r:
        got = r.read()
    assert p.wait(timeout=30) == 0, p.stderr.read()
    assert got == data
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    target = tmp_path / "target.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    os.symlink(target.name, link)
    h5tx("export", "%s/f" % store, link)
    assert os.path.islink(link)
    assert target.read_bytes() == data


def test_export_failures_leave_no_file(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"a" * 100), "%s/f" % store)
    out = tmp_path / "out"
    p = h5tx("export", "%s/nofile" % store, out, code=1)
    assert p.err == "h5tx: store %s: no file 'nofile' at revision 1\n" % store
    p = h5tx("export", "%s/f@7" % store, out, code=1)
    assert p.err == "h5tx: store %s: no revision 7 (head is 1)\n" % store
    p = h5tx("export", "%s/f@nosuchtag" % store, out, code=1)
    assert "no tag 'nosuchtag'" in p.err
    p = h5tx("export", "%s/f" % store, tmp_path / "nodir" / "out", code=1)
    assert p.err.startswith("h5tx: cannot create %s/nodir/out.tmp." % tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["a", "lab.h5tx"]
    # A file already at OUT stays as it was when the export fails.
    write(out, b"precious")
    h5tx("export", "%s/f@7" % store, out, code=1)
    assert read(out) == b"precious"


def test_export_refuses_paths_inside_a_store(tmp_path, store):
    """export never writes into a store directory: not over its database
    (export s.h5tx/f s.h5tx/index/data.mdb replaced it, exit 0), not beside it,
    not through a symlink, not into another store."""
    data = os.urandom(100000)
    h5tx("import", write(tmp_path / "a", data), "%s/f" % store)
    before = {n: read(store / n) for n in ("index/data.mdb", "h5tx-store")}
    listing = sorted(os.listdir(store))
    other = tmp_path / "other.h5tx"
    h5tx("init", other)
    os.symlink(store / "index" / "data.mdb", tmp_path / "link")
    os.symlink(store, tmp_path / "dirlink")
    for out in (store / "index" / "data.mdb", store, store / "new.h5", tmp_path / "link",
                tmp_path / "dirlink" / "x", other / "x"):
        p = h5tx("export", "%s/f" % store, out, code=2)
        assert "is inside store" in p.err, p.err
        assert "nothing was written" in p.err
    assert sorted(os.listdir(store)) == listing
    assert {n: read(store / n) for n in before} == before
    assert h5tx_json("verify", store)["ok"]
    # Anywhere outside stores is fine.
    (tmp_path / "plain").mkdir()
    h5tx("export", "%s/f" % store, tmp_path / "plain")
    assert read(tmp_path / "plain" / "f") == data


def test_export_of_damaged_page_leaves_nothing(tmp_path):
    s = tmp_path / "raw.h5tx"
    h5tx("init", s, "--codec", "none", "--page-size", "4K")
    data = b"".join(b"page%04d-" % (i // 4096) + b"." * 4087 for i in range(0, 8 * 4096, 4096))
    h5tx("import", write(tmp_path / "a", data), "%s/f" % s)
    flip(s, b"page0005-")
    out = tmp_path / "out"
    p = h5tx("export", "%s/f" % s, out, code=1)
    assert p.err.startswith(
        "h5tx: store %s: file 'f' page 5 revision 1: checksum mismatch (page log segment " % s), p.err
    assert sorted(os.listdir(tmp_path)) == ["a", "raw.h5tx"]


# ---- ls ----------------------------------------------------------------------

def test_ls(tmp_path, store):
    comp = write(tmp_path / "comp", b"abc" * 100000)     # lz4 pages (the default codec)
    rnd = write(tmp_path / "rnd", os.urandom(4 * 65536))  # raw pages
    for name, src in (("runs/r1.h5", comp), ("runs/r2.h5", rnd), ("runs2/x", comp),
                      ("top", rnd)):
        h5tx("import", src, "%s/%s" % (store, name))
    # A page that became all zeros over a stored version is a zero page.
    h5tx("import", write(tmp_path / "z", bytes(65536) + os.urandom(3 * 65536)),
         "%s/top" % store)
    p = h5tx("ls", store)
    lines = p.out.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "PAGE", "PAGES", "CODEC", "STORED", "CHANGED"]
    assert [line.split()[0] for line in lines[1:5]] == ["runs/r1.h5", "runs/r2.h5", "runs2/x",
                                                        "top"]
    assert " lz4 " in lines[1] and " raw " in lines[2] and " lz4 " in lines[3]
    assert " raw 3, zero 1 " in lines[4]
    assert lines[5].startswith("4 files, 1.07 MiB, stored in ")
    assert lines[5].endswith(", at revision 5")
    j = h5tx_json("ls", store)
    assert j["revision"] == 5 and len(j["files"]) == 4
    for f in j["files"]:
        assert f["pages"] == (f["zstd_pages"] + f["lz4_pages"] + f["raw_pages"] +
                              f["zero_pages"])
        assert f["page_size"] == 65536
    top = j["files"][3]
    assert top == dict(top, name="top", size=4 * 65536, zero_pages=1, raw_pages=3,
                       created=4, changed=5)
    assert j["files"][0]["stored_bytes"] < 10000 < j["files"][1]["stored_bytes"]
    assert j["total_size"] == sum(f["size"] for f in j["files"])
    # A prefix is a file or a directory of names; @REV lists the past.
    assert [f["name"] for f in h5tx_json("ls", "%s/runs" % store)["files"]] == [
        "runs/r1.h5", "runs/r2.h5"]
    assert [f["name"] for f in h5tx_json("ls", "%s/runs/r2.h5" % store)["files"]] == [
        "runs/r2.h5"]
    assert [f["name"] for f in h5tx_json("ls", "%s@2" % store)["files"]] == [
        "runs/r1.h5", "runs/r2.h5"]
    assert [f["name"] for f in h5tx_json("ls", "%s/runs@1" % store)["files"]] == ["runs/r1.h5"]
    assert h5tx_json("ls", "%s/top@4" % store)["files"][0]["zero_pages"] == 0
    p = h5tx("ls", "%s/run" % store, code=1)
    assert p.err == "h5tx: store %s: no file 'run' (nor files under it) at revision 5\n" % store
    assert h5tx_json("ls", "%s@0" % store)["files"] == []
    p = h5tx("ls", "%s@9" % store, code=1)
    assert "no revision 9 (head is 5)" in p.err
    p = h5tx("ls", tmp_path / "nostore.h5tx", code=1)
    assert p.err == "h5tx: store %s/nostore.h5tx does not exist\n" % tmp_path
    p = h5tx("ls", "%s/" % tmp_path.joinpath("comp.h5tx"), code=1)  # not a store at all
    assert "does not exist" in p.err
    os.mkdir(tmp_path / "fake.h5tx")
    p = h5tx("ls", tmp_path / "fake.h5tx", code=1)
    assert p.err == "h5tx: %s/fake.h5tx is not an h5tx store (no h5tx-store marker)\n" % tmp_path


# ---- diff --------------------------------------------------------------------

def test_diff(tmp_path):
    s = tmp_path / "d.h5tx"
    h5tx("init", s, "--page-size", "4K")
    base = bytearray(os.urandom(40 * 4096))
    h5tx("import", write(tmp_path / "v1", base), "%s/f" % s)          # 1
    v2 = bytearray(base)
    v2[5 * 4096 + 17] ^= 1                                            # page 5
    v2[9 * 4096:12 * 4096] = os.urandom(3 * 4096)                     # pages 9-11
    h5tx("import", write(tmp_path / "v2", v2), "%s/f" % s)            # 2
    v3 = v2 + os.urandom(5000)                                        # pages 40-41, longer
    h5tx("import", write(tmp_path / "v3", v3), "%s/f" % s)            # 3
    h5tx("import", write(tmp_path / "o", b"other"), "%s/g" % s)      # 4
    j = h5tx_json("diff", "%s/f" % s, 1, 2)
    assert j["runs"] == [
        {"first_page": 5, "pages": 1, "offset": 5 * 4096, "length": 4096},
        {"first_page": 9, "pages": 3, "offset": 9 * 4096, "length": 3 * 4096}]
    assert (j["from"], j["to"], j["from_length"], j["to_length"]) == (1, 2, 40 * 4096, 40 * 4096)
    assert j["pages_changed"] == 4 and j["bytes_changed"] == 4 * 4096 and j["page_size"] == 4096
    # REV2 defaults to head; tags work; the last run ends at the longer length.
    h5tx("tag", s, "two", 2)
    j = h5tx_json("diff", "%s/f" % s, "two")
    assert j["to"] == 4 and j["runs"] == [
        {"first_page": 40, "pages": 2, "offset": 40 * 4096, "length": 5000}]
    assert h5tx_json("diff", "%s/f" % s, 3, 4)["runs"] == []
    p = h5tx("diff", "%s/f" % s, 1, 2)
    assert p.out.splitlines() == [
        "%s/f: revision 1 -> 2" % s,
        "PAGES  FROM BYTE  TO BYTE  LENGTH",
        "5          20480    24576   4 KiB",
        "9-11       36864    49152  12 KiB",
        "4 pages differ (16 KiB in 2 runs); length 163840 -> 163840"]

    assert h5tx("diff", "%s/f" % s, 3, 4).out.endswith(
        "no differences; length 168840 -> 168840\n")
    # Absent at one revision: compared with an empty file.
    j = h5tx_json("diff", "%s/g" % s, 1, 4)
    assert j["from_length"] is None and j["to_length"] == 5 and j["pages_changed"] == 1
    assert h5tx("diff", "%s/g" % s, 1, 4).out.endswith(
        "\n1 page differs (5 B in 1 run); length absent -> 5\n")
    p = h5tx("diff", "%s/nofile" % s, 1, 4, code=1)
    assert "nofile" in p.err
    p = h5tx("diff", "%s/f" % s, 1, 99, code=1)
    assert p.err == "h5tx: store %s: no revision 99 (head is 4)\n" % s
