#!/bin/sh
B=${B:-/work/main/build-bench}
R=/var/tmp/rb
$B/tools/rewindctl detach $R/fs || exit 1
$B/tools/rewindctl umount $R/mnt || exit 1
rm -rf $R
