#include "test_mnist.h"

#include "arrays/datafile.h"
#include "data/dataset.h"
#include "native/qsm.h"
#include "test_util.h"

Tensor *test_mnist_x(int64_t n)
{
    QsError err = { 0 };
    Tensor *x = NULL;
    if (!CHECK_OK(datafile_load("models/data/mnist_test.npz", "x", &x, NULL, &err), &err) ||
        !CHECK_OK(dataset_prepare_x(&x, 0.00392156886f, 0.0f, 1.0f, &err), &err))
        return NULL;
    x->shape = shape_of(4, n, (int64_t)1, (int64_t)28, (int64_t)28); /* the first n */
    return x;
}

Model *test_mnist_calibrated(const char *path, int64_t n, Calibration *cal)
{
    QsError err = { 0 };
    Model *m = qsm_load(path, &err);
    Tensor *x = test_mnist_x(n);
    bool ok = CHECK(m != NULL) && x;
    if (ok) {
        Dataset d = { .x = { x }, .n_x = 1 };
        ok = CHECK_OK(calib_run(&m->graph, &d, n, 100, 0.01, NULL, cal, &err), &err);
    }
    tensor_free(x);
    if (!ok) {
        model_free(m);
        return NULL;
    }
    return m;
}
