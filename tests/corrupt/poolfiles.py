#!/usr/bin/env python3
"""poolfiles.py - look inside a rewindfs pool's files, and damage them.

Design note. The corruption tests (tests/corrupt/) must damage the places
where a pool keeps its data, not the headers that make RocksDB refuse the
whole folder, and must know which page versions they damaged, so that they
can tell exactly which pages may fail to read and which must read back. This
reads just enough of the on-disk formats to say so (RocksDB 7.x block-based
tables; the page log's records as volume/pagelog.c writes them):

- for a segment of the page log (POOL/pages/<16 hex>.seg): every record,
  its byte range, the pages-family key its header names (timeline | page |
  ~lsn, big-endian: DESIGN.md), and whether it is live. A record is a
  64-byte header (0 magic "RWPL" LE, 4 page size LE, 8 the key, 32 time,
  40 xxh3 of the page, 48 zero, 56 xxh3 of bytes 0..55) and the page. It is
  live only when the pages family still refers to exactly that (segment,
  offset) under the key it names; retention deletes versions but leaves
  their records (dead ones) until the cleaner removes or moves them, and
  damage to a dead record must fail no read;
- for a .sst file of the pages family: every data block, its byte range
  and its entries (user key, sequence, type, value; blocks are
  LZ4-compressed: a small decoder is below). The values are the versions:
  40 bytes for a page in the page log (24-byte header, kind 3 at byte 0,
  then segment and offset, u64 big-endian), 24 for a hole (kind 2). The
  pages family's state is the newest entry of each key over all its .sst
  files: a put is a version, a deletion (retention's) is none;
- for a .sst file of another family: the byte range of its data blocks
  (they come first; filter, index, their partitions, properties,
  metaindex and footer come after them). Indexes may be partitioned (the
  engine's are): the index block then lists index partitions, which list
  the data blocks;
- for every .sst file (kind sst-index): its index block (for a partitioned
  index, its top level);
- for a .log file (the write-ahead log): the whole file.
The pages family's state is read from the .sst files only: the pools this
is used on were closed cleanly (their WAL holds no page versions; lib.sh
build_pool checks that every version is in an .sst file) and hold no range
deletion of the pages family (this refuses a table that has one).

Commands (POOL is the pool folder: its RocksDB is POOL/db, its page log
POOL/pages):
  list POOL              one line per data file: kind, sizes, parts, keys
  keys POOL TL           every version of timeline TL (live key of the pages
                         family's .sst files) as "PAGE LSN", in key order
  records POOL TL        the page log's records of timeline TL: "live N dead
                         M" (N records referred to, M no longer)
  flip POOL SEED N KIND [TL]
                         flip N bytes at random (random.Random(SEED)) in the
                         data parts of files of KIND (seg, sst-pages, sst-log,
                         sst-meta, sst-index, wal); with TL, only in records /
                         data blocks of timeline TL. One line per flip:
                         "flip FILE OFFSET OLD NEW" then, for a record, "tl T
                         page P lsn L live|dead header|page", for a data
                         block "block START END". For seg the first flip goes
                         into a live record, the second (if any) into a dead
                         one when there is one, the others into any record of
                         TL; each into the header or the page bytes with even
                         odds (so that a few flips cover every case). Exit 3
                         when no file of KIND has such data.
                         KIND seg-cut (with TL): rather than flip bytes, the
                         newest segment holding records of TL loses its last
                         N records but a random part of the first of them:
                         "cut FILE OLDSIZE NEWSIZE".
  flip-records POOL SEED N TL MINLSN
                         flip N bytes as flip does for seg, in any record of
                         timeline TL whose header names an LSN >= MINLSN,
                         whatever refers to it (for a pool whose daemon was
                         killed: its references are still in the WAL).
                         "flip FILE OFFSET OLD NEW tl T page P lsn L
                         header|page"
  expect CLEAN FLIPS TL BOUND
                         which pages of timeline TL, read at LSN BOUND, the
                         damage FLIPS (the output of flip, on a copy of the
                         pool CLEAN) touches: "must PAGE LSN" when the
                         version the read needs was damaged (its live record,
                         or the data block holding its entry), "may PAGE LSN"
                         when the read may also visit a damaged data block
                         (a seek lands on the block before the first entry at
                         or after its key when that entry starts a block,
                         then steps over deleted entries to the version it
                         needs). Pages not listed must read back exactly.
                         First, "hit PAGE LSN" for every damaged version of
                         timeline TL, needed or not (a damaged dead record or
                         deleted entry is no version), followed by "segment
                         S offset O" (S in 16 hex digits, as the engine names
                         it) when its page-log record was damaged.
Nothing else is touched; a flip XORs one byte with a non-zero value.
"""
import bisect
import os
import random
import struct
import sys

SST_MAGIC = 0x88E241B785F4CFF7
PREC_MAGIC = 0x4C505752  # "RWPL" little-endian
PREC_HDR = 64
PV_REF, PVAL_REF = 3, 40
# Types of RocksDB's internal keys (the low byte of the 8-byte trailer).
T_DELETION, T_VALUE, T_SINGLE_DELETION = 0, 1, 7
U64_MAX = 0xFFFFFFFFFFFFFFFF


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


def footer_handles(buf):
    """((offset, size) of the metaindex block, (offset, size) of the index
    block), from the footer of a table in buf."""
    pos = len(buf) - 53 + 1  # footer: checksum type, then two handles
    handles = []
    for _ in range(4):
        v, pos = varint(buf, pos)
        handles.append(v)
    return tuple(handles[0:2]), tuple(handles[2:4])


def footer_index(buf):
    """(offset, size) of the index block, from the footer of a table in
    buf."""
    return footer_handles(buf)[1]


def sst_index_handle(path):
    """(offset, size) of the index block, from the footer."""
    return footer_index(open(path, 'rb').read())


def sst_properties(buf):
    """The properties block of a table in buf, as {name: raw value}."""
    if struct.unpack_from('<Q', buf, len(buf) - 8)[0] != SST_MAGIC:
        raise ValueError('not a block-based table')
    for name, val in block_entries(buf, *footer_handles(buf)[0]):
        if name == b'rocksdb.properties':
            off, p = varint(val, 0)
            size, _ = varint(val, p)
            return dict(block_entries(buf, off, size))
    return {}


# rocksdb.block.based.table.index.type (fixed32): 2 is a partitioned
# index, whose index block (the top level) points at index partitions,
# each an index block of data blocks.
INDEX_TWO_LEVEL = 2


def sst_data_handles(buf):
    """[(offset, size)] of the data blocks of a table in buf, in order."""
    props = sst_properties(buf)
    index = block_contents(buf, *footer_index(buf))
    kind = props.get(b'rocksdb.block.based.table.index.type', b'\0' * 4)
    if struct.unpack_from('<I', kind)[0] != INDEX_TWO_LEVEL:
        return index_handles(index)
    out = []
    for off, size in index_handles(index):
        out += index_handles(block_contents(buf, off, size))
    return out


def sst_data_blocks(path):
    """[(start, end, entries)] of every data block (end includes the 5-byte
    trailer), in file order; entries: (user key, sequence, type, value)."""
    buf = open(path, 'rb').read()
    blocks = []
    for off, size in sst_data_handles(buf):
        data = block_contents(buf, off, size)
        entries = []
        # Internal keys: the user key, then 8 bytes of sequence and type.
        for k, v in block_entries(data, 0, len(data)):
            trailer = struct.unpack_from('<Q', k, len(k) - 8)[0]
            entries.append((k[:-8], trailer >> 8, trailer & 0xFF, v))
        blocks.append((off, off + size + 5, entries))
    return blocks


def sst_info(path):
    """(family, data_end, range_del): the data blocks are [0, data_end)
    (filters, indexes and their partitions, properties, metaindex and
    footer come after them); range_del tells whether the table has range
    deletions."""
    buf = open(path, 'rb').read()
    props = sst_properties(buf)
    family = props.get(b'rocksdb.column.family.name', b'?').decode()
    dels = props.get(b'rocksdb.num.range-deletions')
    range_del = dels is not None and varint(dels, 0)[0] != 0
    end = max((off + size + 5 for off, size in sst_data_handles(buf)),
              default=0)
    return family, end, range_del


def page_size(pool):
    """The pool's page size: the records' own field (all agree), else 4096."""
    for path in seg_files(pool):
        with open(path, 'rb') as f:
            h = f.read(8)
        if len(h) == 8 and struct.unpack_from('<I', h)[0] == PREC_MAGIC:
            return struct.unpack_from('<I', h, 4)[0]
    return 4096


def seg_files(pool):
    d = os.path.join(pool, 'pages')
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, n) for n in sorted(os.listdir(d))
            if len(n) == 20 and n.endswith('.seg')]


def seg_id(path):
    return int(os.path.basename(path)[:16], 16)


def seg_records(path, ps):
    """[(start, end, key)] of every page record of a segment; a record
    whose header is not one (bad magic or page size) ends the list. Bytes
    48..55 of the header are zero in the format above (every record a page);
    a format that gives records a type (byte 48) and a body length (u32 LE
    at 52) is read too, and only its page records (types 0 and 1: written,
    moved) are listed."""
    buf = open(path, 'rb').read()
    recs, pos = [], 0
    while pos + PREC_HDR <= len(buf):
        magic, size = struct.unpack_from('<II', buf, pos)
        if magic != PREC_MAGIC or size != ps:
            break
        typ, body = buf[pos + 48], struct.unpack_from('<I', buf, pos + 52)[0]
        if not any(buf[pos + 48:pos + 56]):
            typ, body = 0, ps
        end = pos + PREC_HDR + body
        if end > len(buf):
            break
        if typ in (0, 1) and body == ps:
            recs.append((pos, end, buf[pos + 8:pos + 32]))
        pos = end
    return recs


def page_key(key):
    if len(key) != 24:
        return 'key of %d bytes' % len(key)
    tl, page, nlsn = struct.unpack('>QQQ', key)
    return 'tl %d page %d lsn %d' % (tl, page, nlsn ^ U64_MAX)


def key_tl(key):
    return struct.unpack_from('>Q', key)[0] if len(key) == 24 else None


def data_files(pool):
    """[(kind, path, parts)]: kind seg, sst-FAMILY, sst-index or wal; parts
    is a list of (start, end, keys): page-log records (the key each names),
    data blocks of the pages family (the user keys of their entries), or
    one range without keys."""
    db = os.path.join(pool, 'db')
    out = []
    ps = page_size(pool)
    for path in seg_files(pool):
        out.append(('seg', path, [(a, b, [k]) for a, b, k in
                                  seg_records(path, ps)]))
    for name in sorted(os.listdir(db)):
        path = os.path.join(db, name)
        if name.endswith('.sst'):
            family, end, _ = sst_info(path)
            if family == 'pages':
                parts = [(a, b, [e[0] for e in ents])
                         for a, b, ents in sst_data_blocks(path)]
            else:
                parts = [(0, end, [])] if end else []
            out.append(('sst-' + family, path, parts))
            index_off, index_size = sst_index_handle(path)
            out.append(('sst-index', path,
                        [(index_off, index_off + index_size + 5, [])]))
        elif name.endswith('.log') and os.path.getsize(path):
            out.append(('wal', path, [(0, os.path.getsize(path), [])]))
    return out


class Pages:
    """The pages family of a pool, from its .sst files: for every user key
    the newest entry (over all files, by sequence) and where it is, and
    every file's entries in order with their block, for the seek model of
    expect."""

    def __init__(self, pool):
        self.newest = {}  # key -> (seq, type, value, file, block)
        self.files = {}   # file -> ([user keys], [block of entry], [first?])
        db = os.path.join(pool, 'db')
        for name in sorted(os.listdir(db)):
            path = os.path.join(db, name)
            if not name.endswith('.sst'):
                continue
            family, _, range_del = sst_info(path)
            if family != 'pages':
                continue
            if range_del:
                raise ValueError(name + ': range deletions in the pages '
                                 'family (not modelled)')
            keys, blocks, first = [], [], []
            for b, (_, _, ents) in enumerate(sst_data_blocks(path)):
                for i, (k, seq, typ, val) in enumerate(ents):
                    if typ not in (T_VALUE, T_DELETION, T_SINGLE_DELETION):
                        raise ValueError('%s: entry of type %d' % (name, typ))
                    keys.append(k)
                    blocks.append(b)
                    first.append(i == 0)
                    if seq > self.newest.get(k, (-1,))[0]:
                        self.newest[k] = (seq, typ, val, name, b)
            self.files[name] = (keys, blocks, first)
        self.live = sorted(k for k, e in self.newest.items()
                           if e[1] == T_VALUE)
        # (segment, offset) -> the key whose value refers to it
        self.refs = {}
        for k in self.live:
            val = self.newest[k][2]
            if len(val) == PVAL_REF and val[0] == PV_REF:
                self.refs[struct.unpack_from('>QQ', val, 24)] = k

    def versions(self, tl):
        return [k for k in self.live if key_tl(k) == tl]

    def where(self, key):
        """(file, block) of the live entry of key."""
        e = self.newest[key]
        return e[3], e[4]

    def visited(self, target, needed):
        """{(file, block)} a seek to target may read before it returns the
        version needed (the first live key at or after target, or None):
        in each file, the block of the first entry at or after target, the
        one before it when that entry starts a block (the index's separator
        may be at or above target), and those up to the needed key."""
        out = set()
        for name, (keys, blocks, first) in self.files.items():
            i = bisect.bisect_left(keys, target)
            if i == len(keys):
                continue
            j = bisect.bisect_right(keys, needed) - 1 if needed else len(keys) - 1
            for e in range(i, max(i, j) + 1):
                out.add((name, blocks[e]))
            if first[i] and blocks[i] > 0:
                out.add((name, blocks[i] - 1))
        return out


def seg_state(pool, tl):
    """[(path, start, end, key, live)] of the page log's records of
    timeline tl."""
    refs = Pages(pool).refs
    out = []
    for path in seg_files(pool):
        for a, b, k in seg_records(path, page_size(pool)):
            if key_tl(k) == tl:
                out.append((path, a, b, k, refs.get((seg_id(path), a)) == k))
    return out


def cmd_list(pool):
    for kind, path, parts in data_files(pool):
        size = sum(b - a for a, b, _ in parts)
        nkeys = sum(len(k) for _, _, k in parts)
        print('%s %s: data %d of %d bytes, %d parts, %d keys' % (
            kind, os.path.basename(path), size, os.path.getsize(path),
            len(parts), nkeys))
    return 0


def cmd_keys(pool, tl):
    for k in Pages(pool).versions(tl):
        _, page, nlsn = struct.unpack('>QQQ', k)
        print('%d %d' % (page, nlsn ^ U64_MAX))
    return 0


def cmd_records(pool, tl):
    recs = seg_state(pool, tl)
    live = sum(1 for r in recs if r[4])
    print('live %d dead %d' % (live, len(recs) - live))
    return 0


def flip_byte(path, off, rng):
    mask = rng.randrange(1, 256)
    with open(path, 'r+b') as f:
        f.seek(off)
        old = f.read(1)[0]
        f.seek(off)
        f.write(bytes([old ^ mask]))
        f.flush()
        os.fsync(f.fileno())
    return old, old ^ mask


def flip_seg(pool, rng, n, tl):
    recs = seg_state(pool, tl)
    live = [r for r in recs if r[4]]
    dead = [r for r in recs if not r[4]]
    if not live:
        print('no live page-log record of timeline %d in %s' % (tl, pool),
              file=sys.stderr)
        return 3
    for i in range(n):
        path, a, b, k, is_live = rng.choice(
            live if i == 0 else dead if i == 1 and dead else recs)
        part = rng.choice(('header', 'page'))
        off = a + (rng.randrange(PREC_HDR) if part == 'header'
                   else PREC_HDR + rng.randrange(b - a - PREC_HDR))
        old, new = flip_byte(path, off, rng)
        print('flip %s %d %d %d %s %s %s' % (
            os.path.basename(path), off, old, new, page_key(k),
            'live' if is_live else 'dead', part))
    return 0


def cmd_flip_records(pool, seed, n, tl, min_lsn):
    """flip on records named by their header alone (the pages family of a
    pool whose daemon was killed is in the WAL, which this does not read)."""
    rng = random.Random(seed)
    recs = []
    for path in seg_files(pool):
        for a, b, k in seg_records(path, page_size(pool)):
            if key_tl(k) == tl and struct.unpack_from('>Q', k, 16)[0] ^ U64_MAX >= min_lsn:
                recs.append((path, a, b, k))
    if not recs:
        print('no page-log record of timeline %d from lsn %d in %s' % (
            tl, min_lsn, pool), file=sys.stderr)
        return 3
    for _ in range(n):
        path, a, b, k = rng.choice(recs)
        part = rng.choice(('header', 'page'))
        off = a + (rng.randrange(PREC_HDR) if part == 'header'
                   else PREC_HDR + rng.randrange(b - a - PREC_HDR))
        old, new = flip_byte(path, off, rng)
        print('flip %s %d %d %d %s %s' % (os.path.basename(path), off, old,
                                          new, page_key(k), part))
    return 0


def cut_seg(pool, rng, n, tl):
    """The newest segment holding records of tl loses its last n page
    records of tl but a seeded part of the first of them, and everything
    after it (the small commit and barrier records that follow): a shorter
    file, as a damaged filesystem or an interrupted copy leaves it."""
    ps = page_size(pool)
    segs = [p for p in seg_files(pool)
            if any(key_tl(k) == tl for _, _, k in seg_records(p, ps))]
    if not segs:
        print('no page-log record of timeline %d in %s' % (tl, pool),
              file=sys.stderr)
        return 3
    path = segs[-1]
    size = os.path.getsize(path)
    mine = [a for a, _, k in seg_records(path, ps) if key_tl(k) == tl]
    a = mine[-min(n, len(mine))]
    new = a + rng.randrange(PREC_HDR + ps)
    os.truncate(path, new)
    print('cut %s %d %d' % (os.path.basename(path), size, new))
    return 0


def cmd_flip(pool, seed, n, kind, tl):
    rng = random.Random(seed)
    if kind == 'seg-cut' and tl is not None:
        return cut_seg(pool, rng, n, tl)
    if kind == 'seg':
        if tl is None:
            print('flip seg needs a timeline', file=sys.stderr)
            return 2
        return flip_seg(pool, rng, n, tl)
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
        old, new = flip_byte(path, off, rng)
        where = ' block %d %d' % (a, b) if keys else ''
        print('flip %s %d %d %d%s' % (os.path.basename(path), off, old, new,
                                      where))
    return 0


def cmd_expect(clean, flips, tl, bound):
    pages = Pages(clean)
    files = {os.path.basename(p): (kind, parts)
             for kind, p, parts in data_files(clean) if kind != 'sst-index'}
    damaged = set()        # live versions whose bytes or entry were hit
    blocks = set()         # (file, block) of the damaged data blocks
    records = {}           # damaged version -> (segment, offset)
    for line in open(flips):
        w = line.split()
        if len(w) == 4 and w[0] == 'cut':
            for a, b, keys in files[w[1]][1]:
                k = pages.refs.get((int(w[1][:16], 16), a))
                if b > int(w[3]) and k == keys[0]:
                    damaged.add(k)
                    records[k] = (w[1][:16], a)
            continue
        if len(w) < 5 or w[0] != 'flip':
            continue
        kind, parts = files[w[1]]
        off = int(w[2])
        for i, (a, b, keys) in enumerate(parts):
            if not a <= off < b:
                continue
            if kind == 'seg':
                k = pages.refs.get((int(w[1][:16], 16), a))
                if k == keys[0]:
                    damaged.add(k)
                    records[k] = (w[1][:16], a)
            elif kind == 'sst-pages':
                blocks.add((w[1], i))
                damaged.update(k for k in keys if k in pages.newest and
                               pages.newest[k][1] == T_VALUE and
                               pages.where(k) == (w[1], i))
    for k in sorted(damaged):
        if key_tl(k) == tl:
            _, page, nlsn = struct.unpack('>QQQ', k)
            rec = ' segment %s offset %d' % records[k] if k in records else ''
            print('hit %d %d%s' % (page, nlsn ^ U64_MAX, rec))
    live = pages.live
    for page in sorted({struct.unpack('>QQQ', k)[1]
                        for k in pages.versions(tl)}):
        target = struct.pack('>QQQ', tl, page, bound ^ U64_MAX)
        i = bisect.bisect_left(live, target)
        needed = live[i] if i < len(live) else None
        if needed is None or needed[:16] != target[:16]:
            # No version at or below bound: a zero page here (the read
            # goes on to an ancestor), after a visit up to the next key.
            if blocks & pages.visited(target, needed):
                print('may %d 0' % page)
            continue
        lsn = struct.unpack('>Q', needed[16:])[0] ^ U64_MAX
        if needed in damaged:
            print('must %d %d' % (page, lsn))
        elif blocks & pages.visited(target, needed):
            print('may %d %d' % (page, lsn))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ''
    if cmd == 'list' and len(argv) == 3:
        return cmd_list(argv[2])
    if cmd == 'keys' and len(argv) == 4:
        return cmd_keys(argv[2], int(argv[3]))
    if cmd == 'records' and len(argv) == 4:
        return cmd_records(argv[2], int(argv[3]))
    if cmd == 'flip' and len(argv) in (6, 7):
        return cmd_flip(argv[2], int(argv[3]), int(argv[4]), argv[5],
                        int(argv[6]) if len(argv) == 7 else None)
    if cmd == 'flip-records' and len(argv) == 7:
        return cmd_flip_records(argv[2], int(argv[3]), int(argv[4]),
                                int(argv[5]), int(argv[6]))
    if cmd == 'expect' and len(argv) == 6:
        return cmd_expect(argv[2], argv[3], int(argv[4]), int(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
