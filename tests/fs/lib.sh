# lib.sh - shared by the tests/fs mount tests (sourced, POSIX sh).
#
# Every test gets its own temp dir (mktemp -d) holding the pool, the mount
# point and the daemon's log; an EXIT trap unmounts (fusermount3 -u, then
# umount -l), kills the daemon, detaches loop devices over our files and
# removes the dir, whatever happened. A sanitizer report in the daemon's log
# fails the test. Needs: REWINDFS, FS_MKPOOL, FS_CTLWRITE (set by meson).

set -u

. "$(dirname "$0")/../rm_test_dir.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

if [ ! -e /dev/fuse ]; then
	[ "${CI:-}" = "true" ] && fail "/dev/fuse is missing in CI"
	echo "SKIP: /dev/fuse is missing"; exit 77
fi
for v in REWINDFS FS_MKPOOL FS_CTLWRITE; do
	eval "[ -n \"\${$v:-}\" ]" || fail "$v is not set (run through meson test)"
done

T=$(mktemp -d /tmp/rewindfs-test.XXXXXX) || fail "mktemp"
POOL=$T/pool
MNT=$T/mnt
LOG=$T/daemon.log
FS_PID=
mkdir "$MNT"
: > "$LOG"

is_mounted() { grep -q " $1 fuse" /proc/mounts; }

cleanup() {
	rc=$?
	set +e
	losetup -n -l -O NAME,BACK-FILE 2>/dev/null | while read -r dev back; do
		case "$back" in "$T"/*) losetup -d "$dev" ;; esac
	done
	if is_mounted "$MNT"; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	if [ -n "$FS_PID" ] && kill -0 "$FS_PID" 2>/dev/null; then
		kill -TERM "$FS_PID" 2>/dev/null
		i=0
		while kill -0 "$FS_PID" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$FS_PID" 2>/dev/null
	fi
	is_mounted "$MNT" && umount -l "$MNT" 2>/dev/null
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$LOG" 2>/dev/null; then
		echo "FAIL: sanitizer report in the daemon log:" >&2
		rc=1
	fi
	if [ $rc -ne 0 ]; then
		echo "--- daemon log ($LOG):" >&2
		tail -n 60 "$LOG" >&2
	fi
	rm_test_dir "$T"
	exit $rc
}
trap cleanup EXIT
# A signal is a failure: the EXIT trap must not see a status of 0.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 1' INT TERM HUP

# Poll for a condition, at most $1 tenths of a second.
wait_for() { # tenths, command...
	n=$1; shift
	i=0
	while ! "$@"; do
		[ $i -ge "$n" ] && return 1
		sleep 0.1; i=$((i + 1))
	done
	return 0
}

not_running() { ! kill -0 "$1" 2>/dev/null; }

# Start the daemon in the foreground (-f) in the background of this shell,
# so FS_PID is known and `wait` gives its exit status. Extra args: options.
start_fs() {
	"$REWINDFS" -f "$@" "$POOL" "$MNT" >>"$LOG" 2>&1 &
	FS_PID=$!
	wait_for 150 is_mounted "$MNT" || {
		kill -0 "$FS_PID" 2>/dev/null || { wait "$FS_PID"; echo "daemon exited with $?" >&2; }
		fail "the mount did not appear"
	}
}

# Unmount with fusermount3 -u and wait (bounded) for the daemon to exit 0.
stop_fs() {
	fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
	wait_for 300 not_running "$FS_PID" || fail "daemon still running after unmount"
	wait "$FS_PID"; st=$?
	FS_PID=
	[ $st -eq 0 ] || fail "daemon exited with status $st"
}

# Value of "key: value" in a control file.
field() { sed -n "s/^$2: //p" "$1" | head -n 1; }

# Expect a control write to fail with errno $1: expect_write ERRNO FILE TEXT [OFF]
expect_write() {
	want=$1; shift
	got=$("$FS_CTLWRITE" "$@")
	[ "$got" = "$want" ] || fail "write '$2' to $1: got $got, want $want"
}

# N bytes of one repeated character into a file: fill_file CHAR N FILE
fill_file() { head -c "$2" /dev/zero | tr '\0' "$1" > "$3"; }

"$FS_MKPOOL" "$POOL" || fail "cannot create the test pool"
