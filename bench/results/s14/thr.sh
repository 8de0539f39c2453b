# print per-thread-name CPU (ticks) delta over $1 seconds for $PID
snap() { for t in /proc/$PID/task/*; do n=$(cat $t/comm); s=$(awk '{print $14+$15}' $t/stat); echo "$n $s"; done | awk '{a[$1]+=$2} END{for(k in a) print k, a[k]}' | sort; }
snap > /tmp/s/thr0; sleep $1; snap > /tmp/s/thr1
join /tmp/s/thr0 /tmp/s/thr1 | awk '{print $1, ($3-$2)*10 " ms"}'
