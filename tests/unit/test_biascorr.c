/* Empirical bias correction: on a hand case the measured correction is the mean weight
 * error times the mean input, and once applied the unit's mean pre-activation error over the
 * data it was measured on is ~0; sequentially, a second layer's mean error on the corrected
 * model's own inputs is ~0 too; int8-dyn likewise; the session state keeps the correction
 * with its plan, in variants and in the .qsm variant JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ptq/biascorr.h"
#include "ptq/qstate.h"
#include "run/run.h"
#include "native/spec.h"
#include "test_util.h"
#include "native/variants.h"

static float *param(const Model *m, const char *name)
{
    int v = graph_find_value(&m->graph, name);
    return v >= 0 ? tensor_f32(m->graph.values[v].data) : NULL;
}

static Model *make(const char *json)
{
    QsError err = { 0 };
    Model *m = spec_parse(json, "inline", 3, &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    return m;
}

/* Per-channel mean of (float - quantized) pre-activation of unit `head` over x, with the
 * unit fed what the quantized model q gives it (its `in_node`'s output, or x itself when
 * in_node < 0) and the float reference at value `pre`. */
static void mean_error(const Model *m, QModel *q, int head, int in_node, int pre,
                       const Tensor *x, int64_t oc, double *mean)
{
    QsError err = { 0 };
    const Graph *g = &m->graph;
    Run r;
    run_init(&r, g);
    const Tensor *in[1] = { x };
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    Tensor xin;
    const Tensor *feed = x;
    if (in_node >= 0) {
        /* the quantized model's own value: the producing unit reads the graph input, so
         * running it alone on x is exactly what the whole quantized run gives it */
        CHECK_OK(tensor_init(&xin, DT_F32, r.vals[g->nodes[in_node].out].shape, &err), &err);
        CHECK_OK(qmodel_run_node_local(q, in_node, in, &xin, &err), &err);
        feed = &xin;
    }
    Tensor zq;
    CHECK_OK(tensor_init(&zq, DT_F32, r.vals[g->nodes[head].out].shape, &err), &err);
    CHECK_OK(qmodel_unit_preact(q, head, feed, &zq, &err), &err);
    const float *zf = tensor_f32(&r.vals[pre]);
    int64_t n = tensor_numel(&zq);
    for (int64_t c = 0; c < oc; c++)
        mean[c] = 0;
    for (int64_t i = 0; i < n; i++)
        mean[i % oc] += (double)zf[i] - tensor_f32(&zq)[i];
    for (int64_t c = 0; c < oc; c++)
        mean[c] /= (double)(n / oc);
    tensor_release(&zq);
    if (in_node >= 0)
        tensor_release(&xin);
    run_release(&r);
}

/* The hand case: one Dense, per-tensor int8-static weights with step 0.01 and inputs on
 * the input grid (step 0.01), so the only error is the weight rounding:
 *   row 0: 0.004 -> 0 (error +0.004 on x1), row 1: 0.016 -> 0.02 (error -0.004 on x1),
 *   row 2: 0.332 -> 0.33 (error +0.002 on x2).
 * mean(x1) = mean(x2) = 1.25, so corr = (0.005, -0.005, 0.0025): whole numbers of the int32
 * bias step s_x s_w = 1e-4, so the corrected bias is exact. */
static void test_hand(void)
{
    QsError err = { 0 };
    Model *m = make("{\"input\": {\"shape\": [4]}, \"layers\": ["
                    "{\"kind\": \"dense\", \"name\": \"fc\", \"out\": 3}]}");
    if (!m)
        return;
    static const float w[12] = { 1.27f, 0.004f, 0, 0, 0.5f, 0.016f, 0, 0, 0, 0, 0.332f, 0 };
    static const float b[3] = { 0.1f, -0.2f, 0.05f };
    memcpy(param(m, "fc.weight"), w, sizeof w);
    memcpy(param(m, "fc.bias"), b, sizeof b);
    /* x3 = 2.55 sets the input range [0, 2.55]: scale 0.01; its weights are 0 */
    static const float xs[16] = { 1, 1, 1, 2.55f, 2, 2, 0.5f, 0, 0.5f, 1.5f, 2, 0,
                                  1.5f, 0.5f, 1.5f, 0 };
    Tensor *x = tensor_new(DT_F32, shape_of(2, (int64_t)4, (int64_t)4), &err);
    memcpy(tensor_f32(x), xs, sizeof xs);
    Dataset d = { 0 };
    d.x[0] = x;
    d.n_x = 1;
    Calibration cal;
    CHECK_OK(calib_run(&m->graph, &d, 0, 4, 0.01, NULL, &cal, &err), &err);
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    p.q.wgran_tensor = true;
    BiasCorr c;
    BiasCorrReport rep;
    if (CHECK_OK(biascorr_run(m, &p, &cal, &d, 0, 3, NULL, &c, &rep, &err), &err)) {
        int fc = graph_find_node(&m->graph, "fc");
        CHECK(rep.n_units == 1 && rep.units[0].node == fc && rep.units[0].channels == 3);
        CHECK(c.n_nodes == m->graph.n_nodes && c.len[fc] == 3 && plan_equal(&c.plan, &p));
        CHECK(c.gen != 0 && c.samples == 4);
        /* the dequantized weights carry the float scale's own rounding (1.27f / 127 is
         * 0.01 within 1e-9): 1e-6 covers it and the float sums */
        static const float want[3] = { 0.005f, -0.005f, 0.0025f };
        expect_close("hand correction", c.v[fc], want, 3, 1e-6, 0);
        double mean[3];
        QModel *q;
        CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err);
        mean_error(m, q, fc, -1, m->graph.nodes[fc].out, x, 3, mean);
        CHECK(fabs(mean[0] - 0.005) < 1e-6 && fabs(mean[1] + 0.005) < 1e-6);
        qmodel_free(q);
        CHECK_OK(qmodel_build_ex(m, &p, &cal, (const float *const *)c.v, &q, &err), &err);
        mean_error(m, q, fc, -1, m->graph.nodes[fc].out, x, 3, mean);
        /* the int32 bias step is 1e-4 and every correction is a whole number of steps */
        for (int k = 0; k < 3; k++)
            CHECK(fabs(mean[k]) < 1e-6);
        /* the integer kernel carries the correction: its output is the corrected
         * pre-activation rounded to the output grid */
        Executor ex = qmodel_executor(q);
        const Tensor *in[1] = { x }, *outs[1];
        Tensor zq;
        CHECK_OK(tensor_init(&zq, DT_F32, shape_of(2, (int64_t)4, (int64_t)3), &err), &err);
        CHECK_OK(qmodel_unit_preact(q, fc, x, &zq, &err), &err);
        CHECK_OK(ex.forward(ex.self, in, outs, NULL, NULL, &err), &err);
        double step = qmodel_layer(q, fc)->act.scale;
        for (int64_t i = 0; i < 12; i++)
            CHECK(fabs(tensor_f32(outs[0])[i] - tensor_f32(&zq)[i]) <= 0.5 * step + 1e-6);
        tensor_release(&zq);
        qmodel_free(q);
        free(rep.units);
        biascorr_release(&c);
        CHECK(!biascorr_active(&c));
    }
    /* a plan without int8 layers has nothing to correct */
    p.mode = PREC_FP16;
    expect_error("fp16 plan", biascorr_run(m, &p, &cal, &d, 0, 3, NULL, &c, NULL, &err), &err,
                 QS_EINVAL, "no int8");
    CHECK(!biascorr_active(&c));
    plan_release(&p);
    calib_release(&cal);
    tensor_free(x);
    model_free(m);
}

static Tensor *ramp(int64_t n, int64_t k, double f)
{
    QsError err = { 0 };
    Tensor *x = tensor_new(DT_F32, shape_of(2, n, k), &err);
    for (int64_t i = 0; i < n * k; i++)
        tensor_f32(x)[i] = (float)(1.0 + sin(f * (double)i + 0.3 * (double)(i % k)));
    return x;
}

/* Dense-ReLU-Dense, per-tensor, 4 bits: the second layer is measured on the inputs the
 * quantized (and already corrected) first layer gives it; after the correction its mean
 * pre-activation error on those inputs is ~0. int8-dyn likewise. */
static void test_sequential(PrecKind mode)
{
    QsError err = { 0 };
    Model *m = make("{\"input\": {\"shape\": [6]}, \"layers\": ["
                    "{\"kind\": \"dense\", \"name\": \"fc1\", \"out\": 5},"
                    "{\"kind\": \"relu\", \"name\": \"act\"},"
                    "{\"kind\": \"dense\", \"name\": \"fc2\", \"out\": 3}]}");
    if (!m)
        return;
    param(m, "fc1.weight")[0] = 3.0f; /* one large weight: coarse per-tensor steps */
    Tensor *x = ramp(40, 6, 0.71);
    Dataset d = { 0 };
    d.x[0] = x;
    d.n_x = 1;
    Calibration cal;
    CHECK_OK(calib_run(&m->graph, &d, 0, 16, 0.01, NULL, &cal, &err), &err);
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = mode;
    p.q.wgran_tensor = true;
    p.q.bits = 4;
    BiasCorr c;
    if (CHECK_OK(biascorr_run(m, &p, &cal, &d, 0, 16, NULL, &c, NULL, &err), &err)) {
        int fc1 = graph_find_node(&m->graph, "fc1"), fc2 = graph_find_node(&m->graph, "fc2");
        CHECK(c.v[fc1] && c.v[fc2] && c.len[fc2] == 3);
        QModel *q;
        CHECK_OK(qmodel_build_ex(m, &p, &cal, (const float *const *)c.v, &q, &err), &err);
        double mean[5], before[3];
        /* int8-static quantizes b' + corr to the int32 grid s_in s_w, and b' alone was on it
         * before: the two roundings leave up to one grid step of the mean; int8-dyn adds the
         * correction in float (2e-5: float sums over 40 samples) */
        double tol1 = 2e-5, tol2 = 2e-5;
        if (mode == PREC_INT8_STATIC) {
            const ActStats *xin = &cal.stats[m->graph.inputs[0]];
            double s_x = quant_params((float)xin->min, (float)xin->max, 4, false).scale;
            tol1 += s_x * qmodel_layer(q, fc1)->wscales[0];
            tol2 += qmodel_layer(q, fc1)->act.scale * qmodel_layer(q, fc2)->wscales[0];
        }
        mean_error(m, q, fc1, -1, m->graph.nodes[fc1].out, x, 5, mean);
        for (int k = 0; k < 5; k++)
            CHECK(fabs(mean[k]) <= tol1);
        /* fc2 fed the corrected quantized fc1 unit's output (fc1 + act, one unit) */
        mean_error(m, q, fc2, fc1, m->graph.nodes[fc2].out, x, 3, mean);
        for (int k = 0; k < 3; k++)
            CHECK(fabs(mean[k]) <= tol2);
        qmodel_free(q);
        /* without fc2's own correction the error is not ~0: the test can fail */
        free(c.v[fc2]);
        c.v[fc2] = NULL;
        CHECK_OK(qmodel_build_ex(m, &p, &cal, (const float *const *)c.v, &q, &err), &err);
        mean_error(m, q, fc2, fc1, m->graph.nodes[fc2].out, x, 3, before);
        CHECK(fabs(before[0]) + fabs(before[1]) + fabs(before[2]) > 3 * tol2);
        qmodel_free(q);
        biascorr_release(&c);
    }
    plan_release(&p);
    calib_release(&cal);
    tensor_free(x);
    model_free(m);
}

/* The session state: a correction applies to its own plan only, goes into variants and
 * the .qsm variant JSON, and a new calibration drops it. */
static void test_state(void)
{
    QsError err = { 0 };
    Model *m = make("{\"input\": {\"shape\": [6]}, \"layers\": ["
                    "{\"kind\": \"dense\", \"name\": \"fc1\", \"out\": 5},"
                    "{\"kind\": \"relu\", \"name\": \"act\"},"
                    "{\"kind\": \"dense\", \"name\": \"fc2\", \"out\": 3}]}");
    if (!m)
        return;
    param(m, "fc1.weight")[0] = 3.0f;
    Tensor *x = ramp(40, 6, 0.37);
    Dataset d = { 0 };
    d.x[0] = x;
    d.n_x = 1;
    QuantState qs;
    qstate_init(&qs, m->graph.n_nodes);
    Calibration cal;
    CHECK_OK(calib_run(&m->graph, &d, 0, 16, 0.01, NULL, &cal, &err), &err);
    qstate_set_calibration(&qs, &cal, "calib");
    qs.plan.mode = PREC_INT8_STATIC;
    qs.plan.q.wgran_tensor = true;
    QModel *q0, *q1;
    CHECK_OK(qstate_qmodel(&qs, m, &qs.plan, NULL, &q0, &err), &err);
    BiasCorr c;
    CHECK_OK(biascorr_run(m, &qs.plan, &qs.calib, &d, 0, 16, NULL, &c, NULL, &err), &err);
    qstate_set_bias_corr(&qs, &c);
    CHECK(biascorr_active(&qs.corr) && !biascorr_active(&c));
    CHECK(qstate_bias_corr_for(&qs, &qs.plan) == &qs.corr);
    /* the cache tells the corrected lowering from the plain one */
    CHECK_OK(qstate_qmodel(&qs, m, &qs.plan, NULL, &q1, &err), &err);
    CHECK(q1 != q0);
    const Tensor *in[1] = { x }, *o0[1], *o1[1];
    Executor e1 = qmodel_executor(q1);
    CHECK_OK(e1.forward(e1.self, in, o1, NULL, NULL, &err), &err);
    Tensor *y1 = tensor_clone(o1[0], &err);
    Executor e0 = qmodel_executor(q0);
    CHECK_OK(e0.forward(e0.self, in, o0, NULL, NULL, &err), &err);
    CHECK(memcmp(o0[0]->data, y1->data, tensor_bytes(y1)) != 0);
    /* another plan is not corrected */
    Plan other;
    plan_copy(&other, &qs.plan);
    other.q.wgran_tensor = false;
    CHECK(qstate_bias_corr_for(&qs, &other) == NULL);
    plan_release(&other);
    /* variants keep it; use brings it back */
    qstate_variant_save(&qs, "bc", &qs.plan);
    const Variant *v = qstate_variant_find(&qs, "bc");
    CHECK(v && biascorr_active(&v->corr) && v->corr.gen == qs.corr.gen);
    /* the .qsm variant JSON carries it, exactly */
    char *json = variants_to_json(m, &qs, &err);
    QuantState back;
    qstate_init(&back, m->graph.n_nodes);
    if (CHECK(json != NULL) && CHECK_OK(variants_from_json(json, m, &back, &err), &err)) {
        const Variant *bv = qstate_variant_find(&back, "bc");
        int fc2 = graph_find_node(&m->graph, "fc2");
        if (CHECK(bv && biascorr_active(&bv->corr) && bv->corr.len[fc2] == 3))
            CHECK(memcmp(bv->corr.v[fc2], qs.corr.v[fc2], 3 * sizeof(float)) == 0);
    }
    free(json);
    qstate_release(&back);
    BiasCorr none = biascorr_none();
    qstate_set_bias_corr(&qs, &none);
    CHECK(!biascorr_active(&qs.corr));
    CHECK(qstate_variant_use(&qs, "bc") && biascorr_active(&qs.corr));
    CHECK_OK(qstate_qmodel(&qs, m, &qs.plan, NULL, &q1, &err), &err);
    e1 = qmodel_executor(q1);
    CHECK_OK(e1.forward(e1.self, in, o1, NULL, NULL, &err), &err);
    CHECK(memcmp(o1[0]->data, y1->data, tensor_bytes(y1)) == 0);
    /* a damaged bias_corr fails the load */
    QuantState bad;
    qstate_init(&bad, m->graph.n_nodes);
    expect_error("short bias_corr",
                 variants_from_json("[{\"name\": \"x\", \"mode\": \"int8-static\", \"wgran\": "
                                    "\"tensor\", \"pct\": 99.99, \"bits\": 8, \"asym\": true, "
                                    "\"bias_corr\": {\"fc2\": [1, 2]}}]", m, &bad, &err),
                 &err, QS_EFORMAT, "bias_corr of 'fc2'");
    qstate_release(&bad);
    /* a new calibration drops the correction */
    CHECK_OK(calib_run(&m->graph, &d, 20, 16, 0.01, NULL, &cal, &err), &err);
    qstate_set_calibration(&qs, &cal, "calib");
    CHECK(!biascorr_active(&qs.corr));
    tensor_free(y1);
    qstate_release(&qs);
    tensor_free(x);
    model_free(m);
}

int main(void)
{
    test_hand();
    test_sequential(PREC_INT8_STATIC);
    test_sequential(PREC_INT8_DYN);
    test_state();
    return test_summary("biascorr");
}
