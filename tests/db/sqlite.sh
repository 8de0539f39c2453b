#!/bin/bash
# SQLite (WAL, synchronous=FULL) on ext4 on a volume (issue 4, SQLite): a
# writer (as user nobody) commits numbered transactions (sqlite_tx.py logs
# when each began and when its COMMIT returned).
#  - A clone taken while it writes, attached and opened by a second process,
#    passes integrity_check, holds a prefix of the transactions (at least
#    those committed before the clone), and diverges independently: its
#    writes and the source's later ones never show on the other side.
#  - Backtrack to a time the test took while the writer ran: integrity_check
#    passes and the state is a prefix 1..k holding every transaction whose
#    COMMIT returned before that time and none that began after it (one
#    straddling the time may go either way).
#  - Backtrack to a time the writer took between two commits (after commit
#    300 returned, before 301 began): exactly 1..300.
#  - Backtrack forward to after the last commit: every transaction is back.
. "$(dirname "$0")/lib.sh"
need_fuse

HERE=$(cd "$(dirname "$0")" && pwd)
# sqlite_tx.py as nobody; the script goes in on stdin, so nobody needs no
# access to the source tree.
tx() { runuser -u nobody -- /usr/bin/python3 - "$@" <"$HERE/sqlite_tx.py"; }
# ns since the epoch -> RFC 3339 with ns.
rfc() { date -u -d "@$(($1 / 1000000000)).$(printf %09d $(($1 % 1000000000)))" +%Y-%m-%dT%H:%M:%S.%NZ; }
logged() { [ "$(wc -l <"$T/log/tx.log")" -ge "$1" ]; }

start_pool
ext4_volume sq 1G "$T/sq" "attach --mkfs ext4"
install -d -o nobody -g nogroup "$T/sq/db"
DB=$T/sq/db/app.db
touch "$T/log/tx.log"
chmod 666 "$T/log/tx.log"

tx write "$DB" 1 2000 300 "$T/log/mark" "$T/log/tx.log" &
writer=$!
wait_for 120 logged 400 || fail "the writer does not get going"
t_ext=$(date +%s%N)
step "time taken at $(rfc "$t_ext") while the writer runs"
wait_for 120 logged 600 || fail "the writer stopped"
"$R" clone "$MNT/sq" sqc >/dev/null || fail "clone while writing"
kill -0 "$writer" 2>/dev/null || fail "the writer ended before the clone: not taken under load"
"$R" attach "$MNT/sqc" "$T/sqc" >/dev/null || fail "attach the clone"
step "cloned while the writer runs"
wait "$writer" || fail "the writer failed"
[ "$(tx check "$DB")" = "2000 0" ] || fail "source after the writer: $(tx check "$DB")"

# The clone: a prefix holding at least the 600 commits logged before it.
out=$(tx check "$T/sqc/db/app.db") || fail "the clone fails its check"
read -r k_clone extra <<<"$out"
[ "$k_clone" -ge 600 ] && [ "$extra" = 0 ] || fail "clone holds $k_clone (+$extra), expected >= 600"
# Both diverge at once: the source writer goes on, a second process writes
# the clone.
tx write "$DB" 2001 2100 0 /dev/null "$T/log/tx.log" &
writer=$!
tx diverge "$T/sqc/db/app.db" 25 || fail "writing the clone"
wait "$writer" || fail "the second writer failed"
sync -f "$T/sq"
t_end=$(date +%s%N)
[ "$(tx check "$DB")" = "2100 0" ] || fail "source after diverging: $(tx check "$DB")"
[ "$(tx check "$T/sqc/db/app.db")" = "$k_clone 25" ] ||
	fail "clone after diverging: $(tx check "$T/sqc/db/app.db"), expected $k_clone 25"
step "clone at $k_clone of 2000 transactions, diverged independently"
"$R" detach "$T/sqc" >/dev/null || fail "detach the clone"

# Backtrack to the test's time: a prefix within the bounds of the log.
lo=$(awk -v t="$t_ext" '$3 <= t && $1 > m { m = $1 } END { print m + 0 }' "$T/log/tx.log")
hi=$(awk -v t="$t_ext" '$2 <= t && $1 > m { m = $1 } END { print m + 0 }' "$T/log/tx.log")
"$R" backtrack "$MNT/sq" "$(rfc "$t_ext")" || fail "backtrack to $(rfc "$t_ext")"
out=$(tx check "$DB") || fail "the database fails its check after the backtrack"
read -r k extra <<<"$out"
[ "$k" -ge "$lo" ] && [ "$k" -le "$hi" ] && [ "$extra" = 0 ] ||
	fail "backtracked to $(rfc "$t_ext"): 1..$k, expected 1..$lo (or up to $hi)"
step "backtracked to the test's time: 1..$k (committed before it: $lo, begun before it: $hi)"

# Backtrack to the writer's time between commit 300 and 301.
t_mark=$(cat "$T/log/mark")
"$R" backtrack "$MNT/sq" "$(rfc "$t_mark")" || fail "backtrack to $(rfc "$t_mark")"
[ "$(tx check "$DB")" = "300 0" ] || fail "backtracked between commits 300 and 301: $(tx check "$DB")"
step "backtracked between two commits: exactly 1..300"

"$R" backtrack "$MNT/sq" "$(rfc "$t_end")" || fail "backtrack forward to $(rfc "$t_end")"
[ "$(tx check "$DB")" = "2100 0" ] || fail "backtracked forward: $(tx check "$DB")"
step "backtracked forward: 1..2100"

"$R" detach "$T/sq" >/dev/null || fail "detach"
e2fsck -fn "$MNT/sq/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the source"
e2fsck -fn "$MNT/sqc/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the clone"
exit 0
