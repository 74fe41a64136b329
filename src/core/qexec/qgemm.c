/* The int8 GEMM kernel table: the reference triple loop, and the SIMD rows from
 * qgemm_avx2.c and qgemm_vnni.c where the compiler and the CPU have them. */
#include "qexec/qgemm.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "qexec/qgemm_impl.h"

void qgemm_ref(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
               const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc)
{
    /* Sums in uint32 so that K >= 2^17 wraps modulo 2^32, well defined and exactly as the
     * SIMD kernels' int32 lanes do, instead of being undefined. */
    for (int64_t m = 0; m < M; m++) {
        const int8_t *a = A + m * lda; /* (K) */
        int32_t *c = C + m * ldc;      /* (N) */
        for (int64_t n = 0; n < N; n++) {
            const int8_t *b = B + n * ldb; /* (K) */
            uint32_t acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += (uint32_t)((int32_t)a[k] * (int32_t)b[k]);
            c[n] = (int32_t)acc;
        }
    }
}

#if defined(QGEMM_X86_VNNI) && defined(__clang__)
/* Clang (up to 15 at least) rejects "avxvnni" in __builtin_cpu_supports: read
 * CPUID.(7,1):EAX bit 4 directly. The OS side (saved YMM state) is covered by "avx2". */
#include <cpuid.h>
static bool qgemm_cpu_avxvnni(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1);
}
#elif defined(QGEMM_X86_VNNI)
static bool qgemm_cpu_avxvnni(void)
{
    return __builtin_cpu_supports("avxvnni");
}
#endif

static bool qgemm_ref_available(void)
{
    return true;
}

/* __builtin_cpu_supports also checks that the OS saves the vector registers (XCR0), so
 * a true answer means the instructions really run. */
static bool qgemm_avx2_available(void)
{
#ifdef QGEMM_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

static bool qgemm_avxvnni_available(void)
{
#ifdef QGEMM_X86_VNNI
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && qgemm_cpu_avxvnni();
#else
    return false;
#endif
}

static bool qgemm_avx512vnni_available(void)
{
#ifdef QGEMM_X86_VNNI
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

size_t qgemm_ref_packed_bytes(int64_t N, int64_t K)
{
    return (size_t)(N * K);
}

void qgemm_ref_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, void *dst)
{
    int8_t *d = dst;
    for (int64_t n = 0; n < N; n++)
        memcpy(d + n * K, B + n * ldb, (size_t)K);
}

/* The reference run on B with any row stride. */
static void qgemm_ref_run_ld(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                             const int8_t *B, int64_t ldb, void *work, QGemmEpi epi, void *ctx)
{
    int32_t *acc = work;
    for (int64_t m = 0; m < M; m += QG_MR_MAX) {
        int64_t mr = M - m < QG_MR_MAX ? M - m : QG_MR_MAX;
        qgemm_ref(mr, N, K, A + m * lda, lda, B, ldb, acc, N);
        epi(ctx, m, mr, acc, N);
    }
}

void qgemm_ref_run(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                   const void *Bp, void *work, QGemmEpi epi, void *ctx)
{
    qgemm_ref_run_ld(M, N, K, A, lda, Bp, K, work, epi, ctx);
}

size_t qgemm_work_bytes(int64_t N, int64_t K)
{
    size_t bytes = qgemm_work_acc_bytes(N);
#ifdef QGEMM_X86
    bytes += qgemm_avx2_a_bytes(K);
#else
    (void)K;
#endif
    return bytes;
}

/* The epilogue of an unpacked product: rows copied into C. */
typedef struct QgemmStore {
    int32_t *C;
    int64_t ldc, N;
} QgemmStore;

static void qgemm_store_epi(void *ctx, int64_t m0, int64_t mr, const int32_t *acc,
                            int64_t ldacc)
{
    const QgemmStore *st = ctx;
    for (int64_t i = 0; i < mr; i++)
        memcpy(st->C + (m0 + i) * st->ldc, acc + i * ldacc, (size_t)st->N * sizeof(int32_t));
}

/* C = A B^T with row kid: B packed into a temporary, then the packed run. */
static void qgemm_via_pack(QKernelId kid, int64_t M, int64_t N, int64_t K, const int8_t *A,
                           int64_t lda, const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    const QKernelDef *d = &qkernel_table[kid];
    void *Bp = malloc(d->packed_bytes(N, K) + 64);
    void *work = aligned_alloc(64, qgemm_work_bytes(N, K));
    if (!Bp || !work) { /* same bits, only slower */
        free(Bp);
        free(work);
        qgemm_ref(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
    d->pack(N, K, B, ldb, Bp);
    QgemmStore st = { C, ldc, N };
    d->run(M, N, K, A, lda, Bp, work, qgemm_store_epi, &st);
    free(Bp);
    free(work);
}

#ifdef QGEMM_X86
static void qgemm_avx2_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                            const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc)
{
    qgemm_via_pack(QK_AVX2, M, N, K, A, lda, B, ldb, C, ldc);
}
#define QGEMM_AVX2_ROW .gemm = qgemm_avx2_gemm, .packed_bytes = qgemm_avx2_packed_bytes, \
                       .pack = qgemm_avx2_pack, .run = qgemm_avx2_run
#else
#define QGEMM_AVX2_ROW .gemm = NULL
#endif
#ifdef QGEMM_X86_VNNI
static void qgemm_vnni256_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                               const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc)
{
    qgemm_via_pack(QK_AVXVNNI, M, N, K, A, lda, B, ldb, C, ldc);
}
static void qgemm_vnni512_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                               const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc)
{
    qgemm_via_pack(QK_AVX512VNNI, M, N, K, A, lda, B, ldb, C, ldc);
}
#define QGEMM_AVXVNNI_ROW .gemm = qgemm_vnni256_gemm, \
    .packed_bytes = qgemm_vnni256_packed_bytes, .pack = qgemm_vnni256_pack, \
    .run = qgemm_vnni256_run
#define QGEMM_AVX512VNNI_ROW .gemm = qgemm_vnni512_gemm, \
    .packed_bytes = qgemm_vnni512_packed_bytes, .pack = qgemm_vnni512_pack, \
    .run = qgemm_vnni512_run
#else
#define QGEMM_AVXVNNI_ROW .gemm = NULL
#define QGEMM_AVX512VNNI_ROW .gemm = NULL
#endif

/* Ordered from slowest to fastest: the default is the last available row within the SIMD
 * level. A row not compiled for this target has gemm == NULL and is never available.
 * AVX-VNNI is a 256-bit VEX extension beyond AVX2: it counts as the AVX-512 level, so a
 * cap at avx2 stops at the AVX2 row. */
const QKernelDef qkernel_table[QK_COUNT] = {
    [QK_REF] = { .name = "ref", .available = qgemm_ref_available, .level = SIMD_SCALAR,
                 .gemm = qgemm_ref, .packed_bytes = qgemm_ref_packed_bytes,
                 .pack = qgemm_ref_pack, .run = qgemm_ref_run },
    [QK_AVX2] = { .name = "avx2", .available = qgemm_avx2_available, .level = SIMD_AVX2,
                  QGEMM_AVX2_ROW },
    [QK_AVXVNNI] = { .name = "avx-vnni", .available = qgemm_avxvnni_available,
                     .level = SIMD_AVX512, QGEMM_AVXVNNI_ROW },
    [QK_AVX512VNNI] = { .name = "avx512-vnni", .available = qgemm_avx512vnni_available,
                        .level = SIMD_AVX512, QGEMM_AVX512VNNI_ROW },
};

/* -1: the automatic choice (re-read on every call, so a SIMD cap set later is obeyed);
 * else a forced row. Relaxed atomics: a forced row is seen by later calls. */
static atomic_int qgemm_forced = -1;
/* the availability of each row, cached: -1 unknown */
static atomic_int qgemm_avail[QK_COUNT] = { -1, -1, -1, -1 };

static bool qgemm_row_available(int id)
{
    int a = atomic_load_explicit(&qgemm_avail[id], memory_order_relaxed);
    if (a < 0) {
        a = qkernel_table[id].gemm && qkernel_table[id].available();
        atomic_store_explicit(&qgemm_avail[id], a, memory_order_relaxed);
    }
    return a;
}

static int qgemm_best(void)
{
    SimdLevel lvl = simd_level();
    for (int i = QK_COUNT - 1; i > 0; i--)
        if (qkernel_table[i].level <= lvl && qgemm_row_available(i))
            return i;
    return QK_REF;
}

const QKernelDef *qgemm_active(void)
{
    int id = atomic_load_explicit(&qgemm_forced, memory_order_relaxed);
    return &qkernel_table[id < 0 ? qgemm_best() : id];
}

bool qgemm_force(QKernelId id)
{
    if ((int)id < 0 || id >= QK_COUNT || !qgemm_row_available((int)id))
        return false;
    atomic_store_explicit(&qgemm_forced, (int)id, memory_order_relaxed);
    return true;
}

void qgemm_unforce(void)
{
    atomic_store_explicit(&qgemm_forced, -1, memory_order_relaxed);
}

void qgemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
           int64_t ldb, int32_t *C, int64_t ldc)
{
    QS_ASSERT(M >= 0 && N >= 0 && K >= 0);
    qgemm_active()->gemm(M, N, K, A, lda, B, ldb, C, ldc);
}

bool qgemm_pack_for(QKernelId kid, int64_t N, int64_t K, const int8_t *B, int64_t ldb,
                    QPacked *out)
{
    QS_ASSERT(N >= 0 && K >= 0 && qgemm_row_available((int)kid));
    const QKernelDef *d = &qkernel_table[kid];
    *out = (QPacked){ .kid = kid, .n = N, .k = K, .b = B, .ldb = ldb };
    out->data = malloc(d->packed_bytes(N, K) + 64); /* never 0 bytes */
    if (!out->data)
        return false;
    d->pack(N, K, B, ldb, out->data);
    return true;
}

bool qgemm_pack(int64_t N, int64_t K, const int8_t *B, int64_t ldb, QPacked *out)
{
    return qgemm_pack_for((QKernelId)(qgemm_active() - qkernel_table), N, K, B, ldb, out);
}

void qpacked_free(QPacked *p)
{
    free(p->data);
    p->data = NULL;
}

void qgemm_packed_row(const QPacked *p, int64_t M, const int8_t *A, int64_t lda, void *work,
                      QGemmEpi epi, void *ctx)
{
    QS_ASSERT(M >= 0);
    qkernel_table[p->kid].run(M, p->n, p->k, A, lda, p->data, work, epi, ctx);
}

void qgemm_packed(const QPacked *p, int64_t M, const int8_t *A, int64_t lda, void *work,
                  QGemmEpi epi, void *ctx)
{
    QKernelId kid = (QKernelId)(qgemm_active() - qkernel_table);
    if (kid == p->kid) {
        qgemm_packed_row(p, M, A, lda, work, epi, ctx);
        return;
    }
    QPacked tmp;
    if (!qgemm_pack_for(kid, p->n, p->k, p->b, p->ldb, &tmp)) { /* same bits, slower */
        qgemm_ref_run_ld(M, p->n, p->k, A, lda, p->b, p->ldb, work, epi, ctx);
        return;
    }
    qgemm_packed_row(&tmp, M, A, lda, work, epi, ctx);
    qpacked_free(&tmp);
}

void qgemm_packed_store(const QPacked *p, int64_t M, const int8_t *A, int64_t lda,
                        void *work, int32_t *C, int64_t ldc)
{
    QgemmStore st = { C, ldc, p->n };
    qgemm_packed(p, M, A, lda, work, qgemm_store_epi, &st);
}
