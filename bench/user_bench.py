#!/usr/bin/env python3
"""user_bench.py - h5tx as a user meets it, each workload against its plain
baseline in the same run (issue 10's "As a user would see it" targets).

Workloads (--only picks some; all by default), each on noisy float32 and on
compressible data (integer-valued, quarter-rounded and mostly-zero float32),
with the store's default codec:

  h5py      write --mib of 4 chunked float32 datasets through h5tx.File
            (durability=sync, commit on close) vs plain h5py + fsync; read
            back (page cache warm) vs plain h5py.
  cli       `h5tx import` of that file vs `cp` + `sync`; `h5tx export` vs
            `cp` + `sync`.
  append    --steps times: grow a dataset by 64 KiB, write it, flush
            (h5tx: durability=sync, the flush commits) vs plain h5py +
            flush + fsync.
  mount     `cp` of the file into `h5tx mount` vs `cp` + `sync` to local
            disk; sequential read (1 MiB reads) cold (unmounted,
            drop_caches, mounted again) and warm vs the local file.
  procs     --procs processes each committing --commits small durable
            revisions (4 KiB at a random aligned offset) to its own file of
            one store vs as many processes doing pwrite + fsync on their own
            local files; total commits per second.
  memory    peak RSS (/usr/bin/time -v) of `h5tx import` of a --big-mib
            file, of an h5py writer committing --big-mib at once (commit on
            close), and of the mount daemon receiving a --big-mib `cp`,
            against the writer cache + 128 MiB (and plain h5py / cp).
  history   a store whose file has --revs revisions vs one with 20: commit
            time (h5tx.File r+, write 4 KiB, close) and open time of an old
            revision (h5tx.File NAME@REV + open the dataset).

Trials interleave baseline and h5tx, the order alternating per trial; a
ratio is the median of the per-trial ratios h5tx/baseline [min-max]. The
report is Markdown on stdout; progress goes to stderr.

Run from the repository root as root (mount, drop_caches) with the
system's python3 (its h5py must use the HDF5 that build/ was made with; a
pyenv python3 earlier on PATH may have no h5py):

    /usr/bin/python3 bench/user_bench.py --build build --dir /tmp          # full, ~20 min
    /usr/bin/python3 bench/user_bench.py --build build --dir /tmp --quick  # ~1.5 min

The ctypes declarations of the page store's writer (CoreWriter) follow
core/include/h5tx.h: keep them in step with it.
"""

import argparse
import ctypes
import multiprocessing as mp
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1 << 20
KINDS = ("noisy", "compressible")
WORKLOADS = ("h5py", "cli", "append", "mount", "procs", "memory", "history")
NDSETS = 4
SLAB = 4 * MiB // 4  # float32 elements per H5Dwrite / generated slab (4 MiB)
CHUNK = MiB // 4     # float32 elements per chunk (1 MiB chunks)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def die(msg):
    log("user_bench: " + msg)
    sys.exit(1)


# ---- data ---------------------------------------------------------------------

def slab(kind, d, i, n, np):
    """float32 slab i (n elements) of dataset d: noisy floats, or for
    'compressible' one of four compressible kinds by dataset."""
    rng = np.random.default_rng(1000003 * d + i)
    t = np.arange(i * n, (i + 1) * n, dtype=np.float64)
    base = 100.0 + 20.0 * np.sin(t * 1e-5 + d) + 5.0 * np.sin(t * 3.7e-4)
    if kind == "noisy":
        return (base + rng.normal(0.0, 0.01, n)).astype(np.float32)
    k = d % 4
    if k == 0:    # integer-valued floats (counts)
        return np.floor(base + rng.normal(0.0, 1.0, n)).astype(np.float32)
    if k == 1:    # rounded to a quarter
        return (np.round((base + rng.normal(0.0, 0.5, n)) * 4) / 4).astype(np.float32)
    if k == 2:    # mostly zero: 1 % non-zero
        x = np.zeros(n, dtype=np.float32)
        idx = rng.integers(0, n, n // 100)
        x[idx] = base[idx].astype(np.float32)
        return x
    return rng.integers(0, 16, n).astype(np.float32)  # small integers


def gen_data(kind, total_bytes, np):
    """The datasets of a file of total_bytes, in memory: NDSETS arrays."""
    per = total_bytes // 4 // NDSETS
    per -= per % SLAB
    out = []
    for d in range(NDSETS):
        a = np.empty(per, dtype=np.float32)
        for i in range(per // SLAB):
            a[i * SLAB:(i + 1) * SLAB] = slab(kind, d, i, SLAB, np)
        out.append(a)
    return out


def h5_write(f, arrays):
    for d, a in enumerate(arrays):
        ds = f.create_dataset("d%d" % d, shape=a.shape, dtype="f4", chunks=(CHUNK,))
        for i in range(0, a.shape[0], SLAB):
            ds[i:i + SLAB] = a[i:i + SLAB]


def h5_write_streamed(f, kind, total_bytes, np):
    """Write a file of total_bytes generating each slab on the fly (bounded
    memory in this process)."""
    per = total_bytes // 4 // NDSETS
    per -= per % SLAB
    for d in range(NDSETS):
        ds = f.create_dataset("d%d" % d, shape=(per,), dtype="f4", chunks=(CHUNK,))
        for i in range(per // SLAB):
            ds[i * SLAB:(i + 1) * SLAB] = slab(kind, d, i, SLAB, np)


def h5_read(f):
    return [f["d%d" % d][()] for d in range(NDSETS)]


# ---- helpers ------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build)
        self.cli = os.path.join(self.build, "tools", "h5tx")
        if not os.access(self.cli, os.X_OK):
            die("no h5tx command at %s (build first, or --build)" % self.cli)
        os.environ.setdefault("H5TX_VFD_LIB", os.path.join(self.build, "vfd", "libh5tx_vfd.so"))
        sys.path.insert(0, os.path.join(ROOT, "python"))
        os.makedirs(args.dir, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="user-bench-", dir=args.dir)
        self.mounted = []

    def path(self, *p):
        return os.path.join(self.work, *p)

    def run(self, argv, **kw):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        if r.returncode != 0:
            die("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
        return r

    def rm(self, *paths):
        for p in paths:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            elif os.path.lexists(p):
                os.unlink(p)

    def drop_caches(self):
        os.sync()
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            return True
        except OSError:
            return False

    def mount(self, store, mnt, timed=False):
        os.makedirs(mnt, exist_ok=True)
        self.run([self.cli, "mount", store, mnt])
        self.mounted.append(mnt)

    def umount(self, mnt):
        self.run([self.cli, "umount", mnt])
        self.mounted.remove(mnt)

    def cleanup(self):
        for m in list(self.mounted):
            subprocess.run([self.cli, "umount", m], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)


def fsync_path(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def read_seq(path, bufsize=MiB):
    """Read path sequentially in bufsize reads; returns bytes read."""
    buf = bytearray(bufsize)
    mv = memoryview(buf)
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            k = f.readinto(mv)
            if not k:
                break
            n += k
    return n


def ratio_cell(h, b):
    """median [min-max] of the per-trial ratios h[t] / b[t]."""
    r = [x / y for x, y in zip(h, b) if y > 0]
    if not r:
        return "-"
    return "%.2f [%.2f-%.2f]" % (statistics.median(r), min(r), max(r))


def med(v):
    return statistics.median(v) if v else float("nan")


# ---- workloads ------------------------------------------------------------------

def wl_h5py(b, kind, out):
    import numpy as np
    import h5py
    import h5tx
    size = b.a.mib * MiB
    log("h5py/%s: generating %d MiB" % (kind, b.a.mib))
    arrays = gen_data(kind, size, np)
    real = sum(a.nbytes for a in arrays)
    t = {"pw": [], "hw": [], "pr": [], "hr": []}
    for trial in range(b.a.trials):
        plain, store = b.path("plain.h5"), b.path("w.h5tx")
        order = ("plain", "h5tx") if trial % 2 == 0 else ("h5tx", "plain")
        for who in order:
            os.sync()
            if who == "plain":
                def w():
                    with h5py.File(plain, "w") as f:
                        h5_write(f, arrays)
                    fsync_path(plain)
                t["pw"].append(timed(w))
            else:
                def w():
                    with h5tx.File(store + "/f.h5", "w") as f:
                        h5_write(f, arrays)
                t["hw"].append(timed(w))
        for who in order:  # read back, warm (right after the writes)
            if who == "plain":
                res = []

                def r():
                    with h5py.File(plain, "r") as f:
                        res.extend(h5_read(f))
                t["pr"].append(timed(r))
            else:
                res = []

                def r():
                    with h5tx.File(store + "/f.h5", "r") as f:
                        res.extend(h5_read(f))
                t["hr"].append(timed(r))
            if not all(np.array_equal(x, y) for x, y in zip(res, arrays)):
                die("h5py/%s: %s read back different data" % (kind, who))
        b.rm(plain, store)
        log("h5py/%s trial %d: write plain %.2f s h5tx %.2f s; read plain %.2f s h5tx %.2f s"
            % (kind, trial, t["pw"][-1], t["hw"][-1], t["pr"][-1], t["hr"][-1]))
    mibs = real / MiB
    out.append(("h5py writes %.0f MiB (4 chunked float32 datasets, 1 MiB chunks, 4 MiB "
                "H5Dwrites)" % mibs, "plain h5py + fsync", med(t["pw"]), med(t["hw"]),
                ratio_cell(t["hw"], t["pw"]), "s", "≤ 1.3×"))
    out.append(("h5py reads it back (warm)", "plain h5py", med(t["pr"]), med(t["hr"]),
                ratio_cell(t["hr"], t["pr"]), "s", "≤ 1.11× (speed ≥ 0.9×)"))


def make_h5_file(b, path, kind, size):
    """A plain HDF5 file of `size` bytes of data, written by a subprocess (so
    the generated data does not stay in this process)."""
    b.run([sys.executable, os.path.abspath(__file__), "--_writer", "plain", path, str(size),
           kind])
    os.sync()


def wl_cli(b, kind, out):
    size = b.a.mib * MiB
    src = b.path("src.h5")
    log("cli/%s: writing the %d MiB source file" % (kind, b.a.mib))
    make_h5_file(b, src, kind, size)
    t = {"ci": [], "hi": [], "ce": [], "he": []}
    for trial in range(b.a.trials):
        store, dst, exp = b.path("i.h5tx"), b.path("copy.h5"), b.path("export.h5")
        b.run([b.cli, "init", store])
        order = ("plain", "h5tx") if trial % 2 == 0 else ("h5tx", "plain")
        for who in order:
            os.sync()
            if who == "plain":
                t["ci"].append(timed(lambda: (b.run(["cp", src, dst]), os.sync())))
            else:
                t["hi"].append(timed(lambda: b.run([b.cli, "import", src, store + "/f.h5"])))
        for who in order:
            os.sync()
            if who == "plain":
                t["ce"].append(timed(lambda: (b.run(["cp", dst, exp]), os.sync())))
                b.rm(exp)
            else:
                t["he"].append(timed(lambda: b.run([b.cli, "export", store + "/f.h5", exp])))
                b.run(["cmp", src, exp])
                b.rm(exp)
        b.rm(store, dst)
        log("cli/%s trial %d: import cp %.2f h5tx %.2f; export cp %.2f h5tx %.2f"
            % (kind, trial, t["ci"][-1], t["hi"][-1], t["ce"][-1], t["he"][-1]))
    b.rm(src)
    out.append(("`h5tx import` of %d MiB" % b.a.mib, "`cp` + `sync`", med(t["ci"]), med(t["hi"]),
                ratio_cell(t["hi"], t["ci"]), "s", "≤ 1.3×"))
    out.append(("`h5tx export` of %d MiB (fsyncs its output)" % b.a.mib, "`cp` + `sync`",
                med(t["ce"]), med(t["he"]), ratio_cell(t["he"], t["ce"]), "s", "≤ 1.3×"))


def wl_append(b, kind, out):
    import numpy as np
    import h5py
    import h5tx
    step = 64 * 1024 // 4
    n = b.a.steps
    data = [slab(kind, s % NDSETS, s, step, np) for s in range(n)]
    t = {"p": [], "h": []}
    for trial in range(b.a.trials):
        plain, store = b.path("append.h5"), b.path("a.h5tx")
        order = ("plain", "h5tx") if trial % 2 == 0 else ("h5tx", "plain")
        for who in order:
            os.sync()
            per = []
            if who == "plain":
                f = h5py.File(plain, "w")
                fd = f.id.get_vfd_handle()
            else:
                f = h5tx.File(store + "/f.h5", "w", "durability=sync")
            ds = f.create_dataset("x", shape=(0,), maxshape=(None,), dtype="f4", chunks=(step,))
            f.flush()
            if who == "plain":
                os.fsync(fd)
            for s in range(n):
                t0 = time.perf_counter()
                ds.resize(((s + 1) * step,))
                ds[s * step:(s + 1) * step] = data[s]
                f.flush()
                if who == "plain":
                    os.fsync(fd)
                per.append(time.perf_counter() - t0)
            f.close()
            t["p" if who == "plain" else "h"].append(med(per) * 1e3)
        with h5tx.File(store + "/f.h5", "r") as f:
            if not np.array_equal(f["x"][()], np.concatenate(data)):
                die("append/%s: h5tx read back different data" % kind)
        b.rm(plain, store)
        log("append/%s trial %d: plain %.3f ms h5tx %.3f ms" % (kind, trial, t["p"][-1],
                                                                t["h"][-1]))
    out.append(("append 64 KiB + flush, durable (median of %d steps)" % n,
                "plain h5py + flush + fsync", med(t["p"]), med(t["h"]),
                ratio_cell(t["h"], t["p"]), "ms", "≤ 1.5×"))


def wl_mount(b, kind, out):
    size = b.a.mib * MiB
    src = b.path("src.h5")
    log("mount/%s: writing the %d MiB source file" % (kind, b.a.mib))
    make_h5_file(b, src, kind, size)
    can_drop = b.drop_caches()
    t = {"cc": [], "hc": [], "lrc": [], "hrc": [], "lrw": [], "hrw": []}
    for trial in range(b.a.trials):
        store, mnt, local = b.path("m.h5tx"), b.path("mnt"), b.path("local.h5")
        b.run([b.cli, "init", store])
        b.mount(store, mnt)
        order = ("plain", "h5tx") if trial % 2 == 0 else ("h5tx", "plain")
        for who in order:
            os.sync()
            if who == "plain":
                t["cc"].append(timed(lambda: (b.run(["cp", src, local]), os.sync())))
            else:
                t["hc"].append(timed(lambda: b.run(["cp", src, mnt + "/f.h5"])))
        b.run(["cmp", src, mnt + "/f.h5"])
        # cold: unmounted, caches dropped, mounted again
        b.umount(mnt)
        if can_drop:
            for who in order:
                b.drop_caches()
                if who == "plain":
                    t["lrc"].append(size / MiB / timed(lambda: read_seq(local)))
                else:
                    b.mount(store, mnt)
                    t["hrc"].append(size / MiB / timed(lambda: read_seq(mnt + "/f.h5")))
                    b.umount(mnt)
        b.mount(store, mnt)
        read_seq(mnt + "/f.h5")
        read_seq(local)
        for who in order:
            if who == "plain":
                t["lrw"].append(size / MiB / timed(lambda: read_seq(local)))
            else:
                t["hrw"].append(size / MiB / timed(lambda: read_seq(mnt + "/f.h5")))
        b.umount(mnt)
        b.rm(store, mnt, local)
        log("mount/%s trial %d: cp local %.2f mount %.2f s; cold %s; warm local %.0f mount "
            "%.0f MiB/s" % (kind, trial, t["cc"][-1], t["hc"][-1],
                            ("local %.0f mount %.0f MiB/s" % (t["lrc"][-1], t["hrc"][-1]))
                            if can_drop else "n/a", t["lrw"][-1], t["hrw"][-1]))
    b.rm(src)
    out.append(("`cp` of %d MiB into the mount (durable at close)" % b.a.mib,
                "`cp` + `sync` to local disk", med(t["cc"]), med(t["hc"]),
                ratio_cell(t["hc"], t["cc"]), "s", "≤ 1.5×"))
    if can_drop:
        out.append(("sequential read (1 MiB reads) from the mount, cold",
                    "local file, cold", med(t["lrc"]), med(t["hrc"]),
                    ratio_cell(t["hrc"], t["lrc"]), "MiB/s", "≥ 0.8×"))
    else:
        out.append(("sequential read from the mount, cold", "(no right to drop caches)",
                    float("nan"), float("nan"), "-", "MiB/s", "≥ 0.8×"))
    out.append(("sequential read (1 MiB reads) from the mount, warm", "local file, warm",
                med(t["lrw"]), med(t["hrw"]), ratio_cell(t["hrw"], t["lrw"]), "MiB/s", "≥ 0.9×"))


# procs: the workers run in fresh processes (spawn), never with a store of
# the parent's open.

def _declare_writer(lib):
    c, p = ctypes, ctypes.c_void_p
    import h5tx
    for name, res, args in (
            ("h5tx_writer_open", c.c_int, [p, c.c_char_p, p, c.POINTER(p),
                                           c.POINTER(h5tx._Err)]),
            ("h5tx_writer_write", c.c_int, [p, c.c_uint64, c.c_void_p, c.c_size_t,
                                            c.POINTER(h5tx._Err)]),
            ("h5tx_writer_commit", c.c_int, [p, c.c_char_p, c.POINTER(c.c_uint64),
                                             c.POINTER(h5tx._Err)]),
            ("h5tx_writer_close", None, [p])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


class CoreWriter:
    """A writer of the page store (h5tx.h) through ctypes; the store opened
    with its defaults (durability=sync unless the store says otherwise)."""

    def __init__(self, store, name):
        import h5tx
        self.h5tx = h5tx
        self.lib = h5tx._load()
        _declare_writer(self.lib)
        self.err = h5tx._Err()
        self.s, self.w = ctypes.c_void_p(), ctypes.c_void_p()
        self._ck(self.lib.h5tx_store_open(store.encode(), None, ctypes.byref(self.s),
                                          ctypes.byref(self.err)), "store_open")
        self._ck(self.lib.h5tx_writer_open(self.s, name.encode(), None, ctypes.byref(self.w),
                                           ctypes.byref(self.err)), "writer_open")

    def _ck(self, rc, what):
        if rc != 0:
            raise RuntimeError("h5tx_%s: %s" % (what, self.err.msg.decode(errors="replace")))

    def commit_write(self, off, buf):
        self._ck(self.lib.h5tx_writer_write(self.w, off, buf, len(buf), ctypes.byref(self.err)),
                 "writer_write")
        rev = ctypes.c_uint64()
        self._ck(self.lib.h5tx_writer_commit(self.w, None, ctypes.byref(rev),
                                             ctypes.byref(self.err)), "writer_commit")
        return rev.value

    def close(self):
        self.lib.h5tx_writer_close(self.w)
        self.lib.h5tx_store_close(self.s)


def small_blocks(kind, n, seed):
    import numpy as np
    return [slab(kind, seed % NDSETS, seed * 100003 + i, 1024, np).tobytes() for i in range(n)]


def _proc_worker(who, target, name, kind, commits, idx, barrier, q):
    import random
    blocks = small_blocks(kind, commits, idx)
    rnd = random.Random(42 + idx)
    offs = [rnd.randrange(256) * 4096 for _ in range(commits)]
    if who == "plain":
        fd = os.open(target, os.O_WRONLY)
        barrier.wait()
        t0 = time.perf_counter()
        for i in range(commits):
            os.pwrite(fd, blocks[i], offs[i])
            os.fsync(fd)
        t1 = time.perf_counter()
        os.close(fd)
    else:
        w = CoreWriter(target, name)
        barrier.wait()
        t0 = time.perf_counter()
        for i in range(commits):
            w.commit_write(offs[i], blocks[i])
        t1 = time.perf_counter()
        w.close()
    q.put((t0, t1))


def wl_procs(b, kind, out):
    P, C = b.a.procs, b.a.commits
    ctx = mp.get_context("spawn")
    one = b.path("one.bin")
    with open(one, "wb") as f:
        f.write(os.urandom(MiB))
    t = {"p": [], "h": []}
    for trial in range(b.a.trials):
        store = b.path("p.h5tx")
        b.run([b.cli, "init", store])
        for i in range(P):
            b.run([b.cli, "import", one, "%s/p%d.bin" % (store, i)])
            shutil.copyfile(one, b.path("p%d.bin" % i))
        os.sync()
        order = ("plain", "h5tx") if trial % 2 == 0 else ("h5tx", "plain")
        for who in order:
            barrier, q = ctx.Barrier(P), ctx.Queue()
            ps = []
            for i in range(P):
                target = b.path("p%d.bin" % i) if who == "plain" else store
                ps.append(ctx.Process(target=_proc_worker,
                                      args=(who, target, "p%d.bin" % i, kind, C, i, barrier, q)))
            for p in ps:
                p.start()
            res = [q.get() for _ in ps]
            for p in ps:
                p.join()
                if p.exitcode != 0:
                    die("procs/%s: a %s worker failed (exit %d)" % (kind, who, p.exitcode))
            wall = max(r[1] for r in res) - min(r[0] for r in res)
            t["p" if who == "plain" else "h"].append(P * C / wall)
        b.rm(store, *[b.path("p%d.bin" % i) for i in range(P)])
        log("procs/%s trial %d: plain %.0f h5tx %.0f commits/s" % (kind, trial, t["p"][-1],
                                                                 t["h"][-1]))
    b.rm(one)
    out.append(("%d processes, each %d durable commits of 4 KiB to its own file of one store"
                % (P, C), "%d processes, pwrite + fsync on %d local files" % (P, P),
                med(t["p"]), med(t["h"]), ratio_cell(t["h"], t["p"]), "commits/s", "≥ 1.0×"))


TIME_V = "/usr/bin/time"


class AnonSampler:
    """Samples RssAnon (heap and other private memory, not mapped files) of
    the process that `time_pid` (/usr/bin/time) runs, every 20 ms, in a
    thread; .peak is the largest seen, in MiB (NaN if never seen)."""

    def __init__(self, time_pid):
        import threading
        self.tp, self.peak, self.stop = time_pid, float("nan"), False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _child(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.tp, self.tp)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except (OSError, ValueError):
            return None

    def _run(self):
        child = None
        while not self.stop:
            if child is None:
                child = self._child()
            if child is not None:
                try:
                    with open("/proc/%d/status" % child) as f:
                        m = re.search(r"RssAnon:\s+(\d+) kB", f.read())
                    if m:
                        v = int(m.group(1)) / 1024.0
                        if not v <= self.peak:
                            self.peak = v
                except OSError:
                    pass
            time.sleep(0.02)

    def done(self):
        self.stop = True
        self.th.join()
        return self.peak


def peak_rss(b, argv, background=None):
    """Run argv under /usr/bin/time -v; return (peak RSS MiB, peak RssAnon
    MiB sampled every 20 ms, seconds). With `background` (a function), argv
    runs in the background and background() runs meanwhile; argv must end
    by itself afterwards."""
    with tempfile.NamedTemporaryFile("r", dir=b.work, suffix=".time") as tf:
        t0 = time.perf_counter()
        p = subprocess.Popen([TIME_V, "-v", "-o", tf.name] + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        sampler = AnonSampler(p.pid)
        if background is not None:
            background()
        o, e = p.communicate()
        anon = sampler.done()
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            die("%s failed (%d): %s" % (" ".join(argv), p.returncode, e.strip()))
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tf.read())
        if not m:
            die("no peak RSS from /usr/bin/time for %s" % " ".join(argv))
        return int(m.group(1)) / 1024.0, anon, dt


def wait_for(cond, what, timeout=30.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            die("timed out waiting for " + what)
        time.sleep(0.01)


def wl_memory(b, kind, out):
    if not os.access(TIME_V, os.X_OK):
        out.append(("peak RSS", "(no /usr/bin/time)", float("nan"), float("nan"), "-", "MiB",
                    ""))
        return
    size = b.a.big_mib * MiB
    src, store, mnt = b.path("big.h5"), b.path("big.h5tx"), b.path("mnt")
    me = [sys.executable, os.path.abspath(__file__)]
    log("memory/%s: plain h5py writer of %d MiB" % (kind, b.a.big_mib))
    plain_rss, plain_anon, _ = peak_rss(b, me + ["--_writer", "plain", src, str(size), kind])
    os.sync()
    log("memory/%s: h5tx h5py writer, one commit at close" % kind)
    h5w_rss, h5w_anon, _ = peak_rss(b, me + ["--_writer", "h5tx", store + "/f.h5", str(size), kind])
    b.rm(store)
    os.sync()
    log("memory/%s: cp" % kind)
    cp_rss, cp_anon, _ = peak_rss(b, ["cp", src, b.path("big-copy.h5")])
    b.rm(b.path("big-copy.h5"))
    os.sync()
    log("memory/%s: h5tx import" % kind)
    b.run([b.cli, "init", store])
    imp_rss, imp_anon, _ = peak_rss(b, [b.cli, "import", src, store + "/f.h5"])
    b.rm(store)
    os.sync()
    log("memory/%s: mount daemon receiving cp" % kind)
    b.run([b.cli, "init", store])
    os.makedirs(mnt, exist_ok=True)

    def feed():
        wait_for(lambda: os.path.ismount(mnt), "the mount at " + mnt)
        b.mounted.append(mnt)
        b.run(["cp", src, mnt + "/f.h5"])
        b.umount(mnt)

    mnt_rss, mnt_anon, _ = peak_rss(b, [b.cli, "mount", "-f", store, mnt], background=feed)
    b.rm(store, mnt, src)
    bound = b.a.cache_mib + 128
    for what, rss, anon, base, base_rss, base_anon in (
            ("`h5tx import` of %d MiB" % b.a.big_mib, imp_rss, imp_anon, "`cp`", cp_rss,
             cp_anon),
            ("h5py writer through h5tx.File, %d MiB in one commit (at close)" % b.a.big_mib,
             h5w_rss, h5w_anon, "plain h5py writer", plain_rss, plain_anon),
            ("`h5tx mount` daemon receiving a %d MiB `cp`" % b.a.big_mib, mnt_rss, mnt_anon,
             "`cp`", cp_rss, cp_anon)):
        out.append(("peak RSS: " + what, base, base_rss, rss,
                    "%.2f of the bound (%d MiB)" % (rss / bound, bound), "MiB",
                    "≤ writer cache + 128 MiB = %d MiB" % bound))
        out.append(("peak RssAnon (private memory, sampled every 20 ms): " + what, base,
                    base_anon, anon, "%.2f of the bound" % (anon / bound), "MiB",
                    "(for reading RSS: mapped files excluded)"))


def wl_history(b, kind, out):
    import numpy as np
    import h5tx
    n_elem = MiB // 4
    base_data = slab(kind, 0, 0, n_elem, np)
    stores = {}
    for label, revs in (("20", 20), ("many", b.a.revs)):
        store = b.path("h%s.h5tx" % label)
        with h5tx.File(store + "/f.h5", "w") as f:
            ds = f.create_dataset("x", data=base_data)  # contiguous
            off = ds.id.get_offset()
        log("history/%s: making %d revisions" % (kind, revs))
        w = CoreWriter(store, "f.h5")
        blocks = small_blocks(kind, 64, 7)
        first = None
        for i in range(revs - 1):
            r = w.commit_write(off + (i * 4096) % (n_elem * 4 - 4096), blocks[i % 64])
            if first is None:
                first = r
        w.close()
        stores[label] = (store, first)
    t = {"c20": [], "cmany": [], "o20": [], "omany": []}
    blk = slab(kind, 1, 1, 1024, np)
    reps = b.a.history_reps
    for label in stores:  # warm-up, untimed: the first open of a store pays more
        store, old = stores[label]
        with h5tx.File(store + "/f.h5", "r+") as f:
            f["x"][0:1024] = blk
        with h5tx.File("%s/f.h5@%d" % (store, old), "r") as f:
            f["x"].shape
    for trial in range(b.a.trials):
        order = ("20", "many") if trial % 2 == 0 else ("many", "20")
        for label in order:
            store, old = stores[label]
            cs, os_ = [], []
            for k in range(reps):
                t0 = time.perf_counter()
                with h5tx.File(store + "/f.h5", "r+") as f:
                    f["x"][(k * 1024) % (n_elem - 1024):(k * 1024) % (n_elem - 1024) + 1024] = blk
                cs.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                with h5tx.File("%s/f.h5@%d" % (store, old), "r") as f:
                    f["x"].shape
                os_.append(time.perf_counter() - t0)
            t["c" + label].append(med(cs) * 1e3)
            t["o" + label].append(med(os_) * 1e3)
        log("history/%s trial %d: commit 20 %.2f many %.2f ms; open 20 %.3f many %.3f ms"
            % (kind, trial, t["c20"][-1], t["cmany"][-1], t["o20"][-1], t["omany"][-1]))
    for label in stores:
        b.rm(stores[label][0])
    out.append(("commit (h5tx.File r+, write 4 KiB, close) with %d revisions in the store"
                % b.a.revs, "the same with 20 revisions", med(t["c20"]), med(t["cmany"]),
                ratio_cell(t["cmany"], t["c20"]), "ms", "≤ 1.1×"))
    out.append(("open an old revision (h5tx.File NAME@REV, open the dataset) with %d revisions"
                % b.a.revs, "the same with 20 revisions", med(t["o20"]), med(t["omany"]),
                ratio_cell(t["omany"], t["o20"]), "ms", "≤ 1.1×"))


# ---- the writer subprocess (memory workload, source files) -----------------------

def writer_main(who, path, size, kind):
    import numpy as np
    import h5py
    sys.path.insert(0, os.path.join(ROOT, "python"))
    if who == "plain":
        with h5py.File(path, "w") as f:
            h5_write_streamed(f, kind, size, np)
        fsync_path(path)
    else:
        import h5tx
        with h5tx.File(path, "w", "commit=close;durability=sync") as f:
            h5_write_streamed(f, kind, size, np)


# ---- report -----------------------------------------------------------------------

def fmt(x):
    if x != x:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3f" % x


def header(b, argv):
    a = b.a
    u = platform.uname()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        cpu = "?"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    fs = subprocess.run(["df", "-T", b.work], stdout=subprocess.PIPE, text=True).stdout
    fs = fs.splitlines()[-1].split()[1] if fs else "?"
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout.strip()
    import h5py
    print("- machine: nproc %d, %s %s %s, %s, %.1f GiB RAM; work directory on %s; load "
          "average at start %.1f" % (os.cpu_count(), u.system, u.release, u.machine, cpu, mem,
                                     fs, os.getloadavg()[0]))
    print("- command: `%s` (sources at %s, h5tx from %s, h5py %s on HDF5 %s)"
          % (" ".join(shlex.quote(x) for x in argv), rev or "?", b.build, h5py.__version__,
             h5py.version.hdf5_version))
    print("- sizes: h5py/cli/mount %d MiB; memory %d MiB; append %d steps; %d processes x %d "
          "commits; history %d revisions (%d commits and opens per trial); %d trials, "
          "baseline and h5tx interleaved, order alternating per trial"
          % (a.mib, a.big_mib, a.steps, a.procs, a.commits, a.revs, a.history_reps, a.trials))
    print("- h5tx: the store's defaults (codec, page size, durability=sync); figures are "
          "medians over trials; h5tx/baseline is the median of the per-trial ratios [min-max]")


def report(rows_by_kind):
    for kind, rows in rows_by_kind:
        print()
        print("### %s" % ("noisy float32 (smooth signal + Gaussian noise)" if kind == "noisy"
                          else "compressible float32 (integer-valued, quarter-rounded, "
                          "1 %-non-zero, small integers: one kind per dataset)"))
        print()
        print("| workload | baseline | unit | baseline | h5tx | h5tx/baseline | target |")
        print("|---|---|---|---|---|---|---|")
        for what, base, bv, hv, ratio, unit, target in rows:
            print("| %s | %s | %s | %s | %s | %s | %s |" % (what, base, unit, fmt(bv), fmt(hv),
                                                            ratio, target))
        sys.stdout.flush()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--_writer":
        who, path, size, kind = sys.argv[2:6]
        writer_main(who, path, int(size), kind)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build directory holding tools/h5tx and vfd/libh5tx_vfd.so")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"),
                    help="where the work directory goes (removed at the end)")
    ap.add_argument("--only", default=",".join(WORKLOADS),
                    help="comma-separated workloads: " + ",".join(WORKLOADS))
    ap.add_argument("--kinds", default=",".join(KINDS), help="noisy,compressible")
    ap.add_argument("--mib", type=int, default=1024, help="file size of h5py/cli/mount (MiB)")
    ap.add_argument("--big-mib", type=int, default=4096, help="file size of memory (MiB)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--steps", type=int, default=200, help="append steps")
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--commits", type=int, default=200, help="commits per process (procs)")
    ap.add_argument("--revs", type=int, default=10000, help="revisions of the big history")
    ap.add_argument("--history-reps", type=int, default=20,
                    help="commits and opens timed per trial (history)")
    ap.add_argument("--cache-mib", type=int, default=256,
                    help="the writer cache the memory bound is based on (default: the "
                    "store's default dirty limit)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (64 MiB, 256 MiB, 2 trials, 50 steps, 50 commits, 500 "
                    "revisions): about a minute or two")
    a = ap.parse_args()
    if a.quick:
        a.mib, a.big_mib, a.trials, a.steps, a.commits, a.revs, a.history_reps = \
            64, 256, 2, 50, 50, 500, 5
    only = [w for w in a.only.split(",") if w]
    kinds = [k for k in a.kinds.split(",") if k]
    for w in only:
        if w not in WORKLOADS:
            ap.error("unknown workload %r" % w)
    for k in kinds:
        if k not in KINDS:
            ap.error("unknown kind %r" % k)
    b = Bench(a)
    try:
        header(b, [os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:])
        fns = {"h5py": wl_h5py, "cli": wl_cli, "append": wl_append, "mount": wl_mount,
               "procs": wl_procs, "memory": wl_memory, "history": wl_history}
        t0 = time.perf_counter()
        for kind in kinds:
            rows = []
            for w in only:
                fns[w](b, kind, rows)
            report([(kind, rows)])
        print()
        print("(%.0f s)" % (time.perf_counter() - t0))
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
