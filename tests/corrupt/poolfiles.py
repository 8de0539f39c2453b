#!/usr/bin/env python3
"""poolfiles.py - look inside a rewindfs pool's RocksDB files, and damage them.

Design note. The corruption tests (tests/corrupt/) must damage the places
where a pool keeps its data, not the headers that make RocksDB refuse the
whole folder, and must know which page versions they damaged, so that they
can tell exactly which pages may fail to read and which must read back. This
reads just enough of RocksDB's on-disk formats (facts of the block-based
table and blob file formats of RocksDB 7.x) to say:

- for a .blob file: every record, its byte range, and the pages-family key
  it holds (timeline | page | ~lsn, big-endian: DESIGN.md);
- for a .sst file of the pages family: every data block, its byte range and
  the keys in it (blocks are LZ4-compressed: a small decoder is below);
- for a .sst file of another family: the byte range of its data blocks
  (everything before the first meta block: filter, index, properties,
  metaindex and footer come after the data);
- for every .sst file (kind sst-index): its index block;
- for a .log file (the write-ahead log): the whole file.

Commands (POOL is the pool folder, its RocksDB is POOL/db):
  list POOL              one line per data file: kind, sizes
  keys POOL TL           every pages-family key of timeline TL in the pool's
                         .sst files, as "PAGE LSN", in key order
  flip POOL SEED N KIND [TL]
                         flip N bytes at random (random.Random(SEED)) in the
                         data parts of files of KIND (blob, sst-pages,
                         sst-log, sst-meta, sst-index, wal); with TL, only in blob
                         records / data blocks holding a key of timeline TL.
                         One line per flip: "flip FILE OFFSET OLD NEW" then,
                         for a blob record, "tl T page P lsn L", for a data
                         block "block START END". Exit 3 when no file of KIND
                         has such data.
  expect CLEAN FLIPS TL BOUND
                         which pages of timeline TL, read at LSN BOUND, the
                         damage FLIPS (the output of flip, on a copy of the
                         pool CLEAN) touches: "must PAGE LSN" when the
                         version the read needs was damaged, "may PAGE LSN"
                         when the read may also visit a damaged data block
                         (its version is the first key after one: a seek can
                         land on the block before). Pages not listed must
                         read back exactly. First, "hit PAGE LSN" for every
                         damaged version of timeline TL, needed or not.
Nothing else is touched; a flip XORs one byte with a non-zero value.
"""
import os
import random
import struct
import sys

SST_MAGIC = 0x88E241B785F4CFF7
BLOB_HEADER = 30   # magic, version, cf id, compression, ttl flag, expiration range
BLOB_FOOTER = 32   # magic, blob count, expiration range, crc
BLOB_RECORD_HEADER = 32  # key len, value len, expiration, header crc, blob crc


def varint(buf, pos):
    val = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        val |= (b & 0x7F) << shift
        if b < 0x80:
            return val, pos
        shift += 7


def block_entries(buf, off, size):
    """(key, value) of a block of plain (uncompressed) entries."""
    blk = buf[off:off + size]
    nrestarts = struct.unpack_from('<I', blk, len(blk) - 4)[0] & 0x7FFFFFFF
    end = len(blk) - 4 - 4 * nrestarts
    pos, key = 0, b''
    while pos < end:
        shared, pos = varint(blk, pos)
        nonshared, pos = varint(blk, pos)
        vlen, pos = varint(blk, pos)
        key = key[:shared] + blk[pos:pos + nonshared]
        pos += nonshared
        yield key, blk[pos:pos + vlen]
        pos += vlen


def lz4_block(src):
    """An LZ4 block (the raw format, no frame) decompressed."""
    out, i = bytearray(), 0
    while i < len(src):
        token = src[i]
        i += 1
        n = token >> 4
        if n == 15:
            while True:
                n += src[i]
                i += 1
                if src[i - 1] != 255:
                    break
        out += src[i:i + n]
        i += n
        if i >= len(src):
            break
        dist = src[i] | src[i + 1] << 8
        i += 2
        n = token & 15
        if n == 15:
            while True:
                n += src[i]
                i += 1
                if src[i - 1] != 255:
                    break
        start = len(out) - dist
        for j in range(n + 4):  # matches may overlap what they write
            out.append(out[start + j])
    return bytes(out)


def block_contents(buf, off, size):
    """The contents of the block at off, decompressed (its trailer's first
    byte says how: 0 none, 4/5 LZ4 with a varint32 size in front)."""
    kind = buf[off + size]
    if kind == 0:
        return buf[off:off + size]
    if kind in (4, 5):
        _, pos = varint(buf, off)
        return lz4_block(buf[pos:off + size])
    raise ValueError('block at %d: compression type %d' % (off, kind))


def index_handles(blk):
    """The block handles of an index block (format_version >= 4: entries are
    shared, non-shared, key delta, then the handle itself with no value
    length; RocksDB writes every index entry as a restart point, so each
    handle is a full offset and size)."""
    nrestarts = struct.unpack_from('<I', blk, len(blk) - 4)[0]
    end = len(blk) - 4 - 4 * nrestarts
    if nrestarts == 0 or end < 0:
        raise ValueError('index block: %d restarts' % nrestarts)
    restarts = set(struct.unpack_from('<%dI' % nrestarts, blk, end))
    pos, out = 0, []
    while pos < end:
        if pos not in restarts:
            raise ValueError('index entry at %d is not a restart point' % pos)
        _, pos = varint(blk, pos)
        nonshared, pos = varint(blk, pos)
        pos += nonshared
        off, pos = varint(blk, pos)
        size, pos = varint(blk, pos)
        out.append((off, size))
    return out


def sst_index_handle(path):
    """(offset, size) of the index block, from the footer."""
    buf = open(path, 'rb').read()
    pos = len(buf) - 53 + 1
    _, pos = varint(buf, pos)
    _, pos = varint(buf, pos)
    index_off, pos = varint(buf, pos)
    index_size, pos = varint(buf, pos)
    return index_off, index_size


def sst_data_blocks(path):
    """[(start, end, [user keys])] of every data block (end includes the
    5-byte trailer), in file order."""
    buf = open(path, 'rb').read()
    pos = len(buf) - 53 + 1
    _, pos = varint(buf, pos)
    _, pos = varint(buf, pos)
    index_off, pos = varint(buf, pos)
    index_size, pos = varint(buf, pos)
    index = block_contents(buf, index_off, index_size)
    blocks = []
    for off, size in index_handles(index):
        data = block_contents(buf, off, size)
        # Internal keys: the user key, then 8 bytes of sequence and type.
        keys = [k[:-8] for k, _ in block_entries(data, 0, len(data))]
        blocks.append((off, off + size + 5, keys))
    return blocks


def sst_info(path):
    """(family, data_end): the data blocks are [0, data_end)."""
    buf = open(path, 'rb').read()
    if struct.unpack_from('<Q', buf, len(buf) - 8)[0] != SST_MAGIC:
        raise ValueError(path + ': not a block-based table')
    pos = len(buf) - 53 + 1  # footer: checksum type, then two handles
    meta_off, pos = varint(buf, pos)
    meta_size, pos = varint(buf, pos)
    index_off, pos = varint(buf, pos)
    first_meta = min(meta_off, index_off)
    family = '?'
    for name, val in block_entries(buf, meta_off, meta_size):
        off, p = varint(val, 0)
        size, _ = varint(val, p)
        first_meta = min(first_meta, off)
        if name == b'rocksdb.properties':
            for k, v in block_entries(buf, off, size):
                if k == b'rocksdb.column.family.name':
                    family = v.decode()
    return family, first_meta


def blob_records(path):
    """[(start, end, key)] of every record (header + key + value)."""
    buf = open(path, 'rb').read()
    recs, pos = [], BLOB_HEADER
    while pos + BLOB_RECORD_HEADER <= len(buf) - BLOB_FOOTER:
        klen, vlen = struct.unpack_from('<QQ', buf, pos)
        end = pos + BLOB_RECORD_HEADER + klen + vlen
        if end > len(buf) - BLOB_FOOTER:
            break
        key = buf[pos + BLOB_RECORD_HEADER:pos + BLOB_RECORD_HEADER + klen]
        recs.append((pos, end, key))
        pos = end
    return recs


def page_key(key):
    if len(key) != 24:
        return 'key of %d bytes' % len(key)
    tl, page, nlsn = struct.unpack('>QQQ', key)
    return 'tl %d page %d lsn %d' % (tl, page, nlsn ^ 0xFFFFFFFFFFFFFFFF)


def key_tl(key):
    return struct.unpack_from('>Q', key)[0] if len(key) == 24 else None


def data_files(pool):
    """[(kind, path, parts)]: kind blob, sst-FAMILY or wal; parts is a list
    of (start, end, keys): blob records (one key each), data blocks of the
    pages family (their keys), or one range without keys."""
    db = os.path.join(pool, 'db')
    out = []
    for name in sorted(os.listdir(db)):
        path = os.path.join(db, name)
        if name.endswith('.blob'):
            out.append(('blob', path, [(a, b, [k]) for a, b, k in blob_records(path)]))
        elif name.endswith('.sst'):
            family, end = sst_info(path)
            if family == 'pages':
                parts = sst_data_blocks(path)
            else:
                parts = [(0, end, [])] if end else []
            out.append(('sst-' + family, path, parts))
            index_off, index_size = sst_index_handle(path)
            out.append(('sst-index', path,
                        [(index_off, index_off + index_size + 5, [])]))
        elif name.endswith('.log') and os.path.getsize(path):
            out.append(('wal', path, [(0, os.path.getsize(path), [])]))
    return out


def cmd_list(pool):
    for kind, path, parts in data_files(pool):
        size = sum(b - a for a, b, _ in parts)
        nkeys = sum(len(k) for _, _, k in parts)
        print('%s %s: data %d of %d bytes, %d parts, %d keys' % (
            kind, os.path.basename(path), size, os.path.getsize(path),
            len(parts), nkeys))
    return 0


def pages_keys(pool, tl):
    keys = set()
    for kind, _, parts in data_files(pool):
        if kind == 'sst-pages':
            keys.update(k for _, _, ks in parts for k in ks if key_tl(k) == tl)
    return sorted(keys)


def cmd_keys(pool, tl):
    for k in pages_keys(pool, tl):
        _, page, nlsn = struct.unpack('>QQQ', k)
        print('%d %d' % (page, nlsn ^ 0xFFFFFFFFFFFFFFFF))
    return 0


def cmd_flip(pool, seed, n, kind, tl):
    rng = random.Random(seed)
    files = []
    for fkind, path, parts in data_files(pool):
        if fkind != kind:
            continue
        if tl is not None:
            parts = [p for p in parts if any(key_tl(k) == tl for k in p[2])]
        if parts:
            files.append((path, parts))
    if not files:
        print('no %s data%s in %s' % (kind, ' of timeline %d' % tl if tl else '',
                                       pool), file=sys.stderr)
        return 3
    total = sum(b - a for _, parts in files for a, b, _ in parts)
    for _ in range(n):
        # A byte of the chosen parts of all files, uniformly over their bytes.
        at = rng.randrange(total)
        for path, parts in files:
            for a, b, keys in parts:
                if at < b - a:
                    break
                at -= b - a
            else:
                continue
            break
        off = a + at
        mask = rng.randrange(1, 256)
        with open(path, 'r+b') as f:
            f.seek(off)
            old = f.read(1)[0]
            f.seek(off)
            f.write(bytes([old ^ mask]))
            f.flush()
            os.fsync(f.fileno())
        if kind == 'blob':
            where = ' ' + page_key(keys[0])
        elif keys:
            where = ' block %d %d' % (a, b)
        else:
            where = ''
        print('flip %s %d %d %d%s' % (os.path.basename(path), off, old,
                                      old ^ mask, where))
    return 0


def cmd_expect(clean, flips, tl, bound):
    damaged, after = set(), set()
    files = {os.path.basename(p): parts for kind, p, parts in data_files(clean)
             if kind != 'sst-index'}
    for line in open(flips):
        w = line.split()
        if len(w) < 5 or w[0] != 'flip':
            continue
        parts = files[w[1]]
        off = int(w[2])
        for i, (a, b, keys) in enumerate(parts):
            if a <= off < b:
                damaged.update(keys)
                if w[1].endswith('.sst') and i + 1 < len(parts) and parts[i + 1][2]:
                    after.add(parts[i + 1][2][0])
    newest = {}
    for k in pages_keys(clean, tl):
        _, page, nlsn = struct.unpack('>QQQ', k)
        lsn = nlsn ^ 0xFFFFFFFFFFFFFFFF
        if lsn <= bound and lsn > newest.get(page, (0, None))[0]:
            newest[page] = (lsn, k)
    for k in sorted(damaged):
        if key_tl(k) == tl:
            _, page, nlsn = struct.unpack('>QQQ', k)
            print('hit %d %d' % (page, nlsn ^ 0xFFFFFFFFFFFFFFFF))
    for page in sorted(newest):
        lsn, k = newest[page]
        if k in damaged:
            print('must %d %d' % (page, lsn))
        elif k in after:
            print('may %d %d' % (page, lsn))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ''
    if cmd == 'list' and len(argv) == 3:
        return cmd_list(argv[2])
    if cmd == 'keys' and len(argv) == 4:
        return cmd_keys(argv[2], int(argv[3]))
    if cmd == 'flip' and len(argv) in (6, 7):
        return cmd_flip(argv[2], int(argv[3]), int(argv[4]), argv[5],
                        int(argv[6]) if len(argv) == 7 else None)
    if cmd == 'expect' and len(argv) == 6:
        return cmd_expect(argv[2], argv[3], int(argv[4]), int(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
