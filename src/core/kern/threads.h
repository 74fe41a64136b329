/* The `threads` setting: the size of qscope's thread pool (kern/pool.h), which every kernel
 * splits its work on, and OpenBLAS's thread count for `set blas=openblas`. Results do not
 * depend on it (docs/reproducibility.md). */
#ifndef QS_THREADS_H
#define QS_THREADS_H

void threads_set(int n);
int threads_get(void);

#endif
