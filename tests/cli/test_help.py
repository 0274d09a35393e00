"""h5tx --help, help CMD, CMD --help for every subcommand, and exit status 2
with a message for bad arguments."""
import json

import pytest

from conftest import h5tx, write

COMMANDS = ["init", "import", "export", "ls", "log", "show", "tag", "tags", "diff", "gc",
            "verify", "stats", "rm", "mv", "upgrade", "repair"]


def test_main_help():
    p = h5tx("--help")
    for c in COMMANDS:
        assert "\n  %s " % c in p.out
    for code in ("0  success", "1  failure", "2  usage"):
        assert code in p.out
    assert h5tx("help").out == p.out
    assert h5tx("-h").out == p.out


def test_no_arguments_and_unknown_command():
    p = h5tx(code=2)
    assert "Usage: h5tx COMMAND" in p.err
    p = h5tx("frobnicate", code=2)
    assert p.err.startswith("h5tx: unknown command 'frobnicate'")
    p = h5tx("help", "frobnicate", code=2)
    assert "unknown command 'frobnicate'" in p.err
    p = h5tx("mount", code=2)  # a command since issue 6: it needs STORE and DIR
    assert "h5tx: mount: missing arguments" in p.err


def test_version():
    assert h5tx("--version").out.startswith("h5tx 0.1.0 (store format 2)")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(cmd):
    p = h5tx(cmd, "--help")
    assert p.out.startswith("Usage: h5tx %s " % cmd)
    assert "Exit status:" in p.out and "2  usage" in p.out
    assert p.err == ""
    assert h5tx("help", cmd).out == p.out
    assert h5tx(cmd, "-h").out == p.out


@pytest.mark.parametrize("cmd", ["ls", "log", "show", "tags", "diff", "gc", "verify", "stats",
                                 "upgrade", "repair"])
def test_json_documented(cmd):
    assert "--json" in h5tx(cmd, "--help").out


BAD = [
    (["import"], "missing arguments"),
    (["import", "a"], "missing arguments after 'a'"),
    (["import", "a", "S/lab.h5tx/x", "extra"], "unexpected argument 'extra'"),
    (["import", "a", "S/lab.h5tx"], "names a store, not a file in it"),
    (["import", "a", "S/lab.h5tx/x@3"], "a revision ('@3') makes no sense here"),
    (["export", "S/lab.h5tx", "out"], "names a store, not a file in it"),
    (["export", "S/lab.h5tx/f@", "out"], "nothing after '@'"),
    (["export", "S/lab.h5tx/f@1@2", "out"], "more than one '@'"),
    (["ls", "S/nostore"], "nostore' names no store (expected STORE.h5tx[/NAME][@REV])"),
    (["ls", "S/lab.h5tx", "--bogus"], "unknown option '--bogus'"),
    (["ls", "S/lab.h5tx", "-x"], "unknown option '-x'"),
    (["ls", "S/lab.h5tx", "--json=yes"], "option '--json' takes no value"),
    (["log", "S/lab.h5tx", "-n"], "option '--max-count' needs a value"),
    (["log", "S/lab.h5tx", "-n", "0"], "--max-count: expected a positive number"),
    (["log", "S/lab.h5tx", "--json", "--json"], "option '--json' given twice"),
    (["init", "S/new.h5tx", "--page-size", "3000"],
     "--page-size: bad value '3000': expected a power of two from 512 to 16M"),
    (["init", "S/new.h5tx", "--codec", "brotli"], "--codec: bad value 'brotli'"),
    (["init", "S/new.h5tx", "--codec", "zstd;store=x.h5tx"], "--codec: bad value"),
    (["init", "S/new.h5tx", "--durability", "maybe"], "--durability: bad value 'maybe'"),
    (["init", "S/new"], "names no store"),
    (["init", "S/lab.h5tx/x"], "expected a store, not a file in it"),
    (["gc", "S/lab.h5tx"], "say what to keep"),
    (["gc", "S/lab.h5tx", "--keep-last", "x"], "--keep-last: expected a number"),
    (["gc", "S/lab.h5tx", "--keep-last", "-1"], "--keep-last: expected a number"),
    (["gc", "S/lab.h5tx", "--keep-since", "yesterday"], "--keep-since: expected a date"),
    (["gc", "S/lab.h5tx", "--keep-since", "2026-02-30"], "--keep-since: expected a date"),
    (["gc", "S/lab.h5tx", "--keep-since", "2026-11-21T25:00:00"], "--keep-since"),
    (["gc", "S/lab.h5tx", "--keep-since", "7y"], "--keep-since"),
    (["tag", "-d", "S/lab.h5tx", "v1", "3"], "-d takes a store and a tag name"),
    (["tag", "S/lab.h5tx"], "missing arguments"),
    (["diff", "S/lab.h5tx/f"], "missing arguments"),
    (["diff", "S/lab.h5tx/f@2", "1"], "makes no sense here"),
    (["show", "S/lab.h5tx@1", "extra"], "unexpected argument"),
    (["stats", "S/lab.h5tx/f"], "expected a store, not a file in it"),
    (["verify"], "missing arguments"),
    (["upgrade"], "missing arguments"),
    (["upgrade", "S/lab.h5tx/f"], "expected a store, not a file in it"),
    (["repair", "S/lab.h5tx", "extra"], "unexpected argument 'extra'"),
    (["repair", "S/lab.h5tx@1"], "makes no sense here"),
    # Names, tags and revisions the store itself rejects as malformed.
    (["tag", "S/lab.h5tx", "123"], "all digits"),
    (["tag", "S/lab.h5tx", "head"], "reserved"),
    (["import", "S/src", "S/lab.h5tx/a/../b"], "'.' or '..' part"),
    (["import", "S/src", "S/lab.h5tx/dir/"], "ends in '/'"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_usage_errors(tmp_path, args, message):
    h5tx("init", tmp_path / "lab.h5tx")
    write(tmp_path / "src", b"data")
    args = [a.replace("S/", str(tmp_path) + "/") for a in args]
    p = h5tx(*args, code=2)
    if "--json" in args:  # the error as JSON on stderr
        e = json.loads(p.err)["error"]
        assert (e["code"], e["exit"]) == ("usage", 2) and message in e["message"], p.err
    else:
        assert p.err.startswith("h5tx: "), p.err
        assert message in p.err, p.err
    assert p.out == ""
    # Nothing was committed by a refused command.
    assert h5tx("log", tmp_path / "lab.h5tx").out == "no commits\n"
