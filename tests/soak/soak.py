#!/usr/bin/env python3
"""soak.py - the crash soak: writers SIGKILLed at random moments, then the
store checked with no repair step.

Parts (--parts, default all):
  capi    soak_writer capi: random writes and truncations of a file through
          the C API, committed in a loop
  vfd     soak_writer vfd: an HDF5 dataset grown and flushed through the
          driver from C (commit=flush)
  h5py    soak_h5py.py driver: the same through h5py and python/h5tx.py
  import  soak_import.sh: h5tx import of files of 0.25-6 MiB in a loop
  mount   soak_h5py.py mount: plain h5py writing a file on an h5tx mount,
          committing by close or fsync (mounted and unmounted every round)

Each writer reports "about S" before each commit and "committed S" after it,
on a pipe, before it goes on. Every round starts a writer, lets it run for a
random number of reports plus a random delay, SIGKILLs its process group,
and then checks that
  - the store opens (no repair step) and `h5tx verify` finds nothing wrong;
  - head is exactly the state last reported committed (or, if the writer
    committed nothing this round, the head the round started from), or the
    state reported "about" to be committed when the kill came;
  - for the HDF5 parts, head opens in HDF5 and every value is right (a torn
    file fails here).
Rounds of one part share one store, so every writer takes over the lease of
the one killed before it and continues from what is committed.

--rounds is the total, split evenly over the parts (default 1000). The seed
is printed; --seed replays a run. Exit status 0 when every round passed, 1
when any failed, 77 when every selected part had to be skipped (said why).
"""
import argparse
import math
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
PARTS = ("capi", "vfd", "h5py", "import", "mount")


class Failure(Exception):
    """A round broke a promise (or could not run)."""


def run(cmd, check=True, timeout=120):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        raise Failure("%s: exit %d\n%s%s" % (" ".join(map(str, cmd)), p.returncode, out, err))
    return p.returncode, out, err


class Writer:
    """A writer process in its own process group, reporting on a pipe."""

    def __init__(self, cmd, log, env=None):
        self.log = log
        with open(log, "wb") as errf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=errf, env=env, start_new_session=True)
        self.lines, self.buf, self.eof = [], b"", False

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            self.eof = True
        self.buf += chunk
        *done, self.buf = self.buf.split(b"\n")
        self.lines += [x.decode() for x in done]

    def run_until(self, reports, deadline):
        """Read until `reports` report lines arrived (or the writer ended)."""
        while len(self.lines) < reports and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("writer made %d of %d reports in time" % (len(self.lines), reports))
            self._read(min(left, 1.0))

    def kill(self):
        """SIGKILL the writer's process group; collect every report it made."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        while not self.eof:
            self._read(5.0)
        self.proc.stdout.close()
        return self.proc.returncode

    def stderr(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def outcome(lines, parse):
    """From the report lines, (committed, in_flight): the last state reported
    committed (None if none) and the state reported "about" whose commit was
    not reported (None if none). `parse` maps a report's words to a state."""
    committed = in_flight = None
    for line in lines:
        words = line.split()
        if not words or words[0] not in ("about", "committed"):
            raise Failure("writer reported %r" % line)
        if words[0] == "about":
            in_flight = parse(words[1:], False)
        else:
            committed, in_flight = parse(words[1:], True), None
    return committed, in_flight


class Part:
    """One way of writing: a store, a writer per round, a check of head."""
    name = ""
    max_reports = 12
    max_delay = 0.02
    hdf5 = False

    def __init__(self, soak, work):
        self.soak, self.work = soak, work
        self.store = os.path.join(work, self.name + ".h5tx")
        self.file = self.name + (".h5" if self.hdf5 else ".dat")
        run([soak.cli, "init", self.store])
        self.head = None  # the state head holds: nothing yet
        self.landed = 0  # rounds whose in-flight commit landed unreported

    def skip_reason(self):
        return None

    def start(self, seed, log):
        raise NotImplementedError

    def parse(self, words, committed):
        raise NotImplementedError

    def check_head(self):
        """The state head holds now (None: no such file)."""
        raise NotImplementedError

    def after_kill(self):
        pass

    def round(self, rng, index):
        seed = rng.getrandbits(63)
        w = self.start(seed, os.path.join(self.work, "writer.log"))
        try:
            w.run_until(rng.randint(0, self.max_reports), time.monotonic() + 120)
            if not w.eof:
                time.sleep(rng.uniform(0, self.max_delay))  # the random moment of the kill
        finally:
            code = w.kill()
            self.after_kill()
        if code != -signal.SIGKILL:
            raise Failure("the writer ended by itself (exit %s) before the kill:\n%s"
                          % (code, w.stderr()))
        committed, in_flight = outcome(w.lines, self.parse)
        want = [committed if committed is not None else self.head]
        if in_flight is not None:
            want.append(in_flight)
        run([self.soak.cli, "verify", self.store])
        got = self.check_head()
        if got not in want:
            raise Failure("head is %s; the writer (seed %d) reported %s committed%s\nreports: %s"
                          % (got, seed, want[0],
                             " and %s in flight" % (in_flight,) if in_flight is not None else "",
                             w.lines[-6:]))
        self.head = got
        if in_flight is not None and got == in_flight and got != want[0]:
            self.landed += 1  # the commit landed; the kill came before its report
        return len(w.lines)

    def digest(self):
        _, out, _ = run([self.soak.writer, "digest", self.store, self.file])
        rev, length, h = out.split()
        return None if length == "-" else (int(length), h)


class CapiPart(Part):
    name = "capi"

    def start(self, seed, log):
        return Writer([self.soak.writer, "capi", self.store, self.file, str(seed)], log)

    def parse(self, words, committed):
        length, h = words[-2:]
        return (int(length), h)

    def check_head(self):
        return self.digest()


class HDF5Part(Part):
    hdf5 = True
    max_reports = 8

    def parse(self, words, committed):
        return int(words[0])

    def check_head(self):
        if self.digest() is None:
            return None
        return self.count()


class VfdPart(HDF5Part):
    name = "vfd"

    def start(self, seed, log):
        return Writer([self.soak.writer, "vfd", self.store, self.file, str(seed)], log)

    def count(self):
        code, out, err = run([self.soak.writer, "vfd-check", self.store, self.file], check=False)
        if code:
            return "a torn file (%s)" % err.strip()
        return int(out)


def h5py_count(path):
    """Length of dataset "log" of head of `path` (STORE.h5tx/NAME) read
    through h5py and the driver, every value checked; or what is wrong."""
    import h5tx
    import numpy as np
    sys.path.insert(0, HERE)
    from soak_h5py import value
    try:
        with h5tx.File(path, "r") as f:
            v = f["log"][()]
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        return "a torn file (%s)" % e
    bad = np.nonzero(v != value(0, len(v)))[0]
    if len(bad):
        return "a file with wrong values (log[%d] = %d)" % (bad[0], v[bad[0]])
    return len(v)


class H5pyPart(HDF5Part):
    name = "h5py"

    def skip_reason(self):
        try:
            import h5py  # noqa: F401
            import h5tx  # noqa: F401
        except ImportError as e:
            return "h5py or python/h5tx.py cannot be imported: %s" % e
        return None

    def start(self, seed, log):
        return Writer([sys.executable, os.path.join(HERE, "soak_h5py.py"), "driver",
                       os.path.join(self.store, self.file), str(seed)], log)

    def count(self):
        return h5py_count(os.path.join(self.store, self.file))


class ImportPart(Part):
    name = "import"
    max_reports = 4
    max_delay = 0.2
    sources = 3

    def start(self, seed, log):
        rng = random.Random(seed)
        src = os.path.join(self.work, "src")
        shutil.rmtree(src, ignore_errors=True)
        os.makedirs(src)
        paths = []
        for i in range(self.sources):
            p = os.path.join(src, str(i))
            n = rng.randint(256 << 10, 6 << 20)
            with open(p, "wb") as f:  # random bytes, then a compressible tail
                f.write(rng.randbytes(n // 2) + bytes([i]) * (n - n // 2))
            paths.append(p)
        _, out, _ = run([self.soak.writer, "hash"] + paths)
        self.states = [(int(a), b) for a, b in (line.split() for line in out.splitlines())]
        return Writer(["bash", os.path.join(HERE, "soak_import.sh"), self.soak.cli, self.store,
                       self.file, src, str(self.sources)], log)

    def parse(self, words, committed):
        return self.states[int(words[0])]

    def check_head(self):
        return self.digest()


class MountPart(HDF5Part):
    name = "mount"

    def __init__(self, soak, work):
        super().__init__(soak, work)
        self.mnt = os.path.join(work, "mnt")
        os.makedirs(self.mnt)

    def skip_reason(self):
        if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
            return "no FUSE here (/dev/fuse and fusermount3 are needed)"
        return H5pyPart.skip_reason(self)

    def start(self, seed, log):
        run([self.soak.cli, "mount", self.store, self.mnt])
        self.soak.mounted.add(self.mnt)
        return Writer([sys.executable, os.path.join(HERE, "soak_h5py.py"), "mount",
                       os.path.join(self.mnt, self.file), str(seed)], log)

    def after_kill(self):
        # Unmounting waits for the daemon to close the store: whatever the
        # kernel's closes for the dead writer make it do is done by then.
        run([self.soak.cli, "umount", self.mnt])
        self.soak.mounted.discard(self.mnt)

    def count(self):
        return h5py_count(os.path.join(self.store, self.file))


CLASSES = {c.name: c for c in (CapiPart, VfdPart, H5pyPart, ImportPart, MountPart)}


class Soak:
    def __init__(self, args):
        self.cli, self.writer = args.cli, args.writer
        self.mounted = set()

    def unmount_all(self):
        for m in list(self.mounted):
            if run([self.cli, "umount", m], check=False)[0] != 0:
                subprocess.run(["fusermount3", "-uz", m], stderr=subprocess.DEVNULL)
            self.mounted.discard(m)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1000, help="rounds in total (default 1000)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help="comma-separated parts (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=None, help="replay this seed")
    ap.add_argument("--keep-going", action="store_true",
                    help="count failed rounds and go on (with a new store) instead of stopping")
    ap.add_argument("--dir", default=None, help="work here (kept) instead of a temporary dir")
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "tools", "h5tx"))
    ap.add_argument("--writer", default=os.path.join(ROOT, "build", "tests", "soak",
                                                     "soak_writer"))
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    for p in parts:
        if p not in CLASSES:
            ap.error("unknown part %r (known: %s)" % (p, ", ".join(PARTS)))
    for tool in (args.cli, args.writer):
        if not os.access(tool, os.X_OK):
            ap.error("%s not found: build first (cmake --build build)" % tool)
    if "H5TX_VFD_LIB" not in os.environ:
        lib = os.path.join(os.path.dirname(os.path.dirname(args.cli)), "vfd", "libh5tx_vfd.so")
        if os.path.exists(lib):
            os.environ["H5TX_VFD_LIB"] = lib
    sys.path.insert(0, os.path.join(ROOT, "python"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(ROOT, "python")] + [p for p in [os.environ.get("PYTHONPATH")] if p])

    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(48)
    per_part = math.ceil(args.rounds / len(parts))
    print("soak: seed %d (replay with --seed %d), %d rounds of %s" %
          (seed, seed, per_part * len(parts), ", ".join(parts)), flush=True)

    soak = Soak(args)
    work = args.dir or tempfile.mkdtemp(prefix="h5tx-soak-")
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = ran = skipped = 0
    try:
        for name in parts:
            cls = CLASSES[name]
            reason = cls.skip_reason(cls.__new__(cls))
            if reason:
                print("soak: %s: SKIPPED: %s" % (name, reason), flush=True)
                skipped += 1
                continue
            rng = random.Random("%d:%s" % (seed, name))
            pwork = os.path.join(work, name)
            shutil.rmtree(pwork, ignore_errors=True)
            os.makedirs(pwork)
            part = cls(soak, pwork)
            t0, reports, bad = time.monotonic(), 0, 0
            for i in range(per_part):
                try:
                    reports += part.round(rng, i)
                except Failure as e:
                    soak.unmount_all()
                    bad += 1
                    print("soak: %s round %d (seed %d): FAILED: %s" % (name, i, seed, e),
                          flush=True)
                    if not args.keep_going:
                        break
                    shutil.rmtree(pwork)
                    os.makedirs(pwork)
                    part = cls(soak, pwork)
            ran += 1
            failed += bad
            print("soak: %s: %d rounds, %d reports, %d failed, %d ended with an unreported "
                  "commit that landed, %.1f s" % (name, per_part, reports, bad, part.landed,
                                                  time.monotonic() - t0), flush=True)
            if bad and not args.keep_going:
                break
    finally:
        soak.unmount_all()
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("soak: FAILED (seed %d)" % seed)
        return 1
    if not ran:
        return 77
    print("soak: passed (seed %d)" % seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
