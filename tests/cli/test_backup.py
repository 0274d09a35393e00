"""backup: a consistent copy of a store while a writer commits in a loop
and gc collects and compacts behind it; every revision the copy holds reads
back as the writer wrote it, `verify` finds nothing wrong, and the copy is a
store of its own."""
import os
import random
import subprocess
import sys
import textwrap

from conftest import CLI, h5tx, h5tx_json

# The writer: commit i of file f holds content(i), its message is str(i).
WRITER = textwrap.dedent("""
    import os, random, subprocess, sys
    cli, store, work, stop = sys.argv[1:5]
    i = 0
    while not os.path.exists(stop):
        i += 1
        n = 50000 + 37 * i
        data = random.Random(i).randbytes(n)
        src = os.path.join(work, "src")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run([cli, "import", "-m", str(i), src, store + "/f"], check=True,
                       stdout=subprocess.DEVNULL)
        if i % 4 == 0:
            subprocess.run([cli, "gc", "--keep-last", "3", store], check=True,
                           stdout=subprocess.DEVNULL)
        print(i, flush=True)
""")


def content(i):
    return random.Random(i).randbytes(50000 + 37 * i)


def check_copy(copy):
    p = h5tx("verify", copy)
    assert "no problems" in p.out, p.out
    commits = h5tx_json("log", copy)["commits"]
    assert commits
    seen = 0
    for c in commits:
        if c["collected"]:
            continue
        i = int(c["message"])
        got = h5tx("export", "%s/f@%d" % (copy, c["revision"]), "-").stdout
        assert got == content(i), "revision %d (commit %d) differs" % (c["revision"], i)
        seen += 1
    return commits[0]["revision"], seen


def test_backup_while_written(tmp_path, store):
    stop = tmp_path / "stop"
    w = subprocess.Popen([sys.executable, "-c", WRITER, CLI, str(store), str(tmp_path),
                          str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        assert w.stdout.readline().strip() == "1"   # it has committed once
        heads = []
        for k in range(4):
            copy = tmp_path / ("copy%d.h5tx" % k)
            j = h5tx_json("backup", store, copy)
            assert j["store"] == str(store) and j["backup"] == str(copy)
            assert j["revision"] >= 1 and j["log_bytes"] > 0
            head, seen = check_copy(copy)
            assert head == j["revision"] and seen >= 1
            heads.append(head)
            w.stdout.readline()                    # one more commit meanwhile
        assert heads == sorted(heads) and heads[-1] > heads[0]
    finally:
        stop.touch()
        w.communicate(timeout=60)
    assert w.returncode == 0
    # the copy is a store of its own: written, collected, verified
    copy = tmp_path / "copy3.h5tx"
    h5tx("import", "-m", "mine", str(tmp_path / "src"), "%s/g" % copy)
    h5tx("gc", "--keep-last", "1", copy)
    assert "no problems" in h5tx("verify", copy).out
    assert h5tx("export", "%s/g" % copy, "-").stdout == (tmp_path / "src").read_bytes()


def test_backup_errors(tmp_path, store):
    h5tx("import", __file__, "%s/f" % store)
    p = h5tx("backup", store, tmp_path / "copy", code=2)
    assert "end in .h5tx" in p.err
    h5tx("backup", store, tmp_path / "copy.h5tx")
    p = h5tx("backup", store, tmp_path / "copy.h5tx", "--json", code=1)
    assert '"H5TX_EEXIST"' in p.err
    p = h5tx("backup", store, tmp_path / "no" / "copy.h5tx", code=1)
    assert "does not exist" in p.err
    # nothing half-made is left beside it
    assert sorted(os.listdir(tmp_path)) == ["copy.h5tx", "lab.h5tx"]
