/* The quantized executor on the bundled MNIST models and data: int8-static within 1
 * point of fp32 and fp16 within 0.1 point on mnist_cnn; on mnist_dw (whose depthwise
 * layer has one channel with 83x larger folded weights), per-tensor weights lose clearly
 * more than per-channel. Calibration: 500 digits of the calib split (training digits
 * 7000..7499, which the models were not trained on; models/README.md). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "quant/calib.h"
#include "arrays/datafile.h"
#include "eval/eval.h"
#include "qexec/qexec.h"
#include "native/qsm.h"
#include "test_util.h"

#define SCALE 0.00392156886f

/* Loads an npz split as (N, 1, 28, 28) f32 in [0, 1] with i64 labels. */
static bool load_split(const char *path, Dataset *d)
{
    QsError err = { 0 };
    memset(d, 0, sizeof *d);
    d->n_x = 1;
    if (!CHECK_OK(datafile_load(path, "x", &d->x[0], NULL, &err), &err) ||
        !CHECK_OK(datafile_load(path, "y", &d->y, NULL, &err), &err) ||
        !CHECK_OK(dataset_prepare_x(&d->x[0], SCALE, 0.0f, 1.0f, &err), &err) ||
        !CHECK_OK(dataset_prepare_y(&d->y, d->x[0]->shape.dim[0], &err), &err))
        return false;
    int64_t n = d->x[0]->shape.dim[0];
    d->x[0]->shape = shape_of(4, n, (int64_t)1, (int64_t)28, (int64_t)28);
    return true;
}

static double accuracy(const Executor *ex, const Dataset *d, double *ms)
{
    QsError err = { 0 };
    LabelMetrics lm;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!CHECK_OK(eval_labels_with(ex, d, 0, TASK_CLASSIFY, 100, NULL, &lm, &err), &err))
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ms)
        *ms = 1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
    double a = 100.0 * label_metrics_accuracy(&lm);
    label_metrics_release(&lm);
    return a;
}

/* Accuracy of model m under a plan of mode `mode` (per-tensor weights when `tensor`). */
static double plan_accuracy(const Model *m, const Calibration *cal, const Dataset *test,
                            PrecKind mode, bool tensor, bool fake, double *ms)
{
    QsError err = { 0 };
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = mode;
    p.q.wgran_tensor = tensor;
    QModel *q = NULL;
    double acc = -1;
    if (CHECK_OK(qmodel_build(m, &p, cal, &q, &err), &err)) {
        Executor ex = fake ? qmodel_fake_executor(q) : qmodel_executor(q);
        acc = accuracy(&ex, test, ms);
    }
    qmodel_free(q);
    plan_release(&p);
    return acc;
}

static void test_model(const char *path, const Dataset *calib, const Dataset *test, bool cnn)
{
    QsError err = { 0 };
    Model *m = qsm_load(path, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    Calibration cal;
    if (!CHECK_OK(calib_run(&m->graph, calib, 500, 100, 0.01, NULL, &cal, &err), &err)) {
        model_free(m);
        return;
    }
    FloatExec *fe;
    Executor fx = exec_float_new(&m->graph, &fe);
    double ms_f, ms_s, ms_d, ms_h;
    double fp32 = accuracy(&fx, test, &ms_f);
    exec_float_free(fe);
    double fp16 = plan_accuracy(m, &cal, test, PREC_FP16, false, false, &ms_h);
    double dyn = plan_accuracy(m, &cal, test, PREC_INT8_DYN, false, false, &ms_d);
    double st = plan_accuracy(m, &cal, test, PREC_INT8_STATIC, false, false, &ms_s);
    double st_fake = plan_accuracy(m, &cal, test, PREC_INT8_STATIC, false, true, NULL);
    double st_t = plan_accuracy(m, &cal, test, PREC_INT8_STATIC, true, false, NULL);
    double dyn_t = plan_accuracy(m, &cal, test, PREC_INT8_DYN, true, false, NULL);
    printf("%s (2000 test digits, calibrated on 500):\n", path);
    printf("  fp32                    %6.2f %%   (%.0f ms)\n", fp32, ms_f);
    printf("  fp16                    %6.2f %%   (%.0f ms)\n", fp16, ms_h);
    printf("  int8-dyn   per-channel  %6.2f %%   (%.0f ms)\n", dyn, ms_d);
    printf("  int8-dyn   per-tensor   %6.2f %%\n", dyn_t);
    printf("  int8-static per-channel %6.2f %%   (%.0f ms; fake-quant %6.2f %%)\n", st, ms_s,
           st_fake);
    printf("  int8-static per-tensor  %6.2f %%\n", st_t);
    CHECK(st == st_fake);
    if (cnn) {
        CHECK(fp32 > 97.0);
        CHECK(st >= fp32 - 1.0);
        CHECK(fp16 >= fp32 - 0.1 && fp16 <= fp32 + 0.1);
        CHECK(dyn >= fp32 - 1.0);
    } else {
        /* the doctored channel sets the per-tensor scale: the other channels' weights
         * collapse to a few levels */
        CHECK(st_t < st - 2.0);
        CHECK(dyn_t < dyn - 2.0);
        CHECK(st >= fp32 - 2.0);
    }
    calib_release(&cal);
    model_free(m);
}

int main(void)
{
    Dataset train, test;
    if (load_split("models/data/mnist_train.npz", &train) &&
        load_split("models/data/mnist_test.npz", &test)) {
        dataset_skip(&train, 7000); /* the calib split */
        test_model("models/mnist_cnn.qsm", &train, &test, true);
        test_model("models/mnist_dw.qsm", &train, &test, false);
    }
    dataset_release(&train);
    dataset_release(&test);
    return test_summary("qexec_mnist");
}
