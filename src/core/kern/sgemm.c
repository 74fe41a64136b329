#include "kern/sgemm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kern/clamp.h"
#include "kern/sgemm_internal.h"

const SgemmEpi sgemm_accumulate = { .accumulate = true };

static SgemmBackend backend = SGEMM_QSCOPE;

static const char *const backend_names[SGEMM_BACKEND_COUNT] = { "qscope", "openblas" };

void sgemm_set_backend(SgemmBackend b) { backend = b; }
SgemmBackend sgemm_backend(void) { return backend; }
const char *sgemm_backend_name(SgemmBackend b)
{
    return (int)b >= 0 && b < SGEMM_BACKEND_COUNT ? backend_names[b] : "?";
}

bool sgemm_backend_parse(const char *s, SgemmBackend *out)
{
    for (int i = 0; i < SGEMM_BACKEND_COUNT; i++)
        if (s && strcmp(s, backend_names[i]) == 0) {
            *out = (SgemmBackend)i;
            return true;
        }
    return false;
}

float sg_c0(const SgProblem *p, int64_t m, int64_t n)
{
    if (p->epi.accumulate)
        return *sg_c_at(p, m, n);
    if (p->epi.bias_m)
        return p->epi.bias_m[m];
    if (p->epi.bias_n)
        return p->epi.bias_n[n];
    return 0.0f;
}

/* The problem of a row-major product; swapped: C^T = op(B)^T op(A)^T. */
static SgProblem problem(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                         int64_t ldc, const SgemmEpi *epi, bool swap)
{
    SgOperand a = { A, ta ? 1 : lda, ta ? lda : 1, alpha, NULL, 0, NULL };
    SgOperand b = { B, tb ? ldb : 1, tb ? 1 : ldb, 1.0f, NULL, 0, NULL };
    SgemmEpi e = epi ? *epi : (SgemmEpi){ 0 };
    if (!swap)
        return (SgProblem){ M, N, K, a, b, C, ldc, 1, e, 0, 0 };
    const float *bm = e.bias_m;
    e.bias_m = e.bias_n;
    e.bias_n = bm;
    return (SgProblem){ N, M, K, b, a, C, 1, ldc, e, 0, 0 };
}

void sgemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                     int64_t ldc, const SgemmEpi *epi)
{
    SgProblem p = problem(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, epi, false);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            float acc = sg_c0(&p, m, n);
            for (int64_t k = 0; k < K; k++) {
                float a = p.a.p[m * p.a.is + k * p.a.ks];
                float b = p.b.p[n * p.b.is + k * p.b.ks];
                acc = fmaf(alpha * a, b, acc);
            }
            C[m * ldc + n] = sg_finish(&p.epi, m, acc);
        }
}

void sg_openblas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                 const SgemmEpi *epi)
{
    SgProblem p = problem(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, epi, false);
    bool init = p.epi.accumulate || p.epi.bias_m || p.epi.bias_n;
    if (init && !p.epi.accumulate)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                C[m * ldc + n] = sg_c0(&p, m, n);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, init ? 1.0f : 0.0f, C,
                (int)ldc);
    if (p.epi.clamp || p.epi.sub_m)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                C[m * ldc + n] = sg_finish(&p.epi, m, C[m * ldc + n]);
}

/* Lanes are filled along N; when N leaves most of a tile's columns empty and M is larger,
 * the transposed problem fills them (its C is written through a tile buffer). */
static bool swap_pays(int64_t M, int64_t N)
{
    int nr = sg_kernel(simd_level()).nr;
    return N < nr && M >= 2 * N;
}

bool sgemm_packed_a_pays(int64_t M, int64_t N)
{
    return backend == SGEMM_QSCOPE && !swap_pays(M, N);
}

bool sgemm_packed_a_narrow_pays(int64_t M, int64_t N, const SgemmEpi *epi)
{
    return backend == SGEMM_QSCOPE && swap_pays(M, N) && !(epi && epi->sub_m);
}

bool sgemm_packed_b_pays(int64_t M, int64_t N, const SgemmEpi *epi)
{
    return backend == SGEMM_QSCOPE && !(swap_pays(M, N) && !(epi && epi->sub_m));
}

bool sgemm_gather_pays(int64_t M, int64_t N)
{
    return sgemm_packed_a_pays(M, N) && M > SG_DIRECT_B_ROWS * sg_kernel(simd_level()).mr;
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
           int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, const SgemmEpi *epi)
{
    if (M <= 0 || N <= 0)
        return;
    if (backend == SGEMM_OPENBLAS) {
        sg_openblas(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, epi);
        return;
    }
    SgProblem p = problem(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, epi,
                          swap_pays(M, N) && !(epi && epi->sub_m));
    sg_drive(&p);
}
