/* Internal to the qgemm kernels (qgemm.c, qgemm_avx2.c, qgemm_vnni.c): the rows of
 * qkernel_table. Everyone else calls through qgemm.h. Every function here has the QGemmFn
 * contract of qgemm.h and gives the same bits as qgemm_ref. */
#ifndef QS_QGEMM_IMPL_H
#define QS_QGEMM_IMPL_H

#include <stdint.h>

/* The SIMD files are compiled only where they can be: x86-64 with a compiler that knows
 * the instructions (AVX-VNNI needs GCC 11 or Clang 12). Elsewhere they are empty and their
 * table rows are unavailable. */
#if defined(__x86_64__)
#define QGEMM_X86 1
#if defined(__clang__) ? __clang_major__ >= 12 : __GNUC__ >= 11
#define QGEMM_X86_VNNI 1
#endif
#endif

/* The obvious triple loop; always available. */
void qgemm_ref(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
               const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc);

#ifdef QGEMM_X86
#include <immintrin.h>

/* Transposes 8 rows of 8 32-bit words in place (24 shuffles): the B packers' core. */
static inline __attribute__((always_inline, target("avx2"))) void
qgemm_transpose8x32(__m256i r[8])
{
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4G + q], 128-bit lane L: word 4L + q of rows 4G .. 4G + 3 */
    for (int g = 0; g < 8; g += 4) {
        u[g] = _mm256_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm256_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm256_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm256_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2x128_si256(u[q], u[4 + q], 0x20);
        r[4 + q] = _mm256_permute2x128_si256(u[q], u[4 + q], 0x31);
    }
}

/* AVX2: int8 widened to int16, vpmaddwd. */
void qgemm_avx2_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                     const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc);
#endif
#ifdef QGEMM_X86_VNNI
/* AVX-VNNI (VEX, 256-bit vpdpbusd). */
void qgemm_vnni_gemm_avx(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                         const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc);
/* AVX-512 VNNI (512-bit vpdpbusd, AVX512BW masked loads for the K tail). */
void qgemm_vnni_gemm_avx512(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                            const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc);
#endif

#endif
