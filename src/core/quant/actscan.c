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
#include "kern/thread_buffer.h"
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

/* One part of the thread's copies: two tables of HIST_BINS bins, SUB_COPIES copies each. */
#define SUB_PART (2 * HIST_BINS * SUB_COPIES)

/* The calling thread's copies for `part`, all zero (a sink leaves them so), or NULL. The
 * block's size never changes, so it is only ever cleared when new. */
static SubCount *sub_part(int part)
{
    static _Thread_local void *cleared;
    char *b = thread_buffer(TBUF_HIST, 2 * SUB_PART * sizeof(SubCount));
    if (b && b != cleared) {
        memset(b, 0, 2 * SUB_PART * sizeof(SubCount));
        cleared = b;
    }
    return b ? (SubCount *)b + (size_t)part * SUB_PART : NULL;
}

void bin_sink_init(BinSink *k, int64_t n, int64_t *bins, int64_t *bins2, int part)
{
    k->bins = bins;
    k->bins2 = bins2;
    k->pos = 0;
    k->taken = 0;
    k->sub = n >= BIN_SUB_MIN && simd_level() != SIMD_SCALAR
                 ? sub_part(part)
                 : NULL; /* without the copies (or their memory) it counts into bins */
}

/* The copies' counts into the tables, the copies left zero. A bin's copies are read as
 * 64-bit words, so the many bins never counted into cost one test each. */
#define SUB_WORDS (SUB_COPIES * sizeof(SubCount) / sizeof(uint64_t))
_Static_assert(SUB_WORDS >= 1 && SUB_COPIES * sizeof(SubCount) % sizeof(uint64_t) == 0,
               "a bin's copies fill whole 64-bit words");
static void sink_merge(BinSink *k)
{
    for (int t = 0; t < (k->bins2 ? 2 : 1); t++) {
        SubCount *c = k->sub + (size_t)t * HIST_BINS * SUB_COPIES;
        int64_t *dst = t ? k->bins2 : k->bins;
        for (int b = 0; b < HIST_BINS; b++, c += SUB_COPIES) {
            uint64_t w[SUB_WORDS], any = 0;
            memcpy(w, c, sizeof w);
            for (size_t j = 0; j < SUB_WORDS; j++)
                any |= w[j];
            if (!any)
                continue;
            int64_t sum = 0;
            for (int j = 0; j < SUB_COPIES; j++)
                sum += c[j];
            dst[b] += sum;
            memset(c, 0, SUB_COPIES * sizeof *c);
        }
    }
    k->taken = 0;
}

static void sink_flush(BinSink *k)
{
    const int32_t *b = k->buf;
    int n = k->pos;
    if (!k->sub) {
        for (int i = 0; i < n; i++) {
            if (b[i] < HIST_BINS)
                k->bins[b[i]]++;
            else
                k->bins2[b[i] - HIST_BINS]++;
        }
    } else {
        SubCount *s = k->sub;
        for (int i = 0; i < n; i++)
            s[b[i]]++; /* SUB_COPIES bin + copy */
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
    k->sub = NULL;
}

/* act_scan_bins_clamped's arguments, for the kernels. */
typedef struct ClampedBins {
    BinSink *k; /* x's own values, then (bins2) the shared ones at y's width */
    const float *x;
    float hi, ry, fwx, fwy;
} ClampedBins;

/* What the kernels count rather than bin: y's zeros, and y's nonzero values outside the
 * shared ones, which are hi (x >= hi) or ry (x in [ry, hi): y <= ry). */
typedef struct ClampCounts {
    int64_t yzeros, yhi, ytop;
} ClampCounts;

/* The rule of the kernels, for values i0..n (a zero x lands in x's bin HALF). */
static void bins_clamped_scalar(const ClampedBins *c, int64_t i0, int64_t n, ClampCounts *cnt)
{
    int64_t *xb = c->k->bins, *sb = c->k->bins2;
    for (int64_t i = i0; i < n; i++) {
        float v = c->x[i];
        if (!(v > 0.0f)) {
            cnt->yzeros++;
            xb[bin_index(c->fwx, v)]++;
        } else if (!(v < c->hi)) {
            cnt->yhi++;
            xb[bin_index(c->fwx, v)]++;
        } else if (!(v < c->ry)) {
            cnt->ytop++;
            xb[bin_index(c->fwx, v)]++;
        } else {
            sb[bin_index(c->fwy, v)]++;
        }
    }
}

/* What a kernel adds to a bin index for k's buffer: with the copies, 4 bin + copy, the copy
 * from the lane. */
static int sink_shift(const BinSink *k) { return k->sub ? SUB_SHIFT : 0; }

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

/* The bins of 8 values v (finite lanes are the ones used) at 1 / width vw, as integers. */
AVX2 static inline __m256i index8_avx2(__m256 v, __m256 vw)
{
    const __m256 zero = _mm256_setzero_ps(), m1 = _mm256_set1_ps(-1.0f);
    const __m256 lo = _mm256_set1_ps((float)-HALF), hi = _mm256_set1_ps((float)(HALF - 1));
    __m256 f = _mm256_floor_ps(_mm256_mul_ps(v, vw));
    f = _mm256_blendv_ps(f, _mm256_min_ps(f, m1), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(HALF));
}

/* Bin indices as k's buffer holds them (sink_shift), the copy from the lane. */
AVX2 static inline __m256i sink_code8(__m256i id, const BinSink *k)
{
    if (!k->sub)
        return id;
    return _mm256_add_epi32(_mm256_slli_epi32(id, SUB_SHIFT),
                            _mm256_and_si256(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(SUB_COPIES - 1)));
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
        _mm256_storeu_si256((__m256i *)idx, sink_code8(index8_avx2(v, vw), k));
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

/* Every value gets one index: the shared ones (x in (0, ry)) at y's width in the second
 * table, every other one at x's width in the first. */
AVX2 static void bins_clamped_avx2(const ClampedBins *c, int64_t n, ClampCounts *cnt)
{
    const __m256 zero = _mm256_setzero_ps(), vhi = _mm256_set1_ps(c->hi);
    const __m256 vry = _mm256_set1_ps(c->ry);
    const __m256 wx = _mm256_set1_ps(c->fwx), wy = _mm256_set1_ps(c->fwy);
    const __m256i base = _mm256_set1_epi32(HIST_BINS);
    BinSink *k = c->k;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(c->x + i);
        __m256 p = _mm256_cmp_ps(v, zero, _CMP_GT_OQ);
        __m256 bh = _mm256_and_ps(p, _mm256_cmp_ps(v, vhi, _CMP_LT_OQ));
        __m256 in = _mm256_and_ps(bh, _mm256_cmp_ps(v, vry, _CMP_LT_OQ));
        unsigned pos = (unsigned)_mm256_movemask_ps(p);
        unsigned below_hi = (unsigned)_mm256_movemask_ps(bh);
        unsigned inter = (unsigned)_mm256_movemask_ps(in);
        cnt->yzeros += 8 - __builtin_popcount(pos);
        cnt->yhi += __builtin_popcount(pos & ~below_hi);
        cnt->ytop += __builtin_popcount(below_hi & ~inter);
        __m256i id = index8_avx2(v, _mm256_blendv_ps(wx, wy, in));
        id = _mm256_add_epi32(id, _mm256_and_si256(_mm256_castps_si256(in), base));
        _mm256_storeu_si256((__m256i *)(k->buf + k->pos), sink_code8(id, k));
        k->pos += 8;
        if (k->pos >= BIN_BUF)
            sink_flush(k);
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

/* The bins of 16 values v (finite lanes are the ones used) at 1 / width vw: the floor in
 * the conversion itself, then the rules' clamps on integers (the same values). */
AVX512 static inline __m512i index16_avx512(__m512 v, __m512 vw)
{
    __m512i f = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v, vw),
                                         _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    f = _mm512_mask_min_epi32(f, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), f,
                              _mm512_set1_epi32(-1));
    f = _mm512_min_epi32(_mm512_max_epi32(f, _mm512_set1_epi32(-HALF)),
                         _mm512_set1_epi32(HALF - 1));
    return _mm512_add_epi32(f, _mm512_set1_epi32(HALF));
}

/* Bin indices as a sink's buffer holds them: id << shift plus the lane's copy (`lanes`,
 * zero without the copies). */
AVX512 static inline __m512i sink_code16(__m512i id, __m128i shift, __m512i lanes)
{
    return _mm512_add_epi32(_mm512_sll_epi32(id, shift), lanes);
}

AVX512 static inline __m512i sink_lanes16(const BinSink *k)
{
    return k->sub ? _mm512_and_si512(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
                                                      3, 2, 1, 0),
                                     _mm512_set1_epi32(SUB_COPIES - 1))
                  : _mm512_setzero_si512();
}

/* One vector of 16 values, the last `t` lanes masked off: zeros counted in *zeros, the
 * bins of the other finite values appended at buf + *pos. */
AVX512 static inline void bins16_avx512(const float *x, __mmask16 t, __m512 vw, __m128i sh,
                                        __m512i lanes, int32_t *buf, int *pos, int64_t *zeros)
{
    const __m512 inf = _mm512_set1_ps(INFINITY), zero = _mm512_setzero_ps();
    __m512 v = _mm512_maskz_loadu_ps(t, x), a = _mm512_abs_ps(v);
    __mmask16 fin = _mm512_mask_cmp_ps_mask(t, a, inf, _CMP_LT_OQ);
    __mmask16 keep = _mm512_mask_cmp_ps_mask(fin, a, zero, _CMP_GT_OQ);
    *zeros += __builtin_popcount(fin & ~keep & 0xffff);
    __m512i id = _mm512_maskz_compress_epi32(keep, index16_avx512(v, vw));
    _mm512_storeu_si512(buf + *pos, sink_code16(id, sh, lanes));
    *pos += __builtin_popcount(keep);
}

/* Zeros are counted by popcount, the other finite values through the sink; the buffer
 * position lives in a register (through k it would be reloaded after every store). */
AVX512 static void bins_avx512(const float *x, int64_t n, float fw, BinSink *k)
{
    const __m512 vw = _mm512_set1_ps(fw);
    const __m128i sh = _mm_cvtsi32_si128(sink_shift(k));
    const __m512i lanes = sink_lanes16(k);
    int32_t *buf = k->buf;
    int pos = k->pos;
    int64_t zeros = 0, i = 0;
    for (; i + 32 <= n; i += 32) {
        bins16_avx512(x + i, 0xffff, vw, sh, lanes, buf, &pos, &zeros);
        bins16_avx512(x + i + 16, 0xffff, vw, sh, lanes, buf, &pos, &zeros);
        if (pos >= BIN_BUF - 16) {
            k->pos = pos;
            sink_flush(k);
            pos = 0;
        }
    }
    for (; i < n; i += 16)
        bins16_avx512(x + i, n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1),
                      vw, sh, lanes, buf, &pos, &zeros);
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

/* 16 values of x, the lanes past `t` zero (ClampedBins): every lane's index stored at
 * buf + pos, the shared ones (x in (0, ry)) at y's width in the second table, the others at
 * x's width in the first; the lanes past t are stored too and then overwritten, since the
 * caller advances by t's lanes alone. *shared, *yhi and *ytop count y's values in (0, ry),
 * at hi and at ry (the last two rare, so counted apart); y's zeros are the rest.
 * w: hi, ry, 1 / x's width, 1 / y's width. */
AVX512 static inline void clamped16_avx512(const float *x, __mmask16 t, const __m512 *w,
                                           __m128i sh, __m512i lanes, int32_t *buf,
                                           int64_t *shared, int64_t *yhi, int64_t *ytop)
{
    __m512 v = _mm512_maskz_loadu_ps(t, x);
    __mmask16 p = _mm512_mask_cmp_ps_mask(t, v, _mm512_setzero_ps(), _CMP_GT_OQ);
    __mmask16 below_hi = _mm512_mask_cmp_ps_mask(p, v, w[0], _CMP_LT_OQ);
    __mmask16 inter = _mm512_mask_cmp_ps_mask(below_hi, v, w[1], _CMP_LT_OQ);
    if (p & ~inter) { /* a positive x not shared: y is hi or ry */
        *yhi += __builtin_popcount(p & ~below_hi & 0xffff);
        *ytop += __builtin_popcount(below_hi & ~inter & 0xffff);
    }
    *shared += __builtin_popcount(inter);
    __m512i id = index16_avx512(v, _mm512_mask_blend_ps(inter, w[2], w[3]));
    id = _mm512_mask_add_epi32(id, inter, id, _mm512_set1_epi32(HIST_BINS));
    _mm512_storeu_si512(buf, sink_code16(id, sh, lanes));
}

/* The position and counts live in registers: a store into the sink's buffer (a vector
 * type, which may alias anything) would otherwise reload them after it. */
AVX512 static void bins_clamped_avx512(const ClampedBins *c, int64_t n, ClampCounts *cnt)
{
    const __m512 w[4] = { _mm512_set1_ps(c->hi), _mm512_set1_ps(c->ry), _mm512_set1_ps(c->fwx),
                          _mm512_set1_ps(c->fwy) };
    BinSink *k = c->k;
    const __m128i sh = _mm_cvtsi32_si128(sink_shift(k));
    const __m512i lanes = sink_lanes16(k);
    const float *x = c->x;
    int32_t *buf = k->buf;
    int pos = k->pos;
    int64_t shared = 0, yhi = 0, ytop = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        clamped16_avx512(x + i, 0xffff, w, sh, lanes, buf + pos, &shared, &yhi, &ytop);
        pos += 16;
        if (pos >= BIN_BUF) {
            k->pos = pos;
            sink_flush(k);
            pos = 0;
        }
    }
    if (i < n) {
        clamped16_avx512(x + i, (__mmask16)((1u << (n - i)) - 1), w, sh, lanes, buf + pos,
                         &shared, &yhi, &ytop);
        pos += (int)(n - i);
    }
    k->pos = pos;
    cnt->yzeros += n - shared - yhi - ytop;
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

bool act_scan_bins_clamped(BinSink *kx, int64_t *ybins, const float *x, int64_t n,
                           double inv_wx, double inv_wy, float hi, float ry)
{
    ClampedBins c = { .k = kx, .x = x, .hi = hi, .ry = ry, .fwx = float_inv_w(inv_wx),
                      .fwy = float_inv_w(inv_wy) };
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
    ybins[HALF] += cnt.yzeros;
    if (cnt.yhi) /* then hi <= ry: a bin of y's histogram */
        ybins[bin_index(inv_wy, hi)] += cnt.yhi;
    ybins[HIST_BINS - 1] += cnt.ytop; /* y == ry, the range's top */
    return true;
}
