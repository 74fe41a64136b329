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

/* Rows r[0..3] (columns t .. t + len - 1 of the group's four rows of X, len <= 16)
 * interleaved (two unpack stages) into len four-byte columns, + 128 (fl), stored with a
 * mask into their panel; dst is the group's start in the first panel. */
static inline __attribute__((always_inline, target(QP_T512))) void
qp_store4(const __m128i r[4], __m512i fl, int64_t t, int64_t len, uint8_t *dst, int64_t pb)
{
    const int64_t P = QG_VNNI512_P;
    __m128i a0 = _mm_unpacklo_epi8(r[0], r[1]), a1 = _mm_unpackhi_epi8(r[0], r[1]);
    __m128i b0 = _mm_unpacklo_epi8(r[2], r[3]), b1 = _mm_unpackhi_epi8(r[2], r[3]);
    __m512i v = _mm512_castsi128_si512(_mm_unpacklo_epi16(a0, b0));
    v = _mm512_inserti32x4(v, _mm_unpackhi_epi16(a0, b0), 1);
    v = _mm512_inserti32x4(v, _mm_unpacklo_epi16(a1, b1), 2);
    v = _mm512_inserti32x4(v, _mm_unpackhi_epi16(a1, b1), 3);
    __mmask64 sm = len == QP_SLOT ? ~(__mmask64)0 : (UINT64_C(1) << (4 * len)) - 1;
    _mm512_mask_storeu_epi8(dst + (t / P) * pb + (t % P) * 4, sm, _mm512_xor_si512(v, fl));
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
                qp_store4(r, fl, g->t, g->len, dst + kg * P * 4, pb);
            }
        }
    }
}

/* A conv's run of output pixels: len columns from column t, all in output row oh of one
 * sample (src: its first input plane), the first one's window starting at input column
 * iw0 (may be negative: padding). */
typedef struct QcSeg {
    const int8_t *src;
    int64_t t, len, ih0, iw0;
} QcSeg;

static int qc_segments(const QgConvCols *g, const int8_t *x, int64_t r0, int64_t t0,
                       int64_t t1, QcSeg *seg)
{
    const int64_t ohw = g->oh * g->ow, sstride = g->c * g->h * g->w;
    int n = 0;
    for (int64_t t = t0; t < t1;) {
        int64_t r = r0 + t, b = r / ohw, p = r % ohw, oh = p / g->ow, ow = p % g->ow;
        int64_t len = QP_SLOT - t % QP_SLOT;
        len = g->ow - ow < len ? g->ow - ow : len;
        len = t1 - t < len ? t1 - t : len;
        seg[n++] = (QcSeg){ x + b * sstride, t, len, oh * g->sh - g->pt, ow * g->sw - g->pl };
        t += len;
    }
    return n;
}

/* K runs over (c, i, j) with j padded to kw4 = a multiple of 4, so that each group of
 * four taps (a quad) is four adjacent input bytes. For each segment and kernel row (c, i)
 * one load takes the bytes all its pixels' taps span (those in the padding masked off,
 * never read, zp instead); quad j0 of pixel p starts at byte p sw + j0, so each 128-bit
 * lane, four pixels, is given the dwords its pixels start in (vpermd, moved on by j0 / 4
 * per quad) and their bytes picked (vpshufb). */
__attribute__((target(QP_T512))) static void qc_pack512(const QgConvCols *g, const int8_t *x,
                                                        int64_t r0, int64_t ncols, uint8_t *dst)
{
    const int64_t P = QG_VNNI512_P, kw4 = qgemm_planes_conv_kw4(g);
    const int64_t pb = g->c * g->kh * (kw4 / 4) * P * 4, hw = g->h * g->w;
    const __m512i flip = _mm512_set1_epi8((char)0x80), zpv = _mm512_set1_epi8(g->zp);
    const __m512i lanes = g->sw == 1
        ? _mm512_set_epi32(6, 5, 4, 3, 5, 4, 3, 2, 4, 3, 2, 1, 3, 2, 1, 0)
        : _mm512_set_epi32(9, 8, 7, 6, 7, 6, 5, 4, 5, 4, 3, 2, 3, 2, 1, 0);
    const __m512i pick = g->sw == 1
        ? _mm512_broadcast_i32x4(_mm_set_epi8(6, 5, 4, 3, 5, 4, 3, 2, 4, 3, 2, 1, 3, 2, 1, 0))
        : _mm512_broadcast_i32x4(_mm_set_epi8(9, 8, 7, 6, 7, 6, 5, 4, 5, 4, 3, 2, 3, 2, 1, 0));
    const __m512i one = _mm512_set1_epi32(1);
    QcSeg seg[QP_SPAN];
    for (int64_t t0 = 0; t0 < ncols; t0 += QP_SPAN) {
        int64_t t1 = t0 + QP_SPAN < ncols ? t0 + QP_SPAN : ncols;
        int ns = qc_segments(g, x, r0, t0, t1, seg);
        for (int s = 0; s < ns; s++) {
            const QcSeg *sg = &seg[s];
            const int64_t iw = sg->iw0, span = (sg->len - 1) * g->sw + kw4; /* <= 64 */
            const int64_t lo = iw < 0 ? -iw : 0, hi = g->w - iw < span ? g->w - iw : span;
            const __mmask64 m = hi <= lo ? 0
                                : (hi >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1) &
                                      ~((UINT64_C(1) << lo) - 1);
            const __mmask64 sm = sg->len == QP_SLOT ? ~(__mmask64)0
                                                    : (UINT64_C(1) << (4 * sg->len)) - 1;
            uint8_t *out = dst + (sg->t / P) * pb + (sg->t % P) * 4;
            for (int64_t c = 0; c < g->c; c++)
                for (int64_t i = 0; i < g->kh; i++) {
                    const int64_t ih = sg->ih0 + i * g->dh;
                    __m512i v = zpv;
                    if (ih >= 0 && ih < g->h && m) {
                        /* as an integer: iw may be negative, those bytes are masked off */
                        uintptr_t at = (uintptr_t)(sg->src + c * hw + ih * g->w) + (uintptr_t)iw;
                        v = _mm512_mask_loadu_epi8(zpv, m, (const void *)at);
                    }
                    __m512i l = lanes;
                    for (int64_t j0 = 0; j0 < kw4; j0 += 4, out += P * 4) {
                        __m512i q = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(l, v), pick);
                        _mm512_mask_storeu_epi8(out, sm, _mm512_xor_si512(q, flip));
                        l = _mm512_add_epi32(l, one);
                    }
                }
        }
    }
}

bool qgemm_planes_conv_ok(const QgConvCols *g)
{
    return qgemm_planes_ok() && (g->sw == 1 || g->sw == 2) && g->dw == 1 &&
           15 * g->sw + qgemm_planes_conv_kw4(g) <= 64; /* a segment's bytes in one load */
}

void qgemm_planes_pack_conv(const QgConvCols *g, const int8_t *x, int64_t r0, int64_t ncols,
                            void *packed)
{
    qc_pack512(g, x, r0, ncols, packed);
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

bool qgemm_planes_conv_ok(const QgConvCols *g)
{
    (void)g;
    return false;
}

void qgemm_planes_pack_conv(const QgConvCols *g, const int8_t *x, int64_t r0, int64_t ncols,
                            void *packed)
{
    (void)g, (void)x, (void)r0, (void)ncols, (void)packed;
}

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
