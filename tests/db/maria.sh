#!/bin/bash
# MariaDB (InnoDB with its defaults, O_DIRECT) on ext4 on a volume (issue 4,
# MariaDB steps 1, 2 and 3):
#  1. mariadb-install-db, a generated table of 100k rows (plus the accounts
#     of step 3), CHECKSUM TABLE of each.
#  2. The accident, DROP TABLE, after noting the time. Stop, backtrack,
#     start: the checksums equal step 1's. Forward to after the DROP: the
#     table is gone; back once more: it returns, equal.
#  3. While four clients move money between accounts (each transfer one
#     transaction: two updates and a history row), clone the volume, attach
#     it and start a second mariadbd on it: InnoDB recovers, CHECK TABLE says
#     OK, every balance equals what the history says and the sum is 0, and
#     the 100k-row table is intact. Then both are written: neither sees the
#     other's rows.
. "$(dirname "$0")/lib.sh"
need_fuse

# CHECKSUM TABLE of every table of database app, "name checksum" lines.
sums() { maria_sql "$1" "CHECKSUM TABLE app.t, app.acct, app.hist EXTENDED"; }

start_pool
ext4_volume my 4G "$T/my" "attach --mkfs ext4"
D=$T/my/data
maria_init "$D"
port=$(free_port)
maria_start "$D" "$port"
[ "$(maria_sql "$D" "SELECT @@innodb_flush_method, @@default_storage_engine, @@port")" = \
	"$(printf 'O_DIRECT\tInnoDB\t%s' "$port")" ] ||
	fail "not InnoDB with O_DIRECT on port $port: $(maria_sql "$D" "SELECT @@innodb_flush_method, @@default_storage_engine, @@port")"
step "mariadbd up on 127.0.0.1:$port (InnoDB, O_DIRECT)"

# Stop the server, backtrack the volume to TIME (else fail with WHAT), start
# the server again.
maria_backtrack_to() {
	maria_stop "$D"
	"$R" backtrack "$MNT/my" "$1" || fail "$2"
	maria_start "$D" "$port"
}

# Step 1.
maria_sql "$D" "CREATE DATABASE app;
	CREATE TABLE app.t (id INT PRIMARY KEY, v CHAR(32) NOT NULL, n BIGINT NOT NULL, KEY (n));
	INSERT INTO app.t SELECT seq, md5(seq), seq * 7919 % 100003 FROM seq_1_to_100000;
	CREATE TABLE app.acct (id INT PRIMARY KEY, bal BIGINT NOT NULL);
	INSERT INTO app.acct SELECT seq, 0 FROM seq_1_to_100;
	CREATE TABLE app.hist (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL,
		b INT NOT NULL, amt INT NOT NULL, who VARCHAR(16) NOT NULL DEFAULT 'load');"
[ "$(maria_sql "$D" "SELECT count(*) FROM app.t")" = 100000 ] || fail "100k rows not inserted"
sums1=$(sums "$D")
echo "$sums1"
step "100k rows"

# Step 2: DROP TABLE, back, forward, back.
t_ok=$(now)
maria_sql "$D" "DROP TABLE app.t"
t_bad=$(now)
maria_backtrack_to "$t_ok" "backtrack to $t_ok"
sums2=$(sums "$D")
[ "$sums2" = "$sums1" ] || fail "checksums differ after the backtrack:
$(diff <(echo "$sums1") <(echo "$sums2"))"
step "backtracked: the table is back, equal"

maria_backtrack_to "$t_bad" "backtrack forward to $t_bad"
# DROP TABLE returns once InnoDB's redo log is synced; the unlink of t.frm
# reaches the disk with ext4's next journal commit. So a power cut right
# after it (which is what this point is) may leave the .frm, and MariaDB then
# says "doesn't exist in engine" instead of "doesn't exist": the rows are
# gone either way, and that is what this checks.
out=$(maria_sql "$D" "SELECT count(*) FROM app.t" 2>&1) &&
	fail "app.t readable after backtracking forward past the DROP: $out"
[[ "$out" == *"app.t' doesn't exist"* ]] || fail "unexpected error reading app.t: $out"
[ "$(maria_sql "$D" "SELECT count(*) FROM app.acct")" = 100 ] ||
	fail "app.acct lost after backtracking forward"
step "backtracked forward: dropped again"

maria_backtrack_to "$t_ok" "second backtrack to $t_ok"
sums3=$(sums "$D")
[ "$sums3" = "$sums1" ] || fail "checksums differ after the second backtrack:
$(diff <(echo "$sums1") <(echo "$sums3"))"
step "backtracked again: equal"

# Step 3: transfers from four clients, a clone while they run.
# Each client stops at the flag file $T/stop (or after 20000 transfers).
# Rows are locked in id order, so transfers never deadlock.
loader() {
	local i a b amt
	for i in $(seq 1 20000); do
		[ -e "$T/stop" ] && break
		a=$((RANDOM % 100 + 1))
		b=$((RANDOM % 100 + 1))
		amt=$((RANDOM % 1000 + 1))
		[ "$a" = "$b" ] && continue
		if [ "$a" -lt "$b" ]; then
			echo "BEGIN; UPDATE app.acct SET bal = bal - $amt WHERE id = $a;
				UPDATE app.acct SET bal = bal + $amt WHERE id = $b;"
		else
			echo "BEGIN; UPDATE app.acct SET bal = bal + $amt WHERE id = $b;
				UPDATE app.acct SET bal = bal - $amt WHERE id = $a;"
		fi
		echo "INSERT INTO app.hist (a, b, amt) VALUES ($a, $b, $amt); COMMIT;"
	done | maria_sql "$D"
}
loads=()
for c in 1 2 3 4; do
	loader >"$T/log/loader$c.log" 2>&1 &
	loads+=($!)
done
transfers() { [ "$(maria_sql "$D" "SELECT count(*) FROM app.hist")" -ge "$1" ]; }
wait_for 60 transfers 200 || fail "the transfers do not get going"
# InnoDB makes a commit visible to other sessions before its redo log is
# flushed (the committing client waits for the flush): of the transfers
# counted here, each client may have one that is not durable yet, so the
# clone taken after this count holds at least seen - 4 of them.
seen=$(maria_sql "$D" "SELECT count(*) FROM app.hist")
"$R" clone "$MNT/my" myc --attach "$T/myc" >/dev/null || fail "clone --attach under load"
for pid in "${loads[@]}"; do
	kill -0 "$pid" 2>/dev/null || fail "a loader ended before the clone: not taken under load"
done
step "cloned under load"
wait_for 60 transfers "$(($(maria_sql "$D" "SELECT count(*) FROM app.hist") + 200))" ||
	fail "the transfers stopped after the clone"
touch "$T/stop"
for pid in "${loads[@]}"; do
	wait "$pid" || fail "a loader failed: $(cat "$T"/log/loader*.log)"
done

C=$T/myc/data
port2=$(free_port)
[ "$port2" != "$port" ] || port2=$(free_port)
maria_start "$C" "$port2"
grep -q "Starting crash recovery" "$T/log/maria.myc.log" ||
	fail "the clone's server did not recover from a crash image"
# What each server says is consistent.
check_db() {
	local dir=$1 out
	out=$(maria_sql "$dir" "CHECK TABLE app.t, app.acct, app.hist EXTENDED")
	[ "$(echo "$out" | awk '$3 == "status" && $4 == "OK"' | wc -l)" = 3 ] ||
		fail "CHECK TABLE on $dir: $out"
	[ "$(maria_sql "$dir" "SELECT sum(bal) FROM app.acct")" = 0 ] ||
		fail "money created or lost on $dir"
	[ "$(maria_sql "$dir" "SELECT count(*) FROM app.acct x WHERE x.bal <>
		(SELECT coalesce(sum(amt), 0) FROM app.hist WHERE b = x.id) -
		(SELECT coalesce(sum(amt), 0) FROM app.hist WHERE a = x.id)")" = 0 ] ||
		fail "balances do not match the history on $dir"
	[ "$(maria_sql "$dir" "CHECKSUM TABLE app.t EXTENDED")" = \
		"$(echo "$sums1" | grep '^app\.t	')" ] || fail "app.t changed on $dir"
	maria_sql "$dir" "SELECT count(*) FROM app.hist"
}
clone_tx=$(check_db "$C")
src_tx=$(check_db "$D")
[ "$clone_tx" -ge $((seen - 4)) ] ||
	fail "the clone lacks transfers committed before it: $clone_tx, $seen seen before the clone"
[ "$src_tx" -gt "$clone_tx" ] || fail "source has $src_tx transfers, clone $clone_tx"
step "clone recovered and consistent ($clone_tx transfers; source $src_tx)"

# Writes on both sides.
maria_sql "$D" "INSERT INTO app.hist (a, b, amt, who) SELECT 1, 1, 0, 'source' FROM seq_1_to_100"
maria_sql "$C" "INSERT INTO app.hist (a, b, amt, who) SELECT 1, 1, 0, 'clone' FROM seq_1_to_50;
	DELETE FROM app.t WHERE id <= 1000"
count() { maria_sql "$1" "SELECT count(*) FROM app.hist WHERE who = '$2'"; }
[ "$(count "$D" source)" = 100 ] || fail "source lost its own write"
[ "$(count "$D" clone)" = 0 ] || fail "a clone write shows in the source"
[ "$(count "$C" clone)" = 50 ] || fail "clone lost its own write"
[ "$(count "$C" source)" = 0 ] || fail "a source write shows in the clone"
[ "$(maria_sql "$D" "SELECT count(*) FROM app.t")" = 100000 ] || fail "a clone DELETE shows in the source"
[ "$(maria_sql "$C" "SELECT count(*) FROM app.t")" = 99000 ] || fail "the clone's DELETE did not happen"
[ "$(maria_sql "$C" "SELECT count(*) FROM app.hist")" = $((clone_tx + 50)) ] ||
	fail "source transfers after the clone show in the clone"
step "writes on both sides stay on their side"

maria_stop "$C"
maria_stop "$D"
"$R" detach "$T/myc" >/dev/null || fail "detach the clone"
"$R" detach "$T/my" >/dev/null || fail "detach the source"
e2fsck -fn "$MNT/myc/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the clone"
e2fsck -fn "$MNT/my/volume" >"$T/log/fsck.log" 2>&1 || fail "e2fsck of the source"
exit 0
