#!/bin/bash
# PostgreSQL 15 on ext4 on a volume (issue 4, PostgreSQL steps 3 and 4):
#  3. While pgbench -c 4 runs on the source, clone the volume, attach the
#     clone and start a second server on it (another port): it recovers from
#     its WAL, pg_amcheck (heap and every btree index, heapallindexed) finds
#     nothing, and the clone is a consistent pgbench state: every TPC-B
#     transaction adds the same delta to one account, teller and branch and
#     one history row, so the four sums are equal, and no account is lost.
#     Then both are written: neither sees the other's rows.
#  4. A clone from a time before a batch of inserts lacks exactly that batch.
. "$(dirname "$0")/lib.sh"
need_fuse

pgbench() { "$PGBIN/pgbench" -h 127.0.0.1 -U postgres "$@"; }

# The pgbench invariants on the server at PORT: prints "accounts branches
# tellers history_rows" and fails unless the balances add up.
pg_consistent() {
	local port=$1 row
	row=$(pg_sql "$port" "SELECT (SELECT count(*) FROM pgbench_accounts),
		(SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_tellers),
		(SELECT count(*) FROM pgbench_history),
		(SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches),
		(SELECT sum(tbalance) FROM pgbench_tellers),
		(SELECT coalesce(sum(delta), 0) FROM pgbench_history)" | tr '|' ' ')
	read -r na nb nt nh sa sb st sh <<<"$row"
	[ "$na $nb $nt" = "1000000 10 100" ] || fail "rows lost on port $port: $row"
	[ "$sa" = "$sb" ] && [ "$sb" = "$st" ] && [ "$st" = "$sh" ] ||
		fail "inconsistent balances on port $port (accounts branches tellers history): $row"
	echo "$nh"
}

pg_volume_start
pgbench -p "$port" -i -s 10 -q postgres >"$T/log/pgbench-init.log" 2>&1 ||
	fail "pgbench -i -s 10"
step "pgbench -i -s 10 on 127.0.0.1:$port"

# Step 3: the clone under load.
pgbench -p "$port" -c 4 -j 2 -T 20 postgres >"$T/log/pgbench.log" 2>&1 &
load=$!
history_rows() { [ "$(pg_sql "$port" "SELECT count(*) FROM pgbench_history")" -ge "$1" ]; }
wait_for 60 history_rows 300 || fail "pgbench does not get going"
"$R" clone "$MNT/pg" pgc --attach "$T/pgc" >/dev/null || fail "clone --attach under load"
kill -0 "$load" 2>/dev/null || fail "pgbench ended before the clone was taken: the clone was not under load"
step "cloned under load"
C=$T/pgc/data
pg_forget_pid "$C"
port2=$(free_port)
[ "$port2" != "$port" ] || port2=$(free_port)
pg_start "$C" "$port2"
grep -q "database system was interrupted" "$T/log/pg.pgc.log" ||
	fail "the clone's server did not recover from a crash image"
"$PGBIN/pg_amcheck" -h 127.0.0.1 -p "$port2" -U postgres --install-missing \
	--heapallindexed -d postgres >"$T/log/amcheck.log" 2>&1 ||
	fail "pg_amcheck on the clone: $(cat "$T/log/amcheck.log")"
[ ! -s "$T/log/amcheck.log" ] || fail "pg_amcheck reports: $(cat "$T/log/amcheck.log")"
clone_tx=$(pg_consistent "$port2")
[ "$clone_tx" -ge 300 ] || fail "the clone lacks transactions committed before it: $clone_tx"
step "clone recovered, amcheck clean, consistent with $clone_tx transactions"

wait "$load" || fail "pgbench on the source failed: $(tail "$T/log/pgbench.log")"
src_tx=$(pg_consistent "$port")
[ "$src_tx" -gt "$clone_tx" ] || fail "source has $src_tx transactions, clone $clone_tx"
step "source consistent with $src_tx transactions"

# Writes on both sides.
pg_sql "$port" "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler)
	SELECT 1, 1, g, 0, now(), 'source-write' FROM generate_series(1, 100) g"
pg_sql "$port2" "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler)
	SELECT 1, 1, g, 0, now(), 'clone-write' FROM generate_series(1, 50) g"
pg_sql "$port2" "DELETE FROM pgbench_accounts WHERE aid <= 1000"
count() { pg_sql "$1" "SELECT count(*) FROM pgbench_history WHERE filler = '$2'"; }
[ "$(count "$port" source-write)" = 100 ] || fail "source lost its own write"
[ "$(count "$port" clone-write)" = 0 ] || fail "a clone write shows in the source"
[ "$(count "$port2" clone-write)" = 50 ] || fail "clone lost its own write"
[ "$(count "$port2" source-write)" = 0 ] || fail "a source write shows in the clone"
[ "$(pg_sql "$port" "SELECT count(*) FROM pgbench_accounts")" = 1000000 ] ||
	fail "a clone DELETE shows in the source"
[ "$(pg_sql "$port2" "SELECT count(*) FROM pgbench_accounts")" = 999000 ] ||
	fail "the clone's DELETE did not happen"
[ "$(pg_sql "$port2" "SELECT count(*) FROM pgbench_history")" = $((clone_tx + 50)) ] ||
	fail "source transactions after the clone show in the clone"
step "writes on both sides stay on their side"
pg_stop "$C"
"$R" detach "$T/pgc" >/dev/null || fail "detach the clone"
e2fsck -fn "$MNT/pgc/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the clone"

# Step 4: a clone from before a batch.
pg_sql "$port" "CREATE TABLE batch (id int PRIMARY KEY, v text)"
pg_sql "$port" "INSERT INTO batch SELECT g, md5(g::text) FROM generate_series(1, 5000) g"
t_before=$(now)
pg_sql "$port" "INSERT INTO batch SELECT g, md5(g::text) FROM generate_series(5001, 10000) g"
[ "$(pg_sql "$port" "SELECT count(*) FROM batch")" = 10000 ] || fail "batch not inserted"
"$R" clone "$MNT/pg" pgpit "$t_before" --attach "$T/pgpit" >/dev/null ||
	fail "clone from $t_before"
P=$T/pgpit/data
pg_forget_pid "$P"
port3=$(free_port)
pg_start "$P" "$port3"
got=$(pg_sql "$port3" "SELECT count(*) FILTER (WHERE id <= 5000), count(*) FILTER (WHERE id > 5000),
	md5(string_agg(v, '' ORDER BY id)) FROM batch" | tr '|' ' ')
want=$(pg_sql "$port" "SELECT 5000, 0, md5(string_agg(v, '' ORDER BY id)) FROM batch
	WHERE id <= 5000" | tr '|' ' ')
[ "$got" = "$want" ] || fail "point-in-time clone: got '$got', want '$want'"
[ "$(pg_sql "$port" "SELECT count(*) FROM batch")" = 10000 ] || fail "the source lost the batch"
step "point-in-time clone lacks exactly the later batch"

pg_stop "$P"
pg_stop "$D"
"$R" detach "$T/pgpit" >/dev/null || fail "detach the point-in-time clone"
"$R" detach "$T/pg" >/dev/null || fail "detach the source"
e2fsck -fn "$MNT/pg/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the source"
exit 0
