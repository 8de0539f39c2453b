# tests/tools/lib.sh - sourced by every test of tests/tools/.
#
# Contract: the test gets $REWINDCTL (and optionally $REWINDFS) from meson,
# a private temp folder $T (mktemp -d, so tests run in parallel), and a trap
# that on any exit unmounts everything under $T, detaches the loop devices
# backed by files under $T, kills the daemons (rewindfs, fuse2fs) started for
# $T by their pids, and removes $T. Helpers poll for conditions with bounded
# loops; nothing sleeps to synchronise. The helpers shared with tests/db
# (fail, wait_for, is_mounted, now, mounts_under, loops_under,
# start_pool_ctl, ...) are in tests/common.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

need_fuse() { need_dev_fuse; }

T=$(mktemp -d /tmp/rewindfs-tools.XXXXXX)
POOL=$T/pool
MNT=$T/mnt

# In a sanitizer build a report fails the test: rewindctl's show on its
# stderr (and abort it); the daemon's go to $T/daemon.log (start_pool runs
# it in the foreground) or, detached by `rewindctl mount`, to
# $POOL/rewindfs.log.

# The filesystem type mounted at DIR ("" if none).
fstype() {
	awk -v d="$1" '$5 == d { for (i = 7; i < NF; i++) if ($i == "-") t = $(i + 1) }
		END { print t }' /proc/self/mountinfo
}

cleanup() {
	local rc=$? dir type f pid
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
	detach_loops_under
	mounts_under | while read -r dir type; do
		wait_for 10 fusermount3 -u "$dir" 2>/dev/null || umount -l "$dir"
	done
	# Daemons get a bounded time to exit after their unmount, then SIGKILL.
	kill_test_daemons
	sanitizer_report "$T/daemon.log" "$POOL/rewindfs.log" && rc=1
	rm_test_dir "$T"
	if [ "$rc" = 0 ]; then echo "PASS"; fi
	exit "$rc"
}
trap cleanup EXIT
# A signal is a failure: the EXIT trap must not see a status of 0.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Does TEXT have a line matching the grep pattern PATTERN? (A here-string,
# not a pipe: with pipefail, `cmd | grep -q` fails when grep exits early.)
matches() { grep -q -e "$2" <<<"$1"; }

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

# start_pool_ctl (common.sh) does the same through `rewindctl mount` (the
# daemon detaches; its sanitizer reports cannot be seen, but any that halts
# it fails the test).

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
