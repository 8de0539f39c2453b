#!/bin/bash
# usage: ab.sh BUILD CYCLES SECS NAME[:VAR=VAL,...]...   paired pgbench A/B of rewindfs variants
set -u
B=$(realpath "$1"); CYCLES=$2; SECS=$3; shift 3; SPECS=("$@")
W=/var/tmp/abpg; PGBIN=/usr/lib/postgresql/15/bin
CTL=$B/tools/rewindctl; export REWINDFS=$B/fs/rewindfs
names=(); for sp in "${SPECS[@]}"; do names+=("${sp%%:*}"); done
pgctl() { su postgres -c "$PGBIN/pg_ctl -D $W/$1/fs/pg -l $W/run/$1.log -w $2" >/dev/null; }
cleanup() {
  for s in "${names[@]}"; do
    su postgres -c "$PGBIN/pg_ctl -D $W/$s/fs/pg -m immediate stop" >/dev/null 2>&1
    mountpoint -q $W/$s/fs && $CTL detach $W/$s/fs >/dev/null 2>&1
    mountpoint -q $W/$s/mnt && $CTL umount $W/$s/mnt >/dev/null
  done
  rm -rf $W
}
trap cleanup EXIT
cleanup
mkdir -p $W/run && chmod 777 $W/run
port=5450
declare -A PIDS
for sp in "${SPECS[@]}"; do
  s=${sp%%:*}; envs=; [[ $sp == *:* ]] && envs=${sp#*:}
  d=$W/$s; mkdir -p $d/fs $d/mnt
  $CTL init $d/pool >/dev/null
  mo=; ev=
  for kv in $(echo $envs | tr ',' ' '); do case $kv in OPT=*) mo="$mo -o ${kv#OPT=}";; *) ev="$ev $kv";; esac; done
  env $ev $CTL mount $d/pool $d/mnt $mo >/dev/null
  $CTL create $d/mnt vol 4G >/dev/null
  $CTL attach $d/mnt/vol $d/fs --mkfs ext4 >/dev/null
  PIDS[$s]=$(awk -F': *' '$1 == "daemon_pid" { print $2 }' $d/mnt/.status)
  install -d -o postgres -g postgres -m 700 $d/fs/pg
  su postgres -c "$PGBIN/initdb -D $d/fs/pg -A trust -U postgres" >/dev/null
  cat >> $d/fs/pg/postgresql.conf <<EOC
listen_addresses = ''
unix_socket_directories = '$W/run'
port = $port
fsync = on
synchronous_commit = on
full_page_writes = on
EOC
  port=$((port + 1))
  pgctl $s start
  p=$(grep -oP '^port = \K\d+' $d/fs/pg/postgresql.conf)
  $PGBIN/pgbench -i -q -s 50 -h $W/run -p $p -U postgres postgres >/dev/null 2>&1
  $PGBIN/psql -X -q -c CHECKPOINT -h $W/run -p $p -U postgres postgres
  pgctl $s stop
done
sync
cpu() { sed 's/.*) //' /proc/$1/stat | awk '{ print $12 + $13 }'; }
echo "cycle variant tps daemon_us_per_tx"
n=${#names[@]}
for c in $(seq 1 $CYCLES); do
  for k in $(seq 0 $((n - 1))); do
    s=${names[$(( (k + c - 1) % n ))]}
    p=$(grep -oP '^port = \K\d+' $W/$s/fs/pg/postgresql.conf)
    pgctl $s start
    c0=$(cpu ${PIDS[$s]})
    out=$($PGBIN/pgbench -c 4 -j 2 -T $SECS -h $W/run -p $p -U postgres postgres 2>&1)
    c1=$(cpu ${PIDS[$s]})
    pgctl $s stop
    tps=$(echo "$out" | grep -oP 'tps = \K[0-9.]+(?= \(without)')
    tx=$(echo "$out" | grep -oP 'actually processed: \K\d+')
    echo "$c $s $tps $(( (c1 - c0) * 10000 * 1000 / tx / 1000 ))"
  done
done
