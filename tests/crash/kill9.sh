#!/bin/bash
# kill -9 of the daemon under a writer that syncs every record (issue 6
# item 1), round after round on one pool:
#
#   round r: a writer appends to a file in ext4 on volume v and logs, in $T
#   (outside the pool), every record whose sync returned; the daemon is
#   killed with SIGKILL at a random moment (a random number K of
#   acknowledgements, then a random delay of 0-20 ms, both drawn from a
#   seeded generator: the seed is printed and CRASH_SEED replays it);
#   `rewindctl detach` clears the ext4 mount and the loop device left on the
#   dead FUSE file, fusermount3 -u the dead pool mount; `rewindctl check` on
#   the unmounted pool must find nothing; a new daemon serves the pool; then
#     attach        ext4 replays its journal (e2fsck -n cannot: read-only, it
#                   skips the replay and would judge a state the next mount
#                   changes anyway);
#     detach        a clean unmount: the journal is empty, the superblock
#                   marked clean;
#     e2fsck -fn    on the block file, forced full check, no changes: must
#                   be clean, i.e. the filesystem the kill left is consistent;
#     attach        and every record acknowledged in rounds 1..r must be
#                   there, intact (records.py: checksummed, numbered records
#                   with a payload derived from their number).
#   The next round writes on that attachment. After the last: detach, a
#   clean unmount (the daemon must exit 0) and a last `rewindctl check`.
#
# Writers (CRASH_WRITER):
#   records   (default) tests/crash/records.py: fsync, fdatasync or O_DSYNC
#             per round (drawn), records of 33..6032 bytes, plus unsynced
#             metadata churn.
#   pgbench   PostgreSQL 15 (data checksums on) on the volume; 4 pgbench
#             clients insert (round, client, n, md5) rows, one per
#             autocommit transaction; `pgbench -l` logs every committed
#             transaction, and every one must be a row after recovery
#             (PostgreSQL runs its crash recovery at each start); pg_amcheck
#             checks the table and its index. Some rounds run a CHECKPOINT
#             as the kill comes.
#
# Environment: CRASH_ROUNDS (10), CRASH_WRITER (records), CRASH_SEED
# (random), CRASH_MAX_K (records 250, pgbench 1500: the largest K). The CI
# form is the default (10 rounds of records: 20-50 s plain, 2-3x that under
# ASan, on a busy 2-core machine); tools/crash-loop runs the long form (100
# rounds of pgbench).
. "$(dirname "$0")/lib.sh"
need_fuse

HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${CRASH_ROUNDS:-10}
WRITER=${CRASH_WRITER:-records}
SEED=${CRASH_SEED:-$(($(od -An -N4 -tu4 /dev/urandom) % 1000000000))}
case "$WRITER" in
records) MAXK=${CRASH_MAX_K:-250} SIZE=256M ;;
pgbench) MAXK=${CRASH_MAX_K:-1500} SIZE=1G ;;
*) fail "CRASH_WRITER must be records or pgbench, not $WRITER" ;;
esac
echo "seed $SEED: replay with CRASH_SEED=$SEED CRASH_WRITER=$WRITER CRASH_ROUNDS=$ROUNDS"
RANDOM=$SEED
DATA=$T/data
VOL=$MNT/v/volume

# ------------------------------------------------------------ records writer
records_setup() { :; }

# records_round R: write until the kill; the acknowledged numbers are in
# $T/ack.R.
records_round() {
	local r=$1 modes=(fsync fdatasync dsync) mode k delay w seen
	mode=${modes[RANDOM % 3]}
	k=$((1 + RANDOM % MAXK))
	delay=$((RANDOM % 20000))
	python3 "$HERE/records.py" write "$DATA/r$r.dat" "$T/ack.$r" "$r" "$mode" "$SEED" \
		>"$T/log/writer.$r" 2>&1 &
	w=$!
	seen=$(python3 "$HERE/records.py" kill "$T/ack.$r" "$k" "$delay" "$DAEMON" "$w") ||
		fail "round $r: no kill (seed $SEED): $(cat "$T/log/writer.$r")"
	daemon_kill
	wait_for 60 eval "! kill -0 $w 2>/dev/null" || fail "round $r: the writer hangs (seed $SEED)"
	wait "$w" || fail "round $r: writer: $(cat "$T/log/writer.$r") (seed $SEED)"
	step "round $r: $mode, killed at $seen+ acks (K=$k, +${delay} us): $(cat "$T/log/writer.$r")"
}

records_verify() {
	local r=$1 i args=() out
	for i in $(seq 1 "$r"); do args+=("$DATA/r$i.dat" "$T/ack.$i" "$i"); done
	out=$(bounded 600 "round $r: verify" python3 "$HERE/records.py" verify "${args[@]}") ||
		fail "after round $r: acknowledged records lost (seed $SEED)"
	step "verified rounds 1..$r; $(tail -n 1 <<<"$out")"
}

records_acked() { cat "$T"/ack.* | wc -l; }

# ------------------------------------------------------------ pgbench writer
PGD=$DATA/pg
PORT=

free_port() {
	local i p
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	fail "no free port found"
}

psql_q() {
	"$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -X -A -t -q \
		-v ON_ERROR_STOP=1 "$@"
}

# Start the server of $PGD (crash recovery after a kill); postmaster.pid is
# that of a server known dead.
pg_up() {
	rm -f "$PGD/postmaster.pid"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGD" -l "$T/log/pg.log" -w -t 300 \
		-o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null || {
		stat "$PGD/postgresql.conf" >&2
		tail -c 400 "$PGD/postgresql.conf" | od -A d -c | tail -n 12 >&2
		fail "pg_ctl start (seed $SEED)"
	}
}

pg_down() {
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGD" -m fast -w -t 300 stop >/dev/null ||
		fail "pg_ctl stop"
}

pgbench_setup() {
	command -v "$PGBIN/pgbench" >/dev/null || fail "no $PGBIN/pgbench (postgresql-15)"
	install -d -o postgres -g postgres -m 700 "$PGD"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGD" -k -A trust -U postgres \
		>"$T/log/initdb.log" 2>&1 || fail "initdb"
	cat >>"$PGD/postgresql.conf" <<-EOF
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		max_wal_size = 256MB
		min_wal_size = 64MB
		checkpoint_timeout = 30s
		restart_after_crash = off
	EOF
	# initdb synced its files; these lines must be durable too. Unsynced, an
	# append inside the file's last allocated block may come back as zeros
	# after the kill (ext4 ordered mode: the size is journaled at once, the
	# data waits for writeback; seen here: "syntax error ... line 816").
	sync "$PGD/postgresql.conf"
	PORT=$(free_port)
	pg_up
	psql_q -c "CREATE TABLE rec (round int, client int, n int, payload text,
		PRIMARY KEY (round, client, n))" || fail "CREATE TABLE"
	# One autocommit INSERT per transaction; n counts this client's
	# transactions (pgbench keeps a client's variables from one to the next).
	cat >"$T/insert.sql" <<-'EOF'
		\set n :n + 1
		INSERT INTO rec VALUES (:round, :client_id, :n, md5(:round || ':' || :client_id || ':' || :n));
	EOF
	mkdir -p "$T/pgb"
	: >"$T/expected"
}

rows_at_least() {
	[ "$(psql_q -c "SELECT count(*) >= $2 FROM rec WHERE round = $1" 2>/dev/null)" = t ]
}

# pgbench_round R: pgbench until the kill; `-l` logs each committed
# transaction ("client_id transaction_no time ..."); their counts per client
# go to $T/expected as "R client count".
pgbench_round() {
	local r=$1 k delay ckpt b pids
	k=$((1 + RANDOM % MAXK))
	delay=$((RANDOM % 20000))
	ckpt=$((RANDOM % 3))
	"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 4 -j 2 -T 3600 \
		-f "$T/insert.sql" -D round="$r" -D n=0 -l --log-prefix="$T/pgb/r$r" postgres \
		>"$T/log/pgbench.$r" 2>&1 &
	b=$!
	wait_for 120 rows_at_least "$r" "$k" || fail "round $r: fewer than $k rows in 120 s"
	[ "$ckpt" = 0 ] && { psql_q -c CHECKPOINT >/dev/null 2>&1 & }
	# Not synchronisation: the random moment of the kill.
	sleep "$(printf '0.%06d' "$delay")"
	daemon_kill
	# The server PANICs on its failed fsync; pgbench's clients abort.
	wait_for 120 eval "! kill -0 $b 2>/dev/null" || fail "round $r: pgbench hangs after the kill"
	wait "$b" && fail "round $r: pgbench ended cleanly, before the kill"
	pids=$(pids_of_test servers)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	wait_for 60 eval '[ -z "$(pids_of_test servers)" ]' || fail "round $r: processes left"
	# "R client count" per client, and the logs must number each client's
	# transactions 1..count, as n counts them (else the acknowledged set is
	# not known).
	cat "$T/pgb/r$r".* 2>/dev/null | awk -v r="$r" '
		{ if ($2 != cnt[$1] + 1) bad = 1; cnt[$1]++ }
		END { for (c in cnt) print r, c, cnt[c]; exit bad }' >"$T/exp.$r" ||
		fail "round $r: pgbench logs do not number transactions 1..N"
	cat "$T/exp.$r" >>"$T/expected"
	step "round $r: K=$k +${delay} us$([ "$ckpt" = 0 ] && echo ", CHECKPOINT"):" \
		"$(awk '{ s += $3 } END { print s + 0 }' "$T/exp.$r") transactions committed"
}

pgbench_verify() {
	local r=$1 bad
	pg_up
	# Every committed transaction of every round has its row, with the right
	# payload; no row beyond the one transaction per client that may have
	# been in flight.
	bad=$(psql_q <<-EOF
		CREATE TEMP TABLE exp (round int, client int, l int);
		\copy exp FROM '$T/expected' WITH (DELIMITER ' ')
		SELECT 'lost', e.round, e.client, e.l, count(x.n)
		  FROM exp e LEFT JOIN rec x ON x.round = e.round AND x.client = e.client
		   AND x.n BETWEEN 1 AND e.l
		   AND x.payload = md5(x.round || ':' || x.client || ':' || x.n)
		 GROUP BY 1, 2, 3, 4 HAVING count(x.n) <> e.l;
		SELECT 'extra', x.round, x.client, max(x.n), coalesce(max(e.l), 0)
		  FROM rec x LEFT JOIN exp e ON e.round = x.round AND e.client = x.client
		 GROUP BY 1, 2, 3 HAVING max(x.n) > coalesce(max(e.l), 0) + 1;
		SELECT 'bad', round, client, n FROM rec
		 WHERE payload IS DISTINCT FROM md5(round || ':' || client || ':' || n);
	EOF
	) || fail "after round $r: the verification query failed (seed $SEED)"
	[ -z "$bad" ] || fail "after round $r (seed $SEED): $bad"
	"$PGBIN/pg_amcheck" -h 127.0.0.1 -p "$PORT" -U postgres --install-missing \
		--heapallindexed postgres >"$T/log/amcheck.out" 2>&1 ||
		{ cat "$T/log/amcheck.out" >&2; fail "after round $r: pg_amcheck (seed $SEED)"; }
	step "round $r: verified: $(psql_q -c "SELECT count(*) FROM rec") rows," \
		"$(awk '{ s += $3 } END { print s + 0 }' "$T/expected") committed"
}

pgbench_acked() { awk '{ s += $3 } END { print s + 0 }' "$T/expected"; }

# ------------------------------------------------------------ the loop
# In a function, called on the file's last line: bash has read the whole
# script before the loop starts, so editing it during a long run is safe.
main() {
	"$R" init "$POOL" >/dev/null || fail "rewindctl init"
	daemon_start
	"$R" create "$MNT" v "$SIZE" >/dev/null || fail "create"
	"$R" attach "$MNT/v" "$DATA" --mkfs ext4 >/dev/null || fail "attach --mkfs ext4"
	"${WRITER}_setup"
	step "pool, volume v ($SIZE, ext4), $WRITER writer ready"

	for r in $(seq 1 "$ROUNDS"); do
		"${WRITER}_round" "$r"
		clear_dead "$DATA"
		pool_check "after the kill of round $r, seed $SEED"
		step "round $r: rewindctl check: $CHECK_SUMMARY"
		daemon_start
		bounded 600 "round $r: attach (journal replay)" "$R" attach "$MNT/v" "$DATA" >/dev/null ||
			fail "round $r: attach after the kill (seed $SEED)"
		bounded 600 "round $r: detach after the replay" "$R" detach "$DATA" >/dev/null ||
			fail "round $r: detach after the replay (seed $SEED)"
		bounded 600 "round $r: e2fsck" e2fsck -fn "$VOL" >"$T/log/e2fsck.$r" 2>&1 ||
			{ cat "$T/log/e2fsck.$r" >&2; fail "round $r: e2fsck -fn not clean (seed $SEED)"; }
		step "round $r: journal replayed, e2fsck -fn clean"
		bounded 600 "round $r: attach" "$R" attach "$MNT/v" "$DATA" >/dev/null ||
			fail "round $r: attach again (seed $SEED)"
		"${WRITER}_verify" "$r"
	done

	[ "$WRITER" = pgbench ] && pg_down
	bounded 600 "final detach" "$R" detach "$DATA" >/dev/null || fail "final detach"
	daemon_stop
	pool_check "after a clean unmount"
	step "$ROUNDS rounds, seed $SEED: $("${WRITER}_acked") acknowledged (records or" \
		"transactions), all verified; e2fsck clean $ROUNDS times; rewindctl check clean $CHECK_RUNS times"
}

main "$@"; exit $?
