/* The bundled MNIST digits and models as unit-test inputs (run from the repository root). */
#ifndef QS_TEST_MNIST_H
#define QS_TEST_MNIST_H

#include <stdint.h>

#include "base/tensor.h"
#include "graph/model.h"
#include "quant/calib.h"

/* The first n digits of models/data/mnist_test.npz scaled to [0, 1], shaped (n, 1, 28, 28);
 * NULL (a failed check recorded) when the file does not load. */
Tensor *test_mnist_x(int64_t n);

/* The model at path calibrated on the first n test digits (batches of 100, the default
 * moving-average momentum 0.01) into *cal; NULL (a failed check recorded, nothing to free)
 * when loading or calibrating fails. */
Model *test_mnist_calibrated(const char *path, int64_t n, Calibration *cal);

#endif
