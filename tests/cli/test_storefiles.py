"""A store's files as the h5tx command meets them: truncated or missing
index files give a clear error and never a signal, read-only commands
create nothing, a FIFO marker does not hang, and `init` syncs every
directory whose entries the new store relies on (seen with strace)."""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import CLI, h5tx

READ_ONLY = [["ls", "{s}"], ["log", "{s}"], ["verify", "{s}"], ["export", "{s}/a.h5", "{out}"]]


def make_store(tmp_path):
    s = str(tmp_path / "s.h5tx")
    h5tx("init", s)
    src = tmp_path / "in.bin"
    for i in range(4):
        src.write_bytes(bytes([65 + i]) * (300000 + 4096 * i))
        h5tx("import", str(src), s + "/a.h5")
    return s


def run_ro(cmd, s, out):
    return h5tx(*[a.format(s=s, out=out) for a in cmd], code=None)


def listing(s):
    return sorted((n, os.stat(os.path.join(s, n)).st_size) for n in os.listdir(s))


@pytest.mark.parametrize("victim", ["index/data.mdb", "index/lock.mdb"])
def test_truncated_files_give_errors_not_signals(tmp_path, victim):
    s = make_store(tmp_path)
    path = os.path.join(s, victim)
    keep = path + ".keep"
    shutil.copyfile(path, keep)
    full = os.path.getsize(keep)
    sizes = sorted({0, 1, 100, 4096, 8192, 12288, full // 2, full - 4096})
    for size in sizes:
        shutil.copyfile(keep, path)
        os.truncate(path, size)
        for cmd in READ_ONLY:
            out = str(tmp_path / "out.h5")
            p = run_ro(cmd, s, out)
            assert p.returncode >= 0, "%s with %s cut to %d bytes: killed by signal %d" % (
                cmd[0], victim, size, -p.returncode)
            if victim == "index/data.mdb" and size <= full // 2:
                assert p.returncode == 1, (cmd, size, p.out, p.err)
                assert "data.mdb" in p.err and "truncated" in p.err, (cmd, size, p.err)
            if os.path.exists(out):
                os.unlink(out)
        if victim == "index/data.mdb":
            assert os.path.getsize(path) == size  # nothing written
    os.unlink(keep)


def test_read_only_commands_create_nothing(tmp_path):
    s = make_store(tmp_path)
    os.unlink(os.path.join(s, "index", "data.mdb"))
    before = listing(s)
    for cmd in READ_ONLY:
        p = run_ro(cmd, s, str(tmp_path / "out.h5"))
        assert p.returncode == 1, (cmd, p.err)
        assert "data.mdb is missing" in p.err, (cmd, p.err)
        assert listing(s) == before, cmd


def test_fifo_marker_does_not_hang(tmp_path):
    s = make_store(tmp_path)
    marker = os.path.join(s, "h5tx-store")
    os.unlink(marker)
    os.mkfifo(marker)
    for cmd in READ_ONLY:
        p = subprocess.run([CLI] + [a.format(s=s, out=str(tmp_path / "o")) for a in cmd],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        assert p.returncode == 1 and "not a regular file" in p.stderr, (cmd, p.stderr)


def test_marker_format_named_as_written(tmp_path):
    s = make_store(tmp_path)
    with open(os.path.join(s, "h5tx-store"), "w") as f:
        f.write("h5tx store\nformat 99999999999\n")
    p = h5tx("ls", s, code=1)
    assert "format 99999999999" in p.err


def test_init_syncs_every_directory(tmp_path):
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace is not installed")
    log = tmp_path / "trace"
    s = str(tmp_path / "new.h5tx")
    p = subprocess.run([strace, "-f", "-o", str(log), "-e",
                        "trace=openat,fsync,fdatasync,rename,renameat,renameat2,close",
                        CLI, "init", s], capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and "ptrace" in p.stderr:
        pytest.skip("strace may not trace here: " + p.stderr.strip())
    assert p.returncode == 0, p.stderr
    fds = {}  # fd -> path, as opened
    synced_before_rename = set()
    synced_after_rename = set()
    renamed = False
    for line in log.read_text().splitlines():
        m = re.search(r'openat\(AT_FDCWD, "([^"]+)", [^)]*O_DIRECTORY[^)]*\) = (\d+)', line)
        if m:
            fds[m.group(2)] = m.group(1)
            continue
        m = re.search(r'rename(?:at2?)?\(.*"([^"]+)",.*"([^"]+)".*\) = 0', line)
        if m and m.group(2) == s:
            renamed = True
            tmp = m.group(1)
            continue
        m = re.search(r"fsync\((\d+)\) += 0", line)
        if m and m.group(1) in fds:
            (synced_after_rename if renamed else synced_before_rename).add(fds[m.group(1)])
    assert renamed, "no rename into place seen"
    assert tmp in synced_before_rename, "the new store directory was never synced"
    assert str(tmp_path) in synced_after_rename, "the parent was not synced after the rename"


OTHER_UID = 64212
MEMBER_UID = 64211
GROUP_GID = 64210


def as_user(uid, gid, groups, *args, umask=0o022):
    """Run h5tx as another user (root only)."""
    return subprocess.run([CLI] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, user=uid, group=gid,
                          extra_groups=groups, umask=umask)


@pytest.fixture
def shared_dir():
    if os.geteuid() != 0:
        pytest.skip("needs root to run commands as other users")
    import tempfile
    d = tempfile.mkdtemp(prefix="h5tx-share-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_reader_without_write_permission_is_told_which(shared_dir, tmp_path):
    s = os.path.join(shared_dir, "world.h5tx")
    h5tx("init", s)  # umask 022: world-readable, lock.mdb not writable by others
    p = as_user(OTHER_UID, OTHER_UID, [], "ls", s)
    assert p.returncode == 1, p.stderr
    assert "write permission on %s/index/lock.mdb" % s in p.stderr, p.stderr
    assert "uid %d" % OTHER_UID in p.stderr


def test_group_shares_a_store_in_a_setgid_directory(shared_dir, tmp_path):
    os.chown(shared_dir, 0, GROUP_GID)
    os.chmod(shared_dir, 0o2775)
    s = os.path.join(shared_dir, "lab.h5tx")
    p = as_user(MEMBER_UID, MEMBER_UID, [GROUP_GID], "init", s, umask=0o002)
    assert p.returncode == 0, p.stderr
    for entry in os.listdir(s):
        st = os.stat(os.path.join(s, entry))
        assert st.st_gid == GROUP_GID, entry
        assert st.st_mode & stat.S_IWGRP, entry
    src = os.path.join(shared_dir, "in.bin")
    with open(src, "wb") as f:
        f.write(b"x" * 100000)
    os.chmod(src, 0o644)
    other_member = MEMBER_UID + 10
    p = as_user(other_member, other_member, [GROUP_GID], "import", src, s + "/a.h5", umask=0o002)
    assert p.returncode == 0, p.stderr
    p = as_user(MEMBER_UID, MEMBER_UID, [GROUP_GID], "ls", s)
    assert p.returncode == 0 and "a.h5" in p.stdout, p.stderr
