/* Resize (nearest) at int8-static: it runs as an integer gather of its input's codes,
 * keeping the input's scale and zero point. For every coordinate mode the op supports,
 * the integer run's Resize output must be exactly the float op applied to the integer
 * run's (dequantized) input of it, and the same holds in the fake-quant run; the layer
 * must report an integer kernel, not a fallback; an fp16 and an int8-dyn plan must run
 * it too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/calib.h"
#include "ops/op.h"
#include "qexec/qexec.h"
#include "base/rng.h"
#include "native/spec.h"
#include "test_util.h"

static const char *SPEC_2D =
    "{\"input\": {\"shape\": [2, 5, 6]}, \"layers\": ["
    "{\"kind\": \"conv\", \"out\": 3, \"kernel\": 3, \"pad\": 1}, {\"kind\": \"relu\"},"
    "{\"kind\": \"upsample\", \"scale\": 2, \"name\": \"up\"},"
    "{\"kind\": \"conv\", \"out\": 2, \"kernel\": 3, \"pad\": 1}]}";
static const char *SPEC_1D =
    "{\"input\": {\"shape\": [2, 7]}, \"layers\": ["
    "{\"kind\": \"conv\", \"out\": 3, \"kernel\": 3, \"pad\": 1},"
    "{\"kind\": \"upsample\", \"scale\": 3, \"name\": \"up\"},"
    "{\"kind\": \"conv\", \"out\": 2, \"kernel\": 3, \"pad\": 1}]}";

typedef struct Taps {
    int n;
    float **v; /* [n_nodes] */
} Taps;

static void taps_fn(void *user, int node, const Tensor *out)
{
    Taps *t = user;
    free(t->v[node]);
    t->v[node] = xmalloc(tensor_bytes(out));
    memcpy(t->v[node], out->data, tensor_bytes(out));
}

static Tensor *rand_batch(const Graph *g, int64_t n, uint64_t seed)
{
    QsError err = { 0 };
    Shape s = g->values[g->inputs[0]].shape;
    s.dim[0] = n;
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    Rng r;
    rng_seed(&r, seed);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    return t;
}

static void set_str(Node *n, const char *name, const char *v)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            free(n->attrs[i].s);
            n->attrs[i].s = xstrdup(v);
            return;
        }
    QS_ASSERT(0 && "attribute not found");
}

/* The float Resize of node rn applied to `in` (the tap of its input) equals `got`. */
static void check_gather(const char *label, const Graph *g, int rn, const Shape *xs,
                         const Shape *ys, const float *in, const float *got)
{
    QsError err = { 0 };
    const Node *n = &g->nodes[rn];
    Tensor x = tensor_view(DT_F32, *xs, (void *)in);
    Tensor *y = tensor_new(DT_F32, *ys, &err);
    const Shape *ins[1] = { xs };
    size_t sb = op_table[OP_RESIZE]->scratch(n, ins, ys);
    void *scratch = aligned_alloc(64, (sb + 63) / 64 * 64 + 64);
    RunCtx rc = { .scratch = scratch, .scratch_bytes = sb };
    const Tensor *xin[1] = { &x };
    op_table[OP_RESIZE]->forward(n, xin, y, &rc);
    expect_close(label, got, tensor_f32(y), (size_t)tensor_numel(y), 0, 0);
    free(scratch);
    tensor_free(y);
}

static void run_case(const char *label, const char *spec, const char *ctm, const char *nm)
{
    QsError err = { 0 };
    Model *m = spec_parse(spec, "test spec", 3, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    Graph *g = &m->graph;
    int rn = -1;
    for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].op == OP_RESIZE)
            rn = k;
    QS_ASSERT(rn >= 0);
    if (ctm) {
        set_str(&g->nodes[rn], "coordinate_transformation_mode", ctm);
        set_str(&g->nodes[rn], "nearest_mode", nm);
    }
    int src = g->values[g->nodes[rn].in[0]].producer;
    Tensor *xc = rand_batch(g, 32, 1), *xt = rand_batch(g, 5, 2);
    Dataset d = { .x = { xc }, .n_x = 1 };
    Calibration cal;
    CHECK_OK(calib_run(g, &d, 0, 16, 0.01, NULL, &cal, &err), &err);
    Shape *shapes = xcalloc((size_t)g->n_values, sizeof *shapes);
    CHECK_OK(graph_infer_shapes(g, 5, shapes, &err), &err);
    const Shape *xs = &shapes[g->nodes[rn].in[0]], *ys = &shapes[g->nodes[rn].out];
    PrecKind precs[3] = { PREC_INT8_STATIC, PREC_FP16, PREC_INT8_DYN };
    for (int pi = 0; pi < 3; pi++) {
        Plan p;
        plan_init(&p, g->n_nodes);
        p.mode = precs[pi];
        p.q.wgran_tensor = true;
        QModel *q = NULL;
        if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
            const QLayerInfo *li = qmodel_layer(q, rn);
            CHECK(li->prec == precs[pi]);
            if (precs[pi] == PREC_INT8_STATIC)
                CHECK(li->integer && !li->fallback);
            for (int fake = 0; fake < (precs[pi] == PREC_INT8_STATIC ? 2 : 1); fake++) {
                Executor ex = fake ? qmodel_fake_executor(q) : qmodel_executor(q);
                Taps t = { g->n_nodes, xcalloc((size_t)g->n_nodes, sizeof(float *)) };
                const Tensor *in[1] = { xt }, *outs[1];
                if (CHECK_OK(ex.forward(ex.self, in, outs, taps_fn, &t, &err), &err) &&
                    CHECK(t.v[src] && t.v[rn])) {
                    char l[128];
                    snprintf(l, sizeof l, "%s, %s%s", label,
                             precs[pi] == PREC_INT8_STATIC ? "int8-static"
                             : precs[pi] == PREC_FP16 ? "fp16" : "int8-dyn",
                             fake ? " fake" : "");
                    check_gather(l, g, rn, xs, ys, t.v[src], t.v[rn]);
                }
                for (int k = 0; k < g->n_nodes; k++)
                    free(t.v[k]);
                free(t.v);
            }
            qmodel_free(q);
        }
        plan_release(&p);
    }
    free(shapes);
    calib_release(&cal);
    tensor_free(xc);
    tensor_free(xt);
    model_free(m);
}

int main(void)
{
    run_case("2-D asymmetric floor", SPEC_2D, NULL, NULL);
    run_case("2-D half_pixel", SPEC_2D, "half_pixel", "round_prefer_floor");
    run_case("2-D tf_half_pixel_for_nn ceil", SPEC_2D, "tf_half_pixel_for_nn",
             "round_prefer_ceil");
    run_case("2-D align_corners", SPEC_2D, "align_corners", "round_prefer_floor");
    run_case("1-D x3 asymmetric floor", SPEC_1D, NULL, NULL);
    run_case("1-D x3 pytorch_half_pixel ceil", SPEC_1D, "pytorch_half_pixel", "ceil");
    return test_summary("qexec_resize");
}
