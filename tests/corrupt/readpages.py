#!/usr/bin/env python3
"""readpages.py FILE EXPECTED [PAGE_SIZE] - read a block file page by page
and compare every page with the expected image.

Each page is read on its own with O_DIRECT (so the kernel's readahead
cannot turn one damaged page into an error for its neighbours, and no page
comes from a cache). A page is either exactly the expected bytes ("ok"),
or fails with EIO ("eio"); anything else - other bytes, another error, a
short read - is "wrong". Prints "ok N eio N wrong N", then "eio PAGE" for
each page that failed with EIO and "wrong PAGE WHAT" for each wrong one.
Exit 0 when nothing is wrong, 1 otherwise.
"""
import errno
import mmap
import os
import sys


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    ps = int(argv[3]) if len(argv) == 4 else 4096
    want = open(argv[2], 'rb').read()
    buf = mmap.mmap(-1, ps)  # page aligned, as O_DIRECT needs
    fd = os.open(argv[1], os.O_RDONLY | os.O_DIRECT)
    ok, eio, wrong = 0, [], []
    try:
        if os.fstat(fd).st_size != len(want):
            wrong.append((-1, 'size %d, expected %d' % (os.fstat(fd).st_size,
                                                        len(want))))
        for pg in range(len(want) // ps):
            try:
                n = os.preadv(fd, [buf], pg * ps)
            except OSError as e:
                if e.errno == errno.EIO:
                    eio.append(pg)
                else:
                    wrong.append((pg, 'error %s' % e))
                continue
            if n != ps:
                wrong.append((pg, 'short read %d' % n))
            elif buf[:] != want[pg * ps:(pg + 1) * ps]:
                wrong.append((pg, 'WRONG BYTES'))
            else:
                ok += 1
    finally:
        os.close(fd)
    print('ok %d eio %d wrong %d' % (ok, len(eio), len(wrong)))
    for pg in eio:
        print('eio %d' % pg)
    for pg, what in wrong:
        print('wrong %d %s' % (pg, what))
    return 1 if wrong else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
