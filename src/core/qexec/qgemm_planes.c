/* The planes form of the product (qgemm.h): a pointwise conv's input planes packed
 * straight into the AVX-512 VNNI row's B panels, so that the weights are A and each output
 * row is one output channel's plane, with no byte transpose on either side. Packing is
 * data movement and the product is qgemm_vnni512_run itself, so the int32 results are
 * those of every other row on the same operands.
 *
 * Panel layout (qgemm_vnni.c): panel[kg][c][0..3] = X[4 kg .. 4 kg + 3][c] + 128, zero past
 * K. Columns are filled in segments: a run of pixels of one sample within one 16-column
 * slot of a panel. For each segment and group of four input channels the four rows'
 * bytes are interleaved (two unpack stages) into 16 four-byte columns and stored with a
 * mask. Columns past ncols in the last panel are left as they are: the kernel reads them
 * but masks their lanes off when it stores. */
#include "qexec/qgemm_impl.h"

#ifdef QGEMM_X86_VNNI

#include <immintrin.h>
#include <string.h>

#define QP_T512 "avx2,avx512f,avx512bw,avx512vl,avx512vnni"

enum {
    QP_SLOT = 16,  /* columns one segment can span */
    QP_SPAN = 64,  /* columns whose segments are walked together, group by group */
};

/* One run of pixels: len columns from column t, read at src + k hw for channel k. */
typedef struct QpSeg {
    const int8_t *src;
    int64_t t, len;
} QpSeg;

/* Segments of columns t0 .. t1 - 1 (t1 - t0 <= QP_SPAN) into seg; returns their count. */
static int qp_segments(const int8_t *x, int64_t sstride, int64_t hw, int64_t r0, int64_t t0,
                       int64_t t1, QpSeg *seg)
{
    int n = 0;
    for (int64_t t = t0; t < t1;) {
        int64_t r = r0 + t, b = r / hw, p = r % hw;
        int64_t len = QP_SLOT - t % QP_SLOT;
        len = hw - p < len ? hw - p : len;
        len = t1 - t < len ? t1 - t : len;
        seg[n++] = (QpSeg){ x + b * sstride + p, t, len };
        t += len;
    }
    return n;
}

__attribute__((target(QP_T512))) static void qp_pack512(const int8_t *x, int64_t sstride,
                                                        int64_t hw, int64_t K, int64_t r0,
                                                        int64_t ncols, uint8_t *dst)
{
    const int64_t P = QG_VNNI512_P, kg4 = (K + 3) / 4, pb = kg4 * P * 4;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    /* the last group: + 128 on its K % 4 real rows only, the padding rows stay 0 */
    const __m512i tailflip = _mm512_set1_epi32((int)(UINT32_C(0x80808080) >>
                                                     (8 * ((4 - K % 4) % 4))));
    QpSeg seg[QP_SPAN];
    for (int64_t t0 = 0; t0 < ncols; t0 += QP_SPAN) {
        int64_t t1 = t0 + QP_SPAN < ncols ? t0 + QP_SPAN : ncols;
        int ns = qp_segments(x, sstride, hw, r0, t0, t1, seg);
        for (int64_t kg = 0; kg < kg4; kg++) {
            const int64_t k = 4 * kg;
            const __m512i fl = k + 4 <= K ? flip : tailflip;
            for (int s = 0; s < ns; s++) {
                const QpSeg *g = &seg[s];
                const __mmask16 lm = (__mmask16)((1u << g->len) - 1);
                const int8_t *p = g->src + k * hw;
                __m128i r[4];
                for (int j = 0; j < 4; j++) /* masked loads are slow on some cores */
                    r[j] = k + j >= K         ? _mm_setzero_si128()
                           : g->len == QP_SLOT ? _mm_loadu_si128((const __m128i *)(p + j * hw))
                                               : _mm_maskz_loadu_epi8(lm, p + j * hw);
                __m128i a0 = _mm_unpacklo_epi8(r[0], r[1]), a1 = _mm_unpackhi_epi8(r[0], r[1]);
                __m128i b0 = _mm_unpacklo_epi8(r[2], r[3]), b1 = _mm_unpackhi_epi8(r[2], r[3]);
                __m512i v = _mm512_castsi128_si512(_mm_unpacklo_epi16(a0, b0));
                v = _mm512_inserti32x4(v, _mm_unpackhi_epi16(a0, b0), 1);
                v = _mm512_inserti32x4(v, _mm_unpacklo_epi16(a1, b1), 2);
                v = _mm512_inserti32x4(v, _mm_unpackhi_epi16(a1, b1), 3);
                __mmask64 sm = g->len == QP_SLOT ? ~(__mmask64)0
                                                 : (UINT64_C(1) << (4 * g->len)) - 1;
                uint8_t *out = dst + (g->t / P) * pb + kg * P * 4 + (g->t % P) * 4;
                _mm512_mask_storeu_epi8(out, sm, _mm512_xor_si512(v, fl));
            }
        }
    }
}

bool qgemm_planes_ok(void)
{
    return qgemm_active() == &qkernel_table[QK_AVX512VNNI];
}

size_t qgemm_planes_bytes(int64_t K, int64_t ncols)
{
    return qgemm_vnni512_packed_bytes(ncols, K);
}

size_t qgemm_planes_work_bytes(int64_t ncols)
{
    return qgemm_work_acc_bytes(ncols);
}

void qgemm_planes_pack(const int8_t *x, int64_t sstride, int64_t hw, int64_t K, int64_t r0,
                       int64_t ncols, void *packed)
{
    qp_pack512(x, sstride, hw, K, r0, ncols, packed);
}

void qgemm_planes_run(int64_t M, int64_t K, const int8_t *A, int64_t lda, const void *packed,
                      int64_t ncols, void *work, QGemmEpi epi, void *ctx)
{
    qgemm_vnni512_run(M, ncols, K, A, lda, packed, work, epi, ctx);
}

#else /* no AVX-512 VNNI row: never ok, so nothing else is called */

bool qgemm_planes_ok(void)
{
    return false;
}

size_t qgemm_planes_bytes(int64_t K, int64_t ncols)
{
    return (size_t)(K * ncols);
}

size_t qgemm_planes_work_bytes(int64_t ncols)
{
    return qgemm_work_acc_bytes(ncols);
}

void qgemm_planes_pack(const int8_t *x, int64_t sstride, int64_t hw, int64_t K, int64_t r0,
                       int64_t ncols, void *packed)
{
    (void)x, (void)sstride, (void)hw, (void)K, (void)r0, (void)ncols, (void)packed;
}

void qgemm_planes_run(int64_t M, int64_t K, const int8_t *A, int64_t lda, const void *packed,
                      int64_t ncols, void *work, QGemmEpi epi, void *ctx)
{
    (void)M, (void)K, (void)A, (void)lda, (void)packed, (void)ncols, (void)work, (void)epi,
        (void)ctx;
}
#endif
