"""h5tx for Python: HDF5 files kept in an h5tx store, opened with h5py.

    import h5tx

    with h5tx.File("lab.h5tx/runs/r1.h5", "w") as f:  # creates store and file
        f["x"] = [1, 2, 3]
        f.flush()                                      # commits a revision
        f["y"] = [4.0]
    # closing commits again

    with h5tx.File("lab.h5tx/runs/r1.h5@1") as f:     # revision 1, read-only
        print(f["x"][()])

    h5tx.head("lab.h5tx")                # newest revision of the store
    h5tx.tag("lab.h5tx", "good", 1)      # then open "lab.h5tx/runs/r1.h5@good"

`File` returns an ordinary `h5py.File` opened through the h5tx HDF5 driver
(libh5tx_vfd.so, loaded with ctypes into the same process, so it must use the
same libhdf5 as h5py). Names, revisions and the config string
("commit=close;codec=none", or a dict) are the driver's: see H5FDh5tx.h.

The driver library is found, in this order, at $H5TX_VFD_LIB (only there when
it is set), next to an installed copy of this module (../lib, ../../lib,
../../../lib), in a source tree's build/vfd, and by ctypes.util.find_library.
"""

import ctypes
import ctypes.util
import os
import re
import threading

import h5py

__all__ = ["File", "Error", "head", "tag", "read_bytes", "library_path"]

_LIB_NAME = "libh5tx_vfd.so"

_lock = threading.Lock()
_lib = None
_lib_path = None

try:  # h5py's global lock: no other thread may be inside libhdf5 meanwhile
    from h5py._objects import phil as _phil
except ImportError:  # pragma: no cover - other h5py layouts
    _phil = threading.RLock()


class Error(OSError):
    """An error of the h5tx store (h5tx.h); `code` is its H5TX_E... value,
    `codename` its name ("H5TX_ENOENT")."""

    def __init__(self, code, codename, message):
        super().__init__(message)
        self.code = code
        self.codename = codename


# ---- the library -----------------------------------------------------------

class _H5EError(ctypes.Structure):  # H5E_error2_t
    _fields_ = [("cls_id", ctypes.c_int64), ("maj_num", ctypes.c_int64),
                ("min_num", ctypes.c_int64), ("line", ctypes.c_uint),
                ("func_name", ctypes.c_char_p), ("file_name", ctypes.c_char_p),
                ("desc", ctypes.c_char_p)]


_WALK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_H5EError),
                         ctypes.c_void_p)


class _StoreOpts(ctypes.Structure):  # h5tx_store_opts
    _fields_ = [("create", ctypes.c_int), ("read_only", ctypes.c_int),
                ("durability", ctypes.c_int), ("page_size", ctypes.c_uint32),
                ("codec", ctypes.c_int), ("level", ctypes.c_int),
                ("map_size", ctypes.c_uint64), ("dirty_limit", ctypes.c_size_t)]


class _Err(ctypes.Structure):  # h5tx_error
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class _Stat(ctypes.Structure):  # h5tx_stat
    _fields_ = [("file_id", ctypes.c_uint64), ("length", ctypes.c_uint64),
                ("page_size", ctypes.c_uint32), ("created", ctypes.c_uint64),
                ("changed", ctypes.c_uint64)]


def _candidates():
    env = os.environ.get("H5TX_VFD_LIB")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, *up, "lib", _LIB_NAME)
           for up in ((os.pardir,), (os.pardir,) * 2, (os.pardir,) * 3)]
    out.append(os.path.join(here, os.pardir, "build", "vfd", _LIB_NAME))
    return [os.path.normpath(p) for p in out]


def _declare(lib):
    c, i64, p = ctypes, ctypes.c_int64, ctypes.c_void_p
    sigs = {
        "H5FD_h5tx_init": (i64, []),
        "H5Pset_fapl_h5tx": (c.c_int, [i64, c.c_char_p]),
        "H5get_libversion": (c.c_int, [c.POINTER(c.c_uint)] * 3),
        "H5Eclear2": (c.c_int, [i64]),
        "H5Ewalk2": (c.c_int, [i64, c.c_int, _WALK, p]),
        "h5tx_strerror": (c.c_char_p, [c.c_int]),
        "h5tx_store_opts_init": (None, [c.POINTER(_StoreOpts)]),
        "h5tx_store_open": (c.c_int, [c.c_char_p, c.POINTER(_StoreOpts), c.POINTER(p),
                                      c.POINTER(_Err)]),
        "h5tx_store_close": (None, [p]),
        "h5tx_store_head": (c.c_int, [p, c.POINTER(c.c_uint64), c.POINTER(_Err)]),
        "h5tx_rev_parse": (c.c_int, [p, c.c_char_p, c.POINTER(c.c_uint64), c.POINTER(_Err)]),
        "h5tx_tag_set": (c.c_int, [p, c.c_char_p, c.c_uint64, c.POINTER(_Err)]),
        "h5tx_snap_open": (c.c_int, [p, c.c_uint64, c.POINTER(p), c.POINTER(_Err)]),
        "h5tx_snap_close": (None, [p]),
        "h5tx_snap_stat": (c.c_int, [p, c.c_char_p, c.POINTER(_Stat), c.POINTER(_Err)]),
        "h5tx_snap_read": (c.c_int, [p, c.c_char_p, c.c_uint64, c.c_void_p, c.c_size_t,
                                     c.POINTER(_Err)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


def _loaded_hdf5_libraries():
    """Distinct libhdf5 files mapped into this process (Linux), or None."""
    try:
        with open("/proc/self/maps") as maps:
            fields = [line.split(None, 5) for line in maps]
        paths = {f[5].strip() for f in fields if len(f) == 6}
    except OSError:
        return None
    pat = re.compile(r"^libhdf5(_[a-z]+)?\.so")
    found = set()
    for path in paths:
        base = os.path.basename(path)
        if pat.match(base) and not base.startswith("libhdf5_hl"):
            found.add(os.path.realpath(path))
    return found


def _load():
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            return _lib
        tried, lib = [], None
        cands = _candidates()
        if not os.environ.get("H5TX_VFD_LIB"):
            found = ctypes.util.find_library("h5tx_vfd")
            if found:
                cands.append(found)
        for path in cands:
            if os.sep in path and not os.path.exists(path):
                tried.append("%s (missing)" % path)
                continue
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
        if lib is None:
            if not os.environ.get("H5TX_VFD_LIB"):
                tried.append("ctypes.util.find_library('h5tx_vfd') (not found)")
            raise ImportError("h5tx: cannot load the driver library %s; tried: %s. Set "
                              "H5TX_VFD_LIB to its path." % (_LIB_NAME, "; ".join(tried)))
        _declare(lib)
        # The driver and h5py must share one libhdf5: h5py's property lists and
        # file ids are handed to the driver's HDF5 calls.
        v = [ctypes.c_uint() for _ in range(3)]
        lib.H5get_libversion(*[ctypes.byref(x) for x in v])
        theirs = tuple(x.value for x in v)
        ours = tuple(h5py.version.hdf5_version_tuple[:3])
        if theirs != ours:
            raise ImportError("h5tx: %s uses HDF5 %s but h5py uses HDF5 %s; build h5tx "
                              "against h5py's HDF5" % (path, "%d.%d.%d" % theirs,
                                                       "%d.%d.%d" % ours))
        libs = _loaded_hdf5_libraries()
        if libs is not None and len(libs) > 1:
            raise ImportError("h5tx: more than one HDF5 library in this process (%s); %s "
                              "must be linked to h5py's" % (", ".join(sorted(libs)), path))
        with _phil:
            if lib.H5FD_h5tx_init() < 0:
                raise ImportError("h5tx: H5FD_h5tx_init() failed: %s" % _hdf5_errors(lib))
        _lib, _lib_path = lib, path
        return lib


def library_path():
    """The path of the driver library in use (loading it if needed)."""
    _load()
    return _lib_path


def _hdf5_errors(lib):
    """The messages on HDF5's default error stack, innermost first; clears
    it."""
    msgs = []

    def walk(n, err, data):
        desc = err.contents.desc
        if desc:
            msg = desc.decode("utf-8", "replace")
            msgs.append(msg[6:] if msg.startswith("h5tx: ") else msg)
        return 0

    lib.H5Ewalk2(0, 1, _WALK(walk), None)  # H5E_DEFAULT, H5E_WALK_DOWNWARD
    lib.H5Eclear2(0)
    return "; ".join(msgs) or "no HDF5 error message"


# ---- File --------------------------------------------------------------------

_LIBVER = {"earliest": h5py.h5f.LIBVER_EARLIEST, "latest": h5py.h5f.LIBVER_LATEST}
for _name in ("v108", "v110"):
    if hasattr(h5py.h5f, "LIBVER_" + _name.upper()):
        _LIBVER[_name] = getattr(h5py.h5f, "LIBVER_" + _name.upper())


def _config_text(config):
    if config is None:
        return ""
    if isinstance(config, dict):
        return ";".join("%s=%s" % kv for kv in config.items())
    if isinstance(config, bytes):
        return config.decode()
    return str(config)


def _make_fapl(lib, config, libver, rdcc_nslots, rdcc_nbytes, rdcc_w0):
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if libver is not None:
        try:
            if isinstance(libver, str):
                low, high = _LIBVER[libver], h5py.h5f.LIBVER_LATEST
            else:
                low, high = (_LIBVER[x] for x in libver)
        except (KeyError, TypeError, ValueError):
            raise ValueError("h5tx: unknown libver %r (known: %s, or a pair of them)"
                             % (libver, ", ".join(_LIBVER))) from None
        fapl.set_libver_bounds(low, high)
    if (rdcc_nslots, rdcc_nbytes, rdcc_w0) != (None, None, None):
        cache = list(fapl.get_cache())
        for i, v in ((1, rdcc_nslots), (2, rdcc_nbytes), (3, rdcc_w0)):
            if v is not None:
                cache[i] = v
        fapl.set_cache(*cache)
    text = _config_text(config)
    with _phil:
        lib.H5Eclear2(0)
        if lib.H5Pset_fapl_h5tx(fapl.id, text.encode()) < 0:
            raise ValueError("h5tx: bad config %r: %s" % (text, _hdf5_errors(lib)))
    return fapl


def File(name, mode="r", config=None, *, libver=None, rdcc_nslots=None, rdcc_nbytes=None,
         rdcc_w0=None, track_order=None):
    """Open `name` through the h5tx driver and return an h5py.File.

    name    "STORE.h5tx/path/f.h5" (head), "...f.h5@REV" or "...f.h5@TAG"
            (read-only), or a plain file (unless config says plain=no).
    mode    'r', 'r+', 'w' (create or truncate), 'w-' or 'x' (create, fail if
            it exists), 'a' (read-write if it exists, else create).
    config  the driver's config string "key=value;..." or a dict of them.
    libver, rdcc_nslots, rdcc_nbytes, rdcc_w0, track_order: as in h5py.File.

    Errors: ValueError for a bad config, mode or keyword; h5py's OSError
    (carrying the driver's "h5tx: ..." message) when HDF5 cannot open.
    """
    lib = _load()
    if mode not in ("r", "r+", "w", "w-", "x", "a"):
        raise ValueError("h5tx: invalid mode %r; must be one of r, r+, w, w-, x, a" % (mode,))
    fapl = _make_fapl(lib, config, libver, rdcc_nslots, rdcc_nbytes, rdcc_w0)
    fcpl = None
    if track_order:
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        order = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
        fcpl.set_link_creation_order(order)
        fcpl.set_attr_creation_order(order)
    bname = os.fsencode(os.fspath(name))
    f5 = h5py.h5f

    def create(flags):
        return f5.create(bname, flags, fapl=fapl, fcpl=fcpl)

    if mode == "r":
        fid = f5.open(bname, f5.ACC_RDONLY, fapl=fapl)
    elif mode == "r+":
        fid = f5.open(bname, f5.ACC_RDWR, fapl=fapl)
    elif mode == "w":
        fid = create(f5.ACC_TRUNC)
    elif mode in ("w-", "x"):
        fid = create(f5.ACC_EXCL)
    else:  # 'a': decided by HDF5 through the driver, not by the OS path
        try:
            fid = f5.open(bname, f5.ACC_RDWR, fapl=fapl)
        except OSError as e:
            why_not_rw = e
        else:
            return h5py.File(fid)
        try:
            f5.open(bname, f5.ACC_RDONLY, fapl=fapl).close()
        except OSError:
            fid = create(f5.ACC_EXCL)  # it does not exist
        else:  # it exists but cannot be written (busy, a revision): say why
            raise why_not_rw
    return h5py.File(fid)


# ---- the store -----------------------------------------------------------------

def _check(lib, rc, err):
    if rc != 0:
        raise Error(rc, lib.h5tx_strerror(rc).decode(), err.msg.decode("utf-8", "replace"))


def _split(name):
    """("STORE.h5tx", "path/in/store", "REV" or None) as the driver splits
    names."""
    name = os.fspath(name)
    parts = name.split("/")
    for i, part in enumerate(parts):
        if len(part) > 5 and part.endswith(".h5tx"):
            inner = "/".join(parts[i + 1:])
            if not inner:
                break
            store = "/".join(parts[:i + 1])
            fname, at, spec = inner.rpartition("@")
            return (store, fname, spec) if at else (store, inner, None)
    raise ValueError("h5tx: %r does not name a file in a store (STORE.h5tx/FILE)" % name)


class _Store:
    def __init__(self, path, read_only=True):
        self.lib = _load()
        opts = _StoreOpts()
        self.lib.h5tx_store_opts_init(ctypes.byref(opts))
        opts.read_only = int(read_only)
        self.handle, self.snap = ctypes.c_void_p(), ctypes.c_void_p()
        err = _Err()
        rc = self.lib.h5tx_store_open(os.fsencode(os.fspath(path)), ctypes.byref(opts),
                                      ctypes.byref(self.handle), ctypes.byref(err))
        _check(self.lib, rc, err)

    def call(self, fn, handle, *args):
        err = _Err()
        _check(self.lib, getattr(self.lib, fn)(handle, *args, ctypes.byref(err)), err)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.lib.h5tx_snap_close(self.snap)
        self.lib.h5tx_store_close(self.handle)


def head(store):
    """The head (newest) revision of `store`; 0 for a store never committed
    to. Raises h5tx.Error."""
    with _Store(store) as s:
        rev = ctypes.c_uint64()
        s.call("h5tx_store_head", s.handle, ctypes.byref(rev))
        return rev.value


def tag(store, name, rev=None):
    """Tag revision `rev` (default: head) of `store` as `name`, moving the tag
    if it exists; "STORE.h5tx/f.h5@NAME" then opens that revision."""
    with _Store(store, read_only=False) as s:
        s.call("h5tx_tag_set", s.handle, name.encode(), 2**64 - 1 if rev is None else int(rev))


def read_bytes(name):
    """The bytes of "STORE.h5tx/f.h5[@REV]" (head without @), read by the
    store alone, without HDF5: a file in a store is an ordinary HDF5 file,
    so these bytes written to disk open with any HDF5 tool."""
    store, fname, spec = _split(name)
    with _Store(store) as s:
        rev = ctypes.c_uint64()
        s.call("h5tx_rev_parse", s.handle, (spec or "head").encode(), ctypes.byref(rev))
        s.call("h5tx_snap_open", s.handle, rev, ctypes.byref(s.snap))
        st = _Stat()
        s.call("h5tx_snap_stat", s.snap, fname.encode(), ctypes.byref(st))
        buf = ctypes.create_string_buffer(st.length)
        s.call("h5tx_snap_read", s.snap, fname.encode(), 0, buf, st.length)
        return buf.raw
