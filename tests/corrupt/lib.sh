# tests/corrupt/lib.sh - sourced by the damage tests of tests/corrupt/.
#
# Contract: everything of tests/tools/lib.sh ($R, $T, $POOL, $MNT, the
# cleanup trap that unmounts, detaches and kills what the test started, and
# fails on a sanitizer report in $T/daemon.log), plus:
#
#   build_pool      a pool with volume v (VOL_MIB MiB of random data, synced),
#                   snapshot s1 of it, then 1 MiB at 3 MiB written twice
#                   (other bytes, then the final ones, as 2 MiB at 3 MiB;
#                   each synced), then v's window set to 0 and two retention
#                   passes (daemon run with -o retention=1): the versions of
#                   the first write are deleted, their records stay in the
#                   page log as dead ones (damage there must fail nothing).
#                   $T/cur is what v holds now, $T/old what s1 holds,
#                   $T/s1_lsn the snapshot's LSN, $T/tl v's timeline.
#                   Unmounted: a clean close leaves every version in .sst
#                   files and every page in the page log's segments, where
#                   the damage goes; checked: PAGES+512 page versions of
#                   v, as many live records and 256 dead ones. `rewindctl
#                   check` must call it clean; kept as $T/clean.
#                   The writes are whole aligned MiB (the piped one comes
#                   in pieces of 64 KiB or less), so the engine stores
#                   them as runs (volume/internal.h, RUN_BASE): one entry
#                   for the pages of one write in one group of 256 pages
#                   (1 MiB; a piece of 16 pages or more is a run of its
#                   own, a smaller one entries of single pages); a page
#                   version here is a page of a run. Each run that stays
#                   is read whole by v or by s1, so retention neither
#                   shrinks nor splits one.
#   round KIND SEED N [FROM]
#                   copy $T/clean (or FROM) to $POOL, flip N bytes of its
#                   KIND files (poolfiles.py flip: seg and sst-pages only
#                   where v's records / entries are; sst-log, wal
#                   anywhere; seg-cut: cut N records off the newest
#                   segment instead)
#                   with seed SEED, run `rewindctl check` on it
#                   ($T/check.out, $T/check.err, $CHECK_RC), mount it with
#                   the daemon's log in $T/round.log, read every page of v
#                   and of a clone of v at @s1 (readpages.py: $T/read.cur,
#                   $T/read.old; fails on any page that is neither exact nor
#                   EIO), unmount.
#                   When the engine opened the damaged pool read-only
#                   (.status store_error "read-only..."), $READONLY says
#                   why and the clone (a change) and its read are left out.
#                   Prints the seed and the flips ($T/flips) first, so a
#                   failure can be replayed; $T/expect.cur and
#                   $T/expect.old get poolfiles.py expect's verdicts.
#   eio_pages FILE  the pages a readpages.py output says gave EIO
#   ok_count FILE   how many pages read back exactly
#   seeds           the seeds of this run (CORRUPT_SEED, printed on stderr
#                   when lib.sh is sourced, and the next CORRUPT_SEEDS-1)
#
# Nothing sleeps to synchronise (the retention passes are waited for by
# polling .status, bounded); the daemon runs in the foreground so that its
# log (and any sanitizer report) is kept.
. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VOL_MIB=${VOL_MIB:-8}
PAGES=$((VOL_MIB * 256))

# Debian's python3 (a test dependency), not a version manager's shim in
# PATH, which costs most of a second per call.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
poolfiles() { "$PY" "$HERE/poolfiles.py" "$@"; }

# Mount pool folder $1 at $MNT in the foreground, its stderr into $2; more
# arguments go to the daemon.
mount_pool() {
	local pool=$1 log=$2
	shift 2
	mkdir -p "$MNT"
	"$REWINDFS" -f "$@" "$pool" "$MNT" 2>"$log" &
	DAEMON=$!
	wait_for 20 is_mounted "$MNT" || { cat "$log" >&2; fail "daemon did not mount $pool"; }
}

# Unmount $MNT and wait for the daemon; its log joins $T/daemon.log (which
# the cleanup checks for sanitizer reports). Not `rewindctl umount`: it reads
# MNT/.status right before unmounting, and when that file's release has not
# reached the daemon by then, the daemon leaks its handle (an ASan daemon
# then fails the round; reported, fs/ops.c).
umount_pool() {
	fusermount3 -u "$MNT" || umount "$MNT" || fail "umount $MNT"
	local rc=0
	wait "$DAEMON" || rc=$?
	DAEMON=
	cat "$1" >>"$T/daemon.log"
	[ "$rc" = 0 ] || { cat "$1" >&2; fail "the daemon exited with $rc"; }
}

# How many page versions of v the .sst files of $POOL hold (live keys of
# the pages family, a run counting as its pages: retention's deletions are
# not versions); v_flushed: all of them. Retention at window 0 keeps what
# v and s1 read: every page of v (v's newest versions), and the versions s1
# reads of the 512 pages written again after it, older than v's: PAGES +
# 512. The 256 of the write in between, read by neither, are deleted
# (their records are the 256 dead ones).
v_versions() { poolfiles keys "$POOL" "$(cat "$T/tl")" 2>/dev/null | wc -l; }
v_flushed() { [ "$(v_versions)" = $((PAGES + 512)) ]; }

# Seeded bytes: $1 MiB from random.Random($2). v's bytes come from the seed,
# so that a replay lays out the page log as the failed run did (the same
# records at the same offsets; only the times in their headers differ) and
# the tables nearly so (their values hold times too, so LZ4 may shift a
# block boundary by a few bytes).
seeded() {
	"$PY" -c 'import random, sys
sys.stdout.buffer.write(random.Random(sys.argv[2]).randbytes(int(sys.argv[1]) << 20))' "$@"
}

last_retention() { sed -n 's/^last_retention: //p' "$MNT/.status"; }
retention_after() { [ "$(last_retention)" != "$1" ]; }

build_pool() {
	: "${REWINDFS:?REWINDFS must name the rewindfs binary}"
	local out pass before
	"$R" init "$POOL" >/dev/null || fail "rewindctl init"
	mount_pool "$POOL" "$T/build.log" -o retention=1
	"$R" create "$MNT" v "${VOL_MIB}M" >/dev/null || fail create
	seeded "$VOL_MIB" "v $CORRUPT_SEED" >"$T/old"
	dd if="$T/old" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none ||
		fail "writing v"
	"$R" snapshot "$MNT/v" s1 >/dev/null || fail snapshot
	sed -n 's/^- name=s1 lsn=\([0-9]*\) .*/\1/p' "$MNT/v/.snapshot" >"$T/s1_lsn"
	[ -s "$T/s1_lsn" ] || fail "no lsn for s1 in .snapshot: $(cat "$MNT/v/.snapshot")"
	# 1 MiB that the next write replaces: with the window at 0 its versions
	# are needed by no readable point, and retention deletes them.
	seeded 1 "gone $CORRUPT_SEED" |
		dd of="$MNT/v/volume" bs=1M seek=3 conv=notrunc,fsync status=none ||
		fail "overwriting v (1)"
	cp "$T/old" "$T/cur"
	seeded 2 "over $CORRUPT_SEED" >"$T/over"
	dd if="$T/over" of="$T/cur" bs=1M seek=3 conv=notrunc status=none
	dd if="$T/over" of="$MNT/v/volume" bs=1M seek=3 conv=notrunc,fsync status=none ||
		fail "overwriting v (2)"
	cmp -s "$T/cur" "$MNT/v/volume" || fail "v does not read back before any damage"
	sed -n 's/^timeline: //p' "$MNT/v/.status" >"$T/tl"
	"$R" window "$MNT/v" 0 >/dev/null || fail "window 0"
	# Two passes ending after the window changed: the second one started
	# after it changed.
	for pass in 1 2; do
		before=$(last_retention)
		wait_for 30 retention_after "$before" ||
			fail "no retention pass in 30 s (last_retention: $before)"
	done
	cmp -s "$T/cur" "$MNT/v/volume" || fail "v does not read back after retention"
	# A clean close flushes RocksDB's memtables: v's versions are then in
	# .sst files, its pages in the page log (where the damage goes), none
	# left in the WAL.
	umount_pool "$T/build.log"
	v_flushed ||
		fail "$(v_versions) versions of v in .sst files after a clean close, expected $((PAGES + 512))"
	out=$(poolfiles records "$POOL" "$(cat "$T/tl")")
	[ "$out" = "live $((PAGES + 512)) dead 256" ] ||
		fail "v's page-log records: $out, expected live $((PAGES + 512)) dead 256"
	out=$("$R" check "$POOL" 2>&1) || fail "check of the undamaged pool: $out"
	[ "$out" = "1 volume, 0 problems" ] || fail "check of the undamaged pool: $out"
	mv "$POOL" "$T/clean"
	poolfiles list "$T/clean"
}

round() {
	local kind=$1 seed=$2 n=$3 from=${4:-$T/clean} rc tl
	tl=$(cat "$T/tl")
	rm -rf "$POOL"
	cp -a "$from" "$POOL"
	echo "--- $kind: seed $seed, n $n"
	rc=0
	case $kind in
	seg | seg-cut | sst-pages) poolfiles flip "$POOL" "$seed" "$n" "$kind" "$tl" >"$T/flips" || rc=$? ;;
	*) poolfiles flip "$POOL" "$seed" "$n" "$kind" >"$T/flips" || rc=$? ;;
	esac
	[ "$rc" = 0 ] || fail "no $kind data to damage (poolfiles.py flip: $rc)"
	cat "$T/flips"
	if [ "$from" = "$T/clean" ]; then
		poolfiles expect "$T/clean" "$T/flips" "$tl" 18446744073709551615 >"$T/expect.cur"
		poolfiles expect "$T/clean" "$T/flips" "$tl" "$(cat "$T/s1_lsn")" >"$T/expect.old"
	fi
	CHECK_RC=0
	"$R" check "$POOL" >"$T/check.out" 2>"$T/check.err" || CHECK_RC=$?
	# (Not `| head`: under pipefail the writer's SIGPIPE would end the test.)
	sed -n '1,3{s/^/check: /;p;b};$s/^/check: /p' "$T/check.out"
	sed 's/^/check: /' "$T/check.err"
	mount_pool "$POOL" "$T/round.log"
	rc=0
	"$PY" "$HERE/readpages.py" "$MNT/v/volume" "$T/cur" >"$T/read.cur" || rc=$?
	head -1 "$T/read.cur" | sed 's/^/v now: /'
	[ "$rc" = 0 ] || { cat "$T/read.cur" >&2; fail "seed $seed: v returned wrong data"; }
	READONLY=$(sed -n 's/^store_error: \(read-only.*\)/\1/p' "$MNT/.status")
	if [ -n "$READONLY" ]; then
		# A read-only pool makes no clone: the past point stays unread.
		echo "v at s1: not read, the pool is $READONLY" | cut -c1-160
		echo "ok 0 eio 0 wrong 0" >"$T/read.old"
	else
		"$R" clone "$MNT/v" old @s1 >/dev/null || fail "seed $seed: clone @s1"
		"$PY" "$HERE/readpages.py" "$MNT/old/volume" "$T/old" >"$T/read.old" || rc=$?
		head -1 "$T/read.old" | sed 's/^/v at s1: /'
		[ "$rc" = 0 ] || { cat "$T/read.old" >&2; fail "seed $seed: v at s1 returned wrong data"; }
	fi
	umount_pool "$T/round.log"
}

eio_pages() { sed -n 's/^eio //p' "$1"; }

# kill -9 the daemon mounted by mount_pool (no clean close) and keep its
# pool as $T/crashed.
crash_pool() {
	kill -9 "$DAEMON"
	wait "$DAEMON" || true
	DAEMON=
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	cat "$T/build.log" >>"$T/daemon.log"
	mv "$POOL" "$T/crashed"
}

# Start the daemon on $POOL at $MNT for round $seed: 0 once it mounted, 1
# when it exited instead, refusing the pool (its log, $T/round.log, is kept
# in $T/daemon.log and shown).
mounted_or_gone() { is_mounted "$MNT" || ! kill -0 "$DAEMON" 2>/dev/null; }
try_mount() {
	mkdir -p "$MNT"
	"$REWINDFS" -f "$POOL" "$MNT" 2>"$T/round.log" &
	DAEMON=$!
	wait_for 20 mounted_or_gone || fail "seed $seed: the daemon neither mounted nor exited"
	is_mounted "$MNT" && return 0
	wait "$DAEMON" && fail "seed $seed: the daemon exited 0 without mounting"
	DAEMON=
	cat "$T/round.log" >>"$T/daemon.log"
	sed 's/^/daemon: /' "$T/round.log" | cut -c1-300
	return 1
}
ok_count() { awk 'NR == 1 { print $2 }' "$1"; }

# The seeds of this run: CORRUPT_SEED (default: a new one each run) and the
# next CORRUPT_SEEDS-1 (default 3); the first also makes v's bytes.
CORRUPT_SEED=${CORRUPT_SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
echo "seed $CORRUPT_SEED (CORRUPT_SEED=$CORRUPT_SEED replays this run)" >&2
seeds() { seq "$CORRUPT_SEED" $((CORRUPT_SEED + ${CORRUPT_SEEDS:-3} - 1)); }
