/* Cross-layer equalization keeps the float function, makes every scaled channel's ranges
 * equal on both sides (r1_i = r2_i, recomputed here from the weights), folds a BatchNorm
 * into the first layer's ranges, handles depthwise and grouped layers, and leaves ReLU6
 * channels that would clip alone (or scales them only as far as they stay unclipped). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptq/cle.h"
#include "run/run.h"
#include "native/spec.h"
#include "test_util.h"

static Tensor *param(const Model *m, const char *name)
{
    int v = graph_find_value(&m->graph, name);
    return v >= 0 ? m->graph.values[v].data : NULL;
}

static Model *make(const char *json)
{
    QsError err = { 0 };
    Model *m = spec_parse(json, "inline", 5, &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    return m;
}

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

static Tensor *data(Shape s, double f)
{
    QsError err = { 0 };
    Tensor *x = tensor_new(DT_F32, s, &err);
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] = (float)sin(f * (double)i + 0.1);
    return x;
}


/* A one-input split viewing x (never released). */
static const Dataset *data_of(const Tensor *x)
{
    static Dataset d;
    d = (Dataset){ .x = { (Tensor *)x }, .n_x = 1 };
    return &d;
}

/* BN folding factor of channel c (1 without a BN). */
static double bn_factor(const Model *m, const char *bn, int64_t c)
{
    char name[64];
    if (!bn)
        return 1.0;
    snprintf(name, sizeof name, "%s.scale", bn);
    double gamma = tensor_f32(param(m, name))[c];
    snprintf(name, sizeof name, "%s.var", bn);
    return gamma / sqrt((double)tensor_f32(param(m, name))[c] + 1e-5);
}

/* r1_i: max |w| of the first layer's output channel i, BN folded. */
static double range_out(const Model *m, const char *layer, const char *bn, int64_t i)
{
    char name[64];
    snprintf(name, sizeof name, "%s.weight", layer);
    const Tensor *w = param(m, name);
    int64_t k = tensor_numel(w) / w->shape.dim[0];
    double mx = 0;
    for (int64_t j = 0; j < k; j++)
        mx = fmax(mx, fabs(tensor_f32(w)[i * k + j]));
    return mx * fabs(bn_factor(m, bn, i));
}

/* r2_i: max |w| over the second layer's weights that read input channel i (groups). */
static double range_in(const Model *m, const char *layer, int64_t groups, int64_t i)
{
    char name[64];
    snprintf(name, sizeof name, "%s.weight", layer);
    const Tensor *w = param(m, name);
    int64_t oc = w->shape.dim[0], cg = w->shape.dim[1];
    int64_t inner = w->shape.ndim > 2 ? shape_span(&w->shape, 2, w->shape.ndim) : 1;
    int64_t ocg = oc / groups, g = i / cg, j = i % cg;
    double mx = 0;
    for (int64_t o = g * ocg; o < (g + 1) * ocg; o++)
        for (int64_t t = 0; t < inner; t++)
            mx = fmax(mx, fabs(tensor_f32(w)[(o * cg + j) * inner + t]));
    return mx;
}

/* Scales the first layer's output channels by f[i], so the ranges start far apart. */
static void spread(Model *m, const char *layer, const float *f, int64_t n)
{
    char name[64];
    snprintf(name, sizeof name, "%s.weight", layer);
    Tensor *w = param(m, name);
    int64_t k = tensor_numel(w) / w->shape.dim[0];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            tensor_f32(w)[i * k + j] *= f[i];
}

/* Runs CLE on m with data x and checks the function and, for every channel, r1 = r2. */
static void equalize_and_check(Model *m, const Tensor *x, const char *a, const char *bn,
                               const char *b, int64_t groups_b, int64_t channels,
                               const char *label)
{
    QsError err = { 0 };
    Tensor *before = forward(m, x);
    CleReport rep;
    if (!CHECK_OK(cle_run(m, data_of(x), 0, 16, 100, 1.0, NULL, &rep, &err), &err)) {
        tensor_free(before);
        return;
    }
    CHECK(rep.n_pairs == 1 && rep.pairs[0].channels == channels);
    CHECK(rep.pairs[0].equalized == channels && rep.pairs[0].left == 0);
    CHECK(rep.pairs[0].first == graph_find_node(&m->graph, a));
    CHECK(rep.pairs[0].second == graph_find_node(&m->graph, b));
    /* one pair: the first sweep equalizes, the second finds nothing to move */
    CHECK(rep.sweeps == 2);
    CHECK(rep.max_rel_diff <= CLE_TOLERANCE);
    CHECK(rep.pairs[0].spread_first[1] < rep.pairs[0].spread_first[0]);
    Tensor *after = forward(m, x);
    /* w / s and w * s each round once in float32, and the sums reassociate nothing: a few
     * ulps of the outputs' magnitude */
    expect_close(label, tensor_f32(after), tensor_f32(before), (size_t)tensor_numel(before),
                 1e-5, 1e-5);
    for (int64_t i = 0; i < channels; i++) {
        double r1 = range_out(m, a, bn, i), r2 = range_in(m, b, groups_b, i);
        /* s = sqrt(r1 / r2) in double, then the weights round to float: 1e-6 relative */
        if (!CHECK(fabs(r1 / r2 - 1.0) < 1e-6))
            fprintf(stderr, "%s: channel %lld r1 %g r2 %g\n", label, (long long)i, r1, r2);
    }
    free(rep.pairs);
    tensor_free(before);
    tensor_free(after);
}

static void test_conv_relu_conv(void)
{
    Model *m = make("{\"input\": {\"shape\": [3, 6, 6]}, \"layers\": ["
                    "{\"kind\": \"conv\", \"name\": \"c1\", \"out\": 4, \"kernel\": 3, \"pad\": 1},"
                    "{\"kind\": \"relu\"},"
                    "{\"kind\": \"conv\", \"name\": \"c2\", \"out\": 2, \"kernel\": 3, \"pad\": 1}]}");
    if (!m)
        return;
    static const float f[4] = { 1, 20, 0.05f, 3 };
    spread(m, "c1", f, 4);
    Tensor *x = data(shape_of(4, (int64_t)8, (int64_t)3, (int64_t)6, (int64_t)6), 0.37);
    equalize_and_check(m, x, "c1", NULL, "c2", 1, 4, "conv-relu-conv");
    tensor_free(x);
    model_free(m);
}

/* With a BatchNorm after the first conv its scale and bias carry 1/s; the folded ranges
 * are equal after. The second layer is depthwise: input channel i is its channel i. */
static void test_conv_bn_relu_dw(void)
{
    Model *m = make("{\"input\": {\"shape\": [2, 5, 5]}, \"layers\": ["
                    "{\"kind\": \"conv\", \"name\": \"c1\", \"out\": 4, \"kernel\": 3, \"pad\": 1},"
                    "{\"kind\": \"batchnorm\", \"name\": \"bn\"},"
                    "{\"kind\": \"relu\"},"
                    "{\"kind\": \"conv\", \"name\": \"dw\", \"depthwise\": true, \"kernel\": 3}]}");
    if (!m)
        return;
    float *gamma = tensor_f32(param(m, "bn.scale")), *var = tensor_f32(param(m, "bn.var"));
    float *mean = tensor_f32(param(m, "bn.mean")), *beta = tensor_f32(param(m, "bn.bias"));
    for (int c = 0; c < 4; c++) {
        gamma[c] = c == 2 ? 40.0f : 0.5f + 0.25f * (float)c;
        var[c] = 0.5f + 0.5f * (float)c;
        mean[c] = 0.1f * (float)c;
        beta[c] = 0.2f - 0.1f * (float)c;
    }
    Tensor *x = data(shape_of(4, (int64_t)6, (int64_t)2, (int64_t)5, (int64_t)5), 0.53);
    float w0 = tensor_f32(param(m, "c1.weight"))[0];
    equalize_and_check(m, x, "c1", "bn", "dw", 4, 4, "conv-bn-relu-depthwise");
    /* the BN carried the scale: the conv weights are untouched */
    CHECK(tensor_f32(param(m, "c1.weight"))[0] == w0);
    tensor_free(x);
    model_free(m);
}

/* A depthwise first layer and a grouped second layer (2 groups). */
static void test_dw_relu_grouped(void)
{
    Model *m = make("{\"input\": {\"shape\": [4, 5, 5]}, \"layers\": ["
                    "{\"kind\": \"conv\", \"name\": \"dw\", \"depthwise\": true, \"kernel\": 3, "
                    "\"pad\": 1},"
                    "{\"kind\": \"leakyrelu\", \"alpha\": 0.1},"
                    "{\"kind\": \"conv\", \"name\": \"g\", \"out\": 6, \"kernel\": 1, "
                    "\"groups\": 2}]}");
    if (!m)
        return;
    static const float f[4] = { 0.1f, 8, 1, 30 };
    spread(m, "dw", f, 4);
    Tensor *x = data(shape_of(4, (int64_t)6, (int64_t)4, (int64_t)5, (int64_t)5), 0.29);
    equalize_and_check(m, x, "dw", NULL, "g", 2, 4, "depthwise-leakyrelu-grouped");
    tensor_free(x);
    model_free(m);
}

/* Dense-ReLU6-Dense. Channel 0 always clips (bias 10): left alone, bit for bit. Channel 1
 * wants to grow (tiny first-layer weights) but its pre-activation must stay under 6: it is
 * limited to s = M / 6, so its maximum lands exactly on the clip. The others equalize. */
static void test_dense_relu6_dense(void)
{
    QsError err = { 0 };
    Model *m = make("{\"input\": {\"shape\": [4]}, \"layers\": ["
                    "{\"kind\": \"dense\", \"name\": \"d1\", \"out\": 4},"
                    "{\"kind\": \"relu6\", \"name\": \"act\"},"
                    "{\"kind\": \"dense\", \"name\": \"d2\", \"out\": 3}]}");
    if (!m)
        return;
    float *w1 = tensor_f32(param(m, "d1.weight")), *b1 = tensor_f32(param(m, "d1.bias"));
    b1[0] = 10.0f;
    for (int j = 0; j < 4; j++)
        w1[4 + j] *= 0.01f;     /* channel 1: r1 << r2, s << 1 */
    b1[1] = 1.0f;               /* its pre-activation max is about 1: s >= 1/6 */
    Tensor *x = data(shape_of(2, (int64_t)32, (int64_t)4), 0.71);
    Tensor *before = forward(m, x);
    float row0[4], col0[3];
    memcpy(row0, w1, sizeof row0);
    for (int o = 0; o < 3; o++)
        col0[o] = tensor_f32(param(m, "d2.weight"))[o * 4];
    float b0 = b1[0];
    /* channel 1's calibrated maximum */
    double m1 = -INFINITY;
    for (int n = 0; n < 32; n++) {
        double z = b1[1];
        for (int j = 0; j < 4; j++)
            z += (double)w1[4 + j] * tensor_f32(x)[n * 4 + j];
        m1 = fmax(m1, z);
    }
    double r1_before = range_out(m, "d1", NULL, 1);
    CleReport rep;
    if (CHECK_OK(cle_run(m, data_of(x), 0, 8, 100, 1.0, NULL, &rep, &err), &err)) {
        CHECK(rep.n_pairs == 1 && rep.pairs[0].left == 1 && rep.pairs[0].limited == 1);
        CHECK(rep.pairs[0].equalized == 2 && rep.pairs[0].clip == 6.0);
        /* the clipping channel: not touched */
        CHECK(memcmp(row0, w1, sizeof row0) == 0 && b1[0] == b0);
        for (int o = 0; o < 3; o++)
            CHECK(tensor_f32(param(m, "d2.weight"))[o * 4] == col0[o]);
        /* the limited channel grew by exactly 6 / M: its maximum now sits on the clip */
        double grow = range_out(m, "d1", NULL, 1) / r1_before;
        CHECK(fabs(grow * m1 - 6.0) < 1e-4);
        CHECK(range_out(m, "d1", NULL, 1) < range_in(m, "d2", 1, 1));
        for (int i = 2; i < 4; i++)
            CHECK(fabs(range_out(m, "d1", NULL, i) / range_in(m, "d2", 1, i) - 1.0) < 1e-6);
        Tensor *after = forward(m, x);
        expect_close("dense-relu6-dense", tensor_f32(after), tensor_f32(before),
                     (size_t)tensor_numel(before), 1e-5, 1e-5);
        tensor_free(after);
        free(rep.pairs);
    }
    tensor_free(before);
    tensor_free(x);
    model_free(m);
}

/* Headroom H keeps every scaled Clip channel's calibrated pre-activation maximum at or
 * below 6 / H, so values up to H times the calibrated ones still clip as before; the
 * tightest ones land on 6 / H. */
static void test_headroom(void)
{
    QsError err = { 0 };
    Model *m = make("{\"input\": {\"shape\": [4]}, \"layers\": ["
                    "{\"kind\": \"dense\", \"name\": \"d1\", \"out\": 3},"
                    "{\"kind\": \"relu6\"},"
                    "{\"kind\": \"dense\", \"name\": \"d2\", \"out\": 2}]}");
    if (!m)
        return;
    float *w1 = tensor_f32(param(m, "d1.weight")), *b1 = tensor_f32(param(m, "d1.bias"));
    for (int j = 0; j < 12; j++)
        w1[j] *= 0.01f; /* every channel wants to grow */
    for (int c = 0; c < 3; c++)
        b1[c] = 0.5f + 0.25f * (float)c;
    Tensor *x = data(shape_of(2, (int64_t)32, (int64_t)4), 0.41);
    Tensor *before = forward(m, x);
    CleReport rep;
    if (CHECK_OK(cle_run(m, data_of(x), 0, 8, 100, 2.0, NULL, &rep, &err), &err)) {
        CHECK(rep.n_pairs == 1 && rep.pairs[0].limited == 3);
        for (int c = 0; c < 3; c++) {
            double mx = -INFINITY;
            for (int n = 0; n < 32; n++) {
                double z = b1[c];
                for (int j = 0; j < 4; j++)
                    z += (double)w1[c * 4 + j] * tensor_f32(x)[n * 4 + j];
                mx = fmax(mx, z);
            }
            /* limited: s = 2 M / 6 exactly, so M / s = 3 up to the float weights */
            CHECK(fabs(mx - 3.0) < 1e-5);
        }
        Tensor *after = forward(m, x);
        expect_close("headroom 2", tensor_f32(after), tensor_f32(before),
                     (size_t)tensor_numel(before), 1e-5, 1e-5);
        tensor_free(after);
        free(rep.pairs);
    }
    expect_error("headroom < 1", cle_run(m, data_of(x), 0, 8, 100, 0.5, NULL, &rep, &err), &err,
                 QS_EINVAL, "headroom");
    tensor_free(before);
    tensor_free(x);
    model_free(m);
}

/* No pair (a Sigmoid between, and a Clip with min != 0): nothing changes. */
static void test_no_pair(void)
{
    QsError err = { 0 };
    Model *m = make("{\"input\": {\"shape\": [4]}, \"layers\": ["
                    "{\"kind\": \"dense\", \"name\": \"d1\", \"out\": 3},"
                    "{\"kind\": \"sigmoid\"},"
                    "{\"kind\": \"dense\", \"name\": \"d2\", \"out\": 2}]}");
    if (!m)
        return;
    Tensor *x = data(shape_of(2, (int64_t)8, (int64_t)4), 0.3);
    float w[12];
    memcpy(w, tensor_f32(param(m, "d1.weight")), sizeof w);
    CleReport rep;
    CHECK_OK(cle_run(m, data_of(x), 0, 8, 100, 1.0, NULL, &rep, &err), &err);
    CHECK(rep.n_pairs == 0 && rep.pairs == NULL);
    CHECK(memcmp(w, tensor_f32(param(m, "d1.weight")), sizeof w) == 0);
    expect_error("no data", cle_run(m, NULL, 0, 8, 100, 1.0, NULL, &rep, &err), &err,
                 QS_EINVAL, "calibration samples");
    tensor_free(x);
    model_free(m);
}

int main(void)
{
    test_conv_relu_conv();
    test_conv_bn_relu_dw();
    test_dw_relu_grouped();
    test_dense_relu6_dense();
    test_headroom();
    test_no_pair();
    return test_summary("cle");
}
