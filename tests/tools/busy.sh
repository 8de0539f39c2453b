#!/bin/bash
# backtrack while a process holds the ext4 mount is refused, names the
# process (and its pid), and changes nothing; once the process is gone the
# same command works.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool
ext4_volume prod 128M "$T/data"
echo old >"$T/data/old"
sync -f "$T/data"
t_old=$(now)
echo new >"$T/data/new"
sync -f "$T/data"
status_before=$("$R" status "$MNT/prod" | grep -E '^(timeline|backtracks):')

# A holder with a name of its own: a copy of sleep whose cwd is the mount.
cp "$(command -v sleep)" "$T/holdmount"
(cd "$T/data" && exec "$T/holdmount" 600) &
holder=$!
holding() { [ "$(readlink "/proc/$holder/cwd")" = "$T/data" ]; }
wait_for 10 holding || fail "holder did not start"

expect_fail backtrack "$MNT/prod" "$t_old"
grep -q "holdmount" "$T/err" || fail "refusal does not name the process: $(cat "$T/err")"
grep -q "$holder" "$T/err" || fail "refusal does not give the pid: $(cat "$T/err")"
is_mounted "$T/data" || fail "the refused backtrack unmounted $T/data"
[ -e "$T/data/new" ] || fail "the refused backtrack rewound the volume"
[ "$(cat "$T/data/old")" = old ] || fail "old file changed"
status_after=$("$R" status "$MNT/prod" | grep -E '^(timeline|backtracks):')
[ "$status_before" = "$status_after" ] || fail "status changed by a refused backtrack:
$(diff <(echo "$status_before") <(echo "$status_after"))"

# detach and destroy refuse the same way.
expect_fail detach "$T/data"
grep -q "holdmount" "$T/err" || fail "detach refusal does not name the process"
is_mounted "$T/data" || fail "the refused detach unmounted $T/data"
expect_fail destroy "$MNT" prod
[ -d "$MNT/prod" ] || fail "destroy removed an attached volume"

kill "$holder"
wait "$holder" 2>/dev/null || true
"$R" backtrack "$MNT/prod" "$t_old" >/dev/null || fail "backtrack after the holder left"
[ ! -e "$T/data/new" ] || fail "backtrack did not rewind"
[ "$(cat "$T/data/old")" = old ] || fail "old file lost"
exit 0
