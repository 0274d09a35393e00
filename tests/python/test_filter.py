"""The Zstandard filter plugin (filter 32015, build/filters/libh5zstd.so) seen
from h5py (Debian's /usr/bin/python3, HDF5 1.10), hdf5plugin, python-zstandard,
h5dump and the h5tx driver.

Run: HDF5_PLUGIN_PATH=build/filters H5TX_VFD_LIB=build/vfd/libh5tx_vfd.so \
     PYTHONPATH=python /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python
Without HDF5_PLUGIN_PATH the plugin is looked for in the source tree's
build/filters. Randomized tests print their seed; H5TX_TEST_SEED=N repeats a
run.
"""
import json
import os
import random
import re
import subprocess

import h5py
import numpy as np
import pytest

import h5tx

PY = "/usr/bin/python3"  # Debian's Python, whose h5py uses the system HDF5
H5DUMP = "/usr/bin/h5dump"  # the system (1.10) h5dump
H5DUMP_114 = "/root/.cache/h5tx/hdf5-1.14.5/bin/h5dump"
ZSTD_ID = 32015
PLUGIN_LIB = "libh5zstd.so"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     os.pardir, os.pardir))
VFD_114 = os.path.join(REPO, "build-1.14", "vfd", "plugin", "libh5tx_vfd_plugin.so")


# ---- helpers ---------------------------------------------------------------------

def rng_for(test):
    seed = int(os.environ.get("H5TX_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print("%s: seed %d (repeat with H5TX_TEST_SEED=%d)" % (test, seed, seed))
    return np.random.default_rng(seed)


def find_plugin_dir():
    """The directory holding libh5zstd.so: the first HDF5_PLUGIN_PATH entry
    that has it, else the source tree's build/filters; None if neither."""
    dirs = [d for d in os.environ.get("HDF5_PLUGIN_PATH", "").split(os.pathsep) if d]
    dirs.append(os.path.join(REPO, "build", "filters"))
    for d in dirs:
        if os.path.isfile(os.path.join(d, PLUGIN_LIB)):
            return os.path.abspath(d)
    return None


def loaded_plugin_paths():
    """The libh5zstd.so files mapped into this process."""
    with open("/proc/self/maps") as maps:
        return {os.path.realpath(line.split(None, 5)[5].strip()) for line in maps
                if PLUGIN_LIB in line and len(line.split(None, 5)) == 6}


@pytest.fixture(scope="module")
def plugin_dir():
    """The plugin's directory, made known to this process's HDF5; fails (not
    skips) when the plugin is not built: these tests are about it."""
    d = find_plugin_dir()
    if d is None:
        pytest.fail("%s not found on HDF5_PLUGIN_PATH (%r) nor in %s/build/filters; build it "
                    "(cmake --build build)" % (PLUGIN_LIB, os.environ.get("HDF5_PLUGIN_PATH"),
                                                REPO))
    if d not in [os.path.abspath(x) for x in
                 os.environ.get("HDF5_PLUGIN_PATH", "").split(os.pathsep) if x]:
        h5py.h5pl.prepend(d.encode())
    assert h5py.h5z.filter_avail(ZSTD_ID), "HDF5 cannot load filter %d from %s" % (ZSTD_ID, d)
    ours = os.path.realpath(os.path.join(d, PLUGIN_LIB))
    assert ours in loaded_plugin_paths(), (
        "filter %d was loaded, but not from %s: %s" % (ZSTD_ID, ours, loaded_plugin_paths()))
    return d


@pytest.fixture(scope="module")
def zstd():
    return pytest.importorskip("zstandard", reason="python3-zstandard is not installed "
                                                   "(apt-get install python3-zstandard)")


def child_env(plugin_dir, extra=None):
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = plugin_dir
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run(argv, env, cwd, timeout=60):
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "%s failed (exit %d):\n%s\n%s" % (argv[:3], p.returncode,
                                                                p.stdout, p.stderr)
    return p


def run_child(code, spec, plugin_dir, cwd):
    """Run `code` in a new /usr/bin/python3 with the JSON `spec` as argv[1];
    its stdout parsed as JSON."""
    p = run([PY, "-c", code, json.dumps(spec)], child_env(plugin_dir), cwd)
    return json.loads(p.stdout)


def chunk_masks(dset):
    """The filter mask of every stored chunk of `dset`."""
    dsid = dset.id
    return [dsid.get_chunk_info(i).filter_mask for i in range(dsid.get_num_chunks())]


def signed(cd_value):
    return int(np.array([cd_value], dtype=np.uint32).view(np.int32)[0])


def same_bytes(a, b):
    """Exactly equal: dtype, shape and every byte (NaNs and -0.0 included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def full_chunk(data, offset, chunks, fill):
    """The whole chunk at `offset` as HDF5 stores it: data, and `fill`
    beyond the dataset's edge."""
    out = np.full(chunks, fill, dtype=data.dtype)
    src = tuple(slice(o, min(o + c, n)) for o, c, n in zip(offset, chunks, data.shape))
    out[tuple(slice(0, s.stop - s.start) for s in src)] = data[src]
    return out


def chunk_offsets(shape, chunks):
    """The offset of every chunk of a dataset of `shape`."""
    counts = [(n + c - 1) // c for n, c in zip(shape, chunks)]
    return [tuple(i * c for i, c in zip(idx, chunks)) for idx in np.ndindex(*counts)]


def dump_blocks(text):
    """h5dump output split per dataset: {"/name": text of its block}."""
    parts = re.split(r'DATASET "([^"]+)" \{', text)
    return {("/" + name.lstrip("/")): body for name, body in zip(parts[1::2], parts[2::2])}


def dump_values(text):
    """The numbers of the first DATA { ... } block of h5dump's output."""
    m = re.search(r"DATA \{(.*?)\n\s*\}", text, re.S)
    assert m, "no DATA block in h5dump output:\n" + text
    body = re.sub(r"\(\s*\d+(\s*,\s*\d+)*\s*\):", " ", m.group(1))
    return [int(x) for x in re.findall(r"-?\d+", body)]


# ---- 1. hdf5plugin interop, both directions --------------------------------------------

# A child that writes datasets: spec {"path", "hdf5plugin": import it or not,
# "datasets": [{"name", "npy", "chunks", "level"} ...]}. With hdf5plugin,
# "level" goes through hdf5plugin.Zstd(clevel=level) (if that refuses it, as
# hdf5plugin 4.0.1 refuses levels outside 1..22, the level is put into
# hdf5plugin.Zstd()'s options as the unsigned cd_value an int is stored as);
# without, compression=32015 and compression_opts=(level,) unless level is None.
WRITER = r"""
import json, sys
import numpy as np, h5py
spec = json.loads(sys.argv[1])
if spec["hdf5plugin"]:
    import hdf5plugin
out = {"kwargs": {}}
with h5py.File(spec["path"], "w") as f:
    for ds in spec["datasets"]:
        level = ds["level"]
        if spec["hdf5plugin"]:
            try:
                kw = dict(hdf5plugin.Zstd(clevel=level))
            except (AssertionError, ValueError):
                kw = dict(hdf5plugin.Zstd())
                kw["compression_opts"] = (level % 2**32,)
        else:
            kw = {"compression": 32015}
            if level is not None:
                kw["compression_opts"] = (level % 2**32,)
        f.create_dataset(ds["name"], data=np.load(ds["npy"]), chunks=tuple(ds["chunks"]), **kw)
        out["kwargs"][ds["name"]] = {k: list(v) if isinstance(v, tuple) else v
                                    for k, v in kw.items()}
out["hdf5plugin_imported"] = "hdf5plugin" in sys.modules
print(json.dumps(out))
"""

# A child that reads every dataset of spec["path"] into spec["outdir"]/NAME.npy
# and reports its filters, chunk filter masks and which libh5zstd.so it loaded.
READER = r"""
import json, os, sys
import numpy as np, h5py
spec = json.loads(sys.argv[1])
if spec["hdf5plugin"]:
    import hdf5plugin
out = {"datasets": {}}
with h5py.File(spec["path"], "r") as f:
    for name, d in f.items():
        np.save(os.path.join(spec["outdir"], name + ".npy"), d[()])
        dsid = d.id
        info = dsid.get_create_plist().get_filter_by_id(32015)
        out["datasets"][name] = {
            "_filters": {k: list(v) if v is not None else None for k, v in d._filters.items()},
            "cd_values": list(info[1]) if info else None,
            "masks": [dsid.get_chunk_info(i).filter_mask for i in range(dsid.get_num_chunks())],
            "storage": dsid.get_storage_size()}
with open("/proc/self/maps") as maps:
    out["plugins"] = sorted({os.path.realpath(l.split(None, 5)[5].strip()) for l in maps
                             if "libh5zstd" in l and len(l.split(None, 5)) == 6})
out["hdf5plugin_imported"] = "hdf5plugin" in sys.modules
print(json.dumps(out))
"""


def interop_data(rng):
    """Compressible but not trivial int32 data whose chunks (64, 64) leave
    partial edge chunks, and a float64 1-D array."""
    return {"i": rng.integers(0, 1000, (150, 230)).astype("<i4"),
            "f": np.round(rng.normal(size=1001), 3)}


def check_h5dump_filters(path, levels, plugin_dir, cwd):
    """`h5dump -pH` (system 1.10) shows FILTER_ID 32015 and PARAMS { L } (no
    PARAMS when the dataset was created without a level) for {name: L}."""
    p = run([H5DUMP, "-pH", str(path)], child_env(plugin_dir), cwd)
    blocks = dump_blocks(p.stdout)
    for name, level in levels.items():
        block = blocks["/" + name]
        assert re.search(r"FILTER_ID %d\b" % ZSTD_ID, block), (name, block)
        params = re.findall(r"PARAMS \{([^}]*)\}", block)
        if level is None:
            assert params == [], (name, block)
        else:
            assert [x.split() for x in params] == [[str(level)]], (name, level, block)


LEVELS = [1, 3, 9, 19, 22, -5]


def test_hdf5plugin_written_reads_without_hdf5plugin(tmp_path, plugin_dir):
    pytest.importorskip("hdf5plugin", reason="python3-hdf5plugin is not installed "
                                             "(apt-get install python3-hdf5plugin)")
    data = interop_data(rng_for("hdf5plugin -> plain"))
    datasets = []
    for level in LEVELS:
        for key, arr in data.items():
            np.save(tmp_path / ("%s.npy" % key), arr)
            datasets.append({"name": "%s_L%d" % (key, level), "npy": str(tmp_path / (key + ".npy")),
                             "chunks": [64, 64] if arr.ndim == 2 else [100], "level": level})
    path = tmp_path / "hdf5plugin.h5"
    wrote = run_child(WRITER, {"path": str(path), "hdf5plugin": True, "datasets": datasets},
                      plugin_dir, tmp_path)
    assert wrote["hdf5plugin_imported"]
    for ds in datasets:  # hdf5plugin's own options, as the file got them
        assert wrote["kwargs"][ds["name"]] == {"compression": ZSTD_ID,
                                              "compression_opts": [ds["level"] % 2**32]}
    outdir = tmp_path / "read"
    outdir.mkdir()
    got = run_child(READER, {"path": str(path), "hdf5plugin": False, "outdir": str(outdir)},
                    plugin_dir, tmp_path)
    assert not got["hdf5plugin_imported"]
    assert got["plugins"] == [os.path.realpath(os.path.join(plugin_dir, PLUGIN_LIB))]
    assert sorted(got["datasets"]) == sorted(ds["name"] for ds in datasets)
    for ds in datasets:
        name, level = ds["name"], ds["level"]
        meta = got["datasets"][name]
        assert meta["_filters"] == {str(ZSTD_ID): [level % 2**32]}, name
        assert [signed(x) for x in meta["cd_values"]] == [level], name
        assert meta["masks"] and set(meta["masks"]) == {0}, (name, meta["masks"])
        assert same_bytes(np.load(outdir / (name + ".npy")), np.load(ds["npy"])), name
    # The level is honoured, as a signed int: a negative (fast) level
    # compresses worse than 22; were it read unsigned it would clamp to 22.
    sizes = {ds["name"]: got["datasets"][ds["name"]]["storage"] for ds in datasets}
    assert sizes["i_L-5"] > sizes["i_L22"], sizes
    assert sizes["i_L22"] < data["i"].nbytes, sizes
    check_h5dump_filters(path, {ds["name"]: ds["level"] for ds in datasets}, plugin_dir,
                         tmp_path)


def test_plain_written_reads_with_hdf5plugin(tmp_path, plugin_dir):
    pytest.importorskip("hdf5plugin", reason="python3-hdf5plugin is not installed "
                                             "(apt-get install python3-hdf5plugin)")
    data = interop_data(rng_for("plain -> hdf5plugin"))
    np.save(tmp_path / "i.npy", data["i"])
    levels = {"none": None, "L3": 3, "L5": 5, "L-7": -7, "L22": 22, "L1000": 1000}
    datasets = [{"name": name, "npy": str(tmp_path / "i.npy"), "chunks": [64, 64], "level": lv}
                for name, lv in levels.items()]
    path = tmp_path / "plain.h5"
    wrote = run_child(WRITER, {"path": str(path), "hdf5plugin": False, "datasets": datasets},
                      plugin_dir, tmp_path)
    assert not wrote["hdf5plugin_imported"]
    outdir = tmp_path / "read"
    outdir.mkdir()
    got = run_child(READER, {"path": str(path), "hdf5plugin": True, "outdir": str(outdir)},
                    plugin_dir, tmp_path)
    assert got["hdf5plugin_imported"]
    for name, level in levels.items():
        meta = got["datasets"][name]
        if level is None:
            assert meta["_filters"] == {str(ZSTD_ID): None}, name
            assert meta["cd_values"] == [], name
        else:
            assert meta["_filters"] == {str(ZSTD_ID): [level % 2**32]}, name
            assert [signed(x) for x in meta["cd_values"]] == [level], name
        assert meta["masks"] and set(meta["masks"]) == {0}, (name, meta["masks"])
        assert same_bytes(np.load(outdir / (name + ".npy")), data["i"]), name
    # No level means level 3, and 1000 is clamped to zstd's maximum, 22: zstd
    # is deterministic for one level and input, so the chunks are the same.
    with h5py.File(path, "r") as f:
        offsets = chunk_offsets(data["i"].shape, (64, 64))
        for a, b in (("none", "L3"), ("L1000", "L22")):
            for off in offsets:
                assert f[a].id.read_direct_chunk(off) == f[b].id.read_direct_chunk(off), (a, b, off)
        assert any(f["none"].id.read_direct_chunk(off) != f["L-7"].id.read_direct_chunk(off)
                   for off in offsets)
    check_h5dump_filters(path, levels, plugin_dir, tmp_path)


# ---- 2. byte compatibility with python-zstandard ---------------------------------------

def test_chunks_from_python_zstandard_read_through_plugin(tmp_path, plugin_dir, zstd):
    rng = rng_for("python-zstandard -> plugin")
    chunk = 4096  # int64 elements: 32 KiB chunks

    def sized(level=3, **kw):
        return lambda raw: zstd.ZstdCompressor(level=level, write_content_size=True,
                                               **kw).compress(raw)

    def obj(raw):  # compressobj: no content size in the frame
        c = zstd.ZstdCompressor(level=5, write_content_size=False).compressobj()
        return c.compress(raw) + c.flush()

    def streamed(raw):  # a stream writer, flushing blocks in between
        import io
        sink = io.BytesIO()
        w = zstd.ZstdCompressor(level=3, write_content_size=False).stream_writer(
            sink, closefd=False)
        for i in range(0, len(raw), 5000):
            w.write(raw[i:i + 5000])
            w.flush(zstd.FLUSH_BLOCK)
        w.flush(zstd.FLUSH_FRAME)
        return sink.getvalue()

    encoders = [("content size", sized(), True),
                ("content size, checksum, level 19", sized(19, write_checksum=True), True),
                ("content size, level -5", sized(-5), True),
                ("compressobj, no content size", obj, False),
                ("stream writer, no content size", streamed, False),
                # Decodes to far more than 4x its size: the growing buffer.
                ("compressobj, no content size, zeros", obj, False)]
    data = rng.integers(-2**40, 2**40, chunk * len(encoders), dtype="<i8")
    data[-chunk:] = 0
    path = tmp_path / "direct.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", shape=data.shape, dtype="<i8", chunks=(chunk,),
                             compression=ZSTD_ID)
        for i, (what, enc, has_size) in enumerate(encoders):
            raw = data[i * chunk:(i + 1) * chunk].tobytes()
            frame = enc(raw)
            cs = zstd.get_frame_parameters(frame).content_size
            assert cs == (len(raw) if has_size else zstd.CONTENTSIZE_UNKNOWN), (what, cs)
            assert zstd.ZstdDecompressor().decompressobj().decompress(frame) == raw, what
            d.id.write_direct_chunk((i * chunk,), frame)
    with h5py.File(path, "r") as f:
        d = f["x"]
        assert set(chunk_masks(d)) == {0}
        for i, (what, _, _) in enumerate(encoders):  # chunk by chunk, then all
            assert same_bytes(d[i * chunk:(i + 1) * chunk], data[i * chunk:(i + 1) * chunk]), what
        assert same_bytes(d[()], data)


@pytest.mark.parametrize("level", [1, 3, 19, -5])
def test_plugin_chunks_decode_with_python_zstandard(tmp_path, plugin_dir, zstd, level):
    rng = rng_for("plugin -> python-zstandard, level %d" % level)
    data = rng.integers(0, 50, (45, 70, 3)).astype("<i4")  # partial edge chunks
    chunks, fill = (16, 32, 3), -1
    path = tmp_path / "plugin.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=chunks, fillvalue=fill, compression=ZSTD_ID,
                         compression_opts=(level % 2**32,))
    with h5py.File(path, "r") as f:
        d = f["x"]
        offsets = chunk_offsets(data.shape, chunks)
        assert d.id.get_num_chunks() == len(offsets)
        for off in offsets:
            mask, raw = d.id.read_direct_chunk(off)
            assert mask == 0, off
            want = full_chunk(data, off, chunks, fill).tobytes()
            # One frame, with its content size, no dictionary, no header
            # before it and nothing after it.
            assert raw[:4] == ZSTD_MAGIC, (off, raw[:16])
            params = zstd.get_frame_parameters(raw)
            assert params.content_size == len(want), off
            assert params.dict_id == 0, off
            assert zstd.frame_content_size(raw) == len(want), off
            dobj = zstd.ZstdDecompressor().decompressobj()
            assert dobj.decompress(raw) == want, off
            assert dobj.eof and dobj.unused_data == b"", off
            assert zstd.ZstdDecompressor().decompress(raw) == want, off


# ---- 3. data types and shapes ---------------------------------------------------------

def test_types_and_shapes(tmp_path, plugin_dir):
    rng = rng_for("types and shapes")
    cases = {}
    for dt in ["i1", "i2", "<i4", "<i8", "u1", "u2", "<u4", "<u8", ">i4", ">u8"]:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, 1000, dtype=np.dtype(dt).newbyteorder("="),
                         endpoint=True).astype(dt)
        a[:2] = info.min, info.max
        cases["int_" + dt.replace("<", "le").replace(">", "be")] = (a, (64,))
    for dt in ["<f4", "<f8", ">f8"]:
        a = rng.normal(scale=1e6, size=(37, 53)).astype(dt)
        a.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).tiny, np.finfo(dt).max]
        cases["float_" + dt.replace("<", "le").replace(">", "be")] = (a, (8, 16))
    comp = np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "S5"), ("d", "<u2", (3,))])
    c = np.zeros((5, 7, 9), dtype=comp)
    c["a"] = rng.integers(-2**31, 2**31, c.shape)
    c["b"] = rng.normal(size=c.shape)
    c["c"] = rng.choice([b"", b"a", b"hdf5", b"zstd!"], c.shape)
    c["d"] = rng.integers(0, 2**16, c.shape + (3,))
    cases["compound_3d"] = (c, (2, 3, 4))
    cases["int_3d"] = (rng.integers(-100, 100, (9, 10, 11)).astype("<i2"), (4, 4, 4))
    cases["float_2d_exact_chunks"] = (rng.normal(size=(32, 48)).astype("<f4"), (16, 16))
    cases["one"] = (np.array([42], dtype="<i8"), (1,))
    cases["zeros_big"] = (np.zeros((300, 400), dtype="<f8"), (100, 100))  # compresses well
    path = tmp_path / "types.h5"
    with h5py.File(path, "w") as f:
        for name, (a, chunks) in cases.items():
            f.create_dataset(name, data=a, chunks=chunks, compression=ZSTD_ID,
                             compression_opts=(7,))
        e = f.create_dataset("empty", shape=(0,), maxshape=(None,), dtype="<f8", chunks=(16,),
                             compression=ZSTD_ID)
        assert e.id.get_num_chunks() == 0 and e.shape == (0,)
        assert e[()].shape == (0,)
        g = f.create_dataset("grown", shape=(0,), maxshape=(None,), dtype="<i4", chunks=(16,),
                             compression=ZSTD_ID)
        g.resize((37,))
        g[:] = np.arange(37, dtype="<i4")
    with h5py.File(path, "r") as f:
        for name, (a, chunks) in cases.items():
            d = f[name]
            assert d._filters == {str(ZSTD_ID): (7,)}, name
            assert d.chunks == chunks and d.dtype == a.dtype, name
            masks = chunk_masks(d)
            n = int(np.prod([(s + c - 1) // c for s, c in zip(a.shape, chunks)]))
            assert masks == [0] * n, (name, masks)  # every chunk went through the filter
            assert same_bytes(d[()], a), name
            # A partial read crossing chunk edges.
            sl = tuple(slice(s // 3, s - s // 4) for s in a.shape)
            assert same_bytes(d[sl], a[sl]), name
        assert f["zeros_big"].id.get_storage_size() < cases["zeros_big"][0].nbytes // 50
        e = f["empty"]
        assert e.shape == (0,) and e.maxshape == (None,) and e.dtype == np.dtype("<f8")
        assert e._filters == {str(ZSTD_ID): None}
        assert e[()].shape == (0,) and e.id.get_num_chunks() == 0
        g = f["grown"]
        assert same_bytes(g[()], np.arange(37, dtype="<i4")) and set(chunk_masks(g)) == {0}


# ---- 4. corruption --------------------------------------------------------------------

C = 2048  # int64 elements a chunk


def corrupt_setup(tmp_path, rng):
    data = rng.integers(-2**62, 2**62, 4 * C, dtype="<i8")
    path = tmp_path / "corrupt.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(C,), compression=ZSTD_ID)
        good = f["x"].id.read_direct_chunk((0,))[1]
    return path, data, good


def read_chunk0_after(path, data, bad, what):
    """Replace chunk 0 by `bad`, reopen (no chunk cache) and read: chunk 0
    must fail with OSError, chunks 1-3 must still read exactly."""
    with h5py.File(path, "r+") as f:
        f["x"].id.write_direct_chunk((0,), bad)
    with h5py.File(path, "r", rdcc_nbytes=0) as f:
        d = f["x"]
        assert d.id.read_direct_chunk((0,))[1] == bad
        for sl in (slice(0, C), slice(0, 1), slice(C - 1, C + 1), slice(None)):
            try:
                got = d[sl]
            except OSError:
                continue
            pytest.fail("reading %s with chunk 0 := %s (%d bytes) returned data instead of "
                        "failing; first/last values %s / %s" % (
                            sl, what, len(bad), got[:3].tolist(), got[-3:].tolist()))
        assert same_bytes(d[C:2 * C], data[C:2 * C])
        assert same_bytes(d[C:], data[C:])


def test_corrupt_chunks_fail(tmp_path, plugin_dir, zstd):
    rng = rng_for("corrupt chunks")
    path, data, good = corrupt_setup(tmp_path, rng)
    raw0 = data[:C].tobytes()
    c = zstd.ZstdCompressor(write_content_size=False).compressobj()
    streamed = c.compress(raw0) + c.flush()
    sized_sum = zstd.ZstdCompressor(write_content_size=True, write_checksum=True).compress(raw0)
    flipped = bytearray(sized_sum)
    flipped[-1] ^= 0x01  # the checksum no longer matches
    cases = {
        "garbage": rng.bytes(len(good)),
        "garbage after the zstd magic": ZSTD_MAGIC + rng.bytes(len(good) - 4),
        "first half of the plugin's frame": good[:len(good) // 2],
        "the plugin's frame minus its last byte": good[:-1],
        "first half of a frame without content size": streamed[:len(streamed) // 2],
        "a frame without content size minus its last byte": streamed[:-1],
        "a frame with a wrong checksum": bytes(flipped),
        "the plugin's frame then garbage": good + rng.bytes(16),
    }
    for what, bad in cases.items():
        print("chunk 0 :=", what)
        read_chunk0_after(path, data, bad, what)
    # And a good chunk written back reads again.
    with h5py.File(path, "r+") as f:
        f["x"].id.write_direct_chunk((0,), good)
    with h5py.File(path, "r") as f:
        assert same_bytes(f["x"][()], data)


# Known limitation, not a bug to fix here: HDF5 never tells a filter the chunk
# size, and filter 32015 has no cd_value for it (issue 4: "no other cd_values
# are written or required"), so a *valid* frame that decodes to the wrong
# length cannot be caught by any 32015 implementation; HDF5 then pads a short
# chunk with uninitialized memory or drops a long one's tail. Frames this
# plugin writes always carry the chunk's size. Strict: if HDF5 or the filter
# ever catch it, these start failing and the marker must go.
WRONG_LENGTH_LIMITATION = (
    "known limitation of HDF5's filter interface: a valid zstd frame of the wrong "
    "decoded length is accepted (see docs/DECISIONS.md, zstd filter)")


@pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=WRONG_LENGTH_LIMITATION)
@pytest.mark.parametrize("elements", [C - 1, C // 2, C + 1])
@pytest.mark.parametrize("content_size", [True, False])
def test_wrong_length_frame_fails(tmp_path, plugin_dir, zstd, elements, content_size):
    rng = rng_for("wrong length frame")
    path, data, _ = corrupt_setup(tmp_path, rng)
    raw = rng.integers(-2**62, 2**62, elements, dtype="<i8").tobytes()
    cctx = zstd.ZstdCompressor(write_content_size=content_size)
    if content_size:
        bad = cctx.compress(raw)
    else:
        c = cctx.compressobj()
        bad = c.compress(raw) + c.flush()
    read_chunk0_after(path, data, bad, "a valid frame decoding to %d bytes (content size %s), "
                      "the chunk is %d" % (len(raw), "in the frame" if content_size else
                                           "absent", C * 8))


# ---- 5. through the h5tx driver ---------------------------------------------------------

def h5tx_zstd_store(tmp_path, rng):
    """A store with f.h5: /x (int32, level 9) as revision 1; head (revision
    2) has /x changed. Returns (store, name, revision 1's /x, head's /x)."""
    store = tmp_path / "S.h5tx"
    name = "%s/f.h5" % store
    v1 = rng.integers(-10**6, 10**6, (23, 31)).astype("<i4")
    v2 = v1.copy()
    v2[5:20, 3:9] = -7
    with h5tx.File(name, "w") as f:
        d = f.create_dataset("x", data=v1, chunks=(8, 8), compression=ZSTD_ID,
                             compression_opts=(9,))
        f.flush()
        assert h5tx.head(store) == 1
        d[5:20, 3:9] = -7
    assert h5tx.head(store) == 2
    return store, name, v1, v2


def test_h5tx_driver(tmp_path, plugin_dir):
    rng = rng_for("h5tx driver")
    store, name, v1, v2 = h5tx_zstd_store(tmp_path, rng)
    for spec, want in (("@1", v1), ("", v2), ("@2", v2)):
        with h5tx.File(name + spec) as f:
            d = f["x"]
            assert d._filters == {str(ZSTD_ID): (9,)}, spec
            assert chunk_masks(d) == [0] * 12, spec  # 3 x 4 chunks
            assert same_bytes(d[()], want), spec
    # The stored file is an ordinary HDF5 file with zstd chunks.
    plain = tmp_path / "rev1.h5"
    plain.write_bytes(h5tx.read_bytes(name + "@1"))
    with h5py.File(plain, "r") as f:
        assert same_bytes(f["x"][()], v1)


@pytest.mark.skipif(not os.path.isfile(VFD_114),
                    reason="no HDF5 1.14 build of the driver at %s" % VFD_114)
@pytest.mark.skipif(not os.access(H5DUMP_114, os.X_OK),
                    reason="no HDF5 1.14 h5dump at %s" % H5DUMP_114)
def test_h5dump_114_through_driver(tmp_path, plugin_dir):
    rng = rng_for("h5dump 1.14 through the driver")
    store, name, v1, v2 = h5tx_zstd_store(tmp_path, rng)
    env = child_env(plugin_dir, {
        "HDF5_PLUGIN_PATH": os.pathsep.join([os.path.dirname(VFD_114), plugin_dir]),
        "HDF5_DRIVER": "h5tx"})
    for rel, want in (("S.h5tx/f.h5@1", v1), ("S.h5tx/f.h5", v2)):
        out = run([H5DUMP_114, "-d", "/x", rel], env, tmp_path).stdout
        assert "DATASPACE  SIMPLE { ( 23, 31 ) / ( 23, 31 ) }" in out, out
        assert dump_values(out) == want.ravel().tolist(), rel
    out = run([H5DUMP_114, "-pH", "-d", "/x", "S.h5tx/f.h5@1"], env, tmp_path).stdout
    assert re.search(r"FILTER_ID %d\b" % ZSTD_ID, out) and "PARAMS { 9 }" in out, out
