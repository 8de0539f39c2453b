# tests/db/lib.sh - sourced by every test of tests/db/ (suite 'db').
#
# Contract: the test gets $REWINDCTL (and optionally $REWINDFS) from meson,
# a private temp folder $T (mktemp -d, mode 0755 so that the servers' own
# users can reach their data directories under it; tests run in parallel),
# a pool at $POOL mounted at $MNT by start_pool, and a trap that on any exit:
#   1. kills the test's background jobs (load generators, writers);
#   2. stops every server it started (pg_start, maria_start) and then kills
#      whatever still runs with its working directory or command line under
#      $T, except the rewindfs daemon;
#   3. unmounts the filesystems attached under $T, detaches their loop
#      devices, unmounts the pool, waits a bounded time for the daemon to
#      exit (then SIGKILL);
#   4. on failure prints the tail of every server log, then removes $T.
# Servers run as their own users (postgres, mysql; SQLite as nobody) on free
# ports of 127.0.0.1. Nothing sleeps to synchronise: helpers poll for a
# condition in bounded loops. The helpers shared with tests/tools (fail,
# wait_for, is_mounted, now, mounts_under, loops_under, ...) are in
# tests/common.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# As need_dev_fuse, and root. A missing database server is a failure:
# tools/install-deps --test installs them.
need_fuse() {
	need_dev_fuse
	[ "$(id -u)" = 0 ] || fail "the database tests run as root (loop devices, runuser)"
}

T=$(mktemp -d /tmp/rewindfs-db.XXXXXX)
chmod 755 "$T"
POOL=$T/pool
# Servers started for the test are found by their working directory too.
PIDS_BY_CWD=1
MNT=$T/mnt
# Logs and sockets, writable by the servers' users.
mkdir -m 1777 "$T/log" "$T/run"

# A TCP port of 127.0.0.1 that nothing listens on, picked at random in
# 20000..59999 (random, so tests running in parallel do not pick the same).
free_port() {
	local i p
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	fail "no free port found"
}

# Commands run first by the trap, to stop servers cleanly (newest first).
STOP_HOOKS=()

# Kill PIDS with SIGTERM, wait up to 10 s for them to go, then SIGKILL.
kill_wait() {
	local pid i alive
	[ $# = 0 ] && return 0
	kill "$@" 2>/dev/null
	for i in $(seq 1 200); do
		alive=""
		for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && return 0
		sleep 0.05
	done
	kill -9 "$@" 2>/dev/null
	return 0
}

cleanup() {
	local rc=$? dir type f pid n log
	set +e
	trap - EXIT
	for pid in $(jobs -p); do kill "$pid" 2>/dev/null; done
	for ((n = ${#STOP_HOOKS[@]} - 1; n >= 0; n--)); do
		eval "${STOP_HOOKS[n]}" >/dev/null 2>&1
	done
	kill_wait $(pids_of_test servers)
	# Filesystems attached on volumes first, the pool mount last.
	mounts_under | while read -r dir type; do
		[ "$type" = fuse.rewindfs ] || [ "$dir" = "$MNT" ] && continue
		umount "$dir" 2>/dev/null || umount -l "$dir"
	done
	for f in $(loops_under); do losetup -d "$f"; done
	mounts_under | while read -r dir type; do
		fusermount3 -u "$dir" 2>/dev/null || umount "$dir" 2>/dev/null ||
			umount -l "$dir"
	done
	kill_test_daemons
	# The daemon, detached by `rewindctl mount`, wrote its stderr here.
	sanitizer_report "$POOL/rewindfs.log" && rc=1
	if [ "$rc" != 0 ]; then
		for log in "$T"/log/* "$POOL/rewindfs.log"; do
			[ -f "$log" ] || continue
			echo "---- last lines of ${log#"$T"/}" >&2
			tail -n 25 "$log" >&2
		done
	fi
	rm_test_dir "$T"
	if [ "$rc" = 0 ]; then echo "PASS"; fi
	exit "$rc"
}
trap cleanup EXIT
# A signal is a failure: the EXIT trap must not see a status of 0.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# meson's timeout sends SIGTERM: leave through the EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# A pool at $POOL mounted at $MNT.
start_pool() { start_pool_ctl; }

# Progress with timing: "  N.N s  WHAT" lines on stdout (meson keeps them in
# the test log), N seconds since the test started.
STEP_START=$(date +%s.%N)
step() {
	local t
	t=$(date +%s.%N)
	awk -v a="$STEP_START" -v b="$t" -v m="$*" 'BEGIN { printf "%6.1f s  %s\n", b - a, m }'
}

# ---------------------------------------------------------------- PostgreSQL
# pg_* take the data directory DIR, at $T/NAME/data where NAME is the
# volume; the server of DIR listens on 127.0.0.1 at the port given to
# pg_start, and on a socket in $T/run; its log is $T/log/pg.NAME.log.

as_postgres() { runuser -u postgres -- "$@"; }

# initdb DIR (its parent must exist and be writable by postgres).
pg_init() {
	install -d -o postgres -g postgres -m 700 "$1"
	as_postgres "$PGBIN/initdb" -D "$1" -A trust -U postgres \
		>"$T/log/initdb.$(basename "$(dirname "$1")").log" 2>&1 ||
		fail "initdb $1"
}

# pg_start DIR PORT: start the server of DIR, wait until pg_isready.
pg_start() {
	local dir=$1 port=$2 name
	name=$(basename "$(dirname "$dir")")
	STOP_HOOKS+=("pg_stop_now '$dir'")
	as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$T/log/pg.$name.log" -w -t 300 \
		-o "-p $port -k $T/run -c listen_addresses=127.0.0.1" start >/dev/null ||
		fail "pg_ctl start $dir"
	wait_for 120 "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" ||
		fail "server of $dir not ready on port $port"
}

# A pool, volume pg of 4G formatted ext4 and attached at $T/pg, a new
# cluster in D=$T/pg/data and its server started on a free port (sets D and
# port).
pg_volume_start() {
	start_pool
	ext4_volume pg 4G "$T/pg" "attach --mkfs ext4"
	D=$T/pg/data
	pg_init "$D"
	port=$(free_port)
	pg_start "$D" "$port"
}

# pg_stop DIR: clean shutdown (a checkpoint), waits until it is down.
pg_stop() {
	as_postgres "$PGBIN/pg_ctl" -D "$1" -m fast -w -t 300 stop >/dev/null ||
		fail "pg_ctl stop $1"
}

# For the trap: an immediate shutdown (SIGQUIT) of the server of DIR if one
# runs. postmaster.pid may be stale (a backtrack brings back an old one), so
# the pid is signalled only if it is a postgres whose working directory is DIR.
pg_stop_now() {
	local pid
	[ -f "$1/postmaster.pid" ] || return 0
	pid=$(head -n 1 "$1/postmaster.pid")
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 0
	[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$1" ] || return 0
	kill -QUIT "$pid"
	wait_for 30 eval "! kill -0 $pid 2>/dev/null"
}

# After a backtrack or a clone the data directory holds the postmaster.pid
# of the server that ran then. Its pid may be alive (the source of a clone
# still runs) or reused, and pg_ctl would refuse: the server of DIR is known
# to be stopped, so the file goes (doc/databases.md says the same).
pg_forget_pid() { rm -f "$1/postmaster.pid"; }

# psql PORT SQL...: run SQL as postgres over TCP, print unaligned tuples.
pg_sql() {
	local port=$1
	shift
	"$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -X -A -t -q \
		-v ON_ERROR_STOP=1 -c "$*"
}

# Checksums of the content of every table of schema public, one line per
# table: "name rows md5", rows ordered by their text, so that two databases
# with equal content print the same lines.
pg_sums() {
	local port=$1 t
	for t in $(pg_sql "$port" "SELECT tablename FROM pg_tables
			WHERE schemaname = 'public' ORDER BY tablename"); do
		pg_sql "$port" "SELECT '$t', count(*),
			coalesce(md5(string_agg(md5(x::text), '' ORDER BY x::text)), '-')
			FROM public.$t x" | tr '|' ' '
	done
}

# ---------------------------------------------------------------- MariaDB
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}

# maria_init DIR: mariadb-install-db as mysql (root@localhost authenticates
# by unix socket, so root's mariadb client gets in without a password).
maria_init() {
	install -d -o mysql -g mysql -m 750 "$1"
	runuser -u mysql -- mariadb-install-db --no-defaults --datadir="$1" \
		--auth-root-authentication-method=socket --skip-test-db \
		>"$T/log/install-db.$(basename "$(dirname "$1")").log" 2>&1 ||
		fail "mariadb-install-db $1"
}

# The socket of the server of DIR.
maria_sock() { echo "$T/run/$(basename "$(dirname "$1")").sock"; }

# maria_start DIR PORT: start mariadbd (as mysql, InnoDB defaults, nothing
# from /etc/mysql) in the background, wait until mariadb-admin ping answers.
maria_start() {
	local dir=$1 port=$2 name sock
	name=$(basename "$(dirname "$dir")")
	sock=$(maria_sock "$dir")
	STOP_HOOKS+=("maria_stop_now '$dir'")
	runuser -u mysql -- "$MARIADBD" --no-defaults --datadir="$dir" \
		--port="$port" --bind-address=127.0.0.1 --socket="$sock" \
		--pid-file="$T/run/$name.pid" --log-error="$T/log/maria.$name.log" \
		</dev/null >/dev/null 2>&1 &
	echo $! >"$T/run/$name.launcher"
	wait_for 300 maria_ping "$dir" || fail "mariadbd on $dir does not answer"
}

maria_ping() { mariadb-admin --no-defaults --socket="$(maria_sock "$1")" ping >/dev/null 2>&1; }

# The pid of the mariadbd of DIR ("" when it is not running).
maria_pid() {
	local f pid
	f=$T/run/$(basename "$(dirname "$1")").pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mariadbd ] && echo "$pid"
	return 0
}

# maria_stop DIR: clean shutdown; waits until the process is gone.
maria_stop() {
	local pid
	pid=$(maria_pid "$1")
	[ -n "$pid" ] || fail "no mariadbd runs on $1"
	mariadb-admin --no-defaults --socket="$(maria_sock "$1")" shutdown ||
		fail "mariadb-admin shutdown ($1)"
	wait_for 300 eval "! kill -0 $pid 2>/dev/null" || fail "mariadbd $pid does not stop"
	# Reap the launcher (runuser, a job of this shell).
	wait "$(cat "$T/run/$(basename "$(dirname "$1")").launcher")" 2>/dev/null || true
}

maria_stop_now() {
	local pid
	pid=$(maria_pid "$1")
	[ -n "$pid" ] && kill_wait "$pid"
	return 0
}

# maria_sql DIR [SQL...]: run SQL (without SQL: stdin) as root over the
# socket of DIR's server, in database mysql (so seq_1_to_N works); prints
# tab-separated rows without column names.
maria_sql() {
	local dir=$1
	shift
	if [ $# -gt 0 ]; then
		mariadb --no-defaults --socket="$(maria_sock "$dir")" -N -B -D mysql -e "$*"
	else
		mariadb --no-defaults --socket="$(maria_sock "$dir")" -N -B -D mysql
	fi
}
