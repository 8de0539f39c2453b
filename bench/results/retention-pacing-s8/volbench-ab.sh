#!/bin/bash
# alternate base/new volbench retention; print alone, beside, ratio
for r in 1 2 3; do
  for b in /tmp/base/build-bench/bench/volbench /work/main/build-bench/bench/volbench; do
    out=$($b --phases retention 2>/dev/null | grep "^| retention")
    a=$(echo "$out" | grep alone | sed 's/.*| \([0-9]*\)\/s.*/\1/'); s=$(echo "$out" | grep beside | sed 's/.*| \([0-9]*\)\/s, p50 [0-9.]* ms, p99 \([0-9.]*\) ms, max \([0-9.]*\).*/\1 p99 \2 max \3/')
    p=$(echo "$out" | grep "a pass" | sed 's/.*budget) | \([0-9.]* s\).*deleted, \([0-9]*\) MiB.*/\1 moved \2/')
    echo "$r $(echo $b | cut -d/ -f2-3) alone $a beside $s ratio $(echo "scale=2; ${s%% *}/$a" | bc) pass $p"
  done
done
