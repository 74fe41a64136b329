/* Model specs and the builder: shapes, parameter counts, PyTorch-style init bounds, seed
 * determinism and clear errors for bad specs. */
#include <math.h>
#include <string.h>

#include "builder.h"
#include "run.h"
#include "spec.h"
#include "test_util.h"

static const Tensor *param(const Model *m, const char *name)
{
    int v = graph_find_value(&m->graph, name);
    return v >= 0 ? m->graph.values[v].data : NULL;
}

static void test_cnn_spec(void)
{
    QsError err = { 0 };
    Model *m = spec_load("models/specs/mnist_cnn.json", -1, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    /* conv1 16*9+16, bn1 4*16, conv2 32*16*9+32, bn2 4*32, fc1 1568*64+64, fc2 64*10+10 */
    CHECK(graph_param_count(&m->graph) == 160 + 64 + 4640 + 128 + 100416 + 650);
    const Tensor *w = param(m, "conv2.weight");
    CHECK(w && w->shape.ndim == 4 && w->shape.dim[0] == 32 && w->shape.dim[1] == 16);
    /* PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 16 * 3 * 3 */
    double bound = 1.0 / sqrt(144.0), maxabs = 0, sum = 0;
    for (int64_t i = 0; i < tensor_numel(w); i++) {
        double v = tensor_f32(w)[i];
        maxabs = fmax(maxabs, fabs(v));
        sum += v;
    }
    CHECK(maxabs <= bound && maxabs > 0.95 * bound);
    CHECK(fabs(sum / (double)tensor_numel(w)) < 0.01); /* centred: 4608 draws, sd ~0.0014 */
    const Tensor *var = param(m, "bn1.var");
    CHECK(var && tensor_f32(var)[0] == 1.0f);
    int vi = graph_find_value(&m->graph, "bn1.var");
    CHECK(vi >= 0 && !m->graph.values[vi].is_param);
    CHECK(m->graph.values[graph_find_value(&m->graph, "bn1.scale")].is_param);
    /* weights live in the model's single arena */
    CHECK((char *)w->data >= (char *)m->arena &&
          (char *)w->data < (char *)m->arena + m->arena_bytes && !w->owns_data);
    CHECK(strcmp(model_meta_get(m, "task"), "classify") == 0);

    /* the same seed gives the same weights; another seed others */
    Model *same = spec_load("models/specs/mnist_cnn.json", 1, &err);
    Model *other = spec_load("models/specs/mnist_cnn.json", 2, &err);
    CHECK(same && other);
    if (same && other) {
        CHECK(memcmp(m->arena, same->arena, m->arena_bytes) == 0);
        CHECK(memcmp(m->arena, other->arena, m->arena_bytes) != 0);
    }
    model_free(same);
    model_free(other);

    /* it runs */
    Run r;
    run_init(&r, &m->graph);
    Tensor *x = tensor_new(DT_F32, shape_of(4, (int64_t)2, (int64_t)1, (int64_t)28, (int64_t)28),
                           &err);
    const Tensor *in[1] = { x };
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    CHECK(run_output(&r, 0)->shape.dim[1] == 10);
    tensor_free(x);
    run_release(&r);
    model_free(m);
}

static void test_layer_kinds(void)
{
    /* Every layer kind builds somewhere sensible. */
    QsError err = { 0 };
    const char *json =
        "{\"input\": {\"shape\": [4, 8, 8]}, \"layers\": ["
        "{\"kind\": \"conv\", \"out\": 8, \"kernel\": 3, \"pad\": 1, \"stride\": 2},"
        "{\"kind\": \"batchnorm\"}, {\"kind\": \"relu6\"},"
        "{\"kind\": \"conv\", \"depthwise\": true, \"kernel\": 3, \"pad\": 1, \"bias\": false},"
        "{\"kind\": \"scale\", \"values\": [1, 2, 3, 4, 5, 6, 7, 50]},"
        "{\"kind\": \"leakyrelu\", \"alpha\": 0.2}, {\"kind\": \"hardswish\"},"
        "{\"kind\": \"conv\", \"out\": 4, \"kernel\": 1, \"groups\": 2},"
        "{\"kind\": \"avgpool\", \"kernel\": 2}, {\"kind\": \"maxpool\", \"kernel\": 1},"
        "{\"kind\": \"gelu\"}, {\"kind\": \"silu\"}, {\"kind\": \"tanh\"}, {\"kind\": \"sigmoid\"},"
        "{\"kind\": \"globalavgpool\"}, {\"kind\": \"flatten\"}, {\"kind\": \"dropout\", \"p\": 0.1},"
        "{\"kind\": \"dense\", \"out\": 3}, {\"kind\": \"softmax\"}, {\"kind\": \"relu\"}]}";
    Model *m = spec_parse(json, "inline", -1, &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    int seen = 0;
    for (int k = 0; builder_kind_name(k); k++)
        seen++;
    CHECK(seen == builder_kind_count() && seen == 18);
    if (m) {
        CHECK(m->graph.n_nodes == 20);
        CHECK(graph_find_value(&m->graph, "conv4.bias") < 0); /* bias: false */
        const Tensor *f = param(m, "scale5.factor");
        CHECK(f && f->shape.ndim == 3 && tensor_f32(f)[7] == 50.0f);
    }
    model_free(m);
}

static void test_bad_specs(void)
{
    static const struct {
        const char *json, *needle;
        QsStatus code;
    } cases[] = {
        { "[1]", "expected a JSON object", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [], \"x\": 1}", "unknown key 'x'", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": []}", "non-empty array", QS_EFORMAT },
        { "{\"input\": {\"shape\": [0]}, \"layers\": [{\"kind\": \"relu\"}]}", "positive integer", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\", \"ot\": 3}]}",
          "layer 1: unknown key 'ot'", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"magic\"}]}",
          "unknown layer kind 'magic'", QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"conv\", \"out\": 2}]}",
          "layer 1 (conv): layer 'conv1': input shape (1, 3), expected rank 3 to 4", QS_ESHAPE },
        { "{\"input\": {\"shape\": [3, 5]}, \"layers\": [{\"kind\": \"conv\", \"out\": 4, "
          "\"groups\": 2}]}", "must divide the 3 input channels", QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"dense\", \"out\": 1.5}]}",
          "'out' must be an integer", QS_EFORMAT },
        { "{\"input\": {\"shape\": [2, 4]}, \"layers\": [{\"kind\": \"scale\", \"values\": [1]}]}",
          "1 scale values for 2 channels", QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"dense\"}]}", "out > 0", QS_EINVAL },
        { "{\"input\": ", "invalid JSON", QS_EFORMAT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        QsError err = { 0 };
        Model *m = spec_parse(cases[i].json, "spec.json", -1, &err);
        CHECK(m == NULL);
        expect_error(cases[i].json, err.code, &err, cases[i].code, cases[i].needle);
        model_free(m);
    }
}

int main(void)
{
    test_cnn_spec();
    test_layer_kinds();
    test_bad_specs();
    return test_summary("builder");
}
