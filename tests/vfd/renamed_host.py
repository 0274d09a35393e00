#!/usr/bin/env python3
"""renamed_host.py - the driver plugin in a host like pip's h5py wheels.

The host is Python itself, through ctypes: it loads a *renamed copy* of
libhdf5 (file name and soname changed with patchelf, as auditwheel does)
with RTLD_LOCAL, so none of its symbols is global, and selects h5tx only
through the environment (HDF5_PLUGIN_PATH, HDF5_DRIVER=h5tx). Through the
plugin it writes a store file, flushes (a revision), writes more, closes (a
second revision) and reads both back; then it checks that no other libhdf5
came into the process (the plugin takes every HDF5 function from the
renamed library). A second host, a stand-in library that reports another
HDF5 version, must be refused with a message naming that version.

usage: renamed_host.py LIBHDF5 PLUGIN_DIR H5TX_CLI FAKE_HDF5_LIB
Exit 0 pass, 1 fail, 77 skipped (no patchelf).
"""
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile

H5P_DEFAULT = 0
H5F_ACC_RDONLY = 0
H5F_ACC_TRUNC = 2
H5F_SCOPE_GLOBAL = 1
H5S_ALL = 0
RENAMED = "libhdf5-h5tx-test.so.310.4.0"

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def child(lib_path, store):
    """The host: runs with HDF5_DRIVER/HDF5_PLUGIN_PATH set by the parent."""
    h5 = ctypes.CDLL(lib_path, mode=os.RTLD_LOCAL)
    for name, res, args in [
        ("H5open", ctypes.c_int, []),
        ("H5Fcreate", ctypes.c_int64, [ctypes.c_char_p, ctypes.c_uint, ctypes.c_int64, ctypes.c_int64]),
        ("H5Fopen", ctypes.c_int64, [ctypes.c_char_p, ctypes.c_uint, ctypes.c_int64]),
        ("H5Fflush", ctypes.c_int, [ctypes.c_int64, ctypes.c_int]),
        ("H5Fclose", ctypes.c_int, [ctypes.c_int64]),
        ("H5Screate_simple", ctypes.c_int64, [ctypes.c_int, ctypes.POINTER(ctypes.c_uint64), ctypes.c_void_p]),
        ("H5Sclose", ctypes.c_int, [ctypes.c_int64]),
        ("H5Dcreate2", ctypes.c_int64, [ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64]),
        ("H5Dopen2", ctypes.c_int64, [ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64]),
        ("H5Dwrite", ctypes.c_int, [ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_void_p]),
        ("H5Dread", ctypes.c_int, [ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                   ctypes.c_int64, ctypes.c_void_p]),
        ("H5Dclose", ctypes.c_int, [ctypes.c_int64]),
        ("H5Fget_access_plist", ctypes.c_int64, [ctypes.c_int64]),
        ("H5Pget_driver", ctypes.c_int64, [ctypes.c_int64]),
        ("H5Pclose", ctypes.c_int, [ctypes.c_int64]),
    ]:
        f = getattr(h5, name)
        f.restype, f.argtypes = res, args
    check(h5.H5open() >= 0, "H5open in the renamed libhdf5")
    native_int = ctypes.c_int64.in_dll(h5, "H5T_NATIVE_INT_g").value
    name = (store + "/run.h5").encode()
    n = 16
    first = (ctypes.c_int * n)(*range(n))
    second = (ctypes.c_int * n)(*(100 + i for i in range(n)))

    fid = h5.H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
    check(fid >= 0, "H5Fcreate of a store file through HDF5_DRIVER=h5tx")
    if fid < 0:
        return
    fapl = h5.H5Fget_access_plist(fid)
    drv = h5.H5Pget_driver(fapl)
    h5.H5Pclose(fapl)
    sec2 = ctypes.c_int64.in_dll(h5, "H5FD_SEC2_id_g").value if hasattr(h5, "H5FD_SEC2_id_g") else -2
    check(drv >= 0 and drv != sec2, "the file's driver is not sec2 (id %d)" % drv)
    dims = (ctypes.c_uint64 * 1)(n)
    sid = h5.H5Screate_simple(1, dims, None)
    did = h5.H5Dcreate2(fid, b"x", native_int, sid, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
    check(did >= 0 and h5.H5Dwrite(did, native_int, H5S_ALL, H5S_ALL, H5P_DEFAULT, first) >= 0,
          "write a dataset")
    check(h5.H5Fflush(fid, H5F_SCOPE_GLOBAL) >= 0, "H5Fflush (a revision)")
    check(h5.H5Dwrite(did, native_int, H5S_ALL, H5S_ALL, H5P_DEFAULT, second) >= 0, "write it again")
    h5.H5Dclose(did)
    h5.H5Sclose(sid)
    check(h5.H5Fclose(fid) >= 0, "H5Fclose (a second revision)")

    def read(fname):
        out = (ctypes.c_int * n)()
        fid = h5.H5Fopen(fname, H5F_ACC_RDONLY, H5P_DEFAULT)
        if fid < 0:
            return None
        did = h5.H5Dopen2(fid, b"x", H5P_DEFAULT)
        ok = did >= 0 and h5.H5Dread(did, native_int, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0
        if did >= 0:
            h5.H5Dclose(did)
        h5.H5Fclose(fid)
        return list(out) if ok else None

    check(read(name) == list(second), "head reads back what was written last")
    check(read(name + b"@1") == list(first), "revision 1 (the flush) reads back the first data")

    # Only the renamed library: no libhdf5 dragged in by the plugin.
    maps = open("/proc/self/maps").read()
    libs = sorted(set(re.findall(r"(\S*libhdf5\S*)", maps)))
    check(libs == [lib_path], "the only libhdf5 in the process is the renamed one: %s" % libs)
    plugin = [l for l in set(re.findall(r"(\S*h5tx_vfd\S*)", maps))]
    check(any("plugin" in p for p in plugin), "the driver plugin is loaded: %s" % plugin)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3])
        sys.exit(1 if failures else 0)
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    libhdf5, plugin_dir, cli, fake = sys.argv[1:]
    if not shutil.which("patchelf"):
        print("SKIPPED: patchelf is not installed (apt-get install patchelf)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="h5tx-renamed-")
    try:
        # The wheel's way: a private copy with its own file name and soname.
        lib = os.path.join(tmp, "lib", RENAMED)
        os.makedirs(os.path.dirname(lib))
        shutil.copy(os.path.realpath(libhdf5), lib)
        subprocess.run(["patchelf", "--set-soname", RENAMED, lib], check=True)
        soname = subprocess.run(["patchelf", "--print-soname", lib], check=True,
                                capture_output=True, text=True).stdout.strip()
        check(soname == RENAMED, "renamed copy has soname %s" % soname)
        store = os.path.join(tmp, "lab.h5tx")
        env = dict(os.environ, HDF5_PLUGIN_PATH=plugin_dir, HDF5_DRIVER="h5tx")
        env.pop("HDF5_DRIVER_CONFIG", None)
        env.pop("LD_LIBRARY_PATH", None)
        r = subprocess.run([sys.executable, __file__, "child", lib, store], env=env,
                           capture_output=True, text=True, timeout=120)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            sys.stdout.write(r.stderr[-3000:])
        check(r.returncode == 0, "the renamed-library host wrote, flushed and read through the plugin")
        # The store has the two revisions, with the program's name on them.
        log = subprocess.run([cli, "log", store + "/run.h5"], capture_output=True, text=True)
        check(log.returncode == 0 and "flush" in log.stdout and "close" in log.stdout,
              "h5tx log shows the flush and the close:\n" + log.stdout + log.stderr)

        # A host of an HDF5 this build does not serve is refused, by version.
        plugin = os.path.join(plugin_dir, "libh5tx_vfd_plugin.so")
        for version in ["1.12.3", "3.0.0", "1.10.8"]:
            code = ("import ctypes, os, sys\n"
                    "f = ctypes.CDLL(sys.argv[1], mode=os.RTLD_LOCAL)\n"
                    "sys.exit(f.fake_hdf5_plugin_type(sys.argv[2].encode()) + 10)\n")
            r = subprocess.run([sys.executable, "-c", code, fake, plugin],
                               env=dict(os.environ, H5TX_FAKE_HDF5_VERSION=version),
                               capture_output=True, text=True, timeout=60)
            # H5PL_TYPE_NONE (3): not a driver for this host, so HDF5 goes on searching.
            check(r.returncode == 13 and ("HDF5 " + version) in r.stderr,
                  "a host of HDF5 %s is refused, naming its version: rc %d, %r"
                  % (version, r.returncode - 10, r.stderr.strip()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
