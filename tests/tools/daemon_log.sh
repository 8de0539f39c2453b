#!/bin/bash
# A daemon started by `rewindctl mount` (detached) logs to POOL/rewindfs.log:
# the line saying it serves the pool, a refused control command's warning,
# the line saying it stopped, each time-stamped; the file is its stdout and
# stderr too (what it prints as it dies stays), made 0600; and a log that
# reached 8 MiB in an earlier life is moved to rewindfs.log.1 at start.
. "$(dirname "$0")/lib.sh"
need_fuse

"$R" init "$POOL" >/dev/null || fail "rewindctl init"
LOG=$POOL/rewindfs.log
head -c $((8 << 20)) /dev/zero | tr '\0' x >"$LOG"
mkdir -p "$MNT"
"$R" mount "$POOL" "$MNT" >/dev/null || fail "rewindctl mount"
is_mounted "$MNT" || fail "not mounted"

[ "$(stat -c %s "$LOG.1" 2>/dev/null)" = $((8 << 20)) ] ||
	fail "the full log was not moved to rewindfs.log.1: $(ls -l "$POOL")"
[ "$(stat -c %a "$LOG")" = 600 ] || fail "log mode $(stat -c %a "$LOG"), expected 600"
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} UTC \[[0-9]+\]'
line=$(grep -E "$stamp info: serving $POOL on $MNT \(pid [0-9]+" "$LOG") ||
	fail "no time-stamped 'serving' line: $(cat "$LOG")"
pid=$(sed -E 's/.*\(pid ([0-9]+).*/\1/' <<<"$line")
for fd in 1 2; do
	[ "$(readlink "/proc/$pid/fd/$fd")" = "$LOG" ] ||
		fail "the daemon's fd $fd is $(readlink "/proc/$pid/fd/$fd"), not $LOG"
done

"$R" create "$MNT" v 1M >/dev/null || fail create
echo frobnicate 2>/dev/null >"$MNT/v/.backtrack" && fail "a bad command was accepted"
grep -qE "$stamp warning: .*\.backtrack" "$LOG" ||
	fail "the refused command was not logged: $(cat "$LOG")"

"$R" umount "$MNT" >/dev/null || fail umount
grep -qE "$stamp info: stopped$" "$LOG" || fail "no 'stopped' line: $(cat "$LOG")"
[ "$(grep -c . "$LOG")" -lt 10 ] || fail "unexpected lines: $(cat "$LOG")"
exit 0
