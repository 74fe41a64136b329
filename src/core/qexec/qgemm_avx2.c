/* AVX2 int8 GEMM, C = A B^T: int8 widened to int16 and multiplied with vpmaddwd, which is
 * exact (|a*b| <= 2^14, so a pair sums to at most 2^15 in an int32 lane; the int32 sums
 * wrap modulo 2^32 exactly as the reference's for K >= 2^17). Every function carries
 * target("avx2"), so the file builds with plain -O2 and runs only where qkernel_table
 * says AVX2 is available.
 *
 * Layout ("broadcast" form, no horizontal sums): B is packed (once per plan for weights) into panels of
 * 16 columns of int16 pairs, panel[g][c][0..1] = B[n0 + c][2g .. 2g + 1], zero past N and
 * K; a block of up to 6 rows of A is widened into int16 rows once. The kernel broadcasts
 * one pair of a row of A to every lane and multiplies it into the two lane vectors of the
 * panel: the lanes are output columns. 12 accumulators + 2 B + 1 broadcast + 1 product
 * fill the 16 ymm registers. */
#include "qexec/qgemm_impl.h"

#ifdef QGEMM_X86

#include <string.h>

enum {
    QA_P = 16,               /* columns per panel: two ymm of int32 */
    QA_MR = 6,               /* rows of A per block */
};

#define QA_INLINE static inline __attribute__((always_inline, target("avx2")))

static inline int32_t qgemm_avx2_ld32(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

size_t qgemm_avx2_packed_bytes(int64_t N, int64_t K)
{
    const int64_t kg2 = (K + 1) / 2, np = (N + QA_P - 1) / QA_P;
    return (size_t)(np * kg2 * QA_P * 2) * sizeof(int16_t);
}

/* Packs B (N, K) into ceil(N / 16) panels of kg2 * 16 pairs (layout above). A pair of
 * int16 is a 32-bit word, so this is a word transpose: rows of 16 bytes are widened and
 * transposed 8 x 8 at a time, the pairs past the last full 16 bytes are done one at a
 * time. */
__attribute__((target("avx2"))) void qgemm_avx2_pack(int64_t N, int64_t K, const int8_t *B,
                                                     int64_t ldb, void *dst)
{
    const int64_t kg2 = (K + 1) / 2;
    const int64_t pe = kg2 * QA_P * 2;
    int16_t *Bp = dst;
    memset(Bp, 0, qgemm_avx2_packed_bytes(N, K)); /* zeros: the padding */
    const int64_t nchunk = K / 16; /* full chunks of 8 pairs */
    for (int64_t c0 = 0; c0 < N; c0 += 8) {
        int16_t *half = Bp + (c0 / QA_P) * pe + (c0 % QA_P) * 2;
        for (int64_t t = 0; t < nchunk; t++) {
            __m256i r[8];
            for (int i = 0; i < 8; i++)
                r[i] = c0 + i < N ? _mm256_cvtepi8_epi16(_mm_loadu_si128(
                                        (const __m128i *)(B + (c0 + i) * ldb + 16 * t)))
                                  : _mm256_setzero_si256();
            qgemm_transpose8x32(r);
            for (int j = 0; j < 8; j++)
                _mm256_storeu_si256((__m256i *)(half + (8 * t + j) * QA_P * 2), r[j]);
        }
    }
    for (int64_t n = 0; n < N; n++) {
        const int8_t *b = B + n * ldb; /* (K) */
        int16_t *col = Bp + (n / QA_P) * pe + (n % QA_P) * 2;
        for (int64_t k = 16 * nchunk; k < K; k++)
            col[(k / 2) * QA_P * 2 + k % 2] = b[k];
    }
}

/* Widens mr rows of A into int16 rows of stride lap (>= K rounded up to even), the odd
 * element past K set to zero. The last 16 are converted from the 16 bytes ending at K, so
 * nothing past a row is read; the overlap rewrites identical values. */
QA_INLINE void qgemm_avx2_pack_a(int mr, int64_t K, const int8_t *A, int64_t lda,
                                 int16_t *Ap, int64_t lap)
{
    for (int i = 0; i < mr; i++) {
        const int8_t *row = A + i * lda; /* (K) */
        int16_t *out = Ap + i * lap;     /* (lap) */
        if (K >= 16) {
            int64_t k = 0;
            for (; k + 16 <= K; k += 16)
                _mm256_storeu_si256((__m256i *)(out + k),
                                    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + k))));
            if (k < K)
                _mm256_storeu_si256(
                    (__m256i *)(out + K - 16),
                    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + K - 16))));
        } else {
            for (int64_t k = 0; k < K; k++)
                out[k] = row[k];
        }
        if (K & 1)
            out[K] = 0;
    }
}

#define QA_DECL(i) __m256i c##i##_0 = z, c##i##_1 = z;
#define QA_ROW(i)                                                                          \
    if (mr > i) {                                                                          \
        __m256i a = _mm256_set1_epi32(qgemm_avx2_ld32(Ap + i * lap + 2 * g));              \
        c##i##_0 = _mm256_add_epi32(c##i##_0, _mm256_madd_epi16(a, b0));                   \
        c##i##_1 = _mm256_add_epi32(c##i##_1, _mm256_madd_epi16(a, b1));                   \
    }
#define QA_STORE(i)                                                                        \
    if (mr > i) {                                                                          \
        int32_t *c = C + i * ldc;                                                          \
        if (ncols == QA_P) {                                                               \
            _mm256_storeu_si256((__m256i *)c, c##i##_0);                                   \
            _mm256_storeu_si256((__m256i *)(c + 8), c##i##_1);                             \
        } else {                                                                           \
            int32_t out[QA_P];                                                             \
            _mm256_storeu_si256((__m256i *)out, c##i##_0);                                 \
            _mm256_storeu_si256((__m256i *)(out + 8), c##i##_1);                           \
            memcpy(c, out, (size_t)ncols * sizeof(int32_t));                               \
        }                                                                                  \
    }

/* C[0..mr)[0..ncols) of one panel over kg2 pairs of K. mr is a constant in every caller,
 * so unused rows vanish. */
QA_INLINE void qgemm_avx2_block(const int mr, int64_t kg2, const int16_t *Ap, int64_t lap,
                                const int16_t *panel, int ncols, int32_t *C, int64_t ldc)
{
    const __m256i z = _mm256_setzero_si256();
    QA_DECL(0) QA_DECL(1) QA_DECL(2) QA_DECL(3) QA_DECL(4) QA_DECL(5)
    const int16_t *bp = panel;
    for (int64_t g = 0; g < kg2; g++, bp += 2 * QA_P) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 16));
        QA_ROW(0) QA_ROW(1) QA_ROW(2) QA_ROW(3) QA_ROW(4) QA_ROW(5)
    }
    QA_STORE(0) QA_STORE(1) QA_STORE(2) QA_STORE(3) QA_STORE(4) QA_STORE(5)
}

typedef void (*QgemmAvx2Block)(int64_t kg2, const int16_t *Ap, int64_t lap,
                               const int16_t *panel, int ncols, int32_t *C, int64_t ldc);

#define QA_BLOCK(mr)                                                                       \
    __attribute__((target("avx2"))) static void qgemm_avx2_block_##mr(                     \
        int64_t kg2, const int16_t *Ap, int64_t lap, const int16_t *panel, int ncols,      \
        int32_t *C, int64_t ldc)                                                           \
    {                                                                                      \
        qgemm_avx2_block(mr, kg2, Ap, lap, panel, ncols, C, ldc);                          \
    }
QA_BLOCK(1) QA_BLOCK(2) QA_BLOCK(3) QA_BLOCK(4) QA_BLOCK(5) QA_BLOCK(6)

static const QgemmAvx2Block qgemm_avx2_blocks[QA_MR] = {
    qgemm_avx2_block_1, qgemm_avx2_block_2, qgemm_avx2_block_3,
    qgemm_avx2_block_4, qgemm_avx2_block_5, qgemm_avx2_block_6,
};

size_t qgemm_avx2_a_bytes(int64_t K)
{
    return (size_t)(QA_MR * ((K + 15) & ~(int64_t)15)) * sizeof(int16_t);
}

/* Per block of up to 6 rows: widened once, multiplied into every panel, the int32 rows
 * (stride N) handed to the epilogue. */
__attribute__((target("avx2"))) void qgemm_avx2_run(int64_t M, int64_t N, int64_t K,
                                                    const int8_t *A, int64_t lda,
                                                    const void *Bp, void *work,
                                                    QGemmEpi epi, void *ctx)
{
    if (M <= 0 || N <= 0)
        return;
    int32_t *acc = work;
    /* the widened block of A: rows padded to a multiple of 16 elements (32 bytes) */
    int16_t *Ap = (int16_t *)((char *)work + qgemm_work_acc_bytes(N));
    const int64_t kg2 = (K + 1) / 2, lap = (K + 15) & ~(int64_t)15;
    const int64_t pe = kg2 * QA_P * 2, np = (N + QA_P - 1) / QA_P;
    const int16_t *B16 = Bp;
    for (int64_t m = 0; m < M; m += QA_MR) {
        int mr = M - m < QA_MR ? (int)(M - m) : QA_MR;
        if (K > 0)
            qgemm_avx2_pack_a(mr, K, A + m * lda, lda, Ap, lap);
        for (int64_t p = 0; p < np; p++) {
            int64_t n = p * QA_P;
            int ncols = N - n < QA_P ? (int)(N - n) : QA_P;
            qgemm_avx2_blocks[mr - 1](kg2, Ap, lap, B16 + p * pe, ncols, acc + n, N);
        }
        epi(ctx, m, mr, acc, N);
    }
}

#else
typedef int qgemm_avx2_empty; /* ISO C wants a declaration in every translation unit */
#endif
