/* diagnose's rules and the weight statistics they read (ptq/wstats.h, ptq/diagnose.h).
 *
 * wstats: a hand-built depthwise Conv whose weights are exact multiples of 0.01, with one
 * channel 27x the others, so every integer code is known by hand under both
 * granularities.
 * diagnose: small hand-built classifiers labelled by their own float outputs (fp32 scores
 * 100 %), each built so that one rule must fire: a depthwise layer with one channel 27x
 * the others under a per-tensor scale (weight-levels, naming the channel; the fix is
 * measured and gains), a Dense fed one input feature 1000x wider than the others that it
 * barely uses (local-error: the input grid starves it), a percentile observer clipping
 * 10 % (clipped), weights beyond 65504 (fp16-overflow). The per-layer granularity goes
 * through a variant's JSON and back, and into QAT's weight FakeQuant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "graph/model.h"
#include "native/variants.h"
#include "ops/op.h"
#include "ptq/diagnose.h"
#include "ptq/wstats.h"
#include "qat/qat_graph.h"
#include "test_graph.h"
#include "test_util.h"

/* x (4, 5, 5) -> depthwise Conv 3x3 "dw" (4 channels): channel c's weights are
 * (i - 4) * 0.01 for i = 0..8, channel `wide` times 27. */
static Model *dw_model(int wide)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)4, (int64_t)5, (int64_t)5);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    Tensor *w = tensor_new(DT_F32, shape_of(4, (int64_t)4, (int64_t)1, (int64_t)3,
                                            (int64_t)3), &err);
    QS_ASSERT(w);
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 9; i++)
            tensor_f32(w)[c * 9 + i] = (float)((i - 4) * 0.01 * (c == wide ? 27 : 1));
    CHECK_OK(graph_add_const(g, "dw.w", w, true, &err), &err);
    int64_t k3[2] = { 3, 3 }, p1[4] = { 1, 1, 1, 1 };
    const char *in[2] = { "x", "dw.w" };
    Attr a[3] = { attr_ints("kernel_shape", k3, 2), attr_ints("pads", p1, 4),
                  attr_int("group", 4) };
    tu_add_node(g, OP_CONV, "dw", in, 2, a, 3);
    CHECK_OK(graph_add_output(g, "dw", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
    return m;
}

static void test_wstats(void)
{
    QsError err = { 0 };
    Model *m = dw_model(2);
    const Graph *g = &m->graph;
    int dw = graph_find_node(g, "dw");
    WStats ws;
    /* per tensor: s = 1.08 / 127; a narrow channel's k * 0.01 codes to round(1.1759 k):
     * 1, 2, 4, 5 and their negatives and 0, 9 levels; the wide one to round(31.75 k):
     * 32, 64 (63.5, half to even), 95, 127 */
    if (CHECK_OK(wstats_compute(g, dw, 8, true, &ws, &err), &err)) {
        CHECK(ws.node == dw && ws.oc == 4 && ws.k == 9 && ws.kind == LU_DEPTHWISE);
        CHECK(ws.max_levels == 255);
        CHECK(ws.by_range[0] == 2);
        CHECK(ws.by_range[1] == 0 && ws.by_range[2] == 1 && ws.by_range[3] == 3);
        for (int c = 0; c < 4; c++) {
            CHECK(ws.ch[c].levels == 9);
            CHECK(ws.ch[c].nonzero == 8 && ws.ch[c].zeroed == 0);
            CHECK(ws.ch[c].scale == 1.08f / 127.0f);
        }
        CHECK(fabsf(ws.ch[2].absmax - 1.08f) < 1e-6f && ws.ch[0].max == 0.04f);
        CHECK(ws.ch[0].max_code == 5 && ws.ch[2].max_code == 127);
        CHECK(ws.ch[1].min == -0.04f);
        wstats_release(&ws);
    }
    /* 4 bits per tensor: s = 1.08 / 7; a narrow channel's 0.01 k codes to round(0.0648 k):
     * all 0, one level, 8 nonzero weights zeroed */
    if (CHECK_OK(wstats_compute(g, dw, 4, true, &ws, &err), &err)) {
        CHECK(ws.ch[0].levels == 1 && ws.ch[0].zeroed == 8);
        CHECK(wstats_zero_share(&ws.ch[0]) == 1.0);
        CHECK(ws.ch[2].levels == 9 && ws.ch[2].zeroed == 0);
        CHECK(ws.zeroed == 24 && ws.nonzero == 32);
        CHECK(wstats_channels_below(&ws, 16) == 4);
        CHECK(wstats_channels_below(&ws, 2) == 3);
        wstats_release(&ws);
    }
    /* per channel: each channel's own scale 0.04 / 7 at 4 bits: codes 0, +-2 (1.75),
     * +-4 (3.5, half to even), +-5 (5.25), +-7 */
    if (CHECK_OK(wstats_compute(g, dw, 4, false, &ws, &err), &err)) {
        for (int c = 0; c < 4; c++)
            CHECK(ws.ch[c].levels == 9 && ws.ch[c].zeroed == 0);
        CHECK(ws.ch[0].scale == 0.04f / 7.0f);
        wstats_release(&ws);
    }
    expect_error("input node", wstats_compute(g, -1, 8, true, &ws, &err), &err, QS_EINVAL,
                 "no node");
    model_free(m);
}

/* ---- diagnose on hand-built classifiers ------------------------------------------------ */

static float *param(Model *m, const char *name)
{
    return tensor_f32(m->graph.values[graph_find_value(&m->graph, name)].data);
}

static void finish(Model *m, const char *out)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_output(&m->graph, out, &err), &err);
    CHECK_OK(graph_finalize(&m->graph, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
}

/* x (6, 6, 6) -> depthwise Conv 3x3 "dw" (6 channels, weights in +-0.3, channel `wide`
 * 27x) -> GlobalAveragePool -> Flatten -> Dense "fc" (3 classes). labelled_data feeds
 * channel `wide` 1/27 of the others' range, so every output channel spans alike and only
 * the weights' grid differs. */
static Model *dw_classifier(int wide)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Rng r;
    rng_seed(&r, 7);
    Shape xs = shape_of(3, (int64_t)6, (int64_t)6, (int64_t)6);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    tu_add_const_uniform(g, "dw.w", shape_of(4, (int64_t)6, (int64_t)1, (int64_t)3, (int64_t)3), &r,
              -0.3, 0.3);
    tu_add_const_uniform(g, "fc.w", shape_of(2, (int64_t)3, (int64_t)6), &r, -1.0, 1.0);
    for (int i = 0; i < 9; i++)
        param(m, "dw.w")[wide * 9 + i] *= 27.0f;
    int64_t k3[2] = { 3, 3 }, p1[4] = { 1, 1, 1, 1 };
    {
        const char *in[2] = { "x", "dw.w" };
        Attr a[3] = { attr_ints("kernel_shape", k3, 2), attr_ints("pads", p1, 4),
                      attr_int("group", 6) };
        tu_add_node(g, OP_CONV, "dw", in, 2, a, 3);
    }
    {
        const char *in[1] = { "dw" };
        tu_add_node(g, OP_GLOBALAVGPOOL, "gap", in, 1, NULL, 0);
    }
    {
        const char *in[1] = { "gap" };
        Attr a[1] = { attr_int("axis", 1) };
        tu_add_node(g, OP_FLATTEN, "flat", in, 1, a, 1);
    }
    {
        const char *in[2] = { "flat", "fc.w" };
        tu_add_node(g, OP_DENSE, "fc", in, 2, NULL, 0);
    }
    finish(m, "fc");
    return m;
}

/* x (4) -> Dense "fc" (3 classes): feature 0 spans +-1000 and weighs 1e-4 (scale: 1e5 on
 * every weight when big) */
static Model *dense_classifier(float scale)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Rng r;
    rng_seed(&r, 9);
    Shape xs = shape_of(1, (int64_t)4);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    tu_add_const_uniform(g, "fc.w", shape_of(2, (int64_t)3, (int64_t)4), &r, -1.0, 1.0);
    for (int o = 0; o < 3; o++) {
        param(m, "fc.w")[o * 4] = 1e-4f;
        for (int i = 0; i < 4; i++)
            param(m, "fc.w")[o * 4 + i] *= scale;
    }
    const char *in[2] = { "x", "fc.w" };
    tu_add_node(g, OP_DENSE, "fc", in, 2, NULL, 0);
    finish(m, "fc");
    return m;
}

/* n samples uniform in (-1, 1) (feature 0 of a rank-1 input: +-1000; channel `shrink` of
 * an image: +-1/27), labelled with the float model's argmax; the model calibrated on them
 * into qs (initialised here). */
static void labelled_data(Model *m, int64_t n, int shrink, Dataset *d, QuantState *qs)
{
    QsError err = { 0 };
    const Graph *g = &m->graph;
    Shape s = g->values[g->inputs[0]].shape;
    int64_t per = shape_span(&s, 1, s.ndim);
    s.dim[0] = n;
    memset(d, 0, sizeof *d);
    d->x[0] = tensor_new(DT_F32, s, &err);
    d->n_x = 1;
    Rng r;
    rng_seed(&r, 3);
    int64_t plane = s.ndim > 2 ? shape_span(&s, 2, s.ndim) : 1;
    for (int64_t i = 0; i < n * per; i++) {
        float v = (float)(2 * rng_uniform(&r) - 1);
        if (s.ndim == 2 && i % per == 0)
            v *= 1000.0f;
        if (s.ndim > 2 && (i % per) / plane == shrink)
            v /= 27.0f;
        tensor_f32(d->x[0])[i] = v;
    }
    FloatExec *fe;
    Executor ex = exec_float_new(g, &fe);
    const Tensor *in[1] = { d->x[0] }, *out[1];
    CHECK_OK(ex.forward(ex.self, in, out, NULL, NULL, &err), &err);
    d->y = tensor_new(DT_I64, shape_of(1, n), &err);
    int64_t C = out[0]->shape.dim[1];
    for (int64_t i = 0; i < n; i++) {
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            best = tensor_f32(out[0])[i * C + c] > tensor_f32(out[0])[i * C + best] ? c : best;
        ((int64_t *)d->y->data)[i] = best;
    }
    exec_float_free(fe);
    qstate_init(qs, g->n_nodes);
    Calibration cal;
    CHECK_OK(calib_run(g, d, 0, 64, 0.01, NULL, &cal, &err), &err);
    qstate_set_calibration(qs, &cal, "calib");
    qs->plan.mode = PREC_INT8_STATIC;
}

static const Finding *finding_of(const DiagReport *r, DiagKind kind, int node)
{
    for (int i = 0; i < r->n; i++)
        if (r->f[i].kind == kind && r->f[i].node == node)
            return &r->f[i];
    return NULL;
}

static bool run_diag(Model *m, QuantState *qs, const Dataset *d, DiagReport *r)
{
    QsError err = { 0 };
    SensContext c = { .qs = qs, .m = m, .d = d, .task = TASK_CLASSIFY, .batch = 64 };
    return CHECK_OK(diagnose_run(&c, &qs->plan, r, &err), &err);
}

static void test_weight_levels(void)
{
    Model *m = dw_classifier(4);
    Dataset d;
    QuantState qs;
    labelled_data(m, 300, 4, &d, &qs);
    int dw = graph_find_node(&m->graph, "dw");
    DiagReport r;
    /* per channel: nothing to say about the weights */
    if (run_diag(m, &qs, &d, &r)) {
        CHECK(r.scored && r.fp32_metric == 1.0);
        CHECK(finding_of(&r, DIAG_WEIGHT_LEVELS, dw) == NULL);
        diagnose_release(&r);
    }
    qs.plan.q.wgran_tensor = true;
    if (run_diag(m, &qs, &d, &r) && CHECK(r.n >= 1)) {
        const Finding *f = &r.f[0];
        CHECK(f->kind == DIAG_WEIGHT_LEVELS && f->node == dw);
        CHECK(f->n_channels == 1 && f->channels[0] == 4);
        CHECK(strstr(f->evidence, "channel 4") && strstr(f->evidence, "5 of 6 channels"));
        CHECK(strcmp(f->fix, "quant wgran=channel layer=dw") == 0);
        /* measured: the fixed plan is the per-channel one, which loses less */
        CHECK(f->measured && f->gain > 0 && r.base_metric < 1.0);
        CHECK(fabs(f->metric - (r.base_metric + f->gain)) < 1e-12);
        diagnose_release(&r);
    }
    /* the fix applied as a per-layer pin: the finding is gone, the metric is the measured */
    qs.plan.wgran[dw] = 0;
    if (run_diag(m, &qs, &d, &r)) {
        CHECK(finding_of(&r, DIAG_WEIGHT_LEVELS, dw) == NULL);
        diagnose_release(&r);
    }
    qstate_release(&qs);
    dataset_release(&d);
    model_free(m);
}

static void test_local_error(void)
{
    Model *m = dense_classifier(1.0f);
    Dataset d;
    QuantState qs;
    labelled_data(m, 300, -1, &d, &qs);
    int fc = graph_find_node(&m->graph, "fc");
    DiagReport r;
    /* the input step is 2000 / 255 = 7.8 while the useful features span +-1 */
    if (run_diag(m, &qs, &d, &r)) {
        const Finding *f = finding_of(&r, DIAG_LOCAL_ERROR, fc);
        if (CHECK(f != NULL)) {
            CHECK(strcmp(f->fix, "prec fc fp16") == 0);
            CHECK(f->measured && f->metric > r.base_metric);
            CHECK(f == &r.f[0]);
        }
        CHECK(finding_of(&r, DIAG_WEIGHT_LEVELS, fc) == NULL);
        diagnose_release(&r);
    }
    qstate_release(&qs);
    dataset_release(&d);
    model_free(m);
}

static void test_clipped_and_fp16(void)
{
    Model *m = dw_classifier(4);
    Dataset d;
    QuantState qs;
    labelled_data(m, 300, 4, &d, &qs);
    qs.plan.q.observer = OBS_PERCENTILE;
    qs.plan.q.pct = 90.0;
    DiagReport r;
    if (run_diag(m, &qs, &d, &r)) {
        const Finding *f = finding_of(&r, DIAG_CLIPPED, graph_find_node(&m->graph, "dw"));
        if (CHECK(f != NULL)) {
            CHECK(strcmp(f->fix, "quant observer=minmax") == 0);
            CHECK(f->measured);
        }
        diagnose_release(&r);
    }
    qstate_release(&qs);
    dataset_release(&d);
    model_free(m);

    m = dense_classifier(1e5f);
    labelled_data(m, 50, -1, &d, &qs);
    qs.plan.mode = PREC_FP16;
    int fc = graph_find_node(&m->graph, "fc");
    if (run_diag(m, &qs, &d, &r)) {
        const Finding *f = finding_of(&r, DIAG_FP16_OVERFLOW, fc);
        if (CHECK(f != NULL))
            CHECK(strcmp(f->fix, "prec fc fp32") == 0 && f->measured);
        diagnose_release(&r);
    }
    qstate_release(&qs);
    dataset_release(&d);
    model_free(m);
}

/* A variant's per-layer granularity goes to JSON and back; files without it still load. */
static void test_variant_wgran(void)
{
    QsError err = { 0 };
    Model *m = dw_classifier(4);
    Dataset d;
    QuantState qs;
    labelled_data(m, 20, 4, &d, &qs);
    int dw = graph_find_node(&m->graph, "dw");
    qs.plan.q.wgran_tensor = true;
    qs.plan.wgran[dw] = 0;
    CHECK(strcmp(plan_label(&qs.plan), "int8-static") != 0);
    CHECK(!plan_node_wgran_tensor(&qs.plan, dw));
    CHECK(plan_node_wgran_tensor(&qs.plan, graph_find_node(&m->graph, "fc")));
    qstate_variant_save(&qs, "v", &qs.plan);
    char *json = variants_to_json(m, &qs, &err);
    CHECK(json && strstr(json, "\"wgran_pins\""));
    QuantState back;
    qstate_init(&back, m->graph.n_nodes);
    if (CHECK(json != NULL) && CHECK_OK(variants_from_json(json, m, &back, &err), &err)) {
        const Variant *v = qstate_variant_find(&back, "v");
        CHECK(v && plan_equal(&v->plan, &qs.plan));
    }
    free(json);
    qstate_release(&back);
    qstate_init(&back, m->graph.n_nodes);
    CHECK_OK(variants_from_json("[{\"name\": \"old\", \"mode\": \"int8-static\", "
                                "\"wgran\": \"tensor\", \"pct\": 99.99, \"bits\": 8, "
                                "\"asym\": true}]", m, &back, &err), &err);
    const Variant *old = qstate_variant_find(&back, "old");
    CHECK(old && old->plan.wgran[dw] == -1 && plan_node_wgran_tensor(&old->plan, dw));
    expect_error("bad wgran pin",
                 variants_from_json("[{\"name\": \"x\", \"mode\": \"int8-static\", "
                                    "\"wgran\": \"tensor\", \"pct\": 99.99, \"bits\": 8, "
                                    "\"asym\": true, \"wgran_pins\": {\"dw\": \"row\"}}]",
                                    m, &back, &err),
                 &err, QS_EFORMAT, "wgran pin 'dw'");
    qstate_release(&back);
    qstate_release(&qs);
    dataset_release(&d);
    model_free(m);
}

/* QAT's weight FakeQuant follows the layer's own granularity, with the executor's scales
 * (the same rule, quant/wscale.h), bit for bit. */
static void test_qat_wgran(void)
{
    QsError err = { 0 };
    Model *m = dw_classifier(4);
    Dataset d;
    QuantState qs;
    labelled_data(m, 20, 4, &d, &qs);
    int dw = graph_find_node(&m->graph, "dw"), fc = graph_find_node(&m->graph, "fc");
    qs.plan.q.wgran_tensor = true;
    qs.plan.wgran[dw] = 0;
    QatGraph qg;
    QatGraphOpts o = { .scales = QAT_SCALES_EMA };
    if (CHECK_OK(qat_graph_build(&qg, m, &qs.plan, &qs.calib, &o, &err), &err)) {
        qat_graph_refresh_weights(&qg);
        for (int i = 0; i < qg.n_units; i++) {
            const QatUnit *u = &qg.units[i];
            const Tensor *sc = qg.g.values[u->wscale].data;
            WStats ws;
            if (!CHECK_OK(wstats_for_plan(&m->graph, &qs.plan, u->lin.head, &ws, &err), &err))
                continue;
            CHECK(tensor_numel(sc) == (u->lin.head == dw ? 6 : 1));
            CHECK(ws.per_tensor == (u->lin.head == fc));
            for (int64_t c = 0; c < tensor_numel(sc); c++)
                CHECK(tensor_f32(sc)[c] == ws.ch[c].scale);
            wstats_release(&ws);
        }
        qat_graph_release(&qg);
    }
    qstate_release(&qs);
    dataset_release(&d);
    model_free(m);
}

int main(void)
{
    test_wstats();
    test_weight_levels();
    test_local_error();
    test_clipped_and_fp16();
    test_variant_wgran();
    test_qat_wgran();
    return test_summary("diagnose");
}
