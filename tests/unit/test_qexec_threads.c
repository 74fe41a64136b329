/* A whole int8-static model gives the same outputs whatever runs it: threads 1 and 2, the
 * SIMD level forced down to avx2 and to scalar (the qgemm row, the depthwise and the
 * requantization versions change), and batch 64 against each sample alone (the conv
 * products then span the batch differently). Integer kernels are exact, so the outputs
 * must be bit-identical. Each target's requantization rule is covered: qscope (Q31, ties
 * to even), tflm (gemmlowp), xnnpack (fp32), ort (fp32 with ONNX Runtime's unfused
 * groups). Bundled models: mnist_dw (depthwise and pointwise convs), mnist_cnn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/pool.h"
#include "kern/simd.h"
#include "qexec/qexec.h"
#include "quant/target.h"
#include "test_mnist.h"
#include "test_util.h"

enum { NB = 64 };

/* The model's output on x (NB samples) in one batch, or (one_by_one) a sample at a time,
 * into out (malloc'd; *n its floats). */
static float *run_plan(QModel *q, const Tensor *x, bool one_by_one, int64_t *n)
{
    QsError err = { 0 };
    Executor ex = qmodel_executor(q);
    float *out = NULL;
    int64_t per = 0;
    int64_t steps = one_by_one ? NB : 1, bs = one_by_one ? 1 : NB;
    int64_t per_in = tensor_numel(x) / x->shape.dim[0];
    for (int64_t i = 0; i < steps; i++) {
        Shape s = x->shape;
        s.dim[0] = bs;
        Tensor xi = tensor_view(DT_F32, s, (float *)tensor_f32(x) + i * bs * per_in);
        const Tensor *in[1] = { &xi };
        const Tensor *o = NULL;
        if (!CHECK_OK(ex.forward(ex.self, in, &o, NULL, NULL, &err), &err)) {
            free(out);
            return NULL;
        }
        if (!out) {
            per = tensor_numel(o) / bs;
            out = malloc((size_t)(per * NB) * sizeof(float));
        }
        memcpy(out + i * bs * per, tensor_f32(o), (size_t)(per * bs) * sizeof(float));
    }
    *n = per * NB;
    return out;
}

static void check_same(const char *what, const char *model, const char *target,
                       const float *got, const float *want, int64_t n)
{
    if (!CHECK(got && memcmp(got, want, (size_t)n * sizeof(float)) == 0))
        printf("  %s, %s: %s differs\n", model, target, what);
}

static void test_model(const char *path, const Tensor *x)
{
    Calibration cal;
    Model *m = test_mnist_calibrated(path, 200, &cal);
    if (!m)
        return;
    SimdLevel top = simd_level();
    for (int t = 0; t < QTGT_COUNT; t++) {
        QsError err = { 0 };
        Plan p;
        plan_init(&p, m->graph.n_nodes);
        p.mode = PREC_INT8_STATIC;
        p.q.target = t;
        QModel *q = NULL;
        if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
            const char *tn = target_table[t].name;
            pool_set_threads(1);
            int64_t n = 0, n2 = 0;
            float *want = run_plan(q, x, false, &n);
            pool_set_threads(2);
            float *got = run_plan(q, x, false, &n2);
            check_same("threads 2", path, tn, got, want, n);
            free(got);
            got = run_plan(q, x, true, &n2);
            check_same("threads 2, batch 1", path, tn, got, want, n);
            free(got);
            pool_set_threads(1);
            for (int l = SIMD_SCALAR; l < (int)top; l++) {
                simd_cap((SimdLevel)l);
                got = run_plan(q, x, false, &n2);
                check_same(simd_name((SimdLevel)l), path, tn, got, want, n);
                free(got);
            }
            simd_cap(top);
            free(want);
        }
        qmodel_free(q);
        plan_release(&p);
    }
    /* a plan lowered under the scalar cap (weights packed for the reference row) runs the
     * same at the full level, threads 2 */
    QsError err = { 0 };
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q0 = NULL, *q1 = NULL;
    simd_cap(SIMD_SCALAR);
    bool ok = CHECK_OK(qmodel_build(m, &p, &cal, &q0, &err), &err);
    simd_cap(top);
    if (ok && CHECK_OK(qmodel_build(m, &p, &cal, &q1, &err), &err)) {
        int64_t n = 0, n2 = 0;
        float *want = run_plan(q1, x, false, &n);
        pool_set_threads(2);
        float *got = run_plan(q0, x, false, &n2);
        pool_set_threads(1);
        check_same("packed under the scalar cap", path, "qscope", got, want, n);
        free(got);
        free(want);
    }
    qmodel_free(q0);
    qmodel_free(q1);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

int main(void)
{
    Tensor *x = test_mnist_x(NB);
    if (x) {
        test_model("models/mnist_dw.qsm", x);
        test_model("models/mnist_cnn.qsm", x);
    }
    tensor_free(x);
    pool_shutdown();
    return test_summary("qexec_threads");
}
