#!/bin/bash
# A byte flipped in the WAL of a pool whose daemon was killed (kill -9: no
# clean close, so the synced changes are still only in RocksDB's WAL): the
# damage must not go unnoticed. Either `rewindctl check` reports it (exit
# 1), or every synced change is still there; and after a remount no page of
# v reads back other than it was synced (EIO is allowed, other bytes are
# not). Seeded like corrupt.sh (CORRUPT_SEED, CORRUPT_SEEDS).
#
# Not registered: today RocksDB's point-in-time WAL recovery treats the
# damaged record as the end of the log and drops it and everything after it
# without an error; the pool opens at an older LSN (snapshots and synced
# writes gone), check says "1 volume, 0 problems" and v reads back old bytes.
. "$(dirname "$0")/lib.sh" || exit 1
need_fuse

"$R" init "$POOL" >/dev/null || fail "rewindctl init"
mount_pool "$POOL" "$T/build.log"
"$R" create "$MNT" v "${VOL_MIB}M" >/dev/null || fail create
head -c "${VOL_MIB}M" /dev/urandom >"$T/cur"
dd if="$T/cur" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none || fail "writing v"
"$R" snapshot "$MNT/v" s1 >/dev/null || fail snapshot
head -c 2M /dev/urandom >"$T/over"
dd if="$T/over" of="$T/cur" bs=1M seek=3 conv=notrunc status=none
dd if="$T/over" of="$MNT/v/volume" bs=1M seek=3 conv=notrunc,fsync status=none ||
	fail "overwriting v"
lsn=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
kill -9 "$DAEMON"
wait "$DAEMON" || true
DAEMON=
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
cat "$T/build.log" >>"$T/daemon.log"
mv "$POOL" "$T/crashed"
poolfiles list "$T/crashed"

rounds=0
for seed in $(seeds); do
	rm -rf "$POOL"
	cp -a "$T/crashed" "$POOL"
	echo "--- wal: seed $seed"
	poolfiles flip "$POOL" "$seed" 1 wal | tee "$T/flips"
	rc=0
	"$R" check "$POOL" >"$T/check.out" 2>"$T/check.err" || rc=$?
	sed 's/^/check: /' "$T/check.out" "$T/check.err"
	mount_pool "$POOL" "$T/round.log"
	now=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
	read_rc=0
	"$PY" "$HERE/readpages.py" "$MNT/v/volume" "$T/cur" >"$T/read.cur" || read_rc=$?
	head -1 "$T/read.cur" | sed "s/^/v (lsn $now, synced $lsn): /"
	umount_pool "$T/round.log"
	if [ "$rc" = 0 ] && [ "$now" != "$lsn" ]; then
		fail "seed $seed: the pool came back at lsn $now instead of $lsn and check called it clean"
	fi
	[ "$read_rc" = 0 ] || fail "seed $seed: v returned other bytes than were synced"
	rounds=$((rounds + 1))
done
echo "$rounds rounds"
exit 0
