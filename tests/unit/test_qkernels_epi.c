/* The int8 engine's work around the GEMM against plain references, identical bytes
 * required at every SIMD level:
 *   - the requantization of a block of GEMM rows (qk_requant_block, AVX-512 and scalar)
 *     against qk_requant_row element by element, for every rule, with accumulators at the
 *     int32 limits, and nothing written between the rows of the destination; the same for
 *     a channel's row into runs of its planes (qk_requant_runs, any run length and start)
 *     and for blocks of a depthwise conv's planes (qk_requant_planes, small planes sharing
 *     vectors);
 *   - the byte transpose against the obvious double loop, on shapes around its 16 x 16
 *     tiles, and the byte max and clamp on every int8 value and tail length;
 *   - the int8 Add under the qscope rule (qk_add_exact) against target_add_apply on every
 *     pair of int8 inputs, zero points and clamps at the int8 limits, scale ratios that
 *     give every shift;
 *   - im2row by chunks on the shapes test_qkernels_int does not reach: more channels than
 *     one padded slice holds, rows wider than the buffer, wide and dilated kernels,
 *     uneven pads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/quant.h"
#include "kern/simd.h"
#include "qexec/qkernels.h"
#include "quant/target.h"
#include "test_util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void) { return test_splitmix(&rng_state); }

static int64_t rng_range(int64_t lo, int64_t hi) /* [lo, hi] */
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* ---- requantization of a block -------------------------------------------------------- */

static int32_t rand_acc(void)
{
    switch (rng_next() % 6) {
    case 0:
        return INT32_MIN;
    case 1:
        return INT32_MAX;
    case 2:
        return (int32_t)rng_range(-300, 300); /* near ties for power-of-two multipliers */
    default:
        return (int32_t)rng_range(-3000000, 3000000);
    }
}

static Requant rand_requant(int rule)
{
    double m = (double)rng_range(1, 200000) * 1e-8;
    if (rng_next() % 8 == 0)
        m = (double)rng_range(1, 4); /* >= 1: a left shift */
    else if (rng_next() % 3 == 0)
        m = 1.0 / (double)(INT64_C(1) << rng_range(1, 9)); /* exact halves */
    return rule == QRQ_GEMMLOWP ? quant_requant_make_gemmlowp(m)
         : rule == QRQ_FP32     ? quant_requant_make_fp32((float)m)
                                : quant_requant_make(m);
}

static bool block_case(int rule, int64_t rows, int64_t n, int t)
{
    int64_t ld = n + rng_range(0, 5), ys = n + rng_range(0, 7);
    Requant *rq = malloc((size_t)n * sizeof *rq);
    int64_t *corr = malloc((size_t)n * sizeof *corr);
    int32_t *acc = malloc((size_t)(rows * ld) * sizeof *acc);
    int8_t *want = malloc((size_t)(rows * ys)), *got = malloc((size_t)(rows * ys));
    for (int64_t j = 0; j < n; j++) {
        rq[j] = rand_requant(rule);
        corr[j] = rng_next() % 4 == 0 ? rng_range(-(INT64_C(1) << 33), INT64_C(1) << 33)
                                      : rng_range(-5000, 5000);
    }
    for (int64_t i = 0; i < rows * ld; i++)
        acc[i] = rand_acc();
    int32_t z = t % 3 == 0 ? -128 : t % 3 == 1 ? 127 : (int32_t)rng_range(-20, 20);
    int32_t lo = t % 2 ? -128 : z, hi = t % 5 ? 127 : 100;
    lo = lo > hi ? hi : lo;
    memset(want, 0x33, (size_t)(rows * ys));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < n; j++)
            qk_requant_row(acc + i * ld + j, 1, 1, corr[j], rq[j], z, lo, hi,
                           want + i * ys + j, 1);
    QkRqVec v;
    qk_rqvec_make(rq, n, &v);
    bool ok = true;
    for (int l = SIMD_SCALAR; l <= (int)simd_level() && ok; l++) {
        memset(got, 0x33, (size_t)(rows * ys));
        qk_requant_block(acc, ld, rows, n, corr, rq, &v, z, lo, hi, got, ys, (SimdLevel)l);
        ok = CHECK(memcmp(got, want, (size_t)(rows * ys)) == 0);
        if (!ok)
            printf("  block rule %d rows %lld n %lld level %s\n", rule, (long long)rows,
                   (long long)n, simd_name((SimdLevel)l));
    }
    qk_rqvec_free(&v);
    free(rq);
    free(corr);
    free(acc);
    free(want);
    free(got);
    return ok;
}

static void test_block(void)
{
    static const int rules[] = { QRQ_Q31_EVEN, QRQ_GEMMLOWP, QRQ_FP32 };
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < 60; t++)
            if (!block_case(rules[r], rng_range(1, 13), t < 20 ? t + 1 : rng_range(1, 70), t))
                return;
}

/* ---- requantization into plane runs and of blocks of planes ---------------------------- */

/* n accumulators of one channel into runs of hw from column p0 (qk_requant_runs), and np
 * planes of ohw (qk_requant_planes), against qk_requant_row element by element at every
 * level; bytes between the runs stay untouched. */
static bool runs_planes_case(int rule, int64_t hw, int64_t p0, int64_t n, int64_t np, int t)
{
    int64_t ys = hw + rng_range(0, 9), rows = (p0 + n + hw - 1) / hw;
    int64_t nacc = n > np * hw ? n : np * hw;
    Requant *rq = malloc((size_t)np * sizeof *rq);
    int32_t *bias = malloc((size_t)np * sizeof *bias);
    int32_t *acc = malloc((size_t)nacc * sizeof *acc);
    size_t yb = (size_t)(rows * ys > np * hw ? rows * ys : np * hw);
    int8_t *want = malloc(yb), *got = malloc(yb);
    for (int64_t j = 0; j < np; j++) {
        rq[j] = rand_requant(rule);
        bias[j] = rng_next() % 4 == 0 ? (int32_t)(rng_next() >> 33) : (int32_t)rng_range(-5000, 5000);
    }
    for (int64_t i = 0; i < nacc; i++)
        acc[i] = rand_acc();
    int32_t z = t % 3 == 0 ? -128 : t % 3 == 1 ? 127 : (int32_t)rng_range(-20, 20);
    int32_t lo = t % 2 ? -128 : z, hi = t % 5 ? 127 : 100;
    lo = lo > hi ? hi : lo;
    QkRqVec v;
    qk_rqvec_make(rq, np, &v);
    bool ok = true;
    /* runs: channel 0's constants, corr bias[0] */
    memset(want, 0x33, yb);
    for (int64_t i = 0; i < n; i++) {
        int64_t p = p0 + i;
        qk_requant_row(acc + i, 1, 1, bias[0], rq[0], z, lo, hi, want + p / hw * ys + p % hw, 1);
    }
    for (int l = SIMD_SCALAR; l <= (int)simd_level() && ok; l++) {
        memset(got, 0x33, yb);
        qk_requant_runs(acc, n, p0, hw, bias[0], &rq[0], &v, z, lo, hi, got, ys, (SimdLevel)l);
        ok = CHECK(memcmp(got, want, yb) == 0);
        if (!ok)
            printf("  runs rule %d hw %lld p0 %lld n %lld level %s\n", rule, (long long)hw,
                   (long long)p0, (long long)n, simd_name((SimdLevel)l));
    }
    /* planes: plane k under channel k */
    memset(want, 0x33, yb);
    for (int64_t k = 0; k < np; k++)
        qk_requant_row(acc + k * hw, 1, hw, bias[k], rq[k], z, lo, hi, want + k * hw, 1);
    for (int l = SIMD_SCALAR; l <= (int)simd_level() && ok; l++) {
        memset(got, 0x33, yb);
        qk_requant_planes(acc, np, hw, bias, rq, &v, z, lo, hi, got, (SimdLevel)l);
        ok = CHECK(memcmp(got, want, yb) == 0);
        if (!ok)
            printf("  planes rule %d ohw %lld np %lld level %s\n", rule, (long long)hw,
                   (long long)np, simd_name((SimdLevel)l));
    }
    qk_rqvec_free(&v);
    free(rq), free(bias), free(acc), free(want), free(got);
    return ok;
}

static void test_runs_planes(void)
{
    static const int rules[] = { QRQ_Q31_EVEN, QRQ_GEMMLOWP, QRQ_FP32 };
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < 80; t++) {
            int64_t hw = t < 20 ? (int64_t[]){ 1, 2, 4, 8, 16 }[t % 5] : rng_range(1, 70);
            if (!runs_planes_case(rules[r], hw, rng_range(0, 3 * hw), rng_range(1, 200),
                                  rng_range(1, 40), t))
                return;
        }
}

/* ---- byte transpose ------------------------------------------------------------------- */

static void test_transpose(void)
{
    for (int t = 0; t < 300; t++) {
        int64_t rows = t < 40 ? t / 2 + 1 : rng_range(1, 70);
        int64_t cols = t < 40 ? 40 - t : rng_range(1, 70);
        int64_t ls = cols + rng_range(0, 9), ld = rows + rng_range(0, 9);
        int8_t *src = malloc((size_t)(rows * ls)), *want = malloc((size_t)(cols * ld));
        int8_t *got = malloc((size_t)(cols * ld));
        for (int64_t i = 0; i < rows * ls; i++)
            src[i] = (int8_t)(rng_next() >> 56);
        memset(want, 0x44, (size_t)(cols * ld));
        memset(got, 0x44, (size_t)(cols * ld));
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                want[j * ld + i] = src[i * ls + j];
        qk_transpose_i8(src, ls, rows, cols, got, ld);
        bool ok = CHECK(memcmp(got, want, (size_t)(cols * ld)) == 0);
        free(src);
        free(want);
        free(got);
        if (!ok) {
            printf("  transpose %lld x %lld\n", (long long)rows, (long long)cols);
            return;
        }
    }
}

/* ---- signed byte max and clamp: every value against every bound ------------------------ */

static void test_max_clamp(void)
{
    enum { N = 256 * 256 + 7 };
    int8_t *x = malloc(N), *m = malloc(N), *want = malloc(N), *got = malloc(N + 1);
    for (int i = 0; i < N; i++) {
        x[i] = (int8_t)i;
        m[i] = (int8_t)(i >> 8);
        want[i] = x[i] > m[i] ? x[i] : m[i];
    }
    qk_max_i8(m, x, N);
    CHECK(memcmp(m, want, N) == 0);
    static const int8_t bounds[][2] = { { -128, 127 }, { 0, 127 }, { 0, 6 }, { -128, -128 },
                                        { 127, 127 }, { -5, 100 }, { -1, 0 } };
    for (int b = 0; b < 7; b++) {
        int8_t lo = bounds[b][0], hi = bounds[b][1];
        for (int i = 0; i < N; i++)
            want[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        for (int64_t len = N - 20; len <= N; len += 7) { /* tails of every length mod 16 */
            memset(got, 0x66, N + 1);
            qk_clamp_i8(x, got, len, lo, hi);
            if (!CHECK(memcmp(got, want, (size_t)len) == 0) || !CHECK(got[len] == 0x66))
                printf("  clamp [%d, %d] length %lld\n", lo, hi, (long long)len);
        }
    }
    free(x);
    free(m);
    free(want);
    free(got);
}

/* The 2x2 MaxPool row and the byte sum against their scalar definitions, every length up
 * to 40 (blocks, shifted last blocks, the scalar short rows), over random bytes and the
 * extremes; the pool writes nothing past its n outputs. */
static void test_pool_bytes(void)
{
    enum { W = 96 };
    int8_t r0[W], r1[W], got[W / 2 + 1], want[W / 2];
    for (int t = 0; t < 200; t++) {
        for (int i = 0; i < W; i++) {
            r0[i] = t % 3 == 0 ? (int8_t)(rng_next() & 1 ? 127 : -128) : (int8_t)rng_next();
            r1[i] = (int8_t)rng_next();
        }
        int64_t n = t % 41;
        for (int64_t o = 0; o < n; o++) {
            int m = r0[2 * o];
            m = r0[2 * o + 1] > m ? r0[2 * o + 1] : m;
            m = r1[2 * o] > m ? r1[2 * o] : m;
            m = r1[2 * o + 1] > m ? r1[2 * o + 1] : m;
            want[o] = (int8_t)m;
        }
        memset(got, 0x66, sizeof got);
        qk_maxpool2x2_row(r0, r1, n, got);
        if (!CHECK(memcmp(got, want, (size_t)n) == 0) || !CHECK(got[n] == 0x66))
            printf("  maxpool2x2 row of %lld\n", (long long)n);
        int32_t sum = 0;
        for (int64_t i = 0; i < 2 * n + t % 7; i++)
            sum += r0[i];
        if (!CHECK(qk_sum_i8(r0, 2 * n + t % 7) == sum))
            printf("  sum of %lld bytes\n", (long long)(2 * n + t % 7));
    }
}

/* ---- int8 Add --------------------------------------------------------------------------- */

static bool add_case(float sa, int32_t za, float sb, int32_t zb, float so, int32_t zo,
                     int32_t qmin, int32_t qmax)
{
    QParams a = { .scale = sa, .zero_point = za, .qmin = -128, .qmax = 127 };
    QParams b = { .scale = sb, .zero_point = zb, .qmin = -128, .qmax = 127 };
    QParams o = { .scale = so, .zero_point = zo, .qmin = qmin, .qmax = qmax };
    TargetAdd ad;
    QsError err = { 0 };
    if (!CHECK_OK(target_add_make(&target_table[QTGT_QSCOPE], &a, &b, &o, &ad, "add", &err),
                  &err))
        return false;
    enum { N = 256 * 256 };
    int8_t *x = malloc(N), *y = malloc(N), *want = malloc(N), *got = malloc(N + 1);
    for (int i = 0; i < N; i++) { /* every pair */
        x[i] = (int8_t)(i >> 8);
        y[i] = (int8_t)i;
        want[i] = (int8_t)target_add_apply(&ad, x[i], y[i]);
    }
    bool ok = true;
    for (int l = SIMD_SCALAR; l <= (int)simd_level() && ok; l++) {
        memset(got, 0x55, N + 1);
        /* pieces of odd lengths, as pool_for's chunks may be */
        for (int64_t i0 = 0; i0 < N;) {
            int64_t i1 = i0 + rng_range(1, 3000);
            i1 = i1 < N ? i1 : N;
            qk_add_exact(&ad, &o, x + i0, y + i0, got + i0, i1 - i0, (SimdLevel)l);
            i0 = i1;
        }
        ok = CHECK(memcmp(got, want, N) == 0) && CHECK(got[N] == 0x55);
        if (!ok)
            printf("  add %g/%d + %g/%d -> %g/%d shift %d level %s\n", sa, za, sb, zb, so, zo,
                   ad.shift, simd_name((SimdLevel)l));
    }
    free(x);
    free(y);
    free(want);
    free(got);
    return ok;
}

static void test_add(void)
{
    /* ties: ratios that are powers of two put many sums on exact halves */
    add_case(0.5f, 0, 0.25f, 0, 1.0f, 0, -128, 127);
    add_case(0.5f, -128, 0.5f, 127, 1.0f, -128, -128, 127);
    add_case(1.0f, 3, 1.0f, -7, 1.0f, 0, 0, 127); /* a clamp at zero (a fused Relu) */
    add_case(3e-3f, 5, 1.0f, 0, 2e-11f, 0, -128, 127); /* ratio >= 2^30: shift 0, scalar */
    add_case(1e-6f, 0, 2e-6f, 0, 1.0f, 0, -128, 127); /* tiny ratios: the largest shifts */
    for (int t = 0; t < 12; t++)
        if (!add_case((float)rng_range(1, 1000) * 1e-3f, (int32_t)rng_range(-128, 127),
                      (float)rng_range(1, 1000) * 1e-3f, (int32_t)rng_range(-128, 127),
                      (float)rng_range(1, 1000) * 1e-3f, (int32_t)rng_range(-128, 127), -128,
                      127))
            return;
}

/* ---- im2row on wide shapes --------------------------------------------------------------- */

static bool im2row_case(int64_t cg, int64_t h, int64_t w, Window win, int t)
{
    ConvAttrs a;
    memset(&a, 0, sizeof a);
    a.sp = 2;
    a.group = 1;
    a.w = win;
    CDims d = { .n = 2, .c = cg, .h = h, .w = w, .oc = 1, .cg = cg, .ocg = 1 };
    d.oh = (h + win.pt + win.pb - win.dh * (win.kh - 1) - 1) / win.sh + 1;
    d.ow = (w + win.pl + win.pr - win.dw * (win.kw - 1) - 1) / win.sw + 1;
    if (d.oh < 1 || d.ow < 1)
        return true;
    int64_t kk = cg * win.kh * win.kw, ohw = d.oh * d.ow, rows = d.n * ohw;
    int64_t xn = d.n * cg * h * w;
    int8_t *x = malloc((size_t)xn);
    for (int64_t i = 0; i < xn; i++)
        x[i] = (int8_t)(rng_next() >> 56);
    int8_t *want = malloc((size_t)(rows * kk)), *got = malloc((size_t)(rows * kk));
    int8_t zp = (int8_t)(t % 2 ? -128 : 127);
    for (int64_t r = 0; r < rows; r++)
        qk_im2row_row(&a, &d, x + (r / ohw) * cg * h * w, zp, (r % ohw) / d.ow,
                      (r % ohw) % d.ow, want + r * kk);
    for (int64_t r0 = 0; r0 < rows;) {
        int64_t r1 = r0 + rng_range(1, 2 * d.ow + 3);
        r1 = r1 < rows ? r1 : rows;
        qk_im2row_rows(&a, &d, x, 0, zp, r0, r1, got + r0 * kk);
        r0 = r1;
    }
    bool ok = CHECK(memcmp(got, want, (size_t)(rows * kk)) == 0);
    if (!ok)
        printf("  im2row cg %lld %lldx%lld k %lldx%lld case %d\n", (long long)cg, (long long)h,
               (long long)w, (long long)win.kh, (long long)win.kw, t);
    free(x);
    free(want);
    free(got);
    return ok;
}

static void test_im2row_wide(void)
{
    const Window k3 = { .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                        .pt = 1, .pl = 1, .pb = 1, .pr = 1 };
    im2row_case(700, 4, 5, k3, 0);     /* channels over several padded slices */
    im2row_case(2, 3, 6000, k3, 1);    /* rows wider than the buffer: pixel by pixel */
    Window w9 = k3;
    w9.kw = 9;
    w9.pl = 4;
    w9.pr = 0;
    im2row_case(3, 5, 20, w9, 2);      /* kw > 8: exact copies */
    for (int t = 0; t < 80; t++) {
        Window r = { .kh = rng_range(1, 5), .kw = rng_range(1, 9), .sh = rng_range(1, 3),
                     .sw = rng_range(1, 3), .dh = t % 5 ? 1 : 2, .dw = t % 4 ? 1 : 2,
                     .pt = rng_range(0, 3), .pl = rng_range(0, 3), .pb = rng_range(0, 3),
                     .pr = rng_range(0, 3) };
        if (!im2row_case(rng_range(1, 40), rng_range(1, 14), rng_range(1, 30), r, t))
            return;
    }
}

int main(void)
{
    test_block();
    test_runs_planes();
    test_transpose();
    test_max_clamp();
    test_pool_bytes();
    test_add();
    test_im2row_wide();
    return test_summary("qkernels_epi");
}
