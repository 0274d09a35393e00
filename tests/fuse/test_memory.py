"""h5tx mount, memory (README, "Memory"): the daemon's anonymous memory
stays within its bound while it serves large writes and reads - the dirty
pages of each file being written up to `cache`, a read buffer per worker
thread - and goes back down when a commit is done, however large it was."""
import os

import pytest

from conftest import daemon_pids, read

MIB = 1 << 20
SLACK = 48 * MIB  # the daemon itself, its tables, threads' stacks and read buffers


def status_bytes(pid, key):
    """A size line ("RssAnon", "VmHWM") of /proc/PID/status, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for %d" % (key, pid))


def anon(pid):
    return status_bytes(pid, "RssAnon")


def mount_16m(store, mounts):
    """The store mounted with a 16 MiB writer cache, and its daemon's pid
    (skipped under AddressSanitizer, whose allocator is not glibc's)."""
    m = mounts(store, "--config", "cache=16M")
    pids = daemon_pids(m.path)
    assert len(pids) == 1
    with open("/proc/%d/maps" % pids[0]) as f:
        if "libasan" in f.read():
            pytest.skip("the daemon runs under AddressSanitizer, whose allocator is not glibc's")
    return m, pids[0]


def test_memory_stays_bounded(store, mounts):
    cache = 16 * MIB
    m, pid = mount_16m(store, mounts)
    total, chunk = 256 * MIB, os.urandom(MIB)
    peak = 0
    with open(m.p("big.bin"), "wb") as f:
        for i in range(total // MIB):
            f.write(chunk[i % 997:] + chunk[:i % 997])  # no two pages alike
            if i % 8 == 7:
                peak = max(peak, anon(pid))
        assert peak <= cache + SLACK, "writing: %d MiB anonymous" % (peak // MIB)
    idle = anon(pid)
    print("anonymous memory: %.1f MiB peak while writing 256 MiB, %.1f MiB after the commit"
          % (peak / MIB, idle / MIB))
    assert idle <= SLACK, "after the commit: %d MiB anonymous" % (idle // MIB)
    for _ in range(2):
        with open(m.p("big.bin"), "rb") as f:
            while f.read(4 * MIB):
                assert anon(pid) <= SLACK
    assert os.path.getsize(m.p("big.bin")) == total
    assert anon(pid) <= SLACK
    assert read(m.p(".h5tx", "stats"))


def peak(pid):
    return status_bytes(pid, "VmHWM")


def test_peak_memory_of_a_large_commit(store, mounts):
    """Issue 10's bound for the daemon receiving a large file: its peak
    resident memory, commit included, stays within the writer cache + 128
    MiB however large the file (the pages stream into the page log while
    they arrive; the commit is one small index transaction). Format 1 held
    the whole commit in the index's transaction: 3.6 GB for a 4 GiB cp."""
    m, pid = mount_16m(store, mounts)
    total, chunk = 768 * MIB, os.urandom(MIB)
    with open(m.p("large.bin"), "wb") as f:
        for i in range(total // MIB):
            f.write(chunk[i % 997:] + chunk[:i % 997])
    assert os.path.getsize(m.p("large.bin")) == total
    hwm = peak(pid)
    print("daemon peak resident memory: %.1f MiB for a %d MiB file"
          % (hwm / MIB, total // MIB))
    assert hwm <= 16 * MIB + 128 * MIB, "peak %d MiB" % (hwm // MIB)
