/* Taps (ptq/taps.h, qexec/qexec_rerun.h): the tie test of one accumulator under each
 * requantization rule on hand-worked values; a unit's accumulators and every target's rule
 * against the executor's own codes (exact); the ties count of a pair of targets against two
 * executors; and the classification of hand-made dumps of a two-conv model: identical,
 * another target's run (ties, reproduced by that target), one element moved by three steps
 * (the first divergence; the next layer, rerun on it, identical), a missing array, an index
 * key and a wrongly shaped array; and an Add and a GlobalAveragePool against their
 * targets' rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "ops/op.h"
#include "ptq/taps.h"
#include "qexec/qexec_rerun.h"
#include "qexec/qexec_view.h"
#include "quant/calib.h"
#include "test_util.h"

/* ---- one accumulator ----------------------------------------------------------------- */

static void tie(int32_t acc, Requant r, int32_t z, int32_t lo, int32_t hi, bool on, bool near)
{
    bool o, n;
    taps_tie_of(acc, &r, z, lo, hi, &o, &n);
    if (!CHECK(o == on && n == near))
        fprintf(stderr, "  acc %d rule %d: on %d near %d, expected %d %d\n", acc, r.rule, o, n,
                on, near);
}

static void test_tie_of(void)
{
    /* qscope's Q31 rule, m = 1/2 (m0 = 2^30, shift 0): acc / 2 */
    Requant q = quant_requant_make(0.5);
    CHECK(q.m0 == 1 << 30 && q.shift == 0);
    tie(3, q, 0, -128, 127, true, true);    /* 1.5 */
    tie(-3, q, 0, -128, 127, true, true);   /* -1.5 */
    tie(4, q, 0, -128, 127, false, false);  /* 2: half a step from a tie */
    tie(3, q, 0, -128, 1, false, false);    /* 1.5 between 1 and 2 > hi: the clamp decides */
    tie(3, q, -127, -128, 127, true, true); /* codes -126 and -125: inside */
    tie(0, q, 0, -128, 127, false, false);
    /* m = 1/2 + 2^-31 (m0 = 2^30 + 1): acc = 3 gives 1.5 + 3 2^-31, within |acc| = 3 units
     * of 2^-31 of the tie: near, not on */
    Requant q1 = { .m0 = (1 << 30) + 1, .shift = 0, .rule = QRQ_Q31_EVEN };
    tie(3, q1, 0, -128, 127, false, true);
    /* TFLite's rule, m = 1/4 (m0 = 2^30, right shift 1): the high product rounds to half a
     * step first. 6 -> 1.5 is on; 5 -> 1.25: x = round(2.5) = 3 (away), 3 / 2 = 1.5 is a tie
     * the second rounding sees, and 1.25 lies 2^30 units of 2^-32 (a quarter step) from
     * 1.5: within the first rounding's half unit */
    Requant g = quant_requant_make_gemmlowp(0.25);
    CHECK(g.m0 == 1 << 30 && g.shift == 1);
    tie(6, g, 0, -128, 127, true, true);
    tie(5, g, 0, -128, 127, true, true);
    tie(4, g, 0, -128, 127, false, false);   /* 1.0 */
    tie(-6, g, 0, -128, 127, true, true);    /* -1.5 */
    /* XNNPACK's float rule, scale 1/2: 3 -> 1.5 on; 2^24 + 1 rounds to 2^24 as a float
     * first: (float)acc / 2 = 2^23, no tie, but a float's last place there is a whole
     * step, so it is near one (and with a clamp of int8, neither) */
    Requant f = quant_requant_make_fp32(0.5f);
    tie(3, f, 0, -128, 127, true, true);
    tie(4, f, 0, -128, 127, false, false);
    tie((1 << 24) + 1, f, 0, INT32_MIN + 1, INT32_MAX - 1, false, true);
    tie((1 << 24) + 1, f, 0, -128, 127, false, false);
    /* the rules round 2.5 apart: qscope and the float rule to even (2), TFLite away (3) */
    CHECK(quant_requant_rule(5, &q, 0, -128, 127) == 2);
    CHECK(quant_requant_rule(5, &f, 0, -128, 127) == 2);
    Requant g2 = quant_requant_make_gemmlowp(0.5);
    CHECK(quant_requant_rule(5, &g2, 0, -128, 127) == 3);
}

/* ---- a model of two convolutions ---------------------------------------------------------- */

static void add_const(Graph *g, const char *name, Shape s, Rng *r, double amp)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)((2.0 * rng_uniform(r) - 1.0) * amp);
    CHECK_OK(graph_add_const(g, name, t, true, &err), &err);
}

static void add_conv(Graph *g, const char *name, const char *x, const char *w, const char *b,
                     const char *y)
{
    QsError err = { 0 };
    const char *in[3] = { x, w, b };
    int64_t k[2] = { 3, 3 }, pads[4] = { 1, 1, 1, 1 };
    Attr a[2] = { attr_ints("kernel_shape", k, 2), attr_ints("pads", pads, 4) };
    CHECK_OK(graph_add_node(g, OP_CONV, name, in, 3, y, a, 2, &err), &err);
    attr_release(&a[0]);
    attr_release(&a[1]);
}

/* x (N, 3, 8, 8) -> conv1 -> y (N, 5, 8, 8) -> conv2 -> z (N, 4, 8, 8); with `add`,
 * x -> conv3 -> u (N, 4, 8, 8), s = z + u, g = GlobalAveragePool(s) (N, 4, 1, 1) */
static Model *two_convs(Rng *r, bool add)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)3, (int64_t)8, (int64_t)8);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    add_const(g, "w1", shape_of(4, (int64_t)5, (int64_t)3, (int64_t)3, (int64_t)3), r, 0.5);
    add_const(g, "b1", shape_of(1, (int64_t)5), r, 0.3);
    add_const(g, "w2", shape_of(4, (int64_t)4, (int64_t)5, (int64_t)3, (int64_t)3), r, 0.4);
    add_const(g, "b2", shape_of(1, (int64_t)4), r, 0.3);
    add_conv(g, "conv1", "x", "w1", "b1", "y");
    add_conv(g, "conv2", "y", "w2", "b2", "z");
    if (add) {
        add_const(g, "w3", shape_of(4, (int64_t)4, (int64_t)3, (int64_t)3, (int64_t)3), r, 0.5);
        add_const(g, "b3", shape_of(1, (int64_t)4), r, 0.3);
        add_conv(g, "conv3", "x", "w3", "b3", "u");
        const char *in[2] = { "z", "u" };
        CHECK_OK(graph_add_node(g, OP_ADD, "add", in, 2, "s", NULL, 0, &err), &err);
        const char *gin[1] = { "s" };
        CHECK_OK(graph_add_node(g, OP_GLOBALAVGPOOL, "gap", gin, 1, "g", NULL, 0, &err), &err);
    }
    CHECK_OK(graph_add_output(g, add ? "g" : "z", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    return m;
}

typedef struct Fix {
    Model *m;
    Tensor *x;
    Dataset d;
    Calibration cal;
    Plan p;
} Fix;

static bool fix_init(Fix *f, bool add)
{
    QsError err = { 0 };
    Rng r;
    rng_seed(&r, 19);
    f->m = two_convs(&r, add);
    Shape s = f->m->graph.values[f->m->graph.inputs[0]].shape;
    s.dim[0] = 48;
    f->x = tensor_new(DT_F32, s, &err);
    QS_ASSERT(f->x);
    for (int64_t i = 0; i < tensor_numel(f->x); i++)
        tensor_f32(f->x)[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    f->d = (Dataset){ .x = { f->x }, .n_x = 1 };
    plan_init(&f->p, f->m->graph.n_nodes);
    f->p.mode = PREC_INT8_STATIC;
    return CHECK_OK(calib_run(&f->m->graph, &f->d, 0, 16, 0.01, NULL, &f->cal, &err), &err);
}

static void fix_release(Fix *f)
{
    plan_release(&f->p);
    calib_release(&f->cal);
    tensor_free(f->x);
    model_free(f->m);
}

/* The taps of plan f->p at target t (the QModel kept in *q). */
static bool capture(Fix *f, int t, QModel **q, TapSet *set)
{
    QsError err = { 0 };
    f->p.q.target = t;
    *q = NULL;
    if (!CHECK_OK(qmodel_build(f->m, &f->p, &f->cal, q, &err), &err))
        return false;
    return CHECK_OK(taps_capture(*q, &f->d, 0, 16, NULL, NULL, set, &err), &err);
}

/* Every target's rule on a unit's accumulators gives that target's executor codes. */
static void test_rules_match_executors(void)
{
    Fix f;
    if (!fix_init(&f, false))
        return;
    QsError err = { 0 };
    QModel *q0;
    TapSet s0;
    if (!capture(&f, QTGT_QSCOPE, &q0, &s0))
        return;
    const Graph *g = &f.m->graph;
    int vx = graph_find_value(g, "x"), vy = graph_find_value(g, "y"), vz = graph_find_value(g, "z");
    int conv2 = graph_find_node(g, "conv2");
    Tensor *owned;
    const Tensor *yq = taps_codes(q0, vy, tapset_find(&s0, vy), &owned);
    const Tensor *zq = tapset_find(&s0, vz);
    CHECK(owned == NULL && yq && yq->dtype == DT_I8 && zq && zq->dtype == DT_I8 &&
          tapset_find(&s0, vx)->dtype == DT_F32);
    int64_t n = tensor_numel(zq);
    int32_t *acc = xmalloc((size_t)n * sizeof *acc);
    QUnitRules R;
    CHECK_OK(qmodel_unit_accumulators(q0, conv2, yq->data, &yq->shape, &zq->shape, acc, &err),
             &err);
    CHECK_OK(qmodel_unit_rules(q0, conv2, &zq->shape, &R, &err), &err);
    CHECK(R.current == QTGT_QSCOPE && R.oc == 4 && R.inner == 64 && !R.per_row);
    int64_t pair_qscope_tflm = 0;
    for (int t = 0; t < QTGT_COUNT; t++) {
        /* target t's own executor: its z from its y through its own rule */
        QModel *qt;
        TapSet st;
        if (!CHECK(R.ok[t]) || !capture(&f, t, &qt, &st))
            continue;
        const Tensor *yt = tapset_find(&st, vy), *zt = tapset_find(&st, vz);
        int32_t *acct = xmalloc((size_t)n * sizeof *acct);
        QUnitRules Rt;
        CHECK_OK(qmodel_unit_accumulators(qt, conv2, yt->data, &yt->shape, &zt->shape, acct,
                                          &err), &err);
        CHECK_OK(qmodel_unit_rules(qt, conv2, &zt->shape, &Rt, &err), &err);
        CHECK(Rt.current == t);
        int64_t wrong = 0, apart = 0;
        for (int64_t i = 0; i < n; i++) {
            wrong += qunit_code(&Rt, t, i, acct[i]) != ((const int8_t *)zt->data)[i];
            apart += qunit_code(&R, t, i, acc[i]) != qunit_code(&R, QTGT_QSCOPE, i, acc[i]);
        }
        qunit_rules_release(&Rt);
        free(acct);
        printf("conv2 under %s: %lld of %lld codes unlike its rule, %lld unlike qscope's\n",
               target_table[t].name, (long long)wrong, (long long)n, (long long)apart);
        CHECK(wrong == 0);
        if (t == QTGT_TFLM)
            pair_qscope_tflm = apart;
        tapset_release(&st);
        qmodel_free(qt);
    }
    /* the ties question counts the same pairs, and every apart output sits near a tie */
    TieStats ts;
    if (CHECK_OK(taps_ties(q0, conv2, yq->data, &yq->shape, &zq->shape, &ts, &err), &err)) {
        printf("conv2: %lld outputs, %lld on a tie, %lld near one; qscope/tflm apart: %lld\n",
               (long long)ts.n, (long long)ts.on_tie, (long long)ts.near_tie,
               (long long)ts.differ[QTGT_QSCOPE][QTGT_TFLM]);
        CHECK(ts.n == n && ts.differ[QTGT_QSCOPE][QTGT_TFLM] == pair_qscope_tflm);
        CHECK(ts.differ[QTGT_TFLM][QTGT_QSCOPE] == pair_qscope_tflm);
        CHECK(ts.near_tie >= ts.differ[QTGT_QSCOPE][QTGT_TFLM] && ts.near_tie >= ts.on_tie);
        CHECK(pair_qscope_tflm > 0); /* TFLite's double rounding shows here: can fail */
    }
    /* a layer that is no int8 linear unit, and shapes that do not fit */
    QUnitRules none;
    CHECK(qmodel_unit_rules(q0, -1, &zq->shape, &none, &err) == QS_ENOTFOUND);
    Shape bad = zq->shape;
    bad.dim[2] = 7;
    CHECK(qmodel_unit_accumulators(q0, conv2, yq->data, &yq->shape, &bad, acc, &err) ==
          QS_ESHAPE);
    qunit_rules_release(&R);
    free(acc);
    tapset_release(&s0);
    qmodel_free(q0);
    fix_release(&f);
}

/* A dump built from a tap set: its arrays cloned under their value names. */
static TapFile dump_of(const Graph *g, const TapSet *s)
{
    TapFile f = { .n = s->n };
    f.key = xcalloc((size_t)s->n, sizeof *f.key);
    f.t = xcalloc((size_t)s->n, sizeof *f.t);
    for (int i = 0; i < s->n; i++) {
        f.key[i] = strdup(g->values[s->value[i]].name);
        f.t[i] = tensor_clone(&s->t[i], NULL);
    }
    return f;
}

static void dump_free(TapFile *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->key[i]);
        tensor_free(f->t[i]);
    }
    free(f->key);
    free(f->t);
}

static int dump_index(const Graph *g, const TapFile *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->key[i], name))
            return i;
    (void)g;
    return -1;
}

/* The class of value `name` in a report. */
static TapClass class_of(const Graph *g, const TapReport *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(g->values[r->l[i].value].name, name))
            return r->l[i].cls;
    return TAPC_COUNT;
}

static bool compare(QModel *q, const TapSet *mine, const TapFile *f, TapReport *r)
{
    QsError err = { 0 };
    return CHECK_OK(taps_compare(q, mine, f, r, &err), &err);
}

static void test_classes(void)
{
    Fix f;
    if (!fix_init(&f, false))
        return;
    QModel *q0, *qt;
    TapSet mine, tflm;
    if (!capture(&f, QTGT_QSCOPE, &q0, &mine) || !capture(&f, QTGT_TFLM, &qt, &tflm))
        return;
    const Graph *g = &f.m->graph;
    TapReport r;
    /* its own taps: identical */
    TapFile same = dump_of(g, &mine);
    if (compare(q0, &mine, &same, &r)) {
        CHECK(r.n == 3 && r.n_identical == 3 && r.first_divergence < 0 && r.n_unmatched == 0);
        tapreport_release(&r);
    }
    /* TFLM's run: ties on conv1, reproduced by the tflm rule and not qscope's; conv2 ties or
       propagated; no divergence */
    TapFile other = dump_of(g, &tflm);
    if (compare(q0, &mine, &other, &r)) {
        printf("tflm's taps: y %s (%lld ties), z %s; reproduced by tflm: %d\n",
               tap_class_names[class_of(g, &r, "y")], (long long)r.l[1].ties,
               tap_class_names[class_of(g, &r, "z")], (int)(r.reproduced_by >> QTGT_TFLM & 1));
        CHECK(class_of(g, &r, "y") == TAPC_TIES && r.n_divergent == 0);
        CHECK(r.reproduced_by >> QTGT_TFLM & 1);
        CHECK(!(r.reproduced_by >> QTGT_QSCOPE & 1));
        TapClass cz = class_of(g, &r, "z");
        CHECK(cz == TAPC_TIES || cz == TAPC_PROPAGATED);
        tapreport_release(&r);
    }
    /* one element of y three steps off: y is the first divergence; z, rerun on the file's
       y, reproduces the file (which here is qscope's own z): identical */
    int k = dump_index(g, &same, "y");
    int8_t *yc = same.t[k]->data;
    yc[77] = (int8_t)(yc[77] > 0 ? yc[77] - 3 : yc[77] + 3);
    if (compare(q0, &mine, &same, &r)) {
        CHECK(class_of(g, &r, "y") == TAPC_DIVERGENCE && r.l[r.first_divergence].value ==
              graph_find_value(g, "y") && r.l[r.first_divergence].divergent == 1);
        CHECK(class_of(g, &r, "z") == TAPC_IDENTICAL);
        tapreport_release(&r);
    }
    /* z one step off where y is qscope's: a divergence (no rule makes it: y equal) unless
       another target rounds it so, which the classification then says */
    yc[77] = ((int8_t *)mine.t[1].data)[77];
    k = dump_index(g, &same, "z");
    ((int8_t *)same.t[k]->data)[5] += ((int8_t *)same.t[k]->data)[5] < 127 ? 1 : -1;
    if (compare(q0, &mine, &same, &r)) {
        CHECK(class_of(g, &r, "y") == TAPC_IDENTICAL);
        CHECK(class_of(g, &r, "z") == TAPC_DIVERGENCE || class_of(g, &r, "z") == TAPC_TIES);
        tapreport_release(&r);
    }
    /* y renamed "#<index>"; z's array of the wrong size; x unknown key: missing, unmatched */
    k = dump_index(g, &other, "y");
    free(other.key[k]);
    char key[16];
    snprintf(key, sizeof key, "#%d", graph_find_value(g, "y"));
    other.key[k] = strdup(key);
    k = dump_index(g, &other, "z");
    Tensor *small = tensor_new(DT_I8, shape_of(2, (int64_t)48, (int64_t)3), NULL);
    tensor_free(other.t[k]);
    other.t[k] = small;
    k = dump_index(g, &other, "x");
    free(other.key[k]);
    other.key[k] = strdup("no such value");
    if (compare(q0, &mine, &other, &r)) {
        CHECK(class_of(g, &r, "y") == TAPC_TIES);
        CHECK(class_of(g, &r, "z") == TAPC_MISSING && strstr(r.l[2].why, "(48, 3)"));
        CHECK(class_of(g, &r, "x") == TAPC_MISSING && r.n_unmatched == 1 && r.n_missing == 2);
        tapreport_release(&r);
    }
    dump_free(&same);
    dump_free(&other);
    tapset_release(&mine);
    tapset_release(&tflm);
    qmodel_free(q0);
    qmodel_free(qt);
    fix_release(&f);
}

/* Add and GlobalAveragePool: TFLM's run against qscope's classified by the targets' own
 * Add and mean rules (no divergence; TFLM's rule reproduces every differing layer). */
static void test_add_mean(void)
{
    Fix f;
    if (!fix_init(&f, true))
        return;
    QModel *q0, *qt;
    TapSet mine, tflm;
    if (!capture(&f, QTGT_QSCOPE, &q0, &mine) || !capture(&f, QTGT_TFLM, &qt, &tflm))
        return;
    const Graph *g = &f.m->graph;
    TapFile other = dump_of(g, &tflm);
    TapReport r;
    if (compare(q0, &mine, &other, &r)) {
        printf("tflm's taps with add and mean:");
        for (int i = 0; i < r.n; i++)
            printf(" %s=%s", g->values[r.l[i].value].name, tap_class_names[r.l[i].cls]);
        printf("\n");
        CHECK(r.n == 6 && r.n_divergent == 0 && r.n_ties > 0);
        CHECK(r.reproduced_by >> QTGT_TFLM & 1);
        for (int i = 0; i < r.n; i++) { /* a differing Add or mean: reproduced by its rule */
            int op = r.l[i].head >= 0 ? g->nodes[r.l[i].head].op : -1;
            if (r.l[i].local_differ && (op == OP_ADD || op == OP_GLOBALAVGPOOL))
                CHECK(r.l[i].rules && (r.l[i].reproduced_by >> QTGT_TFLM & 1));
        }
        tapreport_release(&r);
    }
    /* the mean's output three steps off: a divergence there */
    int k = dump_index(g, &other, "g");
    ((int8_t *)other.t[k]->data)[3] += ((int8_t *)other.t[k]->data)[3] < 100 ? 3 : -3;
    if (compare(q0, &mine, &other, &r)) {
        CHECK(class_of(g, &r, "g") == TAPC_DIVERGENCE && r.l[r.first_divergence].value ==
              graph_find_value(g, "g"));
        tapreport_release(&r);
    }
    dump_free(&other);
    tapset_release(&mine);
    tapset_release(&tflm);
    qmodel_free(q0);
    qmodel_free(qt);
    fix_release(&f);
}

/* x -> conv1 -> a, x -> conv3 -> b (N, 4, 8, 8); m = a * b; p = AveragePool 2x2 stride 2
 * (N, 4, 4, 4); h = MatMul(p, p) (two activations); s = Softmax(h); c = Concat(s, p) on
 * the channels (N, 8, 4, 4). */
static Model *many_steps(Rng *r)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)3, (int64_t)8, (int64_t)8);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    add_const(g, "w1", shape_of(4, (int64_t)4, (int64_t)3, (int64_t)3, (int64_t)3), r, 0.5);
    add_const(g, "b1", shape_of(1, (int64_t)4), r, 0.3);
    add_const(g, "w3", shape_of(4, (int64_t)4, (int64_t)3, (int64_t)3, (int64_t)3), r, 0.5);
    add_const(g, "b3", shape_of(1, (int64_t)4), r, 0.3);
    add_conv(g, "conv1", "x", "w1", "b1", "a");
    add_conv(g, "conv3", "x", "w3", "b3", "b");
    const char *mi[2] = { "a", "b" }, *pi[1] = { "m" }, *hi[2] = { "p", "p" }, *si[1] = { "h" },
               *ci[2] = { "s", "p" };
    CHECK_OK(graph_add_node(g, OP_MUL, "mul", mi, 2, "m", NULL, 0, &err), &err);
    int64_t k[2] = { 2, 2 };
    Attr pa[2] = { attr_ints("kernel_shape", k, 2), attr_ints("strides", k, 2) };
    CHECK_OK(graph_add_node(g, OP_AVGPOOL, "pool", pi, 1, "p", pa, 2, &err), &err);
    attr_release(&pa[0]);
    attr_release(&pa[1]);
    CHECK_OK(graph_add_node(g, OP_MATMUL, "mm", hi, 2, "h", NULL, 0, &err), &err);
    CHECK_OK(graph_add_node(g, OP_SOFTMAX, "sm", si, 1, "s", NULL, 0, &err), &err);
    Attr cx = attr_int("axis", 1);
    CHECK_OK(graph_add_node(g, OP_CONCAT, "cat", ci, 2, "c", &cx, 1, &err), &err);
    attr_release(&cx);
    CHECK_OK(graph_add_output(g, "c", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    return m;
}

/* Mul, AveragePool, MatMul of two activations, Softmax and Concat: XNNPACK's run compared
 * with a plan at target tflm (the same parameter ties, so the same scales and zero points)
 * is classified by each step's per-target rerun: no divergence, and xnnpack's rules
 * reproduce every layer that differs; a code moved three steps is a divergence there. */
static void test_other_steps(void)
{
    QsError err = { 0 };
    Fix f = { 0 };
    Rng r;
    rng_seed(&r, 23);
    f.m = many_steps(&r);
    Shape xs = f.m->graph.values[f.m->graph.inputs[0]].shape;
    xs.dim[0] = 48;
    f.x = tensor_new(DT_F32, xs, &err);
    QS_ASSERT(f.x);
    for (int64_t i = 0; i < tensor_numel(f.x); i++)
        tensor_f32(f.x)[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    f.d = (Dataset){ .x = { f.x }, .n_x = 1 };
    plan_init(&f.p, f.m->graph.n_nodes);
    f.p.mode = PREC_INT8_STATIC;
    if (!CHECK_OK(calib_run(&f.m->graph, &f.d, 0, 16, 0.01, NULL, &f.cal, &err), &err))
        return;
    QModel *q0, *qx;
    TapSet mine, xnn;
    if (!capture(&f, QTGT_TFLM, &q0, &mine) || !capture(&f, QTGT_XNNPACK, &qx, &xnn))
        return;
    const Graph *g = &f.m->graph;
    const char *names[] = { "m", "p", "h", "s", "c" };
    for (int i = 0; i < 5; i++) { /* each runs as an int8 step, on the same parameters */
        int v = graph_find_value(g, names[i]);
        QParams a, b;
        CHECK(qmodel_value_qparams(q0, v, &a) && qmodel_value_qparams(qx, v, &b) &&
              a.scale == b.scale && a.zero_point == b.zero_point);
        CHECK(qmodel_step(q0, qmodel_step_of(q0, g->values[v].producer)).kind == QSTEP_INT8);
    }
    TapFile other = dump_of(g, &xnn);
    TapReport rep;
    int64_t ties = 0;
    if (compare(q0, &mine, &other, &rep)) {
        printf("xnnpack's taps against tflm's plan:");
        for (int i = 0; i < rep.n; i++) {
            const TapLayer *L = &rep.l[i];
            printf(" %s=%s(%lld/%lld)", g->values[L->value].name, tap_class_names[L->cls],
                   (long long)L->ties, (long long)L->local_differ);
            if (L->local_differ)
                CHECK(L->rules && (L->reproduced_by >> QTGT_XNNPACK & 1));
            ties += L->head >= 0 && g->nodes[L->head].op != OP_CONV ? L->ties : 0;
        }
        printf("\n");
        CHECK(rep.n_divergent == 0 && (rep.reproduced_by >> QTGT_XNNPACK & 1));
        CHECK(ties > 0); /* XNNPACK's fp32 Mul/MatMul requantization shows here: can fail */
        tapreport_release(&rep);
    }
    /* one code of the MatMul's output three steps off: the first divergence is there */
    int k = dump_index(g, &other, "h");
    int8_t *hc = other.t[k]->data;
    hc[40] = (int8_t)(hc[40] > 0 ? hc[40] - 3 : hc[40] + 3);
    if (compare(q0, &mine, &other, &rep)) {
        CHECK(rep.first_divergence >= 0 &&
              rep.l[rep.first_divergence].value == graph_find_value(g, "h") &&
              rep.l[rep.first_divergence].divergent == 1);
        tapreport_release(&rep);
    }
    /* the ties question on the Mul, on the tflm plan's own inputs to it: pairs only */
    int mul = graph_find_node(g, "mul"), va = graph_find_value(g, "a"),
        vb = graph_find_value(g, "b"), vm = graph_find_value(g, "m");
    Tensor *fa = taps_float(q0, va, tapset_find(&mine, va)),
           *fb = taps_float(q0, vb, tapset_find(&mine, vb));
    const Tensor *min[2] = { fa, fb };
    TieStats ts;
    bool has_pairs = false;
    if (CHECK_OK(taps_step_pairs(q0, mul, min, &tapset_find(&mine, vm)->shape, &ts, &has_pairs,
                                 &err), &err)) {
        printf("mul: %lld outputs; tflm/xnnpack apart: %lld, tflm/qscope: %lld\n",
               (long long)ts.n, (long long)ts.differ[QTGT_TFLM][QTGT_XNNPACK],
               (long long)ts.differ[QTGT_TFLM][QTGT_QSCOPE]);
        CHECK(has_pairs && !ts.acc && ts.on_tie == -1 && ts.n == tensor_numel(fa));
        CHECK(ts.ok[QTGT_TFLM] && ts.ok[QTGT_XNNPACK] &&
              ts.differ[QTGT_TFLM][QTGT_XNNPACK] == ts.differ[QTGT_XNNPACK][QTGT_TFLM]);
        CHECK(ts.differ[QTGT_TFLM][QTGT_XNNPACK] > 0); /* fp32 against double rounding */
    }
    tensor_free(fa);
    tensor_free(fb);
    /* a step no target changes, and a linear unit: no per-target rerun */
    bool has = true;
    Tensor *y = tensor_new(DT_F32, shape_of(1, (int64_t)1), &err);
    CHECK(qmodel_run_node_target(q0, graph_find_node(g, "conv1"), QTGT_ORT, NULL, y, &has,
                                 &err) == QS_OK && !has);
    CHECK(qmodel_run_node_target(q0, -1, QTGT_ORT, NULL, y, &has, &err) == QS_ENOTFOUND);
    tensor_free(y);
    dump_free(&other);
    tapset_release(&mine);
    tapset_release(&xnn);
    qmodel_free(q0);
    qmodel_free(qx);
    fix_release(&f);
}

int main(void)
{
    test_tie_of();
    test_other_steps();
    test_rules_match_executors();
    test_classes();
    test_add_mean();
    return test_summary("taps");
}
