/* qscope's float matrix product, the one every float op, training step and float layer of a
 * mixed plan multiplies with.
 *
 * The summation rule (docs/reproducibility.md), which makes the result the same bit for bit
 * on every x86-64 machine, SIMD level, thread count and batch size: each element of C has
 * one float accumulator, which starts at its initial value c0 (0, C's own value, a bias)
 * and takes the K products in increasing k, each with one fused multiply-add:
 *     acc = c0; for k = 0 .. K-1: acc = fmaf(alpha * op(A)[m][k], op(B)[k][n], acc)
 * (alpha * a is one rounded product, exact when alpha is 1).
 * SIMD versions vectorize across m or n, never along k; threads split m and n, never k.
 * The epilogue then clamps (NaN stays NaN). So a sample's output never depends on which
 * other samples share its batch.
 *
 * The kernels (kern/sgemm_*.c) pack op(A) and op(B) into slivers, multiply them in
 * register tiles (AVX-512 12x32, AVX2+FMA 6x16, a scalar one; simd_level() picks) and block
 * K so a tile continues from its stored partial sum, which changes no bit: a float stored
 * and reloaded is the same float, and the terms still come one by one in increasing k.
 *
 * `set blas=openblas` sends the same calls to OpenBLAS instead: faster on some shapes,
 * with sums whose order depends on the CPU's kernel (its figures differ by machine). */
#ifndef QS_SGEMM_H
#define QS_SGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SGEMM_QSCOPE = 0, SGEMM_OPENBLAS, SGEMM_BACKEND_COUNT } SgemmBackend;

/* What C's elements start from and what happens after the sum. At most one of accumulate,
 * bias_m and bias_n; none: c0 = 0. */
typedef struct SgemmEpi {
    bool accumulate;      /* c0 = C's value before the call */
    const float *bias_m;  /* [M]: c0 = bias_m[m] */
    const float *bias_n;  /* [N]: c0 = bias_n[n] */
    /* then, when sub_m is set, per row m: v = norm_affine(v, sub_m[m], mul_m[m], add_m[m])
     * (kern/clamp.h: a BatchNormalization fused into a conv); sgemm never transposes such
     * a product */
    const float *sub_m, *mul_m, *add_m;
    bool clamp;           /* then C = v < lo ? lo : v > hi ? hi : v */
    float lo, hi;
} SgemmEpi;

/* { .accumulate = true }: C += op(A) op(B), the backward passes' form. */
extern const SgemmEpi sgemm_accumulate;

/* C (M, N) from op(A) (M, K) and op(B) (K, N); op(X) = X, or X transposed when t is set
 * (A stored (K, M), B stored (N, K)). Row-major, leading dimensions in elements. epi may be
 * NULL (c0 = 0, no clamp). Threads: pool_for (kern/pool.h). */
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
           int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, const SgemmEpi *epi);

/* The rule written out, one element at a time on the calling thread: the definition every
 * kernel is tested against (bit for bit), whatever the backend. */
void sgemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                     int64_t ldc, const SgemmEpi *epi);

/* A constant operand packed once (a plan's weights) for many products: the same bits as
 * sgemm() on the unpacked operand, without repacking it on every call. It holds
 * alpha * op(A) (or op(B)) in the sliver layout of the SIMD level in use when packed; at
 * another level (QSCOPE_SIMD changed since) it still gives the same bits, more slowly.
 * With `set blas=openblas` the product unpacks it and calls OpenBLAS. NULL when out of
 * memory; the caller frees it with sgemm_packed_free. */
typedef struct SgemmPacked SgemmPacked;
/* op(A) (M, K) with alpha applied. */
SgemmPacked *sgemm_pack_a(bool ta, int64_t M, int64_t K, float alpha, const float *A,
                          int64_t lda);
/* The same packed op(A) in caller memory instead of the heap (a per-call workspace):
 * sgemm_pack_a_bytes(M, K) bytes (a multiple of 64, so packs placed one after another stay
 * aligned), 64-byte aligned, enough at every SIMD level. The result
 * points into mem (nothing to free; never pass it to sgemm_packed_free); NULL when M <= 0. */
size_t sgemm_pack_a_bytes(int64_t M, int64_t K);
SgemmPacked *sgemm_pack_a_at(void *mem, bool ta, int64_t M, int64_t K, float alpha,
                             const float *A, int64_t lda);
/* Whether sgemm_packed_a on (M, N) is as fast a route as sgemm: false with
 * `set blas=openblas` (which unpacks) and for the narrow products sgemm transposes. */
bool sgemm_packed_a_pays(int64_t M, int64_t N);
/* The narrow products sgemm computes transposed (C^T = B^T A^T, when N is far below the
 * kernel's lane count and no fused normalization is in the epilogue): A is then the second
 * operand, so a caller that keeps A packed for them packs it as B (sgemm_pack_b_at(mem,
 * true, K, M, A, lda)) and calls sgemm_packed_a_narrow, with the same bits as sgemm(false,
 * false, M, N, K, 1, A, lda, B, ldb, C, ldc, epi). */
bool sgemm_packed_a_narrow_pays(int64_t M, int64_t N, const SgemmEpi *epi);
void sgemm_packed_a_narrow(const SgemmPacked *pn, int64_t N, const float *B, int64_t ldb,
                           float *C, int64_t ldc, const SgemmEpi *epi);
/* op(B) (K, N). */
SgemmPacked *sgemm_pack_b(bool tb, int64_t K, int64_t N, const float *B, int64_t ldb);
/* The same packed op(B) in caller memory, as sgemm_pack_a_at: sgemm_pack_b_bytes(K, N)
 * bytes (a multiple of 64), 64-byte aligned; the result points into mem; NULL when N <= 0. */
size_t sgemm_pack_b_bytes(int64_t K, int64_t N);
SgemmPacked *sgemm_pack_b_at(void *mem, bool tb, int64_t K, int64_t N, const float *B,
                             int64_t ldb);
/* Whether sgemm_packed_b on (M, N) takes sgemm's own route: false with `set blas=openblas`
 * and for the narrow products sgemm transposes (sgemm_packed_a_narrow_pays). */
bool sgemm_packed_b_pays(int64_t M, int64_t N, const SgemmEpi *epi);
/* C (M, N) = pa (M, K) op(B) (K, N), as sgemm(ta, tb, M, N, K, alpha, A, ...) with the
 * ta, M, K, alpha, A, lda given to sgemm_pack_a. */
void sgemm_packed_a(const SgemmPacked *pa, bool tb, int64_t N, const float *B, int64_t ldb,
                    float *C, int64_t ldc, const SgemmEpi *epi);
/* An operand B (K, N) that the caller writes straight into the product's packed layout,
 * block by block as the product needs it, instead of materializing it (an implicit GEMM:
 * a conv gathers its im2col columns here). fill writes rows [k0, k0 + kc) and columns
 * [j0, j0 + nc) of B (j0 a multiple of w) as ceil(nc / w) slivers w wide:
 *     out[(j / w) * kc * w + k * w + j % w] = B(k0 + k, j0 + j),
 * zero for nc <= j < the last sliver's end. It is called from any pool thread and must
 * only read shared data. The product sees the same values as from B in memory, so the
 * same bits. */
typedef struct SgemmGather {
    void (*fill)(const void *ctx, int64_t j0, int64_t nc, int64_t k0, int64_t kc, int w,
                 float *out);
    const void *ctx;
} SgemmGather;
/* C (M, N) = pa (M, K) B (K, N) with B from gb, as sgemm_packed_a on that B (with `set
 * blas=openblas`, B is gathered whole first). */
/* Whether gathering B pays against materializing it for sgemm_packed_a: false where
 * sgemm_packed_a_pays is, and for products with few rows, which read a B in memory in
 * place without packing it. */
bool sgemm_gather_pays(int64_t M, int64_t N);
void sgemm_packed_a_gather(const SgemmPacked *pa, const SgemmGather *gb, int64_t N, float *C,
                           int64_t ldc, const SgemmEpi *epi);
/* The same product into a C whose columns come in runs of `run` (a conv's samples): column
 * n of row m at C[m * ldc + (n / run) * run_stride + n % run]. On qscope's kernels whatever
 * the backend (callers take it where sgemm_gather_pays). Fast where
 * sgemm_gather_runs_pay(run): no tile then straddles two runs. */
bool sgemm_gather_runs_pay(int64_t run);
void sgemm_packed_a_gather_runs(const SgemmPacked *pa, const SgemmGather *gb, int64_t N,
                                float *C, int64_t ldc, int64_t run, int64_t run_stride,
                                const SgemmEpi *epi);
/* C (M, N) = alpha op(A) (M, K) pb (K, N). */
void sgemm_packed_b(bool ta, int64_t M, float alpha, const float *A, int64_t lda,
                    const SgemmPacked *pb, float *C, int64_t ldc, const SgemmEpi *epi);
void sgemm_packed_free(SgemmPacked *p);
int64_t sgemm_packed_rows(const SgemmPacked *p); /* M of an A, N of a B */
int64_t sgemm_packed_k(const SgemmPacked *p);

/* The backend (`set blas=`); the default is SGEMM_QSCOPE. */
void sgemm_set_backend(SgemmBackend b);
SgemmBackend sgemm_backend(void);
const char *sgemm_backend_name(SgemmBackend b);
/* "qscope", "openblas" -> backend; false for anything else. */
bool sgemm_backend_parse(const char *s, SgemmBackend *out);

#endif
