/* Internal to the qgemm kernels (qgemm.c, qgemm_avx2.c, qgemm_vnni.c): the rows of
 * qkernel_table, each as packed_bytes / pack / run (qgemm.h's QPackFn and QRunFn
 * contracts). Everyone else calls through qgemm.h. Every row gives the same bits as
 * qgemm_ref. */
#ifndef QS_QGEMM_IMPL_H
#define QS_QGEMM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "qexec/qgemm.h"

/* Rows of A per block, the most any row uses: the epilogue's work rows. */
enum { QG_MR_MAX = 12 };

/* The work area of qgemm_packed: the int32 rows of one block (QG_MR_MAX x N), then room
 * for the AVX2 row's widened block of A. */
static inline size_t qgemm_work_acc_bytes(int64_t N)
{
    return ((size_t)(QG_MR_MAX * N) * sizeof(int32_t) + 63) & ~(size_t)63;
}

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
/* The reference's packed form: B's rows copied contiguous, the same triple loop. */
size_t qgemm_ref_packed_bytes(int64_t N, int64_t K);
void qgemm_ref_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst);
void qgemm_ref_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                   const void *Bp, void *work, QGemmEpi epi, void *ctx);

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
size_t qgemm_avx2_packed_bytes(int64_t N, int64_t K);
void qgemm_avx2_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst);
void qgemm_avx2_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                    const void *Bp, void *work, QGemmEpi epi, void *ctx);
/* Bytes of the widened block of A the AVX2 run keeps after the int32 rows. */
size_t qgemm_avx2_a_bytes(int64_t K);
#endif
#ifdef QGEMM_X86_VNNI
/* AVX-VNNI (VEX, 256-bit vpdpbusd). */
size_t qgemm_vnni256_packed_bytes(int64_t N, int64_t K);
void qgemm_vnni256_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst);
void qgemm_vnni256_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                       const void *Bp, void *work, QGemmEpi epi, void *ctx);
/* AVX-512 VNNI (512-bit vpdpbusd, AVX512BW masked loads for the K tail): B in panels of
 * QG_VNNI512_P columns. */
enum { QG_VNNI512_P = 32 };
size_t qgemm_vnni512_packed_bytes(int64_t N, int64_t K);
void qgemm_vnni512_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst);
void qgemm_vnni512_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                       const void *Bp, void *work, QGemmEpi epi, void *ctx);
#endif

#endif
