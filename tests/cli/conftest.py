"""Fixtures for the h5tx command's tests: the binary (H5TX_CLI), libh5tx
(H5TX_LIB, for helper processes), running commands, and stores."""
import json
import mmap
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))


def _find(env, rel):
    path = os.environ.get(env) or os.path.join(ROOT, "build", rel)
    if not os.path.exists(path):
        pytest.exit("%s: %s not found (set %s)" % (env, path, env), returncode=1)
    return path


CLI = _find("H5TX_CLI", "tools/h5tx")
LIB = _find("H5TX_LIB", "core/libh5tx.so")


def h5tx(*args, code=0, stdin=None, cwd=None):
    """Run the h5tx command; check its exit status (None: any)."""
    argv = [CLI] + [a if isinstance(a, bytes) else str(a) for a in args]
    p = subprocess.run(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, timeout=60)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    if code is not None:
        assert p.returncode == code, "h5tx %s: exit %d, want %d\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, args)), p.returncode, code, p.out, p.err)
    return p


def h5tx_json(*args, code=0):
    """Run a command with --json and parse what it printed."""
    p = h5tx(*args, "--json", code=code)
    assert p.stdout.endswith(b"}\n")
    return json.loads(p.stdout.decode("utf-8"))


class Holder:
    """A helper process holding a snapshot or a writer lease (holder.py)."""

    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "holder.py"), LIB]
                                  + [str(a) for a in args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.strip() == "ready", "holder failed: %r" % line

    @property
    def pid(self):
        return self.p.pid

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def remove(store, name):
    """Remove file `name` from head (h5tx_remove, in a helper process)."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "holder.py"), LIB, "remove",
                          str(store), name], check=True, stdout=subprocess.PIPE, text=True)
    return int(out.stdout)


@pytest.fixture
def store(tmp_path):
    """A new, empty store with the defaults."""
    s = tmp_path / "lab.h5tx"
    h5tx("init", s)
    return s


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def flip(store, needle):
    """Flip a bit inside the first occurrence of `needle` in the store's
    files (page log segments first, then the index), as
    tests/core/test_corrupt.c does (nothing has the store open)."""
    logdir = os.path.join(str(store), "log")
    files = [os.path.join(logdir, n) for n in sorted(os.listdir(logdir))]
    files.append(os.path.join(str(store), "index", "data.mdb"))
    for path in files:
        if os.path.getsize(path) == 0:
            continue
        with open(path, "r+b") as f:
            m = mmap.mmap(f.fileno(), 0)
            i = m.find(needle)
            if i >= 0:
                m[i + 5] ^= 0x20
            m.close()
            if i >= 0:
                return
    assert False, needle
