/* Models nobody in the project made (issue 13): the LeNet and the depthwise-separable nets
 * of scripts/fixtures/gen_truth_fixtures.py, exported by PyTorch 1.13 to ONNX, loaded the
 * way `load` does (by suffix), fed the bundled test split through the same preprocessing,
 * must reproduce torch's float logits and its exact float accuracy (both stored in
 * tests/fixtures/truth/truth.json and NAME_logits64.npy). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/datafile.h"
#include "eval/eval.h"
#include "io/fileio.h"
#include "native/modelfile.h"
#include "session/session.h"
#include "test_util.h"

#define SCALE 0.00392156886f /* truth.json input_scale: 1/255 as float32 */
#define N_LOGITS 64
#define N_CLASSES 10

static const char *const models[] = { "lenet", "dwnet_clean", "dwnet_doctored" };

typedef struct {
    float *all;
} Collect;

static QsStatus collect(void *user, int64_t first, int64_t n, const Tensor *out, QsError *err)
{
    Collect *c = user;
    (void)err;
    memcpy(c->all + first * N_CLASSES, tensor_f32(out), (size_t)n * N_CLASSES * sizeof(float));
    return QS_OK;
}

static cJSON *load_truth(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read("tests/fixtures/truth/truth.json", &buf, &len, &err), &err))
        return NULL;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    CHECK(j != NULL);
    return j;
}

static double number_at(const cJSON *j, const char *model, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "models");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        model ? cJSON_GetObjectItemCaseSensitive(m, model) : j, key);
    CHECK(cJSON_IsNumber(v));
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static double max_abs(const float *v, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fabs(v[i]) > mx ? fabs(v[i]) : mx;
    return mx;
}

static int64_t correct_of(const LabelMetrics *lm)
{
    int64_t correct = 0;
    for (int c = 0; c < N_CLASSES; c++)
        correct += lm->confusion[c * N_CLASSES + c];
    return correct;
}

static void check_model(const cJSON *truth, const char *name, Session *s)
{
    char path[256], rel[256];
    snprintf(path, sizeof path, "tests/fixtures/truth/%s.onnx", name);
    QsError err = { 0 };
    Model *m = modelfile_load(path, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    const Dataset *d = &s->splits[SPLIT_EVAL];

    snprintf(rel, sizeof rel, "truth/%s_logits64.npy", name);
    Tensor *want = test_load_npy(rel);
    CHECK(tensor_numel(want) == N_LOGITS * N_CLASSES);
    Collect c = { .all = calloc(N_LOGITS * N_CLASSES, sizeof(float)) };
    CHECK_OK(eval_batches(&m->graph, d, N_LOGITS, 16, NULL, collect, &c, &err), &err);
    /* truth.json logits_rtol (and its "why"): float32 sums in another order than torch's
     * kernels differ by a few ulps per layer; 1e-4 of the largest |logit| leaves room for
     * that, while a wrong pad, stride, group or fold moves logits by whole percents. */
    double rtol = number_at(truth, NULL, "logits_rtol");
    const float *w = tensor_f32(want);
    expect_close(name, c.all, w, N_LOGITS * N_CLASSES,
                 rtol * max_abs(w, N_LOGITS * N_CLASSES), rtol);

    /* Every test image's top-2 margin (truth.json smallest_top2_margin, >= 0.01) is far
     * above that tolerance, so the float accuracy must equal torch's exactly. */
    LabelMetrics lm;
    if (CHECK_OK(eval_labels(&m->graph, d, 0, TASK_CLASSIFY, 100, NULL, &lm, &err), &err)) {
        CHECK(lm.n == 2000);
        CHECK(correct_of(&lm) == (int64_t)number_at(truth, name, "float_correct"));
        label_metrics_release(&lm);
    }
    free(c.all);
    tensor_free(want);
    model_free(m);
}

int main(void)
{
    cJSON *truth = load_truth();
    if (!truth)
        return test_summary("truth_fixtures");
    QsError err = { 0 };
    Session s;
    session_init(&s);
    Tensor *x = NULL, *y = NULL;
    CHECK_OK(datafile_load("models/data/mnist_test.npz", "x", &x, NULL, &err), &err);
    CHECK_OK(datafile_load("models/data/mnist_test.npz", "y", &y, NULL, &err), &err);
    CHECK_OK(dataset_prepare_x(&x, SCALE, 0.0f, 1.0f, &err), &err);
    CHECK_OK(dataset_prepare_y(&y, 2000, &err), &err);
    /* A model first, so that the (2000, 28, 28) samples are shaped to its (1, 28, 28)
     * input; every fixture has that input. */
    Model *shape_from = modelfile_load("tests/fixtures/truth/lenet.onnx", &err);
    CHECK_OK(shape_from ? QS_OK : err.code, &err);
    session_set_model(&s, shape_from, "lenet.onnx", NULL, 0);
    Dataset in = { .x = { x }, .n_x = 1, .y = y };
    CHECK_OK(session_set_split(&s, SPLIT_EVAL, &in, &err), &err);
    CHECK(s.splits[SPLIT_EVAL].x[0]->shape.ndim == 4);
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        check_model(truth, models[i], &s);
    session_release(&s);
    cJSON_Delete(truth);
    return test_summary("truth_fixtures");
}
