/* The int8 engine's kernels against their references, identical integers required:
 *   - every qgemm row's packed form (weights packed once, the product handed to an
 *     epilogue block by block) against the reference triple loop, on odd shapes and
 *     extreme values, and the packed run of the active row against the unpacked qgemm;
 *   - the requantization of a row of channels and along a row (AVX-512) against the scalar
 *     rows, for every rule (qscope Q31, TFLite gemmlowp, fp32), accumulators at the int32
 *     limits, zero points and clamps at the int8 limits;
 *   - the depthwise planes of every SIMD level against the scalar plane on kernels,
 *     strides, dilations and pads, inputs and zero points at -128 and 127; the blocks of
 *     planes across lanes (AVX-512, stride 1 and the same size) on maps 1x1..8x8 and
 *     14x14, odd channel counts, batch 1 and 3; channels across lanes (AVX-512) on
 *     random maps, kernels, strides, dilations, uneven pads and channel counts;
 *   - the kernel choice under a SIMD cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/quant.h"
#include "kern/simd.h"
#include "qexec/qgemm.h"
#include "qexec/qkernels.h"
#include "qexec/qkernels_dw.h"
#include "test_util.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng_next(void) { return test_splitmix(&rng_state); }

static int64_t rng_range(int64_t lo, int64_t hi) /* [lo, hi] */
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* mode 0 random, 1 all -128, 2 all 127, 3 -128 / 127 alternating */
static void fill8(int8_t *p, int64_t n, int mode)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = mode == 0 ? (int8_t)(rng_next() >> 56)
             : mode == 1 ? -128
             : mode == 2 ? 127
                         : (i % 3 ? 127 : -128);
}

/* ---- packed qgemm ------------------------------------------------------------------- */

typedef struct Store {
    int32_t *C;
    int64_t N;
    int64_t rows_seen;
} Store;

static void store_epi(void *ctx, int64_t m0, int64_t mr, const int32_t *acc, int64_t ld)
{
    Store *s = ctx;
    CHECK(m0 == s->rows_seen); /* blocks come in row order, each row once */
    s->rows_seen += mr;
    for (int64_t i = 0; i < mr; i++)
        memcpy(s->C + (m0 + i) * s->N, acc + i * ld, (size_t)s->N * sizeof(int32_t));
}

static bool packed_case(int64_t M, int64_t N, int64_t K, int mode)
{
    int8_t *A = malloc((size_t)(M * K + 1)), *B = malloc((size_t)(N * K + 1));
    int32_t *want = calloc((size_t)(M * N + 1), sizeof(int32_t));
    int32_t *got = calloc((size_t)(M * N + 1), sizeof(int32_t));
    void *work = aligned_alloc(64, (qgemm_work_bytes(N, K) + 63) & ~(size_t)63);
    fill8(A, M * K, mode);
    fill8(B, N * K, mode == 1 ? 2 : mode);
    qkernel_table[QK_REF].gemm(M, N, K, A, K, B, K, want, N);
    bool ok = true;
    for (int id = 0; id < QK_COUNT && ok; id++) {
        if (!qgemm_force((QKernelId)id))
            continue;
        QPacked p;
        if (!CHECK(qgemm_pack_for((QKernelId)id, N, K, B, K, &p)))
            break;
        memset(got, 0x5a, (size_t)(M * N) * sizeof(int32_t));
        Store st = { got, N, 0 };
        qgemm_packed_row(&p, M, A, K, work, store_epi, &st);
        ok = CHECK(st.rows_seen == M) && expect_equal_i32(qkernel_table[id].name, got, want,
                                                          (size_t)(M * N));
        /* the active row through qgemm_packed, and the unpacked qgemm */
        memset(got, 0x5a, (size_t)(M * N) * sizeof(int32_t));
        st = (Store){ got, N, 0 };
        qgemm_packed(&p, M, A, K, work, store_epi, &st);
        ok = ok && expect_equal_i32("packed, active", got, want, (size_t)(M * N));
        memset(got, 0x5a, (size_t)(M * N) * sizeof(int32_t));
        qgemm(M, N, K, A, K, B, K, got, N);
        ok = ok && expect_equal_i32("unpacked", got, want, (size_t)(M * N));
        qpacked_free(&p);
    }
    qgemm_unforce();
    if (!ok)
        printf("  shape M=%lld N=%lld K=%lld mode %d\n", (long long)M, (long long)N,
               (long long)K, mode);
    free(A);
    free(B);
    free(want);
    free(got);
    free(work);
    return ok;
}

static void test_packed(void)
{
    static const int64_t edge[] = { 1, 2, 3, 4, 5, 7, 11, 12, 13, 16, 17, 31, 32, 33, 63, 65 };
    int n = (int)(sizeof edge / sizeof edge[0]);
    for (int i = 0; i < n; i++)
        if (!packed_case(edge[i], edge[(i * 7 + 3) % n], edge[(i * 5 + 1) % n], i % 4))
            return;
    for (int t = 0; t < 60; t++)
        if (!packed_case(rng_range(1, 80), rng_range(1, 90), rng_range(0, 300), t % 4))
            return;
    packed_case(30, 20, 0, 0); /* K = 0: zeros */
}

/* A SIMD cap bounds the row picked: scalar -> the reference, avx2 -> at most AVX2. */
static void test_cap(void)
{
    SimdLevel was = simd_level();
    qgemm_unforce();
    simd_cap(SIMD_SCALAR);
    CHECK(qgemm_active() == &qkernel_table[QK_REF]);
    simd_cap(SIMD_AVX2);
    CHECK(qgemm_active()->level <= SIMD_AVX2);
    simd_cap(was);
    CHECK(qgemm_active()->level <= was);
    /* weights packed for one row still run when the cap later forbids it */
    int8_t A[5 * 9], B[3 * 9];
    fill8(A, 45, 0);
    fill8(B, 27, 0);
    int32_t want[15], got[15];
    qkernel_table[QK_REF].gemm(5, 3, 9, A, 9, B, 9, want, 3);
    QPacked p;
    if (CHECK(qgemm_pack(3, 9, B, 9, &p))) {
        void *work = aligned_alloc(64, (qgemm_work_bytes(3, 9) + 63) & ~(size_t)63);
        simd_cap(SIMD_SCALAR);
        Store st = { got, 3, 0 };
        qgemm_packed(&p, 5, A, 9, work, store_epi, &st);
        simd_cap(was);
        expect_equal_i32("packed after a cap", got, want, 15);
        free(work);
        qpacked_free(&p);
    }
}

/* ---- requantization ------------------------------------------------------------------ */

static int32_t rand_acc(void)
{
    switch (rng_next() % 6) {
    case 0:
        return INT32_MIN;
    case 1:
        return INT32_MAX;
    case 2:
        return (int32_t)rng_range(-300, 300);
    default:
        return (int32_t)rng_range(-2000000, 2000000);
    }
}

/* Multipliers of every size; a third are exact powers of two, whose products land on
 * exact halves (ties) for small accumulators, where the rounding rules differ. */
static Requant rand_requant(int rule, bool *pow2)
{
    double m = 1e-5 * (double)rng_range(1, 200000) / 1000.0;
    *pow2 = false;
    if (rng_next() % 8 == 0)
        m = (double)rng_range(1, 4); /* >= 1: a left shift */
    else if (rng_next() % 3 == 0) {
        m = 1.0 / (double)(INT64_C(1) << rng_range(1, 9));
        *pow2 = true;
    }
    switch (rule) {
    case QRQ_GEMMLOWP:
        return quant_requant_make_gemmlowp(m);
    case QRQ_FP32:
        return quant_requant_make_fp32((float)m);
    default:
        return quant_requant_make(m);
    }
}

static void test_requant(void)
{
    if (simd_level() < SIMD_AVX512) {
        printf("  (no AVX-512: the SIMD requantization is not compared)\n");
        return;
    }
    static const int rules[] = { QRQ_Q31_EVEN, QRQ_GEMMLOWP, QRQ_FP32 };
    static const int32_t zps[] = { -128, 127, 0, -3 };
    enum { NC = 37 };
    for (int ri = 0; ri < 3; ri++)
        for (int t = 0; t < 40; t++) {
            Requant rq[NC];
            int64_t corr[NC];
            int32_t acc[NC];
            for (int c = 0; c < NC; c++) {
                bool pow2;
                rq[c] = rand_requant(rules[ri], &pow2);
                corr[c] = rng_next() % 4 == 0 ? rng_range(-(INT64_C(1) << 33), INT64_C(1) << 33)
                                              : rng_range(-5000, 5000);
                acc[c] = rand_acc();
                if (pow2 || t % 4 == 0) { /* ties: small sums on a power-of-two grid */
                    corr[c] = rng_range(-40, 40);
                    acc[c] = (int32_t)rng_range(-600, 600);
                }
            }
            QkRqVec v;
            qk_rqvec_make(rq, NC, &v);
            int32_t z = zps[t % 4], lo = t % 3 ? -128 : z, hi = t % 5 ? 127 : 100;
            if (lo > hi)
                lo = hi;
            int64_t n = 1 + t % NC;
            int8_t want[NC], got[NC];
            qk_requant_block(acc, n, 1, n, corr, rq, &v, z, lo, hi, want, n, SIMD_SCALAR);
            if (v.rule < 0) { /* a shift out of the lanes' range: scalar only */
                qk_rqvec_free(&v);
                continue;
            }
            memset(got, 0x11, sizeof got);
            qk_requant_block(acc, n, 1, n, corr, rq, &v, z, lo, hi, got, n, SIMD_AVX512);
            bool ok = CHECK(memcmp(got, want, (size_t)n) == 0) && CHECK(got[n % NC] == 0x11 || n == NC);
            /* along a row with channel 0's constants */
            int8_t rw[NC], rg[NC];
            qk_requant_row(acc, 1, n, corr[0], rq[0], z, lo, hi, rw, 1);
            qk_requant_row_at(acc, n, corr[0], &rq[0], &v, z, lo, hi, rg, SIMD_AVX512);
            ok = ok && CHECK(memcmp(rg, rw, (size_t)n) == 0);
            qk_rqvec_free(&v);
            if (!ok) {
                printf("  rule %d case %d\n", rules[ri], t);
                return;
            }
        }
}

/* ---- depthwise ----------------------------------------------------------------------- */

static bool dw_case(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t s, int64_t dil,
                    int64_t pad, int mode, int32_t zp)
{
    ConvAttrs a;
    memset(&a, 0, sizeof a);
    a.sp = 2;
    a.group = 1;
    a.w = (Window){ .kh = kh, .kw = kw, .sh = s, .sw = s, .dh = dil, .dw = dil,
                    .pt = pad, .pl = pad, .pb = pad, .pr = pad };
    CDims d = { .n = 1, .c = 1, .h = h, .w = w, .oc = 1, .cg = 1, .ocg = 1 };
    d.oh = (h + 2 * pad - dil * (kh - 1) - 1) / s + 1;
    d.ow = (w + 2 * pad - dil * (kw - 1) - 1) / s + 1;
    if (d.oh < 1 || d.ow < 1)
        return true;
    int8_t *x = malloc((size_t)(h * w)), wk[49];
    fill8(x, h * w, mode);
    fill8(wk, kh * kw, mode == 0 ? 0 : 3);
    for (int i = 0; i < kh * kw; i++) /* restricted range, as weights are */
        wk[i] = wk[i] == -128 ? -127 : wk[i];
    int64_t no = d.oh * d.ow;
    int32_t *want = malloc((size_t)no * sizeof(int32_t)), *got = malloc((size_t)no * sizeof(int32_t));
    int8_t *pbuf = malloc(qk_dw_pad_bytes(&a, &d));
    qk_dw_plane(&a, &d, x, wk, zp, want, pbuf, SIMD_SCALAR);
    bool ok = true;
    for (int l = SIMD_AVX2; l <= (int)simd_level() && ok; l++) {
        memset(got, 0x5a, (size_t)no * sizeof(int32_t));
        qk_dw_plane(&a, &d, x, wk, zp, got, pbuf, (SimdLevel)l);
        ok = expect_equal_i32(simd_name((SimdLevel)l), got, want, (size_t)no);
    }
    if (!ok)
        printf("  dw %lldx%lld k %lldx%lld s %lld d %lld p %lld mode %d zp %d\n", (long long)h,
               (long long)w, (long long)kh, (long long)kw, (long long)s, (long long)dil,
               (long long)pad, mode, zp);
    free(x);
    free(pbuf);
    free(want);
    free(got);
    return ok;
}

/* np channels across lanes (qk_dw_chan on qk_dw_chan_layout) against the scalar plane,
 * channel by channel. */
static bool dw_chan_case(int t)
{
    int64_t k = rng_range(1, 5), pad = rng_range(0, 3), s = rng_range(1, 3);
    int64_t dil = t % 7 ? 1 : 2, np = rng_range(1, 16);
    ConvAttrs a;
    memset(&a, 0, sizeof a);
    a.sp = 2;
    a.group = 1;
    a.w = (Window){ .kh = k, .kw = t % 3 ? k : rng_range(1, 5), .sh = s, .sw = s, .dh = dil,
                    .dw = dil, .pt = pad, .pl = rng_range(0, 3), .pb = rng_range(0, 3),
                    .pr = pad };
    CDims d = { .n = 1, .c = 1, .h = rng_range(1, 20), .w = rng_range(1, 20), .oc = 1,
                .cg = 1, .ocg = 1 };
    d.oh = (d.h + a.w.pt + a.w.pb - dil * (a.w.kh - 1) - 1) / s + 1;
    d.ow = (d.w + a.w.pl + a.w.pr - dil * (a.w.kw - 1) - 1) / s + 1;
    if (d.oh < 1 || d.ow < 1)
        return true;
    const int64_t hw = d.h * d.w, no = d.oh * d.ow, taps = a.w.kh * a.w.kw;
    int32_t zp = t % 3 == 0 ? -128 : t % 3 == 1 ? 127 : (int32_t)rng_range(-128, 127);
    int8_t *x = malloc((size_t)(np * hw)), *wk = malloc((size_t)(np * taps));
    fill8(x, np * hw, t % 4);
    fill8(wk, np * taps, t % 4 == 0 ? 0 : 3);
    for (int64_t i = 0; i < np * taps; i++)
        wk[i] = wk[i] == -128 ? -127 : wk[i];
    int32_t *want = malloc((size_t)(np * no) * sizeof(int32_t));
    int32_t *got = malloc((size_t)(no * 16) * sizeof(int32_t));
    int8_t *pbuf = malloc(qk_dw_pad_bytes(&a, &d));
    for (int64_t c = 0; c < np; c++)
        qk_dw_plane(&a, &d, x + c * hw, wk + c * taps, zp, want + c * no, pbuf, SIMD_SCALAR);
    int8_t *xt = malloc((size_t)(hw * 16)), *tb = malloc(qk_dw_chan_bytes(&a, &d));
    qk_dw_chan_layout(&a, &d, x, np, (int8_t)zp, xt, tb);
    qk_dw_chan(&a, &d, tb, wk, np, zp, got);
    bool ok = true;
    for (int64_t c = 0; c < np && ok; c++)
        for (int64_t p = 0; p < no && ok; p++)
            ok = CHECK(got[p * 16 + c] == want[c * no + p]);
    if (!ok)
        printf("  dw chan case %d: %lldx%lld k %lldx%lld s %lld np %lld\n", t, (long long)d.h,
               (long long)d.w, (long long)a.w.kh, (long long)a.w.kw, (long long)s,
               (long long)np);
    free(x), free(wk), free(want), free(got), free(pbuf), free(xt), free(tb);
    return ok;
}

static void test_dw(void)
{
    if (simd_level() >= SIMD_AVX512)
        for (int t = 0; t < 300; t++)
            if (!dw_chan_case(t))
                return;
    static const int32_t zps[] = { -128, 127, 0, 5 };
    for (int t = 0; t < 300; t++) {
        int64_t k = rng_range(1, 7);
        if (!dw_case(rng_range(1, 40), rng_range(1, 45), k, t % 5 ? k : rng_range(1, 7),
                     rng_range(1, 3), t % 7 ? 1 : 2, rng_range(0, 3), t % 4, zps[t % 4]))
            return;
    }
    /* a hand-computed anchor: 3x3 ones over a 3x3 input with zero point 1, pad 1 */
    ConvAttrs a = { .sp = 2, .group = 1,
                    .w = { .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                           .pt = 1, .pl = 1, .pb = 1, .pr = 1 } };
    CDims d = { .n = 1, .c = 1, .h = 3, .w = 3, .oc = 1, .oh = 3, .ow = 3, .cg = 1, .ocg = 1 };
    int8_t x[9] = { 2, 2, 2, 2, 2, 2, 2, 2, 2 }, wk[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    int32_t acc[9];
    int8_t *pad = malloc(qk_dw_pad_bytes(&a, &d));
    qk_dw_plane(&a, &d, x, wk, 1, acc, pad, simd_level());
    free(pad);
    const int32_t want[9] = { 4, 6, 4, 6, 9, 6, 4, 6, 4 };
    expect_equal_i32("dw anchor", acc, want, 9);
}

/* Blocks of planes on the flat map (qk_dw_block) against the scalar plane, plane by plane:
 * every block of every sample, the last one partial when the channels do not fill it. */
static bool dw_flat_case(int64_t h, int64_t w, int64_t k, int64_t dil, int64_t c, int64_t n,
                         int mode, int32_t zp)
{
    int64_t pad = dil * (k - 1) / 2; /* the same size */
    ConvAttrs a;
    memset(&a, 0, sizeof a);
    a.sp = 2;
    a.group = c;
    a.w = (Window){ .kh = k, .kw = k, .sh = 1, .sw = 1, .dh = dil, .dw = dil,
                    .pt = pad, .pl = pad, .pb = pad, .pr = pad };
    CDims d = { .n = n, .c = c, .h = h, .w = w, .oc = c, .oh = h, .ow = w, .cg = 1, .ocg = 1 };
    ConvPlane g = { 1, h, w, h, w, k, k, 1, 1, dil, dil, pad, pad };
    DwFlat f;
    if (!dwflat_init(&f, &g))
        return CHECK(false);
    int64_t hw = h * w, kk = k * k;
    int8_t *x = malloc((size_t)(n * c * hw)), *wk = malloc((size_t)(c * kk));
    fill8(x, n * c * hw, mode);
    fill8(wk, c * kk, mode == 0 ? 0 : 3);
    for (int64_t i = 0; i < c * kk; i++) /* restricted range, as weights are */
        wk[i] = wk[i] == -128 ? -127 : wk[i];
    int32_t *want = malloc((size_t)(f.planes * hw) * sizeof(int32_t));
    int32_t *got = malloc((size_t)(f.planes * hw) * sizeof(int32_t));
    bool ok = true;
    for (int64_t b = 0; b < n && ok; b++)
        for (int64_t o0 = 0; o0 < c && ok; o0 += f.planes) {
            int64_t np = c - o0 < f.planes ? c - o0 : f.planes;
            const int8_t *xb = x + (b * c + o0) * hw;
            for (int64_t p = 0; p < np; p++)
                qk_dw_plane(&a, &d, xb + p * hw, wk + (o0 + p) * kk, zp, want + p * hw, NULL,
                            SIMD_SCALAR);
            memset(got, 0x5a, (size_t)(f.planes * hw) * sizeof(int32_t));
            qk_dw_block(&f, xb, wk + o0 * kk, np, zp, got);
            ok = expect_equal_i32("dw block", got, want, (size_t)(np * hw));
        }
    if (!ok)
        printf("  dw block %lldx%lld k %lld d %lld c %lld n %lld mode %d zp %d\n", (long long)h,
               (long long)w, (long long)k, (long long)dil, (long long)c, (long long)n, mode, zp);
    free(x);
    free(wk);
    free(want);
    free(got);
    return ok;
}

static void test_dw_flat(void)
{
    if (simd_detected() < SIMD_AVX512)
        return;
    static const int64_t maps[][2] = { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 4 }, { 5, 5 },
                                       { 6, 6 }, { 7, 7 }, { 8, 8 }, { 14, 14 }, { 3, 5 },
                                       { 7, 2 }, { 1, 9 } };
    static const int64_t ks[][2] = { { 3, 1 }, { 1, 1 }, { 5, 1 }, { 3, 2 } };
    static const int32_t zps[] = { -128, 127, 0, 5 };
    int t = 0;
    for (int mi = 0; mi < 12; mi++)
        for (int ki = 0; ki < 4; ki++)
            for (int64_t c = 3; c <= 33; c += 15)
                for (int64_t n = 1; n <= 3; n += 2, t++)
                    if (!dw_flat_case(maps[mi][0], maps[mi][1], ks[ki][0], ks[ki][1], c, n, t % 4,
                                      zps[t % 4]))
                        return;
}

/* ---- im2row by chunks of batch rows against the row-by-row reference ---------------- */

static void test_im2row(void)
{
    for (int t = 0; t < 200; t++) {
        ConvAttrs a;
        memset(&a, 0, sizeof a);
        a.sp = 2;
        a.group = rng_range(1, 3);
        int64_t k = rng_range(1, 5), pad = t % 5 == 0 ? 0 : rng_range(0, 2);
        a.w = (Window){ .kh = k, .kw = t % 3 ? k : rng_range(1, 5), .sh = rng_range(1, 3),
                        .sw = rng_range(1, 3), .dh = t % 6 ? 1 : 2, .dw = t % 4 ? 1 : 2,
                        .pt = pad, .pl = pad, .pb = pad, .pr = pad };
        if (t % 7 == 0) /* pointwise: the transpose path */
            a.w = (Window){ .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
        CDims d = { .n = rng_range(1, 3), .h = rng_range(1, 12), .w = rng_range(1, 12) };
        d.cg = rng_range(1, 4);
        d.c = d.cg * a.group;
        d.ocg = 1;
        d.oc = a.group;
        d.oh = (d.h + 2 * pad - a.w.dh * (a.w.kh - 1) - 1) / a.w.sh + 1;
        d.ow = (d.w + 2 * pad - a.w.dw * (a.w.kw - 1) - 1) / a.w.sw + 1;
        if (d.oh < 1 || d.ow < 1)
            continue;
        int64_t kk = d.cg * a.w.kh * a.w.kw, ohw = d.oh * d.ow, rows = d.n * ohw;
        int8_t *x = malloc((size_t)(d.n * d.c * d.h * d.w));
        fill8(x, d.n * d.c * d.h * d.w, 0);
        int8_t *want = malloc((size_t)(rows * kk)), *got = malloc((size_t)(rows * kk));
        int8_t zp = (int8_t)(t % 2 ? -128 : 127);
        int64_t g = rng_range(0, a.group - 1);
        for (int64_t r = 0; r < rows; r++)
            qk_im2row_row(&a, &d, x + (r / ohw) * d.c * d.h * d.w + g * d.cg * d.h * d.w, zp,
                          (r % ohw) / d.ow, (r % ohw) % d.ow, want + r * kk);
        /* in chunks of random sizes that cross samples and output rows */
        for (int64_t r0 = 0; r0 < rows;) {
            int64_t r1 = r0 + rng_range(1, 40);
            r1 = r1 < rows ? r1 : rows;
            qk_im2row_rows(&a, &d, x, g, zp, r0, r1, got + r0 * kk);
            r0 = r1;
        }
        bool ok = CHECK(memcmp(got, want, (size_t)(rows * kk)) == 0);
        free(x);
        free(want);
        free(got);
        if (!ok) {
            printf("  im2row case %d\n", t);
            return;
        }
    }
}

int main(void)
{
    test_im2row();
    test_packed();
    test_cap();
    test_requant();
    test_dw();
    test_dw_flat();
    return test_summary("qkernels_int");
}
