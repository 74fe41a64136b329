/* Thread count for the BLAS library (and, later, qscope's own kernels). */
#ifndef QS_THREADS_H
#define QS_THREADS_H

void threads_set(int n);
int threads_get(void);

#endif
