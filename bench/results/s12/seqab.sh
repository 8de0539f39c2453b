#!/bin/bash
# seqab.sh LABEL: fresh stack with B=build, fio seqw1m 1G/30s; MB/s, daemon CPU ms per MB, per-thread CPU
L=$1; RT=${RT:-30}
/tmp/s/setup.sh >/dev/null
P=$(pgrep -nx rewindfs)
thr() { for t in /proc/$P/task/*; do n=$(cat $t/comm); s=($(cat $t/stat | sed 's/.*) //')); echo "$n $((s[11]+s[12]))"; done | awk '{a[$1]+=$2} END{for(k in a) print k, a[k]}' | sort; }
tot() { awk '{print $14+$15}' /proc/$P/stat; }
cd /var/tmp/rb/fs
DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=5 fio /work/main/bench/stacks/seqw1m.fio >/dev/null 2>&1  # layout + warm
sync
t0=$(tot); thr > /tmp/s/thr0
out=$(DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=$RT fio /work/main/bench/stacks/seqw1m.fio --output-format=json)
t1=$(tot); thr > /tmp/s/thr1
mb=$(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]["write"]; print(j["io_bytes"]/1e6, j["bw_bytes"]/1e6)')
set -- $mb
echo "$L MB=$1 MB/s=$2 daemon_cpu_s=$(( (t1-t0) ))cs ms/MB=$(python3 -c "print(round(($t1-$t0)*10/$1,3))")"
join /tmp/s/thr0 /tmp/s/thr1 | awk -v mb=$1 '{d=$3-$2; if (d>0) printf "   %-16s %6.2f s  %.3f ms/MB\n", $1, d/100, d*10/mb}'
cd /; /tmp/s/teardown.sh >/dev/null
