# usage: fs8.sh SECONDS : fsync8k on /var/tmp/rb/fs, prints writes/s and the daemon's ctx switches and CPU per write
pid=$(pgrep -x rewindfs | head -1)
cs() { cat /proc/$pid/task/*/status | awk '/voluntary_ctxt_switches/{s+=$2} END{print s}'; }
cpu() { cat /proc/$pid/task/*/stat | awk '{s+=$14+$15} END{print s}'; }
c0=$(cs); u0=$(cpu)
DIR=/var/tmp/rb/fs SIZE=256M RUNTIME=$1 fio --output-format=json /work/main/bench/stacks/fsync8k.fio > /tmp/fs8.json
c1=$(cs); u1=$(cpu)
python3 - $c0 $c1 $u0 $u1 <<'PY'
import json,sys
c0,c1,u0,u1=map(int,sys.argv[1:])
j=json.load(open('/tmp/fs8.json'))['jobs'][0]['write']
n=j['total_ios']; print("writes/s %.0f  cs/write %.2f  cpu us/write %.0f" % (j['iops'], (c1-c0)/n, (u1-u0)*1e4/n))
PY
