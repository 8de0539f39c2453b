#!/bin/bash
# usage: fs8.sh OPT  -> fio 8k write+fdatasync QD1 15 s on a fresh rewindfs volume
set -u
B=/work/main/build-bench; CTL=$B/tools/rewindctl; export REWINDFS=$B/fs/rewindfs
W=/var/tmp/fs8
cleanup() { $CTL detach $W/fs >/dev/null 2>&1; $CTL umount $W/mnt >/dev/null 2>&1; rm -rf $W; }
trap cleanup EXIT; cleanup
mkdir -p $W/fs
$CTL init $W/pool >/dev/null; $CTL mount $W/pool $W/mnt $1 >/dev/null
$CTL create $W/mnt vol 4G >/dev/null; $CTL attach $W/mnt/vol $W/fs --mkfs ext4 >/dev/null
fio --name=w --directory=$W/fs --size=256M --rw=write --bs=8k --fdatasync=1 --time_based --runtime=15 --output-format=terse --terse-version=3 | awk -F';' '{print "iops", $49}'
