#!/bin/bash
# many_writers.sh - issue 6 item 5: many writers, operations in a loop.
#
# Four volumes of one mounted pool (daemon run with -o retention=1) are
# written in parallel by fio, random 4k-64k writes with fsyncs and crc32c
# verification, one engine/cache mode each (w0 libaio O_DIRECT qd8 + fsync,
# w1 psync O_DIRECT + fdatasync, w2 psync buffered + fsync, w3 psync
# buffered O_SYNC). While they write, a loop runs the control operations on
# the same pool: clones of the written volumes (now, at a past time, from a
# snapshot), backtracks of volumes nobody writes (a small volume "b" the loop
# writes itself, and the clones), backtrack and rmdir of the written volumes
# (refused: EBUSY), snapshots created and deleted, clone resets and
# deletions, window changes, and status reads; retention passes run in the
# daemon at most every second (-o retention=1).
#
# DESIGN
# - fio writes a header (offset, crc32c) into every 4 KiB chunk
#   (verify_interval=4096) and round 0 writes every chunk once. So any state
#   the volume ever shows is a mix of whole valid chunks, and fio
#   --verify_only (fverify) checks ANY clone, even one taken mid-write: a
#   lost (zero), torn, misplaced or damaged page fails it. fio checks the
#   written volumes itself while writing (verify_backlog) and at every quiet
#   point with --verify_only on O_DIRECT reads.
# - Exact content: writes run in rounds; every operation runs at least once a
#   round, then they go round robin until fio stops. Between rounds (a quiet
#   point: no writer runs) the sha256 of each written volume is recorded with
#   the time, and a snapshot q<round> of each and a clone of one. Every clone
#   of that point (taken then, later at that time, or later from @q<round>)
#   must hash to exactly that. A volume nobody writes (b, every clone)
#   keeps a list of (time, sha256) points: after a backtrack to a point's
#   time it must hash to that point's sha256, and it must keep its hash
#   (invariant 3: a clone never changes when its source is written),
#   checked before it is deleted and after the remount.
# - Every control command goes through fs_ctlwrite (one write(2), the exact
#   errno) and must succeed, or fail with the errno doc/control.md gives for
#   that situation: ERANGE only when the target is before the volume's
#   earliest time read right after (earliest only grows), EBUSY only on the
#   volumes held open, EEXIST/ENOENT/EINVAL only for the deliberately wrong
#   commands. A failed command must leave last_error in .status.
# - No deadlock: every step runs under timeout(1); a step that does not
#   finish, or a writer past its deadline, dumps the daemon's threads (gdb
#   -batch 'thread apply all bt', else /proc wchan and stacks) and fails.
# - Bounded memory: VmRSS/VmHWM of the daemon sampled every second of the
#   write phase; the peak RSS of the second half must be at most the first
#   half's peak plus a margin (see check_memory for its justification).
# - After the run: unmount (the daemon must exit 0), rewindctl check must be
#   clean, remount, and every surviving clone, the written volumes, b and a
#   clone of the last snapshot read back as recorded.
#
# Environment (defaults are the CI form, under 2 minutes plain; tools/stress
# runs the long form):
#   STRESS_SECONDS      write phase, at least 2 rounds (40; 30 under ASan)
#   STRESS_ROUND_S      fio's time in the first round (6); later rounds write
#                       at least as long as one pass of every operation took
#   STRESS_ROUND_MAX_S  ... but at most this long (60)
#   STRESS_SIZE_MB      size of each written volume (8)
#   STRESS_KEEP_CLONES  live clones kept (6)
#   STRESS_WINDOWS      windows the loop sets on w0-w3 and b, the first one
#                       from the start ("2m 30s 0 10m 1h"): they bound the
#                       history kept, hence the pool's disk use
#   STRESS_STEP_S       time limit of one step (120)
#   STRESS_SEED         seed of $RANDOM (the pid)
#   STRESS_LOG_DIR      copy the logs there at the end
#   STRESS_ASAN=1       a sanitizer build (set by meson): a shorter write
#                       phase, a memory margin for ASan's allocator
. "$(dirname "$0")/../tools/lib.sh"
need_fuse
: "${REWINDFS:?REWINDFS must name the rewindfs binary}"
: "${FS_CTLWRITE:?FS_CTLWRITE must name fs_ctlwrite}"
command -v fio >/dev/null || fail "fio is not installed (tools/install-deps --test)"
command -v python3 >/dev/null || fail "python3 is not installed"

ASAN=${STRESS_ASAN:-0}
def_secs=40
[ "$ASAN" = 1 ] && def_secs=30
WRITE_S=${STRESS_SECONDS:-$def_secs}
ROUND_S=${STRESS_ROUND_S:-6}
ROUND_MAX_S=${STRESS_ROUND_MAX_S:-60}
SIZE_MB=${STRESS_SIZE_MB:-8}
KEEP=${STRESS_KEEP_CLONES:-6}
STEP_S=${STRESS_STEP_S:-120}
SEED=${STRESS_SEED:-$$}
B_MB=4
RANDOM=$SEED
NW=4

mkdir -p "$T/fio"
: >"$T/stress.log"
log() { echo "$(date -u +%T.%3N) $*" >>"$T/stress.log"; }
log "seed $SEED, write phase ${WRITE_S}s in ${ROUND_S}s rounds, $NW x ${SIZE_MB} MiB, asan=$ASAN"

declare -A OPS=()   # "op result" -> count
count() { OPS["$1"]=$((${OPS["$1"]:-0} + 1)); }

# ------------------------------------------------------------ bounded steps

# Each step runs under bounded(), which notes it in $T/step ("START WHAT")
# for the watchdog, a background process: when a step is older than STEP_S
# seconds it dumps what every thread of the daemon is doing (gdb -batch
# 'thread apply all bt', else /proc wchan and stacks) into
# $T/watchdog.txt, then aborts the FUSE connection (fusectl), so that every
# request stuck in the kernel fails instead of hanging the test (timeout(1)
# alone cannot: a close(2) on a FUSE file whose daemon hangs waits without
# end, even for a killed process), and leaves $T/watchdog-fired; the step
# then fails, and the test with the dump. The main shell's own deadlines
# (writers, the daemon's exit) fire it with watchdog().

# dump_and_abort WHAT: the dump, then the abort.
dump_and_abort() {
	local pid conn t
	pid=$(cat "$T/daemon.pid")
	{
		echo "=== watchdog: $1 (daemon pid $pid)"
		grep -E '^(State|VmRSS|VmHWM|Threads)' "/proc/$pid/status"
		if command -v gdb >/dev/null; then
			timeout 300 gdb -batch -p "$pid" -ex 'thread apply all bt'
		else
			for t in /proc/"$pid"/task/*; do
				echo "--- $t $(cat "$t/comm") wchan=$(cat "$t/wchan")"
				cat "$t/stack"
			done
		fi
	} >"$T/watchdog.txt" 2>&1
	touch "$T/watchdog-fired"
	conn=$(awk -v d="$MNT" '$5 == d { split($3, a, ":"); print a[2] }' /proc/self/mountinfo)
	[ -n "$conn" ] || return 0
	[ -e /sys/fs/fuse/connections/"$conn" ] ||
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
	echo 1 >/sys/fs/fuse/connections/"$conn"/abort 2>/dev/null
	return 0
}

watchdog_loop() {
	local start what
	while [ ! -e "$T/stop-watchdog" ]; do
		if read -r start what 2>/dev/null <"$T/step" &&
			[ $(($(date +%s) - start)) -gt "$STEP_S" ]; then
			dump_and_abort "$what: no answer in ${STEP_S}s"
			return 0
		fi
		sleep 1 # the polling period, not a synchronisation
	done
}

# From the main shell: fire now, and fail.
watchdog() {
	log "WATCHDOG: $*"
	dump_and_abort "$*"
	fail "no progress: $*"
}

# bounded WHAT OUT CMD...: CMD with stdout and stderr in the file OUT,
# watched (see above); CMD's status is returned. (A time limit a bit
# longer than the watchdog's also ends a CMD that hangs by itself.)
bounded() {
	local what=$1 out=$2 rc=0
	shift 2
	echo "$(date +%s) $what" >"$T/step"
	timeout -k 10 $((STEP_S + 60)) "$@" >"$out" 2>&1 || rc=$?
	rm -f "$T/step"
	if [ -e "$T/watchdog-fired" ]; then
		log "WATCHDOG fired during: $what"
		fail "no progress: $what (the daemon's threads are above)"
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then watchdog "$what: no answer in $((STEP_S + 60))s"; fi
	return "$rc"
}

# ctl FILE TEXT: one control command; its outcome ("OK" or the errno name)
# in RES. A failure must leave last_error in the volume's .status.
ctl() {
	bounded "write '$2' to $1" "$T/ctl.out" "$FS_CTLWRITE" "$1" "$2" ||
		fail "fs_ctlwrite $1 '$2' failed: $(cat "$T/ctl.out")"
	RES=$(cat "$T/ctl.out")
	log "ctl ${1#"$MNT"/} '$2' -> $RES"
	if [ "$RES" != OK ]; then
		bounded "read .status" "$T/st.out" cat "$(dirname "$1")/.status" ||
			fail "read .status after a failed command"
		grep -q '^last_error: none$' "$T/st.out" &&
			fail "'$2' to $1 failed ($RES) but .status says last_error: none"
	fi
	return 0
}

# Value of KEY in control file FILE, in VAL.
field() {
	bounded "read $1" "$T/field.out" cat "$1" || fail "read $1: $(cat "$T/field.out")"
	VAL=$(sed -n "s/^$2: //p" "$T/field.out" | head -n 1)
	[ -n "$VAL" ] || fail "$1 has no '$2:' line"
}

ns_of() { date -d "$1" +%s%N; }

# Is TIME before the earliest restorable time of volume V? (after an ERANGE)
before_earliest() {
	field "$MNT/$2/.window" earliest
	[ "$VAL" = none ] && return 0
	[ "$(ns_of "$1")" -lt "$(ns_of "$VAL")" ]
}

# SHA: sha256 of volume V's block file, read with O_DIRECT (from the engine,
# not the kernel's cache).
vsha() {
	bounded "read $1" "$T/sha.out" bash -c \
		'set -o pipefail; dd if="$1" bs=1M iflag=direct status=none | sha256sum' _ \
		"$MNT/$1/volume" || fail "read of $1 failed: $(cat "$T/sha.out")"
	SHA=$(cut -c1-16 "$T/sha.out")
}

# Every 4 KiB chunk of volume V is a valid fio chunk for its offset.
fverify() {
	local size
	size=$(stat -c %s "$MNT/$1/volume")
	if ! bounded "fio verify of $1" "$T/fio/verify.out" fio --name=verify --filename="$MNT/$1/volume" \
		--rw=write --bs=1M --size="$size" --ioengine=psync --direct=1 \
		--verify=crc32c --verify_interval=4096 "${HDR_SEED[@]}" --verify_only \
		--verify_fatal=1 --verify_state_save=0; then
		cat "$T/fio/verify.out" >&2
		fail "fio verification of $1 failed"
	fi
	count "fio-verify ok"
}
# fio >= 3.38 also checks a chunk's seed; chunks of other rounds must pass.
HDR_SEED=()
fio --cmdhelp=verify_header_seed 2>&1 | grep -q "No such" || HDR_SEED=(--verify_header_seed=0)

# ------------------------------------------------------------ daemon, memory

start_daemon() {
	mkdir -p "$MNT"
	"$REWINDFS" -f -o retention=1 "$POOL" "$MNT" 2>>"$T/daemon.log" &
	DAEMON=$!
	echo "$DAEMON" >"$T/daemon.pid"
	mounted_or_gone() { is_mounted "$MNT" || not_running "$DAEMON"; }
	wait_for 30 mounted_or_gone && is_mounted "$MNT" ||
		{ cat "$T/daemon.log" >&2; fail "daemon did not mount"; }
}

not_running() { ! kill -0 "$1" 2>/dev/null; }

stop_daemon() {
	local st=0
	bounded "unmount" "$T/umount.out" fusermount3 -u "$MNT" ||
		fail "fusermount3 -u $MNT: $(cat "$T/umount.out")"
	wait_for "$STEP_S" not_running "$DAEMON" || watchdog "daemon still running after unmount"
	wait "$DAEMON" || st=$?
	[ "$st" = 0 ] || fail "daemon exited with status $st"
	DAEMON=
}

# One line per second while the write phase runs: seconds, VmRSS, VmHWM
# (kB), and the pool's db_bytes (from .status, "?" if it did not answer).
sampler() {
	local t0=$SECONDS db
	while [ ! -e "$T/stop-sampler" ] && kill -0 "$DAEMON" 2>/dev/null; do
		db=$(timeout 10 sed -n 's/^db_bytes: //p' "$MNT/.status" 2>/dev/null) || db=
		awk -v t=$((SECONDS - t0)) -v db="${db:-?}" '/^VmRSS/ { r = $2 }
			/^VmHWM/ { h = $2 } END { print t, r, h, db }' \
			"/proc/$DAEMON/status" >>"$T/mem.txt"
		sleep 1 # the sampling period, not a synchronisation
	done
}

# ------------------------------------------------------------ clone registry

# Every volume nobody writes (b and the clones) has points "TIME SHA" (the
# sha256 it showed at TIME) in PTS, the last being what it holds now; KIND is
# q (quiet-point clone), p (clone at a past time), s (clone of a snapshot),
# c (clone of a written volume while it was written), r (such a clone, reset).
declare -A PTS=() KIND=()
LIVE=()             # live clones, oldest first
N=0                 # name counter

add_point() { PTS[$1]="${PTS[$1]:-}$2 $3"$'\n'; }
last_sha() { tail -n 1 <<<"${PTS[$1]%$'\n'}" | cut -d' ' -f2; }

# new_clone NAME KIND [SHA]: registered with what it holds now: SHA when
# that is known (then it is read and compared later: before its deletion and
# after the remount), else read now.
new_clone() {
	KIND[$1]=$2
	LIVE+=("$1")
	if [ -n "${3:-}" ]; then SHA=$3; else vsha "$1"; fi
	add_point "$1" "$(now)" "$SHA"
}

# check_clone V WHEN: V holds its last point; a clone of a volume being
# written (c, r) is also a valid fio image (each chunk whole, at its place).
check_clone() {
	vsha "$1"
	[ "$SHA" = "$(last_sha "$1")" ] || fail "clone $1 ($2) does not hold what it held at its last point"
	count "check-recorded ok"
	case ${KIND[$1]} in c | r) fverify "$1" ;; esac
}

# ------------------------------------------------------------ writers

# writer I ROUND SECS: fio on w$I in the background for SECS seconds.
writer() {
	local i=$1 r=$2 secs=$3 mode
	case $i in
	0) mode=(--ioengine=libaio --iodepth=8 --direct=1 --fsync=16) ;;
	1) mode=(--ioengine=psync --direct=1 --fdatasync=8) ;;
	2) mode=(--ioengine=psync --direct=0 --fsync=8) ;;
	3) mode=(--ioengine=psync --direct=0 --sync=1) ;;
	esac
	(cd "$T/fio" && exec fio --name="w$i" --filename="$MNT/w$i/volume" \
		--rw=randwrite --bsrange=4k-64k --size="${SIZE_MB}M" "${mode[@]}" \
		--end_fsync=1 --time_based=1 --runtime="$secs" \
		--randseed=$((r * 10 + i)) --verify=crc32c --verify_interval=4096 \
		"${HDR_SEED[@]}" --do_verify=1 --verify_backlog=64 --verify_fatal=1 \
		--verify_state_save=0 --output-format=json \
		--output="$T/fio/w$i-r$r.json" 2>"$T/fio/w$i-r$r.err") &
	WPID[$i]=$!
}

# Round 0: every chunk of every written volume once, sequentially.
fill() {
	local i pids=()
	for i in $(seq 0 $((NW - 1))); do
		(cd "$T/fio" && exec fio --name="w$i" --filename="$MNT/w$i/volume" \
			--rw=write --bs=1M --size="${SIZE_MB}M" --ioengine=psync \
			--direct=1 --end_fsync=1 --verify=crc32c --verify_interval=4096 \
			--do_verify=1 --verify_fatal=1 --verify_state_save=0 \
			--output-format=json --output="$T/fio/w$i-r0.json" \
			2>"$T/fio/w$i-r0.err") &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait_bg "${pids[$i]}" "fio fill of w$i" ||
			fail "fio fill of w$i failed: $(cat "$T/fio/w$i-r0.err")"
	done
}

# wait_bg PID WHAT: the exit status of background job PID, which must end
# within STEP_S seconds (else the watchdog).
wait_bg() {
	wait_for "$STEP_S" not_running "$1" || watchdog "$2: still running after ${STEP_S}s"
	wait "$1"
}

writers_alive() {
	local p
	for p in "${WPID[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}

# ------------------------------------------------------------ quiet points

declare -A QSHA=()  # "round volume" -> sha256 of w<volume> after that round
QTIME=()            # round -> a time after its writers stopped

quiet_point() {
	local r=$1 i
	# fio verified as it wrote (verify_backlog); one volume a round is read
	# back in full by fio too, and every one is hashed.
	fverify "w$((r % NW))"
	for i in $(seq 0 $((NW - 1))); do
		vsha "w$i"
		QSHA["$r $i"]=$SHA
	done
	QTIME[$r]=$(now)
	for i in $(seq 0 $((NW - 1))); do
		ctl "$MNT/w$i/.snapshot" "q$r"
		[ "$RES" = OK ] || fail "snapshot q$r of w$i: $RES"
		count "snapshot ok"
	done
	# A clone now of one of them (each is read once more, later).
	i=$((r % NW))
	ctl "$MNT/w$i/.clone" "q${r}w$i"
	[ "$RES" = OK ] || fail "clone q${r}w$i of w$i at a quiet point: $RES"
	count "clone-quiet ok"
	new_clone "q${r}w$i" q "${QSHA["$r $i"]}"
	# Keep the last 3 quiet snapshots.
	if [ "$r" -ge 3 ]; then
		for i in $(seq 0 $((NW - 1))); do
			ctl "$MNT/w$i/.snapshot" "-q$((r - 3))"
			[ "$RES" = OK ] || fail "delete snapshot q$((r - 3)) of w$i: $RES"
			count "snapshot-delete ok"
		done
	fi
	log "quiet point $r at ${QTIME[$r]}"
}

# ------------------------------------------------------------ operations

RES=
op_clone_now() { # a clone of a volume being written: every chunk valid
	local i=$((RANDOM % NW)) name="c$((++N))"
	ctl "$MNT/w$i/.clone" "$name"
	[ "$RES" = OK ] || fail "clone $name of w$i (now): $RES"
	count "clone-now ok"
	new_clone "$name" c
}

op_clone_past() { # a clone at the last quiet point: exactly its content
	local i=$((RANDOM % NW)) name="p$((++N))" r=$((ROUND - 1))
	ctl "$MNT/w$i/.clone" "$name ${QTIME[$r]}"
	case $RES in
	OK)
		count "clone-past ok"
		new_clone "$name" p
		[ "$SHA" = "${QSHA["$r $i"]}" ] ||
			fail "clone $name of w$i at ${QTIME[$r]} is not what w$i held then"
		count "check-exact ok"
		;;
	ERANGE)
		before_earliest "${QTIME[$r]}" "w$i" ||
			fail "clone of w$i at ${QTIME[$r]}: ERANGE, but earliest is $VAL"
		count "clone-past ERANGE"
		;;
	*) fail "clone $name of w$i at ${QTIME[$r]}: $RES" ;;
	esac
}

op_clone_snap() { # a clone of a quiet snapshot (kept: the last 3)
	local i=$((RANDOM % NW)) name="s$((++N))" r
	r=$((ROUND - 1 - RANDOM % 3))
	[ "$r" -lt 0 ] && r=0
	ctl "$MNT/w$i/.clone" "$name @q$r"
	[ "$RES" = OK ] || fail "clone $name of w$i @q$r: $RES"
	count "clone-snapshot ok"
	new_clone "$name" s
	[ "$SHA" = "${QSHA["$r $i"]}" ] || fail "clone $name of w$i @q$r is not what w$i held then"
	count "check-exact ok"
}

op_busy() { # the written volumes are held open: backtrack and rmdir refuse
	local i=$((RANDOM % NW))
	ctl "$MNT/w$i/.backtrack" "-1s"
	[ "$RES" = EBUSY ] || fail "backtrack of w$i while open: $RES (want EBUSY)"
	count "backtrack-open EBUSY"
	if [ $((RANDOM % 2)) = 0 ]; then
		if bounded "rmdir w$i" "$T/rmdir.err" rmdir "$MNT/w$i"; then
			fail "rmdir of w$i succeeded while it is open"
		fi
		grep -q "busy" "$T/rmdir.err" || fail "rmdir of open w$i: $(cat "$T/rmdir.err") (want EBUSY)"
		[ -d "$MNT/w$i" ] || fail "w$i is gone after a refused rmdir"
		count "rmdir-open EBUSY"
	fi
}

op_write_b() { # b (nobody else writes it): some pages, synced
	local off=$((RANDOM % (B_MB * 256 - 16))) pages=$((1 + RANDOM % 16))
	bounded "write b" "$T/dd.out" dd if=/dev/urandom of="$MNT/b/volume" bs=4k \
		seek="$off" count="$pages" oflag=direct conv=notrunc,fsync status=none ||
		fail "write to b: $(cat "$T/dd.out")"
	vsha b
	add_point b "$(now)" "$SHA"
	count "write-b ok"
}

op_backtrack() { # b or a clone, to one of the times it showed
	local v line t want n
	if [ ${#LIVE[@]} -gt 0 ] && [ $((RANDOM % 2)) = 0 ]; then
		v=${LIVE[$((RANDOM % ${#LIVE[@]}))]}
	else
		v=b
	fi
	n=$(grep -c . <<<"${PTS[$v]}")
	line=$(sed -n "$((1 + RANDOM % n))p" <<<"${PTS[$v]}")
	t=${line% *}
	want=${line#* }
	ctl "$MNT/$v/.backtrack" "$t"
	case $RES in
	OK)
		vsha "$v"
		[ "$SHA" = "$want" ] || fail "backtrack of $v to $t: not what it showed then"
		add_point "$v" "$(now)" "$SHA"
		count "backtrack ok"
		count "check-exact ok"
		;;
	ERANGE)
		before_earliest "$t" "$v" || fail "backtrack of $v to $t: ERANGE, but earliest is $VAL"
		count "backtrack ERANGE"
		;;
	*) fail "backtrack of $v to $t: $RES" ;;
	esac
}

op_reset() { # a clone of a written volume starts again from its now
	local cands=() v
	for v in "${LIVE[@]}"; do
		case ${KIND[$v]} in c | r) cands+=("$v") ;; esac
	done
	[ ${#cands[@]} -gt 0 ] || return 0
	v=${cands[$((RANDOM % ${#cands[@]}))]}
	ctl "$MNT/$v/.backtrack" reset
	[ "$RES" = OK ] || fail "reset of clone $v: $RES"
	count "reset ok"
	KIND[$v]=r
	vsha "$v"
	add_point "$v" "$(now)" "$SHA"
}

op_snapshot() { # at the last quiet time, checked through a clone of it
	local i=$((RANDOM % NW)) name="x$((++N))" r=$((ROUND - 1))
	ctl "$MNT/w$i/.snapshot" "$name ${QTIME[$r]}"
	case $RES in
	OK)
		count "snapshot-past ok"
		ctl "$MNT/w$i/.snapshot" "$name"
		[ "$RES" = EEXIST ] || fail "snapshot $name of w$i again: $RES (want EEXIST)"
		count "snapshot-dup EEXIST"
		ctl "$MNT/w$i/.clone" "s$name @$name"
		[ "$RES" = OK ] || fail "clone of w$i @$name: $RES"
		count "clone-snapshot ok"
		vsha "s$name"
		[ "$SHA" = "${QSHA["$r $i"]}" ] || fail "clone of w$i @$name is not what w$i held at ${QTIME[$r]}"
		count "check-exact ok"
		bounded "rmdir s$name" "$T/rmdir.err" rmdir "$MNT/s$name" ||
			fail "rmdir s$name: $(cat "$T/rmdir.err")"
		count "delete ok"
		ctl "$MNT/w$i/.snapshot" "-$name"
		[ "$RES" = OK ] || fail "delete snapshot $name of w$i: $RES"
		count "snapshot-delete ok"
		;;
	ERANGE)
		before_earliest "${QTIME[$r]}" "w$i" ||
			fail "snapshot of w$i at ${QTIME[$r]}: ERANGE, but earliest is $VAL"
		count "snapshot-past ERANGE"
		;;
	*) fail "snapshot $name of w$i at ${QTIME[$r]}: $RES" ;;
	esac
	ctl "$MNT/w$i/.snapshot" "-nosuch$N"
	[ "$RES" = ENOENT ] || fail "delete of a missing snapshot: $RES (want ENOENT)"
	count "snapshot-missing ENOENT"
}

read -r -a WINDOWS <<<"${STRESS_WINDOWS:-2m 30s 0 10m 1h}"
op_window() { # written volumes and b: short windows make retention cut
	local v
	if [ $((RANDOM % 3)) = 0 ]; then v=b; else v=w$((RANDOM % NW)); fi
	local w=${WINDOWS[$((RANDOM % ${#WINDOWS[@]}))]}
	ctl "$MNT/$v/.window" "$w"
	[ "$RES" = OK ] || fail "window $w of $v: $RES"
	count "window ok"
	ctl "$MNT/$v/.window" "5x"
	[ "$RES" = EINVAL ] || fail "window 5x of $v: $RES (want EINVAL)"
	count "window-bad EINVAL"
}

op_delete() { # the oldest clones beyond KEEP, checked first
	local v
	while [ ${#LIVE[@]} -gt "$KEEP" ]; do
		v=${LIVE[0]}
		LIVE=("${LIVE[@]:1}")
		check_clone "$v" "before its deletion"
		bounded "rmdir $v" "$T/rmdir.err" rmdir "$MNT/$v" || fail "rmdir $v: $(cat "$T/rmdir.err")"
		[ ! -e "$MNT/$v" ] || fail "$v still there after rmdir"
		unset "PTS[$v]" "KIND[$v]"
		count "delete ok"
	done
}

op_status() { # every control file reads, with its first key
	local v=${LIVE[$((RANDOM % ${#LIVE[@]}))]:-w0} f
	for f in "$MNT/.status" "$MNT/$v/.status" "$MNT/$v/.backtrack" "$MNT/$v/.clone" \
		"$MNT/$v/.snapshot" "$MNT/$v/.window" "$MNT/w0/.status"; do
		bounded "read $f" "$T/read.out" cat "$f" || fail "read $f: $(cat "$T/read.out")"
		grep -q ': ' "$T/read.out" || fail "$f reads as: $(cat "$T/read.out")"
	done
	count "status ok"
}

OPLIST=(clone_now busy write_b backtrack clone_past window snapshot status
	clone_snap reset delete backtrack write_b)

# ------------------------------------------------------------ the run

# The exit trap: on failure the logs and the watchdog's dump on stderr (a
# daemon the watchdog gave up on is killed: its dump is taken), then the
# cleanup of tests/tools/lib.sh.
stress_exit() {
	local rc=$?
	set +e
	touch "$T/stop-sampler" "$T/stop-watchdog"
	if [ "$rc" != 0 ]; then
		echo "--- stress log (last 60 lines):" >&2
		tail -n 60 "$T/stress.log" >&2
		echo "--- daemon log (last 30 lines):" >&2
		tail -n 30 "$T/daemon.log" >&2
		if [ -e "$T/watchdog.txt" ]; then
			cat "$T/watchdog.txt" >&2
			[ -n "${DAEMON:-}" ] && kill -KILL "$DAEMON" 2>/dev/null
		fi
	fi
	if [ -n "${STRESS_LOG_DIR:-}" ]; then
		mkdir -p "$STRESS_LOG_DIR"
		cp -r "$T/stress.log" "$T/daemon.log" "$T/mem.txt" "$T/fio" \
			"$STRESS_LOG_DIR"/ 2>/dev/null
		[ -e "$T/watchdog.txt" ] && cp "$T/watchdog.txt" "$STRESS_LOG_DIR"/
	fi
	(exit "$rc")
	cleanup
}
trap stress_exit EXIT
watchdog_loop &

"$R" init "$POOL" >/dev/null || fail "rewindctl init"
start_daemon
mkdir "$MNT/b"
truncate -s "${B_MB}M" "$MNT/b/volume"
for i in $(seq 0 $((NW - 1))); do
	mkdir "$MNT/w$i"
	truncate -s "${SIZE_MB}M" "$MNT/w$i/volume"
	ctl "$MNT/w$i/.window" "${WINDOWS[0]}"
	[ "$RES" = OK ] || fail "window ${WINDOWS[0]} of w$i: $RES"
done
ctl "$MNT/b/.window" "${WINDOWS[0]}"
[ "$RES" = OK ] || fail "window ${WINDOWS[0]} of b: $RES"
fill
ROUND=0
quiet_point 0
op_write_b
field "$MNT/.status" last_retention
RET0=$VAL


sampler &
SAMPLER=$!
# The written volumes are held open for the whole write phase (backtrack
# and rmdir must refuse) by a process of their own: fds of the test shell
# would be inherited, and closed (a FUSE flush) by every command it runs.
# It ends by itself when a line reaches its FIFO: killed, its closes (FUSE
# flushes) would run with a fatal signal pending, so the kernel would follow
# each with an INTERRUPT that arrives after the flush was answered, and
# libfuse (3.14) keeps such interrupts until a later request and frees none
# left at exit: LeakSanitizer then reported a 128-byte request of libfuse's
# own once in CI.
open_count() { field "$MNT/$1/.status" open; [ "$VAL" -ge "$2" ]; }
mkfifo "$T/holder-release"
(
	for i in $(seq 0 $((NW - 1))); do exec {fd}<"$MNT/w$i/volume"; done
	read -r _ <"$T/holder-release"
) &
HOLDER=$!
for i in $(seq 0 $((NW - 1))); do
	wait_for 30 open_count "w$i" 1 || fail "the holder did not open w$i"
done

retention_moved() {
	field "$MNT/.status" last_retention
	[ "$VAL" != "$RET0" ]
}

T0=$SECONDS
J=0
CONCURRENT=0
round_s=$ROUND_S
RETN=0
# At least 2 rounds (so a clone of the wrong quiet point would differ), then
# while another round fits in the time.
while [ "$ROUND" -lt 2 ] || [ $((SECONDS - T0 + round_s)) -le "$WRITE_S" ]; do
	ROUND=$((ROUND + 1))
	declare -a WPID=()
	for i in $(seq 0 $((NW - 1))); do writer "$i" "$ROUND" "$round_s"; done
	start=$SECONDS
	deadline=$((SECONDS + round_s + STEP_S))
	# Every operation once, then round robin while the writers write.
	k=0
	while [ "$k" -lt ${#OPLIST[@]} ] || writers_alive; do
		[ "$SECONDS" -lt "$deadline" ] || watchdog "fio writers still running $STEP_S s after their runtime"
		if writers_alive; then CONCURRENT=$((CONCURRENT + 1)); fi
		"op_${OPLIST[$((k % ${#OPLIST[@]}))]}"
		k=$((k + 1))
		J=$((J + 1))
		# The next round writes at least as long as this list took.
		# (at most STRESS_ROUND_MAX_S, so that what the snapshots of the
		# last rounds pin stays bounded in time).
		if [ "$k" = ${#OPLIST[@]} ] && [ $((SECONDS - start + 1)) -gt "$round_s" ]; then
			round_s=$((SECONDS - start + 1))
			[ "$round_s" -le "$ROUND_MAX_S" ] || round_s=$ROUND_MAX_S
		fi
	done
	for i in $(seq 0 $((NW - 1))); do
		wait "${WPID[$i]}" || {
			cat "$T/fio/w$i-r$ROUND.err" >&2
			fail "fio on w$i, round $ROUND: verification or I/O error"
		}
	done
	quiet_point "$ROUND"
	# A retention pass has run since the last round. Passes are due every
	# second, but the pause after one is at least 20 times its length
	# (RETENTION_DUTY, volume/retention.c): a pass that took 2 s under
	# ASan, with the writers and this loop on the same 2 cores, puts the
	# next one 40 s later (a 30 s wait ran out in round 3 of an ASan run,
	# session 12; a later run paused 3-8 s between passes: 0.15-0.4 s each).
	field "$MNT/.status" last_retention
	if [ "$VAL" = "$RET0" ]; then
		# If none comes, the dump shows the retention thread at work or stuck.
		wait_for 120 retention_moved || watchdog "no retention pass during round $ROUND"
	fi
	RET0=$VAL
	RETN=$((RETN + 1))
done
WRITE_END=$((SECONDS - T0))
touch "$T/stop-sampler"
wait "$SAMPLER"
# Opened read-write: never blocks, even with no reader left.
exec {rel}<>"$T/holder-release"
echo release >&"$rel"
exec {rel}>&-
wait "$HOLDER" || fail "the holder of the volumes failed"
log "write phase done: $ROUND rounds, $J operations ($CONCURRENT while fio wrote), ${WRITE_END}s"

# ------------------------------------------------------------ figures

# Bytes written and verified by fio (every round, every volume).
read -r FIO_W FIO_R < <(python3 - "$T"/fio/w*-r*.json <<'EOF'
import json, sys
w = r = 0
for f in sys.argv[1:]:
    for job in json.load(open(f))["jobs"]:
        if job["error"]:
            sys.exit("fio job error in %s" % f)
        w += job["write"]["io_bytes"]
        r += job["read"]["io_bytes"]
print(w, r)
EOF
) || fail "cannot read the fio results"

# Bounded memory. The daemon's memory is meant to be bounded by its caches,
# not by what was written or how long it ran: RocksDB's block and blob cache
# (64 MiB, kv_rocks.c), its memtables (pages 64 MiB; log, meta, default
# 8 MiB; each up to twice while one flushes) and the engine's per-request
# buffers. So the peak VmRSS of the second half of the write phase may
# exceed the first half's peak only by what a first half may not have
# filled yet:
#  - short runs (the CI form, under 10 minutes of writing): the block/blob
#    cache and one pages memtable, 128 MiB (measured on a 40 s run: 130 MB
#    then 188 MB; on a 66 s run: 195 MB then 194 MB);
#  - long runs: the first half wrote many times what the caches hold, so
#    they are full; 32 MiB for allocator fragmentation and a sample that
#    caught a memtable switch.
# Under ASan the allocator also keeps up to 256 MiB of freed memory in
# quarantine, filled as the run goes, and redzones roughly double live
# memory: twice the margin plus 256 MiB. (There, leaks are caught exactly
# by LeakSanitizer when the daemon exits: stop_daemon wants status 0.)
check_memory() {
	local margin=$((128 * 1024)) n h1 h2 hwm1 hwm2
	[ "$WRITE_END" -lt 600 ] || margin=$((32 * 1024))
	[ "$ASAN" = 1 ] && margin=$((2 * margin + 256 * 1024))
	read -r n h1 h2 hwm1 hwm2 < <(awk -v mid=$((WRITE_END / 2)) '
		{ n++; if ($1 < mid) { if ($2 > a) a = $2; h1 = $3 } else { if ($2 > b) b = $2; h2 = $3 } }
		END { print n, a, b, h1, h2 }' "$T/mem.txt")
	log "memory: $n samples, peak VmRSS first half ${h1} kB, second half ${h2} kB;" \
		"VmHWM at mid ${hwm1} kB, at end ${hwm2} kB; margin ${margin} kB"
	[ "$n" -ge 4 ] || fail "only $n memory samples"
	# The verdict comes after the other checks, so a failing run still
	# reports them all.
	MEM_FAIL=
	[ "$h2" -le $((h1 + margin)) ] ||
		MEM_FAIL="daemon memory grew: peak VmRSS ${h1} kB in the first half, ${h2} kB in the second (margin ${margin} kB)"
}
check_memory

# ------------------------------------------------------------ after the run

stop_daemon
bounded "rewindctl check" "$T/check.out" "$R" check "$POOL" || {
	cat "$T/check.out" >&2
	fail "rewindctl check found problems after the run"
}
log "check: $(tail -n 1 "$T/check.out")"
start_daemon
# Every clone, b and the written volumes hold what they held before.
for v in "${LIVE[@]}"; do check_clone "$v" "after the remount"; done
vsha b
[ "$SHA" = "$(last_sha b)" ] || fail "b does not read back as recorded after the remount"
for i in $(seq 0 $((NW - 1))); do
	vsha "w$i"
	[ "$SHA" = "${QSHA["$ROUND $i"]}" ] || fail "w$i after the remount is not what it held at the last quiet point"
	fverify "w$i"
done
i=$((RANDOM % NW))
ctl "$MNT/w$i/.clone" "final @q$ROUND"
[ "$RES" = OK ] || fail "clone of w$i @q$ROUND after remount: $RES"
vsha final
[ "$SHA" = "${QSHA["$ROUND $i"]}" ] || fail "clone of w$i @q$ROUND after remount differs"
count "check-exact ok"
stop_daemon

# ------------------------------------------------------------ report
{
	echo "many_writers: seed $SEED; $ROUND rounds (${ROUND_S}s at first, ${round_s}s at last); $NW volumes x ${SIZE_MB} MiB"
	echo "fio: $FIO_W bytes written, $FIO_R bytes verified while writing; write phase ${WRITE_END}s"
	echo "operations in the loop: $J, $CONCURRENT of them started while fio wrote;" \
		"retention passes seen advancing in $RETN of $ROUND rounds"
	for k in "${!OPS[@]}"; do echo "  $k: ${OPS[$k]}"; done | sort
	grep "memory:" "$T/stress.log" | cut -d' ' -f2-
	echo "rewindctl check: $(tail -n 1 "$T/check.out")"
	[ -z "$MEM_FAIL" ] || echo "MEMORY: $MEM_FAIL"
	echo "samples (s: VmRSS kB, db_bytes MB):" \
		"$(awk -v k=$((1 + WRITE_END / 60)) '(NR - 1) % (5 * k) == 0 {
			printf "%s: %s %s, ", $1, $2, $4 == "?" ? "?" : int($4 / 1e6) }' "$T/mem.txt")"
} | tee -a "$T/stress.log"
[ -z "$MEM_FAIL" ] || fail "$MEM_FAIL"
exit 0
