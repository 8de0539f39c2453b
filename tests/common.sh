# tests/common.sh - sourced first by tests/tools/lib.sh and tests/db/lib.sh:
# what the shell tests of both suites do the same way. Strict mode, $R (the
# rewindctl under test, from meson), and helpers that do not depend on the
# suite's temp folder layout beyond $T. Nothing sleeps to synchronise:
# helpers poll for a condition in bounded loops.
set -euo pipefail

: "${REWINDCTL:?REWINDCTL must name the rewindctl binary}"
R=$REWINDCTL
export REWINDFS="${REWINDFS:-}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A test that mounts may skip only on a machine without /dev/fuse, and
# never in CI (each lib.sh's need_fuse starts with this).
need_dev_fuse() {
	if [ ! -e /dev/fuse ]; then
		[ "${CI:-}" = true ] && fail "no /dev/fuse (in CI a skip is a failure)"
		echo "SKIP: no /dev/fuse"
		exit 77
	fi
}

. "$(dirname "${BASH_SOURCE[0]}")/rm_test_dir.sh"

# RFC 3339 UTC with nanoseconds: what the control files accept.
now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }

# Poll CMD... until it succeeds, at most SECONDS seconds.
wait_for() {
	local secs=$1 i
	shift
	for i in $(seq 1 $((secs * 20))); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

is_mounted() { awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo; }

# "mountpoint fstype" of every mount under $T, deepest first.
mounts_under() {
	awk -v t="$T/" 'index($5, t) == 1 {
		for (i = 7; i < NF; i++) if ($i == "-") { print $5 " " $(i + 1); break }
	}' /proc/self/mountinfo | sort -r
}

# Loop devices whose backing file is under $T.
loops_under() {
	local f dev
	for f in /sys/block/loop*/loop/backing_file; do
		[ -r "$f" ] || continue
		case "$(cat "$f" 2>/dev/null)" in
		"$T"/*)
			dev=${f#/sys/block/}
			echo "/dev/${dev%%/*}"
			;;
		esac
	done
}

no_loops_under() { [ -z "$(loops_under)" ]; }

# For the cleanups: detach every loop device backed by a file under $T and
# wait (bounded) until they are gone.
detach_loops_under() {
	local f
	for f in $(loops_under); do losetup -d "$f"; done
	wait_for 10 no_loops_under
}

# The pids of processes whose command line mentions $T (with PIDS_BY_CWD
# set, also those whose working directory is under $T), except this shell;
# with "servers", not the rewindfs, fuse2fs and rewindctl processes.
pids_of_test() {
	local p pid comm
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		[ "$pid" = "${BASHPID:-$$}" ] && continue
		if [[ "$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" == *"$T"* ]] ||
			{ [ -n "${PIDS_BY_CWD:-}" ] &&
				[[ "$(readlink "$p/cwd" 2>/dev/null)" == "$T"/* ]]; }; then
			if [ "${1:-}" = servers ]; then
				comm=$(cat "$p/comm" 2>/dev/null) || continue
				case "$comm" in rewindfs | fuse2fs | rewindctl) continue ;; esac
			fi
			echo "$pid"
		fi
	done
}

# Does one of the daemon's log FILEs hold a sanitizer report? Each report
# found is shown on stderr.
sanitizer_report() {
	local f pat='AddressSanitizer|LeakSanitizer|runtime error:' found=1
	for f in "$@"; do
		grep -qE "$pat" "$f" 2>/dev/null || continue
		echo "FAIL: sanitizer report in the daemon's log $f:" >&2
		grep -A 30 -E "$pat" "$f" >&2
		found=0
	done
	return $found
}

# For the cleanup, after the unmounts: the daemons (pids_of_test) get a
# bounded time to exit, then SIGTERM, then SIGKILL.
kill_test_daemons() {
	local i pids
	for i in $(seq 1 100); do
		[ -z "$(pids_of_test)" ] && break
		[ "$i" = 50 ] && kill $(pids_of_test) 2>/dev/null
		sleep 0.1
	done
	pids=$(pids_of_test)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
}

# A pool at $POOL mounted at $MNT through `rewindctl mount`.
start_pool_ctl() {
	"$R" init "$POOL" >/dev/null || fail "rewindctl init"
	"$R" mount "$POOL" "$MNT" >/dev/null || fail "rewindctl mount"
	is_mounted "$MNT" || fail "$MNT is not mounted after rewindctl mount"
}

# Volume NAME of SIZE on the pool at $MNT, formatted ext4 and attached at
# DIR. Fails with "create", or with WHAT ("attach" if not given).
ext4_volume() {
	"$R" create "$MNT" "$1" "$2" >/dev/null || fail "create"
	"$R" attach "$MNT/$1" "$3" --mkfs ext4 >/dev/null || fail "${4:-attach}"
}
