/* Int8 GEMM kernels against float GEMM: C = A B^T at shapes typical of convolution layers
 * (im2col: M = images x output pixels, N = output channels, K = in-channels x kernel area)
 * and square ones. Times every available row of qkernel_table and single-threaded OpenBLAS
 * cblas_sgemm on the same shape, checks each kernel's bits against the reference, and
 * prints GOP/s (2 M N K operations per product) and the int8 / sgemm ratio.
 *   qs_bench_qgemm [MIN_SECONDS]   (default 0.3 s of repetitions per timing) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qexec/qgemm.h"

typedef struct {
    const char *what;
    int64_t M, N, K;
} BenchShape;

static const BenchShape bench_shapes[] = {
    { "conv 3x3, 16->32 ch, 256 imgs 14x14", 256 * 196, 32, 144 },
    { "conv 7x7, 32->128 ch, 256 outputs", 256, 128, 1568 },
    /* the executor's orientation: weights (OC, K) as A, one image's im2col rows as B */
    { "W x col^T, conv 3x3 16->32, 14x14", 32, 196, 144 },
    { "W x col^T, conv 5x5 1->16, 28x28", 16, 784, 25 },
    { "W x X^T, dense 784->128, batch 256", 128, 256, 784 },
    { "square 512", 512, 512, 512 },
    { "square 1024", 1024, 1024, 1024 },
};

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *bench_alloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "qs_bench_qgemm: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

typedef struct {
    const BenchShape *s;
    const int8_t *A, *B;
    const float *Af, *Bf;
    int32_t *C;
    float *Cf;
    QGemmFn fn; /* NULL: sgemm */
} BenchRun;

static void bench_once(const BenchRun *r)
{
    const BenchShape *s = r->s;
    if (r->fn)
        r->fn(s->M, s->N, s->K, r->A, s->K, r->B, s->K, r->C, s->N);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->M, (int)s->N, (int)s->K,
                    1.0f, r->Af, (int)s->K, r->Bf, (int)s->K, 0.0f, r->Cf, (int)s->N);
}

/* Seconds per call: one warm-up call, then repetitions until min_s has passed; the best
 * of three such rounds, to shrug off interference. */
static double bench_time(const BenchRun *r, double min_s)
{
    bench_once(r);
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        int reps = 0;
        double t0 = bench_now(), t;
        do {
            bench_once(r);
            reps++;
            t = bench_now() - t0;
        } while (t < min_s);
        if (t / reps < best)
            best = t / reps;
    }
    return best;
}

int main(int argc, char **argv)
{
    double min_s = argc > 1 ? atof(argv[1]) : 0.3;
    if (!(min_s > 0)) {
        fprintf(stderr, "usage: qs_bench_qgemm [MIN_SECONDS]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    /* OpenBLAS picks its kernels by CPU model; on a CPU it does not know it falls back to
     * an old one (e.g. Prescott, SSE3), which OPENBLAS_CORETYPE=SkylakeX overrides. */
    printf("int8 GEMM C = A B^T, single thread; GOP/s = 2 M N K / time; OpenBLAS core: %s\n",
           openblas_get_corename());
    printf("%-42s %-12s %10s %9s %9s %6s\n", "shape (M x N x K)", "kernel", "ms", "GOP/s",
           "x sgemm", "bits");

    uint64_t seed = 12345;
    for (size_t si = 0; si < sizeof bench_shapes / sizeof bench_shapes[0]; si++) {
        const BenchShape *s = &bench_shapes[si];
        size_t na = (size_t)(s->M * s->K), nb = (size_t)(s->N * s->K), nc = (size_t)(s->M * s->N);
        int8_t *A = bench_alloc(na), *B = bench_alloc(nb);
        float *Af = bench_alloc(na * sizeof(float)), *Bf = bench_alloc(nb * sizeof(float));
        int32_t *C = bench_alloc(nc * sizeof(int32_t)), *Cref = bench_alloc(nc * sizeof(int32_t));
        float *Cf = bench_alloc(nc * sizeof(float));
        for (size_t i = 0; i < na; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            A[i] = (int8_t)(seed >> 56);
            Af[i] = A[i];
        }
        for (size_t i = 0; i < nb; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            B[i] = (int8_t)(seed >> 56);
            Bf[i] = B[i];
        }
        double ops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        char label[96];
        snprintf(label, sizeof label, "%s (%lldx%lldx%lld)", s->what, (long long)s->M,
                 (long long)s->N, (long long)s->K);

        BenchRun r = { s, A, B, Af, Bf, C, Cf, NULL };
        double t_sgemm = bench_time(&r, min_s);
        printf("%-42s %-12s %10.3f %9.1f %9s %6s\n", label, "sgemm", 1e3 * t_sgemm,
               ops / t_sgemm * 1e-9, "1.00", "");

        qkernel_table[QK_REF].gemm(s->M, s->N, s->K, A, s->K, B, s->K, Cref, s->N);
        for (int id = 0; id < QK_COUNT; id++) {
            const QKernelDef *d = &qkernel_table[id];
            if (!d->gemm || !d->available()) {
                printf("%-42s %-12s %10s\n", "", d->name, "(not on this CPU)");
                continue;
            }
            r.fn = d->gemm;
            memset(C, 0, nc * sizeof(int32_t));
            double t = bench_time(&r, min_s);
            bool same = memcmp(C, Cref, nc * sizeof(int32_t)) == 0;
            printf("%-42s %-12s %10.3f %9.1f %9.2f %6s\n", "", d->name, 1e3 * t, ops / t * 1e-9,
                   t_sgemm / t, same ? "ok" : "DIFF");
        }
        free(A);
        free(B);
        free(Af);
        free(Bf);
        free(C);
        free(Cref);
        free(Cf);
    }
    return 0;
}
