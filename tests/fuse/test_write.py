"""h5tx mount, writing: cp makes one revision; h5py writes commit on close;
fsync commits; a reader keeps the revision it opened while commits land and
a fresh open sees the new one; remove, rename, mkdir; errors (EROFS under
@REV, EBUSY for a second writer)."""
import errno
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import h5tx
from conftest import h5tx_cmd, read, tree, write_sample


def plain_hdf5(path, n=200000):
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(n, dtype="f8")
        f["g/y"] = np.linspace(0, 1, 1000)
        f.attrs["what"] = "plain"
    return path


def test_cp_makes_one_revision(store, mnt, tmp_path):
    src = plain_hdf5(str(tmp_path / "plain.h5"))
    before = h5tx.head(store)
    subprocess.run(["cp", src, mnt.p("copied.h5")], check=True)
    assert h5tx.head(store) == before + 1
    subprocess.run(["cmp", src, mnt.p("copied.h5")], check=True)
    assert h5tx.read_bytes(os.path.join(store, "copied.h5")) == read(src)
    with open(mnt.p(".h5tx", "log")) as f:
        assert "mount: write copied.h5" in f.read()
    # over an existing file: again one revision, replacing it
    src2 = plain_hdf5(str(tmp_path / "plain2.h5"), n=1000)
    subprocess.run(["cp", src2, mnt.p("copied.h5")], check=True)
    assert h5tx.head(store) == before + 2
    subprocess.run(["cmp", src2, mnt.p("copied.h5")], check=True)
    assert read(mnt.p("@%d" % (before + 1), "copied.h5")) == read(src)


def test_shell_redirections(store, mnt):
    """A shell opens the file, dup2s it to stdout and closes the descriptor
    it opened before the command writes: that close is not the shell's last
    descriptor of the file, so `cmd > f` is one revision (truncation and
    output together), and so is `cmd >> f`."""
    h5tx_cmd("import", "/etc/hostname", os.path.join(store, "t.txt"))
    before = h5tx.head(store)
    subprocess.run(["bash", "-c", "echo one > %s" % mnt.p("t.txt")], check=True)
    assert read(mnt.p("t.txt")) == b"one\n"
    assert h5tx.head(store) == before + 1
    subprocess.run(["bash", "-c", "echo two >> %s" % mnt.p("t.txt")], check=True)
    assert read(mnt.p("t.txt")) == b"one\ntwo\n"
    assert h5tx.head(store) == before + 2
    assert read(mnt.p("@%d" % (before + 1), "t.txt")) == b"one\n"


def test_h5py_write_commits_on_close(store, mnt):
    before = h5tx.head(store)
    f = h5py.File(mnt.p("w.h5"), "w")
    f["x"] = np.arange(100, dtype="i8")
    f.attrs["a"] = 7
    f.flush()  # HDF5's flush does not fsync: nothing committed yet
    assert h5tx.head(store) == before
    f.close()
    assert h5tx.head(store) == before + 1
    with h5tx.File(os.path.join(store, "w.h5@%d" % (before + 1))) as d, \
            h5py.File(mnt.p("w.h5"), "r") as m:
        np.testing.assert_array_equal(d["x"][()], np.arange(100))
        assert tree(d) == tree(m)
    # append through h5py ('a'): again one revision on close
    with h5py.File(mnt.p("w.h5"), "a") as f:
        f["y"] = np.ones(5)
    assert h5tx.head(store) == before + 2
    with h5tx.File(os.path.join(store, "w.h5")) as d:
        assert sorted(d.keys()) == ["x", "y"]


def test_fsync_commits(store, mnt):
    before = h5tx.head(store)
    fd = os.open(mnt.p("s.bin"), os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"abc")
        os.fsync(fd)
        assert h5tx.head(store) == before + 1
        assert h5tx.read_bytes(os.path.join(store, "s.bin")) == b"abc"
        os.write(fd, b"def")
        assert h5tx.read_bytes(os.path.join(store, "s.bin")) == b"abc"
    finally:
        os.close(fd)
    assert h5tx.head(store) == before + 2
    assert h5tx.read_bytes(os.path.join(store, "s.bin")) == b"abcdef"


def test_truncate(store, mnt):
    h5tx_cmd("import", "/etc/services", os.path.join(store, "t.bin"))
    before = h5tx.head(store)
    os.truncate(mnt.p("t.bin"), 100)  # by name: a commit of its own
    assert h5tx.head(store) == before + 1
    assert read(mnt.p("t.bin")) == read("/etc/services")[:100]
    with open(mnt.p("t.bin"), "r+b") as f:
        f.truncate(10)
        f.seek(0, 2)
        f.write(b"!")
    assert read(mnt.p("t.bin")) == read("/etc/services")[:10] + b"!"
    assert h5tx.head(store) == before + 2


def test_reader_keeps_its_revision(store, mnt, tmp_path):
    name = os.path.join(store, "iso.bin")
    old = os.urandom(3 << 20)
    (tmp_path / "old").write_bytes(old)
    h5tx_cmd("import", tmp_path / "old", name)
    new = os.urandom(2 << 20) + b"tail"
    (tmp_path / "new").write_bytes(new)
    with open(mnt.p("iso.bin"), "rb") as held:
        start = held.read(4096)
        # another process commits through the mount ...
        subprocess.run(["cp", str(tmp_path / "new"), mnt.p("iso.bin")], check=True)
        with open(mnt.p("iso.bin"), "rb") as fresh:
            assert fresh.read() == new
        assert os.stat(mnt.p("iso.bin")).st_size == len(new)
        # ... and another one through the driver, outside the mount
        newer = os.urandom(1 << 20)
        (tmp_path / "newer").write_bytes(newer)
        h5tx_cmd("import", tmp_path / "newer", name)
        with open(mnt.p("iso.bin"), "rb") as fresh:
            assert fresh.read() == newer
        # the first reader still reads what it opened, byte for byte
        rest = held.read()
        assert start + rest == old
        held.seek(12345)
        assert held.read(100) == old[12345:12445]
        assert os.fstat(held.fileno()).st_size == len(old)


def test_readers_do_not_see_uncommitted_writes(store, mnt):
    """Other processes read the committed bytes and size; the writing
    process reads its own writes, also through a second descriptor."""
    h5tx_cmd("import", "/etc/hostname", os.path.join(store, "u.txt"))
    committed = read("/etc/hostname")
    other = [sys.executable, "-c",
             "import os, sys; p = sys.argv[1]; sys.stdout.buffer.write(open(p, 'rb').read() + "
             "b'|%d' % os.stat(p).st_size)", mnt.p("u.txt")]
    with open(mnt.p("u.txt"), "r+b") as w:
        w.seek(0)
        w.write(b"UNCOMMITTED" * 100)
        w.flush()
        assert subprocess.run(other, stdout=subprocess.PIPE, check=True).stdout == \
            committed + b"|%d" % len(committed)
        w.seek(0)
        assert w.read(11) == b"UNCOMMITTED"  # the writer reads its own writes
        assert read(mnt.p("u.txt")) == b"UNCOMMITTED" * 100  # through a second descriptor
    assert read(mnt.p("u.txt")) == b"UNCOMMITTED" * 100


def test_h5py_reader_keeps_its_revision_while_h5py_writes(store, mnt):
    name = os.path.join(store, "r.h5")
    d1 = write_sample(name, 1)
    with h5py.File(mnt.p("r.h5"), "r") as reader:
        code = ("import h5py, numpy as np, sys\n"
                "with h5py.File(sys.argv[1], 'w') as f:\n"
                "    f['grp/data'] = np.zeros(5)\n")
        subprocess.run([sys.executable, "-c", code, mnt.p("r.h5")], check=True)
        np.testing.assert_array_equal(reader["grp/data"][()], d1["grp/data"])
        np.testing.assert_array_equal(reader["grp/chunked"][()], d1["grp/chunked"])
        with h5py.File(mnt.p("r.h5"), "r") as fresh:
            np.testing.assert_array_equal(fresh["grp/data"][()], np.zeros(5))
            assert "grp/chunked" not in fresh


def test_write_to_a_revision_is_erofs(store, mnt):
    write_sample(os.path.join(store, "f.h5"), 1)
    rev = mnt.p("@1", "f.h5")
    for mode in ("r+b", "wb", "ab"):
        with pytest.raises(OSError) as e:
            open(rev, mode)
        assert e.value.errno == errno.EROFS, mode
    for fn in (lambda: os.truncate(rev, 0), lambda: os.unlink(rev),
               lambda: open(mnt.p("@1", "new.h5"), "wb"), lambda: os.mkdir(mnt.p("@1", "d")),
               lambda: os.rename(rev, mnt.p("moved.h5")), lambda: os.rmdir(mnt.p("@1"))):
        with pytest.raises(OSError) as e:
            fn()
        assert e.value.errno == errno.EROFS
    with pytest.raises(OSError):
        h5py.File(rev, "r+")
    assert h5tx.head(store) == 1
    assert read(rev) == h5tx.read_bytes(os.path.join(store, "f.h5@1"))


def test_second_writer_is_ebusy(store, mnt):
    name = os.path.join(store, "b.h5")
    write_sample(name, 1)
    holder = h5tx.File(name, "a")  # the driver holds the file's lease
    try:
        for mode in ("r+b", "wb"):
            with pytest.raises(OSError) as e:
                open(mnt.p("b.h5"), mode)
            assert e.value.errno == errno.EBUSY, mode
        with pytest.raises(OSError) as e:
            os.unlink(mnt.p("b.h5"))
        assert e.value.errno == errno.EBUSY
        assert read(mnt.p("b.h5")) == h5tx.read_bytes(name)  # reading is fine
    finally:
        holder.close()
    with open(mnt.p("b.h5"), "r+b") as f:  # free again
        # ... and now the mount holds it: the driver is the second writer
        with pytest.raises(OSError):
            h5tx.File(name, "a")
        f.read(8)


def test_remove_rename_mkdir(store, mnt, tmp_path):
    src = plain_hdf5(str(tmp_path / "p.h5"), n=100)
    os.makedirs(mnt.p("a", "b"))
    assert os.path.isdir(mnt.p("a", "b"))
    shutil.copy(src, mnt.p("a", "b", "p.h5"))
    r = h5tx.head(store)
    assert read(mnt.p("a", "b", "p.h5")) == read(src)
    os.rename(mnt.p("a", "b", "p.h5"), mnt.p("a", "q.h5"))  # one commit, nothing copied
    assert h5tx.head(store) == r + 1
    assert sorted(os.listdir(mnt.p("a"))) == ["b", "q.h5"]
    assert read(mnt.p("a", "q.h5")) == read(src)
    assert read(mnt.p("@%d" % r, "a", "b", "p.h5")) == read(src)
    os.rmdir(mnt.p("a", "b"))  # left empty by the rename: still there until rmdir
    os.unlink(mnt.p("a", "q.h5"))
    assert h5tx.head(store) == r + 2
    assert not os.path.exists(mnt.p("a", "q.h5"))
    assert os.listdir(mnt.p("a")) == []
    os.rmdir(mnt.p("a"))
    assert not os.path.exists(mnt.p("a"))
    assert read(mnt.p("@%d" % (r + 1), "a", "q.h5")) == read(src)
    # cp -r of a tree, then rm -r
    tree_src = tmp_path / "tree"
    (tree_src / "x" / "y").mkdir(parents=True)
    (tree_src / "x" / "y" / "f1").write_bytes(b"1")
    (tree_src / "f2").write_bytes(b"22")
    subprocess.run(["cp", "-r", str(tree_src), mnt.p("t")], check=True)
    assert read(mnt.p("t", "x", "y", "f1")) == b"1"
    subprocess.run(["diff", "-r", str(tree_src), mnt.p("t")], check=True)
    with pytest.raises(OSError) as e:
        os.rmdir(mnt.p("t"))
    assert e.value.errno == errno.ENOTEMPTY
    subprocess.run(["mv", mnt.p("t"), mnt.p("t2")], check=True)  # EXDEV: mv copies
    subprocess.run(["diff", "-r", str(tree_src), mnt.p("t2")], check=True)
    subprocess.run(["rm", "-r", mnt.p("t2")], check=True)
    assert sorted(os.listdir(mnt.path)) == [".h5tx"]
    assert "t2/" not in h5tx_cmd("ls", store).out


WRITER = """
import errno, os, sys
path, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
errs = []
for i in range(n):
    try:
        with open(path, "r+b") as f:
            f.seek(k * 10)
            f.write(b"%09d\\n" % i)
    except OSError as e:
        errs.append(errno.errorcode[e.errno])
print(" ".join(errs))
"""


def test_concurrent_writers_share_the_writer(store, mnt):
    """Processes writing one file through the mount share the daemon's
    writer: no EBUSY, no ESTALE, every write lands."""
    with open(mnt.p("race.txt"), "wb") as f:
        f.write(b"-" * 40)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, mnt.p("race.txt"), str(k), "60"],
                              stdout=subprocess.PIPE) for k in range(4)]
    outs = [p.communicate(timeout=120)[0].decode().strip() for p in procs]
    assert outs == [""] * 4, outs
    assert read(mnt.p("race.txt")) == b"%09d\n" % 59 * 4
    h5tx_cmd("verify", store)


REWRITER = """
import sys
path, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(path, "wb") as f:  # O_TRUNC, then write in pieces
        for j in range(8):
            f.write(bytes([65 + i % 26]) * 32768)
"""


def test_readers_never_see_mixed_revisions(store, mnt):
    with open(mnt.p("gen.bin"), "wb") as f:
        f.write(b"@" * (8 * 32768))
    w = subprocess.Popen([sys.executable, "-c", REWRITER, mnt.p("gen.bin"), "40"])
    seen = set()
    try:
        while w.poll() is None:
            with open(mnt.p("gen.bin"), "rb") as f:
                data = f.read()
            assert len(data) == 8 * 32768
            assert data == data[:1] * len(data), "mixed content in one open"
            seen.add(data[:1])
    finally:
        w.wait(timeout=120)
    assert w.returncode == 0
    assert read(mnt.p("gen.bin")) == bytes([65 + 39 % 26]) * (8 * 32768)
    print("generations seen by the reader:", len(seen))
