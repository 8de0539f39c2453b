import sys, re, statistics as S
def pct(a,p): a=sorted(a); return a[min(len(a)-1,int(len(a)*p))]
f=sys.argv[1]
cur={}; pre=[]; pw=[]; post=[]; tot=[]
for line in open(f):
    m=re.match(r'\s*(\S+)\s+(\d+)\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)',line)
    if not m: continue
    comm,tid,t,ev,args=m.groups(); t=float(t)
    if ev=='sys_exit_read':
        n=int(args,16); cur[tid]={'t0':t,'n':n}
    elif tid in cur and cur[tid]['n']>4096:
        c=cur[tid]
        if ev=='sys_enter_pwritev' and 'pw0' not in c: c['pw0']=t
        elif ev=='sys_exit_pwritev' and 'pw1' not in c: c['pw1']=t
        elif ev=='sys_enter_writev':
            if 'pw0' in c and 'pw1' in c:
                pre.append(c['pw0']-c['t0']); pw.append(c['pw1']-c['pw0']); post.append(t-c['pw1']); tot.append(t-c['t0'])
            del cur[tid]
for name,v in (('read->pwritev',pre),('pwritev',pw),('pwritev->reply',post),('total',tot)):
    print('  %-15s n=%d mean %.3f ms p50 %.3f p90 %.3f p99 %.3f max %.3f' % (name,len(v),1e3*S.mean(v),1e3*pct(v,.5),1e3*pct(v,.9),1e3*pct(v,.99),1e3*max(v)))
# share of total above 0.5ms by phase
big=[i for i in range(len(tot)) if tot[i]>0.0005]
if big:
    print('  WRITEs over 0.5 ms: %d; their mean phases: pre %.3f pw %.3f post %.3f ms' % (len(big), 1e3*S.mean(pre[i] for i in big), 1e3*S.mean(pw[i] for i in big), 1e3*S.mean(post[i] for i in big)))
