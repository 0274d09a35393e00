"""h5tx diff --objects (h5tx-diff-objects): HDF5 files with groups,
attributes, chunked gzip and zstd (filter 32015) datasets, contiguous and
variable-length data, written with h5py and imported as revisions, and
changed in place through the driver (h5tx.py) where h5py's HDF5 is the one
this tree was built with."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import CLI, ROOT, h5tx, h5tx_json

h5py = pytest.importorskip("h5py")

OBJDIFF = os.path.join(os.path.dirname(CLI), "h5tx-diff-objects")
if not os.path.exists(OBJDIFF):
    pytest.skip("h5tx-diff-objects was not built (no HDF5)", allow_module_level=True)

# The zstd filter plugin of this tree, for h5py to write filter 32015.
PLUGIN_DIR = os.environ.get("HDF5_PLUGIN_PATH") or os.path.join(ROOT, "build", "filters")
HAVE_ZSTD = os.path.exists(os.path.join(PLUGIN_DIR, "libh5zstd.so"))
# h5tx.py loads the driver into h5py's process: only when both use one HDF5.
SAME_HDF5 = os.environ.get("H5TX_HDF5_VERSION", h5py.version.hdf5_version) == \
    h5py.version.hdf5_version


def objdiff(path, *revs, code=0):
    return h5tx_json("diff", "--objects", path, *revs, code=code)


def changes(j, kind=None):
    """{(path, name or None): change} for the changes of `kind`."""
    return {(c["path"], c.get("name")): c for c in j["changes"]
            if kind is None or c["kind"] == kind}


def state1(path):
    with h5py.File(path, "w") as f:
        f.attrs["version"] = 1
        d = f.create_dataset("data", data=np.arange(4000, dtype="i4").reshape(100, 40),
                             chunks=(10, 10), compression="gzip", compression_opts=4)
        d.attrs["units"] = "m"
        if HAVE_ZSTD:
            f.create_dataset("zs", data=np.linspace(0, 1, 64 * 64).reshape(64, 64),
                             chunks=(16, 16), compression=32015)
        g = f.create_group("grp")
        g.attrs["count"] = 3
        g.create_group("sub").create_dataset("vec", data=np.arange(50, dtype="f4"))
        f.create_dataset("strs", data=["a", "bb", "ccc", "dddd", "e"],
                         dtype=h5py.string_dtype())
        f.create_dataset("grow", data=np.ones((10, 10)), maxshape=(None, 10), chunks=(5, 10))
        f.create_dataset("gone", data=[1, 2, 3])
        f["link"] = h5py.SoftLink("/grp/sub")
        f["ext"] = h5py.ExternalLink("other.h5", "/a")
        f["dt"] = np.dtype("i4")  # a named datatype
        f.attrs["scale"] = 2


def state2(path):
    with h5py.File(path, "a") as f:
        del f.attrs["version"]
        f.attrs["author"] = "ada"
        f["data"][15, 25] = -7  # chunk [1, 2]
        f["data"][99, 0] = -1   # chunk [9, 0]
        f["data"].attrs["units"] = "km"
        if HAVE_ZSTD:
            f["zs"][40:48, 0:16] += 1  # chunk [2, 0]
        f["grp"].attrs["count"] = 4
        f["grp/sub/vec"][3] = 9
        f["strs"][2] = "changed"
        f["grow"].resize((20, 10))
        f["grow"][10:20] = 2  # chunks [2, 0] and [3, 0] added
        del f["gone"]
        f.create_group("grp/new")
        del f["link"]
        f["link"] = h5py.SoftLink("/grp/new")
        del f["ext"]
        f["ext"] = h5py.ExternalLink("other.h5", "/b")
        del f["dt"]
        f["dt"] = np.dtype("f8")
        f.attrs["scale"] = 2.0  # same value, another dtype


@pytest.fixture
def imported(tmp_path, store):
    """Revision 1: state1; revision 2: state2, both imported whole."""
    os.environ.setdefault("HDF5_PLUGIN_PATH", PLUGIN_DIR)
    p = tmp_path / "f.h5"
    state1(p)
    h5tx("import", p, "%s/f.h5" % store)
    state2(p)
    h5tx("import", p, "%s/f.h5" % store)
    return "%s/f.h5" % store


def test_objects_json(imported):
    j = objdiff(imported, 1, 2)
    assert (j["file"], j["from"], j["to"], j["from_exists"], j["to_exists"]) == \
        ("f.h5", 1, 2, True, True)
    objs = changes(j)
    # Groups, datasets and links added and removed.
    assert objs[("/grp/new", None)]["status"] == "added"
    assert objs[("/grp/new", None)]["kind"] == "group"
    gone = objs[("/gone", None)]
    assert gone["status"] == "removed" and gone["to"] is None
    assert gone["from"]["shape"] == [3] and gone["from"]["layout"] in ("contiguous", "compact")
    link = objs[("/link", None)]
    assert (link["kind"], link["status"], link["from"], link["to"]) == \
        ("soft link", "changed", "/grp/sub", "/grp/new")
    ext = objs[("/ext", None)]
    assert (ext["kind"], ext["from"], ext["to"]) == ("external link", "other.h5:/a", "other.h5:/b")
    assert (objs[("/dt", None)]["kind"], objs[("/dt", None)]["status"]) == ("datatype", "changed")
    # A chunked gzip dataset: exactly the chunks written, compared as stored.
    d = objs[("/data", None)]
    assert d["status"] == "changed" and d["changes"] == ["data"]
    assert d["from"]["filters"][0]["name"] == "gzip" and d["from"]["chunk_shape"] == [10, 10]
    assert d["data"]["changed"] is True and d["data"]["compared"] == "stored bytes"
    ch = d["data"]["chunks"]
    assert (ch["total"], ch["changed"], ch["added"], ch["removed"]) == (40, 2, 0, 0)
    assert sorted(c["index"] for c in ch["list"]) == [[1, 2], [9, 0]]
    assert sorted(c["offset"] for c in ch["list"]) == [[10, 20], [90, 0]]
    if HAVE_ZSTD:
        z = objs[("/zs", None)]
        assert z["from"]["filters"][0]["id"] == 32015
        assert z["from"]["filters"][0]["name"] == "zstd"
        assert [c["index"] for c in z["data"]["chunks"]["list"]] == [[2, 0]]
        assert z["data"]["chunks"]["total"] == 16
    # A resized dataset: shape, and chunks added.
    g = objs[("/grow", None)]
    assert g["changes"] == ["shape", "data"]
    assert (g["from"]["shape"], g["to"]["shape"], g["to"]["maxshape"]) == \
        ([10, 10], [20, 10], [None, 10])
    ch = g["data"]["chunks"]
    assert (ch["changed"], ch["added"]) == (0, 2)
    assert sorted(c["index"] for c in ch["list"]) == [[2, 0], [3, 0]]
    # Contiguous and variable-length data, compared by value.
    v = objs[("/grp/sub/vec", None)]
    assert v["data"] == {"changed": True, "compared": "values", "not_compared_because": None,
                         "chunks": None}
    s = objs[("/strs", None)]
    assert s["data"]["changed"] is True and s["from"]["dtype"].startswith("string (variable")
    # Attributes: added, removed, changed, with values.
    at = changes(j, "attribute")
    assert at[("/", "version")]["status"] == "removed"
    assert at[("/", "version")]["from"]["value"] == 1
    assert at[("/", "author")]["status"] == "added"
    assert at[("/", "author")]["to"]["value"] == "ada"
    u = at[("/data", "units")]
    assert (u["status"], u["changes"], u["from"]["value"], u["to"]["value"]) == \
        ("changed", ["value"], "m", "km")
    assert at[("/grp", "count")]["to"]["value"] == 4
    sc = at[("/", "scale")]
    assert sc["changes"] == ["dtype"] and (sc["from"]["dtype"], sc["to"]["dtype"]) == \
        ("int64", "float64")
    assert len(at) == 5 and j["attributes_changed"] == 5
    # Nothing unchanged is listed.
    assert ("/grp", None) not in objs and ("/grp/sub", None) not in objs
    assert j["objects_changed"] == len(j["changes"]) - 5


def test_objects_text_and_edges(imported, store):
    p = h5tx("diff", "--objects", imported, 1, 2)
    lines = p.out.splitlines()
    assert lines[0] == "%s: revision 1 -> 2" % imported
    assert "+ group      /grp/new" in lines
    assert "~ soft link  /link  /grp/sub -> /grp/new" in lines
    assert any(line.startswith("- dataset    /gone  ") for line in lines)
    assert "~ dataset    /data" in lines
    assert "      chunks    2 changed, 0 added, 0 removed of 40 (stored bytes compared)" in lines
    assert "                changed  [1, 2] [9, 0]" in lines
    assert '~ attribute  /data @units: "m" -> "km"' in lines
    assert "- attribute  / @version: 1" in lines
    assert "~ attribute  / @scale: 2 -> 2  (int64 () -> float64 ())" in lines
    assert "~ external link /ext  other.h5:/a -> other.h5:/b" in lines
    assert "~ datatype   /dt" in lines
    assert lines[-1].endswith("attributes differ")
    # The same revision twice, and head by default.
    assert h5tx("diff", "--objects", imported, 2).out.endswith("no differences\n")
    assert objdiff(imported, 2, "head")["changes"] == []
    # The program runs directly too, with the same arguments.
    q = subprocess.run([OBJDIFF, imported, "1", "2", "--json"], stdout=subprocess.PIPE)
    assert q.returncode == 0 and json.loads(q.stdout) == objdiff(imported, 1, 2)
    # Absent at the first revision (the empty store): every object added.
    j = objdiff(imported, 0, 1)
    assert not j["from_exists"] and all(c["status"] == "added" for c in j["changes"])
    assert ("/data", None) in changes(j)
    # Errors, as JSON too: a missing file, a bad revision, a file that is no HDF5.
    p = h5tx("diff", "--objects", "%s/nope.h5" % store, 1, 2, code=1)
    assert "nope.h5" in p.err
    p = h5tx("diff", "--objects", imported, 9, "--json", code=1)
    e = json.loads(p.err)["error"]
    assert e["code"] == "H5TX_ENOENT" and "no revision 9" in e["message"] and p.out == ""
    h5tx("import", "-", "%s/text" % store, stdin=open(__file__, "rb"))
    p = h5tx("diff", "--objects", "%s/text" % store, 3, "--json", code=1)
    e = json.loads(p.err)["error"]
    assert e["code"] == "not_hdf5" and "text@3" in e["message"]
    h5tx("diff", "--objects", imported, code=2)


def test_objdiff_missing(tmp_path, imported):
    """h5tx without h5tx-diff-objects next to it or on PATH says what is missing."""
    lone = tmp_path / "bin"
    lone.mkdir()
    shutil.copy(CLI, lone / "h5tx")
    p = subprocess.run([str(lone / "h5tx"), "diff", "--objects", imported, "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, PATH="/usr/bin:/bin"))
    assert p.returncode == 1 and "h5tx-diff-objects" in p.stderr and str(lone) in p.stderr
    # On PATH it is found.
    p = subprocess.run([str(lone / "h5tx"), "diff", "--objects", imported, "1"],
                       stdout=subprocess.PIPE, text=True,
                       env=dict(os.environ, PATH=os.path.dirname(OBJDIFF) + ":/usr/bin:/bin"))
    assert p.returncode == 0 and "~ dataset    /data" in p.stdout


@pytest.mark.skipif(not SAME_HDF5, reason="h5py's HDF5 %s is not the HDF5 this tree was built "
                    "with (%s): the driver cannot load into h5py" %
                    (h5py.version.hdf5_version, os.environ.get("H5TX_HDF5_VERSION")))
@pytest.mark.parametrize("userblock", [0, 2048])
def test_in_place_through_driver(tmp_path, store, userblock):
    """Changed in place through the driver, chunks stay where they are: an
    uncompressed chunk rewritten at the same address with the same size is
    found through the pages that changed, and unchanged chunks are not
    read."""
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import h5tx as h5tx_py
    name = "%s/live.h5" % store

    def fill(f):
        f.create_dataset("raw", data=np.zeros((200, 200), "f8"), chunks=(20, 20))
        f.create_dataset("cont", data=np.zeros(5000, "i8"))
        f.attrs["step"] = 0
    if userblock:  # h5tx.File makes no user block: written plain, imported
        # Small pages, so that a chunk's pages are found only where the
        # user block puts them.
        with h5py.File(tmp_path / "ub.h5", "w", userblock_size=userblock) as f:
            fill(f)
        h5tx("import", tmp_path / "ub.h5", name, "--page-size", 512)
    else:
        with h5tx_py.File(name, "w") as f:
            fill(f)
    first = h5tx_py.head(str(store))
    with h5tx_py.File(name, "a") as f:
        f["raw"][59, 139] = 1.5   # the last element of chunk [2, 6]
        f["cont"][4999] = 3
        f.attrs["step"] = 1
    last = h5tx_py.head(str(store))
    assert last > first
    j = objdiff(name, first, last)
    raw = changes(j)[("/raw", None)]
    ch = raw["data"]["chunks"]
    assert [c["index"] for c in ch["list"]] == [[2, 6]] and ch["changed"] == 1
    assert ch["total"] == 100
    # Most chunks sit in pages the store did not change: not read at all.
    assert ch["unchanged_pages"] > 50 and ch["read"] + ch["unchanged_pages"] == 100
    assert changes(j)[("/cont", None)]["data"]["changed"] is True
    assert changes(j, "attribute")[("/", "step")]["to"]["value"] == 1
    assert j["objects_changed"] == 2


@pytest.mark.skipif(not HAVE_ZSTD, reason="the zstd filter plugin was not built")
def test_filters_changed(tmp_path, store):
    """gzip -> zstd: stored bytes differ everywhere, so values are compared
    chunk by chunk (decompressed, through the plugin found next to the
    program); a program that cannot load the filter fails, saying so."""
    os.environ.setdefault("HDF5_PLUGIN_PATH", PLUGIN_DIR)
    data = np.arange(1000.0).reshape(10, 100)
    for i, comp in enumerate(["gzip", 32015, 32015]):
        if i == 2:
            data[7, 70] = -1  # chunk [1, 1]
        with h5py.File(tmp_path / "f.h5", "w") as f:
            f.create_dataset("x", data=data, chunks=(5, 50), compression=comp)
        h5tx("import", tmp_path / "f.h5", "%s/f.h5" % store)
    name = "%s/f.h5" % store
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    run = lambda exe, *a: subprocess.run([exe, name] + [str(x) for x in a] + ["--json"],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env, text=True)
    p = run(OBJDIFF, 1, 2)
    assert p.returncode == 0, p.stderr
    x = changes(json.loads(p.stdout))[("/x", None)]
    assert x["changes"] == ["filters"] and x["data"]["changed"] is False
    assert x["data"]["compared"] == "values"
    assert [f["name"] for f in x["from"]["filters"]] == ["gzip"]
    assert [f["name"] for f in x["to"]["filters"]] == ["zstd"]
    p = run(OBJDIFF, 1, 3)
    x = changes(json.loads(p.stdout))[("/x", None)]
    assert x["changes"] == ["filters", "data"]
    assert [c["index"] for c in x["data"]["chunks"]["list"]] == [[1, 1]]
    # Raw chunks need no filter: revisions 2 and 3 compare without it.
    lone = tmp_path / "bin"
    lone.mkdir()
    shutil.copy(OBJDIFF, lone / "h5tx-diff-objects")
    p = run(str(lone / "h5tx-diff-objects"), 2, 3)
    assert p.returncode == 0, p.stderr
    x = changes(json.loads(p.stdout))[("/x", None)]
    assert x["data"]["compared"] == "stored bytes" and x["data"]["chunks"]["changed"] == 1
    p = run(str(lone / "h5tx-diff-objects"), 1, 2)
    assert p.returncode == 1 and p.stdout == ""
    e = json.loads(p.stderr)["error"]
    assert "/x" in e["message"] and "HDF5_PLUGIN_PATH" in e["message"]


def test_compact_scalar_empty(tmp_path, store):
    """Compact and scalar datasets and empty (null) ones are compared by
    value; an empty attribute is no change."""
    def write(path, v):
        with h5py.File(path, "w") as f:
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            space = h5py.h5s.create_simple((4,))
            d = h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, space, dcpl=dcpl)
            d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([1, 2, 3, v], "i4"))
            f["scalar"] = np.float64(v)
            f.create_dataset("empty", data=h5py.Empty("f4"))
            f.attrs["none"] = h5py.Empty("i4")
    for i, v in enumerate((4, 5, 5)):
        write(tmp_path / "c.h5", v)
        if i == 2:  # the same values, other bytes: a comment attribute, then gone
            with h5py.File(tmp_path / "c.h5", "a") as f:
                f.attrs["tmp"] = "x" * 3000
                f.create_dataset("pad", data=np.zeros(1000))
                del f["pad"]
                del f.attrs["tmp"]
        h5tx("import", tmp_path / "c.h5", "%s/c.h5" % store)
    name = "%s/c.h5" % store
    j = objdiff(name, 1, 2)
    objs = changes(j)
    assert objs[("/compact", None)]["from"]["layout"] == "compact"
    assert objs[("/compact", None)]["data"]["changed"] is True
    assert objs[("/scalar", None)]["from"]["shape"] == []
    assert objs[("/scalar", None)]["data"]["compared"] == "values"
    assert set(objs) == {("/compact", None), ("/scalar", None)}
    # Rewritten with equal values: nothing differs although the bytes moved.
    assert h5tx_json("diff", name, 2, 3)["pages_changed"] > 0
    assert objdiff(name, 2, 3)["changes"] == []
