#!/bin/bash
# A clone taken while the source is attached and being written attaches (the
# mount replays the ext4 journal), passes `e2fsck -fn` after that replay, and
# is independent of its source: writes on either side are invisible to the
# other.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool
ext4_volume prod 256M "$T/data"
make_files "$T/data/base" 10
sync -f "$T/data"
base=$(sums "$T/data/base")

# A writer with a bounded loop, stopped by a flag file.
mkdir "$T/data/w"
(
	for i in $(seq 1 2000); do
		[ -e "$T/stop" ] && break
		head -c 65536 /dev/urandom >"$T/data/w/f$((i % 40))"
		[ $((i % 7)) = 0 ] && sync -f "$T/data"
	done
) &
writer=$!
wait_for 60 test -e "$T/data/w/f10" || fail "the writer did not get going"

"$R" clone "$MNT/prod" copy --attach "$T/copy" || fail "clone --attach while written"
touch "$T/stop"
wait "$writer" || fail "the writer failed"
is_mounted "$T/copy" || fail "clone not attached"
[ "$(sums "$T/copy/base")" = "$base" ] || fail "clone lost files synced before it was taken"

# Independence, both ways.
echo source-only >"$T/data/after"
echo clone-only >"$T/copy/mine"
rm -f "$T/copy/base/file1"
sync -f "$T/data"
sync -f "$T/copy"
[ ! -e "$T/copy/after" ] || fail "a source write shows in the clone"
[ ! -e "$T/data/mine" ] || fail "a clone write shows in the source"
[ -e "$T/data/base/file1" ] || fail "a clone delete shows in the source"
[ "$(sums "$T/data/base")" = "$base" ] || fail "source files changed"

# `backtrack CLONE reset` (attached): the clone becomes its source's
# current state, and is attached again.
"$R" backtrack "$MNT/copy" reset >/dev/null || fail "backtrack reset of the clone"
is_mounted "$T/copy" || fail "clone not attached again after reset"
[ "$(cat "$T/copy/after")" = source-only ] || fail "reset clone lacks the source's file"
[ ! -e "$T/copy/mine" ] || fail "reset clone kept its own write"
[ -e "$T/copy/base/file1" ] || fail "reset clone kept its own delete"
echo clone-only >"$T/copy/mine"
sync -f "$T/copy"
echo source-later >"$T/data/later"
sync -f "$T/data"

# Detach both and check both filesystems.
"$R" detach "$T/copy" >/dev/null || fail "detach clone"
"$R" detach "$T/data" >/dev/null || fail "detach source"
e2fsck -fn "$MNT/copy/volume" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "e2fsck of the clone"; }
e2fsck -fn "$MNT/prod/volume" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "e2fsck of the source"; }

# Attached again, each still has what it had.
"$R" attach "$MNT/copy" "$T/copy" >/dev/null || fail "attach clone again"
[ "$(cat "$T/copy/mine")" = clone-only ] || fail "clone lost its own write"
[ ! -e "$T/copy/later" ] || fail "a source write shows in the clone after reattach"
exit 0
