#!/bin/bash
# A byte flipped in the index block of one of a pool's .sst files (any
# family: the pages family's tables hold the versions' keys and page-log
# references, the page bytes being in the page log). RocksDB opens every
# table when it opens the database, so the pool cannot open; what matters
# is that it says so truthfully: check exits 1 saying the data is corrupt -
# not "pool is in use", which sends the operator looking for a daemon - and
# the daemon does not mount, saying the same. Seeded like damage.sh
# (CORRUPT_SEED, CORRUPT_SEEDS).
#
# (Before the engine's commit 832c5cd, volume/kv_rocks.c took the "lock" in
# RocksDB's "block checksum mismatch" for the pool's lock: "in use".)
. "$(dirname "$0")/lib.sh" || exit 1
need_fuse


build_pool
rounds=0
for seed in $(seeds); do
	rm -rf "$POOL"
	cp -a "$T/clean" "$POOL"
	echo "--- sst-index: seed $seed"
	poolfiles flip "$POOL" "$seed" 1 sst-index | tee "$T/flips"
	rc=0
	"$R" check "$POOL" >"$T/check.out" 2>"$T/check.err" || rc=$?
	sed 's/^/check: /' "$T/check.err" | cut -c1-200
	[ "$rc" = 1 ] || fail "seed $seed: check of a pool with a damaged table exited $rc"
	! grep -q "in use" "$T/check.err" || fail "seed $seed: check says the damaged pool is in use"
	grep -qi corrupt "$T/check.err" || fail "seed $seed: check does not say the pool is corrupt"
	if try_mount; then
		umount_pool "$T/round.log"
		fail "seed $seed: the daemon mounted a pool that check could not open"
	fi
	! grep -q "in use" "$T/round.log" || fail "seed $seed: the daemon says the damaged pool is in use"
	grep -qi corrupt "$T/round.log" || fail "seed $seed: the daemon does not say the pool is corrupt"
	rounds=$((rounds + 1))
done
echo "$rounds rounds, each refused as corrupt"
exit 0
