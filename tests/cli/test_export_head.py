"""`h5tx export STORE/NAME` (head) pins head before it resolves its number:
a gc that collects the head it saw meanwhile cannot make it fail. The
export is stopped between the two steps with the library's H5TX_TEST_STOP
hook (it stops a snapshot's claim of a reader slot)."""
import os
import subprocess

from conftest import CLI, h5tx


def test_export_head_while_gc_collects_it(tmp_path, store):
    src = tmp_path / "one"
    src.write_bytes(b"one" * 1000)
    h5tx("import", src, "%s/f" % store)
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    env = dict(os.environ, H5TX_TEST_STOP="pin-claim:%d:%d" % (up_w, down_r))
    out = tmp_path / "out"
    p = subprocess.Popen([CLI, "export", "%s/f" % store, str(out)], env=env,
                         pass_fds=(up_w, down_r), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    os.close(up_w)
    os.close(down_r)
    try:
        # The export has chosen a slot for its pin and stopped before the pin
        # is published: head moves on and gc collects the head it saw.
        assert os.read(up_r, 1) == b"S"
        src.write_bytes(b"two" * 1000)
        h5tx("import", src, "%s/f" % store)
        h5tx("gc", "--keep-last", "1", store)
        os.write(down_w, b"g")
        assert p.wait(timeout=60) == 0, p.stderr.read().decode()
    finally:
        os.close(up_r)
        os.close(down_w)
        if p.poll() is None:
            p.kill()
            p.wait()
    # It exported a head, never a collected revision's leftovers.
    assert out.read_bytes() in (b"one" * 1000, b"two" * 1000)
