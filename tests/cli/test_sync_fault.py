"""`h5tx import` whose commit landed but whose flush to disk failed
(H5TX_ESYNC): it names the revision that holds the import and exits 1, and
the revision is head. The fault shim (tests/core/fault_shim.c), preloaded,
fails data.mdb's syncs while a marker file exists."""
import os
import subprocess

import pytest

from conftest import CLI, h5tx, read, write

SHIM = os.environ.get("H5TX_FAULT_SHIM", "")


def test_import_reports_landed_revision_when_flush_fails(tmp_path, store):
    if not SHIM or not os.path.exists(SHIM):
        pytest.skip("the fault shim (H5TX_FAULT_SHIM) is not built: %r" % SHIM)
    src = tmp_path / "in.bin"
    write(src, b"x" * 100000)
    arm = tmp_path / "fail-syncs"
    arm.write_text("1")  # the commit's own sync passes, the durability sync fails
    env = dict(os.environ, LD_PRELOAD=SHIM, H5TX_FAULT_SYNC_WHILE=str(arm))
    p = subprocess.run([CLI, "import", str(src), "%s/f.bin" % store], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 1, (out, err)
    assert "revision 1" in out + err, (out, err)
    assert "nothing was imported" not in err, err
    assert "flush" in err, err
    arm.unlink()
    exported = tmp_path / "out.bin"
    h5tx("export", "%s/f.bin" % store, exported)
    assert read(exported) == b"x" * 100000
    h5tx("verify", store)
