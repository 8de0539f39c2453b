#!/bin/sh
# Every bad control command fails with its errno, changes nothing (content,
# LSN, timeline, volumes, snapshots), and leaves its reason in last_error.
. "$(dirname "$0")/lib.sh"

start_fs
mkdir "$MNT/v" "$MNT/other" || fail "mkdir"
truncate -s 1M "$MNT/v/volume" || fail "truncate"
head -c 1048576 /dev/urandom > "$T/data"
dd if="$T/data" of="$MNT/v/volume" bs=64k conv=notrunc,fsync status=none || fail "write"
echo keep > "$MNT/v/.snapshot" || fail "snapshot"

LSN=$(field "$MNT/v/.status" lsn)
TL=$(field "$MNT/v/.status" timeline)
[ -n "$LSN" ] && [ -n "$TL" ] || fail "no lsn/timeline in .status"
[ "$(field "$MNT/v/.status" last_error)" = none ] || fail "last_error before any error"

PREV=none
# bad ERRNO FILE TEXT [OFFSET|--fill N] -- expect the errno and a new last_error
bad() {
	want=$1; file=$2; shift 2
	expect_write "$want" "$MNT/v/$file" "$@"
	err=$(field "$MNT/v/.status" last_error)
	[ -n "$err" ] && [ "$err" != none ] || fail "$file '$1': no last_error"
	[ "$err" != "$PREV" ] || fail "$file '$1': last_error not updated ($err)"
	case "$err" in *"$file"*) ;; *) fail "last_error does not name $file: $err" ;; esac
	echo "    $file '$(echo "$1" | cut -c1-30)' -> $want: $err"
	PREV=$err
}

bad EINVAL .backtrack "2026-13-45T00:00:00Z"          # malformed time
bad EINVAL .backtrack "yesterday"                     # malformed time
bad EINVAL .backtrack "2026-11-21T13:00:00"           # no zone
bad EINVAL .backtrack "lsn:x"                         # bad lsn
bad EINVAL .window "10x"                              # bad duration
bad EINVAL .window "-5m"                              # bad duration
bad ENOENT .backtrack "@nosuch"                       # unknown snapshot
bad ENOENT .clone "c @nosuch"                         # unknown snapshot
bad ENOENT .snapshot "-nosuch"                        # unknown snapshot
bad ERANGE .backtrack "2099-01-01T00:00:00Z"          # future time
bad ERANGE .clone "c 2099-01-01T00:00:00Z"            # future time
bad ERANGE .backtrack "2000-01-01T00:00:00Z"          # before the window
bad ERANGE .snapshot "s 2000-01-01T00:00:00Z"         # before the window
bad EINVAL .backtrack "-10m" 5                        # write at an offset
bad EINVAL .backtrack --fill 4097                     # overlong
bad EINVAL .clone "bad/name"                          # bad clone name
bad EINVAL .clone ".hidden"                           # bad clone name
bad EINVAL .clone "two words here"                    # trailing garbage
bad EEXIST .clone "other"                             # existing name
bad EEXIST .clone "v"                                 # existing name (itself)
bad EEXIST .snapshot "keep"                           # existing snapshot
bad EINVAL .backtrack "reset"                         # not a clone
bad EINVAL .snapshot "
"                                                     # empty command
bad EINVAL .window "   "                              # empty command

note "read-only files refuse writes"
expect_write EACCES "$MNT/v/.status" "x"
expect_write EACCES "$MNT/.status" "x"

note "verbs the layout does not have are refused"
truncate -s 0 "$MNT/v/.status" 2>/dev/null && fail "truncate .status succeeded"
truncate -s 0 "$MNT/.status" 2>/dev/null && fail "truncate pool .status succeeded"
chmod 0666 "$MNT/v/volume" 2>/dev/null && fail "chmod succeeded"
[ "$(stat -c %a "$MNT/v/volume")" = 600 ] || fail "mode changed"
rm -f "$MNT/v/volume" 2>/dev/null; [ -f "$MNT/v/volume" ] || fail "block file removed"
( echo x > "$MNT/newfile" ) 2>/dev/null && fail "created a file in the root"
( echo x > "$MNT/v/newfile" ) 2>/dev/null && fail "created a file in a volume folder"
mkdir "$MNT/v/sub" 2>/dev/null && fail "mkdir inside a volume folder"
mv "$MNT/v" "$MNT/other" 2>/dev/null && fail "rename onto an existing volume succeeded"
[ "$(ls "$MNT/v" | tr '\n' ' ')" = "volume " ] || fail "volume folder listing: $(ls -A "$MNT/v")"
[ "$(ls -A "$MNT/v" | wc -l)" = 6 ] || fail "volume folder entries: $(ls -A "$MNT/v")"

note "pool-level errors go to the pool .status"
mkdir "$MNT/.bad" 2>/dev/null && fail "mkdir .bad succeeded"
case "$(field "$MNT/.status" last_error)" in *".bad"*) ;; *) fail "pool last_error: $(field "$MNT/.status" last_error)" ;; esac
mkdir "$MNT/other" 2>/dev/null && fail "mkdir of an existing volume succeeded"

note "nothing changed"
[ "$(field "$MNT/v/.status" lsn)" = "$LSN" ] || fail "LSN changed: $LSN -> $(field "$MNT/v/.status" lsn)"
[ "$(field "$MNT/v/.status" timeline)" = "$TL" ] || fail "timeline changed"
[ "$(field "$MNT/v/.status" backtracks)" = 0 ] || fail "a backtrack happened"
[ "$(field "$MNT/v/.snapshot" snapshots)" = 1 ] || fail "snapshots changed: $(cat "$MNT/v/.snapshot")"
[ "$(field "$MNT/v/.clone" clones)" = 0 ] || fail "a clone appeared"
[ "$(ls "$MNT" | sort | tr '\n' ' ')" = "other v " ] || fail "volumes changed: $(ls "$MNT")"
[ "$(field "$MNT/v/.window" target)" = "24h0m0s" ] || fail "window changed: $(field "$MNT/v/.window" target)"
cmp "$T/data" "$MNT/v/volume" || fail "content changed"

note "a good command after all that works and reports"
echo 72h > "$MNT/v/.window" || fail "set window"
[ "$(field "$MNT/v/.window" target)" = "72h0m0s" ] || fail "window not set"
stop_fs
echo PASS
