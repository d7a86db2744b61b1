/* A/B of two builds' convolution passes in one process: both libdfpengine.so files
 * are dlopen()ed and their calls alternate, so both see the same machine load; prints
 * each build's median GFLOP/s (GOP/s for DFP16), the median and quartiles of the paired
 * speed ratio B/A, and whether the outputs are bit-identical.
 *
 * Build: gcc -O2 -o conv_ab bench/conv_ab.c -Inative/include -ldl
 * Usage: ./conv_ab LIB_A LIB_B REPS THREADS BATCH CHANNELS SIZE OUT_CHANNELS STRIDE PASS
 *   PASS: f, b, w (FP32 FPROP, BPROP, WTGRAD) or fq, bq, wq (DFP16 from FP32, quantisation
 *   included); a 3x3 kernel with padding 1 on SIZE x SIZE images. */
#include "ab_timing.h"
#include "dfpengine.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
typedef dfp_status (*fwd_t)(const dfp_conv2d_shape*,const float*,const float*,const float*,float*);
typedef dfp_status (*bwd_t)(const dfp_conv2d_shape*,const float*,const float*,float*);
typedef void (*thr_t)(int);
typedef dfp_status (*dfwd_t)(const dfp_conv2d_shape*,const float*,const float*,const float*,float*,const dfp_dfp16_params*,const dfp_dfp16_params*,dfp_gemm_stats*);
typedef dfp_status (*dbwd_t)(const dfp_conv2d_shape*,const float*,const float*,float*,const dfp_dfp16_params*,const dfp_dfp16_params*,dfp_gemm_stats*);
int main(int argc,char**argv){
  const char*libs[2]={argv[1],argv[2]};
  int reps=atoi(argv[3]); int th=atoi(argv[4]); int64_t N=atoll(argv[5]),C=atoll(argv[6]),H=atoll(argv[7]),O=atoll(argv[8]); int s=atoi(argv[9]); const char*pass=argv[10];
  void*fn[2]; for(int l=0;l<2;l++){void*h=dlopen(libs[l],RTLD_NOW|RTLD_LOCAL); if(!h){fprintf(stderr,"%s\n",dlerror());return 1;}
    int q=pass[1]=='q'; fn[l]=dlsym(h,pass[0]=='f'?(q?"dfp_conv2d_forward_dfp16":"dfp_conv2d_forward_f32"):pass[0]=='b'?(q?"dfp_conv2d_backward_data_dfp16":"dfp_conv2d_backward_data_f32"):(q?"dfp_conv2d_backward_weight_dfp16":"dfp_conv2d_backward_weight_f32"));
    ((thr_t)dlsym(h,"dfp_set_num_threads"))(th);}
  dfp_conv2d_shape sh; memset(&sh,0,sizeof sh);
  sh.batch=N; sh.in_channels=C; sh.in_h=H; sh.in_w=H; sh.out_channels=O; sh.kernel_h=3; sh.kernel_w=3; sh.stride_h=s; sh.stride_w=s; sh.pad_h=1; sh.pad_w=1; sh.dilation_h=1; sh.dilation_w=1;
  int64_t oh=(H+2-3)/s+1,ow=oh;
  float*x=malloc(4*N*C*H*H),*w=malloc(4*O*C*9),*y=malloc(4*N*O*oh*ow),*x2=malloc(4*N*C*H*H),*w2=malloc(4*O*C*9),*y2=malloc(4*N*O*oh*ow);
  for(int64_t i=0;i<N*C*H*H;i++)x[i]=(float)((i*7919)%1000)/1000-0.5f;
  for(int64_t i=0;i<O*C*9;i++)w[i]=(float)((i*31)%100)/100-0.5f;
  for(int64_t i=0;i<N*O*oh*ow;i++)y[i]=(float)((i*13)%100)/100-0.5f;
  memcpy(x2,x,4*N*C*H*H);memcpy(w2,w,4*O*C*9);memcpy(y2,y,4*N*O*oh*ow);
  double t[2][1000], r[1000];
  for(int i=0;i<reps;i++) for(int l=0;l<2;l++){ float*xx=l?x2:x,*ww=l?w2:w,*yy=l?y2:y; double t0=now();
    if(pass[1]=='q'){dfp_dfp16_params pp; memset(&pp,0,sizeof pp); pp.shift=2; dfp_gemm_stats st; memset(&st,0,sizeof st);
      if(pass[0]=='f') ((dfwd_t)fn[l])(&sh,xx,ww,NULL,yy,&pp,&pp,&st);
      else if(pass[0]=='b') ((dbwd_t)fn[l])(&sh,yy,ww,xx,&pp,&pp,&st);
      else ((dbwd_t)fn[l])(&sh,xx,yy,ww,&pp,&pp,&st);
    } else
    if(pass[0]=='f') ((fwd_t)fn[l])(&sh,xx,ww,NULL,yy);
    else if(pass[0]=='b') ((bwd_t)fn[l])(&sh,yy,ww,xx);
    else ((bwd_t)fn[l])(&sh,xx,yy,ww);
    t[l][i]=now()-t0;}
  for(int i=0;i<reps;i++) r[i]=t[0][i]/t[1][i];
  double fl=2.0*N*O*oh*ow*C*9;
  qsort(t[0],reps,8,cmp);qsort(t[1],reps,8,cmp);qsort(r,reps,8,cmp);
  int same = pass[0]=='f'? memcmp(y,y2,4*N*O*oh*ow)==0 : pass[0]=='b'? memcmp(x,x2,4*N*C*H*H)==0 : memcmp(w,w2,4*O*C*9)==0;
  printf("%s A %.1f B %.1f GFLOP/s (median)  B/A speed ratio median %.3f  [q1 %.3f q3 %.3f]  bitsame %d\n",pass,fl/t[0][reps/2]*1e-9,fl/t[1][reps/2]*1e-9,r[reps/2],r[reps/4],r[3*reps/4],same);
}
