"""h5tx mount, reading: head and @REV/@TAG files through the mount equal the
same revisions read through the driver (h5dump, h5py, R's hdf5r, bytes);
the kernel's cache serves a revision again without store reads; the log;
missing revisions."""
import errno
import os
import shutil
import subprocess
import threading

import h5py
import numpy as np
import pytest

import h5tx
from conftest import h5tx_cmd, read, tree, write_sample


@pytest.fixture
def two_revs(store):
    """sample.h5 at revision 1 (tagged v1) and changed at revision 2."""
    name = os.path.join(store, "runs", "sample.h5")
    d1 = write_sample(name, 1)
    r1 = h5tx.head(store)
    h5tx.tag(store, "v1", r1)
    d2 = write_sample(name, 2)
    r2 = h5tx.head(store)
    assert r2 > r1
    return name, (r1, d1), (r2, d2)


def h5dump(path):
    p = subprocess.run(["h5dump", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    first, rest = out.split("\n", 1)  # HDF5 "NAME" {
    assert first.startswith('HDF5 "')
    return rest


def test_h5dump_head_and_revisions_equal_the_driver(store, mounts, two_revs, tmp_path):
    name, (r1, _), (r2, _) = two_revs
    m = mounts(store)
    views = {"head": (m.p("runs", "sample.h5"), r2), "@1": (m.p("@%d" % r1, "runs", "sample.h5"), r1),
             "@v1": (m.p("@v1", "runs", "sample.h5"), r1), "@2": (m.p("@%d" % r2, "runs", "sample.h5"), r2)}
    for label, (path, rev) in views.items():
        # the revision as the driver reads it, written out as a plain file
        plain = tmp_path / ("rev%d.h5" % rev)
        expected = h5tx.read_bytes("%s@%d" % (name, rev))
        plain.write_bytes(expected)
        assert read(path) == expected, label
        assert h5dump(path) == h5dump(str(plain)), label
    assert h5dump(views["@1"][0]) != h5dump(views["head"][0])


def test_h5py_head_and_revisions_equal_the_driver(store, mounts, two_revs):
    name, (r1, d1), (r2, d2) = two_revs
    m = mounts(store)
    for path, rev, data in ((m.p("runs", "sample.h5"), r2, d2),
                            (m.p("@%d" % r1, "runs", "sample.h5"), r1, d1),
                            (m.p("@v1", "runs", "sample.h5"), r1, d1)):
        with h5py.File(path, "r") as a, h5tx.File("%s@%d" % (name, rev)) as b:
            assert tree(a) == tree(b), path
            for k, v in data.items():
                np.testing.assert_array_equal(a[k][()], v)


def test_r_hdf5r_reads_a_dataset(store, mounts, two_revs):
    if not shutil.which("Rscript"):
        pytest.skip("Rscript not installed (apt-get install r-base-core)")
    probe = subprocess.run(["Rscript", "-e", "library(hdf5r)"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
    if probe.returncode != 0:
        pytest.skip("R package hdf5r not installed (apt-get install r-cran-hdf5r)")
    _, (r1, d1), (_, d2) = two_revs
    m = mounts(store)
    for path, data in ((m.p("runs", "sample.h5"), d2), (m.p("@%d" % r1, "runs", "sample.h5"), d1)):
        script = ('suppressMessages(library(hdf5r)); f <- H5File$new("%s", mode = "r"); '
                  'x <- f[["grp/data"]][]; cat(format(x, digits = 17), sep = "\\n"); '
                  'f$close_all()' % path)
        p = subprocess.run(["Rscript", "-e", script], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        got = np.array([float(x) for x in p.stdout.decode().split()])
        np.testing.assert_array_equal(got, data["grp/data"])


def test_listing(store, mounts, two_revs):
    m = mounts(store)
    # tags are listed (ls and tab completion find them), numbered revisions not
    assert sorted(os.listdir(m.path)) == [".h5tx", "@v1", "runs"]
    assert os.listdir(m.p("@v1")) == ["runs"]
    assert os.listdir(m.p("runs")) == ["sample.h5"]
    assert os.listdir(m.p("@1")) == ["runs"]
    assert os.listdir(m.p("@1", "runs")) == ["sample.h5"]
    assert sorted(os.listdir(m.p(".h5tx"))) == ["log", "stats"]
    st = os.stat(m.p("runs", "sample.h5"))
    assert st.st_size == len(h5tx.read_bytes(two_revs[0]))
    assert not os.access(m.p("@1", "runs", "sample.h5"), os.W_OK) or os.geteuid() == 0
    assert os.stat(m.p("@1", "runs", "sample.h5")).st_mode & 0o222 == 0


def test_second_read_of_a_revision_costs_no_store_reads(store, mounts):
    name = os.path.join(store, "big.bin")
    payload = os.urandom(3 << 20)
    with open(os.path.join(os.path.dirname(store), "big.src"), "wb") as f:
        f.write(payload)
    h5tx_cmd("import", os.path.join(os.path.dirname(store), "big.src"), name)
    h5tx_cmd("import", "/etc/hostname", os.path.join(store, "other.txt"))  # revision 2
    m = mounts(store)
    cat = ["/usr/bin/python3", "-c",
           "import sys; d = open(sys.argv[1], 'rb').read(); sys.stdout.write(str(len(d)))"]
    for path in (m.p("@1", "big.bin"), m.p("big.bin")):
        before = m.stats()
        out = subprocess.run(cat + [path], stdout=subprocess.PIPE, check=True).stdout
        assert int(out) == len(payload)
        first = m.stats()
        assert first["reads"] > before["reads"], path
        assert first["bytes"] - before["bytes"] >= len(payload), path
        # a second process: the kernel's page cache, shared, serves it all
        out = subprocess.run(cat + [path], stdout=subprocess.PIPE, check=True).stdout
        assert int(out) == len(payload)
        assert m.stats()["reads"] == first["reads"], path
    # the same content under another revision is the same inode: cached too
    before = m.stats()["reads"]
    assert read(m.p("@2", "big.bin")) == payload
    assert m.stats()["reads"] == before
    assert os.stat(m.p("@1", "big.bin")).st_ino == os.stat(m.p("@2", "big.bin")).st_ino


def test_log_file(store, mounts, two_revs):
    m = mounts(store)
    with open(m.p(".h5tx", "log")) as f:
        log = f.read()
    assert log.index("revision 2") < log.index("revision 1")
    assert "tag v1" in log
    assert "file runs/sample.h5" in log
    with pytest.raises(OSError) as e:
        open(m.p(".h5tx", "log"), "w")
    assert e.value.errno in (errno.EROFS, errno.EACCES)


def test_missing_revisions_and_files(store, mounts, two_revs):
    m = mounts(store)
    for path in (m.p("@99"), m.p("@99", "runs"), m.p("@notatag"), m.p("@1", "nothing.h5"),
                 m.p("nothing.h5"), m.p("@"), m.p("runs", "sample.h5@1")):
        with pytest.raises(FileNotFoundError):
            os.stat(path)


def test_collected_revision_is_gone(store, mounts, two_revs):
    h5tx_cmd("tag", "-d", store, "v1")
    h5tx_cmd("gc", store, "--keep-last", "1")
    m = mounts(store)
    with pytest.raises(FileNotFoundError):
        os.stat(m.p("@1"))
    assert read(m.p("@2", "runs", "sample.h5")) == read(m.p("runs", "sample.h5"))
    assert "@v1" not in os.listdir(m.path)   # the deleted tag is gone from the listing


def test_concurrent_readers_of_many_revisions(store, mounts):
    name = os.path.join(store, "f.bin")
    src = os.path.join(os.path.dirname(store), "src.bin")
    contents = []
    for i in range(6):
        data = os.urandom(200000 + i * 7919)
        with open(src, "wb") as f:
            f.write(data)
        h5tx_cmd("import", src, name)
        contents.append(data)
    m = mounts(store)
    errors = []

    def reader(k):
        try:
            for j in range(20):
                rev = (k + j) % 6 + 1
                with open(m.p("@%d" % rev, "f.bin"), "rb") as f:
                    f.seek((k * 4099) % 100000)
                    pos = f.tell()
                    assert f.read() == contents[rev - 1][pos:]
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_a_moved_tag_shows_its_new_revision(store, mounts, two_revs):
    name, (r1, d1), (r2, d2) = two_revs
    m = mounts(store)
    path = m.p("@v1", "runs", "sample.h5")
    held = open(path, "rb")
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["grp/data"][()], d1["grp/data"])
    h5tx.tag(store, "v1", r2)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["grp/data"][()], d2["grp/data"])
    assert held.read() == h5tx.read_bytes("%s@%d" % (name, r1))  # an open file keeps its own
    held.close()
