/* The requantization with AVX-512, 8 accumulators at a time in 64-bit lanes: the same
 * integer steps as the scalar rows of qkernels_requant.c (their comments give the
 * arithmetic), so the same int8 results; tests/unit/test_qkernels_requant.c compares them.
 * Tails use masked loads and stores, so nothing past n is touched. */
#include "qexec/qkernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define QR_TARGET "avx512f,avx512bw,avx512dq,avx512vl"
#define QR_INLINE static inline __attribute__((always_inline, target(QR_TARGET)))

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

__attribute__((target(QR_TARGET))) void
qk_requant_chan_avx512(const int32_t *acc, int64_t n, const int64_t *corr, const QkRqVec *v,
                       int32_t z, int32_t lo, int32_t hi, int8_t *y)
{
    for (int64_t c = 0; c < n; c += 8) {
        __mmask8 m = n - c >= 8 ? 0xff : (__mmask8)((1u << (n - c)) - 1);
        QrLanes L;
        qr_load_lanes(v, c, m, &L);
        __m512i a = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, acc + c)),
                                     _mm512_maskz_loadu_epi64(m, corr + c));
        _mm512_mask_cvtepi64_storeu_epi8(y + c, m, qr_lanes(v->rule, a, &L, z, lo, hi));
    }
}

/* rule is a constant in each caller, so each loop keeps only its rule's steps. */
QR_INLINE void qr_row(int rule, const int32_t *acc, int64_t n, int64_t corr, const QkRqVec *v,
                      int32_t z, int32_t lo, int32_t hi, int8_t *y)
{
    QrLanes L = {
        .m0 = _mm512_set1_epi64(v->m0[0]), .a = _mm512_set1_epi64(v->a[0]),
        .b = _mm512_set1_epi64(v->b[0]),   .c = _mm512_set1_epi64(v->c[0]),
        .d = _mm512_set1_epi64(v->d[0]),   .scale = _mm256_set1_ps(v->scale[0]),
    };
    const __m512i vc = _mm512_set1_epi64(corr);
    for (int64_t i = 0; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512i a = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, acc + i)),
                                     vc);
        _mm512_mask_cvtepi64_storeu_epi8(y + i, m, qr_lanes(rule, a, &L, z, lo, hi));
    }
}

__attribute__((target(QR_TARGET))) void
qk_requant_row_avx512(const int32_t *acc, int64_t n, int64_t corr, const QkRqVec *v, int32_t z,
                      int32_t lo, int32_t hi, int8_t *y)
{
    switch (v->rule) {
    case QRQ_FP32:
        qr_row(QRQ_FP32, acc, n, corr, v, z, lo, hi, y);
        break;
    case QRQ_GEMMLOWP:
        qr_row(QRQ_GEMMLOWP, acc, n, corr, v, z, lo, hi, y);
        break;
    default:
        qr_row(QRQ_Q31_EVEN, acc, n, corr, v, z, lo, hi, y);
        break;
    }
}

#else
typedef int qk_requant_avx512_empty; /* ISO C wants a declaration in every translation unit */
#endif
