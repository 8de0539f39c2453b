B=${B:-/work/main/build-bench}
W=/var/tmp/rb
$B/tools/rewindctl detach $W/fs
$B/tools/rewindctl umount $W/mnt
rm -rf $W/pool $W/fs $W/mnt
