/* qscope's sgemm: every SIMD level the CPU has, at 1, 2 and 3 threads, equals the scalar
 * reference (sgemm_reference, the summation rule written out) bit for bit on many shapes,
 * transposes, strides, alphas and epilogues, NaN and infinities included; the packed-operand
 * API equals the unpacked product; and the reference is within the float error bound of a
 * double-precision product. C's buffer has sentinels between rows (ldc > N) that must
 * survive, and operands are allocated to their last element so ASan sees any over-read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/pool.h"
#include "kern/sgemm.h"
#include "kern/simd.h"
#include "test_util.h"

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rng_next(void) { return test_splitmix(&rng_state); }

/* uniform in [-1, 1) with a full mantissa, so any change in rounding shows */
static float rnd(void) { return (float)((double)(rng_next() >> 11) / 4503599627370496.0 - 1.0); }

enum { EPI_NONE, EPI_ACC, EPI_BIAS_M, EPI_BIAS_N, EPI_COUNT };

typedef struct Case {
    bool ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha;
    int epi;
    bool clamp, nans;
} Case;

typedef struct Bufs {
    float *A, *B, *C0, *bias_m, *bias_n;
    size_t na, nb, nc;
    SgemmEpi e;
} Bufs;

static size_t span(int64_t rows, int64_t cols, int64_t ld)
{
    return rows == 0 || cols == 0 ? 1 : (size_t)((rows - 1) * ld + cols);
}

static float *rnd_array(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = rnd();
    return p;
}

static Bufs make(const Case *c)
{
    Bufs b = { 0 };
    b.na = c->ta ? span(c->K, c->M, c->lda) : span(c->M, c->K, c->lda);
    b.nb = c->tb ? span(c->N, c->K, c->ldb) : span(c->K, c->N, c->ldb);
    b.nc = span(c->M, c->N, c->ldc);
    b.A = rnd_array(b.na);
    b.B = rnd_array(b.nb);
    b.C0 = rnd_array(b.nc);
    b.bias_m = rnd_array((size_t)c->M);
    b.bias_n = rnd_array((size_t)c->N);
    if (c->nans) {
        b.A[rng_next() % b.na] = NAN;
        b.B[rng_next() % b.nb] = INFINITY;
        b.B[rng_next() % b.nb] = -INFINITY;
        b.C0[rng_next() % b.nc] = NAN;
    }
    b.e = (SgemmEpi){ .accumulate = c->epi == EPI_ACC,
                      .bias_m = c->epi == EPI_BIAS_M ? b.bias_m : NULL,
                      .bias_n = c->epi == EPI_BIAS_N ? b.bias_n : NULL,
                      .clamp = c->clamp, .lo = -0.25f, .hi = 0.5f };
    return b;
}

static void release(Bufs *b)
{
    free(b->A);
    free(b->B);
    free(b->C0);
    free(b->bias_m);
    free(b->bias_n);
}

static void describe(const Case *c, const char *what)
{
    printf("  %s: ta=%d tb=%d M=%lld N=%lld K=%lld ld=%lld,%lld,%lld alpha=%g epi=%d clamp=%d "
           "level=%s threads=%d\n",
           what, c->ta, c->tb, (long long)c->M, (long long)c->N, (long long)c->K,
           (long long)c->lda, (long long)c->ldb, (long long)c->ldc, c->alpha, c->epi,
           c->clamp, simd_name(simd_level()), pool_threads());
}

/* The product under test into a copy of C0; compared with want bit for bit. */
static bool same(const Case *c, const Bufs *b, const float *want, int how, const char *what)
{
    float *C = malloc(b->nc * sizeof *C);
    memcpy(C, b->C0, b->nc * sizeof *C);
    if (how == 0) {
        sgemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, b->A, c->lda, b->B, c->ldb, C, c->ldc,
              &b->e);
    } else if (how == 1) {
        SgemmPacked *pa = sgemm_pack_a(c->ta, c->M, c->K, c->alpha, b->A, c->lda);
        sgemm_packed_a(pa, c->tb, c->N, b->B, c->ldb, C, c->ldc, &b->e);
        sgemm_packed_free(pa);
    } else {
        SgemmPacked *pb = sgemm_pack_b(c->tb, c->K, c->N, b->B, c->ldb);
        sgemm_packed_b(c->ta, c->M, c->alpha, b->A, c->lda, pb, C, c->ldc, &b->e);
        sgemm_packed_free(pb);
    }
    bool ok = memcmp(C, want, b->nc * sizeof *C) == 0;
    if (!ok)
        describe(c, what);
    free(C);
    return ok;
}

/* Every level x threads 1..3 x {plain, packed A, packed B} against the reference. */
static bool check_case(const Case *c)
{
    Bufs b = make(c);
    float *want = malloc(b.nc * sizeof *want);
    memcpy(want, b.C0, b.nc * sizeof *want);
    sgemm_reference(c->ta, c->tb, c->M, c->N, c->K, c->alpha, b.A, c->lda, b.B, c->ldb, want,
                    c->ldc, &b.e);
    bool ok = true;
    for (int l = 0; l <= (int)simd_detected() && ok; l++) {
        simd_cap((SimdLevel)l);
        for (int t = 1; t <= 3 && ok; t++) {
            pool_set_threads(t);
            ok = same(c, &b, want, 0, "sgemm") && same(c, &b, want, 1, "packed A") &&
                 same(c, &b, want, 2, "packed B");
        }
    }
    pool_set_threads(1);
    simd_cap(simd_detected());
    free(want);
    release(&b);
    return ok;
}

static Case shape(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int pad)
{
    Case c = { ta, tb, M, N, K, 0, 0, 0, 1.0f, EPI_NONE, false, false };
    c.lda = (ta ? M : K) + pad;
    c.ldb = (tb ? K : N) + pad;
    c.ldc = N + pad;
    if (c.lda < 1)
        c.lda = 1;
    if (c.ldb < 1)
        c.ldb = 1;
    return c;
}

/* Shapes around every tile edge (6, 12, 16, 32), and primes. */
static void test_shapes(void)
{
    static const int64_t sizes[] = { 1, 2, 5, 6, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 61 };
    int n = (int)(sizeof sizes / sizeof sizes[0]), bad = 0, runs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int64_t K = sizes[(i * 7 + j * 3) % n];
            Case c = shape((i + j) & 1, (i / 2 + j) & 1, sizes[i], sizes[j], K, (i + j) % 3);
            c.epi = (i + 2 * j) % EPI_COUNT;
            c.clamp = (i + j) % 3 == 0;
            c.alpha = (i * j) % 4 == 1 ? 0.5f : 1.0f;
            bad += !check_case(&c);
            runs++;
        }
    printf("small shapes: %d of %d differ\n", bad, runs);
    CHECK(bad == 0);
}

static void test_large(void)
{
    static const int64_t big[][3] = {
        { 64, 1024, 576 }, { 300, 257, 263 }, { 1, 1000, 512 }, { 64, 10, 800 },
        { 256, 256, 256 }, { 131, 3, 517 },   { 2, 700, 33 },   { 97, 149, 1 },
        /* past two K blocks (512) and a column block (256); narrow ones run transposed */
        { 45, 300, 1100 }, { 700, 4, 1030 },   { 600, 17, 1025 },
    };
    int bad = 0, runs = 0;
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int t = 0; t < 4; t++) {
            Case c = shape(t & 1, t >> 1, big[s][0], big[s][1], big[s][2], (int)(s % 2) * 5);
            c.epi = (int)(s + t) % EPI_COUNT;
            c.clamp = (s + t) % 2 == 0;
            c.alpha = t == 3 ? 0.5f : 1.0f;
            bad += !check_case(&c);
            runs++;
        }
    printf("large shapes: %d of %d differ\n", bad, runs);
    CHECK(bad == 0);
}

/* K == 0: C = c0, clamped; NaN and infinities in operands and in c0 (clamp keeps NaN). */
static void test_special(void)
{
    int bad = 0;
    for (int epi = 0; epi < EPI_COUNT; epi++)
        for (int cl = 0; cl < 2; cl++) {
            Case c = shape(false, true, 13, 35, 0, 2);
            c.epi = epi;
            c.clamp = cl;
            bad += !check_case(&c);
            c = shape(epi & 1, epi >> 1, 29, 45, 70, 1);
            c.epi = epi;
            c.clamp = cl;
            c.nans = true;
            bad += !check_case(&c);
        }
    CHECK(bad == 0);
    /* the clamp's rule itself: NaN stays NaN, bounds hit exactly */
    float A[4] = { 1, 1, 1, 1 }, B[4] = { NAN, -3, 0.25f, 7 }, C[4];
    SgemmEpi e = { .clamp = true, .lo = 0, .hi = 6 };
    sgemm(false, false, 1, 4, 1, 1.0f, A, 1, B, 4, C, 4, &e);
    CHECK(isnan(C[0]) && C[1] == 0 && C[2] == 0.25f && C[3] == 6);
}

/* A packed operand used at another SIMD level than it was packed at: same bits. */
static void test_packed_across_levels(void)
{
    Case c = shape(false, false, 37, 71, 300, 3);
    c.epi = EPI_BIAS_N;
    c.clamp = true;
    Bufs b = make(&c);
    float *want = malloc(b.nc * sizeof *want), *got = malloc(b.nc * sizeof *got);
    memcpy(want, b.C0, b.nc * sizeof *want);
    sgemm_reference(false, false, c.M, c.N, c.K, 1.0f, b.A, c.lda, b.B, c.ldb, want, c.ldc, &b.e);
    for (int lp = 0; lp <= (int)simd_detected(); lp++) {
        simd_cap((SimdLevel)lp);
        SgemmPacked *pa = sgemm_pack_a(false, c.M, c.K, 1.0f, b.A, c.lda);
        SgemmPacked *pb = sgemm_pack_b(false, c.K, c.N, b.B, c.ldb);
        CHECK(sgemm_packed_rows(pa) == c.M && sgemm_packed_k(pb) == c.K);
        for (int lu = 0; lu <= (int)simd_detected(); lu++) {
            simd_cap((SimdLevel)lu);
            memcpy(got, b.C0, b.nc * sizeof *got);
            sgemm_packed_a(pa, false, c.N, b.B, c.ldb, got, c.ldc, &b.e);
            CHECK(memcmp(got, want, b.nc * sizeof *got) == 0);
            memcpy(got, b.C0, b.nc * sizeof *got);
            sgemm_packed_b(false, c.M, 1.0f, b.A, c.lda, pb, got, c.ldc, &b.e);
            CHECK(memcmp(got, want, b.nc * sizeof *got) == 0);
        }
        sgemm_packed_free(pa);
        sgemm_packed_free(pb);
    }
    simd_cap(simd_detected());
    free(want);
    free(got);
    release(&b);
}

/* Against a double-precision product: each of the K FMAs rounds once (relative error at
 * most u = 2^-24 of the partial sum, itself at most sum |c0| + |a||b|), and alpha * a rounds
 * once more; so |err| <= (K + 1) u S / (1 - (K + 1) u), S = |c0| + sum |alpha a| |b|, which
 * K 2^-23 S bounds for K >= 2 while K u < 1/4 (and 2^-23 S does for K = 1). The 1e-30
 * absorbs underflow, which these magnitudes never reach. */
static void test_accuracy(void)
{
    const int64_t M = 19, N = 43, K = 1000;
    float *A = rnd_array((size_t)(M * K)), *B = rnd_array((size_t)(K * N)),
          *bias = rnd_array((size_t)N), *C = malloc((size_t)(M * N) * sizeof *C);
    SgemmEpi e = { .bias_n = bias };
    float alpha = 0.7f;
    sgemm(false, false, M, N, K, alpha, A, K, B, N, C, N, &e);
    double worst = 0;
    int bad = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = bias[n], mag = fabs(bias[n]);
            for (int64_t k = 0; k < K; k++) {
                s += (double)alpha * A[m * K + k] * B[k * N + n];
                mag += fabs((double)alpha * A[m * K + k] * B[k * N + n]);
            }
            double err = fabs(C[m * N + n] - s), bound = (double)K * ldexp(1.0, -23) * mag + 1e-30;
            worst = err / bound > worst ? err / bound : worst;
            bad += err > bound;
        }
    printf("accuracy: worst error %.3g of the bound\n", worst);
    CHECK(bad == 0);
    free(A);
    free(B);
    free(bias);
    free(C);
}

/* The OpenBLAS backend still computes the product (its own rounding: within the bound). */
static void test_backend(void)
{
    SgemmBackend b;
    CHECK(sgemm_backend() == SGEMM_QSCOPE);
    CHECK(sgemm_backend_parse("openblas", &b) && b == SGEMM_OPENBLAS);
    CHECK(!sgemm_backend_parse("mkl", &b));
    float A[6] = { 1, 2, 3, 4, 5, 6 }, B[6] = { 1, 0, 0, 1, 1, 1 }, C[4];
    sgemm_set_backend(SGEMM_OPENBLAS);
    sgemm(false, false, 2, 2, 3, 1.0f, A, 3, B, 2, C, 2, NULL);
    sgemm_set_backend(SGEMM_QSCOPE);
    CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11);
}

int main(void)
{
    test_shapes();
    test_large();
    test_special();
    test_packed_across_levels();
    test_accuracy();
    test_backend();
    pool_shutdown();
    return test_summary("sgemm");
}
