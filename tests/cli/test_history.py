"""log, show, tag and tags; JSON output stays valid whatever messages and
names hold."""
import json
import socket

from conftest import h5tx, h5tx_json, remove, write


def build(tmp_path, store):
    h5tx("import", write(tmp_path / "a", b"a" * 100000), "%s/runs/a.h5" % store)   # 1
    h5tx("import", write(tmp_path / "b", b"b" * 5000), "%s/runs/b.h5" % store)     # 2
    h5tx("import", write(tmp_path / "c", b"c" * 10), "%s/top" % store,
         "-m", "line one\nline two")                                               # 3
    h5tx("import", write(tmp_path / "a2", b"a" * 100000 + b"more"),
         "%s/runs/a.h5" % store)                                                   # 4


def test_log(tmp_path, store):
    build(tmp_path, store)
    h5tx("tag", store, "v1", 2)
    h5tx("tag", store, "also", 2)
    j = h5tx_json("log", store)
    assert j["store"] == str(store) and j["file"] is None
    cs = j["commits"]
    assert [c["revision"] for c in cs] == [4, 3, 2, 1]
    assert [c["parent"] for c in cs] == [3, 2, 1, 0]
    assert cs[0]["files"] == ["runs/a.h5"] and cs[1]["files"] == ["top"]
    assert cs[1]["message"] == "line one\nline two"
    assert cs[3]["message"] == "import %s" % (tmp_path / "a")
    assert cs[2]["tags"] == ["also", "v1"] and cs[0]["tags"] == []
    for c in cs:
        assert c["host"] == socket.gethostname() and c["pid"] > 0
        assert c["time"].endswith("Z") and c["time_ns"] > 1.7e18
        assert c["bytes_added"] > 0 and c["pages_added"] > 0 and not c["collected"]
    assert cs[0]["pages_added"] == 1  # only the last page of a.h5 changed
    # Filtered by file, or by a directory of names; limited; from a revision.
    assert [c["revision"] for c in h5tx_json("log", "%s/runs/a.h5" % store)["commits"]] == [4, 1]
    assert [c["revision"] for c in h5tx_json("log", "%s/runs" % store)["commits"]] == [4, 2, 1]
    assert [c["revision"] for c in h5tx_json("log", store, "-n", 2)["commits"]] == [4, 3]
    assert [c["revision"] for c in h5tx_json("log", "%s@v1" % store)["commits"]] == [2, 1]
    assert [c["revision"] for c in h5tx_json("log", "%s/top@2" % store)["commits"]] == []
    p = h5tx("log", store, "--max-count=2")
    blocks = p.out.split("\n\n")
    assert len(blocks) == 2
    first = blocks[0].splitlines()
    assert first[0].startswith("revision 4  20") and " pid " in first[0]
    assert "+" in first[0] and "in 1 page" in first[0]
    assert first[1] == "    import %s" % (tmp_path / "a2")
    assert first[2] == "    files: runs/a.h5"
    assert blocks[1].splitlines()[1:3] == ["    line one", "    line two"]
    assert "[also, v1]" in h5tx("log", "%s@2" % store).out.splitlines()[0]
    assert h5tx("log", "%s/top@2" % store).out == "no commits changed top\n"
    p = h5tx("log", "%s@12" % store, code=1)
    assert p.err == "h5tx: store %s: no revision 12 (head is 4)\n" % store


def test_show(tmp_path, store):
    build(tmp_path, store)
    rev = remove(store, "runs/b.h5")                                                # 5
    assert rev == 5
    h5tx("tag", store, "gone", 5)
    j = h5tx_json("show", "%s@4" % store)
    assert (j["revision"], j["parent"], j["tags"], j["collected"]) == (4, 3, [], False)
    f, = j["files"]
    assert f == {"name": "runs/a.h5", "status": "changed", "size": 100004, "page_size": 65536,
                 "parent_size": 100000, "pages_changed": 1, "bytes_changed": 100004 - 65536}
    f, = h5tx_json("show", "%s@1" % store)["files"]
    assert f["status"] == "created" and f["parent_size"] is None and f["pages_changed"] == 2
    j = h5tx_json("show", "%s@gone" % store)
    assert j["revision"] == 5 and j["tags"] == ["gone"] and j["message"] == "remove"
    f, = j["files"]
    assert f["status"] == "removed" and f["size"] is None and f["parent_size"] == 5000
    assert h5tx_json("show", store)["revision"] == 5  # head
    p = h5tx("show", "%s@3" % store)
    lines = p.out.splitlines()
    assert lines[0] == "revision  3"
    assert lines[1] == "parent    2"
    pid = h5tx_json("show", "%s@3" % store)["pid"]
    assert lines[3] == "writer    pid %d on %s" % (pid, socket.gethostname())
    assert "    line one\n    line two\n" in p.out
    assert lines[-2].split() == ["STATUS", "FILE", "SIZE", "WAS", "CHANGED"]
    assert lines[-1].split()[:2] == ["created", "top"]
    # Only the files under NAME.
    assert h5tx_json("show", "%s/runs@2" % store)["files"][0]["name"] == "runs/b.h5"
    p = h5tx("show", "%s/top@2" % store, code=1)
    assert p.err == "h5tx: store %s: revision 2 did not change 'top'\n" % store
    p = h5tx("show", "%s@0" % store, code=1)
    assert "revision 0 is the empty store" in p.err
    p = h5tx("show", "%s@99" % store, code=1)
    assert "no revision 99 (head is 5)" in p.err
    # A collected revision still shows its record.
    h5tx("gc", store, "--keep-last", 1)
    j = h5tx_json("show", "%s@2" % store)
    assert j["collected"] and j["files"][0]["pages_changed"] is None
    assert j["files"][0]["status"] == "unknown"
    assert "(collected" in h5tx("show", "%s@2" % store).out
    cs = h5tx_json("log", "%s@2" % store)["commits"]
    assert [(c["revision"], c["collected"]) for c in cs] == [(2, True), (1, True)]
    assert "(collected)" in h5tx("log", "%s@2" % store).out.splitlines()[0]


def test_tags(tmp_path, store):
    build(tmp_path, store)
    assert h5tx("tags", store).out == "no tags\n"
    assert h5tx_json("tags", store)["tags"] == []
    assert h5tx("tag", store, "v1", 1).out == "tagged revision 1 as v1\n"
    assert h5tx("tag", store, "latest").out == "tagged revision 4 as latest\n"
    assert h5tx("tag", store, "v1", "latest").out == "moved tag v1 from revision 1 to 4\n"
    assert h5tx("tag", store, "third", 3).out == "tagged revision 3 as third\n"
    j = h5tx_json("tags", store)
    assert [(t["name"], t["revision"]) for t in j["tags"]] == [
        ("latest", 4), ("third", 3), ("v1", 4)]
    assert j["tags"][1]["message"] == "line one\nline two"
    assert j["tags"][1]["time"].endswith("Z")
    lines = h5tx("tags", store).out.splitlines()
    assert lines[0].split() == ["TAG", "REVISION", "TIME", "MESSAGE"]
    assert lines[2].split()[:2] == ["third", "3"] and lines[2].endswith("line one")
    assert h5tx("tag", "-d", store, "v1").out == "deleted tag v1 (was revision 4)\n"
    assert h5tx("tag", "--delete", store, "third").out == "deleted tag third (was revision 3)\n"
    assert [t["name"] for t in h5tx_json("tags", store)["tags"]] == ["latest"]
    p = h5tx("tag", "-d", store, "v1", code=1)
    assert p.err == "h5tx: store %s: no tag 'v1'\n" % store
    p = h5tx("tag", store, "x", 9, code=1)
    assert p.err == "h5tx: store %s: no revision 9 (head is 4)\n" % store
    p = h5tx("tag", store, "x", "nosuch", code=1)
    assert p.err == "h5tx: store %s: no tag 'nosuch'\n" % store
    p = h5tx("tag", store, "a/b", code=2)
    assert "contains '/' or '@'" in p.err
    p = h5tx("tags", tmp_path / "none.h5tx", code=1)
    assert "does not exist" in p.err


def test_json_escaping(tmp_path, store):
    """Control characters, quotes, backslashes, non-ASCII and bytes that
    are not UTF-8, in messages and file names, give valid JSON."""
    msg = 'tab\there "quoted" back\\slash \x01\x1f ünïcödé ☃ 𝄞'
    h5tx("import", write(tmp_path / "a", b"x"), "%s/dir/ünï ☃.h5" % store, "-m", msg)
    c = h5tx_json("log", store)["commits"][0]
    assert c["message"] == msg and c["files"] == ["dir/ünï ☃.h5"]
    raw = b"bad \xff\xfe utf8 \xc3 \xed\xa0\x80 end"  # invalid, truncated, a surrogate
    h5tx("import", write(tmp_path / "b", b"y"), "%s/f" % store, "-m", raw)
    p = h5tx("show", store, "--json")
    assert b"\xff" not in p.stdout
    j = json.loads(p.stdout.decode("utf-8"))
    assert j["message"] == "bad \ufffd\ufffd utf8 \ufffd \ufffd\ufffd\ufffd end"
    assert h5tx_json("ls", store)["files"][0]["name"] == "dir/ünï ☃.h5"
    assert h5tx_json("tags", store)["tags"] == []
