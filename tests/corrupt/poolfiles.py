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
  LZ4-compressed: a small decoder is below). The values are the versions,
  each a 24-byte header (kind at byte 0, 7 zero bytes, time, checksum)
  and what its kind adds: for a page in the page log (kind 3, 40 bytes)
  its segment and offset, u64 big-endian; for a hole (kind 2) nothing; for
  a run (kind 4) the segment and offset of its first page's record, the
  first page, the page count n and n page hashes (56 + 8n bytes). A run is
  the data pages of one write that follow each other, at least 16 of them
  inside one aligned group of G pages (the pool's run group: the last u64
  of the pool record, in the meta family): one entry under the key
  timeline | 2^63 + first / G | ~lsn, standing for the versions timeline |
  page | ~lsn of its pages, whose records follow each other in the log
  (page first + i at offset + i * (64 + page size)) and name those keys.
  Retention may shrink a run (the same key, fewer pages) and give pages it
  still needs outside the kept stretch entries of their own. The pages
  family's state is the newest entry of each key over all its .sst files:
  a put is a version, a deletion (retention's) is none. A table's filter
  (partitioned, in the blocks after the data) is a bloom filter of its
  keys' 16-byte prefixes, which a seek asks before it reads any block of
  the table (see the filter functions below);
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
deletion of the pages family and no value of it in a blob file (a value of
min_blob_size or more, 4 KiB in volume/kv_rocks.c, more than any of theirs:
a run's is at most 56 + 8 * 256 bytes); this refuses a table that has a
range deletion or a blob index (an entry of type 17) in the pages family.

Commands (POOL is the pool folder: its RocksDB is POOL/db, its page log
POOL/pages):
  list POOL              one line per data file: kind, sizes, parts, keys
  keys POOL TL           every page version of timeline TL (live keys of
                         the pages family's .sst files; a run as its pages)
                         as "PAGE LSN", in key order
  records POOL TL        the page log's records of timeline TL: "live N dead
                         M" (N records referred to, M no longer)
  flip POOL SEED N KIND [TL]
                         flip N bytes at random (random.Random(SEED)) in the
                         data parts of files of KIND (seg, sst-pages,
                         sst-log, sst-meta, sst-index, wal); with TL, only in
                         records / data blocks of timeline TL. One line per
                         flip: "flip FILE OFFSET OLD NEW" then, for a
                         record, "tl T page P lsn L live|dead header|page",
                         for a data block "block START END". For seg the
                         first flip goes into a live record, the second (if
                         any) into a dead one when there is one, the others
                         into any record of TL; each into the header or the
                         page bytes with even odds (so that a few flips
                         cover every case). Exit 3 when no file of KIND has
                         such data.
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
                         which pages of timeline TL, read at LSN BOUND one
                         page at a time, the damage FLIPS (the output of
                         flip, on a copy of the pool CLEAN) touches: "must
                         PAGE LSN" when the read certainly fails: the
                         version it needs was damaged (its live record), or
                         an entry it reads (its data block): its own
                         version, or a run it verifies on the way (the
                         runs of the page's group from the newest at or
                         below BOUND to the one that covers the page or is
                         not newer than its own
                         version); "may PAGE LSN" when the read may also
                         visit a damaged data block (each of its two seeks,
                         to the page's own key and to its group's run key,
                         lands in every file whose filter may hold the
                         key's 16-byte prefix on the block of the first
                         entry at or after the key, and on the block
                         before when that entry starts one, then steps over
                         deleted and older entries to where it stops; a
                         file the filter rules out is not read, but sends
                         a seek in a level of sorted files on to the first
                         block of the next one). LSN is the needed
                         version's, 0 for none. Pages not listed must read
                         back exactly.
                         First, "hit PAGE LSN" for every damaged version of
                         timeline TL, needed or not (a damaged dead record or
                         deleted entry is no version), followed by "segment
                         S offset O" (S in 16 hex digits, as the engine names
                         it) when its page-log record was damaged, and "hit
                         run A-B LSN" for every damaged run entry (A-B: the
                         pages of its group, as check names it).
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
PV_HOLE, PV_REF, PV_RUN = 2, 3, 4
PVAL_HDR, PVAL_REF = 24, 40
RVAL_FIXED = PVAL_REF + 16  # a run value: then count x 8-byte page hashes
RUN_BASE = 1 << 63          # a run key's page field: RUN_BASE + group
RUN_GROUP_DEFAULT = 256     # a pool record without the field: the default
# Types of RocksDB's internal keys (the low byte of the 8-byte trailer);
# a blob index is a value kept in a blob file of the family (not modelled).
T_DELETION, T_VALUE, T_SINGLE_DELETION, T_BLOB_INDEX = 0, 1, 7, 17
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


# The filters of the pages family: a bloom filter of the 16-byte prefixes
# of the keys (timeline | page), RocksDB's "FastLocalBloom" (format_version
# 5): the bits, then 5 bytes: 0xff, 0 (this implementation), the probe
# count (low 5 bits; 64-byte blocks: high 3 bits zero), two zero bytes.
# A key's 64-bit hash is RocksDB's Hash64: XXPH3, a preview of XXH3 (for
# 9 to 16 bytes: two words of the input, each XORed with a word of its
# default secret, then summed and multiplied); its low half picks a
# 64-byte line, its high half the bits in it, one per probe.
XXPH3_SECRET = (0xbe4ba423396cfeb8, 0x1cad21f72c81017c)
XXPH3_PRIME64_3 = 0x165667B19E3779F9


def xxph3_64(key):
    """RocksDB's Hash64 (XXPH3, seed 0) of a key of 9 to 16 bytes."""
    if not 9 <= len(key) <= 16:
        raise ValueError('xxph3_64 of %d bytes' % len(key))
    lo = struct.unpack_from('<Q', key)[0] ^ XXPH3_SECRET[0]
    hi = struct.unpack_from('<Q', key, len(key) - 8)[0] ^ XXPH3_SECRET[1]
    prod = lo * hi
    h = (len(key) + lo + hi + ((prod & U64_MAX) ^ (prod >> 64))) & U64_MAX
    h ^= h >> 37
    h = h * XXPH3_PRIME64_3 & U64_MAX
    return h ^ h >> 32


def bloom_may_match(filt, key):
    """Whether a filter block says key may be in the table: False only for
    a FastLocalBloom filter without all its bits for key (or one of no
    keys); any other kind of filter may match anything."""
    if len(filt) <= 5:
        return False
    if filt[-5] != 0xFF or filt[-4] != 0 or filt[-3] >> 5 or filt[-2:] != \
            b'\0\0' or not 1 <= filt[-3] & 31 <= 30:
        return True
    bits = filt[:-5]
    h = xxph3_64(key)
    at = ((h & 0xFFFFFFFF) * (len(bits) >> 6) >> 32) << 6
    h >>= 32
    for _ in range(filt[-3] & 31):
        bit = h >> 23
        if not bits[at + (bit >> 3)] >> (bit & 7) & 1:
            return False
        h = h * 0x9E3779B9 & 0xFFFFFFFF
    return True


def sst_filters(buf):
    """The filter blocks of a table in buf (for a partitioned filter, every
    partition), or None when it has none."""
    for name, val in block_entries(buf, *footer_handles(buf)[0]):
        off, p = varint(val, 0)
        size, _ = varint(val, p)
        if name.startswith(b'partitionedfilter.'):
            return [bytes(buf[o:o + n]) for o, n in
                    index_handles(block_contents(buf, off, size))]
        if name.startswith(b'fullfilter.'):
            return [bytes(buf[off:off + size])]
    return None


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
    data blocks of the pages family (the user keys of their entries), or one
    range without keys."""
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


def pkey(tl, page, lsn):
    return struct.pack('>QQQ', tl, page, lsn ^ U64_MAX)


def key_lsn(key):
    return struct.unpack_from('>Q', key, 16)[0] ^ U64_MAX


def is_run(key):
    return key[8] >= 0x80


def family_tables(db, family):
    """[(name, path)] of the .sst files of a family, in name order."""
    out = []
    for name in sorted(os.listdir(db)):
        path = os.path.join(db, name)
        if name.endswith('.sst') and sst_info(path)[0] == family:
            out.append((name, path))
    return out


def run_group(pool):
    """The pool's run group (pages): the last u64 of the pool record (meta
    family, key "P": the magic as a length byte and its bytes, then
    big-endian u64s: format, page size, created, budget, next id, run
    group), from the meta family's .sst files; a record without it (a pool
    older than format 4) has the default."""
    db = os.path.join(pool, 'db')
    best = None
    for _, path in family_tables(db, 'meta'):
        for _, _, ents in sst_data_blocks(path):
            for k, seq, typ, val in ents:
                if k == b'P' and (best is None or seq > best[0]):
                    best = (seq, typ, val)
    if best is None or best[1] != T_VALUE:
        raise ValueError(pool + ': no pool record in the meta family\'s '
                         '.sst files')
    val = best[2]
    fields = (len(val) - 1 - val[0]) // 8
    if fields < 6:
        return RUN_GROUP_DEFAULT
    return struct.unpack_from('>Q', val, 1 + val[0] + 8 * 5)[0]


class Pages:
    """The pages family of a pool, from its .sst files: for every user key
    the newest entry (over all files, by sequence) and where it is, its
    page versions (a run's pages each), and every file's entries in order
    with their block, for the read model of expect."""

    def __init__(self, pool):
        self.pool = pool
        self.rec_len = PREC_HDR + page_size(pool)
        self._group = None
        self.newest = {}  # key -> (seq, type, value, file, block)
        self.files = {}   # file -> ([user keys], [block of entry], [first?])
        self.filters = {}  # file -> its filter blocks (None: no filter)
        self.seeks = {}   # 16-byte prefix -> the files a seek of it reads
        merged = []       # (user key, -seq, file) of every entry
        db = os.path.join(pool, 'db')
        for name, path in family_tables(db, 'pages'):
            if sst_info(path)[2]:
                raise ValueError(name + ': range deletions in the pages '
                                 'family (not modelled)')
            keys, blocks, first = [], [], []
            for b, (_, _, ents) in enumerate(sst_data_blocks(path)):
                for i, (k, seq, typ, val) in enumerate(ents):
                    if typ == T_BLOB_INDEX:
                        raise ValueError('%s: a value in a blob file in the '
                                         'pages family (not modelled)' % name)
                    if typ not in (T_VALUE, T_DELETION, T_SINGLE_DELETION):
                        raise ValueError('%s: entry of type %d' % (name, typ))
                    keys.append(k)
                    blocks.append(b)
                    first.append(i == 0)
                    merged.append((k, -seq, name))
                    if seq > self.newest.get(k, (-1,))[0]:
                        self.newest[k] = (seq, typ, val, name, b)
            self.files[name] = (keys, blocks, first)
            filt = sst_filters(open(path, 'rb').read())
            # A filter that misses a prefix the table holds is not the
            # one modelled here: then every seek counts as reading the
            # table (as with no filter).
            if filt is not None and not all(
                    any(bloom_may_match(f, x) for f in filt)
                    for x in {k[:16] for k in keys}):
                print('poolfiles.py: %s: its filter does not read as '
                      'modelled (taken as none)' % name, file=sys.stderr)
                filt = None
            self.filters[name] = filt
        self.merged = sorted(merged)
        self.live = sorted(k for k, e in self.newest.items()
                           if e[1] == T_VALUE)
        # Page versions: every per-page key, and every page of a run (the
        # key its record names). entry: the version's entry (itself or
        # its run's key); record: where its record is; refs: the reverse.
        self.entry, self.record, self.refs = {}, {}, {}
        for k in self.live:
            val = self.newest[k][2]
            tl = key_tl(k)
            if is_run(k):
                if len(val) < RVAL_FIXED or val[0] != PV_RUN:
                    raise ValueError('run key %s: a value of %d bytes, kind '
                                     '%d' % (k.hex(), len(val), val[0]))
                seg, off, first, count = struct.unpack_from('>QQQQ', val,
                                                            PVAL_HDR)
                if len(val) != RVAL_FIXED + 8 * count:
                    raise ValueError('run key %s: %d pages in %d bytes' % (
                        k.hex(), count, len(val)))
                for i in range(count):
                    v = pkey(tl, first + i, key_lsn(k))
                    self.entry[v] = k
                    self.record[v] = (seg, off + i * self.rec_len)
            else:
                self.entry[k] = k
                if len(val) == PVAL_REF and val[0] == PV_REF:
                    self.record[k] = struct.unpack_from('>QQ', val, PVAL_HDR)
        self.refs = {r: v for v, r in self.record.items()}

    @property
    def group(self):
        if self._group is None:
            self._group = run_group(self.pool)
        return self._group

    def versions(self, tl):
        """The page versions of timeline tl (per-page keys), in key order."""
        return sorted(v for v in self.entry if key_tl(v) == tl)

    def where(self, key):
        """(file, block) of the live entry of key."""
        e = self.newest[key]
        return e[3], e[4]

    def sought(self, target):
        """The files a seek to target reads: those whose filter may hold
        its 16-byte prefix (a file that cannot hold it is passed over
        without reading a block)."""
        prefix = target[:16]
        if prefix not in self.seeks:
            self.seeks[prefix] = {
                name for name, filt in self.filters.items()
                if filt is None or
                any(bloom_may_match(f, prefix) for f in filt)}
        return self.seeks[prefix]

    def walk(self, target, go_on):
        """A point iterator (the engine's: only keys of the target's
        16-byte prefix) sought to target, then stepped while go_on(key) of
        each live key it stands on says so: the user key of the entry it
        stops at (a live key go_on refused, or the first key of another
        prefix in a file the seek reads; deleted keys and older entries
        are stepped over), or None at the end of the family."""
        files = self.sought(target)
        seen = set()
        for i in range(bisect.bisect_left(self.merged, (target,)),
                       len(self.merged)):
            k, _, name = self.merged[i]
            if name not in files:
                continue
            if k[:16] != target[:16]:
                return k
            if k in seen:
                continue
            seen.add(k)
            if self.newest[k][1] == T_VALUE and not go_on(k):
                return k
        return None

    def visited(self, target, stop):
        """{(file, block)} that a seek to target, then steps up to the entry
        stop (a user key; None: the end), may read: in each file the seek
        reads, the block of the first entry at or after target, the one
        before it when that entry starts a block (the index's separator
        may be at or above target), and those up to the file's first entry
        at or after stop (where the merging iterator leaves that file). A
        file passed over that holds keys at or after target sends a seek
        in a level of sorted files (L1 and below) to the next file, whose
        first block it reads: the first block of every file after it."""
        out = set()
        files = self.sought(target)
        for name, (keys, blocks, first) in self.files.items():
            i = bisect.bisect_left(keys, target)
            if i == len(keys):
                continue
            if name not in files:
                out.update((other, 0) for other, (ks, _, _) in
                           self.files.items() if ks and ks[0] > keys[-1])
                continue
            j = (len(keys) if stop is None
                 else bisect.bisect_left(keys, stop, i))
            j = min(j, len(keys) - 1)
            out.update((name, b) for b in range(blocks[i], blocks[j] + 1))
            if first[i] and blocks[i] > 0:
                out.add((name, blocks[i] - 1))
        return out

    def read(self, tl, pg, bound):
        """A read of page pg at (timeline tl, bound) on that timeline, as
        volume/pages.c page_find does it for a read of one page: a seek of
        the page's own key tl|pg|~bound (its newest own version at or below
        bound), then of its group's run key tl|(RUN_BASE + pg / G)|~bound
        and steps through the group's runs, newest first, each verified,
        up to the first that covers pg or is not newer than the own
        version (run_scan). Returns (version, entries, blocks): the page
        version it returns (None: none on tl), the live entries it reads
        for certain (the own version, every run it verifies) and every
        data block it may read."""
        target = pkey(tl, pg, bound)
        stop = self.walk(target, lambda k: False)
        own = stop if stop is not None and stop[:16] == target[:16] else None
        blocks = self.visited(target, stop)
        entries = [own] if own else []
        after = key_lsn(own) if own else 0
        found = []

        def go_on(k):
            entries.append(k)
            first, count = struct.unpack_from('>QQ', self.newest[k][2],
                                              PVAL_REF)
            if key_lsn(k) <= after:
                return False
            if first <= pg < first + count:
                found.append(k)
                return False
            return True
        target = pkey(tl, RUN_BASE + pg // self.group, bound)
        blocks |= self.visited(target, self.walk(target, go_on))
        version = pkey(tl, pg, key_lsn(found[0])) if found else own
        return version, entries, blocks


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
        print('%d %d' % (struct.unpack_from('>Q', k, 8)[0], key_lsn(k)))
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


def run_name(pages, key):
    """How check names a run entry: "run A-B" (the pages of its group)."""
    g = struct.unpack_from('>Q', key, 8)[0] - RUN_BASE
    return 'run %d-%d' % (g * pages.group, (g + 1) * pages.group - 1)


def cmd_expect(clean, flips, tl, bound):
    pages = Pages(clean)
    files = {os.path.basename(p): (kind, parts)
             for kind, p, parts in data_files(clean) if kind != 'sst-index'}
    blocks = set()         # (file, block) of the damaged data blocks
    records = {}           # version -> (segment, offset) of its damaged record
    for line in open(flips):
        w = line.split()
        if len(w) == 4 and w[0] == 'cut':
            for a, b, keys in files[w[1]][1]:
                k = pages.refs.get((int(w[1][:16], 16), a))
                if b > int(w[3]) and k == keys[0]:
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
                    records[k] = (w[1][:16], a)
            elif kind == 'sst-pages':
                blocks.add((w[1], i))
    # Live entries in a damaged block (a page version, or a run: every page
    # of it).
    entries = {k for k in pages.live if pages.where(k) in blocks}
    hits = []
    for k in entries | set(records):
        if key_tl(k) != tl:
            continue
        if is_run(k):
            hits.append((k, 'hit %s %d' % (run_name(pages, k), key_lsn(k))))
        else:
            rec = ' segment %s offset %d' % records[k] if k in records else ''
            page = struct.unpack_from('>Q', k, 8)[0]
            hits.append((k, 'hit %d %d%s' % (page, key_lsn(k), rec)))
    for _, line in sorted(hits):
        print(line)
    for page in sorted({struct.unpack_from('>Q', k, 8)[0]
                        for k in pages.versions(tl)}):
        version, read, visits = pages.read(tl, page, bound)
        # No version at or below bound: a zero page here (the read goes
        # on to an ancestor).
        lsn = key_lsn(version) if version else 0
        if version in records or entries & set(read):
            print('must %d %d' % (page, lsn))
        elif blocks & visits:
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
