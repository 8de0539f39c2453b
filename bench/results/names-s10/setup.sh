set -e
B=${B:-/work/main/build-bench}
W=/var/tmp/rb
mkdir -p $W; cd $W
$B/tools/rewindctl init $W/pool
mkdir -p $W/mnt
$B/tools/rewindctl mount $W/pool $W/mnt
$B/tools/rewindctl create $W/mnt vol 4G
mkdir -p $W/fs
$B/tools/rewindctl attach $W/mnt/vol $W/fs --mkfs ext4
