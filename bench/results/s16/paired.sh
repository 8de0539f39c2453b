#!/bin/bash
# usage: paired.sh BUILD CYCLES SECS STACK...
#   STACK: native fusepass bindfs rewindfs rewindfs-wt (rewindfs -o writethrough)
# Paired pgbench runs for a disk whose speed drifts (2026-12-06: 8 KiB
# fdatasyncs moved between 1,200 and 2,700/s within 40 s): every stack is set
# up at once (a 4 GiB image each, ext4 on a direct-I/O loop device, a
# PostgreSQL 15 cluster at pgbench scale 50, fsync/synchronous_commit/
# full_page_writes on), then each cycle runs pgbench (4 clients, 2 threads,
# SECS s) on one stack after the other, in an order rotated every cycle,
# only that stack's server up. Each cycle's ratios compare runs minutes
# apart at most; the medians of those are the figures.
set -u
B=$(realpath "$1"); CYCLES=$2; SECS=$3; shift 3; STACKS=("$@")
W=/var/tmp/paired; PGBIN=/usr/lib/postgresql/15/bin
CTL=$B/tools/rewindctl; export REWINDFS=$B/fs/rewindfs
OUT=${OUT:-/dev/stdout}
pgctl() { su postgres -c "$PGBIN/pg_ctl -D $W/$1/fs/pg -l $W/run/$1.log -w $2" >/dev/null; }
cleanup() {
  for s in "${STACKS[@]}"; do
    su postgres -c "$PGBIN/pg_ctl -D $W/$s/fs/pg -m immediate stop" >/dev/null 2>&1
    if mountpoint -q $W/$s/fs; then
      if [[ $s == rewindfs* ]]; then $CTL detach $W/$s/fs >/dev/null 2>&1
      else L=$(findmnt -no SOURCE $W/$s/fs); umount $W/$s/fs; losetup -d $L; fi
    fi
    mountpoint -q $W/$s/mnt && { [[ $s == rewindfs* ]] && $CTL umount $W/$s/mnt >/dev/null || umount $W/$s/mnt; }
  done
  rm -rf $W
}
trap cleanup EXIT
cleanup
mkdir -p $W/run && chmod 777 $W/run
port=5440
declare -A PIDS
cpu() { [ -n "$1" ] && sed 's/.*) //' /proc/$1/stat | awk '{ print $12 + $13 }' || echo 0; }
for s in "${STACKS[@]}"; do
  d=$W/$s; mkdir -p $d/fs $d/src $d/mnt
  case $s in
  rewindfs|rewindfs-wt|rewindfs-cfd)
    o=; [ $s = rewindfs-wt ] && o="-o writethrough"; [ $s = rewindfs-cfd ] && o="-o clone_fd"
    $CTL init $d/pool >/dev/null; $CTL mount $d/pool $d/mnt $o >/dev/null
    $CTL create $d/mnt vol 4G >/dev/null
    $CTL attach $d/mnt/vol $d/fs --mkfs ext4 >/dev/null;;
  *)
    fallocate -l 4G $d/src/image; img=$d/src/image
    case $s in
    fusepass) $B/bench/fusepass $d/src/image $d/mnt & img=$d/mnt/image;;
    fusepass-cfd) $B/bench/fusepass $d/src/image $d/mnt --clone-fd & img=$d/mnt/image;;
    bindfs) bindfs $d/src $d/mnt; img=$d/mnt/image;;
    esac
    for i in $(seq 100); do [ -e $img ] && break; sleep 0.1; done
    L=$(losetup --direct-io=on --find --show $img)
    mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 $L
    mount $L $d/fs;;
  esac
  case $s in rewindfs*) PIDS[$s]=$(awk -F': *' '$1 == "daemon_pid" { print $2 }' $d/mnt/.status);;
    fusepass*) PIDS[$s]=$(pgrep -nf "fusepass $d/src/image");; *) PIDS[$s]=;; esac
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
echo "cycle stack tps daemon_us_per_tx" > $OUT
n=${#STACKS[@]}
for c in $(seq 1 $CYCLES); do
  for k in $(seq 0 $((n - 1))); do
    s=${STACKS[$(( (k + c - 1) % n ))]}
    p=$(grep -oP '^port = \K\d+' $W/$s/fs/pg/postgresql.conf)
    pgctl $s start
    c0=$(cpu "${PIDS[$s]}")
    o=$($PGBIN/pgbench -c 4 -j 2 -T $SECS -h $W/run -p $p -U postgres postgres 2>&1)
    c1=$(cpu "${PIDS[$s]}")
    pgctl $s stop
    tps=$(echo "$o" | grep -oP 'tps = \K[0-9.]+(?= \(without)')
    tx=$(echo "$o" | grep -oP 'actually processed: \K\d+')
    echo "$c $s $tps $(( (c1 - c0) * 10000 / tx ))" >> $OUT
  done
done
