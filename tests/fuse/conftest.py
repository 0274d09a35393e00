"""Fixtures for the h5tx mount tests: the h5tx command (H5TX_CLI), stores,
mounts that are always unmounted (also when a test fails), the mount's
counters, and HDF5 files written through the driver (python/h5tx.py,
H5TX_VFD_LIB) for comparison."""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
try:
    import h5tx  # noqa: E402
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import h5tx  # noqa: E402,F811

CLI = os.environ.get("H5TX_CLI") or os.path.join(ROOT, "build", "tools", "h5tx")
if not os.path.exists(CLI):
    pytest.exit("H5TX_CLI: %s not found" % CLI, returncode=1)


def h5tx_cmd(*args, code=0, timeout=60):
    """Run the h5tx command; check its exit status (None: any)."""
    p = subprocess.run([CLI] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    if code is not None:
        assert p.returncode == code, "h5tx %s: exit %d, want %d\n%s%s" % (
            " ".join(map(str, args)), p.returncode, code, p.out, p.err)
    return p


def wait_for(cond, what, timeout=20.0):
    """Poll `cond` (bounded) until it holds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def unmount(mnt):
    """Unmount `mnt` if it is mounted: h5tx umount, else a lazy fusermount3."""
    if not os.path.ismount(str(mnt)) and not _in_mountinfo(str(mnt)):
        return
    p = h5tx_cmd("umount", mnt, code=None)
    if p.returncode != 0:
        subprocess.run(["fusermount3", "-uz", str(mnt)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def daemon_pids(mnt):
    """Processes running `h5tx mount ... MNT` (ours, by command line)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[1] == b"mount" and str(mnt).encode() in argv:
            out.append(int(pid))
    return out


def _in_mountinfo(mnt):
    mnt = os.path.realpath(mnt) if os.path.exists(os.path.dirname(mnt)) else mnt
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


class Mount:
    """A mounted store: `path` is the mount point."""

    def __init__(self, store, path, *args, foreground=False, env=None):
        self.store, self.path, self.proc = str(store), str(path), None
        os.makedirs(self.path, exist_ok=True)
        if foreground:
            self.proc = subprocess.Popen([CLI, "mount", "-f", self.store, self.path] + list(args),
                                         stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         env=None if env is None else dict(os.environ, **env))
            wait_for(lambda: os.path.ismount(self.path) or self.proc.poll() is not None,
                     "the mount at " + self.path)
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
        else:  # returns once the daemon serves the mount
            h5tx_cmd("mount", self.store, self.path, *args)
            assert os.path.ismount(self.path)

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def stats(self):
        """The mount's counters (.h5tx/stats) as a dict of ints."""
        with open(self.p(".h5tx", "stats")) as f:
            return {k: int(v) for k, v in (line.split() for line in f)}

    def close(self):
        try:
            unmount(self.path)
        finally:
            if self.proc is not None:
                if self.proc.poll() is None:
                    self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=30)
                self.proc.stderr.close()


@pytest.fixture
def store(tmp_path):
    """A new, empty store."""
    s = tmp_path / "lab.h5tx"
    h5tx_cmd("init", s)
    return str(s)


@pytest.fixture
def mounts(tmp_path):
    """Make mounts with mounts(store, ...); each is unmounted at the end,
    whatever happened."""
    made = []

    def make(store, *args, foreground=False, name="mnt", env=None):
        m = Mount(store, tmp_path / name, *args, foreground=foreground, env=env)
        made.append(m)
        return m

    yield make
    for m in reversed(made):
        m.close()


@pytest.fixture
def mnt(store, mounts):
    """The empty store, mounted."""
    return mounts(store)


def head(store):
    return h5tx.head(store)


def write_sample(name, seed, libver=None):
    """An HDF5 file through the driver: groups, attributes, contiguous and
    chunked/gzip datasets, strings. Returns the data written."""
    rng = np.random.default_rng(seed)
    data = {
        "grp/data": np.arange(1000, dtype="f8") * (seed + 1),
        "grp/chunked": rng.integers(0, 1000, size=(64, 50), dtype="i4"),
        "names": np.array([b"alpha", b"beta", b"gamma%d" % seed]),
    }
    with h5tx.File(name, "w", libver=libver) as f:
        f.attrs["seed"] = seed
        f["grp/data"] = data["grp/data"]
        f.create_dataset("grp/chunked", data=data["grp/chunked"], chunks=(16, 10),
                         compression="gzip")
        f["names"] = data["names"]
        f["grp"].attrs["title"] = "run %d" % seed
    return data


def tree(f):
    """Everything in an open h5py file: {path: (kind, value or dtype, attrs)}."""
    out = {"/": ("group", None, {k: _val(v) for k, v in f.attrs.items()})}

    def visit(name, obj):
        attrs = {k: _val(v) for k, v in obj.attrs.items()}
        if isinstance(obj, h5py.Dataset):
            out[name] = ("dataset", (str(obj.dtype), obj.shape, _val(obj[()])), attrs)
        else:
            out[name] = ("group", None, attrs)

    f.visititems(visit)
    return out


def _val(v):
    a = np.asarray(v)
    return (a.dtype.str, a.shape, a.tobytes())


def read(path):
    with open(path, "rb") as f:
        return f.read()
