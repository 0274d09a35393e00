#!/usr/bin/env python3
"""soak_h5py.py - the h5py writers of the crash soak (soak.py runs them):

    soak_h5py.py driver STORE.h5tx/NAME SEED   h5py through the h5tx driver
                                              (python/h5tx.py), commit=flush
    soak_h5py.py mount MOUNT/NAME SEED         plain h5py on a file of an
                                              h5tx mount

Each grows dataset "log" by a random count of values value(i) and commits,
forever: the driver writer by flushing; the mount writer by closing the file
or by fsync of its descriptor (the mount's two commit points), at random.
Before each commit it reports "about N" and after it "committed N" on
stdout, one write(2) per line, before going on; N is the dataset's length
(which starts over from 0 before it outgrows MAX_VALUES).
"""
import os
import random
import sys

import numpy as np

MAX_VALUES = 200000  # as soak_writer.c


def value(start, stop):
    """The values log[start:stop] must hold (soak_writer.c's value())."""
    i = np.arange(start, stop, dtype=np.uint64)
    return ((i * np.uint64(2654435761)) % np.uint64(1000003)).astype(np.int64)


def report(line):
    os.write(1, (line + "\n").encode())


def grow(f, rng):
    if "log" not in f:
        f.create_dataset("log", shape=(0,), maxshape=(None,), chunks=(1024,), dtype="i8")
    d = f["log"]
    n = d.shape[0]
    total = n + rng.randint(1, 20000)
    if total > MAX_VALUES:  # start over, so rounds stay short
        n, total = 0, total - n
    d.resize((total,))
    d[n:total] = value(n, total)
    return total


def driver(path, rng):
    import h5tx
    with h5tx.File(path, "a", config="commit=flush") as f:
        while True:
            total = grow(f, rng)
            report("about %d" % total)
            f.flush()
            report("committed %d" % total)


def mount(path, rng):
    import h5py
    f = h5py.File(path, "a")
    while True:
        total = grow(f, rng)
        report("about %d" % total)
        if rng.random() < 0.5:
            f.close()
            f = h5py.File(path, "a")
        else:
            f.flush()
            os.fsync(f.id.get_vfd_handle())
        report("committed %d" % total)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("driver", "mount"):
        sys.exit("usage: soak_h5py.py driver|mount PATH SEED")
    rng = random.Random(int(sys.argv[3]))
    (driver if sys.argv[1] == "driver" else mount)(sys.argv[2], rng)


if __name__ == "__main__":
    main()
