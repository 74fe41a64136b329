/* The int8 GEMM kernel table: every available row must equal the reference bit for bit on
 * edge shapes (every tail and block remainder), a seeded sample of random shapes, extreme
 * values (including a K so large that int32 wraps), and strided operands; the reference
 * itself is anchored on a hand-computed case. Buffers are allocated to the exact last byte
 * a kernel may touch, so ASan catches any read past a row's end. The planes form (a
 * pointwise conv's input planes packed as B) against the reference on the gathered
 * columns, for runs of every length across samples and K tails; the planes form of a conv
 * (its im2col columns packed from the input planes) against the reference on the im2col
 * matrix, for random maps, kernels, strides 1 and 2, dilations, pads and zero points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qexec/qgemm.h"
#include "test_util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void) { return test_splitmix(&rng_state); }

enum { FILL_RANDOM, FILL_MIN, FILL_MAX, FILL_MINMAX };

typedef struct {
    int64_t M, N, K, lda, ldb, ldc;
} Shape3;

/* Bytes from the start of a (rows, cols) matrix with stride ld to its last element + 1. */
static size_t span(int64_t rows, int64_t cols, int64_t ld, size_t elem)
{
    if (rows == 0 || cols == 0)
        return elem; /* a valid pointer that must not be read */
    return ((size_t)(rows - 1) * (size_t)ld + (size_t)cols) * elem;
}

static void fill(int8_t *p, size_t n, int mode, int8_t fixed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = mode == FILL_RANDOM ? (int8_t)(rng_next() >> 56) : fixed;
}

static const int32_t SENTINEL = 0x5a5a5a5a;

/* Runs every available row on one shape; returns false on the first mismatch (printed). */
static bool check_shape(Shape3 s, int mode)
{
    size_t na = span(s.M, s.K, s.lda, 1), nb = span(s.N, s.K, s.ldb, 1);
    size_t nc = span(s.M, s.N, s.ldc, sizeof(int32_t)) / sizeof(int32_t);
    int8_t *A = malloc(na), *B = malloc(nb);
    int32_t *want = malloc(nc * sizeof(int32_t)), *got = malloc(nc * sizeof(int32_t));
    int8_t afix = mode == FILL_MAX ? 127 : -128, bfix = mode == FILL_MIN ? -128 : 127;
    fill(A, na, mode, afix);
    fill(B, nb, mode, bfix);
    for (size_t i = 0; i < nc; i++)
        want[i] = SENTINEL;
    qkernel_table[QK_REF].gemm(s.M, s.N, s.K, A, s.lda, B, s.ldb, want, s.ldc);

    bool ok = true;
    for (int id = 1; id < QK_COUNT && ok; id++) {
        const QKernelDef *d = &qkernel_table[id];
        if (!d->gemm || !d->available())
            continue;
        for (size_t i = 0; i < nc; i++)
            got[i] = SENTINEL;
        d->gemm(s.M, s.N, s.K, A, s.lda, B, s.ldb, got, s.ldc);
        /* whole span, so the gaps between rows of C must keep the sentinel too */
        for (size_t i = 0; i < nc && ok; i++) {
            if (got[i] != want[i]) {
                fprintf(stderr,
                        "  %s: M=%lld N=%lld K=%lld lda=%lld ldb=%lld ldc=%lld mode=%d: C[%zu] "
                        "= %d, ref %d\n",
                        d->name, (long long)s.M, (long long)s.N, (long long)s.K,
                        (long long)s.lda, (long long)s.ldb, (long long)s.ldc, mode, i,
                        got[i], want[i]);
                ok = false;
            }
        }
    }
    free(A);
    free(B);
    free(want);
    free(got);
    return ok;
}

static Shape3 dense(int64_t M, int64_t N, int64_t K)
{
    return (Shape3){ M, N, K, K, K, N };
}

static void test_reference_by_hand(void)
{
    /* A = [1 2 3; 4 5 6], B = [1 0 -1; 2 2 2; -128 127 0]:
     * C = [1-3, 2+4+6, -128+254; 4-6, 8+10+12, -512+635] */
    const int8_t A[6] = { 1, 2, 3, 4, 5, 6 };
    const int8_t B[9] = { 1, 0, -1, 2, 2, 2, -128, 127, 0 };
    const int32_t want[6] = { -2, 12, 126, -2, 30, 123 };
    int32_t got[6];
    qkernel_table[QK_REF].gemm(2, 3, 3, A, 3, B, 3, got, 3);
    CHECK(expect_equal_i32("ref 2x3x3", got, want, 6));

    /* K = 0: C is all zeros */
    int32_t z[4] = { 7, 7, 7, 7 };
    const int32_t zeros[4] = { 0 };
    for (int id = 0; id < QK_COUNT; id++) {
        const QKernelDef *d = &qkernel_table[id];
        if (!d->gemm || !d->available())
            continue;
        for (int i = 0; i < 4; i++)
            z[i] = 7;
        d->gemm(2, 2, 0, A, 3, B, 3, z, 2);
        CHECK(expect_equal_i32(d->name, z, zeros, 4));
    }
}

static void test_table(void)
{
    const char *names[QK_COUNT] = { "ref", "avx2", "avx-vnni", "avx512-vnni" };
    printf("qgemm rows exercised:");
    for (int id = 0; id < QK_COUNT; id++) {
        const QKernelDef *d = &qkernel_table[id];
        CHECK(d->name != NULL && strcmp(d->name, names[id]) == 0);
        CHECK(d->available != NULL);
        bool av = d->available();
        CHECK(!av || d->gemm != NULL);
        if (av)
            printf(" %s", d->name);
    }
    printf("\n");
    CHECK(qkernel_table[QK_REF].available());
    CHECK(qkernel_table[QK_REF].gemm != NULL);
}

static void test_shapes(void)
{
    static const int64_t sizes[] = { 0, 1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 300 };
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    int failed = 0, run = 0;

    /* Edge shapes: every K against every block remainder of M and N (blocks are at most
     * 4 x 4), and every size on each axis with the others small. */
    static const int64_t small[] = { 0, 1, 2, 3, 4, 5, 7, 9 };
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < ns; k++, run++)
                failed += !check_shape(dense(small[i], small[j], sizes[k]), FILL_RANDOM);
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < ns; j++, run += 2) {
            failed += !check_shape(dense(sizes[i], sizes[j], 33), FILL_RANDOM);
            failed += !check_shape(dense(sizes[i], 5, sizes[j]), FILL_RANDOM);
        }

    /* A seeded random sample of 200 shapes from sizes^3. */
    for (int t = 0; t < 200; t++, run++) {
        int64_t M = sizes[rng_next() % (uint64_t)ns], N = sizes[rng_next() % (uint64_t)ns];
        int64_t K = sizes[rng_next() % (uint64_t)ns];
        failed += !check_shape(dense(M, N, K), FILL_RANDOM);
    }
    printf("qgemm: %d shapes, %d mismatched\n", run, failed);
    CHECK(failed == 0);
}

static void test_extremes(void)
{
    static const int64_t Ks[] = { 1, 17, 64, 127, 300, 4097 };
    int failed = 0;
    for (int mode = FILL_MIN; mode <= FILL_MINMAX; mode++)
        for (int k = 0; k < 6; k++) {
            failed += !check_shape(dense(9, 7, Ks[k]), mode);
            failed += !check_shape(dense(4, 4, Ks[k]), mode);
        }
    CHECK(failed == 0);

    /* -128 * -128 everywhere: C = 16384 K exactly; and 127 * -128 = -16256 K. */
    int64_t K = 4097;
    int8_t *A = malloc((size_t)K * 3), *B = malloc((size_t)K * 2);
    int32_t C[6];
    memset(A, 0x80, (size_t)K * 3);
    memset(B, 0x80, (size_t)K);
    memset(B + K, 0x7f, (size_t)K);
    const int32_t want[6] = { 16384 * 4097, -16256 * 4097, 16384 * 4097,
                              -16256 * 4097, 16384 * 4097, -16256 * 4097 };
    for (int id = 0; id < QK_COUNT; id++) {
        const QKernelDef *d = &qkernel_table[id];
        if (!d->gemm || !d->available())
            continue;
        d->gemm(3, 2, K, A, K, B, K, C, 2);
        CHECK(expect_equal_i32(d->name, C, want, 6));
    }
    free(A);
    free(B);

    /* K = 140000 > 2^17: 16384 K = 2293760000 exceeds INT32_MAX; every row wraps it
     * modulo 2^32 to the same bits as the reference (documented in qgemm.h's terms: the
     * exact range ends at K < 2^17). */
    failed = 0;
    failed += !check_shape(dense(5, 5, 140000), FILL_MIN);
    failed += !check_shape(dense(5, 5, 140000), FILL_MINMAX);
    CHECK(failed == 0);
    K = 140000;
    A = malloc((size_t)K);
    B = malloc((size_t)K);
    memset(A, 0x80, (size_t)K);
    memset(B, 0x80, (size_t)K);
    qkernel_table[QK_REF].gemm(1, 1, K, A, K, B, K, C, 1);
    CHECK((uint32_t)C[0] == (uint32_t)(UINT64_C(16384) * 140000u));
    free(A);
    free(B);
}

static void test_strides(void)
{
    static const int64_t sizes[] = { 1, 3, 16, 17, 33, 64, 65, 130 };
    int failed = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            int64_t M = sizes[i], N = sizes[(j + 3) % 8], K = sizes[j];
            failed += !check_shape((Shape3){ M, N, K, K + 5, K + 13, N + 3 }, FILL_RANDOM);
            failed += !check_shape((Shape3){ M, N, K, K + 64, K + 1, N + 17 }, FILL_RANDOM);
        }
    /* a sub-block of a larger C: ldc much bigger than N */
    failed += !check_shape((Shape3){ 37, 11, 100, 100, 100, 1000 }, FILL_RANDOM);
    CHECK(failed == 0);
}

static void test_force(void)
{
    const QKernelDef *first = qgemm_active();
    CHECK(first != NULL && first->available());
    /* the default is the last available row */
    int best = QK_REF;
    for (int id = 0; id < QK_COUNT; id++)
        if (qkernel_table[id].gemm && qkernel_table[id].available())
            best = id;
    CHECK(first == &qkernel_table[best]);

    int8_t A[4 * 40], B[3 * 40];
    fill(A, sizeof A, FILL_RANDOM, 0);
    fill(B, sizeof B, FILL_RANDOM, 0);
    int32_t want[12], got[12];
    qkernel_table[QK_REF].gemm(4, 3, 40, A, 40, B, 40, want, 3);
    for (int id = 0; id < QK_COUNT; id++) {
        const QKernelDef *d = &qkernel_table[id];
        bool av = d->gemm && d->available();
        CHECK(qgemm_force((QKernelId)id) == av);
        if (av) {
            CHECK(qgemm_active() == d);
            memset(got, 0, sizeof got);
            qgemm(4, 3, 40, A, 40, B, 40, got, 3);
            CHECK(expect_equal_i32(d->name, got, want, 12));
        } else {
            CHECK(qgemm_active() != d);
        }
    }
    CHECK(qgemm_force(QK_REF));
    CHECK(qgemm_active() == &qkernel_table[QK_REF]);
    CHECK(!qgemm_force(QK_COUNT));
    CHECK(!qgemm_force((QKernelId)-1));
    CHECK(qgemm_active() == &qkernel_table[QK_REF]);
    CHECK(qgemm_force((QKernelId)best));
}

/* ---- the planes form (a pointwise conv's input planes as B) -------------------------- */

typedef struct PlanesOut {
    int32_t *C;
    int64_t ncols;
    int64_t rows_seen;
} PlanesOut;

static void planes_epi(void *ctx, int64_t m0, int64_t mr, const int32_t *acc, int64_t ld)
{
    PlanesOut *o = ctx;
    CHECK(m0 == o->rows_seen);
    for (int64_t i = 0; i < mr; i++)
        memcpy(o->C + (m0 + i) * o->ncols, acc + i * ld, (size_t)o->ncols * sizeof(int32_t));
    o->rows_seen += mr;
}

/* M channels out of K in, nb samples of hw pixels, columns r0 .. r0 + ncols - 1: the
 * product against qgemm_ref on the gathered X^T; the planes sized exactly (ASan). */
static bool planes_case(int64_t M, int64_t K, int64_t hw, int64_t nb, int64_t r0,
                        int64_t ncols)
{
    int8_t *x = malloc((size_t)(nb * K * hw)), *A = malloc((size_t)(M * K));
    int8_t *bt = malloc((size_t)(ncols * K));
    int32_t *want = malloc((size_t)(M * ncols) * sizeof(int32_t));
    int32_t *got = malloc((size_t)(M * ncols) * sizeof(int32_t));
    void *packed = malloc(qgemm_planes_bytes(K, ncols));
    void *work = malloc(qgemm_planes_work_bytes(ncols));
    fill(x, (size_t)(nb * K * hw), rng_next() % 5 == 0 ? FILL_MIN : FILL_RANDOM, -128);
    fill(A, (size_t)(M * K), rng_next() % 5 == 0 ? FILL_MAX : FILL_RANDOM, 127);
    for (int64_t t = 0; t < ncols; t++) { /* X^T: column r0 + t, K channels */
        int64_t r = r0 + t, b = r / hw, p = r % hw;
        for (int64_t k = 0; k < K; k++)
            bt[t * K + k] = x[b * K * hw + k * hw + p];
    }
    qkernel_table[QK_REF].gemm(M, ncols, K, A, K, bt, K, want, ncols);
    qgemm_planes_pack(x, K * hw, hw, K, r0, ncols, packed);
    PlanesOut o = { got, ncols, 0 };
    qgemm_planes_run(M, K, A, K, packed, ncols, work, planes_epi, &o);
    bool ok = CHECK(o.rows_seen == M) &&
              CHECK(memcmp(got, want, (size_t)(M * ncols) * sizeof(int32_t)) == 0);
    if (!ok)
        printf("  planes M %lld K %lld hw %lld r0 %lld ncols %lld\n", (long long)M,
               (long long)K, (long long)hw, (long long)r0, (long long)ncols);
    free(x), free(A), free(bt), free(want), free(got), free(packed), free(work);
    return ok;
}

static void test_planes(void)
{
    if (!qgemm_planes_ok()) {
        printf("  planes form: not on this CPU (no AVX-512 VNNI row), skipped\n");
        return;
    }
    for (int t = 0; t < 120; t++) {
        int64_t hw = t < 20 ? t % 5 + 1 : (int64_t)(rng_next() % 70) + 1;
        int64_t nb = (int64_t)(rng_next() % 6) + 1, cols = nb * hw;
        int64_t r0 = (int64_t)(rng_next() % (uint64_t)cols);
        int64_t ncols = (int64_t)(rng_next() % (uint64_t)(cols - r0)) + 1;
        int64_t K = t < 40 ? t % 9 + 1 : (int64_t)(rng_next() % 200) + 1;
        int64_t M = (int64_t)(rng_next() % 30) + 1;
        if (!planes_case(M, K, hw, nb, r0, ncols))
            return;
    }
}

/* ---- the planes form of a conv (its im2col columns packed from the input planes) ----- */

/* A random conv of nb samples, columns r0 .. r0 + ncols - 1: the product against
 * qgemm_ref on the im2col matrix built tap by tap (zp in the padding, the padding taps of
 * each kernel row reading whatever the pack reads, under zero weights). */
static bool planes_conv_case(int t)
{
    QgConvCols g = { .c = (int64_t)(rng_next() % 4) + 1, .h = (int64_t)(rng_next() % 20) + 1,
                     .w = (int64_t)(rng_next() % 30) + 1, .kh = (int64_t)(rng_next() % 5) + 1,
                     .kw = (int64_t)(rng_next() % 7) + 1, .sh = (int64_t)(rng_next() % 3) + 1,
                     .sw = (int64_t)(rng_next() % 2) + 1, .dh = (int64_t)(rng_next() % 2) + 1,
                     .dw = 1, .pt = (int64_t)(rng_next() % 4), .pl = (int64_t)(rng_next() % 4),
                     .zp = (int8_t)(t % 3 == 0 ? -128 : t % 3 == 1 ? 127 : (int)rng_next()) };
    int64_t pb = (int64_t)(rng_next() % 4), pr = (int64_t)(rng_next() % 4);
    g.oh = (g.h + g.pt + pb - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.ow = (g.w + g.pl + pr - (g.kw - 1) - 1) / g.sw + 1;
    if (g.oh < 1 || g.ow < 1 || !qgemm_planes_conv_ok(&g))
        return true;
    int64_t nb = (int64_t)(rng_next() % 3) + 1, ohw = g.oh * g.ow, cols = nb * ohw;
    int64_t r0 = (int64_t)(rng_next() % (uint64_t)cols);
    int64_t ncols = (int64_t)(rng_next() % (uint64_t)(cols - r0)) + 1;
    int64_t M = (int64_t)(rng_next() % 31) + 1, kw4 = qgemm_planes_conv_kw4(&g);
    int64_t K = qgemm_planes_conv_k(&g), chw = g.c * g.h * g.w;
    int8_t *x = malloc((size_t)(nb * chw)), *A = malloc((size_t)(M * K));
    int8_t *bt = malloc((size_t)(ncols * K));
    int32_t *want = malloc((size_t)(M * ncols) * sizeof(int32_t));
    int32_t *got = malloc((size_t)(M * ncols) * sizeof(int32_t));
    void *packed = malloc(qgemm_planes_bytes(K, ncols));
    void *work = malloc(qgemm_planes_work_bytes(ncols));
    fill(x, (size_t)(nb * chw), t % 5 == 0 ? FILL_MIN : FILL_RANDOM, -128);
    fill(A, (size_t)(M * K), t % 7 == 0 ? FILL_MAX : FILL_RANDOM, 127);
    for (int64_t k = 0; k < M * K; k++)
        if (k % kw4 >= g.kw)
            A[k] = 0;
    for (int64_t j = 0; j < ncols; j++) {
        int64_t r = r0 + j, b = r / ohw, oh = r % ohw / g.ow, ow = r % g.ow;
        for (int64_t k = 0; k < K; k++) {
            int64_t c = k / (g.kh * kw4), i = k / kw4 % g.kh, q = k % kw4;
            int64_t ih = oh * g.sh - g.pt + i * g.dh, iw = ow * g.sw - g.pl + q;
            bool in = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
            /* a padding tap (q >= kw) multiplies a zero weight: any byte gives the same */
            bt[j * K + k] = q >= g.kw ? 0 : in ? x[b * chw + (c * g.h + ih) * g.w + iw] : g.zp;
        }
    }
    qkernel_table[QK_REF].gemm(M, ncols, K, A, K, bt, K, want, ncols);
    qgemm_planes_pack_conv(&g, x, r0, ncols, packed);
    PlanesOut o = { got, ncols, 0 };
    qgemm_planes_run(M, K, A, K, packed, ncols, work, planes_epi, &o);
    bool ok = CHECK(o.rows_seen == M) &&
              CHECK(memcmp(got, want, (size_t)(M * ncols) * sizeof(int32_t)) == 0);
    if (!ok)
        printf("  planes conv case %d: c %lld %lldx%lld k %lldx%lld s %lld,%lld\n", t,
               (long long)g.c, (long long)g.h, (long long)g.w, (long long)g.kh,
               (long long)g.kw, (long long)g.sh, (long long)g.sw);
    free(x), free(A), free(bt), free(want), free(got), free(packed), free(work);
    return ok;
}

static void test_planes_conv(void)
{
    if (!qgemm_planes_ok()) {
        printf("  planes form of convs: not on this CPU (no AVX-512 VNNI row), skipped\n");
        return;
    }
    for (int t = 0; t < 300; t++)
        if (!planes_conv_case(t))
            return;
}

int main(void)
{
    test_table();
    test_reference_by_hand();
    test_shapes();
    test_extremes();
    test_strides();
    test_force();
    test_planes();
    test_planes_conv();
    return test_summary("qgemm");
}
