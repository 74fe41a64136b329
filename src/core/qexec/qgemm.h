/* The int8 matrix product every integer kernel rests on, as a kernel table: a portable
 * reference and SIMD versions (AVX2, AVX-VNNI, AVX-512 VNNI), each present only when the
 * CPU has the instructions. One is chosen at start-up (the best available) and can be
 * forced back to the reference. All rows give bit-identical results: the math is exact
 * integer arithmetic. */
#ifndef QS_QGEMM_H
#define QS_QGEMM_H

#include <stdbool.h>
#include <stdint.h>

/* C[m][n] = sum_k A[m][k] * B[n][k] for 0 <= m < M, 0 <= n < N.
 * A: (M, K) int8, row stride lda; B: (N, K) int8, row stride ldb (weights are naturally
 * (out, in)); C: (M, N) int32, row stride ldc. K may be any size >= 0; int32 cannot
 * overflow for K < 2^17 (|a*b| <= 2^14). */
typedef void (*QGemmFn)(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                        const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc);

typedef enum { QK_REF = 0, QK_AVX2, QK_AVXVNNI, QK_AVX512VNNI, QK_COUNT } QKernelId;

typedef struct QKernelDef {
    const char *name;        /* "ref", "avx2", "avx-vnni", "avx512-vnni" */
    bool (*available)(void); /* CPU support, checked with __builtin_cpu_supports */
    QGemmFn gemm;
} QKernelDef;

extern const QKernelDef qkernel_table[QK_COUNT];

/* The kernel in use (chosen on first call: the last available row). */
const QKernelDef *qgemm_active(void);
/* Forces a row (QS_EUNSUPPORTED-like false when the CPU lacks it); QK_REF always works. */
bool qgemm_force(QKernelId id);
/* C = A B^T with the active kernel. */
void qgemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
           int64_t ldb, int32_t *C, int64_t ldc);

#endif
