# abn.sh: alternate old (b4ff5b8) and new (names) daemons on fresh pools: fsync8k 15 s, seqw1m 15 s
for r in 1 2 3; do
 for B in /tmp/exp/build-bench /work/main/build-bench; do
  export B
  bash /tmp/setup.sh >/dev/null 2>&1 || { echo setup failed; exit 1; }
  pid=$(pgrep -x rewindfs)
  echo -n "$r $(echo $B | cut -d/ -f2-3) fsync8k: "; bash /tmp/fs8.sh 15
  cpu0=$(cat /proc/$pid/task/*/stat | awk '{s+=$14+$15} END{print s}')
  DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=15 fio --output-format=json /work/main/bench/stacks/seqw1m.fio > /tmp/sw.json 2>/dev/null
  cpu1=$(cat /proc/$pid/task/*/stat | awk '{s+=$14+$15} END{print s}')
  python3 -c "import json;j=json.load(open('/tmp/sw.json'))['jobs'][0]['write'];mb=j['io_bytes']/1e6;print('   seqw1m MB/s %.0f cpu ms/MB %.2f'%(j['bw_bytes']/1e6,($cpu1-$cpu0)*10/mb))"
  bash /tmp/teardown.sh >/dev/null 2>&1
 done
done
