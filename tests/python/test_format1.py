"""A store of format 1 (tests/data/format1-small.tar.gz, made by the format-1
code) opened through the HDF5 driver from h5py: refused with the message
that names `h5tx upgrade`, and nothing in the store is created or changed.

Run as tests/python/test_vfd.py says."""
import os
import tarfile

import h5py
import pytest

import h5tx

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "data")


def tree(path):
    out = {}
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            st = os.lstat(os.path.join(d, n))
            out[os.path.relpath(os.path.join(d, n), path)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def format1(tmp_path):
    with tarfile.open(os.path.join(DATA, "format1-small.tar.gz")) as t:
        t.extractall(tmp_path)
    return tmp_path / "small.h5tx"


def test_h5py_open_of_a_format1_store_names_upgrade(format1):
    before = tree(format1)
    want = "run `h5tx upgrade %s`" % format1
    for mode in ("r", "r+", "a"):
        with pytest.raises(OSError) as e:
            h5py.File(str(format1 / "a.h5"), mode, driver="h5tx")
        assert want in str(e.value), (mode, str(e.value))
    with pytest.raises(OSError) as e:
        h5py.File(str(format1 / "a.h5@last"), "r", driver="h5tx")
    assert want in str(e.value), str(e.value)
    with pytest.raises(h5tx.Error) as e:
        h5tx.head(format1)
    assert e.value.codename == "H5TX_EFORMAT" and want in str(e.value)
    assert tree(format1) == before
