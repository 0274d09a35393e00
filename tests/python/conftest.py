# Lets the tests run from a source tree without PYTHONPATH: h5tx.py lives in
# ../../python, and finds ../build/vfd/libh5tx_vfd.so unless H5TX_VFD_LIB says
# otherwise.
import os
import sys

try:
    import h5tx  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    os.pardir, os.pardir, "python"))
