/* The quantized executor (qexec.h): the integer run against its fake-quant simulation,
 * hand-computed integer results with rounding ties, fp16 against a per-layer half
 * reference, int8-dyn batch independence, every precision and observer row, pins,
 * inspection and the deployed size. The bundled MNIST models are in test_qexec_mnist.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/calib.h"
#include "base/half.h"
#include "ops/op.h"
#include "qexec/qexec.h"
#include "base/rng.h"
#include "run/run.h"
#include "native/spec.h"
#include "test_quant.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static Model *spec_model(const char *json)
{
    QsError err = { 0 };
    Model *m = spec_parse(json, "test spec", 7, &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    return m;
}

/* (n, sample...) uniform in [-amp, amp] */
static Tensor *rand_batch(const Graph *g, int64_t n, double amp, uint64_t seed)
{
    QsError err = { 0 };
    Shape s = g->values[g->inputs[0]].shape;
    s.dim[0] = n;
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    Rng r;
    rng_seed(&r, seed);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)((2.0 * rng_uniform(&r) - 1.0) * amp);
    return t;
}

/* Gives every BatchNormalization non-trivial statistics, so folding is exercised. */
static void randomize_bn(Model *m, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    Graph *g = &m->graph;
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[k];
        if (n->op != OP_BATCHNORM)
            continue;
        float *sc = tensor_f32(g->values[n->in[1]].data), *bi = tensor_f32(g->values[n->in[2]].data);
        float *mu = tensor_f32(g->values[n->in[3]].data), *va = tensor_f32(g->values[n->in[4]].data);
        for (int64_t c = 0; c < tensor_numel(g->values[n->in[1]].data); c++) {
            sc[c] = (float)(0.5 + 1.5 * rng_uniform(&r));
            bi[c] = (float)(0.6 * rng_uniform(&r) - 0.3);
            mu[c] = (float)(0.4 * rng_uniform(&r) - 0.2);
            va[c] = (float)(0.5 + rng_uniform(&r));
        }
    }
}

static QsStatus calibrate(const Model *m, Tensor *x, Calibration *cal, QsError *err)
{
    Dataset d = { .x = { x }, .n_x = 1 };
    return calib_run(&m->graph, &d, 0, 16, 0.01, NULL, cal, err);
}

/* Copies of every tapped node output of one forward. */
typedef struct Taps {
    int n;
    float **v;      /* [n_nodes] */
    int64_t *len;
} Taps;

static void taps_init(Taps *t, const Graph *g)
{
    t->n = g->n_nodes;
    t->v = xcalloc((size_t)t->n, sizeof *t->v);
    t->len = xcalloc((size_t)t->n, sizeof *t->len);
}

static void taps_release(Taps *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    free(t->len);
}

static void taps_fn(void *user, int node, const Tensor *out)
{
    Taps *t = user;
    free(t->v[node]);
    t->len[node] = tensor_numel(out);
    t->v[node] = xmalloc((size_t)t->len[node] * sizeof(float));
    memcpy(t->v[node], out->data, (size_t)t->len[node] * sizeof(float));
}

/* Runs ex on x; copies the first output into a new tensor. */
static Tensor *run_exec(Executor ex, const Tensor *x, Taps *taps)
{
    return tu_run_exec(ex, x, taps ? taps_fn : NULL, taps);
}

static Tensor *run_float(const Model *m, const Tensor *x)
{
    FloatExec *f;
    Executor ex = exec_float_new(&m->graph, &f);
    Tensor *t = run_exec(ex, x, NULL);
    exec_float_free(f);
    return t;
}

/* The last node (in topological order) of the unit headed by `head`. */
static int unit_last(const Graph *g, const QModel *q, int head)
{
    int last = head;
    for (int k = 0; k < g->n_nodes; k++)
        if (qmodel_layer(q, g->order[k])->unit == head)
            last = g->order[k];
    return last;
}

typedef struct Agree {
    int64_t n, exact, over;  /* elements, exactly equal, more than one step apart */
    double max_steps;
} Agree;

static void agree_add(Agree *a, const float *x, const float *y, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        double st = fabs((double)x[i] - y[i]) / scale;
        a->n++;
        a->exact += x[i] == y[i];
        a->over += st > 1.0 + 1e-4;
        a->max_steps = st > a->max_steps ? st : a->max_steps;
    }
}

/* (1) The integer run against the fake-quant run. Each int8 unit is run alone
 * (qmodel_run_node_local) on the fake run's own inputs to it, so a difference upstream
 * cannot carry into the comparison: every output must agree within one step. The whole
 * graph is compared too (there a one-step difference may grow downstream; reported). */
static void check_int_vs_fake(const char *label, const Model *m, const Plan *p,
                              const Calibration *cal, const Tensor *x, Agree *total)
{
    QsError err = { 0 };
    const Graph *g = &m->graph;
    QModel *q = NULL;
    if (!CHECK_OK(qmodel_build(m, p, cal, &q, &err), &err))
        return;
    Taps taps;
    taps_init(&taps, g);
    Tensor *yf = run_exec(qmodel_fake_executor(q), x, &taps);
    Tensor *yi = run_exec(qmodel_executor(q), x, NULL);
    Agree unit = { 0 }, whole = { 0 };
    Shape *shapes = xcalloc((size_t)g->n_values, sizeof *shapes);
    CHECK_OK(graph_infer_shapes(g, x->shape.dim[0], shapes, &err), &err);
    int units = 0;
    for (int node = 0; node < g->n_nodes; node++) {
        const QLayerInfo *li = qmodel_layer(q, node);
        if (li->unit != node || li->prec != PREC_INT8_STATIC || !li->integer)
            continue;
        CHECK(li->has_act);
        const Node *n = &g->nodes[node];
        const Tensor *in[64];
        Tensor views[64];
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            in[i] = NULL;
            if (v < 0 || g->values[v].kind == VAL_CONST)
                continue;
            if (g->values[v].kind == VAL_INPUT) {
                in[i] = x;
                continue;
            }
            int prod = g->values[v].producer;
            QS_ASSERT(taps.v[prod]);
            views[i] = tensor_view(DT_F32, shapes[v], taps.v[prod]);
            in[i] = &views[i];
        }
        int last = unit_last(g, q, node);
        Tensor *out = tensor_new(DT_F32, shapes[g->nodes[last].out], &err);
        if (CHECK_OK(qmodel_run_node_local(q, node, in, out, &err), &err)) {
            QS_ASSERT(taps.v[last] && taps.len[last] == tensor_numel(out));
            agree_add(&unit, tensor_f32(out), taps.v[last], tensor_numel(out), li->act.scale);
        }
        tensor_free(out);
        units++;
    }
    int prod = g->values[g->outputs[0]].producer;
    const QLayerInfo *lo = qmodel_layer(q, prod);
    if (yf && yi && CHECK(lo->has_act))
        agree_add(&whole, tensor_f32(yi), tensor_f32(yf), tensor_numel(yi), lo->act.scale);
    printf("  int vs fake %-28s %2d units: %6lld values, %6.2f %% exact, max %.0f step; "
           "whole graph %6.2f %% exact, max %.0f steps\n",
           label, units, (long long)unit.n, 100.0 * (double)unit.exact / (double)unit.n,
           unit.max_steps, 100.0 * (double)whole.exact / (double)whole.n, whole.max_steps);
    CHECK(units > 0 && unit.n > 0);
    CHECK(unit.over == 0);
    total->n += unit.n;
    total->exact += unit.exact;
    total->over += unit.over;
    total->max_steps = unit.max_steps > total->max_steps ? unit.max_steps : total->max_steps;
    free(shapes);
    tensor_free(yf);
    tensor_free(yi);
    taps_release(&taps);
    qmodel_free(q);
}

/* ---- a residual graph built by hand --------------------------------------------------- */

static void hand_const(Graph *g, const char *name, Shape s, Rng *r, double lo, double hi)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)(lo + (hi - lo) * rng_uniform(r));
    CHECK_OK(graph_add_const(g, name, t, true, &err), &err);
}

static void hand_node(Graph *g, int op, const char *name, const char *const *in, int n_in,
                      Attr *attrs, int n_attrs)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_node(g, op, name, in, n_in, name, attrs, n_attrs, &err), &err);
    for (int i = 0; i < n_attrs; i++)
        attr_release(&attrs[i]);
}

/* x (4, 6, 6) -> conv3x3+BN+ReLU -> Add(x, .) -> [ . , conv1x1 ] Concat -> Mul by a
 * constant (no integer kernel: a float fallback) -> MaxPool 2 -> AveragePool 3 pad 1 ->
 * Clip -> GlobalAveragePool -> Flatten -> Dense 5 */
static Model *residual_model(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Rng r;
    rng_seed(&r, 11);
    Shape xs = shape_of(3, (int64_t)4, (int64_t)6, (int64_t)6);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    hand_const(g, "c1.w", shape_of(4, (int64_t)4, (int64_t)4, (int64_t)3, (int64_t)3), &r, -0.3, 0.3);
    hand_const(g, "c1.b", shape_of(1, (int64_t)4), &r, -0.2, 0.2);
    hand_const(g, "bn.s", shape_of(1, (int64_t)4), &r, 0.5, 2.0);
    hand_const(g, "bn.b", shape_of(1, (int64_t)4), &r, -0.3, 0.3);
    hand_const(g, "bn.m", shape_of(1, (int64_t)4), &r, -0.2, 0.2);
    hand_const(g, "bn.v", shape_of(1, (int64_t)4), &r, 0.5, 1.5);
    hand_const(g, "c2.w", shape_of(4, (int64_t)6, (int64_t)4, (int64_t)1, (int64_t)1), &r, -0.5, 0.5);
    hand_const(g, "c2.b", shape_of(1, (int64_t)6), &r, -0.2, 0.2);
    hand_const(g, "mul.k", shape_of(3, (int64_t)10, (int64_t)1, (int64_t)1), &r, 0.5, 1.5);
    hand_const(g, "fc.w", shape_of(2, (int64_t)5, (int64_t)10), &r, -0.6, 0.6);
    hand_const(g, "fc.b", shape_of(1, (int64_t)5), &r, -0.2, 0.2);
    int64_t k3[2] = { 3, 3 }, k1[2] = { 1, 1 }, k2[2] = { 2, 2 }, p1[4] = { 1, 1, 1, 1 };
    int64_t s1[2] = { 1, 1 };
    {
        const char *in[3] = { "x", "c1.w", "c1.b" };
        Attr a[3] = { attr_ints("kernel_shape", k3, 2), attr_ints("pads", p1, 4),
                      attr_ints("strides", s1, 2) };
        hand_node(g, OP_CONV, "c1", in, 3, a, 3);
    }
    {
        const char *in[5] = { "c1", "bn.s", "bn.b", "bn.m", "bn.v" };
        Attr a[1] = { attr_float("epsilon", 1e-5f) };
        hand_node(g, OP_BATCHNORM, "bn", in, 5, a, 1);
    }
    {
        const char *in[1] = { "bn" };
        hand_node(g, OP_RELU, "relu", in, 1, NULL, 0);
    }
    {
        const char *in[2] = { "x", "relu" };
        hand_node(g, OP_ADD, "add", in, 2, NULL, 0);
    }
    {
        const char *in[3] = { "add", "c2.w", "c2.b" };
        Attr a[1] = { attr_ints("kernel_shape", k1, 2) };
        hand_node(g, OP_CONV, "c2", in, 3, a, 1);
    }
    {
        const char *in[2] = { "add", "c2" };
        Attr a[1] = { attr_int("axis", 1) };
        hand_node(g, OP_CONCAT, "cat", in, 2, a, 1);
    }
    {
        const char *in[2] = { "cat", "mul.k" };
        hand_node(g, OP_MUL, "mul", in, 2, NULL, 0);
    }
    {
        const char *in[1] = { "mul" };
        Attr a[2] = { attr_ints("kernel_shape", k2, 2), attr_ints("strides", k2, 2) };
        hand_node(g, OP_MAXPOOL, "mp", in, 1, a, 2);
    }
    {
        const char *in[1] = { "mp" };
        Attr a[3] = { attr_ints("kernel_shape", k3, 2), attr_ints("pads", p1, 4),
                      attr_ints("strides", s1, 2) };
        hand_node(g, OP_AVGPOOL, "ap", in, 1, a, 3);
    }
    {
        const char *in[1] = { "ap" };
        Attr a[2] = { attr_float("min", -0.25f), attr_float("max", 0.9f) };
        hand_node(g, OP_CLIP, "clip", in, 1, a, 2);
    }
    {
        const char *in[1] = { "clip" };
        hand_node(g, OP_GLOBALAVGPOOL, "gap", in, 1, NULL, 0);
    }
    {
        const char *in[1] = { "gap" };
        Attr a[1] = { attr_int("axis", 1) };
        hand_node(g, OP_FLATTEN, "flat", in, 1, a, 1);
    }
    {
        const char *in[3] = { "flat", "fc.w", "fc.b" };
        hand_node(g, OP_DENSE, "fc", in, 3, NULL, 0);
    }
    CHECK_OK(graph_add_output(g, "fc", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
    return m;
}

/* x (5, 6) -> Dense 8 (its output is also a graph output, so the Relu after it is not
 * absorbed) -> Relu -> MatMul B (8, 4) -> Flatten -> Gemm transB=0, alpha 0.5, beta 2,
 * C (7) -> BatchNorm (folded: 2-D) -> Gemm transB=1, C (1, 3). */
static Model *gemm_model(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Rng r;
    rng_seed(&r, 12);
    Shape xs = shape_of(2, (int64_t)5, (int64_t)6);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    hand_const(g, "d.w", shape_of(2, (int64_t)8, (int64_t)6), &r, -0.5, 0.5);
    hand_const(g, "d.b", shape_of(1, (int64_t)8), &r, -0.2, 0.2);
    hand_const(g, "mm.b", shape_of(2, (int64_t)8, (int64_t)4), &r, -0.5, 0.5);
    hand_const(g, "g1.b", shape_of(2, (int64_t)20, (int64_t)7), &r, -0.6, 0.6);
    hand_const(g, "g1.c", shape_of(1, (int64_t)7), &r, -0.2, 0.2);
    hand_const(g, "bn.s", shape_of(1, (int64_t)7), &r, 0.5, 2.0);
    hand_const(g, "bn.b", shape_of(1, (int64_t)7), &r, -0.3, 0.3);
    hand_const(g, "bn.m", shape_of(1, (int64_t)7), &r, -0.2, 0.2);
    hand_const(g, "bn.v", shape_of(1, (int64_t)7), &r, 0.5, 1.5);
    hand_const(g, "g2.b", shape_of(2, (int64_t)3, (int64_t)7), &r, -0.6, 0.6);
    hand_const(g, "g2.c", shape_of(2, (int64_t)1, (int64_t)3), &r, -0.2, 0.2);
    {
        const char *in[3] = { "x", "d.w", "d.b" };
        hand_node(g, OP_DENSE, "dense", in, 3, NULL, 0);
    }
    {
        const char *in[1] = { "dense" };
        hand_node(g, OP_RELU, "relu", in, 1, NULL, 0);
    }
    {
        const char *in[2] = { "relu", "mm.b" };
        hand_node(g, OP_MATMUL, "mm", in, 2, NULL, 0);
    }
    {
        const char *in[1] = { "mm" };
        Attr a[1] = { attr_int("axis", 1) };
        hand_node(g, OP_FLATTEN, "flat", in, 1, a, 1);
    }
    {
        const char *in[3] = { "flat", "g1.b", "g1.c" };
        Attr a[3] = { attr_float("alpha", 0.5f), attr_float("beta", 2.0f), attr_int("transB", 0) };
        hand_node(g, OP_GEMM, "g1", in, 3, a, 3);
    }
    {
        const char *in[5] = { "g1", "bn.s", "bn.b", "bn.m", "bn.v" };
        hand_node(g, OP_BATCHNORM, "bn", in, 5, NULL, 0);
    }
    {
        const char *in[3] = { "bn", "g2.b", "g2.c" };
        Attr a[1] = { attr_int("transB", 1) };
        hand_node(g, OP_GEMM, "g2", in, 3, a, 1);
    }
    CHECK_OK(graph_add_output(g, "g2", &err), &err);
    CHECK_OK(graph_add_output(g, "dense", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
    return m;
}

static const char *const SPEC_CONV =
    "{\"input\": {\"shape\": [3, 9, 9]}, \"layers\": ["
    "{\"kind\": \"conv\", \"out\": 8, \"kernel\": 3, \"stride\": 2, \"pad\": 1},"
    "{\"kind\": \"batchnorm\"}, {\"kind\": \"relu6\"},"
    "{\"kind\": \"conv\", \"out\": 5, \"kernel\": 2, \"dilation\": 2, \"groups\": 1},"
    "{\"kind\": \"relu\"}, {\"kind\": \"flatten\"}, {\"kind\": \"dense\", \"out\": 4}]}";
static const char *const SPEC_DW =
    "{\"input\": {\"shape\": [6, 8, 8]}, \"layers\": ["
    "{\"kind\": \"conv\", \"depthwise\": true, \"kernel\": 3, \"pad\": 1},"
    "{\"kind\": \"batchnorm\"}, {\"kind\": \"relu\"},"
    "{\"kind\": \"conv\", \"out\": 12, \"kernel\": 1},"
    "{\"kind\": \"conv\", \"out\": 12, \"kernel\": 3, \"groups\": 3, \"pad\": 1},"
    "{\"kind\": \"maxpool\", \"kernel\": 2},"
    "{\"kind\": \"conv\", \"depthwise\": true, \"kernel\": 3, \"stride\": 2, \"pad\": 1, \"bias\": false},"
    "{\"kind\": \"globalavgpool\"}, {\"kind\": \"flatten\"}]}";
static const char *const SPEC_MLP =
    "{\"input\": {\"shape\": [20]}, \"layers\": ["
    "{\"kind\": \"dense\", \"out\": 16}, {\"kind\": \"relu\"},"
    "{\"kind\": \"dense\", \"out\": 12}, {\"kind\": \"batchnorm\"}, {\"kind\": \"relu6\"},"
    "{\"kind\": \"dense\", \"out\": 5}]}";
static const char *const SPEC_CONV1D =
    "{\"input\": {\"shape\": [4, 17]}, \"layers\": ["
    "{\"kind\": \"conv\", \"out\": 6, \"kernel\": 3, \"pad\": 2, \"dilation\": 2},"
    "{\"kind\": \"relu\"}, {\"kind\": \"avgpool\", \"kernel\": 2},"
    "{\"kind\": \"conv\", \"depthwise\": true, \"kernel\": 3, \"stride\": 2},"
    "{\"kind\": \"flatten\"}, {\"kind\": \"dense\", \"out\": 3}]}";

static void test_int_vs_fake(void)
{
    printf("(1) integer run vs fake-quant run\n");
    struct {
        const char *name, *spec;
    } models[] = { { "conv", SPEC_CONV }, { "depthwise", SPEC_DW }, { "mlp", SPEC_MLP },
                   { "conv1d", SPEC_CONV1D }, { "residual", NULL }, { "gemm", NULL } };
    struct {
        const char *name;
        bool tensor;
        int bits;
        int observer;
        bool sym;
    } cfgs[] = { { "per-channel 8", false, 8, OBS_MINMAX, false },
                 { "per-tensor 8", true, 8, OBS_MINMAX, false },
                 { "per-channel 4", false, 4, OBS_MINMAX, false },
                 { "per-tensor 4", true, 4, OBS_MINMAX, false },
                 { "pct sym 8", false, 8, OBS_PERCENTILE, true } };
    Agree total = { 0 };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        Model *m = models[i].spec ? spec_model(models[i].spec)
                 : strcmp(models[i].name, "gemm") == 0 ? gemm_model() : residual_model();
        if (!m)
            continue;
        randomize_bn(m, 100 + i);
        QsError err = { 0 };
        Tensor *xc = rand_batch(&m->graph, 64, 1.0, 1);
        Tensor *xt = rand_batch(&m->graph, 16, 1.2, 2);
        Calibration cal;
        if (CHECK_OK(calibrate(m, xc, &cal, &err), &err)) {
            for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
                Plan p;
                plan_init(&p, m->graph.n_nodes);
                p.mode = PREC_INT8_STATIC;
                p.q.wgran_tensor = cfgs[c].tensor;
                p.q.bits = cfgs[c].bits;
                p.q.observer = cfgs[c].observer;
                p.q.act_symmetric = cfgs[c].sym;
                char label[64];
                snprintf(label, sizeof label, "%s, %s", models[i].name, cfgs[c].name);
                check_int_vs_fake(label, m, &p, &cal, xt, &total);
                plan_release(&p);
            }
            calib_release(&cal);
        }
        tensor_free(xc);
        tensor_free(xt);
        model_free(m);
    }
    printf("  overall: %lld unit outputs, %.3f %% exactly equal, %lld more than one step "
           "apart, max %.0f step\n",
           (long long)total.n, 100.0 * (double)total.exact / (double)total.n,
           (long long)total.over, total.max_steps);
    CHECK(total.over == 0);
    /* differences only come from ties and the multiplier's rounding: rare */
    CHECK((double)total.exact >= 0.99 * (double)total.n);
}

/* ---- (2) hand-computed integer results ------------------------------------------------ */

/* Conv (1,1,3,3) * W (2,1,2,2), no padding, per-channel weights.
 *   input:  range [-1, 191/64]  -> s = 1/64,  z = -64;  q = d - 64 with d below
 *   output: range [-2, 13.9375] -> s = 1/16,  z = -96
 *   W ch0 = [[127, -32], [5, 0]] / 32   -> s_w = 1/32,  b0 = 0.5   -> bq = 0.5 * 2^11 = 1024
 *   W ch1 = [[-127, 64], [3, -1]] / 128 -> s_w = 1/128, b1 = -0.25 -> bq = -0.25 * 2^13 = -2048
 *   m0 = 2^-6 2^-5 / 2^-4 = 2^-7, m1 = 2^-9
 * d = [[31, -17, -27], [-13, 1, 45], [21, 17, -12]] (q - z of the input):
 *   ch0 (0,0): 31*127 + (-17)(-32) + (-13)*5 + 0 + 1024 = 5440; 5440/128 = 42.5 -> 42 (tie
 *              to even) -> q = -96 + 42 = -54
 *   ch0 (0,1): -17*127 + (-27)(-32) + 1*5 + 1024 = -266 -> -2.078 -> -2 -> -98
 *   ch0 (1,0): -13*127 + 1*(-32) + 21*5 + 1024 = -554 -> -4.328 -> -4 -> -100
 *   ch0 (1,1): 1*127 + 45*(-32) + 17*5 + 1024 = -204 -> -1.594 -> -2 -> -98
 *   ch1 (0,0): 31(-127) + (-17)64 + (-13)3 + 1(-1) - 2048 = -7113 -> -13.893 -> -14 -> -110
 *   ch1 (0,1): -17(-127) + (-27)64 + 1*3 + 45(-1) - 2048 = -1659 -> -3.240 -> -3 -> -99
 *   ch1 (1,0): -13(-127) + 1*64 + 21*3 + 17(-1) - 2048 = -287 -> -0.561 -> -1 -> -97
 *   ch1 (1,1): 1(-127) + 45*64 + 17*3 + (-12)(-1) - 2048 = 768 -> 1.5 -> 2 (tie to even)
 *              -> -94 */
static void test_hand_conv(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)1, (int64_t)3, (int64_t)3);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    Tensor *w = tensor_new(DT_F32, shape_of(4, (int64_t)2, (int64_t)1, (int64_t)2, (int64_t)2), &err);
    Tensor *b = tensor_new(DT_F32, shape_of(1, (int64_t)2), &err);
    const float wq[8] = { 127, -32, 5, 0, -127, 64, 3, -1 };
    for (int i = 0; i < 8; i++)
        tensor_f32(w)[i] = wq[i] / (i < 4 ? 32.0f : 128.0f);
    tensor_f32(b)[0] = 0.5f;
    tensor_f32(b)[1] = -0.25f;
    CHECK_OK(graph_add_const(g, "w", w, true, &err), &err);
    CHECK_OK(graph_add_const(g, "b", b, true, &err), &err);
    const char *in[3] = { "x", "w", "b" };
    int64_t k2[2] = { 2, 2 };
    Attr a = attr_ints("kernel_shape", k2, 2);
    CHECK_OK(graph_add_node(g, OP_CONV, "conv", in, 3, "y", &a, 1, &err), &err);
    attr_release(&a);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);

    Calibration cal;
    int vals[2] = { graph_find_value(g, "x"), graph_find_value(g, "y") };
    const float ranges[2][2] = { { -1.0f, 191.0f / 64.0f }, { -2.0f, 13.9375f } };
    tu_hand_calibration(g, &cal, vals, ranges, 2);
    Plan p;
    QModel *q;
    if (CHECK_OK(tu_int8_build(m, &cal, QTGT_QSCOPE, &p, &q, &err), &err)) {
        const QLayerInfo *li = qmodel_layer(q, 0);
        CHECK(li->integer && !li->fallback && li->n_wscales == 2);
        CHECK(li->wscales[0] == 1.0f / 32 && li->wscales[1] == 1.0f / 128);
        CHECK(li->act.scale == 1.0f / 16 && li->act.zero_point == -96);
        const int d[9] = { 31, -17, -27, -13, 1, 45, 21, 17, -12 };
        Tensor *x = tensor_new(DT_F32, shape_of(4, (int64_t)1, (int64_t)1, (int64_t)3, (int64_t)3), &err);
        for (int i = 0; i < 9; i++)
            tensor_f32(x)[i] = (float)d[i] / 64.0f;
        const int32_t want_q[8] = { -54, -98, -100, -98, -110, -99, -97, -94 };
        float want[8];
        for (int i = 0; i < 8; i++)
            want[i] = (float)(want_q[i] + 96) / 16.0f;
        Tensor *yi = run_exec(qmodel_executor(q), x, NULL);
        Tensor *yf = run_exec(qmodel_fake_executor(q), x, NULL);
        if (yi && yf) {
            expect_close("hand conv, integer", tensor_f32(yi), want, 8, 0, 0);
            expect_close("hand conv, fake-quant", tensor_f32(yf), want, 8, 0, 0);
            int32_t got_q[8];
            for (int i = 0; i < 8; i++)
                got_q[i] = (int32_t)lrintf(tensor_f32(yi)[i] * 16.0f) - 96;
            expect_equal_i32("hand conv q", got_q, want_q, 8);
        }
        tensor_free(x);
        tensor_free(yi);
        tensor_free(yf);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

/* Dense (1,4) * W (3,4) + b, ReLU fused, per-channel weights.
 *   input:  range [-4, 127/32]    -> s = 1/32, z = 0; x = d / 32, d = [58, 15, 120, 7]
 *   output: range [-1, 14.9375]   -> s = 1/16, z = -112; ReLU: clamp below at q(0) = -112
 *   W0 = [127, -50, 3, 0] / 64   (s_w 1/64,  m = 2^-5 2^-6 / 2^-4 = 2^-7), b0 = 0.25 -> bq 512
 *   W1 = [-20, 127, 9, -7] / 16  (s_w 1/16,  m = 2^-5),  b1 = -1 -> bq = -512
 *   W2 = [1, 2, -127, 4] / 256   (s_w 1/256, m = 2^-9),  b2 = 0
 *   acc0 = 58*127 + 15(-50) + 120*3 + 0 + 512 = 7488;  7488/128 = 58.5 -> 58 (even) -> -54
 *   acc1 = 58(-20) + 15*127 + 120*9 + 7(-7) - 512 = 1264; 1264/32 = 39.5 -> 40 (even) -> -72
 *   acc2 = 58 + 30 - 15240 + 28 = -15124; /512 = -29.54 -> -30 -> -142 -> ReLU clamp -112 */
static void test_hand_dense(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(1, (int64_t)4);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    Tensor *w = tensor_new(DT_F32, shape_of(2, (int64_t)3, (int64_t)4), &err);
    Tensor *b = tensor_new(DT_F32, shape_of(1, (int64_t)3), &err);
    const float wq[12] = { 127, -50, 3, 0, -20, 127, 9, -7, 1, 2, -127, 4 };
    const float div[3] = { 64, 16, 256 };
    for (int i = 0; i < 12; i++)
        tensor_f32(w)[i] = wq[i] / div[i / 4];
    const float bv[3] = { 0.25f, -1.0f, 0.0f };
    memcpy(tensor_f32(b), bv, sizeof bv);
    CHECK_OK(graph_add_const(g, "w", w, true, &err), &err);
    CHECK_OK(graph_add_const(g, "b", b, true, &err), &err);
    const char *in[3] = { "x", "w", "b" };
    CHECK_OK(graph_add_node(g, OP_DENSE, "fc", in, 3, "h", NULL, 0, &err), &err);
    const char *in2[1] = { "h" };
    CHECK_OK(graph_add_node(g, OP_RELU, "relu", in2, 1, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);

    Calibration cal;
    int vals[2] = { graph_find_value(g, "x"), graph_find_value(g, "y") };
    const float ranges[2][2] = { { -4.0f, 127.0f / 32.0f }, { -1.0f, 14.9375f } };
    tu_hand_calibration(g, &cal, vals, ranges, 2);
    Plan p;
    QModel *q;
    if (CHECK_OK(tu_int8_build(m, &cal, QTGT_QSCOPE, &p, &q, &err), &err)) {
        const QLayerInfo *l0 = qmodel_layer(q, 0), *l1 = qmodel_layer(q, 1);
        CHECK(l0->unit == 0 && !l0->absorbed && l1->unit == 0 && l1->absorbed);
        CHECK(l1->integer && l1->prec == PREC_INT8_STATIC);
        CHECK(l0->act.zero_point == -112 && l0->act.scale == 1.0f / 16);
        const float d[4] = { 58, 15, 120, 7 };
        Tensor *x = tensor_new(DT_F32, shape_of(2, (int64_t)1, (int64_t)4), &err);
        for (int i = 0; i < 4; i++)
            tensor_f32(x)[i] = d[i] / 32.0f;
        const float want[3] = { 58.0f / 16, 40.0f / 16, 0.0f };
        Tensor *yi = run_exec(qmodel_executor(q), x, NULL);
        Tensor *yf = run_exec(qmodel_fake_executor(q), x, NULL);
        if (yi && yf) {
            expect_close("hand dense, integer", tensor_f32(yi), want, 3, 0, 0);
            expect_close("hand dense, fake-quant", tensor_f32(yf), want, 3, 0, 0);
        }
        /* the same unit alone, through its absorbed ReLU node */
        Tensor *out = tensor_new(DT_F32, shape_of(2, (int64_t)1, (int64_t)3), &err);
        const Tensor *lin[3] = { x, NULL, NULL };
        if (CHECK_OK(qmodel_run_node_local(q, 1, lin, out, &err), &err))
            expect_close("hand dense, node-local", tensor_f32(out), want, 3, 0, 0);
        tensor_free(out);
        tensor_free(x);
        tensor_free(yi);
        tensor_free(yf);
        /* 1 byte per weight, 3 float scales, 3 int32 biases, two quantized values */
        CHECK(qmodel_deployed_bytes(q) == 12 + 3 * 4 + 3 * 4 + 2 * 5);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

/* ---- (3) fp16 --------------------------------------------------------------------------- */

static void half_tensor(Tensor *t) { half_round_array(tensor_f32(t), tensor_numel(t)); }

/* fp16 on dense -> ReLU -> dense: the output must equal, bit for bit, the float ops on
 * half-rounded input and parameters with each layer's output rounded to half. */
static void test_fp16(void)
{
    QsError err = { 0 };
    Model *m = spec_model("{\"input\": {\"shape\": [16]}, \"layers\": ["
                          "{\"kind\": \"dense\", \"out\": 8}, {\"kind\": \"relu\"},"
                          "{\"kind\": \"dense\", \"out\": 4}]}");
    if (!m)
        return;
    const Graph *g = &m->graph;
    Tensor *x = rand_batch(g, 10, 3.0, 5);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_FP16;
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err)) {
        /* the reference */
        Tensor *xh = tensor_clone(x, &err);
        half_tensor(xh);
        Tensor *w1 = tensor_clone(g->values[g->nodes[0].in[1]].data, &err);
        Tensor *b1 = tensor_clone(g->values[g->nodes[0].in[2]].data, &err);
        Tensor *w2 = tensor_clone(g->values[g->nodes[2].in[1]].data, &err);
        Tensor *b2 = tensor_clone(g->values[g->nodes[2].in[2]].data, &err);
        half_tensor(w1), half_tensor(b1), half_tensor(w2), half_tensor(b2);
        Tensor *h = tensor_new(DT_F32, shape_of(2, (int64_t)10, (int64_t)8), &err);
        Tensor *y = tensor_new(DT_F32, shape_of(2, (int64_t)10, (int64_t)4), &err);
        RunCtx rc = { 0 };
        const Tensor *in1[3] = { xh, w1, b1 };
        op_table[OP_DENSE]->forward(&g->nodes[0], in1, h, &rc);
        for (int i = 0; i < 80; i++)
            tensor_f32(h)[i] = tensor_f32(h)[i] < 0 ? 0.0f : tensor_f32(h)[i];
        half_tensor(h);
        const Tensor *in2[3] = { h, w2, b2 };
        op_table[OP_DENSE]->forward(&g->nodes[2], in2, y, &rc);
        half_tensor(y);
        Taps taps;
        taps_init(&taps, g);
        Tensor *got = run_exec(qmodel_executor(q), x, &taps);
        if (got) {
            expect_close("fp16 output vs per-layer half reference", tensor_f32(got),
                         tensor_f32(y), 40, 0, 0);
            CHECK(memcmp(got->data, y->data, 40 * sizeof(float)) == 0);
            /* the unit dense+relu is tapped at its last node, the relu */
            CHECK(taps.v[1] && !taps.v[0]);
            if (taps.v[1])
                expect_close("fp16 unit tap", taps.v[1], tensor_f32(h), 80, 0, 0);
        }
        const QLayerInfo *li = qmodel_layer(q, 0);
        CHECK(li->prec == PREC_FP16 && !li->integer && li->n_wscales == 0);
        /* 2 bytes per weight and bias */
        CHECK(qmodel_deployed_bytes(q) == 2 * (16 * 8 + 8 + 8 * 4 + 4));
        /* the float model is untouched and the fp16 result stays close to it */
        Tensor *yf = run_float(m, x);
        expect_close("fp16 vs fp32", tensor_f32(got), tensor_f32(yf), 40, 2e-2, 2e-2);
        tensor_free(yf);
        tensor_free(got);
        taps_release(&taps);
        tensor_free(xh), tensor_free(w1), tensor_free(b1), tensor_free(w2), tensor_free(b2);
        tensor_free(h), tensor_free(y);
    }
    qmodel_free(q);
    plan_release(&p);
    tensor_free(x);
    model_free(m);
}

/* ---- (4) int8-dyn: a sample's result does not depend on its batch --------------------- */

static void test_dyn_batch(void)
{
    QsError err = { 0 };
    Model *m = spec_model("{\"input\": {\"shape\": [3, 8, 8]}, \"layers\": ["
                          "{\"kind\": \"conv\", \"out\": 6, \"kernel\": 3, \"pad\": 1},"
                          "{\"kind\": \"batchnorm\"}, {\"kind\": \"relu\"},"
                          "{\"kind\": \"conv\", \"depthwise\": true, \"kernel\": 3},"
                          "{\"kind\": \"maxpool\", \"kernel\": 2}, {\"kind\": \"flatten\"},"
                          "{\"kind\": \"dense\", \"out\": 7}]}");
    if (!m)
        return;
    randomize_bn(m, 9);
    const Graph *g = &m->graph;
    Tensor *x = rand_batch(g, 8, 1.0, 6);
    /* give the samples very different ranges, so per-batch quantization would show */
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] *= (float)(1 + (i / (3 * 64)) * 3);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_DYN;
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err)) {
        Tensor *all = run_exec(qmodel_executor(q), x, NULL);
        Shape s1 = x->shape;
        s1.dim[0] = 1;
        Tensor one = tensor_view(DT_F32, s1, tensor_f32(x) + 3 * 3 * 64);
        Tensor *y3 = run_exec(qmodel_executor(q), &one, NULL);
        if (all && y3)
            CHECK(memcmp(tensor_f32(all) + 3 * 7, y3->data, 7 * sizeof(float)) == 0);
        /* and again at batch 8 after a batch of 1: the arena is re-laid out */
        Tensor *again = run_exec(qmodel_executor(q), x, NULL);
        if (all && again)
            CHECK(memcmp(all->data, again->data, 8 * 7 * sizeof(float)) == 0);
        const QLayerInfo *l0 = qmodel_layer(q, 0), *l4 = qmodel_layer(q, 4);
        CHECK(l0->prec == PREC_INT8_DYN && l0->integer && !l0->has_act && l0->n_wscales == 6);
        CHECK(l4->prec == PREC_INT8_DYN && !l4->integer && !l4->fallback);
        /* close to the float model (per-sample 8-bit inputs, 8-bit weights) and to its own
         * fake-quant simulation (which differs only by float rounding) */
        Tensor *yf = run_float(m, x);
        Tensor *yq = run_exec(qmodel_fake_executor(q), x, NULL);
        if (all && yf && yq) {
            double num = 0, den = 0;
            for (int i = 0; i < 56; i++) {
                num += pow(tensor_f32(all)[i] - tensor_f32(yf)[i], 2);
                den += pow(tensor_f32(yf)[i], 2);
            }
            printf("(4) int8-dyn: relative RMS error vs fp32 %.4f\n", sqrt(num / den));
            CHECK(sqrt(num / den) < 0.05);
            /* float sums of the same products in another order: a few ulps of the
             * largest partial sums */
            expect_close("int8-dyn vs its fake-quant", tensor_f32(all), tensor_f32(yq), 56, 1e-4,
                         1e-4);
        }
        tensor_free(yf);
        tensor_free(yq);
        tensor_free(all);
        tensor_free(y3);
        tensor_free(again);
    }
    qmodel_free(q);
    plan_release(&p);
    tensor_free(x);
    model_free(m);
}

/* ---- (5) every precision and observer row ------------------------------------------ */

static double rel_rms(const Tensor *a, const Tensor *ref)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        num += pow((double)tensor_f32(a)[i] - tensor_f32(ref)[i], 2);
        den += pow((double)tensor_f32(ref)[i], 2);
    }
    return sqrt(num / den);
}

static void test_every_row(void)
{
    QsError err = { 0 };
    Model *m = residual_model();
    const Graph *g = &m->graph;
    /* 512 samples: the entropy observer needs a few thousand values per histogram (with
     * 64 samples, 320 values of the 5 outputs, it clipped 60 % of them) */
    Tensor *xc = rand_batch(g, 512, 1.0, 21), *xt = rand_batch(g, 12, 1.0, 22);
    Calibration cal;
    if (!CHECK_OK(calibrate(m, xc, &cal, &err), &err))
        return;
    Tensor *yref = run_float(m, xt);
    printf("(5) every precision and observer row on the residual graph (relative RMS vs fp32)\n");
    for (int pk = 0; pk < PREC_COUNT; pk++)
        for (int ob = 0; ob < OBS_COUNT; ob++) {
            if (pk != PREC_INT8_STATIC && ob > 0)
                continue;
            Plan p;
            plan_init(&p, g->n_nodes);
            p.mode = (PrecKind)pk;
            p.q.observer = ob;
            QModel *q = NULL;
            if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
                Tensor *yi = run_exec(qmodel_executor(q), xt, NULL);
                Tensor *yf = run_exec(qmodel_fake_executor(q), xt, NULL);
                if (yi && yf) {
                    double e = rel_rms(yi, yref), ef = rel_rms(yf, yref);
                    printf("  %-12s %-11s int %.5f  fake %.5f  %lld bytes\n",
                           precision_table[pk].name, pk == PREC_INT8_STATIC ?
                           observer_table[ob].name : "", e, ef,
                           (long long)qmodel_deployed_bytes(q));
                    if (pk == PREC_FP32) {
                        CHECK(memcmp(yi->data, yref->data, tensor_bytes(yref)) == 0);
                        CHECK(memcmp(yf->data, yref->data, tensor_bytes(yref)) == 0);
                    }
                    CHECK(e < (pk == PREC_FP32 ? 1e-30 : pk == PREC_FP16 ? 2e-3 : 0.1));
                    for (int node = 0; node < g->n_nodes; node++)
                        CHECK(qmodel_layer(q, node)->prec == (PrecKind)pk);
                    /* the Mul has no integer kernel */
                    const QLayerInfo *mul = qmodel_layer(q, graph_find_node(g, "mul"));
                    CHECK(mul->fallback == (pk == PREC_INT8_STATIC));
                }
                tensor_free(yi);
                tensor_free(yf);
            }
            qmodel_free(q);
            plan_release(&p);
        }
    /* a fp32 plan needs no calibration; int8-static does */
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    expect_error("int8-static without calibration", qmodel_build(m, &p, NULL, &q, &err), &err,
                 QS_EINVAL, "run 'calibrate' first");
    CHECK(q == NULL);
    p.q.bits = 9;
    expect_error("bits 9", qmodel_build(m, &p, &cal, &q, &err), &err, QS_EINVAL, "bits=9");
    plan_release(&p);
    tensor_free(yref);
    tensor_free(xc);
    tensor_free(xt);
    calib_release(&cal);
    model_free(m);
}

/* Gemm/MatMul lowering: every precision stays close to fp32 (fp32 exact), the second
 * graph output keeps the Relu out of the Dense unit, the BatchNorm after the 2-D Gemm is
 * folded. */
static void test_gemm_lowering(void)
{
    QsError err = { 0 };
    Model *m = gemm_model();
    const Graph *g = &m->graph;
    Tensor *xc = rand_batch(g, 256, 1.0, 61), *xt = rand_batch(g, 16, 1.0, 62);
    Calibration cal;
    if (!CHECK_OK(calibrate(m, xc, &cal, &err), &err))
        return;
    Tensor *yref = run_float(m, xt);
    int dense = graph_find_node(g, "dense"), relu = graph_find_node(g, "relu");
    int g1 = graph_find_node(g, "g1"), bn = graph_find_node(g, "bn");
    for (int pk = 0; pk < PREC_COUNT; pk++) {
        Plan p;
        plan_init(&p, g->n_nodes);
        p.mode = (PrecKind)pk;
        QModel *q = NULL;
        if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
            CHECK(qmodel_layer(q, relu)->unit == relu && !qmodel_layer(q, relu)->absorbed);
            CHECK(qmodel_layer(q, bn)->unit == g1 && qmodel_layer(q, bn)->absorbed);
            CHECK(qmodel_layer(q, dense)->unit == dense);
            Tensor *y = run_exec(qmodel_executor(q), xt, NULL);
            if (y) {
                double e = rel_rms(y, yref);
                printf("    gemm graph %-12s relative RMS vs fp32 %.5f\n", precision_table[pk].name, e);
                CHECK(e < (pk == PREC_FP32 ? 1e-30 : pk == PREC_FP16 ? 2e-3 : 0.05));
            }
            tensor_free(y);
            if (pk != PREC_FP32)
                for (int i = 0; i < g->n_nodes; i++)
                    CHECK(!qmodel_layer(q, i)->fallback);
        }
        qmodel_free(q);
        plan_release(&p);
    }
    tensor_free(yref);
    tensor_free(xc);
    tensor_free(xt);
    calib_release(&cal);
    model_free(m);
}

/* ---- (6) pins ----------------------------------------------------------------------------- */

static void test_pins(void)
{
    QsError err = { 0 };
    Model *m = spec_model(SPEC_MLP);
    if (!m)
        return;
    randomize_bn(m, 3);
    const Graph *g = &m->graph;
    Tensor *xc = rand_batch(g, 64, 1.0, 31), *xt = rand_batch(g, 16, 1.0, 32);
    Calibration cal;
    if (!CHECK_OK(calibrate(m, xc, &cal, &err), &err))
        return;
    Tensor *yref = run_float(m, xt);
    int d2 = graph_find_node(g, "dense3"), bn = graph_find_node(g, "batchnorm4");
    int act = graph_find_node(g, "relu65");
    QS_ASSERT(d2 >= 0 && bn >= 0 && act >= 0);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q0 = NULL;
    CHECK_OK(qmodel_build(m, &p, &cal, &q0, &err), &err);
    p.pin[d2] = PREC_FP32;
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
        const QLayerInfo *li = qmodel_layer(q, d2);
        CHECK(li->prec == PREC_FP32 && !li->integer && !li->fallback && !li->has_act);
        /* the unit's absorbed nodes follow their head */
        CHECK(qmodel_layer(q, bn)->prec == PREC_FP32 && qmodel_layer(q, bn)->absorbed);
        CHECK(qmodel_layer(q, act)->prec == PREC_FP32 && qmodel_layer(q, act)->unit == d2);
        CHECK(qmodel_layer(q, 0)->prec == PREC_INT8_STATIC && qmodel_layer(q, 0)->integer);
        Tensor *y = run_exec(qmodel_executor(q), xt, NULL);
        Tensor *y0 = run_exec(qmodel_executor(q0), xt, NULL);
        if (y && y0) {
            double e = rel_rms(y, yref), e0 = rel_rms(y0, yref);
            printf("(6) pin dense3 to fp32: relative RMS vs fp32 %.5f (all int8: %.5f)\n", e, e0);
            CHECK(e < 0.05);
        }
        /* the pinned fp32 layer's weights count as float32 */
        int64_t b0 = qmodel_deployed_bytes(q0), b = qmodel_deployed_bytes(q);
        CHECK(b > b0);
        tensor_free(y);
        tensor_free(y0);
    }
    qmodel_free(q);
    /* the other way round: fp16 model with an int8-static and an int8-dyn layer */
    p.mode = PREC_FP16;
    p.pin[d2] = PREC_INT8_STATIC;
    p.pin[0] = PREC_INT8_DYN;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
        CHECK(qmodel_layer(q, d2)->prec == PREC_INT8_STATIC && qmodel_layer(q, d2)->has_act);
        CHECK(qmodel_layer(q, 0)->prec == PREC_INT8_DYN);
        CHECK(qmodel_layer(q, g->n_nodes - 1)->prec == PREC_FP16);
        Tensor *y = run_exec(qmodel_executor(q), xt, NULL);
        Tensor *yf = run_exec(qmodel_fake_executor(q), xt, NULL);
        if (y && yf) {
            printf("    fp16 with int8-dyn and int8-static pins: %.5f (fake %.5f)\n",
                   rel_rms(y, yref), rel_rms(yf, yref));
            CHECK(rel_rms(y, yref) < 0.05);
        }
        tensor_free(y);
        tensor_free(yf);
    }
    qmodel_free(q);
    qmodel_free(q0);
    plan_release(&p);
    tensor_free(yref);
    tensor_free(xc);
    tensor_free(xt);
    calib_release(&cal);
    model_free(m);
}

/* ---- inspection ---------------------------------------------------------------------------- */

/* conv + BN + ReLU6: the weight statistics are those of the folded weights. */
static void test_info(void)
{
    QsError err = { 0 };
    Model *m = spec_model("{\"input\": {\"shape\": [2, 5, 5]}, \"layers\": ["
                          "{\"kind\": \"conv\", \"out\": 4, \"kernel\": 3},"
                          "{\"kind\": \"batchnorm\"}, {\"kind\": \"relu6\"},"
                          "{\"kind\": \"flatten\"}]}");
    if (!m)
        return;
    Graph *g = &m->graph;
    randomize_bn(m, 4);
    /* channel 2's BatchNorm scale is 50x: its folded range dominates */
    tensor_f32(g->values[g->nodes[1].in[1]].data)[2] = 50.0f;
    Tensor *xc = rand_batch(g, 32, 1.0, 41);
    Calibration cal;
    if (!CHECK_OK(calibrate(m, xc, &cal, &err), &err))
        return;
    /* the folded weights, computed here independently */
    const float *w = tensor_f32(g->values[g->nodes[0].in[1]].data);
    const Node *bn = &g->nodes[1];
    const float *sc = tensor_f32(g->values[bn->in[1]].data), *va = tensor_f32(g->values[bn->in[4]].data);
    float wmin = INFINITY, wmax = -INFINITY;
    double range[4];
    for (int c = 0; c < 4; c++) {
        double a = sc[c] / sqrt((double)va[c] + 1e-5f), lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < 18; i++) {
            float f = (float)(w[c * 18 + i] * a);
            wmin = fminf(wmin, f), wmax = fmaxf(wmax, f);
            lo = fmin(lo, f), hi = fmax(hi, f);
        }
        range[c] = hi - lo;
    }
    double sorted[4];
    memcpy(sorted, range, sizeof sorted);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (sorted[j] < sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[j], sorted[j] = t;
            }
    double spread = sorted[3] / (0.5 * (sorted[1] + sorted[2]));
    for (int tensor = 0; tensor < 2; tensor++) {
        Plan p;
        plan_init(&p, g->n_nodes);
        p.mode = PREC_INT8_STATIC;
        p.q.wgran_tensor = tensor;
        QModel *q = NULL;
        if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
            const QLayerInfo *h = qmodel_layer(q, 0), *b = qmodel_layer(q, 1), *r = qmodel_layer(q, 2);
            CHECK(h->unit == 0 && b->unit == 0 && r->unit == 0 && b->absorbed && r->absorbed);
            CHECK(h->w_min == wmin && h->w_max == wmax);
            CHECK(fabs(h->w_channel_spread - spread) < 1e-9 * spread && spread > 10);
            CHECK(h->n_wscales == (tensor ? 1 : 4));
            /* per-tensor: the scale is set by channel 2, and the others lose weights to 0 */
            if (tensor)
                CHECK(h->wscales[0] == fmaxf(-wmin, wmax) / 127.0f && h->w_zero_fraction > 0.1);
            else
                CHECK(h->w_zero_fraction < 0.05);
            /* the unit's output is the ReLU6 value: its range and clipping */
            int vr = g->nodes[2].out;
            CHECK(h->has_act && r->has_act && !b->has_act);
            CHECK(h->act_min == (float)cal.stats[vr].min && h->act_max == (float)cal.stats[vr].max);
            CHECK(h->act_min >= 0.0f && h->act_max <= 6.0f);
            CHECK(h->clip_lo == h->act_min && h->clip_hi == h->act_max && h->clipped == 0.0);
            CHECK(h->act.scale == r->act.scale && h->act.zero_point == r->act.zero_point);
            /* the flatten keeps the unit's parameters */
            const QLayerInfo *f = qmodel_layer(q, 3);
            CHECK(f->integer && f->act.scale == h->act.scale);
            /* OC*K weights at 8 bits, scales, 4 int32 biases, input and output params */
            CHECK(qmodel_deployed_bytes(q) == 4 * 18 + 4 * (tensor ? 1 : 4) + 4 * 4 + 2 * 5);
            printf("    info: spread %.1f, zero fraction %.3f (%s)\n", h->w_channel_spread,
                   h->w_zero_fraction, tensor ? "per-tensor" : "per-channel");
        }
        qmodel_free(q);
        plan_release(&p);
    }
    /* fp32: the float parameters as they are (conv 72 + 4, BatchNorm 4 x 4) */
    Plan p;
    plan_init(&p, g->n_nodes);
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err)) {
        CHECK(qmodel_deployed_bytes(q) == 4 * (72 + 4 + 16));
        CHECK(qmodel_layer(q, 0)->w_min == wmin && qmodel_layer(q, 0)->n_wscales == 0);
        CHECK(qmodel_layer(q, 1)->absorbed && !qmodel_layer(q, 1)->integer);
        CHECK(qmodel_layer(q, 7) == NULL && qmodel_layer(q, -1) == NULL);
    }
    qmodel_free(q);
    plan_release(&p);
    tensor_free(xc);
    calib_release(&cal);
    model_free(m);
}

/* Taps: the int8 executor reports each unit's output, dequantized, at the unit's last
 * node; fp32 reports every node, exactly as the float run. */
static void test_taps(void)
{
    QsError err = { 0 };
    Model *m = residual_model();
    const Graph *g = &m->graph;
    Tensor *xc = rand_batch(g, 32, 1.0, 51), *xt = rand_batch(g, 4, 1.0, 52);
    Calibration cal;
    if (!CHECK_OK(calibrate(m, xc, &cal, &err), &err))
        return;
    Plan p;
    QModel *q;
    if (CHECK_OK(tu_int8_build(m, &cal, QTGT_QSCOPE, &p, &q, &err), &err)) {
        Taps t;
        taps_init(&t, g);
        Tensor *y = run_exec(qmodel_executor(q), xt, &t);
        int c1 = graph_find_node(g, "c1"), bn = graph_find_node(g, "bn"), relu = graph_find_node(g, "relu");
        CHECK(!t.v[c1] && !t.v[bn] && t.v[relu]);
        int fc = graph_find_node(g, "fc");
        if (y && t.v[fc])
            CHECK(memcmp(t.v[fc], y->data, tensor_bytes(y)) == 0);
        /* every tapped value is a multiple of its scale away from the zero point */
        int relu_ok = 1;
        const QLayerInfo *li = qmodel_layer(q, relu);
        for (int64_t i = 0; t.v[relu] && i < t.len[relu]; i++) {
            double k = t.v[relu][i] / li->act.scale;
            relu_ok &= fabs(k - nearbyint(k)) < 1e-3 && t.v[relu][i] >= 0.0f;
        }
        CHECK(relu_ok);
        tensor_free(y);
        taps_release(&t);
    }
    qmodel_free(q);
    plan_release(&p);
    tensor_free(xc);
    tensor_free(xt);
    calib_release(&cal);
    model_free(m);
}

int main(void)
{
    test_hand_conv();
    test_hand_dense();
    test_int_vs_fake();
    test_fp16();
    test_dyn_batch();
    test_every_row();
    test_gemm_lowering();
    test_pins();
    test_info();
    test_taps();
    return test_summary("qexec");
}
