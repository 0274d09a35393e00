"""`h5tx import` whose commit's flush to disk fails (the page log's or the
index's): nothing is imported, the command says so and exits 1, head does
not move; once the disk works again the same import succeeds. The fault
shim (tests/core/fault_shim.c), preloaded, fails the store's syncs while a
marker file exists."""
import os
import subprocess

import pytest

from conftest import CLI, h5tx, h5tx_json, read, write

SHIM = os.environ.get("H5TX_FAULT_SHIM", "")


@pytest.mark.parametrize("passing", [0, 1])
def test_import_with_failed_flush_imports_nothing(tmp_path, store, passing):
    if not SHIM or not os.path.exists(SHIM):
        pytest.skip("the fault shim (H5TX_FAULT_SHIM) is not built: %r" % SHIM)
    src = tmp_path / "in.bin"
    write(src, b"x" * 100000)
    arm = tmp_path / "fail-syncs"
    arm.write_text(str(passing))  # 0: the page log's flush fails, 1: the index's
    env = dict(os.environ, LD_PRELOAD=SHIM, H5TX_FAULT_SYNC_WHILE=str(arm))
    p = subprocess.run([CLI, "import", str(src), "%s/f.bin" % store], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 1, (out, err)
    assert "nothing was imported" in err, err
    arm.unlink()
    assert h5tx_json("log", store)["commits"] == []
    h5tx("import", str(src), "%s/f.bin" % store)
    exported = tmp_path / "out.bin"
    h5tx("export", "%s/f.bin" % store, exported)
    assert read(exported) == b"x" * 100000
