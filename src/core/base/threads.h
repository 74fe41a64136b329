/* The `threads` setting. It reaches OpenBLAS's float GEMM only: qscope's own kernels
 * (int8 GEMM, depthwise and pooling loops, FP16 rounding) run on the calling thread, and
 * jobs run on the workbench's one worker thread. */
#ifndef QS_THREADS_H
#define QS_THREADS_H

void threads_set(int n);
int threads_get(void);

#endif
