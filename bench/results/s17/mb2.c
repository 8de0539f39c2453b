/* mb2: paired engine CPU per 8 KiB write (+ vol_sync), variants alternating in blocks.
   usage: mb2 DIR BLOCKS BLOCKLEN rand|seq SYNC(0/1) bits... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "volume.h"
#include <valgrind/callgrind.h>
extern int x_bits;
static double tcpu(void){struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  const char*dir=argv[1]; int nb=atoi(argv[2]), bl=atoi(argv[3]); int rnd=!strcmp(argv[4],"rand"); int sy=atoi(argv[5]);
  int nv=argc-6; int bits[16]; double wc[16]={0}, sc[16]={0}; long ops[16]={0};
  for(int i=0;i<nv;i++) bits[i]=atoi(argv[6+i]);
  vol_pool_opts o={0};
  x_bits=0;
  if(vol_pool_create(dir,&o)){fprintf(stderr,"create: %s\n",vol_errmsg());return 1;}
  vol_pool*p; if(vol_pool_open(dir,&o,&p)){fprintf(stderr,"open: %s\n",vol_errmsg());return 1;}
  vol_id id; uint64_t size=1ull<<30; if(vol_create(p,"v",size,&id))return 1;
  static char buf[1<<20]; srand(1); for(size_t i=0;i<sizeof buf;i++)buf[i]=rand();
  for(int i=0;i<256;i++) if(vol_write(p,id,buf,(uint64_t)(rand()%1024)<<20,1<<20))return 1;
  int pre4k=getenv("PRE4K")?atoi(getenv("PRE4K")):0;
  for(int i=0;i<pre4k;i++) if(vol_write(p,id,buf,((uint64_t)rand()%(size/4096))*4096,4096))return 1;
  vol_sync(p,id,NULL);
  CALLGRIND_ZERO_STATS;
  uint64_t off=0;
  for(int b=0;b<nb;b++){ int v=b%nv; x_bits=bits[v];
    for(int i=0;i<bl;i++){
      off = rnd ? ((uint64_t)rand()%(size/8192))*8192 : (off+8192)%size;
      memcpy(buf,&i,4);
      double a=tcpu();
      if(vol_write(p,id,buf,off,8192)){fprintf(stderr,"w: %s\n",vol_errmsg());return 1;}
      double m=tcpu(); wc[v]+=m-a;
      if(sy && vol_sync(p,id,NULL)){fprintf(stderr,"s: %s\n",vol_errmsg());return 1;}
      sc[v]+=tcpu()-m; ops[v]++;
    }}
  for(int v=0;v<nv;v++) printf("bits %d: write cpu %.1f us, sync cpu %.1f us (%ld ops)\n",bits[v],wc[v]*1e6/ops[v],sc[v]*1e6/ops[v],ops[v]);
  x_bits=0; vol_pool_close(p); return 0;
}
