cd /work/main
for r in 1 2; do
 for B in /tmp/old/b /work/main/build-bench; do
  tag=$(echo $B | cut -d/ -f3)
  bench/run-stacks --rewindfs $B/fs/rewindfs --rewindctl $B/tools/rewindctl --stacks rewindfs --workloads fsync8k,pgbench --rounds 1 --doc no --results /tmp/hab/pgab-$r-$tag > /tmp/hab/pgab-$r-$tag.log 2>&1
  echo "$r $tag $(grep -E '^\| (pgbench TPC|  FUSE daemon CPU per|fio 8 KiB write)' /tmp/hab/pgab-$r-$tag.log | tr -s ' ' | tr '\n' ' ')"
 done
done
