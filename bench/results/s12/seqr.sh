#!/bin/bash
# seqr.sh LABEL [perf]: fresh stack, seqw1m 30 s, then seqr1m 20 s; MB/s and daemon CPU/MB
L=$1
/tmp/s/setup.sh >/dev/null
P=$(pgrep -nx rewindfs)
tot() { awk '{print $14+$15}' /proc/$P/stat; }
cd /var/tmp/rb/fs
DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=${WT:-30} fio /work/main/bench/stacks/seqw1m.fio >/dev/null 2>&1
sync
t0=$(tot)
if [ "$2" = perf ]; then (sleep 5; perf record -g -p $P -o /tmp/s/seqr.data -- sleep 8 >/dev/null 2>&1) & fi
out=$(DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=20 fio /work/main/bench/stacks/seqr1m.fio --output-format=json)
t1=$(tot)
wait
set -- $(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]["read"]; print(j["io_bytes"]/1e6, j["bw_bytes"]/1e6)')
echo "$L read MB=$1 MB/s=$2 ms/MB=$(python3 -c "print(round(($t1-$t0)*10/$1,3))")"
cd /; /tmp/s/teardown.sh >/dev/null
