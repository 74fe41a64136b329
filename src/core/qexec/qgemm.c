/* The int8 GEMM kernel table: the reference triple loop, and the SIMD rows from
 * qgemm_avx2.c and qgemm_vnni.c where the compiler and the CPU have them. */
#include "qexec/qgemm.h"

#include <stdatomic.h>
#include <stddef.h>

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

#ifdef QGEMM_X86
#define QGEMM_AVX2_FN qgemm_avx2_gemm
#else
#define QGEMM_AVX2_FN NULL
#endif
#ifdef QGEMM_X86_VNNI
#define QGEMM_AVXVNNI_FN qgemm_vnni_gemm_avx
#define QGEMM_AVX512VNNI_FN qgemm_vnni_gemm_avx512
#else
#define QGEMM_AVXVNNI_FN NULL
#define QGEMM_AVX512VNNI_FN NULL
#endif

/* Ordered from slowest to fastest: the default is the last available row. A row not
 * compiled for this target has gemm == NULL and is never available. */
const QKernelDef qkernel_table[QK_COUNT] = {
    [QK_REF] = { .name = "ref", .available = qgemm_ref_available, .gemm = qgemm_ref },
    [QK_AVX2] = { .name = "avx2", .available = qgemm_avx2_available, .gemm = QGEMM_AVX2_FN },
    [QK_AVXVNNI] = { .name = "avx-vnni",
                     .available = qgemm_avxvnni_available,
                     .gemm = QGEMM_AVXVNNI_FN },
    [QK_AVX512VNNI] = { .name = "avx512-vnni",
                        .available = qgemm_avx512vnni_available,
                        .gemm = QGEMM_AVX512VNNI_FN },
};

/* -1 until the first call picks a row. Relaxed atomics: concurrent first calls pick the
 * same row, and a forced row is seen by later calls. */
static atomic_int qgemm_current = -1;

static int qgemm_best(void)
{
    for (int i = QK_COUNT - 1; i > 0; i--)
        if (qkernel_table[i].gemm && qkernel_table[i].available())
            return i;
    return QK_REF;
}

const QKernelDef *qgemm_active(void)
{
    int id = atomic_load_explicit(&qgemm_current, memory_order_relaxed);
    if (id < 0) {
        id = qgemm_best();
        atomic_store_explicit(&qgemm_current, id, memory_order_relaxed);
    }
    return &qkernel_table[id];
}

bool qgemm_force(QKernelId id)
{
    if ((int)id < 0 || id >= QK_COUNT || !qkernel_table[id].gemm ||
        !qkernel_table[id].available())
        return false;
    atomic_store_explicit(&qgemm_current, (int)id, memory_order_relaxed);
    return true;
}

void qgemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
           int64_t ldb, int32_t *C, int64_t ldc)
{
    QS_ASSERT(M >= 0 && N >= 0 && K >= 0);
    qgemm_active()->gemm(M, N, K, A, lda, B, ldb, C, ldc);
}
