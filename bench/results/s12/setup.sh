#!/bin/sh
# rewindfs stack in /var/tmp/rb; B= build dir
set -e
B=${B:-/work/main/build-bench}
R=/var/tmp/rb
mkdir -p $R
$B/tools/rewindctl init $R/pool
mkdir -p $R/mnt $R/fs
REWINDFS=$B/fs/rewindfs $B/tools/rewindctl mount $R/pool $R/mnt
$B/tools/rewindctl create $R/mnt vol 4G
$B/tools/rewindctl attach $R/mnt/vol $R/fs --mkfs ext4
pgrep -nx rewindfs
