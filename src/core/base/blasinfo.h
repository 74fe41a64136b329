/* Which OpenBLAS this process runs. Float sums through sgemm depend on the kernel OpenBLAS
 * picks for the CPU (and on OPENBLAS_CORETYPE), so figures that come from float training
 * reproduce bit for bit only on the same kernel; `qscope --version` says which one runs. */
#ifndef QS_BLASINFO_H
#define QS_BLASINFO_H

/* OpenBLAS's name for the kernel family it chose, e.g. "Haswell", "Prescott". */
const char *blas_core_name(void);
/* OpenBLAS's build configuration string. */
const char *blas_config(void);

#endif
