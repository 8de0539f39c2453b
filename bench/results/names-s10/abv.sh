# abv.sh: alternate RWF_NOVER off/on on fresh pools: fsync8k 15 s, then seqw1m-like 1 MiB O_DIRECT writes 15 s
export B=/tmp/exp/build-bench
for r in 1 2 3; do
 for mode in ${MODES:-ver nover}; do
  unset RWF_NOVER RWF_VEC RWF_NAME; [ $mode = nover ] && export RWF_NOVER=1; [ $mode = vec ] && export RWF_VEC=1; [ $mode = name ] && export RWF_NAME=1;
  bash /tmp/setup.sh >/dev/null 2>&1 || { echo setup failed; exit 1; }
  pid=$(pgrep -x rewindfs); echo -n "env:$(tr "\\0" "\\n" < /proc/$pid/environ | grep -c RWF_) "
  echo -n "$r $mode fsync8k: "; bash /tmp/fs8.sh 15
  cpu0=$(cat /proc/$pid/task/*/stat | awk '{s+=$14+$15} END{print s}')
  DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=15 fio --output-format=json /work/main/bench/stacks/seqw1m.fio > /tmp/sw.json 2>/dev/null
  cpu1=$(cat /proc/$pid/task/*/stat | awk '{s+=$14+$15} END{print s}')
  python3 -c "import json;j=json.load(open('/tmp/sw.json'))['jobs'][0]['write'];mb=j['io_bytes']/1e6;print('   seqw1m MB/s %.0f cpu ms/MB %.2f'%(j['bw_bytes']/1e6,($cpu1-$cpu0)*10/mb))"
  bash /tmp/teardown.sh >/dev/null 2>&1
 done
done
