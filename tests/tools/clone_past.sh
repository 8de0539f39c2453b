#!/bin/bash
# A clone from a past time has the old content; deleting the source leaves
# its clones intact. Also: a bad TIME fails with status 1, the errno text and
# the volume's last_error line, and changes nothing.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool
ext4_volume prod 128M "$T/data"
make_files "$T/data/a" 8
sync -f "$T/data"
old=$(sums "$T/data")
t_old=$(now)
rm -rf "$T/data/a"
make_files "$T/data/b" 5
sync -f "$T/data"
new=$(sums "$T/data")
[ "$old" != "$new" ] || fail "content did not change"

"$R" clone "$MNT/prod" old "$t_old" --attach "$T/old" >/dev/null || fail "clone from $t_old"
[ "$(sums "$T/old")" = "$old" ] || fail "past clone differs from the source at $t_old"
"$R" clone "$MNT/prod" cur >/dev/null || fail "clone now"
[ -d "$MNT/cur" ] || fail "clone folder did not appear"

# Bad commands fail with 1, errno text and last_error, and change nothing.
expect_fail backtrack "$MNT/prod" "not-a-time"
grep -q "Invalid argument" "$T/err" || fail "no errno text: $(cat "$T/err")"
grep -q "last_error" "$T/err" || fail "no last_error line: $(cat "$T/err")"
expect_fail backtrack "$MNT/prod" "2000-01-01T00:00:00Z"
grep -q "out of range" "$T/err" || fail "no ERANGE text: $(cat "$T/err")"
is_mounted "$T/data" || fail "a failed backtrack left the volume detached"
[ "$(sums "$T/data")" = "$new" ] || fail "a failed backtrack changed the volume"
expect_fail clone "$MNT/prod" cur
grep -q "File exists" "$T/err" || fail "clone onto a taken name: $(cat "$T/err")"

# Delete the source: the clones keep their content.
"$R" detach "$T/data" >/dev/null || fail "detach source"
"$R" destroy "$MNT" prod >/dev/null || fail "destroy source"
[ ! -e "$MNT/prod" ] || fail "source still there"
[ "$(sums "$T/old")" = "$old" ] || fail "past clone changed when its source was deleted"
"$R" attach "$MNT/cur" "$T/cur" >/dev/null || fail "attach the clone of now"
[ "$(sums "$T/cur")" = "$new" ] || fail "clone of now differs after the source was deleted"
"$R" detach "$T/old" >/dev/null || fail "detach old"
"$R" detach "$T/cur" >/dev/null || fail "detach cur"
e2fsck -fn "$MNT/old/volume" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "e2fsck old"; }
e2fsck -fn "$MNT/cur/volume" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "e2fsck cur"; }
exit 0
