"""A commit through the mount whose flush to disk fails (the page log's or
the index's): fsync(2) reports EIO and nothing is committed: head stays,
other processes still see the last revision (bytes and size), and the
writer keeps its changes, which the next fsync or the last close commits.
The daemon runs with tests/core/fault_shim.c preloaded; the test makes the
store's syncs fail while a marker file exists."""
import errno
import os
import subprocess

import pytest

from conftest import h5tx_cmd, head

SHIM = os.environ.get("H5TX_FAULT_SHIM", "")


@pytest.fixture
def faulty(tmp_path, store, mounts):
    if not SHIM or not os.path.exists(SHIM):
        pytest.skip("the fault shim (H5TX_FAULT_SHIM) is not built: %r" % SHIM)
    arm = tmp_path / "fail-syncs"
    m = mounts(store, foreground=True,
               env={"LD_PRELOAD": SHIM, "H5TX_FAULT_SYNC_WHILE": str(arm)})
    return m, arm


def other_process_reads(path):
    """What another process (cat) reads of `path`, and the size it sees."""
    out = subprocess.run(["cat", path], check=True, stdout=subprocess.PIPE).stdout
    size = int(subprocess.run(["stat", "-c", "%s", path], check=True,
                              stdout=subprocess.PIPE).stdout)
    return out, size


@pytest.mark.parametrize("passing", ["0", "1"])  # the page log's flush fails, the index's
def test_failed_flush_commits_nothing(store, faulty, passing):
    m, arm = faulty
    path = m.p("f.bin")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"one")
        os.fsync(fd)
        first = head(store)
        os.pwrite(fd, b"second revision", 0)
        arm.write_text(passing)
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        arm.unlink()
        assert head(store) == first
        assert other_process_reads(path) == (b"one", 3)
        os.fsync(fd)  # the changes were kept: now they commit
        assert head(store) == first + 1
        assert other_process_reads(path) == (b"second revision", 15)
    finally:
        os.close(fd)
    assert head(store) == first + 1
    assert h5tx_cmd("verify", store).returncode == 0


def test_close_after_failed_flush_commits(store, faulty):
    """The last close after a failed fsync commits what the writer kept."""
    m, arm = faulty
    path = m.p("g.bin")
    with open(path, "wb") as f:
        f.write(b"first")
    first = head(store)
    assert other_process_reads(path) == (b"first", 5)  # cached by the kernel now
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"longer second", 0)
        arm.write_text("0")
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        arm.unlink()
        assert head(store) == first
    finally:
        os.close(fd)
    assert head(store) == first + 1
    assert other_process_reads(path) == (b"longer second", 13)
    assert h5tx_cmd("verify", store).returncode == 0


def test_new_file_whose_first_commit_fails(store, faulty):
    """A file created through the mount whose first commit fails: no
    revision; the close commits it whole."""
    m, arm = faulty
    path = m.p("new.bin")
    before = head(store)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"brand new bytes")
        arm.write_text("0")
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        arm.unlink()
        assert head(store) == before
    finally:
        os.close(fd)
    assert head(store) == before + 1
    assert other_process_reads(path) == (b"brand new bytes", 15)
    assert h5tx_cmd("verify", store).returncode == 0
