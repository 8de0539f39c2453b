#!/bin/sh
# Another user can neither read a block file nor write a control file: with
# the default mount (only the mounting user gets in) and with -o allow_other
# (which implies default_permissions, so the modes 0600/0400/0700 rule).
. "$(dirname "$0")/lib.sh"

U=rewindfs-test
id -u "$U" >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$U" || fail "useradd"
as_user() { setpriv --reuid="$U" --regid="$U" --clear-groups -- "$@"; }
chmod 0755 "$T"   # let the other user reach the mount point

check_modes() {
	[ "$(stat -c %a "$MNT")" = 700 ] || fail "root mode $(stat -c %a "$MNT")"
	[ "$(stat -c %a "$MNT/.status")" = 400 ] || fail "pool .status mode"
	[ "$(stat -c %a "$MNT/v")" = 700 ] || fail "volume folder mode"
	[ "$(stat -c %a "$MNT/v/volume")" = 600 ] || fail "block file mode"
	for c in .backtrack .clone .snapshot .window; do
		[ "$(stat -c %a "$MNT/v/$c")" = 600 ] || fail "$c mode"
	done
	[ "$(stat -c %a "$MNT/v/.status")" = 400 ] || fail ".status mode"
	[ "$(stat -c %u:%g "$MNT/v/volume")" = "$(id -u):$(id -g)" ] || fail "owner"
}

check_denied() {
	as_user test -r "$T" || fail "the other user cannot reach $T (test is void)"
	got=$(as_user "$FS_CTLWRITE" "$MNT/v/volume" --read)
	[ "$got" = EACCES ] || fail "other user reading the block file: $got"
	got=$(as_user "$FS_CTLWRITE" "$MNT/v/.clone" "stolen")
	[ "$got" = EACCES ] || fail "other user writing .clone: $got"
	got=$(as_user "$FS_CTLWRITE" "$MNT/v/.backtrack" "-1s")
	[ "$got" = EACCES ] || fail "other user writing .backtrack: $got"
	got=$(as_user "$FS_CTLWRITE" "$MNT/v/.status" --read)
	[ "$got" = EACCES ] || fail "other user reading .status: $got"
	as_user mkdir "$MNT/stolen" 2>/dev/null && fail "other user made a volume"
	[ ! -e "$MNT/stolen" ] || fail "stolen volume exists"
	# the owner still can
	[ "$("$FS_CTLWRITE" "$MNT/v/volume" --read)" = OK ] || fail "owner cannot read"
}

note "default mount"
start_fs
mkdir "$MNT/v" && truncate -s 64k "$MNT/v/volume" || fail "setup"
check_modes
check_denied
stop_fs

note "-o allow_other"
start_fs -o allow_other
grep " $MNT fuse" /proc/mounts | grep -q default_permissions || fail "allow_other without default_permissions: $(grep " $MNT fuse" /proc/mounts)"
check_modes
as_user stat "$MNT" >/dev/null || fail "with allow_other the other user cannot even stat the root"
check_denied
stop_fs
echo PASS
