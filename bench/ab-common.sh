# bench/ab-common.sh - sourced by the A/B scripts (run-fsync-ab,
# run-seqw-ab): their command line, their work folder and the stack each
# run measures. Not run by itself.
#
#   ab_init DEFAULT_ROUNDS DEFAULT_TIME "$@"
#	parses [--rounds N] [--time S] REWINDFS... into ROUNDS, TIME and BINS;
#	sets CTL (rewindctl: $REWINDCTL, else build-bench's, set up and built
#	if missing) and W (a work folder under /var/tmp, removed on exit, with
#	whatever ab_up left mounted).
#   ab_up REWINDFS
#	a fresh pool in $W, mounted with that daemon, a 4 GiB volume attached
#	with ext4 at $W/dir; sets PID (the daemon's).
#   ab_down
#	detaches, unmounts and removes what ab_up made.
HERE=$(cd "$(dirname "$0")" && pwd)

ab_init() {
	ROUNDS=$1 TIME=$2
	shift 2
	local usage="usage: $0 [--rounds N] [--time S] REWINDFS..."
	while [ $# -gt 0 ]; do
		case $1 in
		--rounds) ROUNDS=$2; shift 2 ;;
		--time) TIME=$2; shift 2 ;;
		-*) echo "$usage" >&2; exit 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
	BINS=("$@")
	if [ -z "${REWINDCTL:-}" ]; then
		local b=$HERE/../build-bench
		[ -d "$b" ] || meson setup "$b" >/dev/null
		ninja -C "$b" tools/rewindctl >/dev/null
		REWINDCTL=$b/tools/rewindctl
	fi
	CTL=$REWINDCTL
	W=$(mktemp -d /var/tmp/rewindfs-ab.XXXXXX)
	trap 'ab_down; rm -rf "$W"' EXIT
}

ab_up() {
	mkdir -p "$W/mnt" "$W/dir"
	"$CTL" init "$W/pool" >/dev/null
	REWINDFS=$1 "$CTL" mount "$W/pool" "$W/mnt" >/dev/null
	"$CTL" create "$W/mnt" vol 4G >/dev/null
	"$CTL" attach "$W/mnt/vol" "$W/dir" --mkfs ext4 >/dev/null
	PID=$(awk -F': *' '$1 == "daemon_pid" { print $2 }' "$W/mnt/.status")
}

ab_down() {
	"$CTL" detach "$W/dir" >/dev/null 2>&1 || true
	"$CTL" umount "$W/mnt" >/dev/null 2>&1 || true
	rm -rf "$W/pool" "$W/mnt" "$W/dir"
}
