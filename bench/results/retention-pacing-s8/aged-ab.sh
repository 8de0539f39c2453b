#!/bin/bash
# aged-pool pgbench, new (3160abd) and old (fdec20e) daemons alternately
cd /work/main
i=0
for b in /work/main/build-bench /tmp/base/build-bench /work/main/build-bench /tmp/base/build-bench; do
  i=$((i+1))
  /tmp/threads.sh /tmp/aged-threads-$i.txt &
  bench/run-stacks --stacks rewindfs --workloads fsync8k,randw8k,seqw1m,seqr1m,randr8k,aio16k,pgbench --rounds 1 --rewindfs $b/fs/rewindfs --rewindctl $b/tools/rewindctl --doc no --results /tmp/aged-$i > /tmp/aged-$i.log 2>&1
  wait
  echo "run $i $b: $(grep -i 'tps\|pgbench' /tmp/aged-$i.log | tail -3 | tr '\n' ' ')" >> /tmp/aged-ab.txt
done
echo finished >> /tmp/aged-ab.txt
