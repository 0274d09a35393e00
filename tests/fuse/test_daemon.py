"""h5tx mount, the daemon: foreground and daemon mode, h5tx umount, SIGTERM,
a killed daemon (store intact, mount point recoverable), a failed commit
reported to the writer (full disk), and mount errors."""
import errno
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

import h5tx
from conftest import daemon_pids, h5tx_cmd, read, unmount, wait_for


def test_daemon_mode_and_umount(store, tmp_path):
    h5tx_cmd("import", "/etc/hostname", os.path.join(store, "h.txt"))
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    try:
        h5tx_cmd("mount", store, mnt)  # returns once the mount serves
        assert read(os.path.join(mnt, "h.txt")) == read("/etc/hostname")
        pids = daemon_pids(mnt)
        assert len(pids) == 1
        with open(os.path.join(mnt, "h.txt"), "rb"):
            p = h5tx_cmd("umount", mnt, code=1)
            assert "busy" in p.err
        h5tx_cmd("umount", mnt)  # returns after the daemon closed the store
        assert not os.path.ismount(mnt)
        # the store is closed; the process ends right after
        wait_for(lambda: not daemon_pids(mnt), "the daemon to exit")
        p = h5tx_cmd("umount", mnt, code=2)
        assert "not an h5tx mount" in p.err
    finally:
        unmount(mnt)


def test_foreground_sigterm_unmounts_cleanly(store, mounts):
    m = mounts(store, foreground=True)
    with open(m.p("f.txt"), "wb") as f:
        f.write(b"committed")
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=30) == 0
    wait_for(lambda: not os.path.ismount(m.path), "the mount to go")
    assert h5tx.read_bytes(os.path.join(store, "f.txt")) == b"committed"
    h5tx_cmd("verify", store)


def test_uncommitted_writes_are_dropped_at_shutdown(store, mounts):
    m = mounts(store, foreground=True)
    f = open(m.p("open.txt"), "wb")
    f.write(b"never closed")
    f.flush()
    m.proc.send_signal(signal.SIGTERM)  # lazily detached: open files stay
    assert m.proc.wait(timeout=30) == 0
    with pytest.raises(OSError):
        f.close()
    assert h5tx.head(store) == 0
    h5tx_cmd("verify", store)
    assert "open.txt" not in h5tx_cmd("stats", store).out


def test_killed_daemon_leaves_store_intact(store, mounts, tmp_path):
    m = mounts(store, foreground=True)
    with open(m.p("a.txt"), "wb") as f:
        f.write(b"A" * 100000)
    w = open(m.p("b.txt"), "wb")  # a writer in the middle of its work
    w.write(b"B" * 50000)
    w.flush()
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(timeout=30)
    with pytest.raises(OSError) as e:
        os.listdir(m.path)
    assert e.value.errno == errno.ENOTCONN
    h5tx_cmd("umount", m.path)  # recovers the mount point, even with b.txt open
    assert not os.path.ismount(m.path)
    try:
        w.close()
    except OSError:
        pass
    h5tx_cmd("verify", store)
    assert h5tx.read_bytes(os.path.join(store, "a.txt")) == b"A" * 100000
    # the dead daemon's lease on b.txt is taken over by the next writer
    m2 = mounts(store, name="mnt2")
    with open(m2.p("b.txt"), "wb") as f:
        f.write(b"again")
    assert read(m2.p("b.txt")) == b"again"
    assert read(m2.p("a.txt")) == b"A" * 100000


def test_failed_commit_is_reported_to_the_writer(tmp_path, mounts):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(small)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        store = str(small / "lab.h5tx")
        h5tx_cmd("init", store, "--codec", "none")
        m = mounts(store)
        with open(m.p("ok.bin"), "wb") as f:
            f.write(b"x" * 1000)
        before = h5tx.head(store)
        with open(str(small / "filler"), "wb") as f:  # fill the disk
            try:
                while True:
                    f.write(b"\xab" * (1 << 20))
                    f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC
        with pytest.raises(OSError) as e:
            with open(m.p("big.bin"), "wb") as f:
                f.write(os.urandom(8 << 20))
        assert e.value.errno == errno.ENOSPC  # close(2) reports the failed commit
        assert h5tx.head(store) == before
        assert not os.path.exists(m.p("big.bin"))
        os.unlink(str(small / "filler"))
        with open(m.p("big.bin"), "wb") as f:  # with room again, it works
            f.write(b"y" * (1 << 20))
        assert h5tx.head(store) == before + 1
        assert read(m.p("ok.bin")) == b"x" * 1000
        unmount(m.path)
        h5tx_cmd("verify", store)
    finally:
        unmount(str(tmp_path / "mnt"))
        subprocess.run(["umount", "-l", str(small)])


def test_mount_errors(store, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        p = h5tx_cmd("mount", tmp_path / "none.h5tx", mnt, code=1)
        assert "none.h5tx" in p.err
        p = h5tx_cmd("mount", store, tmp_path / "nodir", code=1)
        assert "nodir" in p.err
        p = h5tx_cmd("mount", store, mnt, "--config", "commit=close", code=2)
        assert "config key 'commit' does not apply to a mount" in p.err
        for key in ("store=lab.h5tx", "plain=no", "rev=1", "message=hi"):
            p = h5tx_cmd("mount", store, mnt, "--config", key, code=2)
            assert "config key '%s' does not apply to a mount" % key.split("=")[0] in p.err
        p = h5tx_cmd("mount", store, mnt, "--config", "codec=brotli", code=2)
        assert "codec" in p.err
        p = h5tx_cmd("mount", store, mnt, "-o", "no_such_option", code=2)
        assert "FUSE options" in p.err
        plain = tmp_path / "plain.h5tx"
        plain.mkdir()
        p = h5tx_cmd("mount", plain, mnt, code=1)
        assert "plain.h5tx" in p.err
        assert not os.path.ismount(str(mnt))
        p = h5tx_cmd("umount", mnt, code=2)
        assert "not an h5tx mount" in p.err
    finally:
        unmount(str(mnt))


def test_config_applies_to_files_written(store, mounts):
    m = mounts(store, "--config", "page_size=4K;codec=none;durability=nosync")
    with open(m.p("c.bin"), "wb") as f:
        f.write(os.urandom(10000))
    out = h5tx_cmd("ls", store).out
    assert "4 KiB" in out or "4K" in out, out


def test_second_mount_on_a_mounted_directory_is_refused(store, mounts, tmp_path):
    h5tx_cmd("import", "/etc/hostname", os.path.join(store, "h.txt"))
    m = mounts(store)
    other = tmp_path / "other.h5tx"
    h5tx_cmd("init", other)
    for s in (store, other):
        p = h5tx_cmd("mount", s, m.path, code=1)
        assert "already an h5tx mount" in p.err, p.err
    assert read(m.p("h.txt")) == read("/etc/hostname")  # the first one still serves
    assert len(daemon_pids(m.path)) == 1


def as_nobody(*argv):
    return subprocess.run(list(argv), user=65534, group=65534, extra_groups=[],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


@pytest.mark.parametrize("mode", [0o700, 0o750, 0o755])
def test_permissions_follow_the_store_directory(tmp_path, mode):
    """With -o allow_other, the mount lets in exactly whom the store's
    directory lets in: owner, group and modes are the directory's."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    top = tempfile.mkdtemp(prefix="h5tx-perm-", dir="/tmp")
    try:
        os.chmod(top, 0o755)  # the mount point must be reachable for user nobody
        store, mnt = os.path.join(top, "lab.h5tx"), os.path.join(top, "mnt")
        h5tx_cmd("init", store)
        h5tx_cmd("import", "/etc/hostname", os.path.join(store, "f.txt"))
        os.chmod(store, mode)
        os.chown(store, 0, 12345)
        os.mkdir(mnt)
        h5tx_cmd("mount", store, mnt, "-o", "allow_other")
        try:
            st = os.stat(os.path.join(mnt, "f.txt"))
            assert (st.st_uid, st.st_gid) == (0, 12345)
            assert st.st_mode & 0o777 == mode & 0o666
            root = os.stat(mnt)
            assert root.st_mode & 0o777 == mode
            assert os.stat(os.path.join(mnt, "@1", "f.txt")).st_mode & 0o777 == mode & 0o444
            r = as_nobody("cat", os.path.join(mnt, "f.txt"))
            w = as_nobody("sh", "-c", "echo x >> '%s'" % os.path.join(mnt, "f.txt"))
            if mode & 0o004:
                assert r.returncode == 0 and r.stdout == read("/etc/hostname"), r.stderr
            else:
                assert r.returncode != 0 and b"Permission denied" in r.stderr, r
            assert w.returncode != 0 and b"Permission denied" in w.stderr, w
            assert h5tx.head(store) == 1
        finally:
            unmount(mnt)
    finally:
        shutil.rmtree(top, ignore_errors=True)
