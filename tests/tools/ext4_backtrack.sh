#!/bin/bash
# ext4 on a loop device on a volume: write files, sync, note the time, delete
# them, sync; `rewindctl backtrack` to the time brings them back with the same
# checksums (while the volume stays attached at the same place); backtracking
# forward to after the delete makes them gone again.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool_ctl
"$R" create "$MNT" prod 256M >/dev/null || fail "create"
"$R" attach "$MNT/prod" "$T/data" --mkfs ext4 || fail "attach --mkfs ext4"
is_mounted "$T/data" || fail "$T/data not mounted after attach"

make_files "$T/data/files" 20
sync -f "$T/data"
before=$(sums "$T/data/files")
[ "$(echo "$before" | wc -l)" = 20 ] || fail "expected 20 files"
t_full=$(now)

rm -f "$T/data/files"/file*
sync -f "$T/data"
t_empty=$(now)
[ -z "$(ls -A "$T/data/files")" ] || fail "files not deleted"

"$R" backtrack "$MNT/prod" "$t_full" || fail "backtrack to $t_full"
is_mounted "$T/data" || fail "not attached again after backtrack"
after=$(sums "$T/data/files")
[ "$after" = "$before" ] || fail "files differ after backtrack:
$(diff <(echo "$before") <(echo "$after"))"

"$R" backtrack "$MNT/prod" "$t_empty" || fail "backtrack forward to $t_empty"
is_mounted "$T/data" || fail "not attached again after the second backtrack"
[ -d "$T/data/files" ] || fail "the folder existed at $t_empty"
[ -z "$(ls -A "$T/data/files")" ] || fail "files back after backtracking forward: $(ls "$T/data/files")"

# And back again: history that a backtrack abandoned stays reachable.
"$R" backtrack "$MNT/prod" "$t_full" || fail "second backtrack to $t_full"
[ "$(sums "$T/data/files")" = "$before" ] || fail "files differ after the third backtrack"

"$R" detach "$T/data" >/dev/null || fail "detach"
is_mounted "$T/data" && fail "still mounted after detach"
e2fsck -fn "$MNT/prod/volume" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "e2fsck"; }
"$R" umount "$MNT" >/dev/null || fail "umount"
is_mounted "$MNT" && fail "pool still mounted after umount"
exit 0
