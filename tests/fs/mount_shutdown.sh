#!/bin/sh
# Start-up and shutdown: daemon mode returns once mounted; fusermount3 -u and
# SIGTERM stop the daemon with everything synced (unsynced writes survive a
# clean stop) and the pool reopens; a missing, foreign or busy pool is a
# clear error and exit status 1; -h and -V work.
. "$(dirname "$0")/lib.sh"

note "errors"
out=$("$REWINDFS" "$T/nosuch" "$MNT" 2>&1); st=$?
[ $st -eq 1 ] || fail "missing pool: status $st"
case "$out" in *nosuch*) ;; *) fail "missing pool message: $out" ;; esac
mkdir "$T/foreign" && echo hi > "$T/foreign/file"
out=$("$REWINDFS" "$T/foreign" "$MNT" 2>&1); st=$?
[ $st -eq 1 ] || fail "foreign folder: status $st ($out)"
[ -n "$out" ] || fail "foreign folder: no message"
[ ! -e "$T/foreign/CURRENT" ] || fail "rewindfs created a pool in a foreign folder"
is_mounted "$MNT" && fail "mounted after an error"
"$REWINDFS" -h >/dev/null 2>&1 || fail "-h"
"$REWINDFS" -V 2>&1 | grep -q rewindfs || fail "-V"
"$REWINDFS" "$POOL" 2>/dev/null; [ $? -eq 2 ] || fail "usage error status"

note "daemon mode, fusermount3 -u"
"$REWINDFS" "$POOL" "$MNT" 2>>"$LOG" || fail "rewindfs failed"
is_mounted "$MNT" || fail "not mounted when rewindfs returned"
FS_PID=$(field "$MNT/.status" daemon_pid)
mkdir "$T/mnt2"
out=$("$REWINDFS" "$POOL" "$T/mnt2" 2>&1); st=$?
[ $st -eq 1 ] || fail "second daemon on a busy pool: status $st"
case "$out" in *"in use"*|*busy*) ;; *) fail "busy pool message: $out" ;; esac
is_mounted "$T/mnt2" && { fusermount3 -u "$T/mnt2"; fail "busy pool got mounted"; }
mkdir "$MNT/v" && truncate -s 1M "$MNT/v/volume" || fail "setup"
head -c 1048576 /dev/urandom > "$T/A"
dd if="$T/A" of="$MNT/v/volume" bs=64k conv=notrunc status=none || fail "write A (no fsync)"
fusermount3 -u "$MNT" || fail "fusermount3 -u"
wait_for 300 not_running "$FS_PID" || fail "daemon did not exit after fusermount3 -u"
FS_PID=

note "-f and SIGTERM"
start_fs -o retention=7
[ "$(field "$MNT/.status" retention_interval)" = 7s ] || fail "-o retention=7 not in effect"
[ "$(field "$MNT/.status" daemon_pid)" = "$FS_PID" ] || fail "daemon_pid in .status"
cmp "$T/A" "$MNT/v/volume" || fail "unsynced write lost by a clean unmount"
head -c 1048576 /dev/urandom > "$T/B"
dd if="$T/B" of="$MNT/v/volume" bs=64k conv=notrunc status=none || fail "write B (no fsync)"
kill -TERM "$FS_PID"
wait_for 300 not_running "$FS_PID" || fail "daemon did not exit on SIGTERM"
wait "$FS_PID"; st=$?
FS_PID=
[ $st -eq 0 ] || fail "SIGTERM exit status $st"
is_mounted "$MNT" && fail "still mounted after SIGTERM"

note "the pool reopens"
start_fs
cmp "$T/B" "$MNT/v/volume" || fail "unsynced write lost by SIGTERM"
stop_fs
echo PASS
