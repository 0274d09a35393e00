#!/usr/bin/env python3
"""make_corpus.py - writes the fuzzers' seed corpora under
tests/fuzz/corpus/<target>/: small valid inputs of each decoder (and a few
near misses), so libFuzzer starts from the formats' real shapes. Run it
again after a format change; the files it writes are named seed-*, crash
reproducers kept as regression inputs are named regress-* and left alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def config():
    for i, s in enumerate([
            "store=lab.h5tx", "store=/data/lab.h5tx;rev=42", "rev=good",
            "page_size=64K; codec=zstd:3; commit=close", "codec=none;durability=nosync",
            "codec=zstd:-5;cache=256M;plain=no", "page_size=512", "page_size=16M",
            " store = a b.h5tx ; ", "codec=zstd;durability=sync;commit=flush;plain=yes",
            "cache=1G", "unknown=1", "store=x.h5tx;store=y.h5tx", "codec=zstd:23", "novalue"]):
        write("config", "%02d" % i, s)


def page_key(fid, page, rev):
    return struct.pack(">QQQ", fid, page, (~rev) & (2**64 - 1))


def page_rec(enc, raw_len, content, payload):
    hdr = struct.pack("<BBxxIQQ", 1, enc, raw_len, content, 0)
    return hdr + payload


def zstd_rle(n, byte):
    """A zstd frame of one RLE block: `n` (256..65791) copies of `byte`."""
    block = (n << 3) | (1 << 1) | 1  # size, type RLE, last block
    return (struct.pack("<IBH", 0xFD2FB528, 0x60, n - 256) + struct.pack("<I", block)[:3]
            + bytes([byte]))


def page():
    # Byte 0: page size 512 << (b % 6); the harness repairs the checksum (bit 7)
    # and the content hash (bit 6).
    key = page_key(1, 0, 1)
    write("page", "zero", bytes([0x80]) + key + page_rec(0, 512, 0, b""))
    write("page", "raw", bytes([0xc0]) + key + page_rec(1, 512, 0, bytes(range(256)) * 2))
    z = zstd_rle(1024, 0x41)
    write("page", "zstd", bytes([0xc1]) + key + page_rec(2, 1024, 0, z))
    write("page", "badsum", bytes([0x00]) + key + page_rec(1, 512, 0, bytes(512)))


def lz4_rle(n, byte):
    """An LZ4 block (no frame) of `n` (>= 32) copies of `byte`: one literal,
    a match at offset 1, then the five literals a block must end with."""
    m = n - 1 - 5 - 4  # match length beyond the minimum of 4
    ext = b""
    rest = m - 15
    while rest >= 255:
        ext += b"\xff"
        rest -= 255
    ext += bytes([rest])
    return bytes([0x1F, byte]) + struct.pack("<H", 1) + ext + bytes([0x50]) + bytes([byte]) * 5


def page2():
    # Byte 0: page size 512 << (b % 6), encoding (b >> 4) % 6.
    write("page2", "zero", bytes([0x00]))
    write("page2", "raw", bytes([0x10]) + bytes(range(256)) * 2)
    write("page2", "zstd", bytes([0x21]) + zstd_rle(1024, 0x41))
    write("page2", "lz4", bytes([0x40]) + lz4_rle(512, 0x41))
    write("page2", "lz4-16k", bytes([0x45]) + lz4_rle(16384, 0x42))
    write("page2", "lz4-short", bytes([0x41]) + lz4_rle(512, 0x43))  # decodes to 512 of 1024
    write("page2", "external", bytes([0x30]) + bytes(24))


def records():
    host, msg = b"node1", b"import data.h5"
    fids = struct.pack("<QQ", 1, 2)
    commit = struct.pack("<IIQQIHHIIQQ", 1, 0, 6, 1764547200 * 10**9, 4242, len(host),
                         len(msg), 2, 0, 8192, 2) + host + msg + fids
    write("records", "commit", b"\x00" + commit)
    write("records", "commit-collected", b"\x00" + commit[:4] + struct.pack("<I", 1) + commit[8:])
    write("records", "file", b"\x01" + struct.pack("<IIQ", 65536, 0, 3))
    lease = struct.pack("<IIQQQQ", 4242, 0, 123456, 987654, 1764547200 * 10**9, 77) + host
    write("records", "lease", b"\x02" + lease)


def marker():
    write("marker", "v1", "h5tx store\nformat 1\n")
    write("marker", "v2", "h5tx store\nformat 2\n")
    write("marker", "future", "h5tx store\nformat 99999999999\n")
    write("marker", "foreign", "HDF5 store\nformat 1\n")


def target():
    # Byte 0: CLI_T_NAME 1 | CLI_T_NAME_OK 2 | CLI_T_REV_OK 4.
    for i, (want, s) in enumerate([
            (5, "lab.h5tx/runs/r1.h5@42"), (6, "lab.h5tx@good"), (2, "/data/lab.h5tx/runs"),
            (1, "a/b/lab.h5tx/x.h5"), (4, "lab.h5tx@1@2"), (7, "lab.h5tx/x@a/b"),
            (1, "nostore/x.h5"), (7, "lab.h5tx//x.h5@head")]):
        write("target", "%02d" % i, bytes([want]) + s.encode())


def vfd_name():
    # Byte 0: the driver's config ("", store=lab.h5tx, store=...;rev=3, plain=no, rev=good).
    for i, (cfg, s) in enumerate([
            (0, "lab.h5tx/runs/r1.h5@42"), (1, "out/run1.h5"), (2, "/data/lab.h5tx/x.h5"),
            (3, "/tmp/plain.h5"), (4, "lab.h5tx/x.h5@good")]):
        write("vfd_name", "%02d" % i, bytes([cfg]) + s.encode())


def cli_values():
    seeds = [b"\x00" + s for s in (b"0", b"42", b"18446744073709551615", b"18446744073709551616",
                                  b"007")]
    seeds += [b"\x01" + s for s in (b"2026-11-21", b"2026-11-21T12:00:00Z", b"2026-11-21 12:00",
                                   b"7d", b"12h", b"2w", b"2026-02-30", b"1970-01-01")]
    seeds += [b"\x02" + s for s in (b"--keep-last\x003\x00store.h5tx", b"--json\x00-x\x00--\x00-a",
                                   b"--keep-last=5\x00a\x00b", b"-n")]
    for i, s in enumerate(seeds):
        write("cli_values", "%02d" % i, s)


def segment():
    # Byte 0 bit 0: the harness repairs batch places, hashes and record
    # checks. The rest follows the segment header (file offset 4096).
    def batch(at, wid, entries, payloads):
        # entries: (kind, enc, stored, off, key, raw); 4096-byte header
        h = bytearray(4096)
        h[0:8] = b"H5TXBAT2"
        end = max([e[3] + e[2] for e in entries] + [at + 4096])
        length = (end - at + 4095) // 4096 * 4096
        struct.pack_into("<IIQQQQ", h, 8, len(entries), 0, length, 1, at, wid)
        for i, (kind, enc, stored, off, key, raw) in enumerate(entries):
            struct.pack_into("<BBHIQQII", h, 64 + 48 * i, kind, enc, 0, stored, off, key, raw, 0)
        body = bytearray(length - 4096)
        for (kind, enc, stored, off, key, raw), pl in zip(entries, payloads):
            body[off - at - 4096:off - at - 4096 + stored] = pl
        return bytes(h) + bytes(body)
    page = bytes(range(256)) * 16
    one = batch(4096, 7, [(1, 1, 4096, 8192, 0, 4096), (1, 2, 100, 12288, 1, 65536)],
                [page, b"z" * 100])
    at2 = 4096 + len(one)
    two = batch(at2, 7, [(2, 1, 60, at2 + 4096, 5, 60)], [b"c" * 60])
    seal = batch(at2 + len(two), 0, [(5, 1, 16, at2 + len(two) + 4096, 0, 16)], [b"s" * 16])
    write("segment", "one", b"\x01" + one)
    write("segment", "two", b"\x01" + one + two)
    write("segment", "sealed", b"\x01" + one + two + seal)
    write("segment", "torn", b"\x01" + one + two[:5000])
    write("segment", "unrepaired", b"\x00" + one)


def records2():
    place = bytearray(64)
    struct.pack_into("<BBHIIIQQQQQQ", place, 0, 2, 1, 0, 65536, 65536, 0, 3, 8192, 9, 4, 5, 6)
    write("records2", "place", b"\x00" + bytes(place))
    host, msg = b"host", b"msg"
    ops = struct.pack("<B3xQIQQH", 1, 3, 65536, 0, 0, 4) + b"a.h5"
    ops += struct.pack("<B3xQH", 2, 3, 4) + b"a.h5"
    ops += struct.pack("<B3xQQ", 3, 3, 1000)
    ops += struct.pack("<B3xQQ", 4, 3, 77)
    ops += struct.pack("<B3xQQQQQQBIIQQ", 5, 3, 1, 2, 8192, 9, 4, 1, 65536, 65536, 5, 6)
    hdr = struct.pack("<QQQQIHHII", 2, 1, 0, 123, 42, len(host), len(msg), 5, 0)
    write("records2", "commit", b"\x01" + hdr + host + msg + ops)
    write("records2", "value", b"\x02" + bytes([8]) + b"k" * 8 + b"v" * 24)
    dkey = struct.pack(">QIQQ", 5, 65536, 3, 8192)
    write("records2", "dedupe", b"\x04" + dkey + bytes(place) + struct.pack("<Q", 3))
    write("records2", "dedupe-old", b"\x04" + dkey + bytes(place))


if __name__ == "__main__":
    config()
    page()
    records()
    marker()
    target()
    vfd_name()
    cli_values()
    segment()
    records2()
    page2()
