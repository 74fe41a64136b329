/* Linear units (graph/linear_unit.h): the executor's lowering and QAT's training graph fold
 * the same weights bit for bit.
 *
 * A hand-built model holds every kind of unit: Conv + BatchNorm + Relu, a depthwise Conv +
 * Clip, Gemm with alpha, beta and transB = 1 (C per column), Gemm with transB = 0 and a
 * scalar C, MatMul with a constant B, Dense + BatchNorm + Clip. It and the bundled models
 * (mnist_cnn, mnist_dw and det_balls have BatchNorms) are lowered at int8-static and built
 * into a QAT training graph; each unit's folded W (OC, K) and b (OC) in the executor, in the
 * training graph and from linear_fold itself must be equal byte for byte, and the grouping
 * (BatchNorm folded, activation fused, clamp range) must be the one linear_group finds.
 * The op table's int8 rows are checked for consistency. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/linear_unit.h"
#include "native/qsm.h"
#include "ops/op.h"
#include "qat/qat_graph.h"
#include "qexec/qexec_internal.h"
#include "quant/calib.h"
#include "base/rng.h"
#include "test_graph.h"
#include "test_util.h"

/* ---- the hand-built model ------------------------------------------------------------- */

static void add_bn(Graph *g, Rng *r, const char *name, const char *in, int64_t c, float eps)
{
    char nm[4][64];
    static const char *const part[4] = { "s", "b", "m", "v" };
    static const double lo[4] = { 0.5, -0.3, -0.2, 0.3 }, hi[4] = { 2.0, 0.3, 0.2, 1.7 };
    const char *ins[5] = { in };
    for (int i = 0; i < 4; i++) {
        snprintf(nm[i], sizeof nm[i], "%s.%s", name, part[i]);
        tu_add_const_uniform(g, nm[i], shape_of(1, c), r, lo[i], hi[i]);
        ins[i + 1] = nm[i];
    }
    Attr a[1] = { attr_float("epsilon", eps) };
    tu_add_node(g, OP_BATCHNORM, name, ins, 5, a, 1);
}

/* x (3, 8, 8) -> Conv 3x3 (6) + BN + Relu -> depthwise Conv 3x3 (6, group 6) + Clip ->
 * GlobalAveragePool -> Flatten -> Gemm transB=1 alpha 0.7 beta 1.5 C (1, 9) -> Relu ->
 * Gemm transB=0 alpha 1.3 C scalar -> MatMul B (8, 7) -> Dense 5 + BN + Clip */
static Model *units_model(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Rng r;
    rng_seed(&r, 21);
    Shape xs = shape_of(3, (int64_t)3, (int64_t)8, (int64_t)8);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    int64_t six = 6, three = 3, one = 1;
    tu_add_const_uniform(g, "c1.w", shape_of(4, six, three, three, three), &r, -0.4, 0.4);
    tu_add_const_uniform(g, "c1.b", shape_of(1, (int64_t)6), &r, -0.2, 0.2);
    tu_add_const_uniform(g, "dw.w", shape_of(4, six, one, three, three), &r, -0.6, 0.6);
    tu_add_const_uniform(g, "g1.b", shape_of(2, (int64_t)9, (int64_t)6), &r, -0.5, 0.5);
    tu_add_const_uniform(g, "g1.c", shape_of(2, (int64_t)1, (int64_t)9), &r, -0.2, 0.2);
    tu_add_const_uniform(g, "g2.b", shape_of(2, (int64_t)9, (int64_t)8), &r, -0.5, 0.5);
    tu_add_const_uniform(g, "g2.c", shape_of(1, (int64_t)1), &r, -0.2, 0.2);
    tu_add_const_uniform(g, "mm.b", shape_of(2, (int64_t)8, (int64_t)7), &r, -0.5, 0.5);
    tu_add_const_uniform(g, "fc.w", shape_of(2, (int64_t)5, (int64_t)7), &r, -0.5, 0.5);
    tu_add_const_uniform(g, "fc.b", shape_of(1, (int64_t)5), &r, -0.2, 0.2);
    int64_t k3[2] = { 3, 3 }, p1[4] = { 1, 1, 1, 1 };
    {
        const char *in[3] = { "x", "c1.w", "c1.b" };
        Attr a[2] = { attr_ints("kernel_shape", k3, 2), attr_ints("pads", p1, 4) };
        tu_add_node(g, OP_CONV, "c1", in, 3, a, 2);
    }
    add_bn(g, &r, "bn1", "c1", 6, 1e-5f);
    {
        const char *in[1] = { "bn1" };
        tu_add_node(g, OP_RELU, "relu1", in, 1, NULL, 0);
    }
    {
        const char *in[2] = { "relu1", "dw.w" };
        Attr a[3] = { attr_ints("kernel_shape", k3, 2), attr_ints("pads", p1, 4),
                      attr_int("group", 6) };
        tu_add_node(g, OP_CONV, "dw", in, 2, a, 3);
    }
    {
        const char *in[1] = { "dw" };
        Attr a[2] = { attr_float("min", -0.5f), attr_float("max", 0.75f) };
        tu_add_node(g, OP_CLIP, "clip1", in, 1, a, 2);
    }
    {
        const char *in[1] = { "clip1" };
        tu_add_node(g, OP_GLOBALAVGPOOL, "gap", in, 1, NULL, 0);
    }
    {
        const char *in[1] = { "gap" };
        Attr a[1] = { attr_int("axis", 1) };
        tu_add_node(g, OP_FLATTEN, "flat", in, 1, a, 1);
    }
    {
        const char *in[3] = { "flat", "g1.b", "g1.c" };
        Attr a[3] = { attr_float("alpha", 0.7f), attr_float("beta", 1.5f), attr_int("transB", 1) };
        tu_add_node(g, OP_GEMM, "g1", in, 3, a, 3);
    }
    {
        const char *in[1] = { "g1" };
        tu_add_node(g, OP_RELU, "relu2", in, 1, NULL, 0);
    }
    {
        const char *in[3] = { "relu2", "g2.b", "g2.c" };
        Attr a[2] = { attr_float("alpha", 1.3f), attr_float("beta", 0.6f) };
        tu_add_node(g, OP_GEMM, "g2", in, 3, a, 2);
    }
    {
        const char *in[2] = { "g2", "mm.b" };
        tu_add_node(g, OP_MATMUL, "mm", in, 2, NULL, 0);
    }
    {
        const char *in[3] = { "mm", "fc.w", "fc.b" };
        tu_add_node(g, OP_DENSE, "fc", in, 3, NULL, 0);
    }
    add_bn(g, &r, "bn2", "fc", 5, 1e-3f);
    {
        const char *in[1] = { "bn2" };
        Attr a[2] = { attr_float("min", -1.0f), attr_float("max", 1.0f) };
        tu_add_node(g, OP_CLIP, "clip2", in, 1, a, 2);
    }
    CHECK_OK(graph_add_output(g, "clip2", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
    return m;
}

/* ---- the comparison -------------------------------------------------------------------- */

/* Calibrates m on uniform random inputs in [0, 1). */
static bool calibrate_random(const Model *m, Calibration *cal)
{
    QsError err = { 0 };
    const Graph *g = &m->graph;
    Shape s = g->values[g->inputs[0]].shape;
    s.dim[0] = 8;
    Tensor *x = tensor_new(DT_F32, s, &err);
    QS_ASSERT(x);
    Rng r;
    rng_seed(&r, 5);
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] = (float)rng_uniform(&r);
    Dataset d = { .x = { x }, .n_x = 1 };
    bool ok = CHECK_OK(calib_run(g, &d, 0, 4, 0.01, NULL, cal, &err), &err);
    tensor_free(x);
    return ok;
}

static bool same_bytes(const char *label, const char *what, const void *a, const void *b,
                       size_t bytes)
{
    if (CHECK(memcmp(a, b, bytes) == 0))
        return true;
    fprintf(stderr, "  %s: %s differ\n", label, what);
    return false;
}

/* Checks every unit of m: executor, training graph and linear_fold agree; returns the
 * number of units with a folded BatchNorm. */
static int check_model(const char *label, const Model *m, bool per_tensor, int *n_units)
{
    QsError err = { 0 };
    const Graph *g = &m->graph;
    Calibration cal = { 0 };
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    p.q.wgran_tensor = per_tensor;
    QModel *q = NULL;
    QatGraph qg;
    memset(&qg, 0, sizeof qg);
    QatGraphOpts o = { .scales = QAT_SCALES_EMA };
    int n_bn = 0;
    *n_units = 0;
    if (!calibrate_random(m, &cal) || !CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err) ||
        !CHECK_OK(qat_graph_build(&qg, m, &p, &cal, &o, &err), &err))
        goto done;
    LinearUnit *units = xcalloc((size_t)g->n_nodes, sizeof *units);
    int *head_of = xmalloc((size_t)g->n_nodes * sizeof *head_of);
    linear_group(g, NULL, NULL, units, head_of);
    for (int i = 0; i < qg.n_units; i++) {
        const QatUnit *qu = &qg.units[i];
        const Step *s = &q->steps[q->step_of[qu->lin.head]];
        const LinUnit *lu = s->lin;
        const LinearUnit *u = &units[qu->lin.head];
        char what[256];
        snprintf(what, sizeof what, "%s unit '%s'", label, g->nodes[qu->lin.head].name);
        if (!CHECK(lu && s->kind == STEP_LIN_Q && u->head == qu->lin.head) ||
            !CHECK(lu->oc == qu->lin.oc && lu->k == qu->lin.k) ||
            !CHECK(u->oc == lu->oc && u->k == lu->k) ||
            !CHECK(u->bn == qu->lin.bn && u->act == qu->lin.act)) {
            fprintf(stderr, "  %s: grouping differs\n", what);
            continue;
        }
        (*n_units)++;
        n_bn += u->bn >= 0;
        size_t nw = (size_t)(lu->oc * lu->k), nc = (size_t)lu->oc;
        /* the training graph's frozen unit holds W' and b' as its parameters */
        same_bytes(what, "executor and QAT weights", lu->wf, tensor_f32(qg.g.values[qu->w].data),
                   nw * sizeof(float));
        float *zeros = xcalloc(nc, sizeof *zeros);
        const float *qb = qu->b >= 0 ? tensor_f32(qg.g.values[qu->b].data) : zeros;
        same_bytes(what, "executor and QAT biases", lu->bf, qb, nc * sizeof(float));
        float *w = xmalloc((nw + nc) * sizeof *w), *b = w + nw;
        bool has_bias = linear_fold(g, u, w, b);
        CHECK(has_bias == lu->has_bias);
        same_bytes(what, "linear_fold and executor weights", w, lu->wf, nw * sizeof(float));
        same_bytes(what, "linear_fold and executor biases", b, lu->bf, nc * sizeof(float));
        if (u->act >= 0)
            CHECK(u->act_lo == lu->act_lo && u->act_hi == lu->act_hi);
        free(w);
        free(zeros);
    }
    free(units);
    free(head_of);
done:
    qat_graph_release(&qg);
    qmodel_free(q);
    calib_release(&cal);
    plan_release(&p);
    return n_bn;
}

static void test_hand_model(void)
{
    Model *m = units_model();
    for (int t = 0; t < 2; t++) {
        int n_units = 0;
        int n_bn = check_model(t ? "hand per-tensor" : "hand per-channel", m, t, &n_units);
        CHECK(n_units == 6);
        CHECK(n_bn == 2);
    }
    /* the grouping itself: what each unit absorbed and its clamp */
    const Graph *g = &m->graph;
    LinearUnit *units = xcalloc((size_t)g->n_nodes, sizeof *units);
    int *head_of = xmalloc((size_t)g->n_nodes * sizeof *head_of);
    linear_group(g, NULL, NULL, units, head_of);
    const LinearUnit *c1 = &units[graph_find_node(g, "c1")];
    const LinearUnit *dw = &units[graph_find_node(g, "dw")];
    const LinearUnit *g1 = &units[graph_find_node(g, "g1")];
    const LinearUnit *g2 = &units[graph_find_node(g, "g2")];
    const LinearUnit *mm = &units[graph_find_node(g, "mm")];
    const LinearUnit *fc = &units[graph_find_node(g, "fc")];
    CHECK(c1->kind == LU_CONV && c1->oc == 6 && c1->k == 27);
    CHECK(c1->bn == graph_find_node(g, "bn1") && c1->act == graph_find_node(g, "relu1"));
    CHECK(c1->act_lo == 0.0f && c1->act_hi == INFINITY);
    CHECK(dw->kind == LU_DEPTHWISE && dw->oc == 6 && dw->k == 9 && dw->bn < 0);
    CHECK(dw->act == graph_find_node(g, "clip1") && dw->act_lo == -0.5f && dw->act_hi == 0.75f);
    CHECK(g1->kind == LU_GEMM && g1->oc == 9 && g1->k == 6);
    CHECK(g2->kind == LU_GEMM && g2->oc == 8 && g2->k == 9 && g2->act < 0);
    CHECK(mm->kind == LU_MATMUL && mm->oc == 7 && mm->k == 8);
    CHECK(fc->kind == LU_DENSE && fc->bn == graph_find_node(g, "bn2"));
    CHECK(fc->act == graph_find_node(g, "clip2") && fc->act_lo == -1.0f && fc->act_hi == 1.0f);
    CHECK(head_of[graph_find_node(g, "bn2")] == graph_find_node(g, "fc"));
    CHECK(head_of[graph_find_node(g, "gap")] == graph_find_node(g, "gap"));
    CHECK(units[graph_find_node(g, "gap")].head < 0);
    /* Gemm's alpha and beta, and transB = 0, by hand */
    float w[9 * 8 + 9], *b = w + 9 * 8;
    CHECK(linear_fold(g, g2, w, b));
    const float *B = tensor_f32(g->values[graph_find_value(g, "g2.b")].data);
    const float *C = tensor_f32(g->values[graph_find_value(g, "g2.c")].data);
    CHECK(w[3 * 9 + 4] == (float)((double)1.3f * B[4 * 8 + 3]));
    CHECK(b[5] == (float)((double)0.6f * C[0]));
    free(units);
    free(head_of);
    model_free(m);
}

static void test_bundled(void)
{
    static const char *const paths[] = { "models/mnist_cnn.qsm", "models/mnist_dw.qsm",
                                         "models/det_balls.qsm", "models/mnist_mlp.qsm" };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        QsError err = { 0 };
        Model *m = qsm_load(paths[i], &err);
        if (!CHECK_OK(m ? QS_OK : err.code, &err))
            continue;
        int n_units = 0;
        int n_bn = check_model(paths[i], m, false, &n_units);
        CHECK(n_units > 0);
        if (i < 3)
            CHECK(n_bn > 0);
        model_free(m);
    }
}

/* The op table's int8 rows say one thing once: unit rows name their linear kind, clamp
 * rows have a clamp range, every integer step has an output rule and floats have none. */
static void test_op_rows(void)
{
    for (int op = 0; op < OP_COUNT; op++) {
        const OpInt8 *r = &op_table[op]->int8;
        if (!CHECK((r->step == OPQ_UNIT) == (r->linear != OPLIN_NONE)) ||
            !CHECK((r->step == OPQ_CLAMP) == (r->clamp != NULL)) ||
            !CHECK((r->step == OPQ_FLOAT) == (r->qp == OPQ_QP_NONE)) ||
            !CHECK(r->step < OPQ_STEP_COUNT))
            fprintf(stderr, "  op %s: inconsistent int8 row\n", op_table[op]->name);
    }
    Node relu = { .op = OP_RELU }, sig = { .op = OP_SIGMOID };
    Attr a[1] = { attr_float("max", 6.0f) };
    Node clip = { .op = OP_CLIP, .n_attrs = 1, .attrs = a };
    float lo = 7.0f, hi = 7.0f;
    CHECK(!op_clamp_range(&sig, &lo, &hi) && lo == 7.0f && hi == 7.0f);
    CHECK(op_clamp_range(&relu, &lo, &hi) && lo == 0.0f && hi == INFINITY);
    CHECK(op_clamp_range(&clip, &lo, &hi) && lo == -INFINITY && hi == 6.0f);
    attr_release(&a[0]);
}

int main(void)
{
    test_op_rows();
    test_hand_model();
    test_bundled();
    return test_summary("linear_unit");
}
