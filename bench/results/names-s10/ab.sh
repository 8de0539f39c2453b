# ab.sh: alternate daemons on fresh pools (setup.sh / teardown.sh): fsync8k 15 s
# (fs8.sh), then 1 MiB O_DIRECT writes (bench/stacks/seqw1m.fio, 1 GiB) 15 s, with the
# daemon's CPU over each. ARMS: words LABEL=BUILD[:VAR], VAR an environment switch
# of a test build exported for that arm, e.g.
#   ARMS="ver=/tmp/exp/build-bench nover=/tmp/exp/build-bench:RWF_NOVER" bash ab.sh
#   ARMS="old=/tmp/exp/build-bench new=/work/main/build-bench" bash ab.sh
cpu() { cat /proc/$1/task/*/stat | awk '{s+=$14+$15} END{print s}'; }
for r in 1 2 3; do
 for arm in $ARMS; do
  label=${arm%%=*} spec=${arm#*=}
  export B=${spec%%:*}
  unset RWF_NOVER RWF_VEC RWF_NAME RWF_NOSYNCB
  [ "$spec" != "$B" ] && export "${spec#*:}=1"
  bash /tmp/setup.sh >/dev/null 2>&1 || { echo setup failed; exit 1; }
  pid=$(pgrep -nx rewindfs)
  echo -n "$r $label fsync8k: "; bash /tmp/fs8.sh 15
  cpu0=$(cpu $pid)
  DIR=/var/tmp/rb/fs SIZE=1G RUNTIME=15 fio --output-format=json /work/main/bench/stacks/seqw1m.fio > /tmp/sw.json 2>/dev/null
  cpu1=$(cpu $pid)
  python3 -c "import json;j=json.load(open('/tmp/sw.json'))['jobs'][0]['write'];mb=j['io_bytes']/1e6;print('   seqw1m MB/s %.0f cpu ms/MB %.2f'%(j['bw_bytes']/1e6,($cpu1-$cpu0)*10/mb))"
  bash /tmp/teardown.sh >/dev/null 2>&1
 done
done
