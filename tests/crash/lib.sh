# tests/crash/lib.sh - sourced by the crash tests (issue 6 item 1).
#
# Contract: the test gets $REWINDCTL and $REWINDFS (from meson, or from
# tools/crash-loop), a private temp folder $T (mktemp -d, mode 0755 so a
# PostgreSQL server running as postgres can reach its data directory under
# it), and a trap that on any exit:
#   1. on failure, aborts every FUSE connection of a pool mounted under $T
#      (/sys/fs/fuse/connections/N/abort), so that nothing stays blocked on
#      a daemon that hangs;
#   2. kills the test's background jobs and every process whose command
#      line or working directory is under $T, except the rewindfs daemon;
#   3. unmounts the filesystems attached under $T, detaches their loop
#      devices, unmounts the pool, gives the daemon a bounded time to exit
#      (then SIGKILL);
#   4. fails the test if the daemon's log ($T/daemon.log, every round's
#      daemon appends to it) holds a sanitizer report; removes $T (on
#      failure with CRASH_KEEP=1 it keeps it, to look at the pool).
# Nothing sleeps to synchronise: helpers poll in bounded loops (wait_for).
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

: "${REWINDFS:?REWINDFS must name the rewindfs binary}"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

need_fuse() {
	need_dev_fuse
	[ "$(id -u)" = 0 ] || fail "the crash tests run as root (loop devices)"
}

T=$(mktemp -d /tmp/rewindfs-crash.XXXXXX)
chmod 755 "$T"
POOL=$T/pool
# Servers started for the test are found by their working directory too.
PIDS_BY_CWD=1
MNT=$T/mnt
DAEMON=

# Abort the FUSE connection of every rewindfs mount under $T: the kernel
# fails every request in flight and to come, so blocked processes return.
abort_fuse_under() {
	local id
	for id in $(awk -v t="$T/" 'index($5, t) == 1 && / - fuse\.rewindfs / {
			split($3, d, ":"); print d[2] }' /proc/self/mountinfo); do
		[ -w "/sys/fs/fuse/connections/$id/abort" ] &&
			echo 1 >"/sys/fs/fuse/connections/$id/abort"
	done
	return 0
}

cleanup() {
	local rc=$? dir type f pid
	set +e
	trap - EXIT
	[ "$rc" != 0 ] && abort_fuse_under
	for pid in $(jobs -p); do
		[ "$pid" = "$DAEMON_JOB" ] || kill -9 "$pid" 2>/dev/null
	done
	pids=$(pids_of_test servers)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	mounts_under | while read -r dir type; do
		[ "$type" = fuse.rewindfs ] && continue
		umount "$dir" 2>/dev/null || umount -l "$dir"
	done
	detach_loops_under
	mounts_under | while read -r dir type; do
		wait_for 10 fusermount3 -u "$dir" 2>/dev/null || umount -l "$dir"
	done
	kill_test_daemons
	sanitizer_report "$T/daemon.log" && rc=1
	if [ "$rc" != 0 ]; then
		# The daemon's log and the newest of the others.
		for f in "$T/daemon.log" $(ls -t "$T"/log/* 2>/dev/null | head -n 6); do
			[ -f "$f" ] || continue
			echo "---- last lines of ${f#"$T"/}" >&2
			tail -n 25 "$f" >&2
		done
	fi
	if [ "$rc" != 0 ] && [ "${CRASH_KEEP:-}" = 1 ]; then
		echo "CRASH_KEEP=1: kept $T (the pool, logs; nothing mounted)" >&2
	else
		rm_test_dir "$T"
	fi
	if [ "$rc" = 0 ]; then echo "PASS"; fi
	exit "$rc"
}
trap cleanup EXIT
# meson's timeout sends SIGTERM: leave through the EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

mkdir -m 1777 "$T/log"
# The test's stdout, for notes from inside redirected or captured commands.
exec 9>&1

# Progress with timing: "  N.N s  WHAT" on stdout (meson keeps the log).
STEP_START=$(date +%s.%N)
step() {
	awk -v a="$STEP_START" -v b="$(date +%s.%N)" -v m="$*" \
		'BEGIN { printf "%7.1f s  %s\n", b - a, m }'
}

# Start the daemon on $POOL at $MNT in the foreground, stderr appended to
# $T/daemon.log. It runs in a subshell job (DAEMON_JOB) that waits for it
# and exits with its status (the second command keeps bash from exec'ing
# the daemon in place of the subshell); the subshell's own stderr, where it
# would report "Killed", goes nowhere. DAEMON is the daemon's own pid
# (daemon_pid in .status), the one to kill.
DAEMON_JOB=
daemon_start() {
	mkdir -p "$MNT"
	("$REWINDFS" -f "$POOL" "$MNT" 2>>"$T/daemon.log"; exit $?) 2>/dev/null &
	DAEMON_JOB=$!
	wait_for 30 is_mounted "$MNT" || fail "the daemon did not mount $MNT"
	DAEMON=$(sed -n 's/^daemon_pid: //p' "$MNT/.status")
	[ -n "$DAEMON" ] && kill -0 "$DAEMON" || fail "no daemon_pid in $MNT/.status"
}

# kill -9 the daemon (if no one did yet) and reap its job.
daemon_kill() {
	kill -9 "$DAEMON" 2>/dev/null || true
	wait "$DAEMON_JOB" 2>/dev/null || true
	DAEMON= DAEMON_JOB=
}

# A clean stop: unmount, the daemon must exit 0 within 60 s (under ASan
# that exit is where leaks are reported).
daemon_stop() {
	local st=0
	fusermount3 -u "$MNT" || fail "fusermount3 -u $MNT"
	wait_for 60 eval "! kill -0 $DAEMON 2>/dev/null" || fail "the daemon did not exit"
	wait "$DAEMON_JOB" || st=$?
	DAEMON= DAEMON_JOB=
	[ "$st" = 0 ] || fail "the daemon exited with status $st"
}

# Clear what a killed daemon leaves: DIR (ext4 on a loop device on the dead
# FUSE file) through `rewindctl detach`, by hand (umount, losetup -d) if
# that fails; then the dead pool mount. Fails if anything stays.
clear_dead() {
	local dir=$1 f
	if is_mounted "$dir"; then
		bounded 600 "detach of the dead attachment" \
			"$R" detach "$dir" >/dev/null 2>"$T/log/detach.err" ||
			{ cat "$T/log/detach.err" >&2; umount "$dir"; } ||
			fail "cannot unmount $dir after the kill"
	fi
	for f in $(loops_under); do losetup -d "$f"; done
	wait_for 10 no_loops_under || fail "loop devices left after the kill: $(loops_under)"
	fusermount3 -u "$MNT" || umount "$MNT" || fail "cannot unmount the dead pool mount"
	! is_mounted "$MNT" || fail "$MNT still mounted"
}

# bounded SECS WHAT CMD...: run CMD, at most SECS seconds. A command still
# running then is a hang (a finding): the kernel stacks of it and of its
# children, the daemon's threads (state, wait channel, and their backtraces
# through gdb when it is installed) and the machine's I/O pressure go to
# stderr, then the test fails naming WHAT. A command that took 20 s or more
# is reported as slow (the figures of a loaded machine).
bounded() {
	local secs=$1 what=$2 pid rc=0 t0=$SECONDS
	shift 2
	"$@" &
	pid=$!
	if ! wait_for "$secs" eval "! kill -0 $pid 2>/dev/null"; then
		diagnose "$what" "$pid"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		fail "$what: still running after $secs s (seed ${SEED:-})"
	fi
	wait "$pid" || rc=$?
	[ $((SECONDS - t0)) -lt 20 ] || step "slow: $what took $((SECONDS - t0)) s" >&9
	return "$rc"
}

diagnose() {
	local p task
	{
		echo "==== $1 hangs; load: $(cat /proc/loadavg)"
		cat /proc/pressure/io 2>/dev/null
		for p in "$2" $(pgrep -P "$2") ${DAEMON:-}; do
			[ -d "/proc/$p" ] || continue
			echo "---- $p $(cat "/proc/$p/comm") state $(awk '{ print $3 }' "/proc/$p/stat")"
			cat "/proc/$p/stack" 2>/dev/null
		done
		if [ -n "${DAEMON:-}" ] && [ -d "/proc/$DAEMON" ]; then
			echo "---- daemon threads: tid comm state wchan"
			for task in /proc/"$DAEMON"/task/*; do
				echo "${task##*/} $(cat "$task/comm") $(awk '{ print $3 }' "$task/stat")" \
					"$(cat "$task/wchan" 2>/dev/null)"
			done
			command -v gdb >/dev/null &&
				timeout 120 gdb -p "$DAEMON" -batch -ex "thread apply all bt" 2>/dev/null |
				grep -E '^(Thread|#)' | head -n 400
		fi
		echo "---- processes in D state"
		ps -eo pid,stat,wchan:32,args | awk '$2 ~ /D/' | cut -c1-160
	} >&2
	return 0
}

# `rewindctl check POOL` on the unmounted pool: every page checksum and the
# metadata invariants; it prints each problem and exits 0 when clean. Its
# summary line ("N volumes, M problems") is left in CHECK_SUMMARY.
CHECK_RUNS=0
pool_check() {
	bounded 600 "rewindctl check" "$R" check "$POOL" >"$T/log/check.out" 2>&1 ||
		{ cat "$T/log/check.out" >&2; fail "rewindctl check $POOL ($*)"; }
	CHECK_SUMMARY=$(tail -n 1 "$T/log/check.out")
	CHECK_RUNS=$((CHECK_RUNS + 1))
}
