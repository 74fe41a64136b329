#include "kern/sgemm.h"

#include <cblas.h>
#include <math.h>

#include "kern/pool.h"

/* OpenBLAS until qscope's own kernels are fast (issue 17, in progress) */
const SgemmEpi sgemm_accumulate = { .accumulate = true };

/* OpenBLAS until qscope's own kernels are fast (issue 17, in progress) */
static SgemmBackend backend = SGEMM_OPENBLAS;

static const char *const backend_names[SGEMM_BACKEND_COUNT] = { "qscope", "openblas" };

void sgemm_set_backend(SgemmBackend b) { backend = b; }
SgemmBackend sgemm_backend(void) { return backend; }
const char *sgemm_backend_name(SgemmBackend b)
{
    return (int)b >= 0 && b < SGEMM_BACKEND_COUNT ? backend_names[b] : "?";
}

typedef struct SgemmCall {
    bool ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha;
    const float *A, *B;
    float *C;
    SgemmEpi epi;
} SgemmCall;

static inline float c_init(const SgemmCall *c, int64_t m, int64_t n)
{
    if (c->epi.accumulate)
        return c->C[m * c->ldc + n];
    if (c->epi.bias_m)
        return c->epi.bias_m[m];
    if (c->epi.bias_n)
        return c->epi.bias_n[n];
    return 0.0f;
}

static inline float c_clamp(const SgemmEpi *e, float v)
{
    return !e->clamp ? v : v < e->lo ? e->lo : v > e->hi ? e->hi : v;
}

/* The scalar reference: the rule, written out. */
static void rows_scalar(void *ctx, int64_t m0, int64_t m1)
{
    const SgemmCall *c = ctx;
    for (int64_t m = m0; m < m1; m++)
        for (int64_t n = 0; n < c->N; n++) {
            float acc = c_init(c, m, n);
            for (int64_t k = 0; k < c->K; k++) {
                float a = c->ta ? c->A[k * c->lda + m] : c->A[m * c->lda + k];
                float b = c->tb ? c->B[n * c->ldb + k] : c->B[k * c->ldb + n];
                acc = fmaf(c->alpha * a, b, acc);
            }
            c->C[m * c->ldc + n] = c_clamp(&c->epi, acc);
        }
}

static void sgemm_openblas(const SgemmCall *c)
{
    bool init = c->epi.accumulate || c->epi.bias_m || c->epi.bias_n;
    if (init && !c->epi.accumulate)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t n = 0; n < c->N; n++)
                c->C[m * c->ldc + n] = c_init(c, m, n);
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans,
                c->tb ? CblasTrans : CblasNoTrans, (int)c->M, (int)c->N, (int)c->K, c->alpha, c->A,
                (int)c->lda, c->B, (int)c->ldb, init ? 1.0f : 0.0f, c->C, (int)c->ldc);
    if (c->epi.clamp)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t n = 0; n < c->N; n++)
                c->C[m * c->ldc + n] = c_clamp(&c->epi, c->C[m * c->ldc + n]);
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
           int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, const SgemmEpi *epi)
{
    if (M <= 0 || N <= 0)
        return;
    SgemmCall c = { ta, tb, M, N, K, lda, ldb, ldc, alpha, A, B, C, epi ? *epi : (SgemmEpi){ 0 } };
    if (backend == SGEMM_OPENBLAS) {
        sgemm_openblas(&c);
        return;
    }
    pool_for(M, 1, rows_scalar, &c);
}
