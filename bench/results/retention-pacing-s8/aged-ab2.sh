#!/bin/bash
# aged-pool pgbench, new (6b64629) and old (fdec20e) daemons alternately; run-stacks reports the retention thread's CPU
cd /work/main
i=4
for b in /work/main/build-bench /tmp/base/build-bench; do
  i=$((i+1))
  bench/run-stacks --stacks rewindfs --workloads fsync8k,randw8k,seqw1m,seqr1m,randr8k,aio16k,pgbench --rounds 1 --rewindfs $b/fs/rewindfs --rewindctl $b/tools/rewindctl --doc no --results /tmp/aged-$i > /tmp/aged-$i.log 2>&1
  echo "run $i $b" >> /tmp/aged-ab2.txt
done
echo finished >> /tmp/aged-ab2.txt
