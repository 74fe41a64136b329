/* End to end against PyTorch: the tiny MNIST CNN of scripts/fixtures/gen_model_fixture.py
 * (Conv, BatchNormalization, Relu, MaxPool, Clip, AveragePool, Flatten, Gemm), loaded
 * from .qsm, fed the bundled test split through the same preprocessing, must reproduce
 * torch's logits and its exact accuracy. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/datafile.h"
#include "eval/eval.h"
#include "io/fileio.h"
#include "kern/sgemm.h"
#include "native/qsm.h"
#include "session/session.h"
#include "test_util.h"

#define SCALE 0.00392156886f

typedef struct {
    Tensor *all;
} Collect;

static QsStatus collect(void *user, int64_t first, int64_t n, const Tensor *out, QsError *err)
{
    Collect *c = user;
    (void)err;
    memcpy(tensor_f32(c->all) + first * 10, tensor_f32(out), (size_t)n * 10 * sizeof(float));
    return QS_OK;
}

static Tensor *logits_at_batch(const Model *m, const Tensor *x, int batch)
{
    QsError err = { 0 };
    Collect c = { .all = tensor_new(DT_F32, shape_of(2, x->shape.dim[0], (int64_t)10), &err) };
    Dataset d = { .x = { (Tensor *)x }, .n_x = 1 };
    CHECK_OK(eval_batches(&m->graph, &d, x->shape.dim[0], batch, NULL, collect, &c, &err), &err);
    return c.all;
}

static double manifest_number(const char *key)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (fileio_read("tests/fixtures/models/tiny_cnn.json", &buf, &len, &err))
        return -1;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(j);
    return d;
}

int main(void)
{
    QsError err = { 0 };
    Model *m = qsm_load("tests/fixtures/models/tiny_cnn.qsm", &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return test_summary("e2e_tiny_cnn");
    Session s;
    session_init(&s);
    Tensor *x = NULL, *y = NULL;
    CHECK_OK(datafile_load("models/data/mnist_test.npz", "x", &x, NULL, &err), &err);
    CHECK_OK(datafile_load("models/data/mnist_test.npz", "y", &y, NULL, &err), &err);
    CHECK_OK(dataset_prepare_x(&x, SCALE, 0.0f, 1.0f, &err), &err);
    CHECK_OK(dataset_prepare_y(&y, 2000, &err), &err);
    session_set_model(&s, m, "tiny_cnn.qsm", NULL, 0);
    /* (2000, 28, 28) samples are reshaped to the model's (1, 28, 28) input */
    Dataset in = { .x = { x }, .n_x = 1, .y = y };
    CHECK_OK(session_set_split(&s, SPLIT_EVAL, &in, &err), &err);
    const Dataset *d = &s.splits[SPLIT_EVAL];
    CHECK(d->x[0]->shape.ndim == 4 && d->x[0]->shape.dim[1] == 1);

    Tensor *want = test_load_npy("models/tiny_cnn_logits.npy");
    Tensor *got = logits_at_batch(m, d->x[0], 256);
    /* Tolerance from the manifest: im2col + sgemm sums in another order than torch. */
    expect_close("logits vs torch", tensor_f32(got), tensor_f32(want), 2000 * 10, 1e-4, 0);

    /* The same samples in other batch sizes: a sample's result must not depend on the
     * batch. qscope's sgemm gives the same bits; OpenBLAS blocks a conv's batch-wide
     * product differently per batch size, and the differences grow through the layers. */
    bool own = sgemm_backend() == SGEMM_QSCOPE;
    int batches[] = { 1, 7, 2000 };
    for (int i = 0; i < 3; i++) {
        Tensor *other = logits_at_batch(m, d->x[0], batches[i]);
        expect_close("batch independence", tensor_f32(other), tensor_f32(got), 2000 * 10,
                     own ? 0 : 2e-5, own ? 0 : 1e-5);
        tensor_free(other);
    }

    LabelMetrics lm;
    CHECK_OK(eval_labels(&m->graph, d, 0, session_task(&s, d), 100, NULL, &lm, &err), &err);
    int64_t correct = 0;
    for (int c = 0; c < 10; c++)
        correct += lm.confusion[c * 10 + c];
    /* Every test sample's top-2 margin is far above the logit tolerance (see manifest), so
     * the accuracy must match torch's exactly. */
    CHECK(correct == (int64_t)manifest_number("torch_correct"));
    CHECK(lm.n == 2000);
    label_metrics_release(&lm);

    tensor_free(got);
    tensor_free(want);
    session_release(&s);
    return test_summary("e2e_tiny_cnn");
}
