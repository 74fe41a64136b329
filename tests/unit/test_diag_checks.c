/* diagnose's collapse and calibration checks (ptq/diag_collapse.h, ptq/diag_calib.h) and
 * calibration convergence (quant/convergence.h), on hand-built models whose every figure
 * is known by hand.
 *
 * Convergence: x (4) -> Dense "fc" (identity weights: its outputs are its inputs exactly)
 * -> Relu "act", on 64 samples whose features are -1, 1, 0.5, 0: every sample sets the
 * same min and max, except (in the outlier split) sample #37 whose third feature is 9.
 * Collapse: x (3) -> Dense "fc" (identity), 3 classes; sample 0 is (1, 0.5, 0.25) and
 * sample i >= 1 holds 10 at feature i % 3 and 2 elsewhere. Calibrated on sample 0 alone the
 * int8 range is [0, 1], every other sample quantizes to (1, 1, 1) and its top-1 is class 0:
 * one class for all 300 samples where the float model predicts each class 100 times.
 * Calibrated on all of them nothing collapses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/model.h"
#include "ops/op.h"
#include "ptq/diag_calib.h"
#include "ptq/diagnose.h"
#include "quant/convergence.h"
#include "test_graph.h"
#include "test_util.h"

/* x (k) -> Dense "fc" with identity weights, then Relu "act" when relu. */
static Model *identity_model(int k, bool relu)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(1, (int64_t)k);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    float *w = calloc((size_t)(k * k), sizeof *w);
    for (int i = 0; i < k; i++)
        w[i * k + i] = 1.0f;
    tu_add_const_values(g, "fc.w", shape_of(2, (int64_t)k, (int64_t)k), w);
    free(w);
    const char *in[2] = { "x", "fc.w" };
    tu_add_node(g, OP_DENSE, "fc", in, 2, NULL, 0);
    if (relu) {
        const char *a[1] = { "fc" };
        tu_add_node(g, OP_RELU, "act", a, 1, NULL, 0);
    }
    CHECK_OK(graph_add_output(g, relu ? "act" : "fc", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
    return m;
}

/* n samples of k features, v[i * k + j]; labels when y (may be NULL). */
static void make_split(Dataset *d, int64_t n, int k, const float *v, const int64_t *y)
{
    QsError err = { 0 };
    memset(d, 0, sizeof *d);
    d->x[0] = tensor_new(DT_F32, shape_of(2, n, (int64_t)k), &err);
    d->n_x = 1;
    memcpy(tensor_f32(d->x[0]), v, (size_t)(n * k) * sizeof *v);
    if (y) {
        d->y = tensor_new(DT_I64, shape_of(1, n), &err);
        memcpy(d->y->data, y, (size_t)n * sizeof *y);
    }
}

/* 64 samples (-1, 1, 0.5, 0); sample `outlier` (-1: none) has 9 as its third feature. */
static void range_split(Dataset *d, int outlier)
{
    float v[64 * 4];
    for (int i = 0; i < 64; i++) {
        v[i * 4 + 0] = -1.0f;
        v[i * 4 + 1] = 1.0f;
        v[i * 4 + 2] = i == outlier ? 9.0f : 0.5f;
        v[i * 4 + 3] = 0.0f;
    }
    make_split(d, 64, 4, v, NULL);
}

static const RangeTrack *track_of(const Convergence *cv, const Graph *g, const char *node)
{
    int i = graph_find_node(g, node);
    for (int k = 0; k < cv->n_tracks; k++)
        if (cv->t[k].node == i)
            return &cv->t[k];
    return NULL;
}

static void test_convergence(void)
{
    QsError err = { 0 };
    Model *m = identity_model(4, true);
    const Graph *g = &m->graph;
    ObserverOpts oo = { .pct = 99.99, .bits = 8, .symmetric = false };
    Dataset d;
    Convergence cv;
    char buf[256];
    range_split(&d, 37);
    /* batches of 5 cut across the points 1, 2, 4, ..., 64 */
    if (CHECK_OK(convergence_run(g, &d, 0, 5, OBS_MINMAX, &oo, 0.01, NULL, &cv, &err), &err)) {
        static const int64_t points[] = { 1, 2, 4, 8, 16, 32, 64 };
        CHECK(cv.n == 64 && cv.n_points == 7);
        for (int p = 0; p < 7 && p < cv.n_points; p++)
            CHECK(cv.points[p] == points[p]);
        const RangeTrack *fc = track_of(&cv, g, "fc"), *act = track_of(&cv, g, "act");
        if (CHECK(fc && act)) {
            CHECK(fc->valid && fc->min == -1.0 && fc->max == 9.0);
            CHECK(fc->max_sample == 37 && fc->max_next == 1.0);
            CHECK(fc->min_sample == 0 && fc->min_next == -1.0);
            for (int p = 0; p < 6; p++)
                CHECK(fc->lo[p] == -1.0f && fc->hi[p] == 1.0f);
            CHECK(fc->lo[6] == -1.0f && fc->hi[6] == 9.0f);
            /* the max moved from 1 to 9 in the last doubling: 8 of the width 10 */
            CHECK(fc->moved == 8.0 / 10.0);
            CHECK(range_track_moving(fc, CONV_MOVING_TOL));
            CHECK(range_track_max_outlier(fc, CONV_OUTLIER_GAP));
            CHECK(!range_track_min_outlier(fc, CONV_OUTLIER_GAP));
            CHECK(strcmp(range_track_advice(fc, OBS_MINMAX, cv.n, CONV_MOVING_TOL,
                                            CONV_OUTLIER_GAP, buf, sizeof buf),
                         "look at sample #37; quant observer=percentile (or mse) ignores one "
                         "sample's extreme; calibrate n=128") == 0);
            /* Relu: min 0 from sample 0 on, max 9 by sample 37 */
            CHECK(act->min == 0.0 && act->max == 9.0 && act->max_sample == 37);
            CHECK(act->moved == 8.0 / 9.0);
        }
        convergence_release(&cv);
    }
    dataset_release(&d);

    /* converged: every sample sets both ends; nothing moves, no outlier */
    range_split(&d, -1);
    if (CHECK_OK(convergence_run(g, &d, 0, 64, OBS_MINMAX, &oo, 0.01, NULL, &cv, &err), &err)) {
        const RangeTrack *fc = track_of(&cv, g, "fc");
        if (CHECK(fc)) {
            CHECK(fc->min == -1.0 && fc->max == 1.0 && fc->moved == 0.0);
            CHECK(fc->max_sample == 0 && fc->max_next == 1.0);
            CHECK(!range_track_moving(fc, CONV_MOVING_TOL));
            CHECK(!range_track_max_outlier(fc, CONV_OUTLIER_GAP) &&
                  !range_track_min_outlier(fc, CONV_OUTLIER_GAP));
            CHECK(strcmp(range_track_advice(fc, OBS_MINMAX, cv.n, CONV_MOVING_TOL,
                                            CONV_OUTLIER_GAP, buf, sizeof buf),
                         "converged") == 0);
        }
        convergence_release(&cv);
    }
    /* n = 3: points 1, 2, 3 */
    if (CHECK_OK(convergence_run(g, &d, 3, 2, OBS_MINMAX, &oo, 0.01, NULL, &cv, &err), &err)) {
        CHECK(cv.n == 3 && cv.n_points == 3 && cv.points[0] == 1 && cv.points[1] == 2 &&
              cv.points[2] == 3);
        convergence_release(&cv);
    }
    expect_error("batch 0", convergence_run(g, &d, 0, 0, OBS_MINMAX, &oo, 0.01, NULL, &cv, &err),
                 &err, QS_EINVAL, "batch=0");
    dataset_release(&d);
    model_free(m);
}

static const Finding *finding_of(const DiagReport *r, DiagKind kind)
{
    for (int i = 0; i < r->n; i++)
        if (r->f[i].kind == kind)
            return &r->f[i];
    return NULL;
}

/* diagnose of the Dense + Relu model calibrated on split `cal_d`, the calibration checks
 * fed `check_d`. */
static bool diag_ranges(Model *m, const Dataset *cal_d, const Dataset *check_d, DiagReport *r)
{
    QsError err = { 0 };
    QuantState qs;
    qstate_init(&qs, m->graph.n_nodes);
    Calibration cal;
    CHECK_OK(calib_run(&m->graph, cal_d, 0, 16, 0.01, NULL, &cal, &err), &err);
    qstate_set_calibration(&qs, &cal, "calib");
    qs.plan.mode = PREC_INT8_STATIC;
    SensContext c = { .qs = &qs, .m = m, .task = TASK_CLASSIFY, .batch = 16,
                      .calib_d = check_d };
    bool ok = CHECK_OK(diagnose_run(&c, &qs.plan, r, &err), &err);
    qstate_release(&qs);
    return ok;
}

static void test_diagnose_ranges(void)
{
    Model *m = identity_model(4, true);
    int act = graph_find_node(&m->graph, "act");
    Dataset d, clean;
    DiagReport r;
    range_split(&d, 37);
    range_split(&clean, -1);
    if (diag_ranges(m, &d, &d, &r)) {
        const Finding *o = finding_of(&r, DIAG_OUTLIER_SAMPLE), *mv = finding_of(&r,
                                                                          DIAG_RANGE_MOVING);
        if (CHECK(o && mv)) {
            CHECK(o->node == act && strstr(o->evidence, "sample #37 of split calib alone "
                                                        "sets the max of its range, 9,"));
            CHECK(strcmp(o->fix, "quant observer=percentile (or mse), or look at sample #37 "
                                 "of calib") == 0);
            CHECK(o->severity == 8.0 / 9.0);
            CHECK(mv->node == act && strstr(mv->evidence, "1 of 1 quantized ranges") &&
                  strstr(mv->evidence, "from 32 to 64 calibration samples"));
            /* the split holds 64 samples: twice as many must be registered first */
            CHECK(strcmp(mv->fix, "register more calibration samples (data calib ...), then "
                                  "calibrate n=128") == 0);
        }
        CHECK(!r.collapse.checked); /* no measuring split */
        diagnose_release(&r);
    }
    /* converged: neither finding */
    if (diag_ranges(m, &clean, &clean, &r)) {
        CHECK(!finding_of(&r, DIAG_OUTLIER_SAMPLE) && !finding_of(&r, DIAG_RANGE_MOVING));
        diagnose_release(&r);
    }
    /* the split no longer holds the calibration's samples: not judged */
    if (diag_ranges(m, &d, &clean, &r)) {
        CHECK(!finding_of(&r, DIAG_OUTLIER_SAMPLE) && !finding_of(&r, DIAG_RANGE_MOVING));
        diagnose_release(&r);
    }
    dataset_release(&d);
    dataset_release(&clean);
    model_free(m);
}

/* The collapse split: 300 samples, see the file comment; labels the float model's top-1. */
static void collapse_split(Dataset *d)
{
    float v[300 * 3];
    int64_t y[300];
    v[0] = 1.0f;
    v[1] = 0.5f;
    v[2] = 0.25f;
    y[0] = 0;
    for (int i = 1; i < 300; i++) {
        for (int j = 0; j < 3; j++)
            v[i * 3 + j] = j == i % 3 ? 10.0f : 2.0f;
        y[i] = i % 3;
    }
    make_split(d, 300, 3, v, y);
}

static bool diag_collapse(Model *m, const Dataset *d, int64_t cal_n, DiagReport *r)
{
    QsError err = { 0 };
    QuantState qs;
    qstate_init(&qs, m->graph.n_nodes);
    Calibration cal;
    CHECK_OK(calib_run(&m->graph, d, cal_n, 64, 0.01, NULL, &cal, &err), &err);
    qstate_set_calibration(&qs, &cal, "calib");
    qs.plan.mode = PREC_INT8_STATIC;
    SensContext c = { .qs = &qs, .m = m, .d = d, .task = TASK_CLASSIFY, .batch = 64 };
    bool ok = CHECK_OK(diagnose_run(&c, &qs.plan, r, &err), &err);
    qstate_release(&qs);
    return ok;
}

static void test_collapse(void)
{
    Model *m = identity_model(3, false);
    int fc = graph_find_node(&m->graph, "fc");
    Dataset d;
    DiagReport r;
    collapse_split(&d);
    if (diag_collapse(m, &d, 1, &r)) {
        const CollapseStats *s = &r.collapse;
        CHECK(s->checked && s->collapsed && s->one_class && !s->entropy_low);
        CHECK(s->n_classes == 3 && s->samples == 300);
        CHECK(s->top_class == 0 && s->top_share == 1.0);
        CHECK(s->top_class_fp32 == 0 && s->top_share_fp32 == 100.0 / 300.0);
        /* 299 samples of equal logits: entropy ln 3 each; the float model is sure */
        CHECK(s->entropy > s->entropy_fp32);
        /* every value above 1 + half a step is clipped: all but sample 0's */
        CHECK(s->clipped_node == fc && s->clipped_share == 897.0 / 900.0);
        CHECK(r.fp32_metric == 1.0 && fabs(r.base_metric - 100.0 / 300.0) < 1e-12);
        const Finding *f = finding_of(&r, DIAG_COLLAPSE);
        if (CHECK(f != NULL)) {
            /* first after the measured fixes that gain (fc at fp16 skips the clipped input
             * grid: local-error's fix), before any other advice */
            CHECK(f == &r.f[r.n > 1 && r.f[0].measured && r.f[0].gain > 0 ? 1 : 0]);
            CHECK(f->node == fc && f->n_channels == 1 && f->channels[0] == 0);
            CHECK(strstr(f->evidence, "int8-static predicts class 0 for 100.0% of the 300 "
                                      "samples (the float model's most frequent class, 0, "
                                      "33.3%)"));
            CHECK(strstr(f->evidence, "99.7% of fc's float outputs on the split fall outside"));
            CHECK(strncmp(f->fix, "recalibrate on more", 19) == 0);
        }
        diagnose_release(&r);
    }
    /* calibrated on every sample: the classes stay apart */
    if (diag_collapse(m, &d, 0, &r)) {
        const CollapseStats *s = &r.collapse;
        CHECK(s->checked && !s->collapsed);
        CHECK(s->top_share == 100.0 / 300.0 && s->top_share_fp32 == 100.0 / 300.0);
        CHECK(s->clipped_share == 0.0);
        CHECK(finding_of(&r, DIAG_COLLAPSE) == NULL);
        diagnose_release(&r);
    }
    dataset_release(&d);
    model_free(m);
}

int main(void)
{
    test_convergence();
    test_diagnose_ranges();
    test_collapse();
    return test_summary("diag_checks");
}
