# wr_ab.sh BIN [JOB]: fresh pool with daemon BIN, fio JOB (seqw1m), MB/s and daemon CPU
B=/work/main/build-bench
W=/var/tmp/rb
job=${2:-seqw1m}
export REWINDFS=$1 DIR=$W/fs SIZE=1G RUNTIME=${RT:-12}
rm -rf $W/pool; mkdir -p $W/mnt $W/fs
$B/tools/rewindctl init $W/pool >/dev/null
$B/tools/rewindctl mount $W/pool $W/mnt >/dev/null
$B/tools/rewindctl create $W/mnt vol 4G >/dev/null
$B/tools/rewindctl attach $W/mnt/vol $W/fs --mkfs ext4 >/dev/null
pid=$(pgrep -nx rewindfs)
t0=$(awk '{print $14+$15}' /proc/$pid/stat)
res=$(fio /work/main/bench/stacks/$job.fio --output-format=json | python3 -c '
import json,sys; j=json.load(sys.stdin)["jobs"][0]
w=j["write"]; r=j["read"]
print(round((w["bw_bytes"]+r["bw_bytes"])/1e6), "MB/s", round(w["iops"]+r["iops"]), "IOPS", round((w["io_bytes"]+r["io_bytes"])/1e6), "MB")')
t1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "$1 $job $res daemon CPU $((t1-t0))0 ms"
$B/tools/rewindctl detach $W/fs >/dev/null
$B/tools/rewindctl umount $W/mnt >/dev/null
rm -rf $W/pool
