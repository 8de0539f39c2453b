#!/usr/bin/env python3
"""records.py - the writer, the killer and the checker of the crash loop.

Design: the writer appends numbered records to a file (in the ext4 on the
volume under test) and makes each durable before it counts it: fsync,
fdatasync or O_DSYNC, by mode. Only once the sync returned does it append the
record's number to the acknowledgement log, which lives OUTSIDE the pool (so
the kill cannot touch it) and is written with plain write(2) on an unbuffered
descriptor: the writer's own process survives the daemon's death, so the
kernel keeps every line it wrote. Every acknowledged number must later be in
the file, intact.

A record is self-checking: a 32-byte header (magic, round, number, payload
length, CRC32 of header and payload) and a payload derived from (round,
number) alone, so a torn record fails the CRC and a stale one (an older
version of the block, or another record's bytes) fails the round/number or
payload comparison. Lengths vary (1..6000 bytes) so that records straddle
4 KiB blocks. Beside the records the writer churns ext4's metadata without
syncing (small files created, renamed and removed; an unsynced scratch file
rewritten), so the journal has work in flight when the daemon dies and
e2fsck has something to judge.

Subcommands (exit 0 on success, 1 with a message on stderr otherwise):
  write FILE ACKLOG ROUND MODE SEED   append until an I/O error (the expected
                                      end: the daemon was killed); exit 0
                                      then, 1 if it stopped otherwise
  kill ACKLOG K DELAY_US PID WRITER   waits (bounded, 120 s) until ACKLOG
                                      holds K numbers, then DELAY_US more,
                                      then SIGKILLs PID and prints the count
                                      it saw; fails if process WRITER ends
                                      first
  verify FILE ACKLOG ROUND [...]      every acknowledged record is present
                                      and intact, for each triple; prints
                                      "round R: acked N found M" for each
  selftest                            the checker against files with lost,
                                      torn and stale records (no mount)
"""

import errno
import hashlib
import os
import random
import signal
import struct
import sys
import time
import zlib

MAGIC = b"RWFSREC1"
HEADER = struct.Struct("<8sIIII8x")  # magic, round, number, length, crc; 32 bytes
MAX_PAYLOAD = 6000


def payload(rnd, num, length):
    """The payload of record NUM of round RND: SHA-256 blocks of (rnd, num, i)."""
    out = bytearray()
    i = 0
    while len(out) < length:
        out += hashlib.sha256(b"%d:%d:%d" % (rnd, num, i)).digest()
        i += 1
    return bytes(out[:length])


def record(rnd, num, length):
    body = payload(rnd, num, length)
    crc = zlib.crc32(struct.pack("<8sIII", MAGIC, rnd, num, length) + body)
    return HEADER.pack(MAGIC, rnd, num, length, crc) + body


def die(msg):
    print("records.py: " + msg, file=sys.stderr)
    sys.exit(1)


def cmd_write(path, acklog, rnd, mode, seed):
    rng = random.Random("%s:%d" % (seed, rnd))
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    if mode == "dsync":
        flags |= os.O_DSYNC
    elif mode not in ("fsync", "fdatasync"):
        die("unknown mode " + mode)
    ack = os.open(acklog, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    d = os.path.dirname(path)
    num = 0
    try:
        fd = os.open(path, flags, 0o644)
        # The new file's directory entry must be durable too, before any
        # record counts: fsync the folder once.
        dfd = os.open(d, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        scratch = os.open(os.path.join(d, "scratch.%d" % rnd),
                          os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            num += 1
            rec = record(rnd, num, rng.randint(1, MAX_PAYLOAD))
            if os.write(fd, rec) != len(rec):
                die("short write of record %d" % num)
            if mode == "fsync":
                os.fsync(fd)
            elif mode == "fdatasync":
                os.fdatasync(fd)
            os.write(ack, b"%d\n" % num)
            # Unsynced metadata and data churn, not checked record by record.
            if num % 7 == 0:
                os.pwrite(scratch, os.urandom(rng.randint(1, 65536)),
                          rng.randint(0, 1 << 20))
            if num % 11 == 0:
                t = os.path.join(d, "tmp.%d.%d" % (rnd, num))
                with open(t, "wb") as f:
                    f.write(os.urandom(rng.randint(0, 9000)))
                os.rename(t, os.path.join(d, "churn.%d" % (num % 5)))
            if num % 13 == 0:
                try:
                    os.unlink(os.path.join(d, "churn.%d" % rng.randint(0, 4)))
                except FileNotFoundError:
                    pass
    except OSError as e:
        # The daemon is gone: the loop device fails its I/O, ext4 reports
        # EIO (or, once it aborted its journal, EROFS).
        if e.errno in (errno.EIO, errno.EROFS, errno.ENOTCONN, errno.ENXIO):
            print("writer: round %d: stopped at record %d: %s"
                  % (rnd, num, os.strerror(e.errno)))
            return 0
        die("round %d record %d: %s" % (rnd, num, e))
    return 1


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def running(pid):
    """True while PID exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cmd_kill(acklog, k, delay_us, pid, writer):
    deadline = time.monotonic() + 120
    while count_lines(acklog) < k:
        if not running(writer):
            die("the writer ended after %d of %d records, before the kill"
                % (count_lines(acklog), k))
        if time.monotonic() > deadline:
            die("the writer acknowledged only %d of %d records in 120 s"
                % (count_lines(acklog), k))
        time.sleep(0.001)
    # Not synchronisation: the random moment of the kill, drawn by the
    # caller from its seeded generator.
    time.sleep(delay_us / 1e6)
    os.kill(pid, signal.SIGKILL)
    print(count_lines(acklog))
    return 0


class Lost(Exception):
    """An acknowledged record is missing, torn or stale."""


def check(path, acklog, rnd):
    """The line to print when every record of ACKLOG is intact in PATH;
    raises Lost otherwise."""
    with open(acklog, "rb") as f:
        acked = [int(x) for x in f.read().split()]
    if acked != list(range(1, len(acked) + 1)):
        raise Lost("round %d: acknowledgement log is not 1..N" % rnd)
    want = len(acked)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if want == 0:
            return "round %d: acked 0 found 0" % rnd
        raise Lost("round %d: %s is missing, %d records were acknowledged"
                   % (rnd, path, want))
    off = 0
    found = 0
    problem = None
    while off < len(data):
        hdr = data[off:off + HEADER.size]
        if len(hdr) < HEADER.size:
            problem = "a torn header at offset %d" % off
            break
        magic, r, num, length, crc = HEADER.unpack(hdr)
        body = data[off + HEADER.size:off + HEADER.size + length]
        exp = found + 1
        if magic != MAGIC or r != rnd or num != exp or length > MAX_PAYLOAD:
            problem = ("at offset %d: not record %d of round %d (magic %r, "
                       "round %d, number %d)" % (off, exp, rnd, magic, r, num))
            break
        if len(body) < length:
            problem = "record %d torn at offset %d" % (exp, off)
            break
        if (zlib.crc32(struct.pack("<8sIII", MAGIC, r, num, length) + body) != crc
                or body != payload(rnd, num, length)):
            problem = "record %d at offset %d: bad checksum or payload" % (exp, off)
            break
        found += 1
        off += HEADER.size + length
    if found < want:
        raise Lost("round %d: %d records acknowledged, only %d intact in %s (%s)"
                   % (rnd, want, found, path, problem or "end of file"))
    # What follows the last intact record was never acknowledged: a record
    # whose sync was in flight may be whole, torn or absent.
    return "round %d: acked %d found %d%s" % (
        rnd, want, found, " (tail: %s)" % problem if problem else "")


def cmd_verify(triples):
    for i in range(0, len(triples), 3):
        try:
            print(check(triples[i], triples[i + 1], int(triples[i + 2])))
        except Lost as e:
            die(str(e))
    return 0


def cmd_selftest():
    """The checker against damage it must catch (and a tail it must allow):
    without this, a checker that passes everything would pass the loop."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        f, ack = os.path.join(d, "f"), os.path.join(d, "ack")
        recs = [record(3, n, n * 797 % MAX_PAYLOAD + 1) for n in range(1, 41)]
        good = b"".join(recs)
        acked = "".join("%d\n" % n for n in range(1, 41))
        at10 = len(b"".join(recs[:9]))

        def flip(data, off):
            return data[:off] + bytes([data[off] ^ 0x20]) + data[off + 1:]

        cases = [  # (name, file bytes, ack log, round, must pass)
            ("intact", good, acked, 3, True),
            ("torn unacknowledged tail", good + recs[0][:50], acked, 3, True),
            ("next record half there", good + record(3, 41, 900)[:400], acked, 3, True),
            ("nothing acknowledged, no file", None, "", 3, True),
            ("last acknowledged record torn", good[:-1], acked, 3, False),
            ("file cut at a record boundary", good[:at10], acked, 3, False),
            ("a flipped payload bit", flip(good, at10 + 100), acked, 3, False),
            ("a flipped header bit", flip(good, at10 + 9), acked, 3, False),
            ("a zeroed 4 KiB block", good[:8192] + bytes(4096) + good[12288:],
             acked, 3, False),
            ("records of another round", good, acked, 4, False),
            ("a record repeated (stale)", b"".join(recs[:5] + recs[4:]), acked, 3, False),
            ("file missing", None, acked, 3, False),
            ("ack log with a gap", good, "1\n3\n", 3, False),
        ]
        bad = 0
        for name, data, log, rnd, ok in cases:
            if data is None:
                if os.path.exists(f):
                    os.unlink(f)
            else:
                with open(f, "wb") as out:
                    out.write(data)
            with open(ack, "w") as out:
                out.write(log)
            try:
                check(f, ack, rnd)
                passed, why = True, ""
            except Lost as e:
                passed, why = False, str(e)
            verdict = "ok" if passed == ok else "WRONG"
            bad += passed != ok
            print("%-32s %s: %s%s" % (name, verdict, "passes" if passed else "caught",
                                      " (%s)" % why if why else ""))
    if bad:
        die("the checker judged %d case(s) wrong" % bad)
    return 0


def main(argv):
    try:
        if len(argv) == 6 and argv[0] == "write":
            return cmd_write(argv[1], argv[2], int(argv[3]), argv[4], argv[5])
        if len(argv) == 6 and argv[0] == "kill":
            return cmd_kill(argv[1], int(argv[2]), int(argv[3]), int(argv[4]),
                            int(argv[5]))
        if len(argv) >= 4 and len(argv) % 3 == 1 and argv[0] == "verify":
            return cmd_verify(argv[1:])
        if argv == ["selftest"]:
            return cmd_selftest()
    except ValueError as e:
        die(str(e))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
