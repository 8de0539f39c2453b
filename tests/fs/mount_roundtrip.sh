#!/bin/sh
# Block-file round trip: 8 MiB of random data written with dd (unaligned
# offset, fsync), read back, unmount, remount, read back again; plus the
# block file's edges: size set only by truncate, writes past the end fail,
# punch-hole/zero-range read as zeros, O_DIRECT reads, statfs.
. "$(dirname "$0")/lib.sh"

start_fs -o retention=1
mkdir "$MNT/v" || fail "mkdir volume"
[ -f "$MNT/v/volume" ] || fail "no block file"
[ "$(stat -c %s "$MNT/v/volume")" = 0 ] || fail "a new volume is not empty"
truncate -s 16M "$MNT/v/volume" || fail "truncate"
[ "$(stat -c %s "$MNT/v/volume")" = 16777216 ] || fail "size after truncate"

head -c 8388608 /dev/urandom > "$T/data"
OFF=12345
dd if="$T/data" of="$MNT/v/volume" bs=1M seek=$OFF oflag=seek_bytes \
	conv=notrunc,fsync status=none || fail "dd write"
cmp -n 8388608 -i 0:$OFF "$T/data" "$MNT/v/volume" || fail "read back (page cache)"
dd if="$MNT/v/volume" of="$T/back" bs=1M iflag=direct status=none || fail "O_DIRECT read"
cmp -n 8388608 -i 0:$OFF "$T/data" "$T/back" || fail "read back (O_DIRECT)"
[ "$(head -c $OFF "$T/back" | tr -d '\0' | wc -c)" = 0 ] || fail "bytes before the write are not zero"
[ "$(stat -c %s "$MNT/v/volume")" = 16777216 ] || fail "writing changed the size"
# st_blocks is what the volume stores, counted by the retention pass (every
# second here): 8 MiB of random data cannot take less than 8 MiB.
stored_enough() { [ "$(stat -c %b "$MNT/v/volume")" -ge 16384 ]; }
wait_for 150 stored_enough || fail "st_blocks $(stat -c %b "$MNT/v/volume") < 8 MiB"
[ "$(stat -c %b "$MNT/v/volume")" -lt 40000 ] || fail "st_blocks $(stat -c %b "$MNT/v/volume") far above 8 MiB"
# .status gives the same count, and says when it was made.
[ "$(field "$MNT/v/.status" bytes_stored)" -ge 8388608 ] || fail "bytes_stored $(field "$MNT/v/.status" bytes_stored)"
case "$(field "$MNT/v/.status" bytes_counted)" in
20*Z) ;;
*) fail "bytes_counted: $(field "$MNT/v/.status" bytes_counted)" ;;
esac

note "writes past the end fail and do not grow the volume"
if dd if=/dev/zero of="$MNT/v/volume" bs=4096 count=1 seek=4096 conv=notrunc status=none 2>"$T/err"; then
	fail "a write past the end succeeded"
fi
grep -q "File too large" "$T/err" || fail "write past the end: $(cat "$T/err")"
[ "$(stat -c %s "$MNT/v/volume")" = 16777216 ] || fail "size changed by a failed write"

note "punch hole and zero range read as zeros"
fallocate -p -o 1048576 -l 1048576 "$MNT/v/volume" || fail "punch hole"
fallocate -z -o 3145728 -l 4096 "$MNT/v/volume" || fail "zero range"
fallocate -o 0 -l 4096 "$MNT/v/volume" || fail "fallocate mode 0 inside the size"
[ "$(dd if="$MNT/v/volume" bs=1M skip=1 count=1 status=none | tr -d '\0' | wc -c)" = 0 ] \
	|| fail "punched range is not zero"
[ "$(dd if="$MNT/v/volume" bs=4096 skip=768 count=1 status=none | tr -d '\0' | wc -c)" = 0 ] \
	|| fail "zeroed range is not zero"
[ "$(stat -c %s "$MNT/v/volume")" = 16777216 ] || fail "fallocate changed the size"
# restore the data for the remount check
dd if="$T/data" of="$MNT/v/volume" bs=1M seek=$OFF oflag=seek_bytes \
	conv=notrunc,fdatasync status=none || fail "dd rewrite"

note "statfs is the pool's disk"
[ "$(stat -f -c %S "$MNT")" = 4096 ] || fail "statfs block size"
[ "$(stat -f -c %b "$MNT")" -gt 0 ] || fail "statfs blocks"

note "remount"
stop_fs
start_fs
[ "$(stat -c %s "$MNT/v/volume")" = 16777216 ] || fail "size after remount"
cmp -n 8388608 -i 0:$OFF "$T/data" "$MNT/v/volume" || fail "read back after remount"
dd if="$MNT/v/volume" bs=1M iflag=direct status=none | cmp -n 8388608 -i $OFF:0 - "$T/data" \
	|| fail "O_DIRECT read back after remount"

note "shrink and grow: the tail reads as zeros"
truncate -s 4M "$MNT/v/volume" || fail "shrink"
truncate -s 16M "$MNT/v/volume" || fail "grow"
[ "$(dd if="$MNT/v/volume" bs=1M skip=4 status=none | tr -d '\0' | wc -c)" = 0 ] \
	|| fail "bytes past a shrink came back"
cmp -n 4000000 -i 0:$OFF "$T/data" "$MNT/v/volume" || fail "head lost by shrink"
stop_fs
echo "PASS"
