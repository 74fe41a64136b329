/* VNNI int8 GEMM, C = A B^T, with vpdpbusd in its 256-bit AVX-VNNI form and its 512-bit
 * AVX-512 VNNI form. Every function carries a target attribute, so the file builds with
 * plain -O2 and runs only where qkernel_table says the instructions are available.
 *
 * vpdpbusd multiplies unsigned bytes by signed bytes and adds each group of four products
 * to an int32 lane. One operand has to be made unsigned by adding 128; we do it to B while
 * packing it (free, B is packed once per plan for weights) rather than to A (which would cost an
 * instruction per broadcast in the inner loop), and take the excess back per row of A:
 *   sum_k (b + 128) a = sum_k a b + 128 sum_k a[m][k].
 * The row sums of A cost one vpdpbusd per vector of A, once per call. Each group of four
 * products is at most 4 * 255 * 128 in magnitude (vpdpbusd does not saturate anyway), so
 * the result is exact, and for K >= 2^17 it wraps modulo 2^32 exactly as the reference.
 *
 * Layout ("broadcast" form, no horizontal sums): B is packed into panels of P columns,
 * panel[kg][c][0..3] = B[n0 + c][4 kg .. 4 kg + 3] + 128, zero past N and K. The kernel
 * broadcasts four bytes of a row of A to every lane and multiplies them into P / L lane
 * vectors, one accumulator per (row, vector): the lanes are output columns. */
#include "qexec/qgemm_impl.h"

#ifdef QGEMM_X86_VNNI

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#define QV_T256 "avx2,avxvnni"
#define QV_T512 "avx2,avx512f,avx512bw,avx512vl,avx512vnni"

/* GCC 12 does not tie the accumulator of its vpdpbusd builtins to the output, so every
 * call in a loop costs a register copy (or a spill); the asm ties it ("+") and leaves
 * register allocation clean. Accumulators are named variables, not an array, for the
 * same reason: GCC keeps an array operand of asm in memory. AT&T operand order: the
 * signed operand s, the unsigned operand u, the accumulator. */
#define QV256_DP(acc, u, s) __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u), "xm"(s))
#define QV512_DP(acc, u, s) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s))

static inline uint32_t qgemm_vnni_ld32(const int8_t *p)
{
    uint32_t u;
    memcpy(&u, p, 4);
    return u;
}

/* The last K % 4 bytes of a row (K % 4 != 0) in the low bytes of a word, zeros above,
 * without reading past the row: the last full word is shifted down when there is one. */
static inline uint32_t qgemm_vnni_tail32(const int8_t *row, int64_t K)
{
    int r = (int)(K & 3);
    if (K >= 4)
        return qgemm_vnni_ld32(row + K - 4) >> (8 * (4 - r)); /* little-endian x86 */
    uint32_t u = 0;
    for (int j = 0; j < r; j++)
        u |= (uint32_t)(uint8_t)row[j] << (8 * j);
    return u;
}

/* Bytes of B packed into ceil(N / P) panels of kg4 * P * 4 bytes (layout above). */
static size_t qgemm_vnni_bytes(int64_t N, int64_t K, int P)
{
    return (size_t)((N + P - 1) / P * ((K + 3) / 4) * P * 4);
}

/* Packs groups [g0, kg4) of rows [0, N) of B, a 32-bit word at a time: the part the
 * vector packers leave. */
static void qgemm_vnni_pack_words(int64_t N, int64_t K, const int8_t *B, int64_t ldb, int P,
                                  int64_t g0, uint8_t *Bp, int64_t pb)
{
    const int64_t kfull = K / 4, kg4 = (K + 3) / 4;
    /* + 128 on the K % 4 real bytes of the tail word only: its padding must stay 0 */
    const uint32_t tailflip = UINT32_C(0x80808080) >> (8 * ((4 - K % 4) % 4));
    for (int64_t n = 0; n < N; n++) {
        const int8_t *b = B + n * ldb; /* (K) */
        uint8_t *col = Bp + (n / P) * pb + (n % P) * 4;
        for (int64_t g = g0; g < kg4; g++) {
            uint32_t w = g < kfull ? qgemm_vnni_ld32(b + 4 * g) ^ UINT32_C(0x80808080)
                                   : qgemm_vnni_tail32(b, K) ^ tailflip;
            memcpy(col + g * P * 4, &w, 4);
        }
    }
}

/* ---- 256-bit AVX-VNNI: panels of 16 columns (2 ymm), up to 6 rows per block: 12
 * accumulators + 2 B + 1 broadcast of 16 ymm ---------------------------------------------- */

enum { QV256_P = 16, QV256_MR = 6 };

#define QV256_INLINE static inline __attribute__((always_inline, target(QV_T256)))

/* 128 * sum_k A[i][k] for each of mr rows (mod 2^32, as the lanes compute). */
QV256_INLINE void qgemm_vnni_rowsum256(int mr, int64_t K, const int8_t *A, int64_t lda,
                                       __m256i tailmask, int32_t *corr)
{
    const __m256i ones = _mm256_set1_epi8(1);
    for (int i = 0; i < mr; i++) {
        const int8_t *row = A + i * lda; /* (K) */
        __m256i s = _mm256_setzero_si256();
        int64_t k = 0;
        for (; k + 32 <= K; k += 32)
            QV256_DP(s, ones, _mm256_loadu_si256((const __m256i *)(row + k)));
        if (k < K) {
            __m256i v;
            if (K >= 32) { /* the 32 bytes ending at K, the ones already summed masked off */
                v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(row + K - 32)),
                                     tailmask);
            } else {
                int8_t buf[32] = { 0 };
                memcpy(buf, row, (size_t)K);
                v = _mm256_loadu_si256((const __m256i *)buf);
            }
            QV256_DP(s, ones, v);
        }
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        corr[i] = (int32_t)((uint32_t)_mm_cvtsi128_si32(h) * 128u);
    }
}

#define QV256_DECL(i) __m256i c##i##_0 = z, c##i##_1 = z;
#define QV256_ROW(i, load)                                                                 \
    if (mr > i) {                                                                          \
        __m256i a = _mm256_set1_epi32((int)load(A + i * lda));                             \
        QV256_DP(c##i##_0, b0, a);                                                         \
        QV256_DP(c##i##_1, b1, a);                                                         \
    }
#define QV256_ROWS(load)                                                                   \
    QV256_ROW(0, load) QV256_ROW(1, load) QV256_ROW(2, load) QV256_ROW(3, load)            \
    QV256_ROW(4, load) QV256_ROW(5, load)
#define QV256_FULL(p) qgemm_vnni_ld32((p) + k)
#define QV256_TAIL(p) qgemm_vnni_tail32((p), K)
#define QV256_STORE(i)                                                                     \
    if (mr > i) {                                                                          \
        __m256i cv = _mm256_set1_epi32(corr[i]);                                           \
        int32_t *c = C + i * ldc;                                                          \
        __m256i r0 = _mm256_sub_epi32(c##i##_0, cv), r1 = _mm256_sub_epi32(c##i##_1, cv);  \
        if (ncols == QV256_P) {                                                            \
            _mm256_storeu_si256((__m256i *)c, r0);                                         \
            _mm256_storeu_si256((__m256i *)(c + 8), r1);                                   \
        } else {                                                                           \
            int32_t out[QV256_P];                                                          \
            _mm256_storeu_si256((__m256i *)out, r0);                                       \
            _mm256_storeu_si256((__m256i *)(out + 8), r1);                                 \
            memcpy(c, out, (size_t)ncols * sizeof(int32_t));                               \
        }                                                                                  \
    }

/* C[0..mr)[0..ncols) of one panel over all of K. mr is a constant in every caller, so
 * unused rows vanish. */
QV256_INLINE void qgemm_vnni_block256(const int mr, int64_t K, const int8_t *A, int64_t lda,
                                      const uint8_t *panel, const int32_t *corr, int ncols,
                                      int32_t *C, int64_t ldc)
{
    const __m256i z = _mm256_setzero_si256();
    QV256_DECL(0) QV256_DECL(1) QV256_DECL(2) QV256_DECL(3) QV256_DECL(4) QV256_DECL(5)
    const int64_t kfull = K & ~(int64_t)3;
    const uint8_t *bp = panel;
    for (int64_t k = 0; k < kfull; k += 4, bp += 4 * QV256_P) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));
        QV256_ROWS(QV256_FULL)
    }
    if (kfull < K) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));
        QV256_ROWS(QV256_TAIL)
    }
    QV256_STORE(0) QV256_STORE(1) QV256_STORE(2) QV256_STORE(3) QV256_STORE(4)
    QV256_STORE(5)
}

typedef void (*QgemmVnniBlock)(int64_t K, const int8_t *A, int64_t lda, const uint8_t *panel,
                               const int32_t *corr, int ncols, int32_t *C, int64_t ldc);

#define QV256_BLOCK(mr)                                                                    \
    __attribute__((target(QV_T256))) static void qgemm_vnni_b256_##mr(                     \
        int64_t K, const int8_t *A, int64_t lda, const uint8_t *panel, const int32_t *corr, \
        int ncols, int32_t *C, int64_t ldc)                                                \
    {                                                                                      \
        qgemm_vnni_block256(mr, K, A, lda, panel, corr, ncols, C, ldc);                    \
    }
QV256_BLOCK(1) QV256_BLOCK(2) QV256_BLOCK(3) QV256_BLOCK(4) QV256_BLOCK(5) QV256_BLOCK(6)

static const QgemmVnniBlock qgemm_vnni_blocks256[QV256_MR] = {
    qgemm_vnni_b256_1, qgemm_vnni_b256_2, qgemm_vnni_b256_3,
    qgemm_vnni_b256_4, qgemm_vnni_b256_5, qgemm_vnni_b256_6,
};

/* B into 16-column panels: 8 rows x 32 bytes at a time through an 8 x 8 word transpose;
 * the groups past the last full 32 bytes a word at a time. */
__attribute__((target(QV_T256))) static void
qgemm_vnni_pack256(int64_t N, int64_t K, const int8_t *B, int64_t ldb, uint8_t *Bp, int64_t pb)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const int64_t nchunk = K / 32; /* full chunks of 8 groups */
    for (int64_t c0 = 0; c0 < N; c0 += 8) {
        uint8_t *half = Bp + (c0 / QV256_P) * pb + (c0 % QV256_P) * 4;
        for (int64_t t = 0; t < nchunk; t++) {
            __m256i r[8];
            for (int i = 0; i < 8; i++)
                r[i] = c0 + i < N ? _mm256_xor_si256(_mm256_loadu_si256(
                                        (const __m256i *)(B + (c0 + i) * ldb + 32 * t)), flip)
                                  : _mm256_setzero_si256();
            qgemm_transpose8x32(r);
            for (int j = 0; j < 8; j++)
                _mm256_storeu_si256((__m256i *)(half + (8 * t + j) * QV256_P * 4), r[j]);
        }
    }
    qgemm_vnni_pack_words(N, K, B, ldb, QV256_P, 8 * nchunk, Bp, pb);
}

size_t qgemm_vnni256_packed_bytes(int64_t N, int64_t K)
{
    return qgemm_vnni_bytes(N, K, QV256_P);
}

void qgemm_vnni256_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst)
{
    memset(dst, 0, qgemm_vnni_bytes(N, K, QV256_P)); /* zeros: the padding */
    qgemm_vnni_pack256(N, K, B, ldb, dst, (K + 3) / 4 * QV256_P * 4);
}

__attribute__((target(QV_T256))) void
qgemm_vnni256_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                  const void *Bp, void *work, QGemmEpi epi, void *ctx)
{
    if (M <= 0 || N <= 0)
        return;
    int32_t *acc = work;
    const uint8_t *B8 = Bp;
    const int64_t pb = (K + 3) / 4 * QV256_P * 4, np = (N + QV256_P - 1) / QV256_P;
    /* 0xff on the last K % 32 bytes of a vector: the row-sum tail */
    int8_t maskbytes[32];
    for (int j = 0; j < 32; j++)
        maskbytes[j] = j >= 32 - (int)(K % 32) ? -1 : 0;
    const __m256i tailmask = _mm256_loadu_si256((const __m256i *)maskbytes);
    int32_t corr[QV256_MR];
    for (int64_t m = 0; m < M; m += QV256_MR) {
        int mr = M - m < QV256_MR ? (int)(M - m) : QV256_MR;
        const int8_t *a = A + m * lda;
        qgemm_vnni_rowsum256(mr, K, a, lda, tailmask, corr);
        for (int64_t p = 0; p < np; p++) {
            int64_t n = p * QV256_P;
            int ncols = N - n < QV256_P ? (int)(N - n) : QV256_P;
            qgemm_vnni_blocks256[mr - 1](K, a, lda, B8 + p * pb, corr, ncols, acc + n, N);
        }
        epi(ctx, m, mr, acc, N);
    }
}

/* ---- 512-bit AVX-512 VNNI: panels of 32 columns (2 zmm), up to 12 rows per block: 24
 * accumulators + 2 B + 1 broadcast of 32 zmm -------------------------------------------- */

enum { QV512_P = QG_VNNI512_P, QV512_MR = 12 };

#define QV512_INLINE static inline __attribute__((always_inline, target(QV_T512)))

/* 128 * sum_k A[i][k] for each of mr rows (mod 2^32); the tail is a masked load, which
 * never touches the bytes it masks off. */
QV512_INLINE void qgemm_vnni_rowsum512(int mr, int64_t K, const int8_t *A, int64_t lda,
                                       int32_t *corr)
{
    const __m512i ones = _mm512_set1_epi8(1);
    const __mmask64 tail = K % 64 ? (UINT64_C(1) << (K % 64)) - 1 : 0;
    for (int i = 0; i < mr; i++) {
        const int8_t *row = A + i * lda; /* (K) */
        __m512i s = _mm512_setzero_si512();
        int64_t k = 0;
        for (; k + 64 <= K; k += 64)
            QV512_DP(s, ones, _mm512_loadu_si512((const void *)(row + k)));
        if (tail)
            QV512_DP(s, ones, _mm512_maskz_loadu_epi8(tail, row + k));
        corr[i] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(s) * 128u);
    }
}

#define QV512_DECL(i) __m512i c##i##_0 = z, c##i##_1 = z;
#define QV512_ROW(i, load)                                                                 \
    if (mr > i) {                                                                          \
        __m512i a = _mm512_set1_epi32((int)load(A + i * lda));                             \
        QV512_DP(c##i##_0, b0, a);                                                         \
        QV512_DP(c##i##_1, b1, a);                                                         \
    }
#define QV512_ROWS(load)                                                                   \
    QV512_ROW(0, load) QV512_ROW(1, load) QV512_ROW(2, load) QV512_ROW(3, load)            \
    QV512_ROW(4, load) QV512_ROW(5, load) QV512_ROW(6, load) QV512_ROW(7, load)            \
    QV512_ROW(8, load) QV512_ROW(9, load) QV512_ROW(10, load) QV512_ROW(11, load)
#define QV512_STORE(i)                                                                     \
    if (mr > i) {                                                                          \
        __m512i cv = _mm512_set1_epi32(corr[i]);                                           \
        _mm512_mask_storeu_epi32(C + i * ldc, m0, _mm512_sub_epi32(c##i##_0, cv));         \
        _mm512_mask_storeu_epi32(C + i * ldc + 16, m1, _mm512_sub_epi32(c##i##_1, cv));    \
    }

/* C[0..mr)[0..ncols) of one panel over all of K; masked stores never touch the columns
 * they mask off. mr is a constant in every caller. */
QV512_INLINE void qgemm_vnni_block512(const int mr, int64_t K, const int8_t *A, int64_t lda,
                                      const uint8_t *panel, const int32_t *corr, int ncols,
                                      int32_t *C, int64_t ldc)
{
    const __m512i z = _mm512_setzero_si512();
    QV512_DECL(0) QV512_DECL(1) QV512_DECL(2) QV512_DECL(3) QV512_DECL(4) QV512_DECL(5)
    QV512_DECL(6) QV512_DECL(7) QV512_DECL(8) QV512_DECL(9) QV512_DECL(10) QV512_DECL(11)
    const int64_t kfull = K & ~(int64_t)3;
    const uint8_t *bp = panel;
    for (int64_t k = 0; k < kfull; k += 4, bp += 4 * QV512_P) {
        __m512i b0 = _mm512_loadu_si512((const void *)bp);
        __m512i b1 = _mm512_loadu_si512((const void *)(bp + 64));
        QV512_ROWS(QV256_FULL)
    }
    if (kfull < K) {
        __m512i b0 = _mm512_loadu_si512((const void *)bp);
        __m512i b1 = _mm512_loadu_si512((const void *)(bp + 64));
        QV512_ROWS(QV256_TAIL)
    }
    const __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
    const __mmask16 m1 = ncols >= 32   ? 0xffff
                         : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1)
                                      : 0;
    QV512_STORE(0) QV512_STORE(1) QV512_STORE(2) QV512_STORE(3) QV512_STORE(4)
    QV512_STORE(5) QV512_STORE(6) QV512_STORE(7) QV512_STORE(8) QV512_STORE(9)
    QV512_STORE(10) QV512_STORE(11)
}

#define QV512_BLOCK(mr)                                                                    \
    __attribute__((target(QV_T512))) static void qgemm_vnni_b512_##mr(                     \
        int64_t K, const int8_t *A, int64_t lda, const uint8_t *panel, const int32_t *corr, \
        int ncols, int32_t *C, int64_t ldc)                                                \
    {                                                                                      \
        qgemm_vnni_block512(mr, K, A, lda, panel, corr, ncols, C, ldc);                    \
    }
QV512_BLOCK(1) QV512_BLOCK(2) QV512_BLOCK(3) QV512_BLOCK(4) QV512_BLOCK(5) QV512_BLOCK(6)
QV512_BLOCK(7) QV512_BLOCK(8) QV512_BLOCK(9) QV512_BLOCK(10) QV512_BLOCK(11) QV512_BLOCK(12)

static const QgemmVnniBlock qgemm_vnni_blocks512[QV512_MR] = {
    qgemm_vnni_b512_1, qgemm_vnni_b512_2,  qgemm_vnni_b512_3,  qgemm_vnni_b512_4,
    qgemm_vnni_b512_5, qgemm_vnni_b512_6,  qgemm_vnni_b512_7,  qgemm_vnni_b512_8,
    qgemm_vnni_b512_9, qgemm_vnni_b512_10, qgemm_vnni_b512_11, qgemm_vnni_b512_12,
};

/* Transposes 16 rows of 16 32-bit words in place (64 shuffles). */
QV512_INLINE void qgemm_vnni_transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4G + q], 128-bit lane L: word 4L + q of rows 4G .. 4G + 3 */
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    /* a 4 x 4 transpose of 128-bit lanes for each q */
    for (int q = 0; q < 4; q++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44);
        __m512i v1 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xee);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xee);
        r[q] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + q] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[8 + q] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[12 + q] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* B into 32-column panels: 16 rows x 64 bytes at a time through a 16 x 16 word
 * transpose; the last chunk of a row is a masked load, so the K tail and its zero padding
 * come out of the same code. */
__attribute__((target(QV_T512))) static void
qgemm_vnni_pack512(int64_t N, int64_t K, const int8_t *B, int64_t ldb, uint8_t *Bp, int64_t pb)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int64_t kg4 = (K + 3) / 4;
    for (int64_t c0 = 0; c0 < N; c0 += 16) {
        uint8_t *half = Bp + (c0 / QV512_P) * pb + (c0 % QV512_P) * 4;
        for (int64_t t = 0; 64 * t < K; t++) {
            int64_t nb = K - 64 * t < 64 ? K - 64 * t : 64;
            const __mmask64 mask = nb == 64 ? ~(__mmask64)0 : (UINT64_C(1) << nb) - 1;
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                __m512i v = _mm512_setzero_si512();
                if (c0 + i < N) /* + 128 on the real bytes only: the padding stays 0 */
                    v = _mm512_maskz_mov_epi8(
                        mask, _mm512_xor_si512(
                                  _mm512_maskz_loadu_epi8(mask, B + (c0 + i) * ldb + 64 * t),
                                  flip));
                r[i] = v;
            }
            qgemm_vnni_transpose16(r);
            int64_t ng = kg4 - 16 * t < 16 ? kg4 - 16 * t : 16;
            for (int64_t j = 0; j < ng; j++)
                _mm512_storeu_si512((void *)(half + (16 * t + j) * QV512_P * 4), r[j]);
        }
    }
}

size_t qgemm_vnni512_packed_bytes(int64_t N, int64_t K)
{
    return qgemm_vnni_bytes(N, K, QV512_P);
}

void qgemm_vnni512_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst)
{
    memset(dst, 0, qgemm_vnni_bytes(N, K, QV512_P)); /* zeros: the padding */
    qgemm_vnni_pack512(N, K, B, ldb, dst, (K + 3) / 4 * QV512_P * 4);
}

__attribute__((target(QV_T512))) void
qgemm_vnni512_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                  const void *Bp, void *work, QGemmEpi epi, void *ctx)
{
    if (M <= 0 || N <= 0)
        return;
    int32_t *acc = work;
    const uint8_t *B8 = Bp;
    const int64_t pb = (K + 3) / 4 * QV512_P * 4, np = (N + QV512_P - 1) / QV512_P;
    int32_t corr[QV512_MR];
    for (int64_t m = 0; m < M; m += QV512_MR) {
        int mr = M - m < QV512_MR ? (int)(M - m) : QV512_MR;
        const int8_t *a = A + m * lda;
        qgemm_vnni_rowsum512(mr, K, a, lda, corr);
        for (int64_t p = 0; p < np; p++) {
            int64_t n = p * QV512_P;
            int ncols = N - n < QV512_P ? (int)(N - n) : QV512_P;
            qgemm_vnni_blocks512[mr - 1](K, a, lda, B8 + p * pb, corr, ncols, acc + n, N);
        }
        epi(ctx, m, mr, acc, N);
    }
}

#else
typedef int qgemm_vnni_empty; /* ISO C wants a declaration in every translation unit */
#endif
