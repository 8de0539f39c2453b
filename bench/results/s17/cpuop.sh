#!/bin/bash
# usage: cpuop.sh BUILD SECS JOB STACK[:VAR=VAL,OPT=o]...  fio JOB (bench/stacks/JOB.fio) on each stack in turn;
# per-thread CPU us/op and context switches/op of the daemon.
set -u
B=$(realpath "$1"); SECS=$2; JOB=$3; shift 3
W=/var/tmp/cpuop; CTL=$B/tools/rewindctl; export REWINDFS=$B/fs/rewindfs
FIO=/work/main/bench/stacks/$JOB.fio
cleanup() {
  for d in $W/*/; do
    mountpoint -q $d/fs && umount $d/fs
    mountpoint -q $d/fs && $CTL detach $d/fs >/dev/null 2>&1
    for l in $(losetup -j $d/mnt/image -O NAME -n 2>/dev/null); do losetup -d $l; done
    mountpoint -q $d/mnt && { $CTL umount $d/mnt >/dev/null 2>&1 || fusermount3 -u $d/mnt; }
  done
  rm -rf $W
}
trap cleanup EXIT
cleanup; mkdir -p $W
snap() { for t in /proc/$1/task/*; do n=$(cat $t/comm); s=$(awk '{print $14+$15}' $t/stat)
  v=$(awk '/^voluntary_ctxt/{print $2}' $t/status); nv=$(awk '/^nonvoluntary_ctxt/{print $2}' $t/status); echo "$n $s $v $nv"; done |
  awk '{a[$1]+=$2; b[$1]+=$3; c[$1]+=$4} END{for(k in a) print k, a[k], b[k], c[k]}' | sort; }
for sp in "$@"; do
  s=${sp%%:*}; envs=; [[ $sp == *:* ]] && envs=${sp#*:}; i=$((${i:-0}+1)); name=$i-$(echo $sp | tr ':,=/' '____')
  d=$W/$name; mkdir -p $d/fs $d/mnt $d/src
  mo=; ev=; fl=
  for kv in $(echo $envs | tr ',' ' '); do case $kv in OPT=*) mo="$mo -o ${kv#OPT=}";; FLAGS=*) fl=${kv#FLAGS=};; *) ev="$ev $kv";; esac; done
  if [ $s = rewindfs ]; then
    $CTL init $d/pool >/dev/null
    env $ev $CTL mount $d/pool $d/mnt $mo >/dev/null
    $CTL create $d/mnt vol 4G >/dev/null
    $CTL attach $d/mnt/vol $d/fs --mkfs ext4 >/dev/null
    PID=$(awk -F': *' '$1 == "daemon_pid" { print $2 }' $d/mnt/.status)
  else
    fallocate -l 4G $d/src/image
    env $ev $B/bench/fusepass $d/src/image $d/mnt >$d/fp.log 2>&1 &
    PID=$!
    for i in $(seq 100); do mountpoint -q $d/mnt && break; sleep 0.1; done
    l=$(losetup --direct-io=on --find --show $d/mnt/image)
    mkfs.ext4 -q $l; mount $l $d/fs
  fi
  DIR=$d/fs SIZE=1G RUNTIME=3 fio --output=/dev/null $FIO   # lay out
  sync; rm -rf /tmp/s/xflags; mkdir -p /tmp/s/xflags; for f in $(echo $fl | tr + ' '); do touch /tmp/s/xflags/$f; done
  snap $PID > $d/t0
  [ -n "${PERF:-}" ] && { perf record $PERF -p $PID -o /tmp/s/perf-$name.data -- sleep $((SECS - 2)) >/dev/null 2>&1 & PP=$!; }
  out=$(DIR=$d/fs SIZE=1G RUNTIME=$SECS fio --output-format=json $FIO)
  [ -n "${PERF:-}" ] && wait $PP
  snap $PID > $d/t1; rm -rf /tmp/s/xflags
  ops=$(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print(j["write"]["total_ios"]+j["read"]["total_ios"])')
  echo "== $sp: $ops ops in ${SECS}s = $((ops / SECS))/s"
  join $d/t0 $d/t1 | awk -v o=$ops '{printf "  %-16s cpu %6.1f us/op  vcs %5.2f/op  nvcs %5.2f/op\n", $1, ($5-$2)*10000/o, ($6-$3)/o, ($7-$4)/o; c+=$5-$2; v+=$6-$3} END{printf "  %-16s cpu %6.1f us/op  vcs %5.2f/op\n","ALL",c*10000/o,v/o}'
  if [ $s = rewindfs ]; then $CTL detach $d/fs >/dev/null; $CTL umount $d/mnt >/dev/null
  else umount $d/fs; losetup -d $l; fusermount3 -u $d/mnt; wait; fi
done
