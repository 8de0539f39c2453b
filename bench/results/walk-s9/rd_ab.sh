# rd_ab.sh BIN: mount the existing pool with daemon BIN, attach, cold + warm 1 MiB seq reads, detach
B=/work/main/build-bench
W=/var/tmp/rb
export REWINDFS=$1 DIR=$W/fs SIZE=1G RUNTIME=${RT:-10}
$B/tools/rewindctl mount $W/pool $W/mnt >/dev/null
$B/tools/rewindctl attach $W/mnt/vol $W/fs >/dev/null
pid=$(pgrep -nx rewindfs); sync; echo 3 > /proc/sys/vm/drop_caches
for i in 1 2; do
  t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  bw=$(fio /work/main/bench/stacks/seqr1m.fio --output-format=json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(round(j["jobs"][0]["read"]["bw_bytes"]/1e6))')
  t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  echo "$1 seqr1m $bw MB/s daemon CPU $((t1-t0))0 ms"
done
$B/tools/rewindctl detach $W/fs >/dev/null
$B/tools/rewindctl umount $W/mnt >/dev/null
