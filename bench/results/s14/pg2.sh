#!/bin/bash
# usage: pg2.sh STACK(rewindfs|fusepass|bindfs|native) BUILD SECS [hook]
set -u
STACK=$1; B=$2; SECS=${3:-30}; HOOK=${4:-}
W=/var/tmp/pgprof; PGBIN=/usr/lib/postgresql/15/bin
export REWINDFS=$B/fs/rewindfs
CTL=$B/tools/rewindctl
cleanup() {
  su postgres -c "$PGBIN/pg_ctl -D $W/fs/pg -m immediate stop" >/dev/null 2>&1
  if mountpoint -q $W/fs; then L=$(findmnt -no SOURCE $W/fs); umount $W/fs; [ -n "$L" ] && losetup -d $L 2>/dev/null; fi
  [ -d $W/mnt ] && mountpoint -q $W/mnt && { $CTL detach $W/fs >/dev/null 2>&1; $CTL umount $W/mnt >/dev/null 2>&1; }
  mountpoint -q $W/bind 2>/dev/null && umount $W/bind
  mountpoint -q $W/fp 2>/dev/null && umount $W/fp
  rm -rf $W
}
trap cleanup EXIT
cleanup
mkdir -p $W/run $W/fs && chmod 777 $W/run
PID=
case $STACK in
rewindfs)
  $CTL init $W/pool >/dev/null; $CTL mount $W/pool $W/mnt >/dev/null
  $CTL create $W/mnt vol 4G >/dev/null
  $CTL attach $W/mnt/vol $W/fs --mkfs ext4 >/dev/null
  PID=$(grep daemon_pid $W/mnt/.status | awk '{print $NF}');;
fusepass)
  mkdir -p $W/src $W/fp; fallocate -l 4G $W/src/image
  $B/bench/fusepass $W/src/image $W/fp & PID=$!
  for i in $(seq 100); do [ -e $W/fp/image ] && break; sleep 0.1; done
  L=$(losetup --direct-io=on --find --show $W/fp/image)
  mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 $L
  mount $L $W/fs;;
bindfs|native)
  mkdir -p $W/src $W/bind; fallocate -l 4G $W/src/image; IMG=$W/src/image
  if [ $STACK = bindfs ]; then bindfs $W/src $W/bind; IMG=$W/bind/image; PID=$(pgrep -n bindfs); fi
  L=$(losetup --direct-io=on --find --show $IMG)
  mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 $L
  mount $L $W/fs;;
esac
install -d -o postgres -g postgres -m 700 $W/fs/pg
su postgres -c "$PGBIN/initdb -D $W/fs/pg -A trust -U postgres" >/dev/null
su postgres -c "$PGBIN/pg_ctl -D $W/fs/pg -l $W/run/pg.log -w -o \"-c listen_addresses='' -k $W/run -p 5433 -c fsync=on -c synchronous_commit=on -c full_page_writes=on\" start" >/dev/null
C="-h $W/run -p 5433 -U postgres"
$PGBIN/pgbench -i -q -s 50 $C postgres >/dev/null 2>&1
$PGBIN/psql -X -q -c CHECKPOINT $C postgres
sync
c0=0; [ -n "$PID" ] && c0=$(awk '{print $14+$15}' /proc/$PID/stat)
LOOP=$(basename $(findmnt -no SOURCE $W/fs))
io() { echo $(awk '$1=="write_bytes:"{print $2}' /proc/$PID/io 2>/dev/null || echo 0) $(awk '{print $7}' /sys/block/$LOOP/stat) $(awk '$3=="vda"{print $10}' /proc/diskstats); }
io0=$(io)
PP=
if [ -n "$HOOK" ]; then export PID; bash -c "$HOOK" > /tmp/s/hook.txt 2>&1 & PP=$!; fi
mkdir -p $W/lat && chmod 777 $W/lat
$PGBIN/pgbench -c 4 -j 2 -T $SECS -l --log-prefix=$W/lat/tx $C postgres > /tmp/s/pgb.txt 2>&1
[ -n "$PP" ] && wait $PP
c1=0; [ -n "$PID" ] && c1=$(awk '{print $14+$15}' /proc/$PID/stat)
io1=$(io)
tps=$(grep -oP 'tps = \K[0-9.]+(?= \(without)' /tmp/s/pgb.txt)
n=$(grep -oP 'actually processed: \K\d+' /tmp/s/pgb.txt)
lat=$(cat $W/lat/tx* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{printf "p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f max=%.1f ms; >5ms: %d", a[int(NR*.5)]/1000, a[int(NR*.9)]/1000, a[int(NR*.99)]/1000, a[int(NR*.999)]/1000, a[NR]/1000, 0}')
slow=$(cat $W/lat/tx* | awk '$3>5000' | wc -l)
set -- $io0 $io1
echo "daemon write_bytes MB: $(( ($4-$1)/1000000 )) loop MB: $(( ($5-$2)*512/1000000 )) vda MB: $(( ($6-$3)*512/1000000 ))"
echo "$STACK tps=$tps tx=$n daemon_us/tx=$(( (c1-c0)*10000*1000/ n / 1000 )) $lat$slow"
