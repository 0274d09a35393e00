"""A commit through the mount whose index transaction landed but whose flush
failed (H5TX_ESYNC): fsync(2) reports EIO, yet the revision is head, every
process sees it (bytes and size), and the writer goes on from it. The
daemon runs with tests/core/fault_shim.c preloaded; the test makes the
data.mdb syncs fail while a marker file exists."""
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


def test_landed_commit_with_failed_flush_is_head(store, faulty):
    m, arm = faulty
    path = m.p("f.bin")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"one")
        os.fsync(fd)
        first = head(store)
        os.pwrite(fd, b"second revision", 0)
        arm.write_text("1")  # the commit's own sync passes, the durability sync fails
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        arm.unlink()
        # The revision landed: head moved, and another process sees it whole.
        assert head(store) == first + 1
        assert other_process_reads(path) == (b"second revision", 15)
        # The writer goes on from it: no conflict with its own revision.
        os.pwrite(fd, b"third", 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert head(store) == first + 2
    assert other_process_reads(path) == (b"thirdd revision", 15)
    assert h5tx_cmd("verify", store).returncode == 0


def test_close_after_landed_commit_with_failed_flush(store, faulty):
    """The close that follows a landed-but-unflushed commit has nothing left
    to commit, and what other processes had cached moves on to it."""
    m, arm = faulty
    path = m.p("g.bin")
    with open(path, "wb") as f:
        f.write(b"first")
    first = head(store)
    assert other_process_reads(path) == (b"first", 5)  # cached by the kernel now
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"longer second", 0)
        arm.write_text("1")
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        arm.unlink()
    finally:
        os.close(fd)  # nothing is left to commit: no error, no new revision
    assert head(store) == first + 1
    assert other_process_reads(path) == (b"longer second", 13)
    assert h5tx_cmd("verify", store).returncode == 0


def test_new_file_whose_first_commit_landed_unflushed(store, faulty):
    """A file created through the mount whose first commit lands but is not
    flushed: other processes see it whole while the writer still has it
    open, and the close makes no second revision."""
    m, arm = faulty
    path = m.p("new.bin")
    before = head(store)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"brand new bytes")
        arm.write_text("1")
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        arm.unlink()
        assert head(store) == before + 1
        assert other_process_reads(path) == (b"brand new bytes", 15)
    finally:
        os.close(fd)
    assert head(store) == before + 1
    assert h5tx_cmd("verify", store).returncode == 0
