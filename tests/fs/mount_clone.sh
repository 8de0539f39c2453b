#!/bin/sh
# Clones: now, at a past time, clone of a clone; content right, independent
# both ways after writes; deleting the source leaves clones intact; rename
# keeps content; reset brings a clone to its source's current state.
. "$(dirname "$0")/lib.sh"

now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
SZ=1048576
for x in A B C D E; do head -c $SZ /dev/urandom > "$T/$x"; done

start_fs
mkdir "$MNT/v" || fail "mkdir"
truncate -s $SZ "$MNT/v/volume" || fail "truncate"
dd if="$T/A" of="$MNT/v/volume" bs=64k conv=notrunc,fsync status=none || fail "write A"
TA=$(now)

note "clone now"
echo c1 > "$MNT/v/.clone" || fail "clone c1"
[ -d "$MNT/c1" ] || fail "c1 did not appear"
cmp "$T/A" "$MNT/c1/volume" || fail "c1 is not A"
[ "$(field "$MNT/c1/.status" source)" = v ] || fail "c1 source: $(field "$MNT/c1/.status" source)"

dd if="$T/B" of="$MNT/v/volume" bs=64k conv=notrunc,fsync status=none || fail "write B"
cmp "$T/A" "$MNT/c1/volume" || fail "c1 changed when v was written"

note "clone at a past time"
echo "c2 $TA" > "$MNT/v/.clone" || fail "clone c2 at $TA"
cmp "$T/A" "$MNT/c2/volume" || fail "c2 (at TA) is not A"
echo "c2b -0s" > "$MNT/v/.clone" || fail "clone c2b at -0s"
cmp "$T/B" "$MNT/c2b/volume" || fail "c2b (now) is not B"

note "clone of a clone"
echo c3 > "$MNT/c1/.clone" || fail "clone c3 of c1"
cmp "$T/A" "$MNT/c3/volume" || fail "c3 is not A"
[ "$(field "$MNT/c3/.status" ancestry)" = "c3 c1 v" ] || fail "c3 ancestry: $(field "$MNT/c3/.status" ancestry)"

note "independent both ways"
dd if="$T/C" of="$MNT/c1/volume" bs=64k conv=notrunc,fsync status=none || fail "write C to c1"
cmp "$T/C" "$MNT/c1/volume" || fail "c1 is not C"
cmp "$T/B" "$MNT/v/volume" || fail "v changed when c1 was written"
cmp "$T/A" "$MNT/c3/volume" || fail "c3 changed when c1 was written"
cmp "$T/A" "$MNT/c2/volume" || fail "c2 changed when c1 was written"
dd if="$T/D" of="$MNT/c3/volume" bs=64k conv=notrunc,fsync status=none || fail "write D to c3"
cmp "$T/C" "$MNT/c1/volume" || fail "c1 changed when c3 was written"

note ".clone lists the clones"
[ "$(field "$MNT/v/.clone" clones)" = 3 ] || fail "v's clones: $(cat "$MNT/v/.clone")"
grep -q "^- name=c1 " "$MNT/v/.clone" || fail "c1 not listed"
grep -q "^- name=c3 " "$MNT/c1/.clone" || fail "c3 not listed under c1"

note "deleting the source leaves the clones intact"
rmdir "$MNT/v" || fail "rmdir v"
[ ! -e "$MNT/v" ] || fail "v still there"
cmp "$T/C" "$MNT/c1/volume" || fail "c1 changed when v was deleted"
cmp "$T/A" "$MNT/c2/volume" || fail "c2 changed when v was deleted"
cmp "$T/B" "$MNT/c2b/volume" || fail "c2b changed when v was deleted"
[ "$(field "$MNT/c3/.status" ancestry)" = "c3 c1 (deleted)" ] || fail "c3 ancestry after delete: $(field "$MNT/c3/.status" ancestry)"

note "rename keeps content"
mv "$MNT/c1" "$MNT/renamed" || fail "mv"
[ ! -e "$MNT/c1" ] || fail "old name still there"
cmp "$T/C" "$MNT/renamed/volume" || fail "content changed by rename"
[ "$(field "$MNT/renamed/.status" name)" = renamed ] || fail "name in .status"
cmp "$T/D" "$MNT/c3/volume" || fail "c3 changed by the rename of its source"

note "reset a clone to its source's current state"
dd if="$T/E" of="$MNT/renamed/volume" bs=64k conv=notrunc,fsync status=none || fail "write E"
cat "$MNT/c3/volume" > /dev/null
echo reset > "$MNT/c3/.backtrack" || fail "reset c3"
cmp "$T/E" "$MNT/c3/volume" || fail "c3 after reset is not its source's E"

note "concurrent writers to one control file each get their own result"
# 6 writers race to clone the same name, 6 others each clone a name of
# their own: exactly one of the first group wins, all of the second do.
# (wait on the writers' pids only: a bare `wait` would wait for the daemon)
pids=
i=0
while [ $i -lt 6 ]; do
	"$FS_CTLWRITE" "$MNT/c2/.clone" "race" > "$T/race.$i" &
	pids="$pids $!"
	"$FS_CTLWRITE" "$MNT/c2/.clone" "own$i" > "$T/own.$i" &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do wait "$p"; done
[ "$(cat "$T"/race.* | grep -c '^OK$')" = 1 ] || fail "race winners: $(cat "$T"/race.* | tr '\n' ' ')"
[ "$(cat "$T"/race.* | grep -c '^EEXIST$')" = 5 ] || fail "race losers: $(cat "$T"/race.* | tr '\n' ' ')"
[ "$(cat "$T"/own.* | grep -c '^OK$')" = 6 ] || fail "own clones: $(cat "$T"/own.* | tr '\n' ' ')"
for i in 0 1 2 3 4 5; do cmp "$T/A" "$MNT/own$i/volume" || fail "own$i content"; done
cmp "$T/A" "$MNT/race/volume" || fail "race content"
[ "$(field "$MNT/c2/.clone" clones)" = 7 ] || fail "c2's clones: $(cat "$MNT/c2/.clone")"

note "the same after a remount"
stop_fs
start_fs
cmp "$T/E" "$MNT/renamed/volume" || fail "renamed after remount"
cmp "$T/A" "$MNT/c2/volume" || fail "c2 after remount"
cmp "$T/E" "$MNT/c3/volume" || fail "c3 after remount"
stop_fs
echo PASS
