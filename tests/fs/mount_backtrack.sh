#!/bin/sh
# Backtrack on the raw block file: write A, sync, note the time, write B,
# sync; backtrack to the time -> A (also through a page cache that held B);
# forward again to after B -> B; lsn:N and @SNAPSHOT targets; while the
# block file is open -> EBUSY and nothing changes.
. "$(dirname "$0")/lib.sh"

now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }

start_fs
mkdir "$MNT/v" || fail "mkdir"
truncate -s 2M "$MNT/v/volume" || fail "truncate"
head -c 2097152 /dev/urandom > "$T/A"
head -c 2097152 /dev/urandom > "$T/B"

dd if="$T/A" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none || fail "write A"
LSN_A=$(field "$MNT/v/.status" lsn)
echo snapA > "$MNT/v/.snapshot" || fail "snapshot"
TA=$(now)
# B in two halves with a sync between: a time between them is a third state.
dd if="$T/B" of="$MNT/v/volume" bs=1M count=1 conv=notrunc,fsync status=none || fail "write B1"
dd if="$T/B" of="$MNT/v/volume" bs=1M skip=1 seek=1 count=1 conv=notrunc,fsync status=none || fail "write B2"
TB=$(now)
cmp "$T/B" "$MNT/v/volume" || fail "B not there"
TL0=$(field "$MNT/v/.status" timeline)

note "backtrack to the time after A (page cache holds B)"
cat "$MNT/v/volume" > /dev/null
echo "$TA" > "$MNT/v/.backtrack" || fail "backtrack to $TA"
cmp "$T/A" "$MNT/v/volume" || fail "backtrack to TA does not read A"
dd if="$MNT/v/volume" bs=1M iflag=direct status=none | cmp - "$T/A" || fail "O_DIRECT read after backtrack"
[ "$(field "$MNT/v/.status" timeline)" != "$TL0" ] || fail "timeline did not change"
[ "$(field "$MNT/v/.backtrack" backtracks)" = 1 ] || fail ".backtrack history: $(cat "$MNT/v/.backtrack")"
grep -q "^- when=.* requested=" "$MNT/v/.backtrack" || fail "no history line"

note "forward again to after B"
echo "$TB" > "$MNT/v/.backtrack" || fail "backtrack forward to $TB"
cmp "$T/B" "$MNT/v/volume" || fail "forward backtrack does not read B"

note "lsn:N and @snapshot"
echo "lsn:$LSN_A" > "$MNT/v/.backtrack" || fail "backtrack to lsn:$LSN_A"
cmp "$T/A" "$MNT/v/volume" || fail "lsn:$LSN_A does not read A"
echo "$TB" > "$MNT/v/.backtrack" || fail "forward to TB again"
cmp "$T/B" "$MNT/v/volume" || fail "B after lsn round trip"
echo "@snapA" > "$MNT/v/.backtrack" || fail "backtrack to @snapA"
cmp "$T/A" "$MNT/v/volume" || fail "@snapA does not read A"
[ "$(field "$MNT/v/.backtrack" backtracks)" = 5 ] || fail "history count: $(cat "$MNT/v/.backtrack")"

note "size follows the backtrack"
echo "$TB" > "$MNT/v/.backtrack" || fail "forward to TB (3)"
truncate -s 1M "$MNT/v/volume" || fail "shrink"
dd if=/dev/zero of="$MNT/v/volume" bs=4096 count=1 conv=notrunc,fsync status=none || fail "sync after shrink"
[ "$(stat -c %s "$MNT/v/volume")" = 1048576 ] || fail "size after shrink"
echo "$TB" > "$MNT/v/.backtrack" || fail "backtrack before the shrink"
[ "$(stat -c %s "$MNT/v/volume")" = 2097152 ] || fail "size not restored by backtrack: $(stat -c %s "$MNT/v/volume")"
cmp "$T/B" "$MNT/v/volume" || fail "content before the shrink"

note "backtrack while open: EBUSY, nothing changes"
TL1=$(field "$MNT/v/.status" timeline)
exec 3<"$MNT/v/volume"
expect_write EBUSY "$MNT/v/.backtrack" "$TA"
case "$(field "$MNT/v/.status" last_error)" in *open*) ;; *) fail "last_error: $(field "$MNT/v/.status" last_error)" ;; esac
rmdir "$MNT/v" 2>/dev/null && fail "rmdir while open succeeded"
[ -d "$MNT/v" ] || fail "volume gone"
exec 3<&-
closed() { [ "$(field "$MNT/v/.status" open)" = 0 ]; }
wait_for 100 closed || fail "the daemon still counts an open handle after close"
[ "$(field "$MNT/v/.status" timeline)" = "$TL1" ] || fail "timeline changed by a refused backtrack"
cmp "$T/B" "$MNT/v/volume" || fail "content changed by a refused backtrack"
# closed again: works
echo "$TA" > "$MNT/v/.backtrack" || fail "backtrack after close"
cmp "$T/A" "$MNT/v/volume" || fail "A after close"
stop_fs
echo PASS
