#!/bin/bash
# usage: rr.sh BUILD TAG : seqw1m layout + 10 s, daemon restart, drop caches, randr8k 15 s under perf
set -u
B=$1; TAG=$2; W=/var/tmp/rrprof; CTL=$B/tools/rewindctl; export REWINDFS=$B/fs/rewindfs
cleanup() { mountpoint -q $W/fs && $CTL detach $W/fs >/dev/null 2>&1; mountpoint -q $W/mnt && $CTL umount $W/mnt >/dev/null 2>&1; rm -rf $W; }
trap cleanup EXIT; cleanup
mkdir -p $W/fs $W/mnt
$CTL init $W/pool >/dev/null; $CTL mount $W/pool $W/mnt >/dev/null
$CTL create $W/mnt vol 4G >/dev/null; $CTL attach $W/mnt/vol $W/fs --mkfs ext4 >/dev/null
cd /work/main/bench/stacks
DIR=$W/fs SIZE=1G RUNTIME=10 fio --create_only=1 seqw1m.fio >/dev/null
DIR=$W/fs SIZE=1G RUNTIME=10 fio seqw1m.fio >/dev/null
sync
$CTL detach $W/fs >/dev/null; $CTL umount $W/mnt >/dev/null
$CTL mount $W/pool $W/mnt >/dev/null; $CTL attach $W/mnt/vol $W/fs >/dev/null
sync; echo 3 > /proc/sys/vm/drop_caches
PID=$(awk -F': *' '$1 == "daemon_pid" { print $2 }' $W/mnt/.status)
perf record -q -g -p $PID -o /tmp/s/rr-$TAG.data -- sleep 12 >/dev/null 2>&1 &
DIR=$W/fs SIZE=1G RUNTIME=12 fio --output-format=json randr8k.fio > /tmp/s/rr-$TAG.json
wait
python3 -c "
import json; j=json.load(open('/tmp/s/rr-$TAG.json'))['jobs'][0]['read']; print('$TAG', round(j['iops']), 'p50 us', j['clat_ns']['percentile']['50.000000']/1000)"
