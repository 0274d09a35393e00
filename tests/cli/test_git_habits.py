"""What a git user takes for granted: --json on import and tag (the new
revision), errors as JSON under --json, "did you mean" for commands,
options and tags, --version in --help, log of a name that never existed."""
import json

from conftest import h5tx, h5tx_json, write


def test_import_json(tmp_path, store):
    j = h5tx_json("import", write(tmp_path / "a", b"x" * 70000), "%s/a.h5" % store)
    assert j == {"store": str(store), "file": "a.h5", "revision": 1, "size": 70000,
                 "committed": True}
    j = h5tx_json("import", tmp_path / "a", "%s/a.h5" % store)
    assert j == {"store": str(store), "file": "a.h5", "revision": 1, "size": 70000,
                 "committed": False}


def test_tag_json(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"x"), "%s/a" % store)
    h5tx("import", write(tmp_path / "b", b"y"), "%s/a" % store)
    assert h5tx_json("tag", store, "v1", 1) == {"store": str(store), "tag": "v1", "revision": 1,
                                                "previous": None}
    assert h5tx_json("tag", store, "v1") == {"store": str(store), "tag": "v1", "revision": 2,
                                             "previous": 1}
    assert h5tx_json("tag", store, "-d", "v1") == {"store": str(store), "tag": "v1",
                                                   "revision": None, "previous": 2}


def test_json_errors(tmp_path, store):
    # A failure: one JSON document on stderr, nothing on stdout.
    p = h5tx("import", tmp_path / "missing", "%s/a" % store, "--json", code=1)
    assert p.out == ""
    e = json.loads(p.err)["error"]
    assert e["exit"] == 1 and "missing" in e["message"]
    p = h5tx("log", "%s@7" % store, "--json", code=1)
    e = json.loads(p.err)["error"]
    assert e["code"] == "H5TX_ENOENT" and "no revision 7" in e["message"]
    # A usage error.
    p = h5tx("tag", store, "--json", "--bogus", code=2)
    e = json.loads(p.err)["error"]
    assert e["code"] == "usage" and e["exit"] == 2 and "--bogus" in e["message"]
    # Without --json, text as before.
    p = h5tx("log", "%s@7" % store, code=1)
    assert p.err.startswith("h5tx: ")


def test_did_you_mean(tmp_path, store):
    p = h5tx("improt", code=2)
    assert "did you mean 'import'?" in p.err
    p = h5tx("lgo", store, code=2)
    assert "did you mean 'log'?" in p.err
    p = h5tx("help", "improt", code=2)
    assert "did you mean 'import'?" in p.err
    p = h5tx("zzzzzz", code=2)
    assert "did you mean" not in p.err
    p = h5tx("log", store, "--jsno", code=2)
    assert "did you mean '--json'?" in p.err
    p = h5tx("gc", store, "--keep-lats", "1", code=2)
    assert "did you mean '--keep-last'?" in p.err
    h5tx("import", write(tmp_path / "a", b"x"), "%s/a" % store)
    h5tx("tag", store, "release-1")
    p = h5tx("ls", "%s@relase-1" % store, code=1)
    assert "did you mean 'release-1'?" in p.err
    p = h5tx("tag", "-d", store, "release1", code=1)
    assert "did you mean 'release-1'?" in p.err
    p = h5tx("ls", "%s@zzzz" % store, code=1)
    assert "did you mean" not in p.err
    # Under --json the suggestion is part of the message.
    p = h5tx("ls", "%s@relase-1" % store, "--json", code=1)
    assert "did you mean 'release-1'?" in json.loads(p.err)["error"]["message"]


def test_version_in_help():
    out = h5tx("--help").out
    assert "--version" in out
    assert h5tx("--version").out.startswith("h5tx ")


def test_log_unknown_name(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"x"), "%s/runs/a.h5" % store)
    p = h5tx("log", "%s/runs/b.h5" % store, code=1)
    assert "runs/b.h5" in p.err and "never" in p.err
    # A name that existed, and a directory of names, are not errors.
    assert h5tx_json("log", "%s/runs" % store)["commits"][0]["revision"] == 1
    h5tx("import", write(tmp_path / "b", b"y"), "%s/later" % store)
    assert h5tx("log", "%s/later@1" % store).out == "no commits changed later\n"
