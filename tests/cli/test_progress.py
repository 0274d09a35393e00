"""The progress bar: drawn on stderr with percentage, throughput and ETA
when stderr is a terminal (a pty here), absent when it is not."""
import os
import subprocess

from conftest import CLI, h5tx, write


def run_on_pty(*args):
    """Run h5tx with stderr on a pty; return (exit status, stdout, what the
    terminal got)."""
    master, slave = os.openpty()
    p = subprocess.Popen([CLI] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    out = p.stdout.read()
    p.stdout.close()
    return p.wait(timeout=60), out.decode(), got.decode("utf-8", "replace")


def test_progress_on_a_terminal(tmp_path, store):
    src = write(tmp_path / "big", os.urandom(8 << 20) + bytes(8 << 20))
    rc, out, term = run_on_pty("import", src, "%s/big" % store)
    assert rc == 0 and out.startswith("imported ")
    assert "\rimport [" in term and "%" in term and "/s" in term and "ETA" in term
    assert "16 MiB" in term  # the total
    assert term.endswith("\r\x1b[K")  # erased at the end
    # The commit has a bar of its own, in bytes of pages stored, to 100 %
    # (it was a spinner for most of a large import).
    commit = term[term.index("\rimport: commit ["):]
    assert "ETA" in commit and " 100%" in commit and "/ 16 MiB" in commit
    rc, out, term = run_on_pty("export", "%s/big" % store, tmp_path / "out")
    assert rc == 0 and "\rexport [" in term and "ETA" in term
    rc, out, term = run_on_pty("verify", store)
    assert rc == 0 and "\rverify" in term and out.endswith("no problems\n")
    rc, out, term = run_on_pty("gc", store, "--keep-last", 1)
    assert rc == 0 and "\rgc" in term and out.startswith("collected 0 revisions")
    # Errors still reach the terminal, after the bar is gone.
    rc, out, term = run_on_pty("import", tmp_path, "%s/x" % store)
    assert rc == 1 and term == "h5tx: %s is a directory; import copies one file\r\n" % tmp_path


def test_no_progress_when_not_a_terminal(tmp_path, store):
    src = write(tmp_path / "big", os.urandom(8 << 20))
    for args in (("import", src, "%s/big" % store), ("export", "%s/big" % store, tmp_path / "o"),
                 ("verify", store), ("gc", store, "--keep-last", 1)):
        p = h5tx(*args)
        assert p.stderr == b"", args
        assert "\r" not in p.out and "\x1b" not in p.out
