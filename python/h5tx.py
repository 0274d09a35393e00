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

`import h5tx` also registers the driver with h5py, so h5py.File(name, mode,
driver="h5tx", config=..., message=...) and h5netcdf.File(name, mode,
driver="h5tx") work; open_dataset and to_netcdf do the same for xarray.

The driver library is found, in this order, at $H5TX_VFD_LIB (only there when
it is set), next to an installed copy of this module (../lib, ../../lib,
../../../lib), in a source tree's build/vfd, and by ctypes.util.find_library.
In each directory the build for h5py's HDF5 (libh5tx_vfd_1_14.so under HDF5
1.14) comes before the system HDF5's libh5tx_vfd.so.
"""

import ctypes
import ctypes.util
import os
import re
import threading

import h5py

__all__ = ["File", "Error", "head", "tag", "read_bytes", "library_path", "netcdf_store",
           "open_dataset", "to_netcdf"]

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
                ("dirty_limit", ctypes.c_size_t)]


class _Err(ctypes.Structure):  # h5tx_error
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class _Stat(ctypes.Structure):  # h5tx_stat
    _fields_ = [("file_id", ctypes.c_uint64), ("length", ctypes.c_uint64),
                ("page_size", ctypes.c_uint32), ("created", ctypes.c_uint64),
                ("changed", ctypes.c_uint64)]


def _lib_names():
    """The driver's file names, best first: the build for h5py's HDF5
    (libh5tx_vfd_1_14.so for HDF5 1.14.x), then the system HDF5's."""
    major, minor = h5py.version.hdf5_version_tuple[:2]
    return ["libh5tx_vfd_%d_%d.so" % (major, minor), _LIB_NAME]


def _candidates():
    env = os.environ.get("H5TX_VFD_LIB")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [os.path.join(here, *up, "lib") for up in ((os.pardir,), (os.pardir,) * 2,
                                                      (os.pardir,) * 3)]
    dirs.append(os.path.join(here, os.pardir, "build", "vfd"))
    out = []
    for d in dirs:
        names = [n for n in _lib_names() if os.path.exists(os.path.join(d, n))]
        for n in names or [_LIB_NAME]:
            path = os.path.normpath(os.path.join(d, n))
            if path not in out:
                out.append(path)
    return out


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
        searched = []  # names ctypes.util.find_library looked for
        if not os.environ.get("H5TX_VFD_LIB"):
            for name in _lib_names():
                found = ctypes.util.find_library(name[3:-3])  # libNAME.so -> NAME
                searched.append(name[3:-3])
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
            tried += ["ctypes.util.find_library('%s') (not found)" % n for n in searched]
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


# ---- the h5py driver and File -------------------------------------------------

def _config_text(config, keys=None, message=None):
    """The driver's config string from `config` (a string, bytes or a dict),
    config keys given as keywords, and a commit message."""
    items = []
    if isinstance(config, dict):
        items += list(config.items())
    elif config is not None:
        text = config.decode() if isinstance(config, bytes) else str(config)
        if text.strip():
            items.append((None, text))
    items += list((keys or {}).items())
    if message is not None:
        if ";" in str(message):
            raise ValueError("h5tx: a commit message cannot contain ';' (the config "
                             "separator): %r" % (message,))
        items.append(("message", message))
    out = []
    for k, v in items:
        if isinstance(v, bool):
            v = "yes" if v else "no"
        out.append(v if k is None else "%s=%s" % (k, v))
    return ";".join(out)


def _set_fapl(plist, config=None, message=None, **keys):
    """h5py's hook for driver="h5tx": make `plist` (h5py's PropFAID, already
    carrying h5py's own settings: libver, cache, locking...) use the driver.

    config   the driver's config string "key=value;..." or a dict of them
    message  the commit message of the revisions this open makes
    **keys   config keys as keywords (codec="zstd", commit="close", ...)"""
    lib = _load()
    text = _config_text(config, keys, message)
    with _phil:
        lib.H5Eclear2(0)
        if lib.H5Pset_fapl_h5tx(plist.id, text.encode()) < 0:
            raise ValueError("h5tx: bad config %r: %s" % (text, _hdf5_errors(lib)))


# `import h5tx` is enough for h5py.File(name, mode, driver="h5tx", ...).
if hasattr(h5py, "register_driver"):  # h5py >= 3.2
    h5py.register_driver("h5tx", _set_fapl)


def _check_libver(libver):
    """h5py answers an unknown libver with a bare KeyError; say what is known."""
    known = getattr(h5py._hl.files, "libver_dict", None)
    if libver is None or known is None:
        return
    names = [libver] if isinstance(libver, str) else list(libver)
    for x in names:
        if x not in known:
            raise ValueError("h5tx: unknown libver %r (known: %s, or a pair of them)"
                             % (x, ", ".join(known)))


def File(name, mode="r", config=None, *, message=None, **kwds):
    """Open `name` through the h5tx driver and return an h5py.File; the same
    as h5py.File(name, mode, driver="h5tx", config=..., message=..., ...),
    except that mode 'a' on a file that exists but cannot be written (a
    revision, or a file another process is writing) says why instead of
    trying to create it.

    name     "STORE.h5tx/path/f.h5" (head), "...f.h5@REV" or "...f.h5@TAG"
             (read-only), or a plain file (unless config says plain=no).
    mode     'r', 'r+', 'w' (create or truncate), 'w-' or 'x' (create, fail if
             it exists), 'a' (read-write if it exists, else create).
    config   the driver's config string "key=value;..." or a dict of them.
    message  the commit message of the revisions this open makes (default:
             $H5TX_MESSAGE, else "PROGRAM: flush" or "PROGRAM: close").
    **kwds   h5py.File's own keywords (libver, userblock_size, locking,
             track_order, rdcc_nbytes, ...) and config keys as keywords.

    Errors: ValueError for a bad config, mode or keyword; h5py's OSError
    (carrying the driver's "h5tx: ..." message) when HDF5 cannot open.
    """
    _load()
    if mode not in ("r", "r+", "w", "w-", "x", "a"):
        raise ValueError("h5tx: invalid mode %r; must be one of r, r+, w, w-, x, a" % (mode,))
    _check_libver(kwds.get("libver"))
    kwds = dict(kwds, driver="h5tx", config=config, message=message)
    if mode != "a":
        return h5py.File(name, mode, **kwds)
    # 'a' is decided by HDF5 through the driver, not by the OS path.
    try:
        return h5py.File(name, "r+", **kwds)
    except OSError as e:
        why_not_rw = e
    ro = dict(kwds)
    for k in ("userblock_size", "track_order", "fs_strategy", "fs_persist", "fs_threshold",
              "fs_page_size"):
        ro.pop(k, None)  # creation-only keywords
    try:
        h5py.File(name, "r", **ro).close()
    except OSError:
        return h5py.File(name, "w-", **kwds)  # it does not exist
    raise why_not_rw  # it exists but cannot be written (busy, a revision): say why


# ---- h5netcdf and xarray ---------------------------------------------------------

def netcdf_store(name, mode="r", config=None, *, message=None, **kwds):
    """An xarray data store (xarray.backends.H5NetCDFStore) on `name`, opened
    with h5netcdf through the h5tx driver. xarray's engine="h5netcdf" passes
    no driver to h5py, so open_dataset and to_netcdf below go through this."""
    import h5netcdf
    from xarray.backends import H5NetCDFStore
    f = h5netcdf.File(name, mode, driver="h5tx", config=config, message=message, **kwds)
    return H5NetCDFStore(f, mode=mode)


def open_dataset(name, config=None, **kwargs):
    """xarray.open_dataset of "STORE.h5tx/f.nc[@REV]" through h5netcdf and
    the driver; `kwargs` are xarray.open_dataset's (decode_times, chunks...)."""
    import xarray
    return xarray.open_dataset(netcdf_store(name, "r", config), **kwargs)


def to_netcdf(dataset, name, mode="w", config=None, *, message=None, **kwargs):
    """Write xarray `dataset` to "STORE.h5tx/f.nc" through h5netcdf and the
    driver (mode 'w' replaces the file at head, 'a' adds to it); the close
    commits one revision. `kwargs` go to Dataset.dump_to_store (encoding,
    unlimited_dims)."""
    store = netcdf_store(name, mode, config, message=message)
    try:
        dataset.dump_to_store(store, **kwargs)
    finally:
        store.close()


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
