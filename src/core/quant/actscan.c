/* The range and binning passes of act_stats_observe at three SIMD levels (actscan.h).
 *
 * Why the vector paths are exact:
 *   - min and max are order-free comparisons, except for the sign of a zero: when the
 *     minimum (maximum) is 0, the first zero in the batch is looked up, as the in-order scan
 *     would have kept it;
 *   - the bin index is floor(x * inv_w) with x * inv_w exact in double, since inv_w is a
 *     power of two. In float the product is exact too while it is a normal float, so the
 *     float paths are used when inv_w itself is a float; a product that underflows has
 *     floor 0 for x > 0 and -1 for x < 0, which min(floor, -1) restores for negative x (the
 *     underflow may have made it -0 or a subnormal). Zeros all go to the middle bin and are
 *     counted by popcount, so a ReLU output's many zeros do not queue on one counter. */
#include "quant/actscan.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/clamp.h"
#include "kern/simd.h"
#include "quant/observer.h"

#define HALF (HIST_BINS / 2)
/* Largest finite IEEE half; a float beyond it is what `fp16_overflow` counts. */
#define FP16_MAX 65504.0f

#define AVX2 __attribute__((target("avx2,fma,popcnt")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,popcnt")))

/* ---- the rules (scalar) ------------------------------------------------------------------ */

static void range_scalar(const float *x, int64_t n, ActRange *r)
{
    float mn = INFINITY, mx = -INFINITY;
    int64_t finite = 0, over = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v))
            continue;
        finite++;
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
        if (fabsf(v) > FP16_MAX)
            over++;
    }
    r->min = mn;
    r->max = mx;
    r->finite = finite;
    r->over = over;
}

/* Bin of a finite x with |x| <= range, given 1 / w. w is a power of two, so x * (1 / w) is
 * x / w exactly, |x / w| <= HALF, and the floor is taken without a libm call. */
static int bin_index(double inv_w, double x)
{
    double t = x * inv_w;
    int64_t i = (int64_t)t;
    i -= (double)i > t; /* truncation rounds negatives up */
    i += HALF;
    return i < 0 ? 0 : i >= HIST_BINS ? HIST_BINS - 1 : (int)i; /* x == +range: last bin */
}

static void bins_scalar(const float *x, int64_t n, double inv_w, int64_t *bins)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (isfinite(v))
            bins[bin_index(inv_w, v)]++;
    }
}

/* The first x[i] == 0 (+0 or -0); only called when one exists. */
static float first_zero(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (x[i] == 0.0f)
            return x[i];
    return 0.0f;
}

/* The vector paths' min and max are right up to the sign of a zero. */
static void range_fix_zeros(const float *x, int64_t n, ActRange *r)
{
    if (r->min == 0.0f)
        r->min = first_zero(x, n);
    if (r->max == 0.0f)
        r->max = first_zero(x, n);
}

/* inv_w as a float, or 0 when it is not one (a range below 2^-116): the float paths then
 * step aside for the scalar rule. */
static float float_inv_w(double inv_w)
{
    float f = (float)inv_w;
    return (double)f == inv_w && f >= FLT_MIN && f <= FLT_MAX ? f : 0.0f;
}

/* ---- counting ---------------------------------------------------------------------------- */

void bin_sink_init(BinSink *k, int64_t n, int64_t *bins)
{
    k->bins = bins;
    k->pos = 0;
    k->taken = 0;
    k->sub = n >= BIN_SUB_MIN && simd_level() != SIMD_SCALAR
                 ? calloc(HIST_BINS * 4, sizeof *k->sub)
                 : NULL; /* without the copies (or their memory) it counts into bins */
}

static void sink_merge(BinSink *k)
{
    for (int b = 0; b < HIST_BINS; b++) {
        const uint32_t *c = k->sub + 4 * b;
        k->bins[b] += (int64_t)c[0] + c[1] + c[2] + c[3];
    }
    memset(k->sub, 0, HIST_BINS * 4 * sizeof *k->sub);
    k->taken = 0;
}

static void sink_flush(BinSink *k)
{
    const int32_t *b = k->buf;
    int n = k->pos, i = 0;
    if (!k->sub) {
        for (; i < n; i++)
            k->bins[b[i]]++;
    } else {
        uint32_t *s = k->sub;
        for (; i + 4 <= n; i += 4) {
            s[4 * b[i]]++;
            s[4 * b[i + 1] + 1]++;
            s[4 * b[i + 2] + 2]++;
            s[4 * b[i + 3] + 3]++;
        }
        for (; i < n; i++)
            s[4 * b[i]]++;
        k->taken += (uint32_t)n;
        if (k->taken >= BIN_SUB_FLUSH)
            sink_merge(k);
    }
    k->pos = 0;
}

void bin_sink_settle(BinSink *k)
{
    sink_flush(k);
    if (k->sub && k->taken)
        sink_merge(k);
}

void bin_sink_release(BinSink *k)
{
    bin_sink_settle(k);
    free(k->sub);
    k->sub = NULL;
}

/* act_scan_bins_clamped's arguments, for the kernels. */
typedef struct ClampedBins {
    BinSink *kx, *ks; /* x's own values; the shared ones, at y's width */
    const float *x;
    float hi, ry, fwx, fwy;
} ClampedBins;

/* What the kernels count rather than bin: the zeros of x and of y, and y's nonzero values
 * outside the shared ones, which are hi (x >= hi) or ry (x in [ry, hi): y <= ry). */
typedef struct ClampCounts {
    int64_t xzeros, yzeros, yhi, ytop;
} ClampCounts;

/* The rule of the kernels, for values i0..n. */
static void bins_clamped_scalar(const ClampedBins *c, int64_t i0, int64_t n, ClampCounts *cnt)
{
    for (int64_t i = i0; i < n; i++) {
        float v = c->x[i];
        if (!(v > 0.0f)) {
            cnt->yzeros++;
            if (v == 0.0f)
                cnt->xzeros++;
            else
                c->kx->bins[bin_index(c->fwx, v)]++;
        } else if (!(v < c->hi)) {
            cnt->yhi++;
            c->kx->bins[bin_index(c->fwx, v)]++;
        } else if (!(v < c->ry)) {
            cnt->ytop++;
            c->kx->bins[bin_index(c->fwx, v)]++;
        } else {
            c->ks->bins[bin_index(c->fwy, v)]++;
        }
    }
}

/* ---- AVX2 -------------------------------------------------------------------------------- */

AVX2 static float hmin8(__m256 v)
{
    float a[8];
    _mm256_storeu_ps(a, v);
    float m = a[0];
    for (int k = 1; k < 8; k++)
        m = a[k] < m ? a[k] : m;
    return m;
}

AVX2 static float hmax8(__m256 v)
{
    float a[8];
    _mm256_storeu_ps(a, v);
    float m = a[0];
    for (int k = 1; k < 8; k++)
        m = a[k] > m ? a[k] : m;
    return m;
}

AVX2 static void range_avx2(const float *x, int64_t n, ActRange *r)
{
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_set1_ps(INFINITY), ninf = _mm256_set1_ps(-INFINITY);
    const __m256 big = _mm256_set1_ps(FP16_MAX);
    __m256 mn = inf, mx = ninf;
    int64_t finite = 0, over = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), a = _mm256_and_ps(v, absm);
        __m256 fin = _mm256_cmp_ps(a, inf, _CMP_LT_OQ);
        mn = _mm256_min_ps(mn, _mm256_blendv_ps(inf, v, fin));
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(ninf, v, fin));
        finite += __builtin_popcount((unsigned)_mm256_movemask_ps(fin));
        over += __builtin_popcount(
            (unsigned)_mm256_movemask_ps(_mm256_and_ps(fin, _mm256_cmp_ps(a, big, _CMP_GT_OQ))));
    }
    ActRange t;
    range_scalar(x + i, n - i, &t);
    float vmn = hmin8(mn), vmx = hmax8(mx);
    r->min = t.min < vmn ? t.min : vmn;
    r->max = t.max > vmx ? t.max : vmx;
    r->finite = finite + t.finite;
    r->over = over + t.over;
    range_fix_zeros(x, n, r);
}

/* The bins of 8 values x (finite, nonzero lanes are the ones used) at 1 / width vw, into idx. */
AVX2 static inline void index8_avx2(__m256 v, __m256 vw, int32_t *idx)
{
    const __m256 zero = _mm256_setzero_ps(), m1 = _mm256_set1_ps(-1.0f);
    const __m256 lo = _mm256_set1_ps((float)-HALF), hi = _mm256_set1_ps((float)(HALF - 1));
    __m256 f = _mm256_floor_ps(_mm256_mul_ps(v, vw));
    f = _mm256_blendv_ps(f, _mm256_min_ps(f, m1), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    _mm256_storeu_si256((__m256i *)idx,
                        _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(HALF)));
}

AVX2 static void bins_avx2(const float *x, int64_t n, float fw, BinSink *k)
{
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_set1_ps(INFINITY), zero = _mm256_setzero_ps();
    const __m256 vw = _mm256_set1_ps(fw);
    int64_t zeros = 0, i = 0;
    int32_t idx[8];
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), a = _mm256_and_ps(v, absm);
        unsigned fin = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, inf, _CMP_LT_OQ));
        unsigned nz = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, zero, _CMP_GT_OQ));
        unsigned keep = fin & nz;
        zeros += __builtin_popcount(fin & ~nz);
        if (!keep)
            continue;
        index8_avx2(v, vw, idx);
        for (; keep; keep &= keep - 1)
            k->buf[k->pos++] = idx[__builtin_ctz(keep)];
        if (k->pos >= BIN_BUF)
            sink_flush(k);
    }
    k->bins[HALF] += zeros;
    bins_scalar(x + i, n - i, (double)fw, k->bins);
}

AVX2 static void clamp_avx2(const float *x, float *y, int64_t n, float lo, float hi)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 t = _mm256_blendv_ps(v, vhi, _mm256_cmp_ps(v, vhi, _CMP_GT_OQ));
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(t, vlo, _mm256_cmp_ps(v, vlo, _CMP_LT_OQ)));
    }
    for (; i < n; i++)
        y[i] = clamp_value(x[i], lo, hi);
}

/* Appends the bins of the lanes set in m (of idx) to k. */
static inline void sink_put8(BinSink *k, const int32_t *idx, unsigned m)
{
    for (; m; m &= m - 1)
        k->buf[k->pos++] = idx[__builtin_ctz(m)];
    if (k->pos >= BIN_BUF)
        sink_flush(k);
}

AVX2 static void bins_clamped_avx2(const ClampedBins *c, int64_t n, ClampCounts *cnt)
{
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 zero = _mm256_setzero_ps(), vhi = _mm256_set1_ps(c->hi);
    const __m256 vry = _mm256_set1_ps(c->ry);
    const __m256 wx = _mm256_set1_ps(c->fwx), wy = _mm256_set1_ps(c->fwy);
    int64_t i = 0;
    int32_t idx[8];
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(c->x + i);
        __m256 p = _mm256_cmp_ps(v, zero, _CMP_GT_OQ);
        __m256 bh = _mm256_and_ps(p, _mm256_cmp_ps(v, vhi, _CMP_LT_OQ));
        __m256 in = _mm256_and_ps(bh, _mm256_cmp_ps(v, vry, _CMP_LT_OQ));
        unsigned pos = (unsigned)_mm256_movemask_ps(p);
        unsigned below_hi = (unsigned)_mm256_movemask_ps(bh);
        unsigned inter = (unsigned)_mm256_movemask_ps(in);
        unsigned keep = (unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_and_ps(v, absm), zero, _CMP_GT_OQ));
        cnt->xzeros += 8 - __builtin_popcount(keep);
        cnt->yzeros += 8 - __builtin_popcount(pos);
        cnt->yhi += __builtin_popcount(pos & ~below_hi);
        cnt->ytop += __builtin_popcount(below_hi & ~inter);
        if (!keep)
            continue;
        index8_avx2(v, _mm256_blendv_ps(wx, wy, in), idx);
        if (keep & ~inter)
            sink_put8(c->kx, idx, keep & ~inter);
        if (inter)
            sink_put8(c->ks, idx, inter);
    }
    bins_clamped_scalar(c, i, n, cnt);
}

/* ---- AVX-512 ----------------------------------------------------------------------------- */

AVX512 static float first_zero_avx512(const float *x, int64_t n)
{
    const __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 z = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), zero, _CMP_EQ_OQ);
        if (z)
            return x[i + __builtin_ctz(z)];
    }
    return first_zero(x + i, n - i);
}

/* Every count kept, for a batch with non-finite values or values past FP16_MAX. */
AVX512 static void range_full_avx512(const float *x, int64_t n, ActRange *r)
{
    const __m512 inf = _mm512_set1_ps(INFINITY), big = _mm512_set1_ps(FP16_MAX);
    __m512 mn0 = inf, mn1 = inf, mx0 = _mm512_set1_ps(-INFINITY), mx1 = mx0;
    int64_t finite = 0, over = 0, i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
        __mmask16 f0 = _mm512_cmp_ps_mask(a0, inf, _CMP_LT_OQ);
        __mmask16 f1 = _mm512_cmp_ps_mask(a1, inf, _CMP_LT_OQ);
        mn0 = _mm512_mask_min_ps(mn0, f0, mn0, v0);
        mn1 = _mm512_mask_min_ps(mn1, f1, mn1, v1);
        mx0 = _mm512_mask_max_ps(mx0, f0, mx0, v0);
        mx1 = _mm512_mask_max_ps(mx1, f1, mx1, v1);
        finite += __builtin_popcount((unsigned)f0 | (unsigned)f1 << 16);
        over += __builtin_popcount(
            (unsigned)_mm512_mask_cmp_ps_mask(f0, a0, big, _CMP_GT_OQ) |
            (unsigned)_mm512_mask_cmp_ps_mask(f1, a1, big, _CMP_GT_OQ) << 16);
    }
    for (; i < n; i += 16) {
        __mmask16 t = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(t, x + i), a = _mm512_abs_ps(v);
        __mmask16 f = _mm512_mask_cmp_ps_mask(t, a, inf, _CMP_LT_OQ);
        mn0 = _mm512_mask_min_ps(mn0, f, mn0, v);
        mx0 = _mm512_mask_max_ps(mx0, f, mx0, v);
        finite += __builtin_popcount(f);
        over += __builtin_popcount(_mm512_mask_cmp_ps_mask(f, a, big, _CMP_GT_OQ));
    }
    r->min = _mm512_reduce_min_ps(_mm512_min_ps(mn0, mn1));
    r->max = _mm512_reduce_max_ps(_mm512_max_ps(mx0, mx1));
    r->finite = finite;
    r->over = over;
}

/* The common case first: min and max alone, while noting whether any value is not finite
 * (min(v, m) is m when v is NaN, but an Inf would enter). Then finite = n, and over = 0
 * when max |x| <= FP16_MAX; otherwise the counting scan runs. */
AVX512 static void range_avx512(const float *x, int64_t n, ActRange *r)
{
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __m512 mn0 = inf, mn1 = inf, mx0 = _mm512_set1_ps(-INFINITY), mx1 = mx0;
    __mmask16 bad = 0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        bad |= _mm512_cmp_ps_mask(_mm512_abs_ps(v0), inf, _CMP_NLT_UQ) |
               _mm512_cmp_ps_mask(_mm512_abs_ps(v1), inf, _CMP_NLT_UQ);
        mn0 = _mm512_min_ps(v0, mn0);
        mn1 = _mm512_min_ps(v1, mn1);
        mx0 = _mm512_max_ps(v0, mx0);
        mx1 = _mm512_max_ps(v1, mx1);
    }
    for (; i < n; i += 16) {
        __mmask16 t = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(t, x + i);
        bad |= _mm512_mask_cmp_ps_mask(t, _mm512_abs_ps(v), inf, _CMP_NLT_UQ);
        mn0 = _mm512_mask_min_ps(mn0, t, v, mn0);
        mx0 = _mm512_mask_max_ps(mx0, t, v, mx0);
    }
    r->min = _mm512_reduce_min_ps(_mm512_min_ps(mn0, mn1));
    r->max = _mm512_reduce_max_ps(_mm512_max_ps(mx0, mx1));
    r->finite = n;
    r->over = 0;
    if (bad || -r->min > FP16_MAX || r->max > FP16_MAX)
        range_full_avx512(x, n, r);
    if (r->min == 0.0f)
        r->min = first_zero_avx512(x, n);
    if (r->max == 0.0f)
        r->max = first_zero_avx512(x, n);
}

/* The bins of 16 values x (finite, nonzero lanes are the ones used) at 1 / width vw. */
AVX512 static inline __m512i index16_avx512(__m512 v, __m512 vw)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512 lo = _mm512_set1_ps((float)-HALF), hi = _mm512_set1_ps((float)(HALF - 1));
    __m512 f = _mm512_roundscale_ps(_mm512_mul_ps(v, vw), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    f = _mm512_mask_min_ps(f, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), f, _mm512_set1_ps(-1.0f));
    f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(HALF));
}

/* One vector of 16 values, the last `t` lanes masked off: zeros counted in *zeros, the
 * bins of the other finite values appended at buf + *pos. */
AVX512 static inline void bins16_avx512(const float *x, __mmask16 t, __m512 vw, int32_t *buf,
                                        int *pos, int64_t *zeros)
{
    const __m512 inf = _mm512_set1_ps(INFINITY), zero = _mm512_setzero_ps();
    __m512 v = _mm512_maskz_loadu_ps(t, x), a = _mm512_abs_ps(v);
    __mmask16 fin = _mm512_mask_cmp_ps_mask(t, a, inf, _CMP_LT_OQ);
    __mmask16 keep = _mm512_mask_cmp_ps_mask(fin, a, zero, _CMP_GT_OQ);
    *zeros += __builtin_popcount(fin & ~keep & 0xffff);
    _mm512_storeu_si512(buf + *pos, _mm512_maskz_compress_epi32(keep, index16_avx512(v, vw)));
    *pos += __builtin_popcount(keep);
}

/* Zeros are counted by popcount, the other finite values through the sink; the buffer
 * position lives in a register (through k it would be reloaded after every store). */
AVX512 static void bins_avx512(const float *x, int64_t n, float fw, BinSink *k)
{
    const __m512 vw = _mm512_set1_ps(fw);
    int32_t *buf = k->buf;
    int pos = k->pos;
    int64_t zeros = 0, i = 0;
    for (; i + 32 <= n; i += 32) {
        bins16_avx512(x + i, 0xffff, vw, buf, &pos, &zeros);
        bins16_avx512(x + i + 16, 0xffff, vw, buf, &pos, &zeros);
        if (pos >= BIN_BUF - 16) {
            k->pos = pos;
            sink_flush(k);
            pos = 0;
        }
    }
    for (; i < n; i += 16)
        bins16_avx512(x + i, n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1),
                      vw, buf, &pos, &zeros);
    k->pos = pos;
    sink_flush(k);
    k->bins[HALF] += zeros;
}

AVX512 static void clamp_avx512(const float *x, float *y, int64_t n, float lo, float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) { /* unmasked: a masked store is slow on some cores */
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, vhi, _CMP_GT_OQ), v, vhi);
        _mm512_storeu_ps(y + i,
                         _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, vlo, _CMP_LT_OQ), r, vlo));
    }
    for (; i < n; i++)
        y[i] = clamp_value(x[i], lo, hi);
}

/* Flushes a sink whose buffer position is held in a register once its buffer is full,
 * adding what it held to *taken. */
static inline void sink_flush_full(BinSink *k, int *pos, int64_t *taken)
{
    if (*pos < BIN_BUF)
        return;
    *taken += *pos;
    k->pos = *pos;
    sink_flush(k);
    *pos = 0;
}

/* 16 values of x, the last lanes masked off by t (ClampedBins): x's own nonzero values
 * appended at bx + *px, the shared ones at bs + *ps; *yhi and *ytop count y == hi and
 * y == ry (rare, so counted apart); the zeros are what remains (bins_clamped_avx512).
 * w: hi, ry, 1 / x's width, 1 / y's width. */
AVX512 static inline void clamped16_avx512(const float *x, __mmask16 t, const __m512 *w,
                                           int32_t *bx, int *px, int32_t *bs, int *ps,
                                           int64_t *yhi, int64_t *ytop)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 v = _mm512_maskz_loadu_ps(t, x);
    __mmask16 p = _mm512_mask_cmp_ps_mask(t, v, zero, _CMP_GT_OQ);
    __mmask16 below_hi = _mm512_mask_cmp_ps_mask(p, v, w[0], _CMP_LT_OQ);
    __mmask16 inter = _mm512_mask_cmp_ps_mask(below_hi, v, w[1], _CMP_LT_OQ);
    __mmask16 xk = _mm512_mask_cmp_ps_mask(t, _mm512_abs_ps(v), zero, _CMP_GT_OQ) & ~inter;
    if (p & ~inter) { /* a positive x not shared: y is hi or ry */
        *yhi += __builtin_popcount(p & ~below_hi & 0xffff);
        *ytop += __builtin_popcount(below_hi & ~inter & 0xffff);
    }
    __m512i id = index16_avx512(v, _mm512_mask_blend_ps(inter, w[2], w[3]));
    _mm512_storeu_si512(bx + *px, _mm512_maskz_compress_epi32(xk, id));
    *px += __builtin_popcount(xk);
    _mm512_storeu_si512(bs + *ps, _mm512_maskz_compress_epi32(inter, id));
    *ps += __builtin_popcount(inter);
}

/* Everything lives in registers: a store into a sink's buffer (a vector type, which may
 * alias anything) would otherwise reload every count and pointer after it. The zeros of x
 * are the values neither sink took, those of y the values not positive. */
AVX512 static void bins_clamped_avx512(const ClampedBins *c, int64_t n, ClampCounts *cnt)
{
    const __m512 w[4] = { _mm512_set1_ps(c->hi), _mm512_set1_ps(c->ry), _mm512_set1_ps(c->fwx),
                          _mm512_set1_ps(c->fwy) };
    const float *x = c->x;
    BinSink *kx = c->kx, *ks = c->ks;
    int32_t *bx = kx->buf, *bs = ks->buf;
    int px = kx->pos, ps = ks->pos;
    int64_t nx = -px, ns = -ps, yhi = 0, ytop = 0, i = 0; /* taken: flushed + pos */
    for (; i < n; i += 16) {
        __mmask16 t = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        clamped16_avx512(x + i, t, w, bx, &px, bs, &ps, &yhi, &ytop);
        sink_flush_full(kx, &px, &nx);
        sink_flush_full(ks, &ps, &ns);
    }
    kx->pos = px;
    ks->pos = ps;
    nx += px;
    ns += ps;
    cnt->xzeros += n - nx - ns;
    cnt->yzeros += n - ns - yhi - ytop;
    cnt->yhi += yhi;
    cnt->ytop += ytop;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

void act_scan_range(const float *x, int64_t n, ActRange *r)
{
    switch (n > 0 ? simd_level() : SIMD_SCALAR) {
    case SIMD_AVX512:
        range_avx512(x, n, r);
        break;
    case SIMD_AVX2:
        range_avx2(x, n, r);
        break;
    default:
        range_scalar(x, n, r);
    }
}

void act_scan_bins(BinSink *k, const float *x, int64_t n, double inv_w)
{
    float fw = float_inv_w(inv_w);
    switch (n > 0 && fw > 0.0f ? simd_level() : SIMD_SCALAR) {
    case SIMD_AVX512:
        bins_avx512(x, n, fw, k);
        break;
    case SIMD_AVX2:
        bins_avx2(x, n, fw, k);
        break;
    default:
        bins_scalar(x, n, inv_w, k->bins);
    }
}

void act_clamp(const float *x, float *y, int64_t n, float lo, float hi)
{
    switch (n > 0 ? simd_level() : SIMD_SCALAR) {
    case SIMD_AVX512:
        clamp_avx512(x, y, n, lo, hi);
        break;
    case SIMD_AVX2:
        clamp_avx2(x, y, n, lo, hi);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            y[i] = clamp_value(x[i], lo, hi);
    }
}

bool act_scan_bins_clamped(BinSink *kx, BinSink *ks, int64_t *ybins, const float *x,
                           int64_t n, double inv_wx, double inv_wy, float hi, float ry)
{
    ClampedBins c = { .kx = kx, .ks = ks, .x = x, .hi = hi, .ry = ry,
                      .fwx = float_inv_w(inv_wx), .fwy = float_inv_w(inv_wy) };
    if (c.fwx == 0.0f || c.fwy == 0.0f)
        return false;
    ClampCounts cnt = { 0 };
    switch (simd_level()) {
    case SIMD_AVX512:
        bins_clamped_avx512(&c, n, &cnt);
        break;
    case SIMD_AVX2:
        bins_clamped_avx2(&c, n, &cnt);
        break;
    default:
        return false;
    }
    kx->bins[HALF] += cnt.xzeros;
    ybins[HALF] += cnt.yzeros;
    if (cnt.yhi) /* then hi <= ry: a bin of y's histogram */
        ybins[bin_index(inv_wy, hi)] += cnt.yhi;
    ybins[HIST_BINS - 1] += cnt.ytop; /* y == ry, the range's top */
    return true;
}
