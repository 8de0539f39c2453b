#!/bin/bash
# rewindctl snapshot (create, list, backtrack to @NAME, delete), window (set,
# show) and status (text and --json) against a live daemon.
. "$(dirname "$0")/lib.sh"
need_fuse

start_pool
ext4_volume v 64M "$T/data"
echo one >"$T/data/f"
sync -f "$T/data"
"$R" snapshot "$MNT/v" first >/dev/null || fail "snapshot first"
echo two >"$T/data/f"
sync -f "$T/data"

matches "$("$R" snapshot "$MNT/v" --list)" "name=first" || fail "--list does not show first"
matches "$("$R" snapshot "$MNT/v")" "name=first" || fail "snapshot without args does not list"
expect_fail snapshot "$MNT/v" first
grep -q "File exists" "$T/err" || fail "a second snapshot first: $(cat "$T/err")"

"$R" backtrack "$MNT/v" @first >/dev/null || fail "backtrack @first"
[ "$(cat "$T/data/f")" = one ] || fail "backtrack @first did not bring back 'one'"

"$R" snapshot "$MNT/v" -first >/dev/null || fail "delete first"
matches "$("$R" snapshot "$MNT/v" --list)" "name=first" && fail "first still listed"
expect_fail snapshot "$MNT/v" -first
grep -q "No such file" "$T/err" || fail "deleting a missing snapshot: $(cat "$T/err")"

"$R" window "$MNT/v" 72h >/dev/null || fail "window 72h"
matches "$("$R" window "$MNT/v")" "^target: 72h0m0s" || fail "window not 72h: $("$R" window "$MNT/v")"
matches "$("$R" status "$MNT/v")" "^window: 72h0m0s" || fail "status does not show the window"

# status: text and JSON, volume and pool.
matches "$("$R" status "$MNT/v")" "^attached: $T/data (ext4 on /dev/loop" ||
	fail "status does not say where v is attached"
json=$("$R" status "$MNT/v" --json) || fail "status --json"
[ "${json:0:1}" = "{" ] && [ "${json: -1}" = "}" ] || fail "not a JSON object: $json"
matches "$json" '"name": "v"' || fail "json: name"
matches "$json" '"size": 67108864' || fail "json: size not a number"
matches "$json" "\"attached\": \"$T/data (ext4 on /dev/loop" || fail "json: attached"
pool=$("$R" status "$MNT" --json) || fail "pool status --json"
matches "$pool" '"pool": {' || fail "pool json: pool"
matches "$pool" '"v": {' || fail "pool json: volume v"
matches "$("$R" status "$MNT")" '^\[v\]' || fail "pool status does not list v"
exit 0
