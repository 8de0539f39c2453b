cd /work/main
for r in 1 2; do
 for B in /tmp/exp/build-bench /work/main/build-bench; do
  tag=$(echo $B | cut -d/ -f3)
  bench/run-stacks --rewindfs $B/fs/rewindfs --rewindctl $B/tools/rewindctl --stacks rewindfs --workloads pgbench,seqw1m --rounds 1 --doc no --results /tmp/pgab-$r-$tag > /tmp/pgab-$r-$tag.log 2>&1
  echo "$r $tag $(grep -E '^\| (pgbench TPC|  FUSE daemon CPU per transaction|fio 1 MiB sequential write)' /tmp/pgab-$r-$tag.log | tr -s ' ' | tr '\n' ' ')"
 done
done
