"""Files in a store's directory that are not part of the store: HDF5 1.10
ignores HDF5_DRIVER, so `HDF5_DRIVER=h5tx h5repack in.h5 lab.h5tx/out.h5`
under Debian 12's tools writes a plain out.h5 into the store's directory.
`h5tx ls` and `h5tx verify` name every such file (and directory), in text
and in JSON, and a store with none reports none."""
import os
import shutil
import subprocess

import pytest

from conftest import h5tx, h5tx_json

H5REPACK = "/usr/bin/h5repack"  # Debian 12: HDF5 1.10, which ignores HDF5_DRIVER


def make_store(tmp_path):
    s = tmp_path / "lab.h5tx"
    h5tx("init", s)
    src = tmp_path / "in.bin"
    src.write_bytes(b"x" * 5000)
    h5tx("import", src, "%s/a.h5" % s)
    return s


def test_clean_store_reports_nothing_foreign(tmp_path):
    s = make_store(tmp_path)
    p = h5tx("ls", s)
    assert "not part of the store" not in p.out + p.err
    assert h5tx_json("ls", s)["foreign"] == []
    p = h5tx("verify", s)
    assert "not part of the store" not in p.out + p.err
    assert h5tx_json("verify", s)["foreign"] == []


@pytest.mark.skipif(not os.access(H5REPACK, os.X_OK), reason="no %s (hdf5-tools)" % H5REPACK)
def test_hdf5_110_tool_writes_plain_file_into_store_dir(tmp_path):
    s = make_store(tmp_path)
    src = tmp_path / "src.h5"
    subprocess.run(["/usr/bin/python3", "-c",
                    "import h5py, sys\nwith h5py.File(sys.argv[1], 'w') as f: f['x'] = 1",
                    str(src)], check=True)
    env = dict(os.environ, HDF5_DRIVER="h5tx", HDF5_PLUGIN_PATH=str(tmp_path))
    subprocess.run([H5REPACK, str(src), "%s/out.h5" % s], env=env, check=True, timeout=60)
    assert (s / "out.h5").is_file()  # 1.10 ignored HDF5_DRIVER: a plain file
    p = h5tx("ls", s)
    assert "a.h5" in p.out and "out.h5" not in p.out  # the listing is the store's
    assert ("store %s: out.h5 is not part of the store" % s) in p.err
    assert "HDF5_DRIVER" in p.err  # says what probably happened
    assert h5tx_json("ls", s)["foreign"] == ["out.h5"]
    p = h5tx("ls", "%s/out.h5" % s, code=1)  # asked for by name: says where it is
    assert ("store %s: no file 'out.h5'" % s) in p.err
    assert "(it is a plain file in the store's directory, not part of the store" in p.err
    p = h5tx("verify", s)  # the store itself is sound: exit 0
    assert ("store %s: out.h5 is not part of the store" % s) in p.out
    v = h5tx_json("verify", s)
    assert v["ok"] is True and v["foreign"] == ["out.h5"]


def test_every_kind_of_foreign_entry_is_named_sorted(tmp_path):
    s = make_store(tmp_path)
    (s / "notes.txt").write_text("hi")
    (s / "runs").mkdir()
    (s / "runs" / "r1.h5").write_bytes(b"\x89HDF")
    os.symlink("/nonexistent", s / "link")
    p = h5tx("ls", s)
    for name in ("link", "notes.txt", "runs/"):
        assert ("store %s: %s is not part of the store" % (s, name)) in p.err, p.err
    assert h5tx_json("ls", s)["foreign"] == ["link", "notes.txt", "runs/"]
    assert h5tx_json("verify", s)["foreign"] == ["link", "notes.txt", "runs/"]
    # a listing of one file of the store names them too
    assert h5tx_json("ls", "%s/a.h5" % s)["foreign"] == ["link", "notes.txt", "runs/"]
    shutil.rmtree(s / "runs")
    os.unlink(s / "link")
    os.unlink(s / "notes.txt")
    assert h5tx_json("ls", s)["foreign"] == []
