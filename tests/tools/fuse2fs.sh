#!/bin/bash
# The fuse2fs attach path: --mkfs ext4 --fuse2fs, files survive detach and
# attach, and a backtrack of a volume attached through fuse2fs unmounts,
# rewinds and attaches it again through fuse2fs.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool
"$R" create "$MNT" prod 64M >/dev/null || fail "create"
"$R" attach "$MNT/prod" "$T/data" --mkfs ext4 --fuse2fs || fail "attach --fuse2fs"
case "$(fstype "$T/data")" in fuse.*) ;; *) fail "not a fuse2fs mount: $(fstype "$T/data")" ;; esac
[ -n "$(losetup -j "$MNT/prod/volume")" ] && fail "a loop device was used"

make_files "$T/data/files" 6
first=$(sums "$T/data")
"$R" detach "$T/data" >/dev/null || fail "detach"
is_mounted "$T/data" && fail "still mounted after detach"
t_first=$(now)

"$R" attach "$MNT/prod" "$T/data" --fuse2fs >/dev/null || fail "attach again"
[ "$(sums "$T/data")" = "$first" ] || fail "files differ after detach and attach"
rm -rf "$T/data/files"
echo later >"$T/data/later"

"$R" backtrack "$MNT/prod" "$t_first" || fail "backtrack through fuse2fs"
is_mounted "$T/data" || fail "not attached again after backtrack"
case "$(fstype "$T/data")" in fuse.*) ;; *) fail "re-attached without fuse2fs" ;; esac
[ "$(sums "$T/data")" = "$first" ] || fail "files differ after backtrack"
"$R" detach "$T/data" >/dev/null || fail "final detach"
e2fsck -fn "$MNT/prod/volume" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "e2fsck"; }
exit 0
