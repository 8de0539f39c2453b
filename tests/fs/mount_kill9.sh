#!/bin/sh
# kill -9 of the (daemonized) rewindfs right after an fsync'd write: the pool
# lock is free again, a remount works and the data is there.
. "$(dirname "$0")/lib.sh"

"$REWINDFS" "$POOL" "$MNT" 2>>"$LOG" || fail "rewindfs (daemon mode) failed"
is_mounted "$MNT" || fail "not mounted when rewindfs returned"
FS_PID=$(field "$MNT/.status" daemon_pid)
[ -n "$FS_PID" ] && kill -0 "$FS_PID" || fail "daemon pid '$FS_PID' not running"

mkdir "$MNT/v" && truncate -s 8M "$MNT/v/volume" || fail "setup"
head -c 4194304 /dev/urandom > "$T/data"
dd if="$T/data" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none || fail "write 1"
head -c 65536 /dev/urandom > "$T/data2"
dd if="$T/data2" of="$MNT/v/volume" bs=4k seek=1536 oflag=direct conv=notrunc,fdatasync status=none || fail "write 2"
head -c 65536 /dev/urandom > "$T/data3"
dd if="$T/data3" of="$MNT/v/volume" bs=8k seek=512 oflag=direct,dsync conv=notrunc status=none || fail "write 3 (O_DIRECT|O_DSYNC)"
kill -KILL "$FS_PID"
wait_for 100 not_running "$FS_PID" || fail "daemon survived kill -9"
FS_PID=
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" || fail "cannot clear the dead mount"

start_fs
cmp -n 4194304 "$T/data" "$MNT/v/volume" || fail "fsync'd data lost"
cmp -n 65536 -i 0:6291456 "$T/data2" "$MNT/v/volume" || fail "fdatasync'd O_DIRECT data lost"
cmp -n 65536 -i 0:4194304 "$T/data3" "$MNT/v/volume" || fail "O_DSYNC O_DIRECT data lost"
stop_fs
echo PASS
