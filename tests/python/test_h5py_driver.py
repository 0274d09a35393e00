"""h5py's own File, h5netcdf and xarray reaching a store through the driver
that `import h5tx` registers with h5py (Debian's h5py, HDF5 1.10), and the
commit message: the config key `message=`, the keyword, and H5TX_MESSAGE.

Run as tests/python/test_vfd.py says; `h5tx log` is the CLI at $H5TX_CLI
(default: build/tools/h5tx of the source tree)."""
import json
import os
import subprocess

import h5py
import numpy as np
import pytest

import h5tx

PY = "/usr/bin/python3"


def cli():
    path = os.environ.get("H5TX_CLI") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "build", "tools",
        "h5tx")
    if not os.path.exists(path):
        pytest.skip("the h5tx CLI is not built (%s); set H5TX_CLI" % path)
    return path


def log(store):
    """The commits of `store`, newest first, as `h5tx log --json` lists them."""
    out = subprocess.run([cli(), "log", str(store), "--json"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["commits"]


def messages(store):
    return [c["message"] for c in log(store)]


def child_env(**extra):
    env = dict(os.environ)
    here = os.path.dirname(os.path.abspath(h5tx.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    env["H5TX_VFD_LIB"] = os.path.abspath(h5tx.library_path())
    env.update(extra)
    return env


# ---- h5py.File(..., driver="h5tx") ------------------------------------------------


def test_import_registers_the_driver():
    assert "h5tx" in h5py.registered_drivers()


def test_h5py_file_writes_revisions_and_reads_them_back(tmp_path):
    name = str(tmp_path / "lab.h5tx" / "runs" / "r1.h5")
    with h5py.File(name, "w", driver="h5tx") as f:
        f["x"] = np.arange(10)
        f.flush()  # revision 1
        f["y"] = np.ones(3)
    # the close made revision 2
    assert h5tx.head(tmp_path / "lab.h5tx") == 2
    with h5py.File(name + "@1", "r", driver="h5tx") as f:
        assert sorted(f) == ["x"]
        assert list(f["x"][()]) == list(range(10))
    with h5py.File(name, "r", driver="h5tx") as f:
        assert sorted(f) == ["x", "y"]
    with h5py.File(name, "r+", driver="h5tx") as f:
        f["x"][0] = 42
    with h5py.File(name, "a", driver="h5tx") as f:  # exists: opened read-write
        assert f["x"][0] == 42
        f["z"] = 1
    with h5py.File(str(tmp_path / "lab.h5tx" / "new.h5"), "a", driver="h5tx") as f:
        f["n"] = 1  # does not exist: created
    assert h5tx.head(tmp_path / "lab.h5tx") == 5
    with pytest.raises(OSError, match="read-only"):
        h5py.File(name + "@1", "r+", driver="h5tx")


def test_h5py_keywords_pass_through(tmp_path):
    name = str(tmp_path / "s.h5tx" / "k.h5")
    with h5py.File(name, "w", driver="h5tx", libver="latest", userblock_size=1024,
                   locking=False, track_order=True) as f:
        f["b"] = 1
        f["a"] = 2
        assert f.userblock_size == 1024
        # libver="latest" reached the fapl (HDF5 1.10 names LATEST "v110")
        bounds = f.id.get_access_plist().get_libver_bounds()
        assert bounds == (h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
        assert list(f) == ["b", "a"]  # creation order, not alphabetical
    raw = h5tx.read_bytes(name)
    assert raw[1024:1032] == b"\x89HDF\r\n\x1a\n"
    assert raw[:8] != b"\x89HDF\r\n\x1a\n"
    assert raw[1024 + 8] == 3  # superblock version 3: libver latest reached HDF5
    with h5py.File(name, "r", driver="h5tx", locking=False, rdcc_nbytes=1 << 20) as f:
        assert f.userblock_size == 1024 and sorted(f) == ["a", "b"]


def test_config_keys_as_keywords_and_bad_ones_named(tmp_path):
    name = str(tmp_path / "s.h5tx" / "c.h5")
    with h5py.File(name, "w", driver="h5tx", commit="close", codec="none") as f:
        f["x"] = np.zeros(1000)
        f.flush()
        f.flush()
    assert h5tx.head(tmp_path / "s.h5tx") == 1  # commit=close: only the close committed
    with h5py.File(name, "r+", driver="h5tx", config="commit=close;codec=none") as f:
        f["y"] = 1
        f.flush()
        assert h5tx.head(tmp_path / "s.h5tx") == 1
    assert h5tx.head(tmp_path / "s.h5tx") == 2
    with pytest.raises(ValueError, match="unknown config key 'colour'"):
        h5py.File(name, "r", driver="h5tx", colour="blue")
    with pytest.raises(ValueError, match="config key 'codec': bad value 'brotli'"):
        h5py.File(name, "r", driver="h5tx", config={"codec": "brotli"})
    with pytest.raises(ValueError, match="'commit' given twice"):
        h5py.File(name, "r", driver="h5tx", config="commit=close", commit="flush")


# ---- commit messages ----------------------------------------------------------------


def test_message_keyword_is_what_log_shows(tmp_path):
    store = tmp_path / "m.h5tx"
    with h5py.File(str(store / "a.h5"), "w", driver="h5tx", message="calibration run 3") as f:
        f["x"] = 1
        f.flush()
        f["y"] = 2
    with h5tx.File(str(store / "a.h5"), "r+", message="fixed the gain") as f:
        f["x"][()] = 5
    with h5tx.File(str(store / "a.h5"), "r+") as f:
        f["z"] = 1
    assert messages(store) == ["python3: close", "fixed the gain", "calibration run 3",
                               "calibration run 3"]
    with pytest.raises(ValueError, match="';'"):
        h5py.File(str(store / "a.h5"), "r+", driver="h5tx", message="a;b")
    with pytest.raises(ValueError, match="'message'"):
        h5tx.File(str(store / "a.h5"), "r+", message="")


def test_message_from_the_environment(tmp_path):
    """Any HDF5 program: H5TX_MESSAGE names its commits; message= in the
    config wins over it."""
    store = tmp_path / "e.h5tx"
    code = ("import sys, h5tx, h5py\n"
            "with h5py.File(sys.argv[1], 'w', driver='h5tx', config=sys.argv[2]) as f:\n"
            "    f['x'] = 1\n")
    for fname, config in (("a.h5", ""), ("b.h5", "message=from the config")):
        out = subprocess.run([PY, "-c", code, str(store / fname), config], timeout=60,
                             env=child_env(H5TX_MESSAGE="nightly import"), capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr
    assert messages(store) == ["from the config", "nightly import"]


# ---- h5netcdf and xarray ------------------------------------------------------------


def test_h5netcdf_file(tmp_path):
    h5netcdf = pytest.importorskip("h5netcdf")
    name = str(tmp_path / "nc.h5tx" / "t.nc")
    with h5netcdf.File(name, "w", driver="h5tx", message="netcdf") as f:
        f.dimensions = {"time": 4}
        v = f.create_variable("temp", ("time",), float)
        v[:] = [1.5, 2.5, 3.5, 4.5]
        v.attrs["units"] = "K"
    with h5netcdf.File(name, "a", driver="h5tx") as f:
        f["temp"][0] = -1.0
    with h5netcdf.File(name + "@1", "r", driver="h5tx") as f:
        assert list(f["temp"][:]) == [1.5, 2.5, 3.5, 4.5]
        assert f["temp"].attrs["units"] == "K"
        assert f.dimensions["time"].size == 4
    with h5netcdf.File(name, "r", driver="h5tx") as f:
        assert list(f["temp"][:]) == [-1.0, 2.5, 3.5, 4.5]
    assert messages(tmp_path / "nc.h5tx")[-1] == "netcdf"


def test_xarray_through_h5netcdf(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    name = str(tmp_path / "xr.h5tx" / "d.nc")
    ds = xr.Dataset({"t": (("x", "y"), np.arange(12.0).reshape(3, 4))},
                    coords={"x": [10, 20, 30]}, attrs={"title": "h5tx"})
    h5tx.to_netcdf(ds, name, message="xarray")
    with h5tx.open_dataset(name) as back:
        xr.testing.assert_identical(back.load(), ds)
    ds2 = ds.assign(t=ds.t * 2)
    h5tx.to_netcdf(ds2, name)
    with h5tx.open_dataset(name + "@1") as back:
        xr.testing.assert_identical(back.load(), ds)
    with h5tx.open_dataset(name, decode_times=False) as back:
        xr.testing.assert_identical(back.load(), ds2)
    assert h5tx.head(tmp_path / "xr.h5tx") == 2
    assert messages(tmp_path / "xr.h5tx")[-1] == "xarray"
    # xarray's own engine="h5netcdf" cannot hand a driver to h5py (it passes
    # no keywords through to h5netcdf.File): that is why h5tx has these two.
    with pytest.raises(TypeError):
        xr.open_dataset(name, engine="h5netcdf", backend_kwargs={"driver": "h5tx"})


# ---- which driver library the module loads ---------------------------------------------


@pytest.mark.parametrize("hdf5, first", [((1, 14, 5), "libh5tx_vfd_1_14.so"),
                                         ((1, 10, 8), "libh5tx_vfd.so")])
def test_installed_module_prefers_the_build_for_h5pys_hdf5(tmp_path, monkeypatch, hdf5, first):
    """Both builds in one prefix: under an h5py on HDF5 1.14 the module takes
    libh5tx_vfd_1_14.so, under 1.10 (no _1_10 build) libh5tx_vfd.so."""
    lib = tmp_path / "prefix" / "lib"
    pydir = lib / "python3.11" / "dist-packages"
    pydir.mkdir(parents=True)
    for name in ("libh5tx_vfd.so", "libh5tx_vfd_1_14.so"):
        (lib / name).write_bytes(b"")
    monkeypatch.delenv("H5TX_VFD_LIB", raising=False)
    monkeypatch.setattr(h5tx, "__file__", str(pydir / "h5tx.py"))
    monkeypatch.setattr(h5py.version, "hdf5_version_tuple", hdf5)
    present = [c for c in h5tx._candidates() if os.path.exists(c)]  # loaded in this order
    assert present[0] == str(lib / first)
    assert str(lib / "libh5tx_vfd.so") in present
