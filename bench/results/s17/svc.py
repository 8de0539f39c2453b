import sys, re, statistics as S
# service time per FUSE request: from a worker's read() return to its next writev (the reply);
# WRITE = read returned > 4096 bytes; else other (mostly FSYNC: classified by an fdatasync before the reply)
def pct(a,p): a=sorted(a); return a[min(len(a)-1,int(len(a)*p))]
for f in sys.argv[1:]:
    last={}; res={'WRITE':[], 'FSYNC':[], 'other':[]}; fds={}; fd_start={}; fdd=[]; pw={}; pwd=[]
    for line in open(f):
        m=re.match(r'\s*(\S+)\s+(\d+)\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)',line)
        if not m: continue
        comm,tid,t,ev,args=m.groups(); t=float(t)
        if ev=='sys_exit_read':
            n=int(args,16)
            if n>0x7fffffff: continue
            last[tid]=(t,n,False)
        elif ev=='sys_enter_fdatasync':
            fd_start[tid]=t
            if tid in last: last[tid]=(last[tid][0],last[tid][1],True)
        elif ev=='sys_exit_fdatasync':
            if tid in fd_start: fdd.append(t-fd_start.pop(tid))
        elif ev=='sys_enter_pwritev': pw[tid]=t
        elif ev=='sys_exit_pwritev':
            if tid in pw: pwd.append(t-pw.pop(tid))
        elif ev=='sys_enter_writev' and tid in last:
            t0,n,sy=last.pop(tid)
            k='WRITE' if n>4096 else ('FSYNC' if sy else 'other')
            res[k].append(t-t0)
    print('==',f)
    for k,v in res.items():
        if v: print('  %-6s n=%6d  mean %.3f ms  p50 %.3f  p90 %.3f  p99 %.3f' % (k,len(v),1e3*S.mean(v),1e3*pct(v,.5),1e3*pct(v,.9),1e3*pct(v,.99)))
    if fdd: print('  fdatasync n=%d mean %.3f ms p50 %.3f p90 %.3f' % (len(fdd),1e3*S.mean(fdd),1e3*pct(fdd,.5),1e3*pct(fdd,.9)))
    if pwd: print('  pwritev n=%d mean %.3f ms p50 %.3f' % (len(pwd),1e3*S.mean(pwd),1e3*pct(pwd,.5)))
