export B=/tmp/exp2/build-bench
for r in 1 2 3; do
 for mode in base nosyncb; do
  unset RWF_NOSYNCB; [ $mode = nosyncb ] && export RWF_NOSYNCB=1
  bash /tmp/setup.sh >/dev/null 2>&1 || { echo setup failed; exit 1; }
  echo -n "$r $mode fsync8k: "; bash /tmp/fs8.sh 15
  bash /tmp/teardown.sh >/dev/null 2>&1
 done
done
