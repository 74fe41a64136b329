/* The requantization with AVX-512, 8 accumulators at a time in 64-bit lanes: the same
 * integer steps as the scalar rows of qkernels_requant.c (their comments give the
 * arithmetic), so the same int8 results; tests/unit/test_qkernels_int.c and
 * test_qkernels_epi.c compare them. The int8 Add of the qscope rule uses the same lanes and
 * rounding. Tails use masked loads and stores, so nothing past n is touched. */
#include "qexec/qkernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define QR_TARGET "avx512f,avx512bw,avx512dq,avx512vl"
#define QR_INLINE static inline __attribute__((always_inline, target(QR_TARGET)))

/* Calls fn(RULE, ...) with the rule as a constant, so each inlined copy keeps only its own
 * rule's arithmetic in the loop. */
#define QR_BY_RULE(rule, fn, ...)                                                         \
    do {                                                                                  \
        if ((rule) == QRQ_FP32)                                                           \
            fn(QRQ_FP32, __VA_ARGS__);                                                    \
        else if ((rule) == QRQ_GEMMLOWP)                                                  \
            fn(QRQ_GEMMLOWP, __VA_ARGS__);                                                \
        else                                                                              \
            fn(QRQ_Q31_EVEN, __VA_ARGS__);                                                \
    } while (0)

/* One lane group's constants. */
typedef struct QrLanes {
    __m512i m0, a, b, c, d;
    __m256 scale;
} QrLanes;

/* sat32(a) then the rule, + z, clamped to [lo, hi]: int64 lanes. */
QR_INLINE __m512i qr_lanes(int rule, __m512i a, const QrLanes *L, int32_t z, int32_t lo,
                           int32_t hi)
{
    a = _mm512_max_epi64(_mm512_min_epi64(a, _mm512_set1_epi64(INT32_MAX)),
                         _mm512_set1_epi64(INT32_MIN));
    const __m512i one = _mm512_set1_epi64(1), vz = _mm512_set1_epi64(z);
    if (rule == QRQ_FP32) {
        const __m256 flo = _mm256_set1_ps((float)(lo - z)), fhi = _mm256_set1_ps((float)(hi - z));
        const __m256 magic = _mm256_set1_ps(0x1.8p23f);
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm512_cvtepi64_epi32(a)), L->scale);
        v = _mm256_max_ps(v, flo); /* v > flo ? v : flo */
        v = _mm256_min_ps(v, fhi); /* v < fhi ? v : fhi */
        v = _mm256_sub_ps(_mm256_add_ps(v, magic), magic);
        return _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm256_cvttps_epi32(v)), vz);
    }
    __m512i q;
    if (rule == QRQ_GEMMLOWP) {
        /* xs = (int32)((uint32)a << left): shift, then sign-extend the low 32 bits */
        __m512i xs = _mm512_srai_epi64(_mm512_slli_epi64(_mm512_sllv_epi64(a, L->a), 32), 32);
        __m512i p = _mm512_mul_epi32(xs, L->m0);
        __mmask8 nonneg = _mm512_cmpge_epi64_mask(p, _mm512_setzero_si512());
        p = _mm512_add_epi64(p, _mm512_mask_blend_epi64(nonneg,
                                                        _mm512_set1_epi64(1 - (INT64_C(1) << 30)),
                                                        _mm512_set1_epi64(INT64_C(1) << 30)));
        __m512i trunc = _mm512_and_si512(_mm512_srai_epi64(p, 63),
                                         _mm512_set1_epi64((INT64_C(1) << 31) - 1));
        __m512i h = _mm512_srai_epi64(_mm512_add_epi64(p, trunc), 31);
        h = _mm512_srai_epi64(_mm512_slli_epi64(h, 32), 32); /* the (int32_t) cast */
        __m512i thr = _mm512_add_epi64(
            L->d, _mm512_maskz_mov_epi64(_mm512_cmplt_epi64_mask(h, _mm512_setzero_si512()),
                                         one));
        __mmask8 up = _mm512_cmpgt_epi64_mask(_mm512_and_si512(h, L->c), thr);
        q = _mm512_mask_add_epi64(_mm512_srav_epi64(h, L->b), up, _mm512_srav_epi64(h, L->b),
                                  one);
        q = _mm512_add_epi64(q, vz);
    } else {
        __m512i p = _mm512_mul_epi32(a, L->m0); /* a and m0 are int32: the exact product */
        __m512i odd = _mm512_and_si512(_mm512_srav_epi64(p, L->a), one);
        q = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(p, L->b), odd), L->a);
        q = _mm512_add_epi64(q, vz);
    }
    return _mm512_max_epi64(_mm512_min_epi64(q, _mm512_set1_epi64(hi)), _mm512_set1_epi64(lo));
}

QR_INLINE void qr_load_lanes(const QkRqVec *v, int64_t c, __mmask8 m, QrLanes *L)
{
    L->m0 = _mm512_maskz_loadu_epi64(m, v->m0 + c);
    L->a = _mm512_maskz_loadu_epi64(m, v->a + c);
    L->b = _mm512_maskz_loadu_epi64(m, v->b + c);
    L->c = _mm512_maskz_loadu_epi64(m, v->c + c);
    L->d = _mm512_maskz_loadu_epi64(m, v->d + c);
    L->scale = _mm256_maskz_loadu_ps(m, v->scale + c);
}

/* The int8 results of channels j .. j + 15 (mask m) of one row of accumulators. */
QR_INLINE __m128i qr_row16(int rule, const int32_t *acc, __mmask16 m, __m512i corr0,
                           __m512i corr1, const QrLanes *L0, const QrLanes *L1, int32_t z,
                           int32_t lo, int32_t hi)
{
    __m512i a0 = _mm512_add_epi64(
        _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32((__mmask8)m, acc)), corr0);
    __m128i q = _mm512_cvtepi64_epi8(qr_lanes(rule, a0, L0, z, lo, hi));
    if (m >> 8) {
        __m512i a1 = _mm512_add_epi64(
            _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32((__mmask8)(m >> 8), acc + 8)),
            corr1);
        q = _mm_unpacklo_epi64(q, _mm512_cvtepi64_epi8(qr_lanes(rule, a1, L1, z, lo, hi)));
    }
    return q;
}

/* A block of rows x n accumulators into rows of y (row stride ys), 16 channels at a time
 * with their constants loaded once for all the rows. */
QR_INLINE void qr_block(int rule, const int32_t *acc, int64_t ld, int64_t rows, int64_t n,
                        const int64_t *corr, const QkRqVec *v, int32_t z, int32_t lo,
                        int32_t hi, int8_t *y, int64_t ys)
{
    for (int64_t j = 0; j < n; j += 16) {
        int64_t nj = n - j < 16 ? n - j : 16;
        __mmask16 m = (__mmask16)((1u << nj) - 1);
        QrLanes L0, L1;
        qr_load_lanes(v, j, (__mmask8)m, &L0);
        qr_load_lanes(v, j + 8, (__mmask8)(m >> 8), &L1);
        __m512i c0 = _mm512_maskz_loadu_epi64((__mmask8)m, corr + j);
        __m512i c1 = _mm512_maskz_loadu_epi64((__mmask8)(m >> 8), corr + j + 8);
        for (int64_t i = 0; i < rows; i++)
            _mm_mask_storeu_epi8(y + i * ys + j, m,
                                 qr_row16(rule, acc + i * ld + j, m, c0, c1, &L0, &L1, z, lo,
                                          hi));
    }
}

__attribute__((target(QR_TARGET))) void
qk_requant_block_avx512(const int32_t *acc, int64_t ld, int64_t rows, int64_t n,
                        const int64_t *corr, const QkRqVec *v, int32_t z, int32_t lo,
                        int32_t hi, int8_t *y, int64_t ys)
{
    QR_BY_RULE(v->rule, qr_block, acc, ld, rows, n, corr, v, z, lo, hi, y, ys);
}

/* Lane 0 of v (one channel's constants) in every lane. */
QR_INLINE QrLanes qr_lanes_of(const QkRqVec *v)
{
    QrLanes L = {
        .m0 = _mm512_set1_epi64(v->m0[0]), .a = _mm512_set1_epi64(v->a[0]),
        .b = _mm512_set1_epi64(v->b[0]),   .c = _mm512_set1_epi64(v->c[0]),
        .d = _mm512_set1_epi64(v->d[0]),   .scale = _mm256_set1_ps(v->scale[0]),
    };
    return L;
}

/* The int8 results of 16 accumulators of one channel (mask m): byte k is acc[k]'s. The
 * bytes are narrowed in registers and stored by the caller (a narrowing store to memory
 * is slow on some cores). */
QR_INLINE __m128i qr_one16(int rule, const int32_t *acc, __mmask16 m, __m512i vc,
                           const QrLanes *L, int32_t z, int32_t lo, int32_t hi)
{
    return qr_row16(rule, acc, m, vc, vc, L, L, z, lo, hi);
}

/* rule is a constant in each caller, so each loop keeps only its rule's steps. */
QR_INLINE void qr_row(int rule, const int32_t *acc, int64_t n, int64_t corr, const QkRqVec *v,
                      int32_t z, int32_t lo, int32_t hi, int8_t *y)
{
    const QrLanes L = qr_lanes_of(v);
    const __m512i vc = _mm512_set1_epi64(corr);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(y + i), qr_one16(rule, acc + i, 0xffff, vc, &L, z, lo, hi));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm_mask_storeu_epi8(y + i, m, qr_one16(rule, acc + i, m, vc, &L, z, lo, hi));
    }
}

__attribute__((target(QR_TARGET))) void
qk_requant_row_avx512(const int32_t *acc, int64_t n, int64_t corr, const QkRqVec *v, int32_t z,
                      int32_t lo, int32_t hi, int8_t *y)
{
    QR_BY_RULE(v->rule, qr_row, acc, n, corr, v, z, lo, hi, y);
}

/* Planes smaller than a vector that divide it (ohw 1, 2, 4, 8): lane k of a vector of 16
 * outputs belongs to channel k / ohw of the vector's first, so each half's constants are
 * 8 channels' lanes permuted into place. */
QR_INLINE void qr_planes_small(int rule, const int32_t *acc, int64_t np, int64_t ohw,
                               const int32_t *corr, const QkRqVec *v, int32_t z, int32_t lo,
                               int32_t hi, int8_t *y)
{
    const int64_t n = np * ohw, per = 16 / ohw;
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i sh = _mm512_set1_epi64(ohw == 1 ? 0 : ohw == 2 ? 1 : ohw == 4 ? 2 : 3);
    for (int64_t i = 0, cb = 0; i < n; i += 16, cb += per) {
        int64_t lim = n - i < 16 ? n - i : 16;
        __mmask16 m = (__mmask16)((1u << lim) - 1);
        __m128i q[2];
        for (int h = 0; h < 2; h++) {
            /* half h: lanes 8h .. 8h + 7, channels from cb + 8h / ohw */
            int64_t c0 = cb + 8 * h / ohw;
            __m512i idx = _mm512_sub_epi64(
                _mm512_srlv_epi64(_mm512_add_epi64(lane, _mm512_set1_epi64(8 * h)), sh),
                _mm512_set1_epi64(8 * h / ohw));
            int64_t left = np - c0;
            __mmask8 cm = left >= 8 ? 0xff : left > 0 ? (__mmask8)((1u << left) - 1) : 0;
            QrLanes L;
            qr_load_lanes(v, c0, cm, &L);
            L.m0 = _mm512_permutexvar_epi64(idx, L.m0);
            L.a = _mm512_permutexvar_epi64(idx, L.a);
            L.b = _mm512_permutexvar_epi64(idx, L.b);
            L.c = _mm512_permutexvar_epi64(idx, L.c);
            L.d = _mm512_permutexvar_epi64(idx, L.d);
            L.scale = _mm256_permutexvar_ps(_mm512_cvtepi64_epi32(idx), L.scale);
            __m512i vc = _mm512_permutexvar_epi64(
                idx, _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(cm, corr + c0)));
            __mmask8 am = (__mmask8)(m >> (8 * h));
            __m512i a = _mm512_add_epi64(
                _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(am, acc + i + 8 * h)), vc);
            q[h] = _mm512_cvtepi64_epi8(qr_lanes(rule, a, &L, z, lo, hi));
        }
        __m128i r = _mm_unpacklo_epi64(q[0], q[1]);
        if (lim == 16)
            _mm_storeu_si128((__m128i *)(y + i), r);
        else
            _mm_mask_storeu_epi8(y + i, m, r);
    }
}

QR_INLINE void qr_planes(int rule, const int32_t *acc, int64_t np, int64_t ohw,
                         const int32_t *corr, const QkRqVec *v, int32_t z, int32_t lo,
                         int32_t hi, int8_t *y)
{
    if (ohw < 16 && 16 % ohw == 0) {
        qr_planes_small(rule, acc, np, ohw, corr, v, z, lo, hi, y);
        return;
    }
    for (int64_t k = 0; k < np; k++) {
        QkRqVec w = qk_rqvec_at(v, k);
        qr_row(rule, acc + k * ohw, ohw, corr[k], &w, z, lo, hi, y + k * ohw);
    }
}

__attribute__((target(QR_TARGET))) void
qk_requant_planes_avx512(const int32_t *acc, int64_t np, int64_t ohw, const int32_t *corr,
                         const QkRqVec *v, int32_t z, int32_t lo, int32_t hi, int8_t *y)
{
    QR_BY_RULE(v->rule, qr_planes, acc, np, ohw, corr, v, z, lo, hi, y);
}

/* 16 accumulators at a time; their results are stored piece by piece, one masked store
 * per run they meet, the store's base moved back so that lane k lands on its column. */
QR_INLINE void qr_runs(int rule, const int32_t *acc, int64_t n, int64_t p0, int64_t hw,
                       int64_t corr, const QkRqVec *v, int32_t z, int32_t lo, int32_t hi,
                       int8_t *y, int64_t ys)
{
    const QrLanes L = qr_lanes_of(v);
    const __m512i vc = _mm512_set1_epi64(corr);
    uintptr_t yr = (uintptr_t)(y + p0 / hw * ys);
    int64_t p = p0 % hw;
    for (int64_t i = 0; i < n; i += 16) {
        int64_t lim = n - i < 16 ? n - i : 16;
        __mmask16 m = (__mmask16)((1u << lim) - 1);
        __m128i q = qr_one16(rule, acc + i, m, vc, &L, z, lo, hi);
        if (p + lim <= hw) { /* the common case: one run */
            if (lim == 16) /* masked byte stores are slow on some cores */
                _mm_storeu_si128((__m128i *)(yr + (uintptr_t)p), q);
            else
                _mm_mask_storeu_epi8((void *)(yr + (uintptr_t)p), m, q);
            p += lim;
            if (p == hw) {
                p = 0;
                yr += (uintptr_t)ys;
            }
            continue;
        }
        for (int64_t k = 0; k < lim;) {
            int64_t len = hw - p < lim - k ? hw - p : lim - k;
            __mmask16 sm = (__mmask16)(((1u << len) - 1) << k);
            _mm_mask_storeu_epi8((void *)(yr + (uintptr_t)p - (uintptr_t)k), sm, q);
            k += len;
            p += len;
            if (p == hw) {
                p = 0;
                yr += (uintptr_t)ys;
            }
        }
    }
}

__attribute__((target(QR_TARGET))) void
qk_requant_runs_avx512(const int32_t *acc, int64_t n, int64_t p0, int64_t hw, int64_t corr,
                       const QkRqVec *v, int32_t z, int32_t lo, int32_t hi, int8_t *y,
                       int64_t ys)
{
    QR_BY_RULE(v->rule, qr_runs, acc, n, p0, hw, corr, v, z, lo, hi, y, ys);
}

/* 8 elements at a time: the sum in int64 lanes (|M (q - z)| < 2^57 by qk_add_lanes_fit,
 * so vpmullq's low 64 bits are the product), then the branch-free round half to even of
 * qk_requant_row: (p + 2^(S-1) - 1 + ((p >> S) & 1)) >> S. */
__attribute__((target(QR_TARGET))) void
qk_add_exact_avx512(const TargetAdd *ad, const QParams *p, const int8_t *a, const int8_t *b,
                    int8_t *y, int64_t n)
{
    const __m512i m0 = _mm512_set1_epi64(ad->mult[0]), m1 = _mm512_set1_epi64(ad->mult[1]);
    const __m512i za = _mm512_set1_epi64(ad->za), zb = _mm512_set1_epi64(ad->zb);
    const __m512i bias = _mm512_set1_epi64((INT64_C(1) << (ad->shift - 1)) - 1);
    const __m512i one = _mm512_set1_epi64(1), zo = _mm512_set1_epi64(p->zero_point);
    const __m512i lo = _mm512_set1_epi64(p->qmin), hi = _mm512_set1_epi64(p->qmax);
    const __m128i sh = _mm_cvtsi32_si128(ad->shift);
    for (int64_t i = 0; i < n; i += 8) {
        __mmask16 m = n - i >= 8 ? 0xff : (__mmask16)((1u << (n - i)) - 1);
        __m512i va = _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8(m, a + i));
        __m512i vb = _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8(m, b + i));
        __m512i acc = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_sub_epi64(va, za), m0),
                                       _mm512_mullo_epi64(_mm512_sub_epi64(vb, zb), m1));
        __m512i odd = _mm512_and_si512(_mm512_sra_epi64(acc, sh), one);
        __m512i q = _mm512_sra_epi64(_mm512_add_epi64(_mm512_add_epi64(acc, bias), odd), sh);
        q = _mm512_add_epi64(q, zo);
        q = _mm512_max_epi64(_mm512_min_epi64(q, hi), lo);
        _mm512_mask_cvtepi64_storeu_epi8(y + i, (__mmask8)m, q);
    }
}

#else
typedef int qk_requant_avx512_empty; /* ISO C wants a declaration in every translation unit */
#endif
