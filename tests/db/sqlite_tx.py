#!/usr/bin/python3
"""Numbered SQLite transactions for tests/db/sqlite.sh (WAL, synchronous=FULL).

Each transaction n inserts row n of table tx (a payload of 2-6 KiB derived
from n, and its sha256) and adds n to the single row of table meta. So a
database that holds transactions 1..k and nothing else has meta.total ==
k(k+1)/2, and any torn or reordered transaction shows.

  write DB FIRST LAST MARK_AT MARKFILE LOG
      commit transactions FIRST..LAST, one at a time; after each commit
      append "n start_ns end_ns" to LOG (start: before BEGIN, end: after
      COMMIT returned) and flush it; right after commit MARK_AT returns, write
      the time (ns since the epoch) to MARKFILE: a moment strictly between
      two commits. With FIRST > 1 the database must hold 1..FIRST-1.
  check DB
      PRAGMA integrity_check must say ok, every row's payload must match its
      digest, and the rows must be 1..k for some k (a prefix) with meta
      consistent. Prints "k" (the numbers of the last transaction) plus the
      rows outside 1..k inserted by 'diverge' as "k extra".
  diverge DB COUNT
      insert COUNT rows numbered from 1000001 (not part of the prefix).
Exit status 0 on success, 1 with a message on stderr otherwise.
"""
import hashlib
import sqlite3
import sys
import time

EXTRA_BASE = 1000001


def payload(n):
    block = hashlib.sha256(str(n).encode()).digest()
    return block * (64 + n % 128)


def connect(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        sys.exit("journal_mode is %s, not wal" % mode)
    db.execute("PRAGMA synchronous=FULL")
    if db.execute("PRAGMA synchronous").fetchone()[0] != 2:
        sys.exit("synchronous is not FULL")
    return db


def write(path, first, last, mark_at, markfile, logfile):
    db = connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS tx (n INTEGER PRIMARY KEY, payload BLOB, digest TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY, last INTEGER, total INTEGER)")
    db.execute("INSERT OR IGNORE INTO meta VALUES (1, 0, 0)")
    with open(logfile, "a") as log:
        for n in range(first, last + 1):
            start = time.time_ns()
            db.execute("BEGIN IMMEDIATE")
            p = payload(n)
            db.execute("INSERT INTO tx VALUES (?, ?, ?)", (n, p, hashlib.sha256(p).hexdigest()))
            db.execute("UPDATE meta SET last = ?, total = total + ? WHERE id = 1", (n, n))
            db.execute("COMMIT")
            end = time.time_ns()
            if n == mark_at:
                with open(markfile, "w") as m:
                    m.write("%d\n" % time.time_ns())
            log.write("%d %d %d\n" % (n, start, end))
            log.flush()
    db.close()


def check(path):
    db = connect(path)
    res = db.execute("PRAGMA integrity_check").fetchall()
    if res != [("ok",)]:
        sys.exit("integrity_check: %r" % res)
    rows = [n for (n,) in db.execute("SELECT n FROM tx WHERE n < ? ORDER BY n", (EXTRA_BASE,))]
    k = len(rows)
    if rows != list(range(1, k + 1)):
        sys.exit("not a prefix: %d rows, from %s to %s" % (k, rows[:1], rows[-1:]))
    for n, p, d in db.execute("SELECT n, payload, digest FROM tx"):
        if n < EXTRA_BASE and p != payload(n):
            sys.exit("row %d: wrong payload" % n)
        if hashlib.sha256(p).hexdigest() != d:
            sys.exit("row %d: payload does not match its digest" % n)
    meta = db.execute("SELECT last, total FROM meta").fetchall()
    if meta != [(k, k * (k + 1) // 2)]:
        sys.exit("meta %r does not match the %d rows" % (meta, k))
    extra = db.execute("SELECT count(*) FROM tx WHERE n >= ?", (EXTRA_BASE,)).fetchone()[0]
    print(k, extra)


def diverge(path, count):
    db = connect(path)
    db.execute("BEGIN IMMEDIATE")
    for i in range(count):
        p = b"diverged %d" % i
        db.execute("INSERT INTO tx VALUES (?, ?, ?)", (EXTRA_BASE + i, p, hashlib.sha256(p).hexdigest()))
    db.execute("COMMIT")


def main(argv):
    if len(argv) == 8 and argv[1] == "write":
        write(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6], argv[7])
    elif len(argv) == 3 and argv[1] == "check":
        check(argv[2])
    elif len(argv) == 4 and argv[1] == "diverge":
        diverge(argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
