"""h5tx mount, the commit rule (README, "h5tx mount", "When a close
commits"): only fsync and the writing process's close of its last
descriptor commit. Closes by other processes (a fork child, a subprocess,
another process appending) commit nothing; a writer killed by a signal
commits nothing and its writes are dropped. Inside the writing process a
second descriptor sees its own bytes and size; other processes see
committed revisions only, sizes included. All with real processes,
synchronised through pipes."""
import errno
import os
import shutil
import signal
import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

import h5tx
from conftest import h5tx_cmd, read


def h5_ok(path):
    """The file opens in h5py and holds dataset x: its values."""
    with h5py.File(path, "r") as f:
        return f["x"][()]


def committed_sample(store, mnt, name="s.h5", n=1000):
    """A committed HDF5 file written through the mount: its bytes."""
    with h5py.File(mnt.p(name), "w") as f:
        f["x"] = np.arange(n, dtype="i8")
    return read(mnt.p(name))


# A writer in another process: writes an HDF5 file through the mount (not
# closed), says "ready" on stdout, then does what stdin says: "close"
# (closes the file), "fork" (a child inherits the descriptor and exits),
# "true" (subprocess.run(["true"])), "more" (writes more), "wait" (blocks).
WRITER = r"""
import os, subprocess, sys
import h5py, numpy as np
path, mode = sys.argv[1], sys.argv[2]
f = h5py.File(path, mode)
f.create_dataset("y", data=np.arange(300000, dtype="f8"))
f.flush()   # HDF5 writes, the mount commits nothing
def say(w):
    sys.stdout.write(w + "\n")
    sys.stdout.flush()
say("ready")
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "close":
        f.close()
    elif cmd == "fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    elif cmd == "forkkill":
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, b"x")
            os.kill(os.getpid(), 9)
        os.close(w)
        os.read(r, 1)
        os.waitpid(pid, 0)
    elif cmd == "true":
        subprocess.run(["true"], check=True)
    elif cmd == "more":
        f["z"] = np.ones(1000)
        f.flush()
    say("done " + cmd)
"""


class Writer:
    def __init__(self, path, mode="w"):
        self.p = subprocess.Popen([sys.executable, "-c", WRITER, path, mode],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.p.stdout.readline() == b"ready\n"

    def do(self, cmd):
        self.p.stdin.write(cmd.encode() + b"\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline() == ("done %s\n" % cmd).encode()

    def finish(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=60) == 0
        self.p.stdout.close()


@pytest.mark.parametrize("how", ["fork", "true", "forkkill"])
def test_closes_by_children_commit_nothing(store, mnt, how):
    """os.fork() + os._exit(0), subprocess.run(["true"]), and a child killed
    by SIGKILL while the parent writes: no commit, the parent's writes stay
    and its close commits one complete file."""
    old = committed_sample(store, mnt)
    before = h5tx.head(store)
    w = Writer(mnt.p("s.h5"), "a")
    w.do(how)
    assert h5tx.head(store) == before, "a child's close committed the writer's file"
    assert read(mnt.p("s.h5")) == old
    w.do("more")
    w.do(how)
    assert h5tx.head(store) == before
    w.do("close")
    assert h5tx.head(store) == before + 1
    w.finish()
    with h5py.File(mnt.p("s.h5"), "r") as f:
        assert sorted(f.keys()) == ["x", "y", "z"]
        np.testing.assert_array_equal(f["y"][()], np.arange(300000, dtype="f8"))


def test_another_process_appending_commits_nothing(store, mnt):
    """`sh -c 'echo x >> f'` from another process while a writer holds f:
    nothing is committed until the writer closes; then one revision holds
    both."""
    with open(mnt.p("a.txt"), "wb") as f:
        f.write(b"committed\n")
    before = h5tx.head(store)
    with open(mnt.p("a.txt"), "r+b") as w:
        w.seek(0, 2)
        w.write(b"writer\n")
        w.flush()
        subprocess.run(["sh", "-c", "echo x >> '%s'" % mnt.p("a.txt")], check=True)
        assert h5tx.head(store) == before, "another process's close committed"
        assert h5tx.read_bytes(os.path.join(store, "a.txt")) == b"committed\n"
    assert h5tx.head(store) == before + 1
    assert read(mnt.p("a.txt")) == b"committed\nwriter\nx\n"


KILLED = r"""
import os, sys
import h5py, numpy as np
path, mode = sys.argv[1], sys.argv[2]
f = h5py.File(path, mode)
for i in range(20):
    f.create_dataset("d%d" % i, data=np.full(20000, i, dtype="f8"))
f.flush()
os.write(1, b"ready\n")
os.read(0, 1)   # killed here
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
@pytest.mark.parametrize("mode", ["a", "w"])
def test_a_killed_writer_commits_nothing(store, mnt, sig, mode):
    old = committed_sample(store, mnt)
    before = h5tx.head(store)
    p = subprocess.Popen([sys.executable, "-c", KILLED, mnt.p("s.h5"), mode],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(sig)
    assert p.wait(timeout=60) == -sig
    p.stdin.close()
    p.stdout.close()
    assert h5tx.head(store) == before, "a killed writer's closes committed"
    assert read(mnt.p("s.h5")) == old
    np.testing.assert_array_equal(h5_ok(mnt.p("s.h5")), np.arange(1000))
    # its writes are dropped: the next writer starts from the last commit
    with h5py.File(mnt.p("s.h5"), "a") as f:
        assert sorted(f.keys()) == ["x"]
        f["w"] = np.zeros(3)
    assert h5tx.head(store) == before + 1


def test_a_killed_creator_leaves_no_file(store, mnt):
    before = h5tx.head(store)
    p = subprocess.Popen([sys.executable, "-c", KILLED, mnt.p("new.h5"), "w"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.kill()
    p.wait(timeout=60)
    p.stdin.close()
    p.stdout.close()
    assert h5tx.head(store) == before
    assert "new.h5" not in h5tx_cmd("ls", store).out


def test_a_fork_child_exiting_normally_while_the_parent_writes(store, mnt):
    """The child exits with status 0, its copy of the descriptor closed by
    the kernel; the parent goes on writing and its close commits all."""
    fd = os.open(mnt.p("p.bin"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"A" * 70000)
    before = h5tx.head(store)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.write(fd, b"")  # touches nothing
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert h5tx.head(store) == before
    os.write(fd, b"B" * 70000)
    os.close(fd)
    assert h5tx.head(store) == before + 1
    assert read(mnt.p("p.bin")) == b"A" * 70000 + b"B" * 70000


def test_dup_and_second_descriptor_commit_at_the_last_close(store, mnt):
    """A dup'ed descriptor and a second open by the writing process: only
    the close of its last descriptor commits."""
    before = h5tx.head(store)
    fd = os.open(mnt.p("d.bin"), os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"one")
    fd2 = os.dup(fd)
    os.close(fd)
    assert h5tx.head(store) == before
    rd = os.open(mnt.p("d.bin"), os.O_RDONLY)
    os.write(fd2, b"two")
    os.close(fd2)
    assert h5tx.head(store) == before  # rd is still a descriptor of the file
    assert os.read(rd, 100) == b"onetwo"
    os.close(rd)
    assert h5tx.head(store) == before + 1
    assert h5tx.read_bytes(os.path.join(store, "d.bin")) == b"onetwo"


OTHER = r"""
import mmap, os, sys
p = sys.argv[1]
st = os.stat(p)
with open(p, "rb") as f:
    data = f.read()
    assert os.fstat(f.fileno()).st_size == st.st_size, "fstat and stat differ"
    if st.st_size:
        with mmap.mmap(f.fileno(), st.st_size, prot=mmap.PROT_READ) as m:
            assert m[:] == data, "mmap and read differ"
assert len(data) == st.st_size, "stat says %d, read gives %d" % (st.st_size, len(data))
sys.stdout.buffer.write(data)
"""


def other_process_reads(path):
    p = subprocess.run([sys.executable, "-c", OTHER, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


@pytest.mark.parametrize("existing", [False, True])
def test_read_after_write_in_the_writer_committed_for_others(store, mnt, existing):
    name = mnt.p("raw.bin")
    committed = b""
    if existing:
        committed = os.urandom(20000)
        with open(name, "wb") as f:
            f.write(committed)
    before = h5tx.head(store)
    data = os.urandom(507) * 40
    w = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        os.write(w, data)
        assert os.fstat(w).st_size == len(data)
        assert os.stat(name).st_size == len(data)
        for flags in (os.O_RDONLY, os.O_RDWR):  # a second descriptor, own bytes
            r = os.open(name, flags)
            try:
                assert os.fstat(r).st_size == len(data)
                assert os.read(r, 1 << 20) == data
                assert os.lseek(r, 0, os.SEEK_END) == len(data)
            finally:
                os.close(r)
        assert h5tx.head(store) == before
        # another process: committed bytes and size only, mmap works
        assert other_process_reads(name) == committed
    finally:
        os.close(w)
    assert h5tx.head(store) == before + 1
    assert other_process_reads(name) == data


def test_r_system_true_commits_nothing(store, mnt):
    if not shutil.which("Rscript"):
        pytest.skip("Rscript not installed (apt-get install r-base-core)")
    probe = subprocess.run(["Rscript", "-e", "library(hdf5r)"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
    if probe.returncode != 0:
        pytest.skip("R package hdf5r not installed (apt-get install r-cran-hdf5r)")
    before = h5tx.head(store)
    script = ('suppressMessages(library(hdf5r)); f <- H5File$new("%s", mode = "w"); '
              'f[["x"]] <- as.numeric(1:50000); f$flush(); system("true"); '
              'cat("ready\\n"); invisible(readLines(file("stdin"), n = 1)); '
              'f[["y"]] <- 1:10; f$close_all()' % mnt.p("r.h5"))
    p = subprocess.Popen(["Rscript", "-e", script], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    assert h5tx.head(store) == before, "R's system() committed the writer's file"
    p.stdin.write(b"go\n")
    p.stdin.close()
    assert p.wait(timeout=120) == 0
    p.stdout.close()
    assert h5tx.head(store) == before + 1
    with h5py.File(mnt.p("r.h5"), "r") as f:
        np.testing.assert_array_equal(f["x"][()], np.arange(1, 50001))


def cdf1(path):
    """A netCDF classic file: dimension x (4), int variable a = 1 2 3 4."""
    def name(s):
        b = s.encode()
        return struct.pack(">i", len(b)) + b + b"\0" * (-len(b) % 4)
    header = (b"CDF\x01" + struct.pack(">i", 0) + struct.pack(">ii", 0x0A, 1) + name("x") +
              struct.pack(">i", 4) + struct.pack(">ii", 0, 0) + struct.pack(">ii", 0x0B, 1) +
              name("a") + struct.pack(">ii", 1, 0) + struct.pack(">ii", 0, 0) +
              struct.pack(">ii", 4, 16))
    begin = len(header) + 4
    with open(path, "wb") as f:
        f.write(header + struct.pack(">i", begin) + struct.pack(">4i", 1, 2, 3, 4))


def test_ncap2_reads_its_own_temporary_file(store, mnt, tmp_path):
    if not shutil.which("ncap2") or not shutil.which("ncks"):
        pytest.skip("NCO not installed (apt-get install nco)")
    cdf1(str(tmp_path / "in.nc"))
    probe = subprocess.run(["ncks", "-H", "-v", "a", str(tmp_path / "in.nc")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert probe.returncode == 0, probe.stderr.decode()
    shutil.copy(str(tmp_path / "in.nc"), mnt.p("in.nc"))
    p = subprocess.run(["ncap2", "-O", "-s", "b=a*2", mnt.p("in.nc"), mnt.p("out.nc")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert sorted(os.listdir(mnt.path)) == [".h5tx", "in.nc", "out.nc"]
    out = subprocess.run(["ncks", "-H", "-v", "b", mnt.p("out.nc")], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    assert "b=2,4,6,8;" in out.replace(" ", ""), out


def test_exit_with_the_file_open_commits(store, mnt):
    """A writing process that exits normally without closing: the kernel's
    closes at its exit are its last close."""
    before = h5tx.head(store)
    code = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)\n"
            "os.write(fd, b'left open')\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, mnt.p("open.txt")], check=True)
    assert h5tx.head(store) == before + 1
    assert h5tx.read_bytes(os.path.join(store, "open.txt")) == b"left open"


def test_open_in_one_thread_close_in_another(store, mnt):
    import threading
    before = h5tx.head(store)
    box = []
    t = threading.Thread(target=lambda: box.append(open(mnt.p("t.bin"), "wb")))
    t.start()
    t.join()
    box[0].write(b"threads")
    box[0].close()
    assert h5tx.head(store) == before + 1
    assert read(mnt.p("t.bin")) == b"threads"


RECEIVER = r"""
import os, socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
msg, fds, _, _ = socket.recv_fds(s, 16, 1)
os.write(fds[0], b" and the receiver's")
os.close(fds[0])
s.sendall(b"k")
"""


def test_descriptor_passed_over_a_socket(store, mnt):
    """README: the process that gets the descriptor is not a writing
    process. The writer's close commits what was written by then; what the
    receiver writes afterwards is not committed (dropped at the release)."""
    import socket
    before = h5tx.head(store)
    a, b = socket.socketpair()
    r = subprocess.Popen([sys.executable, "-c", RECEIVER, str(b.fileno())], pass_fds=[b.fileno()])
    b.close()
    fd = os.open(mnt.p("passed.txt"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"the writer's")
    socket.send_fds(a, [b"f"], [fd])
    os.close(fd)  # the writing process's last descriptor: commits
    assert h5tx.head(store) == before + 1
    assert a.recv(1) == b"k"  # the receiver wrote and closed: nothing committed
    assert r.wait(timeout=60) == 0
    a.close()
    assert h5tx.head(store) == before + 1
    assert read(mnt.p("passed.txt")) == b"the writer's"


def test_a_killed_writer_sharing_the_file_fails_the_others_commit(store, mnt):
    """Two processes write one file; one is killed: its writes and the
    other's uncommitted ones are dropped, and the survivor's close reports
    EIO instead of committing a file it did not finish."""
    with open(mnt.p("shared.bin"), "wb") as f:
        f.write(b"base")
    before = h5tx.head(store)
    code = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY)\n"
            "os.pwrite(fd, b'victim', 100)\n"
            "os.write(1, b'ready\\n')\n"
            "os.read(0, 1)\n")
    w = open(mnt.p("shared.bin"), "r+b")
    w.seek(50)
    w.write(b"survivor")
    w.flush()
    p = subprocess.Popen([sys.executable, "-c", code, mnt.p("shared.bin")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.kill()
    p.wait(timeout=60)
    p.stdin.close()
    p.stdout.close()
    assert h5tx.head(store) == before
    with pytest.raises(OSError) as e:
        w.close()
    assert e.value.errno == errno.EIO
    assert h5tx.head(store) == before
    assert read(mnt.p("shared.bin")) == b"base"
    with open(mnt.p("shared.bin"), "ab") as f:  # the file is writable again
        f.write(b"!")
    assert read(mnt.p("shared.bin")) == b"base!"


def test_writer_in_a_child_pid_namespace(store, mnt):
    """FUSE gives the daemon the caller's pid in the daemon's namespace: a
    writer in a child PID namespace (a container) follows the same rule."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to make a PID namespace")
    before = h5tx.head(store)
    script = ("echo one > '%s'; (sleep 0 & wait); echo two >> '%s'"
              % (mnt.p("ns.txt"), mnt.p("ns.txt")))
    p = subprocess.run(["unshare", "--pid", "--fork", "sh", "-c", script],
                       stderr=subprocess.PIPE)
    if p.returncode != 0 and b"unshare" in p.stderr:
        pytest.skip("cannot make a PID namespace here: " + p.stderr.decode())
    assert p.returncode == 0, p.stderr.decode()
    assert h5tx.head(store) == before + 2
    assert read(mnt.p("ns.txt")) == b"one\ntwo\n"
