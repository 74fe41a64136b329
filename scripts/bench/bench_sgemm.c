/* qscope's float GEMM against OpenBLAS's cblas_sgemm on the shapes the float ops produce:
 * convolution as W (OC, K) x im2col (K, pixels), dense layers as X (batch, in) x W^T, a
 * batch-1 dense layer, a narrow classifier head and a square. Prints GFLOP/s (2 M N K per
 * product) of each at 1 and 2 threads and qscope / OpenBLAS (above 1: qscope is faster),
 * and checks that qscope's bits are the same at both thread counts.
 *   qs_bench_sgemm [MIN_SECONDS]   (default 0.3 s of repetitions per timing) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/pool.h"
#include "kern/sgemm.h"
#include "kern/simd.h"

typedef struct {
    const char *what;
    bool ta, tb;
    int64_t M, N, K;
} BenchShape;

static const BenchShape bench_shapes[] = {
    { "conv 3x3 64->64, 32x32: W x col", false, false, 64, 1024, 576 },
    { "conv 3x3 128->128, 64x64: W x col", false, false, 128, 4096, 1152 },
    { "dense 512->1000, batch 1: x W^T", false, true, 1, 1000, 512 },
    { "dense 800->10, batch 64: X W^T", false, true, 64, 10, 800 },
    { "square 256", false, false, 256, 256, 256 },
    { "dense 1024->1024, batch 256: X W^T", false, true, 256, 1024, 1024 },
};

typedef struct {
    const BenchShape *s;
    const float *A, *B;
    float *C;
    bool openblas;
} BenchRun;

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench_once(const BenchRun *r)
{
    const BenchShape *s = r->s;
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (r->openblas)
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, (int)s->M, (int)s->N, (int)s->K, 1.0f,
                    r->A, (int)lda, r->B, (int)ldb, 0.0f, r->C, (int)s->N);
    else
        sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, r->A, lda, r->B, ldb, r->C, s->N, NULL);
}

/* Seconds per call: a warm-up call, then repetitions until min_s has passed; the best of
 * three such rounds. */
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

static float *bench_array(size_t n, uint64_t *seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "qs_bench_sgemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005u + 1442695040888963407u;
        p[i] = (float)(int32_t)(*seed >> 32) * 0x1p-31f;
    }
    return p;
}

int main(int argc, char **argv)
{
    double min_s = argc > 1 ? atof(argv[1]) : 0.3;
    if (!(min_s > 0)) {
        fprintf(stderr, "usage: qs_bench_sgemm [MIN_SECONDS]\n");
        return 2;
    }
    printf("float GEMM C = op(A) op(B); GFLOP/s = 2 M N K / time; qscope at %s, OpenBLAS "
           "core %s\n",
           simd_name(simd_level()), openblas_get_corename());
    printf("%-38s %-16s %3s %9s %9s %8s %5s\n", "shape", "M x N x K", "thr", "qscope",
           "OpenBLAS", "ratio", "bits");
    uint64_t seed = 12345;
    for (size_t si = 0; si < sizeof bench_shapes / sizeof bench_shapes[0]; si++) {
        const BenchShape *s = &bench_shapes[si];
        size_t nc = (size_t)(s->M * s->N);
        float *A = bench_array((size_t)(s->M * s->K), &seed);
        float *B = bench_array((size_t)(s->K * s->N), &seed);
        float *C = bench_array(nc, &seed), *C1 = bench_array(nc, &seed);
        char dims[32];
        snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s->M, (long long)s->N,
                 (long long)s->K);
        double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        for (int threads = 1; threads <= 2; threads++) {
            pool_set_threads(threads);
            openblas_set_num_threads(threads);
            BenchRun q = { s, A, B, C, false }, o = { s, A, B, C, true };
            double tq = bench_time(&q, min_s);
            bench_once(&q);
            if (threads == 1)
                memcpy(C1, C, nc * sizeof *C);
            bool same = memcmp(C1, C, nc * sizeof *C) == 0;
            double to = bench_time(&o, min_s);
            printf("%-38s %-16s %3d %9.1f %9.1f %8.2f %5s\n", threads == 1 ? s->what : "",
                   dims, threads, flop / tq * 1e-9, flop / to * 1e-9, to / tq,
                   same ? "same" : "DIFF");
        }
        free(A);
        free(B);
        free(C);
        free(C1);
    }
    pool_shutdown();
    return 0;
}
