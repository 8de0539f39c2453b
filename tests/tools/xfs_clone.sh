#!/bin/bash
# xfs on a volume: a clone of the attached, written source mounts beside it
# (rewindctl mounts xfs with -o nouuid: the clone shares the source's UUID),
# and the two are independent; xfs_repair -n passes on the clone.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool
"$R" create "$MNT" x 320M >/dev/null || fail "create"
"$R" attach "$MNT/x" "$T/data" --mkfs xfs >/dev/null || fail "attach --mkfs xfs"
[ "$(fstype "$T/data")" = xfs ] || fail "not xfs: $(fstype "$T/data")"
make_files "$T/data/d" 5
sync -f "$T/data"
sums_before=$(sums "$T/data")
echo live >"$T/data/unsynced-maybe"

"$R" clone "$MNT/x" y --attach "$T/copy" >/dev/null || fail "clone --attach of a mounted xfs"
[ "$(fstype "$T/copy")" = xfs ] || fail "clone not mounted as xfs"
for f in d/file1 d/file2 d/file3 d/file4 d/file5; do
	cmp -s "$T/data/$f" "$T/copy/$f" || fail "clone differs in $f"
done
echo clone >"$T/copy/mine"
sync -f "$T/copy"
[ ! -e "$T/data/mine" ] || fail "a clone write shows in the source"
rm -f "$T/data/d/file1"
sync -f "$T/data"
[ -e "$T/copy/d/file1" ] || fail "a source delete shows in the clone"
"$R" detach "$T/copy" >/dev/null || fail "detach clone"
xfs_repair -n "$MNT/y/volume" >"$T/repair" 2>&1 || { cat "$T/repair" >&2; fail "xfs_repair -n"; }
[ -n "$sums_before" ] || fail "no files"
exit 0
