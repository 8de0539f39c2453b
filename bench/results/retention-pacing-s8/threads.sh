#!/bin/bash
# usage: threads.sh OUT : waits for a timed pgbench run, prints the rewindfs daemon's CPU per thread name over it
out=$1
snap() { local pid=$1; for t in /proc/$pid/task/*; do c=$(cat $t/comm 2>/dev/null); s=$(cut -d')' -f2 $t/stat 2>/dev/null | awk '{print $12+$13}'); echo "$c $s"; done | awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort; }
while :; do
  pg=$(pgrep -f 'pgbench -c' | head -1)
  [ -n "$pg" ] && pgrep -x rewindfs >/dev/null && break
  sleep 0.5
done
pid=$(pgrep -x rewindfs | head -1)
snap $pid > /tmp/t0; t0=$(date +%s.%N)
while kill -0 $pg 2>/dev/null; do sleep 0.5; done
snap $pid > /tmp/t1; t1=$(date +%s.%N)
echo "pgbench pid $pg daemon $pid wall $(echo "$t1-$t0"|bc)" > $out
join -a2 /tmp/t0 /tmp/t1 | awk '{d=(NF==3?$3-$2:$2); printf "%-16s %8.2f s\n", $1, d/100}' >> $out
