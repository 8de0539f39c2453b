#!/bin/bash
# PostgreSQL 15 on ext4 on a volume (issue 4, PostgreSQL steps 1, 2 and 5):
#  1. initdb, pgbench -i -s 10 and some pgbench transactions; a checksum of
#     every table (md5 over its rows in order).
#  2. The accident, DELETE FROM pgbench_accounts without WHERE and DROP TABLE
#     pgbench_history, after noting the time. Stop, `rewindctl backtrack` to
#     that time, start: every checksum equals step 1's. Backtrack forward to
#     after the accident: the rows and the table are gone again; back once
#     more: they return.
#  5. A snapshot before a migration (ADD COLUMN, bulk UPDATE); stop,
#     backtrack to @NAME, start: the old schema and the old data are back.
. "$(dirname "$0")/lib.sh"
need_fuse

pg_volume_start
step "server up on 127.0.0.1:$port"

# Stop the server, backtrack the volume to TIME (else fail with WHAT), start
# the server again (postmaster.pid of the old point forgotten).
pg_backtrack_to() {
	pg_stop "$D"
	"$R" backtrack "$MNT/pg" "$1" || fail "$2"
	pg_forget_pid "$D"
	pg_start "$D" "$port"
}

# Step 1.
"$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s 10 -q postgres \
	>"$T/log/pgbench-init.log" 2>&1 || fail "pgbench -i -s 10"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -c 2 -t 200 postgres \
	>"$T/log/pgbench.log" 2>&1 || fail "pgbench -c 2 -t 200"
step "pgbench -i -s 10 and 400 transactions"
pg_sql "$port" "CHECKPOINT"
sums1=$(pg_sums "$port")
echo "$sums1"
[ "$(echo "$sums1" | awk '$1 == "pgbench_accounts" { print $2 }')" = 1000000 ] ||
	fail "expected 1000000 accounts: $sums1"
[ "$(echo "$sums1" | awk '$1 == "pgbench_history" { print $2 }')" = 400 ] ||
	fail "expected 400 history rows: $sums1"

# Step 2: the accident, then back, forward, back.
t_ok=$(now)
pg_sql "$port" "DELETE FROM pgbench_accounts"
pg_sql "$port" "DROP TABLE pgbench_history"
t_bad=$(now)
[ "$(pg_sql "$port" "SELECT count(*) FROM pgbench_accounts")" = 0 ] || fail "DELETE did not delete"
step "accident between $t_ok and $t_bad"

pg_backtrack_to "$t_ok" "backtrack to $t_ok"
sums2=$(pg_sums "$port")
[ "$sums2" = "$sums1" ] || fail "tables differ after the backtrack:
$(diff <(echo "$sums1") <(echo "$sums2"))"
step "backtracked: every table as before the accident"

pg_backtrack_to "$t_bad" "backtrack forward to $t_bad"
[ "$(pg_sql "$port" "SELECT count(*) FROM pgbench_accounts")" = 0 ] ||
	fail "accounts back after backtracking forward past the DELETE"
[ -z "$(pg_sql "$port" "SELECT to_regclass('public.pgbench_history')")" ] ||
	fail "pgbench_history exists after backtracking forward past the DROP"
[ "$(pg_sql "$port" "SELECT count(*) FROM pgbench_tellers")" = 100 ] ||
	fail "tellers lost after backtracking forward"
step "backtracked forward: the accident is there again"

pg_backtrack_to "$t_ok" "second backtrack to $t_ok"
sums3=$(pg_sums "$port")
[ "$sums3" = "$sums1" ] || fail "tables differ after the second backtrack:
$(diff <(echo "$sums1") <(echo "$sums3"))"
step "backtracked again: rows back"

# Step 5: snapshot, migration, backtrack to the snapshot.
pg_sql "$port" "CHECKPOINT"
"$R" snapshot "$MNT/pg" premigration >/dev/null || fail "snapshot premigration"
pg_sql "$port" "ALTER TABLE pgbench_accounts ADD COLUMN note text DEFAULT 'v1'"
pg_sql "$port" "UPDATE pgbench_accounts SET note = 'v2', abalance = abalance + 1
	WHERE aid <= 200000"
pg_sql "$port" "ALTER TABLE pgbench_tellers DROP COLUMN filler"
[ "$(pg_sql "$port" "SELECT count(*) FROM pgbench_accounts WHERE note = 'v2'")" = 200000 ] ||
	fail "the migration did not run"
step "migration done"
pg_backtrack_to @premigration "backtrack to @premigration"
cols=$(pg_sql "$port" "SELECT table_name || '.' || column_name FROM information_schema.columns
	WHERE table_schema = 'public' AND column_name IN ('note', 'filler') ORDER BY 1")
[ "$cols" = "pgbench_accounts.filler
pgbench_branches.filler
pgbench_history.filler
pgbench_tellers.filler" ] || fail "schema not as before the migration: $cols"
sums4=$(pg_sums "$port")
[ "$sums4" = "$sums1" ] || fail "tables differ after backtracking to the snapshot:
$(diff <(echo "$sums1") <(echo "$sums4"))"
step "backtracked to @premigration: old schema and data"

pg_stop "$D"
"$R" detach "$T/pg" >/dev/null || fail "detach"
e2fsck -fn "$MNT/pg/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the volume"
exit 0
