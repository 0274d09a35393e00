"""rm and mv: one commit each, -m messages, --json with the new revision,
errors as JSON under --json."""
import json

from conftest import h5tx, h5tx_json, write


def test_rm(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"a" * 1000), "%s/runs/a.h5" % store)   # 1
    h5tx("import", write(tmp_path / "b", b"b" * 10), "%s/b" % store)             # 2
    p = h5tx("rm", "%s/runs/a.h5" % store)
    assert p.out == "removed %s/runs/a.h5 in revision 3\n" % store
    assert [f["name"] for f in h5tx_json("ls", store)["files"]] == ["b"]
    c = h5tx_json("log", store, "-n", 1)["commits"][0]
    assert (c["revision"], c["files"], c["message"]) == (3, ["runs/a.h5"], "rm runs/a.h5")
    # Still readable at the revision before.
    assert h5tx("export", "%s/runs/a.h5@2" % store, "-").stdout == b"a" * 1000
    j = h5tx_json("rm", "%s/b" % store, "-m", "drop b")
    assert j == {"store": str(store), "file": "b", "revision": 4}
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "drop b"
    # A file that is not there: exit 1, nothing committed.
    p = h5tx("rm", "%s/b" % store, code=1)
    assert "b" in p.err and str(store) in p.err
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["revision"] == 4
    # A revision makes no sense.
    h5tx("rm", "%s/b@2" % store, code=2)


def test_mv(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"a" * 1000), "%s/a.h5" % store)        # 1
    h5tx("import", write(tmp_path / "b", b"b" * 10), "%s/b.h5" % store)          # 2
    p = h5tx("mv", "%s/a.h5" % store, "runs/a.h5")
    assert p.out == "renamed %s/a.h5 to runs/a.h5 in revision 3\n" % store
    assert [f["name"] for f in h5tx_json("ls", store)["files"]] == ["b.h5", "runs/a.h5"]
    assert h5tx("export", "%s/runs/a.h5" % store, "-").stdout == b"a" * 1000
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "mv a.h5 runs/a.h5"
    # The target may be written as STORE/NEW too; -m sets the message.
    j = h5tx_json("mv", "%s/b.h5" % store, "%s/c.h5" % store, "-m", "rename b")
    assert j == {"store": str(store), "from": "b.h5", "to": "c.h5", "revision": 4}
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "rename b"
    # Another store as target: usage error.
    h5tx("mv", "%s/c.h5" % store, str(tmp_path / "other.h5tx/c.h5"), code=2)
    # Missing source: exit 1.
    p = h5tx("mv", "%s/nope" % store, "x", code=1)
    assert "nope" in p.err
    # Same name: usage error from the core (H5TX_EINVAL).
    h5tx("mv", "%s/c.h5" % store, "c.h5", code=2)
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["revision"] == 4


def test_rm_mv_json_errors(tmp_path, store):
    p = h5tx("rm", "%s/nope" % store, "--json", code=1)
    assert p.out == ""
    j = json.loads(p.err)
    assert j["error"]["code"] == "H5TX_ENOENT" and j["error"]["exit"] == 1
    assert "nope" in j["error"]["message"]
    p = h5tx("mv", "%s/nope" % store, "--json", code=2)
    j = json.loads(p.err)
    assert j["error"]["code"] == "usage" and j["error"]["exit"] == 2
    assert "missing" in j["error"]["message"]
