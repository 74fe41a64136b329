/* Model specs and the builder: shapes, parameter counts, PyTorch-style init bounds, seed
 * determinism and clear errors for bad specs. */
#include <math.h>
#include <string.h>

#include "graph/builder.h"
#include "run/run.h"
#include "native/spec.h"
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
    CHECK(seen == builder_kind_count() && seen == 21);
    if (m) {
        CHECK(m->graph.n_nodes == 20);
        CHECK(graph_find_value(&m->graph, "conv4.bias") < 0); /* bias: false */
        const Tensor *f = param(m, "scale5.factor");
        CHECK(f && f->shape.ndim == 3 && tensor_f32(f)[7] == 50.0f);
    }
    model_free(m);
}

/* Two named inputs, a per-peer dense over the last axis of (N, n, F), a mean over the
 * peers, a concat with the ego input: the output equals a loop written out by hand. */
static const char *deepsets_json =
    "{\"inputs\": [{\"name\": \"peers\", \"shape\": [3, 2]}, {\"name\": \"ego\", \"shape\": [2]}],"
    " \"meta\": {\"task\": \"policy\", \"note\": \"x\"},"
    " \"parts\": {\"enc\": {\"inputs\": [\"peers\"], \"outputs\": [\"pool\"]},"
    "           \"head\": {\"inputs\": [\"pool\", \"ego\"], \"outputs\": [\"out\"]}},"
    " \"layers\": ["
    "  {\"kind\": \"dense\", \"name\": \"enc\", \"out\": 4, \"from\": \"peers\"},"
    "  {\"kind\": \"relu\"},"
    "  {\"kind\": \"mean\", \"name\": \"pool\", \"axes\": [1]},"
    "  {\"kind\": \"concat\", \"name\": \"cat\", \"from\": [\"pool\", \"ego\"]},"
    "  {\"kind\": \"dense\", \"name\": \"out\", \"out\": 3}]}";

static void test_graph_spec(void)
{
    QsError err = { 0 };
    Model *m = spec_parse(deepsets_json, "ds", -1, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    const Graph *g = &m->graph;
    CHECK(g->n_inputs == 2 && strcmp(g->values[g->inputs[0]].name, "peers") == 0 &&
          strcmp(g->values[g->inputs[1]].name, "ego") == 0);
    CHECK(g->n_outputs == 1 && strcmp(g->values[g->outputs[0]].name, "out") == 0);
    CHECK(g->values[graph_find_value(g, "enc")].shape.ndim == 3);
    CHECK(g->values[graph_find_value(g, "cat")].shape.dim[1] == 6);
    CHECK(strcmp(model_meta_get(m, "task"), "policy") == 0);
    CHECK(strcmp(model_meta_get(m, "note"), "x") == 0);
    CHECK(model_meta_get(m, "parts") &&
          strcmp(model_meta_get(m, "parts"), "enc=peers>pool;head=pool,ego>out") == 0);

    enum { N = 2, P = 3, F = 2, E = 2, H = 4, O = 3 };
    float peers[N * P * F], ego[N * E];
    for (int i = 0; i < N * P * F; i++)
        peers[i] = (float)((i * 7) % 11) / 4.0f - 1.0f;
    for (int i = 0; i < N * E; i++)
        ego[i] = (float)i / 2.0f - 0.75f;
    const float *w1 = tensor_f32(param(m, "enc.weight")), *b1 = tensor_f32(param(m, "enc.bias"));
    const float *w2 = tensor_f32(param(m, "out.weight")), *b2 = tensor_f32(param(m, "out.bias"));
    float want[N * O];
    for (int s = 0; s < N; s++) {
        double pool[H] = { 0 };
        for (int p = 0; p < P; p++)
            for (int h = 0; h < H; h++) {
                double a = b1[h];
                for (int f = 0; f < F; f++)
                    a += (double)w1[h * F + f] * peers[(s * P + p) * F + f];
                pool[h] += (a > 0 ? a : 0) / P;
            }
        for (int o = 0; o < O; o++) {
            double a = b2[o];
            for (int h = 0; h < H; h++)
                a += (double)w2[o * (H + E) + h] * pool[h];
            for (int e = 0; e < E; e++)
                a += (double)w2[o * (H + E) + H + e] * ego[s * E + e];
            want[s * O + o] = (float)a;
        }
    }
    Tensor *tp = tensor_new(DT_F32, shape_of(3, (int64_t)N, (int64_t)P, (int64_t)F), &err);
    Tensor *te = tensor_new(DT_F32, shape_of(2, (int64_t)N, (int64_t)E), &err);
    memcpy(tp->data, peers, sizeof peers);
    memcpy(te->data, ego, sizeof ego);
    Run r;
    run_init(&r, g);
    const Tensor *in[2] = { tp, te };
    if (CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err)) {
        const Tensor *y = run_output(&r, 0);
        CHECK(y->shape.ndim == 2 && y->shape.dim[0] == N && y->shape.dim[1] == O);
        /* float32 sums of at most 6 terms against double: a few ulp */
        expect_close("deepsets spec forward", tensor_f32(y), want, N * O, 1e-6, 1e-5);
    }
    /* and it back-propagates through dense (3-D), mean and concat to every parameter */
    if (CHECK_OK(run_enable_grads(&r, false, &err), &err)) {
        CHECK(r.params.n == 4);
        CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
        Tensor *dy = tensor_new(DT_F32, shape_of(2, (int64_t)N, (int64_t)O), &err);
        for (int i = 0; i < N * O; i++)
            tensor_f32(dy)[i] = 1.0f;
        const Tensor *douts[1] = { dy };
        if (CHECK_OK(run_backward(&r, douts, &err), &err)) {
            /* d sum(y) / d out.bias = N per output */
            int k = -1;
            for (int i = 0; i < r.params.n; i++)
                if (strcmp(g->values[r.params.value[i]].name, "out.bias") == 0)
                    k = i;
            CHECK(k >= 0 && tensor_f32(&r.params.grad[k])[0] == (float)N);
        }
        tensor_free(dy);
    }
    run_release(&r);
    tensor_free(tp);
    tensor_free(te);
    model_free(m);
}

static void test_upsample_mean_outputs(void)
{
    QsError err = { 0 };
    const char *json =
        "{\"input\": {\"name\": \"img\", \"shape\": [2, 3, 3]}, \"outputs\": [\"up\", \"m\"],"
        " \"layers\": [{\"kind\": \"upsample\", \"name\": \"up\"},"
        "  {\"kind\": \"mean\", \"name\": \"m\", \"axes\": [2, 3], \"keepdims\": true},"
        "  {\"kind\": \"upsample\", \"name\": \"up3\", \"scale\": 3, \"from\": \"img\"}]}";
    Model *m = spec_parse(json, "up", -1, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    const Graph *g = &m->graph;
    CHECK(g->n_outputs == 2);
    const Shape *s3 = &g->values[graph_find_value(g, "up3")].shape;
    CHECK(s3->ndim == 4 && s3->dim[2] == 9 && s3->dim[3] == 9);
    Tensor *x = tensor_new(DT_F32, shape_of(4, (int64_t)1, (int64_t)2, (int64_t)3, (int64_t)3),
                           &err);
    for (int i = 0; i < 18; i++)
        tensor_f32(x)[i] = (float)i;
    Run r;
    run_init(&r, g);
    const Tensor *in[1] = { x };
    if (CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err)) {
        const Tensor *up = run_output(&r, 0), *mn = run_output(&r, 1);
        CHECK(up->shape.ndim == 4 && up->shape.dim[2] == 6 && up->shape.dim[3] == 6);
        int bad = 0;
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++)
                    bad += tensor_f32(up)[(c * 6 + i) * 6 + j] !=
                           (float)(c * 9 + (i / 2) * 3 + j / 2);
        CHECK(bad == 0);
        /* means of 0..8 and 9..17, each value repeated 4 times: exact */
        CHECK(mn->shape.ndim == 4 && mn->shape.dim[2] == 1 && mn->shape.dim[3] == 1);
        CHECK(tensor_f32(mn)[0] == 4.0f && tensor_f32(mn)[1] == 13.0f);
    }
    run_release(&r);
    tensor_free(x);
    model_free(m);

    /* 1-D: (N, C, L) -> (N, C, 2L) */
    Model *m1 = spec_parse("{\"input\": {\"shape\": [2, 5]}, \"layers\": [{\"kind\": "
                           "\"upsample\"}]}", "up1", -1, &err);
    CHECK(m1 && m1->graph.values[m1->graph.outputs[0]].shape.dim[2] == 10);
    model_free(m1);
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
        { "{\"layers\": [{\"kind\": \"relu\"}]}", "exactly one of 'input' and 'inputs'",
          QS_EFORMAT },
        { "{\"inputs\": [{\"name\": \"a\", \"shape\": [2]}, {\"shape\": [2]}], \"layers\": "
          "[{\"kind\": \"relu\"}]}", "inputs[1]: 'name' is required", QS_EFORMAT },
        { "{\"inputs\": [{\"name\": \"a\", \"shape\": [2]}, {\"name\": \"a\", \"shape\": [2]}],"
          " \"layers\": [{\"kind\": \"relu\"}]}", "value 'a' is defined twice", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\", \"from\": \"y\"}]}",
          "'from' names 'y', which is neither a graph input nor an earlier layer", QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"dense\", \"out\": 2},"
          " {\"kind\": \"relu\", \"from\": \"dense1.weight\"}]}", "neither a graph input",
          QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\", \"from\": [\"x\", "
          "\"x\"]}]}", "relu reads one value, 'from' lists 2", QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\", \"from\": 3}]}",
          "'from' must be a value name or a list", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"concat\"}]}",
          "concat needs at least 2 values", QS_EINVAL },
        { "{\"inputs\": [{\"name\": \"a\", \"shape\": [2, 3]}, {\"name\": \"b\", \"shape\": [3]}],"
          " \"layers\": [{\"kind\": \"concat\", \"from\": [\"a\", \"b\"]}]}", "does not match",
          QS_ESHAPE },
        { "{\"input\": {\"shape\": [3, 2]}, \"layers\": [{\"kind\": \"mean\"}]}",
          "mean needs 'axes'", QS_EINVAL },
        { "{\"input\": {\"shape\": [3, 2]}, \"layers\": [{\"kind\": \"mean\", \"axes\": [0]}]}",
          "cannot reduce the batch axis", QS_ESHAPE },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"upsample\"}]}",
          "expected rank 3 to 4", QS_ESHAPE },
        { "{\"input\": {\"shape\": [3, 4]}, \"layers\": [{\"kind\": \"upsample\", \"scale\": 0}]}",
          "'scale' must be an integer from 1 to 64", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\"}], \"outputs\": "
          "[\"nope\"]}", "output 'nope' is neither", QS_EINVAL },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\"}], \"parts\": "
          "{\"a\": {\"inputs\": [\"x\"], \"outputs\": [\"zz\"]}}}",
          "part 'a': 'zz' is not a value of the model", QS_EFORMAT },
        { "{\"input\": {\"shape\": [3]}, \"layers\": [{\"kind\": \"relu\"}], \"meta\": "
          "{\"k\": 1}}", "meta 'k' must be a string", QS_EFORMAT },
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
    test_graph_spec();
    test_upsample_mean_outputs();
    test_bad_specs();
    return test_summary("builder");
}
