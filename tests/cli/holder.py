"""holder.py - a helper process for the CLI tests that holds an h5tx store
open through libh5tx (ctypes), the way another program would:

    holder.py LIB open STORE         keep the store open (no snapshot) until stdin closes
    holder.py LIB snap STORE REV     pin a snapshot of REV until stdin closes
    holder.py LIB writer STORE NAME  hold NAME's writer lease until stdin closes
    holder.py LIB remove STORE NAME  remove NAME from head as one commit

Prints "ready" once it holds what it was asked to hold.
"""
import ctypes
import sys


class Err(ctypes.Structure):  # h5tx_error
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


def main():
    lib = ctypes.CDLL(sys.argv[1])
    mode, store = sys.argv[2], sys.argv[3].encode()
    vp, u64 = ctypes.c_void_p, ctypes.c_uint64
    lib.h5tx_store_open.argtypes = [ctypes.c_char_p, vp, ctypes.POINTER(vp), ctypes.POINTER(Err)]
    lib.h5tx_snap_open.argtypes = [vp, u64, ctypes.POINTER(vp), ctypes.POINTER(Err)]
    lib.h5tx_writer_open.argtypes = [vp, ctypes.c_char_p, vp, ctypes.POINTER(vp),
                                     ctypes.POINTER(Err)]
    lib.h5tx_snap_close.argtypes = lib.h5tx_writer_close.argtypes = [vp]
    lib.h5tx_store_close.argtypes = [vp]
    lib.h5tx_remove.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(u64),
                                ctypes.POINTER(Err)]
    err = Err()
    s = vp()

    def check(rc):
        if rc != 0:
            sys.exit("holder: %s" % err.msg.decode())

    check(lib.h5tx_store_open(store, None, ctypes.byref(s), ctypes.byref(err)))
    h = vp()
    if mode == "snap":
        check(lib.h5tx_snap_open(s, int(sys.argv[4]), ctypes.byref(h), ctypes.byref(err)))
    elif mode == "writer":
        check(lib.h5tx_writer_open(s, sys.argv[4].encode(), None, ctypes.byref(h),
                                   ctypes.byref(err)))
    elif mode == "remove":
        rev = u64()
        check(lib.h5tx_remove(s, sys.argv[4].encode(), b"remove", ctypes.byref(rev),
                              ctypes.byref(err)))
        print(rev.value, flush=True)
        return
    print("ready", flush=True)
    sys.stdin.read()
    if mode == "snap":
        lib.h5tx_snap_close(h)
    elif mode == "writer":
        lib.h5tx_writer_close(h)
    lib.h5tx_store_close(s)


if __name__ == "__main__":
    main()
