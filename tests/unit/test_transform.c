/* fold scales: the float function is unchanged, the scale layers are gone, and the folded
 * factors land where they should. */
#include <math.h>
#include <string.h>

#include "run/run.h"
#include "native/spec.h"
#include "test_util.h"
#include "graph/transform.h"

static Tensor *forward(const Model *m, const Tensor *x)
{
    QsError err = { 0 };
    Run r;
    run_init(&r, &m->graph);
    const Tensor *in[1] = { x };
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    Tensor *out = tensor_clone(run_output(&r, 0), &err);
    run_release(&r);
    return out;
}

static const Tensor *param(const Model *m, const char *name)
{
    int v = graph_find_value(&m->graph, name);
    return v >= 0 ? m->graph.values[v].data : NULL;
}

int main(void)
{
    QsError err = { 0 };
    /* BN -> x(1,4,1) -> ReLU6 -> x(1,1/4,1) -> conv, plus a scale that fits no rule
     * (it feeds a depthwise conv) and must stay. */
    const char *json =
        "{\"input\": {\"shape\": [3, 6, 6]}, \"layers\": ["
        "{\"kind\": \"conv\", \"name\": \"c1\", \"out\": 3, \"kernel\": 3, \"pad\": 1},"
        "{\"kind\": \"batchnorm\", \"name\": \"bn\"},"
        "{\"kind\": \"scale\", \"name\": \"pre\", \"values\": [1, 4, 1]},"
        "{\"kind\": \"relu6\", \"name\": \"act\"},"
        "{\"kind\": \"scale\", \"name\": \"post\", \"values\": [1, 0.25, 1]},"
        "{\"kind\": \"conv\", \"name\": \"pw\", \"out\": 2, \"kernel\": 1},"
        "{\"kind\": \"scale\", \"name\": \"odd\", \"values\": [2, 3]},"
        "{\"kind\": \"conv\", \"name\": \"dw\", \"depthwise\": true, \"kernel\": 3},"
        "{\"kind\": \"flatten\"}, {\"kind\": \"dense\", \"name\": \"fc\", \"out\": 4}]}";
    Model *m = spec_parse(json, "inline", 7, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return test_summary("transform");
    /* BN statistics that are not the identity, so the fold has something to scale */
    float *mean = tensor_f32(param(m, "bn.mean")), *var = tensor_f32(param(m, "bn.var"));
    for (int c = 0; c < 3; c++) {
        mean[c] = 0.1f * (float)c;
        var[c] = 0.5f + 0.25f * (float)c;
    }
    Tensor *x = tensor_new(DT_F32, shape_of(4, (int64_t)2, (int64_t)3, (int64_t)6, (int64_t)6),
                           &err);
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] = (float)sin(0.37 * (double)i);
    Tensor *before = forward(m, x);
    float scale1 = tensor_f32(param(m, "bn.scale"))[1];
    float w_pw = tensor_f32(param(m, "pw.weight"))[1]; /* (out 0, in 1) */

    int folded, left;
    CHECK_OK(transform_absorb_scales(m, &folded, &left, &err), &err);
    CHECK(folded == 2 && left == 1);
    CHECK(graph_find_node(&m->graph, "pre") < 0 && graph_find_node(&m->graph, "post") < 0);
    CHECK(graph_find_node(&m->graph, "odd") >= 0);
    CHECK(graph_find_value(&m->graph, "pre.factor") < 0);
    CHECK(tensor_f32(param(m, "bn.scale"))[1] == 4.0f * scale1);
    CHECK(tensor_f32(param(m, "pw.weight"))[1] == 0.25f * w_pw);
    Tensor *after = forward(m, x);
    /* x4 then /4 are exact in binary floating point, but the fold moves the /4 into the
     * conv's sum, so allow the usual float32 reassociation error. */
    expect_close("fold keeps the function", tensor_f32(after), tensor_f32(before),
                 (size_t)tensor_numel(before), 1e-5, 1e-5);
    tensor_free(before);
    tensor_free(after);
    tensor_free(x);
    model_free(m);
    return test_summary("transform");
}
