"""cp, restore and revert: one commit each that stores no page payload (stats shows
what sharing saved), -m messages, --json with the new revision, errors;
three imports of the same bytes store them once."""
import os

from conftest import Holder, h5tx, h5tx_json, write

MB = 1 << 20


def payload(store):
    j = h5tx_json("stats", store)
    return j["live_bytes"], j["dedupe_saved_bytes"]


def test_three_imports_store_once(tmp_path, store):
    data = os.urandom(3 * MB)
    src = write(tmp_path / "a", data)
    for name in ("a", "b", "c"):
        h5tx("import", src, "%s/%s" % (store, name))
    live, shared = payload(store)
    assert live == 3 * MB and shared == 6 * MB
    for name in ("a", "b", "c"):
        assert h5tx("export", "%s/%s" % (store, name), "-").stdout == data
    p = h5tx("stats", store)
    assert "saved by sharing (3.00x)" in p.out


def test_cp(tmp_path, store):
    v1, v2 = os.urandom(2 * MB), os.urandom(2 * MB)
    h5tx("import", write(tmp_path / "v1", v1), "%s/a.h5" % store)      # 1
    h5tx("import", write(tmp_path / "v2", v2), "%s/a.h5" % store)      # 2
    live = payload(store)[0]
    p = h5tx("cp", "%s/a.h5" % store, "runs/b.h5")
    assert p.out == "copied %s/a.h5 to runs/b.h5 in revision 3\n" % store
    assert h5tx("export", "%s/runs/b.h5" % store, "-").stdout == v2
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "cp a.h5 runs/b.h5"
    # from an earlier revision, target as STORE/NEW, a message
    j = h5tx_json("cp", "%s/a.h5@1" % store, "%s/old.h5" % store, "-m", "keep v1")
    assert j == {"store": str(store), "from": "a.h5", "to": "old.h5", "revision": 4}
    assert h5tx("export", "%s/old.h5" % store, "-").stdout == v1
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "keep v1"
    # no payload stored: the same payload bytes, shared by more versions
    assert payload(store) == (live, 4 * MB)
    # an existing target is replaced (its earlier revisions keep it)
    h5tx("cp", "%s/a.h5@1" % store, "runs/b.h5")
    assert h5tx("export", "%s/runs/b.h5" % store, "-").stdout == v1
    assert h5tx("export", "%s/runs/b.h5@4" % store, "-").stdout == v2
    # errors: onto itself, another store, a directory of files (usage);
    # a missing source (failure); nothing committed
    head = h5tx_json("log", store, "-n", 1)["commits"][0]["revision"]
    h5tx("cp", "%s/a.h5" % store, "a.h5", code=2)
    h5tx("cp", "%s/a.h5" % store, str(tmp_path / "other.h5tx/x"), code=2)
    p = h5tx("cp", "%s/nope" % store, "x", code=1)
    assert "nope" in p.err
    p = h5tx("cp", "%s/a.h5@99" % store, "x", code=1)
    assert "99" in p.err
    p = h5tx("cp", "%s/a.h5" % store, "runs", code=1)
    assert "runs/b.h5" in p.err
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["revision"] == head


def test_restore(tmp_path, store):
    v1 = os.urandom(2 * MB)
    v2 = v1[:MB] + os.urandom(MB // 2)      # changed and shorter
    h5tx("import", write(tmp_path / "v1", v1), "%s/a.h5" % store)      # 1
    h5tx("tag", store, "good", 1)
    h5tx("import", write(tmp_path / "v2", v2), "%s/a.h5" % store)      # 2
    live = payload(store)[0]
    p = h5tx("restore", "%s/a.h5@good" % store)
    assert p.out == "restored %s/a.h5 as at revision 1 in revision 3\n" % store
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == v1
    assert h5tx("export", "%s/a.h5@2" % store, "-").stdout == v2
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "restore a.h5@good"
    assert payload(store)[0] == live
    j = h5tx_json("restore", "%s/a.h5@2" % store, "-m", "v2 again")
    assert j == {"store": str(store), "file": "a.h5", "from_revision": "2", "revision": 4}
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == v2
    # nothing differs: no revision
    p = h5tx("restore", "%s/a.h5@4" % store)
    assert "no revision made (head is 4)" in p.out
    # removed, then restored
    h5tx("rm", "%s/a.h5" % store)                                       # 5
    h5tx("restore", "%s/a.h5@1" % store)                                # 6
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == v1
    assert payload(store)[0] == live
    # errors: no @REV (usage), a revision without the file, a live writer
    h5tx("restore", "%s/a.h5" % store, code=2)
    p = h5tx("restore", "%s/b.h5@1" % store, code=1)
    assert "b.h5" in p.err
    with Holder("writer", store, "a.h5"):
        p = h5tx("restore", "%s/a.h5@2" % store, "--json", code=1)
        assert '"H5TX_EBUSY"' in p.err
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["revision"] == 6


def test_revert(tmp_path, store):
    a1, a2, b1 = os.urandom(MB), os.urandom(MB + 5), os.urandom(3000)
    h5tx("import", write(tmp_path / "a1", a1), "%s/a.h5" % store)     # 1
    h5tx("import", write(tmp_path / "a2", a2), "%s/a.h5" % store)     # 2: a changed
    h5tx("import", write(tmp_path / "b1", b1), "%s/b.h5" % store)     # 3: b made
    h5tx("mv", "%s/a.h5" % store, "c.h5")                              # 4: a renamed
    live = payload(store)[0]
    # undo the rename: a.h5 back, c.h5 gone
    p = h5tx("revert", store, 4)
    assert p.out == "reverted revision 4 of %s in revision 5\n" % store
    assert [f["name"] for f in h5tx_json("ls", store)["files"]] == ["a.h5", "b.h5"]
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == a2
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["message"] == "revert 4"
    # undo a creation
    j = h5tx_json("revert", store, 3, "-m", "no b")
    assert j == {"store": str(store), "reverted": "3", "revision": 6}
    assert [f["name"] for f in h5tx_json("ls", store)["files"]] == ["a.h5"]
    # undo a content change: the earlier bytes, no payload stored
    h5tx("revert", store, 2)                                           # 7
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == a1
    assert payload(store)[0] == live
    # a conflict: a.h5 changed again after revision 2 (by 7); nothing committed
    p = h5tx("revert", store, 2, "--json", code=1)
    assert '"H5TX_ECONFLICT"' in p.err and "a.h5" in p.err
    h5tx("revert", store, 7)                                           # 8: a2 again
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == a2
    # undo a removal
    h5tx("rm", "%s/a.h5" % store)                                      # 9
    h5tx("revert", store, 9)                                           # 10
    assert h5tx("export", "%s/a.h5" % store, "-").stdout == a2
    p = h5tx("revert", store, 99, code=1)
    assert "99" in p.err
    assert h5tx_json("log", store, "-n", 1)["commits"][0]["revision"] == 10
