import sys, statistics as st
from math import comb
rows=[l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
cyc={}
for r in rows:
    cyc.setdefault(int(r[0]),{})[r[1]]=(float(r[2]), int(r[3]) if len(r)>3 else 0)
stacks=[]
for r in rows:
    if r[1] not in stacks: stacks.append(r[1])
full=[c for c in sorted(cyc) if all(s in cyc[c] for s in stacks)]
print("cycles:",len(full))
for s in stacks:
    t=[cyc[c][s][0] for c in full]; u=[cyc[c][s][1] for c in full]
    print(f"{s:14s} tps median {st.median(t):7.0f} range {min(t):.0f}-{max(t):.0f}  cpu/tx median {st.median(u)}")
def sign_p(k,n): # P(X>=k) for binomial(n, .5)
    return sum(comb(n,i) for i in range(k,n+1))/2**n
pairs=[(a,b) for a in stacks for b in stacks if a!=b]
want=[p.split('/') for p in sys.argv[2:]] or [(a,'native') for a in stacks if a!='native']
for a,b in want:
    r=sorted(cyc[c][a][0]/cyc[c][b][0] for c in full)
    n=len(r); below=sum(x<0.9 for x in r)
    print(f"{a}/{b}: median x{st.median(r):.3f} range {r[0]:.2f}-{r[-1]:.2f}  below 0.9: {below}/{n} (sign test p={sign_p(below,n):.4f})  below 1: {sum(x<1 for x in r)}/{n}")
