/* One file for the three levels: the update is a handful of double operations a lane. */
#include "kern/adam.h"

#include <immintrin.h>
#include <math.h>

#include "kern/simd.h"

/* The definition; inlined into the vector kernels for their tails (a tail call into plain
 * SSE code would skip their vzeroupper). */
static inline __attribute__((always_inline)) void
adam_scalar(float *w, const float *gr, float *m, float *v, int64_t b, int64_t e,
            const AdamCoef *c)
{
    for (int64_t k = b; k < e; k++) {
        float g = gr[k];
        if (c->decoupled)
            w[k] = (float)((double)w[k] * c->decay);
        else if (c->wd != 0.0)
            g = (float)((double)g + c->wd * (double)w[k]);
        m[k] = (float)(c->b1 * (double)m[k] + c->one_b1 * (double)g);
        v[k] = (float)(c->b2 * (double)v[k] + c->one_b2 * (double)g * (double)g);
        double denom = sqrt((double)v[k]) / c->bc2_sqrt + c->eps;
        w[k] = (float)((double)w[k] - c->step_size * (double)m[k] / denom);
    }
}

__attribute__((target("avx2,fma"))) static void adam_avx2(float *w, const float *gr, float *m,
                                                            float *v, int64_t n,
                                                            const AdamCoef *c)
{
    __m256d b1 = _mm256_set1_pd(c->b1), b2 = _mm256_set1_pd(c->b2);
    __m256d o1 = _mm256_set1_pd(c->one_b1), o2 = _mm256_set1_pd(c->one_b2);
    __m256d st = _mm256_set1_pd(c->step_size), bc = _mm256_set1_pd(c->bc2_sqrt);
    __m256d eps = _mm256_set1_pd(c->eps), wd = _mm256_set1_pd(c->wd);
    __m256d decay = _mm256_set1_pd(c->decay);
    bool l2 = !c->decoupled && c->wd != 0.0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        __m256d W = _mm256_cvtps_pd(_mm_loadu_ps(w + k)), G = _mm256_cvtps_pd(_mm_loadu_ps(gr + k));
        if (c->decoupled)
            W = _mm256_cvtps_pd(_mm256_cvtpd_ps(_mm256_mul_pd(W, decay)));
        else if (l2)
            G = _mm256_cvtps_pd(_mm256_cvtpd_ps(_mm256_add_pd(G, _mm256_mul_pd(wd, W))));
        __m128 mf = _mm256_cvtpd_ps(_mm256_add_pd(
            _mm256_mul_pd(b1, _mm256_cvtps_pd(_mm_loadu_ps(m + k))), _mm256_mul_pd(o1, G)));
        __m128 vf = _mm256_cvtpd_ps(_mm256_add_pd(
            _mm256_mul_pd(b2, _mm256_cvtps_pd(_mm_loadu_ps(v + k))),
            _mm256_mul_pd(_mm256_mul_pd(o2, G), G)));
        _mm_storeu_ps(m + k, mf);
        _mm_storeu_ps(v + k, vf);
        __m256d den = _mm256_add_pd(_mm256_div_pd(_mm256_sqrt_pd(_mm256_cvtps_pd(vf)), bc), eps);
        __m256d upd = _mm256_div_pd(_mm256_mul_pd(st, _mm256_cvtps_pd(mf)), den);
        _mm_storeu_ps(w + k, _mm256_cvtpd_ps(_mm256_sub_pd(W, upd)));
    }
    adam_scalar(w, gr, m, v, k, n, c);
}

__attribute__((target("avx512f"))) static void adam_avx512(float *w, const float *gr, float *m,
                                                             float *v, int64_t n,
                                                             const AdamCoef *c)
{
    __m512d b1 = _mm512_set1_pd(c->b1), b2 = _mm512_set1_pd(c->b2);
    __m512d o1 = _mm512_set1_pd(c->one_b1), o2 = _mm512_set1_pd(c->one_b2);
    __m512d st = _mm512_set1_pd(c->step_size), bc = _mm512_set1_pd(c->bc2_sqrt);
    __m512d eps = _mm512_set1_pd(c->eps), wd = _mm512_set1_pd(c->wd);
    __m512d decay = _mm512_set1_pd(c->decay);
    bool l2 = !c->decoupled && c->wd != 0.0;
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m512d W = _mm512_cvtps_pd(_mm256_loadu_ps(w + k));
        __m512d G = _mm512_cvtps_pd(_mm256_loadu_ps(gr + k));
        if (c->decoupled)
            W = _mm512_cvtps_pd(_mm512_cvtpd_ps(_mm512_mul_pd(W, decay)));
        else if (l2)
            G = _mm512_cvtps_pd(_mm512_cvtpd_ps(_mm512_add_pd(G, _mm512_mul_pd(wd, W))));
        __m256 mf = _mm512_cvtpd_ps(_mm512_add_pd(
            _mm512_mul_pd(b1, _mm512_cvtps_pd(_mm256_loadu_ps(m + k))), _mm512_mul_pd(o1, G)));
        __m256 vf = _mm512_cvtpd_ps(_mm512_add_pd(
            _mm512_mul_pd(b2, _mm512_cvtps_pd(_mm256_loadu_ps(v + k))),
            _mm512_mul_pd(_mm512_mul_pd(o2, G), G)));
        _mm256_storeu_ps(m + k, mf);
        _mm256_storeu_ps(v + k, vf);
        __m512d den = _mm512_add_pd(_mm512_div_pd(_mm512_sqrt_pd(_mm512_cvtps_pd(vf)), bc), eps);
        __m512d upd = _mm512_div_pd(_mm512_mul_pd(st, _mm512_cvtps_pd(mf)), den);
        _mm256_storeu_ps(w + k, _mm512_cvtpd_ps(_mm512_sub_pd(W, upd)));
    }
    adam_scalar(w, gr, m, v, k, n, c);
}

void adam_update_f32(float *w, const float *g, float *m, float *v, int64_t n,
                     const AdamCoef *c)
{
    switch (simd_level()) {
    case SIMD_AVX512:
        adam_avx512(w, g, m, v, n, c);
        break;
    case SIMD_AVX2:
        adam_avx2(w, g, m, v, n, c);
        break;
    default:
        adam_scalar(w, g, m, v, 0, n, c);
    }
}
