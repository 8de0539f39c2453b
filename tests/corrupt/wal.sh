#!/bin/bash
# A byte flipped in the WAL of a pool whose daemon was killed (kill -9: no
# clean close, so the synced changes are still only in RocksDB's WAL). The
# WAL holds the changes' keys and values - the pages family's 40-byte
# (segment, offset) references, the name entries, the change log, the
# metadata - not page bytes: those are in the page log's segments, not
# damaged here (seg_tail.sh damages their records after such a kill). The
# damage must not go unnoticed. Either the pool refuses to open - `rewindctl
# check` exits 1 and the daemon does not mount, both saying the store is
# corrupt - or it opens with every synced change, and no page of v reads
# back other than it was synced (EIO is allowed, other bytes are not).
# Seeded like damage.sh (CORRUPT_SEED, CORRUPT_SEEDS).
#
# (Before the engine's commit 7c378e2 RocksDB's point-in-time recovery
# silently dropped the damaged record and everything after it: the pool
# opened at an older LSN, check called it clean, v read back old bytes.)
. "$(dirname "$0")/lib.sh" || exit 1
need_fuse

"$R" init "$POOL" >/dev/null || fail "rewindctl init"
mount_pool "$POOL" "$T/build.log"
"$R" create "$MNT" v "${VOL_MIB}M" >/dev/null || fail create
"$PY" -c 'import random, sys
sys.stdout.buffer.write(random.Random(int(sys.argv[1])).randbytes(int(sys.argv[2]) << 20))' \
	"$CORRUPT_SEED" "$VOL_MIB" >"$T/cur"
dd if="$T/cur" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none || fail "writing v"
"$R" snapshot "$MNT/v" s1 >/dev/null || fail snapshot
"$PY" -c 'import random, sys
sys.stdout.buffer.write(random.Random(~int(sys.argv[1])).randbytes(2 << 20))' \
	"$CORRUPT_SEED" >"$T/over"
dd if="$T/over" of="$T/cur" bs=1M seek=3 conv=notrunc status=none
dd if="$T/over" of="$MNT/v/volume" bs=1M seek=3 conv=notrunc,fsync status=none ||
	fail "overwriting v"
lsn=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
crash_pool
poolfiles list "$T/crashed"


rounds=0 refused=0
for seed in $(seeds); do
	rm -rf "$POOL"
	cp -a "$T/crashed" "$POOL"
	echo "--- wal: seed $seed"
	poolfiles flip "$POOL" "$seed" 1 wal | tee "$T/flips"
	rc=0
	"$R" check "$POOL" >"$T/check.out" 2>"$T/check.err" || rc=$?
	sed 's/^/check: /' "$T/check.out" "$T/check.err"
	# The daemon mounts, or exits (refusing the pool): poll for either.
	if ! try_mount; then
		[ "$rc" = 1 ] || fail "seed $seed: the pool does not open, yet check exited $rc"
		grep -qi corrupt "$T/check.err" || fail "seed $seed: check did not say the store is corrupt"
		grep -qi corrupt "$T/round.log" || fail "seed $seed: the daemon did not say the store is corrupt"
		rounds=$((rounds + 1)) refused=$((refused + 1))
		continue
	fi
	now=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
	read_rc=0
	"$PY" "$HERE/readpages.py" "$MNT/v/volume" "$T/cur" >"$T/read.cur" || read_rc=$?
	head -1 "$T/read.cur" | sed "s/^/v (lsn $now, synced $lsn): /"
	umount_pool "$T/round.log"
	[ "$now" = "$lsn" ] ||
		fail "seed $seed: the pool came back at lsn $now instead of $lsn (check exited $rc)"
	[ "$read_rc" = 0 ] || fail "seed $seed: v returned other bytes than were synced"
	rounds=$((rounds + 1))
done
echo "$rounds rounds, $refused refused to open, the others came back whole"
exit 0
