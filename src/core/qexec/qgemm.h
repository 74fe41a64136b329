/* The int8 matrix product every integer kernel rests on, as a kernel table: a portable
 * reference and SIMD versions (AVX2, AVX-VNNI, AVX-512 VNNI), each present only when the
 * CPU has the instructions. The active row is the best one the CPU has at or below the
 * SIMD level in use (kern/simd.h: QSCOPE_SIMD=scalar picks the reference, avx2 at most
 * the AVX2 row); a test can force any available row. All rows give bit-identical results:
 * the math is exact integer arithmetic.
 *
 * Two ways to call it: qgemm(), which packs B on every call (tests, one-off products), and
 * the packed form for weights: qgemm_pack() once per plan into the active row's layout
 * (VNNI 4-byte groups, AVX2 int16 pairs, plain rows for the reference), then
 * qgemm_packed() per batch, which hands each block of finished int32 rows to an epilogue
 * while they are in cache (requantization, stores) instead of writing a matrix. */
#ifndef QS_QGEMM_H
#define QS_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kern/simd.h"

/* C[m][n] = sum_k A[m][k] * B[n][k] for 0 <= m < M, 0 <= n < N.
 * A: (M, K) int8, row stride lda; B: (N, K) int8, row stride ldb (weights are naturally
 * (out, in)); C: (M, N) int32, row stride ldc. K may be any size >= 0; int32 cannot
 * overflow for K < 2^17 (|a*b| <= 2^14). */
typedef void (*QGemmFn)(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                        const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc);

/* Receives rows m0 .. m0 + mr - 1 of C (all N columns) in acc, row stride ldacc; m0 counts
 * from the A the product was called with. Called once per block of rows, in row order. */
typedef void (*QGemmEpi)(void *ctx, int64_t m0, int64_t mr, const int32_t *acc,
                         int64_t ldacc);

/* The packed-B half of a row: B (N, K) in the kernel's layout (pack writes every byte of
 * packed_bytes, padding included), and the product of A with it, block by block. work:
 * qgemm_work_bytes(N, K) bytes, 64-byte aligned. */
typedef void (*QPackFn)(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst);
typedef void (*QRunFn)(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                       const void *Bp, void *work, QGemmEpi epi, void *ctx);

typedef enum { QK_REF = 0, QK_AVX2, QK_AVXVNNI, QK_AVX512VNNI, QK_COUNT } QKernelId;

typedef struct QKernelDef {
    const char *name;        /* "ref", "avx2", "avx-vnni", "avx512-vnni" */
    bool (*available)(void); /* CPU support, checked with __builtin_cpu_supports */
    SimdLevel level;         /* the lowest simd_level() that may pick it */
    QGemmFn gemm;            /* packs B, runs, stores C */
    size_t (*packed_bytes)(int64_t N, int64_t K);
    QPackFn pack;
    QRunFn run;
} QKernelDef;

extern const QKernelDef qkernel_table[QK_COUNT];

/* The kernel in use: the forced row, else the best available one within simd_level(). */
const QKernelDef *qgemm_active(void);
/* Forces a row (false when the CPU lacks it); QK_REF always works. */
bool qgemm_force(QKernelId id);
/* Back to the automatic choice. */
void qgemm_unforce(void);
/* C = A B^T with the active kernel. */
void qgemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
           int64_t ldb, int32_t *C, int64_t ldc);

/* B (N, K) packed for one row. B itself is kept (not copied) so that a run after the
 * active row changed (a SIMD cap set after the plan was lowered) can still pack it. */
typedef struct QPacked {
    QKernelId kid;
    int64_t n, k;
    const int8_t *b;         /* the caller's B, row stride ldb: outlives the packing */
    int64_t ldb;
    void *data;              /* packed_bytes of kid's layout */
} QPacked;

/* Packs B for the active row (malloc; false when memory is short). */
bool qgemm_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, QPacked *out);
/* Packs B for row kid (tests compare rows). */
bool qgemm_pack_for(QKernelId kid, int64_t N, int64_t K, const int8_t *B, int64_t ldb,
                    QPacked *out);
void qpacked_free(QPacked *p);
/* Scratch bytes qgemm_packed needs for N columns and K (the same for every row). */
size_t qgemm_work_bytes(int64_t N, int64_t K);
/* For each block of rows of A (M, K) x p^T: the int32 rows go to epi(ctx, ...). With p's
 * row the active one, no allocation; otherwise p's B is packed again for the active row
 * (allocates; a cap changed after packing). work: qgemm_work_bytes(p->n, p->k). */
void qgemm_packed(const QPacked *p, int64_t M, const int8_t *A, int64_t lda, void *work,
                  QGemmEpi epi, void *ctx);
/* qgemm_packed with the rows stored into C (M, N), row stride ldc: for callers whose
 * epilogue needs whole rows of other blocks too. */
void qgemm_packed_store(const QPacked *p, int64_t M, const int8_t *A, int64_t lda,
                        void *work, int32_t *C, int64_t ldc);
/* The same with row p->kid whatever the active row (tests). */
void qgemm_packed_row(const QPacked *p, int64_t M, const int8_t *A, int64_t lda, void *work,
                      QGemmEpi epi, void *ctx);


/* The planes form, for a pointwise conv on (N, C, H W) values without transposing them:
 * C (M, ncols) = A (M, K) X, where A is the weights (OC, K) and X (K, cols) the conv's
 * input planes, column r being pixel r % hw of sample r / hw (X[k][r] =
 * x[(r / hw) sstride + k hw + r % hw]). Columns r0 .. r0 + ncols - 1 are packed as B into
 * planes_bytes(K, ncols) of scratch, then the product hands blocks of rows (output
 * channels) over all ncols columns to epi. Only on the AVX-512 VNNI row (qgemm_planes_ok:
 * it is the active one); the int32 results are those of qgemm on the same operands. work:
 * qgemm_planes_work_bytes(ncols). */
bool qgemm_planes_ok(void);
size_t qgemm_planes_bytes(int64_t K, int64_t ncols);
size_t qgemm_planes_work_bytes(int64_t ncols);
void qgemm_planes_pack(const int8_t *x, int64_t sstride, int64_t hw, int64_t K, int64_t r0,
                       int64_t ncols, void *packed);
void qgemm_planes_run(int64_t M, int64_t K, const int8_t *A, int64_t lda, const void *packed,
                      int64_t ncols, void *work, QGemmEpi epi, void *ctx);

/* The planes form for a conv of one group with a stride of 1 or 2 and no dilation across
 * (qgemm_planes_conv_ok): X is its im2col matrix with each kernel row padded to kw4
 * (a multiple of 4) taps, X[k][r] for k = (c kh + i) kw4 + j the input byte under tap
 * (c, i, j) of output pixel r % (OH OW) of sample r / (OH OW), zp where that tap is in the
 * padding (taps j >= kw read whatever lies there: their weights must be 0). Each group of
 * four taps is four adjacent input bytes, so the pack moves quads of bytes straight from
 * the input planes, a run of output pixels of one row at a time (no im2col copy, no byte
 * transpose of the results); then qgemm_planes_run with K = qgemm_planes_conv_k and A the
 * weights laid out the same way, zeros in the padding taps. */
typedef struct QgConvCols {
    int64_t c, h, w;        /* the input planes of one sample */
    int64_t oh, ow;         /* output map */
    int64_t kh, kw;
    int64_t sh, sw;         /* sw is 1 or 2 */
    int64_t dh, dw;         /* dilations */
    int64_t pt, pl;         /* padding before */
    int8_t zp;
} QgConvCols;
static inline int64_t qgemm_planes_conv_kw4(const QgConvCols *g) { return (g->kw + 3) / 4 * 4; }
static inline int64_t qgemm_planes_conv_k(const QgConvCols *g)
{
    return g->c * g->kh * qgemm_planes_conv_kw4(g);
}
bool qgemm_planes_conv_ok(const QgConvCols *g);
void qgemm_planes_pack_conv(const QgConvCols *g, const int8_t *x, int64_t r0, int64_t ncols,
                            void *packed);

#endif
