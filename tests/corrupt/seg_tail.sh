#!/bin/bash
# A byte flipped in a page-log record of the last synced write of a pool
# whose daemon was killed (kill -9 right after an fsync that returned: no
# clean close). The write was acknowledged, so the damage must not roll it
# back: the pool opens at the synced LSN and every page of v reads back as
# it was synced or fails with EIO - never the older bytes - or the pool
# refuses to open saying it is corrupt. And `rewindctl check` (which opens
# read-only) lists the damaged version. Seeded like damage.sh
# (CORRUPT_SEED, CORRUPT_SEEDS); the flip goes into the header or the page
# bytes of a record of the last write (poolfiles.py flip-records).
#
# Why it holds (volume/pagelog.c): the machine did not restart (the pool's
# POOL/pages/boot says so), so the page cache kept every record the daemon
# wrote and a damaged one is damage, never a crash's tear: the open keeps
# the versions that refer to it (their reads fail) and replays the changes
# after it from their commit records.
. "$(dirname "$0")/lib.sh" || exit 1
need_fuse

"$R" init "$POOL" >/dev/null || fail "rewindctl init"
mount_pool "$POOL" "$T/build.log"
"$R" create "$MNT" v "${VOL_MIB}M" >/dev/null || fail create
seeded "$VOL_MIB" "v $CORRUPT_SEED" >"$T/cur"
dd if="$T/cur" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none || fail "writing v"
first=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
seeded 2 "over $CORRUPT_SEED" >"$T/over"
dd if="$T/over" of="$T/cur" bs=1M seek=3 conv=notrunc status=none
dd if="$T/over" of="$MNT/v/volume" bs=1M seek=3 conv=notrunc,fsync status=none ||
	fail "overwriting v"
lsn=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
tl=$(sed -n 's/^timeline: //p' "$MNT/v/.status")
crash_pool

rounds=0 refused=0
for seed in $(seeds); do
	rm -rf "$POOL"
	cp -a "$T/crashed" "$POOL"
	echo "--- seg tail: seed $seed"
	poolfiles flip-records "$POOL" "$seed" 1 "$tl" $((first + 1)) | tee "$T/flips" ||
		fail "no record of the last write to damage"
	read -r _ _ _ _ _ _ _ _ pg _ rlsn _ <"$T/flips"
	rc=0
	"$R" check "$POOL" >"$T/check.out" 2>"$T/check.err" || rc=$?
	sed 's/^/check: /' "$T/check.out" "$T/check.err"
	[ "$rc" = 1 ] || fail "seed $seed: check of the damaged pool exited $rc"
	grep -qE "^volume v page $pg lsn $rlsn .*page log segment" "$T/check.out" ||
		fail "seed $seed: check did not list v page $pg lsn $rlsn"
	if ! try_mount; then
		grep -qi corrupt "$T/round.log" || fail "seed $seed: the daemon did not say the pool is corrupt"
		rounds=$((rounds + 1)) refused=$((refused + 1))
		continue
	fi
	now=$(sed -n 's/^lsn: //p' "$MNT/v/.status")
	sed -n 's/^store_error: /store_error: /p' "$MNT/.status"
	read_rc=0
	"$PY" "$HERE/readpages.py" "$MNT/v/volume" "$T/cur" >"$T/read.cur" || read_rc=$?
	head -1 "$T/read.cur" | sed "s/^/v (lsn $now, synced $lsn): /"
	umount_pool "$T/round.log"
	[ "$now" = "$lsn" ] || fail "seed $seed: the pool came back at lsn $now instead of $lsn"
	[ "$read_rc" = 0 ] ||
		fail "seed $seed: v returned other bytes than were synced: $(grep -c '^wrong' "$T/read.cur") pages, first $(grep -m1 '^wrong' "$T/read.cur")"
	eio_pages "$T/read.cur" | grep -qx "$pg" || fail "seed $seed: page $pg, damaged, read back"
	rounds=$((rounds + 1))
done
echo "$rounds rounds, $refused refused to open, the others came back whole"
exit 0
