# tests/tools/lib.sh - sourced by every test of tests/tools/.
#
# Contract: the test gets $REWINDCTL (and optionally $REWINDFS) from meson,
# a private temp folder $T (mktemp -d, so tests run in parallel), and a trap
# that on any exit unmounts everything under $T, detaches the loop devices
# backed by files under $T, kills the daemons (rewindfs, fuse2fs) started for
# $T by their pids, and removes $T. Helpers poll for conditions with bounded
# loops; nothing sleeps to synchronise.
set -euo pipefail

: "${REWINDCTL:?REWINDCTL must name the rewindctl binary}"
R=$REWINDCTL
export REWINDFS="${REWINDFS:-}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A test that mounts may skip only on a machine without /dev/fuse, and
# never in CI.
need_fuse() {
	if [ ! -e /dev/fuse ]; then
		[ "${CI:-}" = true ] && fail "no /dev/fuse (in CI a skip is a failure)"
		echo "SKIP: no /dev/fuse"
		exit 77
	fi
}

T=$(mktemp -d /tmp/rewindfs-tools.XXXXXX)
POOL=$T/pool
MNT=$T/mnt

# In a sanitizer build a report fails the test: rewindctl's show on its
# stderr (and abort it); the daemon's go to $T/daemon.log, because
# start_pool runs it in the foreground (once detached, its stderr is gone).

# The pids of processes whose command line mentions $T (daemons, fuse2fs,
# background writers), except this shell.
pids_of_test() {
	local p pid
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		[ "$pid" = "${BASHPID:-$$}" ] && continue
		if [[ "$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" == *"$T"* ]]; then
			echo "$pid"
		fi
	done
}

# "mountpoint fstype" of every mount under $T, deepest first.
mounts_under() {
	awk -v t="$T/" 'index($5, t) == 1 {
		for (i = 7; i < NF; i++) if ($i == "-") { print $5 " " $(i + 1); break }
	}' /proc/self/mountinfo | sort -r
}

# The filesystem type mounted at DIR ("" if none).
fstype() {
	awk -v d="$1" '$5 == d { for (i = 7; i < NF; i++) if ($i == "-") t = $(i + 1) }
		END { print t }' /proc/self/mountinfo
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

cleanup() {
	local rc=$? dir type f dev pid i
	set +e
	trap - EXIT
	# Background jobs of the test (holders, writers), but not the daemon
	# yet: killed now it would drop its mount under the loop devices, whose
	# backing files would then no longer be found under $T.
	for pid in $(jobs -p); do
		[ "$pid" = "${DAEMON:-}" ] || kill "$pid" 2>/dev/null
	done
	# Filesystems attached on volumes first (through rewindctl detach, the
	# path under test; by hand if that fails), then the loop devices, then
	# the pool mount once nothing holds its files.
	mounts_under | while read -r dir type; do
		[ "$type" = fuse.rewindfs ] || [ "$dir" = "$MNT" ] && continue
		"$R" detach "$dir" >/dev/null 2>&1 || umount "$dir" 2>/dev/null ||
			umount -l "$dir"
	done
	for f in $(loops_under); do losetup -d "$f"; done
	wait_for 10 no_loops_under
	mounts_under | while read -r dir type; do
		wait_for 10 fusermount3 -u "$dir" 2>/dev/null || umount -l "$dir"
	done
	# Daemons get a bounded time to exit after their unmount, then SIGKILL.
	for i in $(seq 1 100); do
		[ -z "$(pids_of_test)" ] && break
		[ "$i" = 50 ] && kill $(pids_of_test) 2>/dev/null
		sleep 0.1
	done
	pids=$(pids_of_test)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/daemon.log" 2>/dev/null; then
		echo "FAIL: sanitizer report in the daemon's log:" >&2
		cat "$T/daemon.log" >&2
		rc=1
	fi
	rm -rf "$T"
	if [ "$rc" = 0 ]; then echo "PASS"; fi
	exit "$rc"
}
trap cleanup EXIT

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

# Does TEXT have a line matching the grep pattern PATTERN? (A here-string,
# not a pipe: with pipefail, `cmd | grep -q` fails when grep exits early.)
matches() { grep -q -e "$2" <<<"$1"; }

# RFC 3339 UTC with nanoseconds: what the control files accept.
now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }

# Checksums of every file under a folder, by relative path.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

# A pool at $POOL served at $MNT by a daemon in the foreground (its stderr in
# $T/daemon.log, checked for sanitizer reports by the cleanup).
start_pool() {
	: "${REWINDFS:?REWINDFS must name the rewindfs binary}"
	"$R" init "$POOL" >/dev/null || fail "rewindctl init"
	mkdir -p "$MNT"
	"$REWINDFS" -f "$POOL" "$MNT" 2>"$T/daemon.log" &
	DAEMON=$!
	wait_for 20 is_mounted "$MNT" || { cat "$T/daemon.log" >&2; fail "daemon did not mount"; }
}

# The same through `rewindctl mount` (the daemon detaches; its sanitizer
# reports cannot be seen, but any that halts it fails the test).
start_pool_ctl() {
	"$R" init "$POOL" >/dev/null || fail "rewindctl init"
	"$R" mount "$POOL" "$MNT" >/dev/null || fail "rewindctl mount"
	is_mounted "$MNT" || fail "$MNT is not mounted after rewindctl mount"
}

# N files of random content (sizes 1 KiB .. 300 KiB) in folder DIR.
make_files() {
	local dir=$1 n=$2 i
	mkdir -p "$dir"
	for i in $(seq 1 "$n"); do
		head -c $((1024 * (i * 37 % 300 + 1))) /dev/urandom >"$dir/file$i"
	done
}

# Run rewindctl expecting failure with status 1; stderr is left in $T/err.
expect_fail() {
	local rc=0
	"$R" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || { cat "$T/err" >&2; fail "rewindctl $* exited $rc, expected 1"; }
}
