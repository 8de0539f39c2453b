#!/bin/sh
# A byte flipped inside the write-ahead log of a pool whose daemon was
# killed (so its synced writes are still only in the WAL): the daemon
# refuses to open it and says why (its volumes would read back an older
# state); `-o salvage` mounts it read-only with what precedes the damage,
# which reads back exactly, while every write and command fails and
# .status says why; a clean unmount of the salvage mount exits 0.
. "$(dirname "$0")/lib.sh"

start_fs
mkdir "$MNT/v" && truncate -s 16M "$MNT/v/volume" || fail "setup"
head -c 4194304 /dev/urandom > "$T/a"
head -c 4194304 /dev/urandom > "$T/b"
# A snapshot (a command: it syncs the WAL) after each write puts the
# write's batches into the WAL (a sync alone makes the page log durable and
# leaves them in RocksDB's buffer, which the kill loses: the next open would
# replay them from the page log).
dd if="$T/a" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none || fail "write a"
echo s1 > "$MNT/v/.snapshot" || fail "snapshot s1"
dd if="$T/b" of="$MNT/v/volume" bs=1M seek=4 conv=notrunc,fsync status=none || fail "write b"
echo s2 > "$MNT/v/.snapshot" || fail "snapshot s2"
kill -KILL "$FS_PID"
wait_for 100 not_running "$FS_PID" || fail "daemon survived kill -9"
FS_PID=
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" || fail "cannot clear the dead mount"

# The WAL holds a's records, then b's: damage one at 3/4 of it (in b's).
# (Page bytes are in the page log; the WAL holds the entries that refer to
# them: for long writes, one per run of pages, with each page's 8-byte
# checksum: at least 16 KiB for the 2,048 pages.)
wal=$(ls -S "$POOL"/db/*.log | head -n 1)
size=$(stat -c %s "$wal")
[ "$size" -gt 16384 ] || fail "the WAL ($wal, $size bytes) does not hold the synced writes"
byte=$(od -An -tu1 -j $((size * 3 / 4)) -N1 "$wal" | tr -d ' ')
printf "\\$(printf %03o $(((byte + 1) % 256)))" |
	dd of="$wal" bs=1 seek=$((size * 3 / 4)) conv=notrunc status=none || fail "flip"

note "a plain mount refuses the damaged pool"
if "$REWINDFS" -f "$POOL" "$MNT" >"$T/plain.log" 2>&1; then
	fail "the daemon served a pool with a damaged WAL"
fi
grep -q "salvage" "$T/plain.log" || fail "no hint at -o salvage: $(cat "$T/plain.log")"
is_mounted "$MNT" && fail "mounted anyway"

note "-o salvage: read-only, what precedes the damage"
start_fs -o salvage
grep -q "^store_error: read-only, damaged: salvage" "$MNT/.status" ||
	fail "status: $(grep store_error "$MNT/.status")"
cmp -n 4194304 "$T/a" "$MNT/v/volume" || fail "what precedes the damage does not read back"
if dd if="$T/a" of="$MNT/v/volume" bs=4k count=1 conv=notrunc,fsync status=none 2>/dev/null; then
	fail "a write to a salvaged pool succeeded"
fi
expect_write EIO "$MNT/v/.window" "1h"
stop_fs
echo PASS
