/* The inference layout of a float run (run.h outputs_only, run_plan.h): Relu and Clip fused
 * into the node before them, slots shared by lifetime, blocks kept across batch sizes.
 * Every comparison is memcmp: the fused clamp is the activation's own comparison, and a
 * slot's place in the arena does not change what an op computes. On synthetic graphs
 * (Dense, Gemm, MatMul, Conv, Add, Sub, Mul followed by Relu or Clip; activations that must
 * not fuse) and on every bundled model at batch 64:
 *   - fused (no tap) == unfused (a tap disables fusion) == one slot per value;
 *   - which activations fuse, and Conv -> BatchNormalization (-> Relu/Clip) fused into the
 *     conv's epilogue;
 *   - packed weights cached by the run (run.h pack_weights): the same bytes at the batch
 *     that filled the cache and at batch 1 (the narrow products), and a weight changed
 *     after a run is seen by a new run (and by one that does not cache), not by the
 *     caching run that lives on (its contract);
 *   - the plan's invariants: slots live at the same time do not overlap, 64-byte offsets;
 *   - a chain of equal values needs two slots, not one per value;
 *   - a smaller batch and the full one again reuse the same blocks. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "graph/model.h"
#include "native/qsm.h"
#include "ops/op.h"
#include "run/exec.h"
#include "run/run.h"
#include "test_graph.h"
#include "test_util.h"

static Rng rng;

static void count_tap(void *user, int node, const Tensor *out)
{
    (void)node;
    (void)out;
    (*(int *)user)++;
}

/* Inputs for g at `batch`: uniform in [-1, 1), with a NaN and an infinity among them, so
 * that the clamps see every kind of value. */
static Tensor **make_inputs(const Graph *g, int64_t batch)
{
    Tensor **x = xcalloc((size_t)g->n_inputs, sizeof *x);
    for (int i = 0; i < g->n_inputs; i++) {
        Shape s = g->values[g->inputs[i]].shape;
        s.dim[0] = batch;
        x[i] = tensor_new(DT_F32, s, NULL);
        float *v = tensor_f32(x[i]);
        int64_t n = tensor_numel(x[i]);
        for (int64_t k = 0; k < n; k++)
            v[k] = (float)(2.0 * rng_uniform(&rng) - 1.0);
        if (n > 2) {
            v[n / 2] = NAN;
            v[n / 3] = INFINITY;
        }
    }
    return x;
}

static void free_inputs(const Graph *g, Tensor **x)
{
    for (int i = 0; i < g->n_inputs; i++)
        tensor_free(x[i]);
    free(x);
}

/* Copies of every graph output of r. */
static Tensor **copy_outputs(const Run *r)
{
    Tensor **o = xcalloc((size_t)r->g->n_outputs, sizeof *o);
    for (int k = 0; k < r->g->n_outputs; k++) {
        const Tensor *t = run_output(r, k);
        o[k] = tensor_new(DT_F32, t->shape, NULL);
        memcpy(tensor_f32(o[k]), tensor_f32(t), (size_t)tensor_numel(t) * sizeof(float));
    }
    return o;
}

static bool same_outputs(const char *label, const Run *r, Tensor **want)
{
    bool ok = true;
    for (int k = 0; k < r->g->n_outputs; k++) {
        const Tensor *t = run_output(r, k);
        if (!shape_equal(&t->shape, &want[k]->shape) ||
            memcmp(tensor_f32(t), tensor_f32(want[k]),
                   (size_t)tensor_numel(t) * sizeof(float)) != 0) {
            fprintf(stderr, "%s: output %d differs\n", label, k);
            ok = false;
        }
    }
    return CHECK(ok);
}

static void free_outputs(const Graph *g, Tensor **o)
{
    for (int k = 0; k < g->n_outputs; k++)
        tensor_free(o[k]);
    free(o);
}

/* Slots of values live at the same time never overlap, and every offset is aligned. */
static void check_plan(const char *label, const Run *r)
{
    const RunPlan *p = &r->plan;
    const Graph *g = r->g;
    int bad = 0;
    for (int u = 0; u < g->n_values; u++) {
        if (p->slot_of[u] != u)
            continue;
        if (p->off[u] % 64 || p->off[u] + p->bytes[u] > r->arena_bytes)
            bad++;
        for (int v = u + 1; v < g->n_values; v++) {
            if (p->slot_of[v] != v || p->first[u] > p->last[v] || p->first[v] > p->last[u])
                continue;
            if (p->off[u] < p->off[v] + p->bytes[v] && p->off[v] < p->off[u] + p->bytes[u])
                bad++;
        }
    }
    if (bad)
        fprintf(stderr, "%s: %d slot conflicts\n", label, bad);
    CHECK(bad == 0);
}

/* A run with packed weights cached (run.h pack_weights) gives `want` on x at the forward
 * that fills the cache and at the next, which reads it, and at batch 1 (other routes:
 * the narrow products sgemm transposes) the same bytes as a run without the cache. */
static void check_packed(const char *label, const Graph *g, Tensor **x, Tensor **want)
{
    QsError err = { 0 };
    Run c, d;
    run_init(&c, g);
    run_init(&d, g);
    c.outputs_only = d.outputs_only = true;
    c.pack_weights = true;
    for (int i = 0; i < 2; i++)
        if (CHECK_OK(run_forward(&c, (const Tensor *const *)x, NULL, NULL, &err), &err))
            same_outputs(label, &c, want);
    Tensor **one = make_inputs(g, 1);
    if (CHECK_OK(run_forward(&d, (const Tensor *const *)one, NULL, NULL, &err), &err) &&
        CHECK_OK(run_forward(&c, (const Tensor *const *)one, NULL, NULL, &err), &err)) {
        Tensor **w1 = copy_outputs(&d);
        same_outputs(label, &c, w1);
        free_outputs(g, w1);
    }
    free_inputs(g, one);
    run_release(&c);
    run_release(&d);
}

/* Runs g at `batch` fused, unfused (a tap) and with one slot per value; all outputs must
 * be the same bytes. Returns the shared layout's arena bytes; *full gets the other's. */
static size_t check_graph(const char *label, const Graph *g, int64_t batch, int want_fused,
                          size_t *full)
{
    QsError err = { 0 };
    Tensor **x = make_inputs(g, batch);
    Run a, b;
    run_init(&a, g);
    run_init(&b, g);
    a.outputs_only = true;
    size_t arena = 0;
    if (CHECK_OK(run_forward(&a, (const Tensor *const *)x, NULL, NULL, &err), &err)) {
        arena = a.arena_bytes;
        if (want_fused >= 0 && !CHECK(a.plan.n_fused == want_fused))
            fprintf(stderr, "%s: %d fused, expected %d\n", label, a.plan.n_fused, want_fused);
        CHECK(a.shared);
        check_plan(label, &a);
        Tensor **fused = copy_outputs(&a);
        int taps = 0;
        CHECK_OK(run_forward(&a, (const Tensor *const *)x, count_tap, &taps, &err), &err);
        CHECK(taps == g->n_nodes); /* every node ran and was seen */
        same_outputs(label, &a, fused);
        CHECK_OK(run_forward(&b, (const Tensor *const *)x, NULL, NULL, &err), &err);
        CHECK(!b.shared);
        same_outputs(label, &b, fused);
        *full = b.arena_bytes;
        CHECK(arena <= *full);
        check_packed(label, g, x, fused);
        free_outputs(g, fused);
    }
    run_release(&a);
    run_release(&b);
    free_inputs(g, x);
    return arena;
}

static void dense(Graph *g, const char *name, const char *in, int64_t fin, int64_t fout)
{
    char w[64], bias[64];
    snprintf(w, sizeof w, "%s.w", name);
    snprintf(bias, sizeof bias, "%s.b", name);
    tu_add_const_uniform(g, w, shape_of(2, fout, fin), &rng, -0.5, 0.5);
    tu_add_const_uniform(g, bias, shape_of(1, fout), &rng, -0.5, 0.5);
    tu_add_node(g, OP_DENSE, name, (const char *[]){ in, w, bias }, 3, NULL, 0);
}

static void clip(Graph *g, const char *name, const char *in, float lo, float hi)
{
    Attr a[2] = { attr_float("min", lo), attr_float("max", hi) };
    tu_add_node(g, OP_CLIP, name, (const char *[]){ in }, 1, a, 2);
}

static void relu(Graph *g, const char *name, const char *in)
{
    tu_add_node(g, OP_RELU, name, (const char *[]){ in }, 1, NULL, 0);
}

static void start(Graph *g, Shape sample)
{
    QsError err = { 0 };
    graph_init(g);
    CHECK_OK(graph_add_input(g, "x", &sample, &err), &err);
}

static void finish(Graph *g, const char *const *outs, int n)
{
    QsError err = { 0 };
    for (int i = 0; i < n; i++)
        CHECK_OK(graph_add_output(g, outs[i], &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
}

static int node_of(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    return -1;
}

/* Which activation fused into which node, by name ("" when none). */
static const char *fused_into(const Graph *g, const char *producer)
{
    Run r;
    QsError err = { 0 };
    run_init(&r, g);
    r.outputs_only = true;
    CHECK_OK(run_set_batch(&r, 2, &err), &err);
    int p = node_of(g, producer), a = p >= 0 ? r.plan.fused_act[p] : -1;
    const char *name = a >= 0 ? g->nodes[a].name : "";
    run_release(&r);
    return name;
}

static int fused_count(const Graph *g)
{
    Run r;
    QsError err = { 0 };
    run_init(&r, g);
    r.outputs_only = true;
    CHECK_OK(run_set_batch(&r, 1, &err), &err);
    int n = r.plan.n_fused;
    run_release(&r);
    return n;
}

/* Dense -> Relu -> Dense -> Clip(0, 6) -> Gemm -> Relu (a graph output). */
static void test_dense_chain(void)
{
    Graph g;
    start(&g, shape_of(1, (int64_t)7));
    dense(&g, "d1", "x", 7, 9);
    relu(&g, "r1", "d1");
    dense(&g, "d2", "r1", 9, 5);
    clip(&g, "c2", "d2", 0.0f, 6.0f);
    tu_add_const_uniform(&g, "gw", shape_of(2, (int64_t)4, (int64_t)5), &rng, -1, 1);
    tu_add_const_uniform(&g, "gb", shape_of(1, (int64_t)4), &rng, -1, 1);
    Attr ga[1] = { attr_int("transB", 1) };
    tu_add_node(&g, OP_GEMM, "gm", (const char *[]){ "c2", "gw", "gb" }, 3, ga, 1);
    relu(&g, "out", "gm");
    finish(&g, (const char *[]){ "out" }, 1);
    size_t full;
    check_graph("dense chain", &g, 5, 3, &full);
    CHECK(strcmp(fused_into(&g, "d1"), "r1") == 0);
    CHECK(strcmp(fused_into(&g, "d2"), "c2") == 0);
    CHECK(strcmp(fused_into(&g, "gm"), "out") == 0); /* its output is a graph output: fine */
    graph_release(&g);
}

/* ResNet's tail: h = Dense(x); s = Add(h, x); Relu(s); then Sub -> Clip, Mul -> Relu,
 * MatMul -> Relu. */
static void test_elementwise(void)
{
    Graph g;
    start(&g, shape_of(1, (int64_t)6));
    dense(&g, "h", "x", 6, 6);
    tu_add_node(&g, OP_ADD, "s", (const char *[]){ "h", "x" }, 2, NULL, 0);
    relu(&g, "rs", "s");
    tu_add_const_uniform(&g, "k", shape_of(1, (int64_t)6), &rng, -1, 1);
    tu_add_node(&g, OP_SUB, "d", (const char *[]){ "rs", "k" }, 2, NULL, 0);
    clip(&g, "cd", "d", -0.25f, 0.5f);
    tu_add_node(&g, OP_MUL, "m", (const char *[]){ "cd", "x" }, 2, NULL, 0);
    relu(&g, "rm", "m");
    tu_add_const_uniform(&g, "mw", shape_of(2, (int64_t)6, (int64_t)3), &rng, -1, 1);
    tu_add_node(&g, OP_MATMUL, "mm", (const char *[]){ "rm", "mw" }, 2, NULL, 0);
    relu(&g, "out", "mm");
    finish(&g, (const char *[]){ "out" }, 1);
    size_t full;
    check_graph("elementwise", &g, 4, 4, &full);
    CHECK(strcmp(fused_into(&g, "s"), "rs") == 0);
    CHECK(strcmp(fused_into(&g, "d"), "cd") == 0);
    CHECK(strcmp(fused_into(&g, "m"), "rm") == 0);
    CHECK(strcmp(fused_into(&g, "mm"), "out") == 0);
    graph_release(&g);
}

/* Conv -> Relu -> Conv -> Clip(0, 6) -> GlobalAveragePool: fused exactly when Conv's row
 * says it honours the clamp. */
static void test_conv(void)
{
    Graph g;
    start(&g, shape_of(3, (int64_t)2, (int64_t)6, (int64_t)6));
    int64_t pads[4] = { 1, 1, 1, 1 };
    tu_add_const_uniform(&g, "w1", shape_of(4, (int64_t)3, (int64_t)2, (int64_t)3, (int64_t)3),
                         &rng, -0.5, 0.5);
    tu_add_const_uniform(&g, "b1", shape_of(1, (int64_t)3), &rng, -0.5, 0.5);
    Attr a1[1] = { attr_ints("pads", pads, 4) };
    tu_add_node(&g, OP_CONV, "c1", (const char *[]){ "x", "w1", "b1" }, 3, a1, 1);
    relu(&g, "r1", "c1");
    tu_add_const_uniform(&g, "w2", shape_of(4, (int64_t)4, (int64_t)3, (int64_t)3, (int64_t)3),
                         &rng, -0.5, 0.5);
    Attr a2[1] = { attr_ints("pads", pads, 4) };
    tu_add_node(&g, OP_CONV, "c2", (const char *[]){ "r1", "w2" }, 2, a2, 1);
    clip(&g, "r2", "c2", 0.0f, 6.0f);
    tu_add_node(&g, OP_GLOBALAVGPOOL, "out", (const char *[]){ "r2" }, 1, NULL, 0);
    finish(&g, (const char *[]){ "out" }, 1);
    size_t full;
    check_graph("conv", &g, 3, op_table[OP_CONV]->fuses_clamp ? 2 : 0, &full);
    graph_release(&g);
}

/* A BatchNormalization with uniform scale, bias and mean and a positive variance. */
static void batchnorm(Graph *g, const char *name, const char *in, int64_t c)
{
    char k[4][64];
    const char *suffix[4] = { "s", "b", "m", "v" };
    for (int i = 0; i < 4; i++) {
        snprintf(k[i], sizeof k[i], "%s.%s", name, suffix[i]);
        tu_add_const_uniform(g, k[i], shape_of(1, c), &rng, i == 3 ? 0.1 : -1.0, 2.0);
    }
    tu_add_node(g, OP_BATCHNORM, name, (const char *[]){ in, k[0], k[1], k[2], k[3] }, 5,
                NULL, 0);
}

/* Conv -> BatchNormalization (-> Relu or Clip) fused into the conv's epilogue, on the
 * column kernel, a depthwise conv (the normalization as a pass after it) and a pointwise
 * one, bit-identical to the separate nodes; a BatchNormalization whose input is also read
 * elsewhere stays a node. */
static void test_conv_bn(void)
{
    Graph g;
    start(&g, shape_of(3, (int64_t)2, (int64_t)7, (int64_t)6));
    int64_t pads[4] = { 1, 1, 1, 1 }, group = 3;
    tu_add_const_uniform(&g, "w1", shape_of(4, (int64_t)3, (int64_t)2, (int64_t)3, (int64_t)3),
                         &rng, -0.5, 0.5);
    tu_add_const_uniform(&g, "b1", shape_of(1, (int64_t)3), &rng, -0.5, 0.5);
    Attr a1[1] = { attr_ints("pads", pads, 4) };
    tu_add_node(&g, OP_CONV, "c1", (const char *[]){ "x", "w1", "b1" }, 3, a1, 1);
    batchnorm(&g, "n1", "c1", 3);
    relu(&g, "r1", "n1");
    tu_add_const_uniform(&g, "w2", shape_of(4, (int64_t)3, (int64_t)1, (int64_t)3, (int64_t)3),
                         &rng, -0.5, 0.5);
    Attr a2[2] = { attr_ints("pads", pads, 4), attr_int("group", group) };
    tu_add_node(&g, OP_CONV, "c2", (const char *[]){ "r1", "w2" }, 2, a2, 2);
    batchnorm(&g, "n2", "c2", 3);
    clip(&g, "r2", "n2", 0.0f, 1.5f);
    tu_add_const_uniform(&g, "w3", shape_of(4, (int64_t)5, (int64_t)3, (int64_t)1, (int64_t)1),
                         &rng, -0.5, 0.5);
    tu_add_node(&g, OP_CONV, "c3", (const char *[]){ "r2", "w3" }, 2, NULL, 0);
    batchnorm(&g, "n3", "c3", 5);
    tu_add_const_uniform(&g, "w4", shape_of(4, (int64_t)4, (int64_t)5, (int64_t)1, (int64_t)1),
                         &rng, -0.5, 0.5);
    tu_add_node(&g, OP_CONV, "c4", (const char *[]){ "n3", "w4" }, 2, NULL, 0);
    batchnorm(&g, "n4", "c4", 4); /* c4 is read twice: no fusion */
    tu_add_node(&g, OP_ADD, "s", (const char *[]){ "n4", "c4" }, 2, NULL, 0);
    tu_add_node(&g, OP_GLOBALAVGPOOL, "out", (const char *[]){ "s" }, 1, NULL, 0);
    finish(&g, (const char *[]){ "out" }, 1);
    size_t full;
    check_graph("conv bn", &g, 3, 5, &full); /* n1 r1 n2 r2 n3 */
    int c2 = node_of(&g, "c2");
    Run r;
    run_init(&r, &g);
    r.outputs_only = true;
    QsError err = { 0 };
    Tensor **x = make_inputs(&g, 2);
    CHECK_OK(run_forward(&r, (const Tensor *const *)x, NULL, NULL, &err), &err);
    CHECK(r.plan.fused_bn[c2] == node_of(&g, "n2") &&
          r.plan.fused_act[c2] == node_of(&g, "r2"));
    CHECK(r.plan.fused_bn[node_of(&g, "c4")] == -1);
    run_release(&r);
    free_inputs(&g, x);
    graph_release(&g);
}

/* Runs the executor on x; a copy of its first output. */
static Tensor *exec_out(Executor *ex, Tensor **x)
{
    QsError err = { 0 };
    const Tensor *outs[1];
    if (!CHECK_OK(ex->forward(ex->self, (const Tensor *const *)x, outs, NULL, NULL, &err), &err))
        return tensor_new(DT_F32, shape_of(1, (int64_t)1), NULL);
    Tensor *t = tensor_new(DT_F32, outs[0]->shape, NULL);
    memcpy(tensor_f32(t), tensor_f32(outs[0]), (size_t)tensor_numel(t) * sizeof(float));
    return t;
}

static bool same_tensor(const Tensor *a, const Tensor *b)
{
    return shape_equal(&a->shape, &b->shape) &&
           memcmp(tensor_f32(a), tensor_f32(b), (size_t)tensor_numel(a) * sizeof(float)) == 0;
}

/* A weight changed in place after a run: a new executor sees it, and so does one made
 * with exec_float_new_live (which packs per forward) that ran before the change; the
 * executor that cached its packed weights (exec_float_new) keeps giving what it gave,
 * which shows the cache is read (its contract: the caller does not change the weights
 * while it lives). A Conv (many columns at batch 4, the narrow route at batch 1: a 2x2
 * output map) and a Dense. */
static void test_weight_change(void)
{
    Graph g;
    start(&g, shape_of(3, (int64_t)3, (int64_t)4, (int64_t)4));
    tu_add_const_uniform(&g, "w", shape_of(4, (int64_t)16, (int64_t)3, (int64_t)3, (int64_t)3),
                         &rng, -0.5, 0.5);
    tu_add_node(&g, OP_CONV, "c", (const char *[]){ "x", "w" }, 2, NULL, 0);
    tu_add_node(&g, OP_GLOBALAVGPOOL, "p", (const char *[]){ "c" }, 1, NULL, 0);
    tu_add_node(&g, OP_FLATTEN, "f", (const char *[]){ "p" }, 1, NULL, 0);
    dense(&g, "out", "f", 16, 5);
    finish(&g, (const char *[]){ "out" }, 1);
    const char *weights[2] = { "w", "out.w" };
    int64_t counts[2] = { 16 * 27, 5 * 16 };
    for (int b = 4; b >= 1; b -= 3)
        for (int k = 0; k < 2; k++) {
            Tensor **x = make_inputs(&g, b);
            float *xv = tensor_f32(x[0]); /* finite: a NaN output would hide the change */
            for (int64_t i = 0; i < tensor_numel(x[0]); i++)
                xv[i] = isfinite(xv[i]) ? xv[i] : 0.25f;
            FloatExec *fc, *fl, *fn;
            Executor cached = exec_float_new(&g, &fc), live = exec_float_new_live(&g, &fl);
            Tensor *before = exec_out(&cached, x), *lb = exec_out(&live, x);
            CHECK(same_tensor(before, lb));
            float *w = tensor_f32(g.values[graph_find_value(&g, weights[k])].data);
            for (int64_t i = 0; i < counts[k]; i++)
                w[i] = -2.0f * w[i];
            Executor fresh = exec_float_new(&g, &fn);
            Tensor *want = exec_out(&fresh, x), *got = exec_out(&live, x);
            Tensor *kept = exec_out(&cached, x);
            if (!CHECK(same_tensor(got, want) && !same_tensor(want, before) &&
                       same_tensor(kept, before)))
                fprintf(stderr, "weight change: batch %d, %s\n", b, weights[k]);
            tensor_free(before);
            tensor_free(lb);
            tensor_free(want);
            tensor_free(got);
            tensor_free(kept);
            exec_float_free(fc);
            exec_float_free(fl);
            exec_float_free(fn);
            free_inputs(&g, x);
        }
    graph_release(&g);
}

/* Activations that must not fuse: a Relu whose input is read elsewhere too, a Relu whose
 * input is a graph output, a Relu after an op that does not fuse (Tanh), a second
 * activation on the same value. */
static void test_no_fusion(void)
{
    Graph g;
    start(&g, shape_of(1, (int64_t)5));
    dense(&g, "h", "x", 5, 5);
    relu(&g, "rh", "h");
    tu_add_node(&g, OP_ADD, "s", (const char *[]){ "rh", "h" }, 2, NULL, 0); /* h read twice */
    dense(&g, "o1", "s", 5, 4);                                              /* graph output */
    relu(&g, "ro", "o1");
    tu_add_node(&g, OP_TANH, "t", (const char *[]){ "ro" }, 1, NULL, 0);
    relu(&g, "rt", "t");
    dense(&g, "k", "rt", 4, 4);
    relu(&g, "k1", "k");
    clip(&g, "k2", "k", -1.0f, 1.0f);
    tu_add_node(&g, OP_ADD, "out", (const char *[]){ "k1", "k2" }, 2, NULL, 0);
    finish(&g, (const char *[]){ "o1", "out" }, 2);
    size_t full;
    check_graph("no fusion", &g, 3, 0, &full);
    CHECK(strcmp(fused_into(&g, "h"), "") == 0);
    CHECK(strcmp(fused_into(&g, "o1"), "") == 0);
    CHECK(strcmp(fused_into(&g, "k"), "") == 0);
    graph_release(&g);
}

/* A chain of Tanh over one value size: the shared layout needs two slots (a node's input
 * and output), the other one slot per node. */
static void test_chain_arena(void)
{
    enum { LEN = 8 };
    Graph g;
    start(&g, shape_of(1, (int64_t)48));
    char prev[16] = "x", cur[16];
    for (int i = 0; i < LEN; i++) {
        snprintf(cur, sizeof cur, "t%d", i);
        tu_add_node(&g, OP_TANH, cur, (const char *[]){ prev }, 1, NULL, 0);
        memcpy(prev, cur, sizeof cur);
    }
    finish(&g, (const char *[]){ prev }, 1);
    size_t full, slot = 4 * 48 * sizeof(float); /* batch 4: 768 bytes, 64-byte aligned */
    size_t shared = check_graph("chain", &g, 4, 0, &full);
    CHECK(full == LEN * slot);
    CHECK(shared == 2 * slot);
    graph_release(&g);
}

/* A smaller batch and the full one again run in the blocks of the first; the outputs of
 * the full batch come back the same. */
static void test_blocks_kept(void)
{
    Graph g;
    start(&g, shape_of(1, (int64_t)6));
    dense(&g, "h", "x", 6, 8);
    relu(&g, "r", "h");
    dense(&g, "out", "r", 8, 3);
    finish(&g, (const char *[]){ "out" }, 1);
    QsError err = { 0 };
    Tensor **x = make_inputs(&g, 8), **small = make_inputs(&g, 3);
    Run r;
    run_init(&r, &g);
    r.outputs_only = true;
    CHECK_OK(run_forward(&r, (const Tensor *const *)x, NULL, NULL, &err), &err);
    Tensor **want = copy_outputs(&r);
    void *arena = r.arena, *scratch = r.scratch;
    size_t cap = r.arena_cap;
    CHECK_OK(run_forward(&r, (const Tensor *const *)small, NULL, NULL, &err), &err);
    CHECK(r.batch == 3 && r.arena == arena && r.scratch == scratch && r.arena_cap == cap);
    CHECK(r.arena_bytes < cap);
    CHECK_OK(run_forward(&r, (const Tensor *const *)x, NULL, NULL, &err), &err);
    CHECK(r.arena == arena && r.arena_cap == cap);
    same_outputs("blocks kept", &r, want);
    /* Gradients switch to one slot per value; the shared forward does not count. */
    CHECK_OK(run_enable_grads(&r, false, &err), &err);
    Tensor *dout = tensor_new(DT_F32, run_output(&r, 0)->shape, NULL);
    const Tensor *douts[1] = { dout };
    memset(tensor_f32(dout), 0, (size_t)tensor_numel(dout) * sizeof(float));
    expect_error("backward after a shared forward", run_backward(&r, douts, &err), &err,
                 QS_EINVAL, "no forward pass");
    tensor_free(dout);
    CHECK_OK(run_forward(&r, (const Tensor *const *)x, NULL, NULL, &err), &err);
    CHECK(!r.shared);
    same_outputs("with grads", &r, want);
    run_release(&r);
    free_outputs(&g, want);
    free_inputs(&g, x);
    free_inputs(&g, small);
    graph_release(&g);
}

/* exec_float_new runs shared; asking for its Run keeps every value. */
static void test_exec_float(void)
{
    Graph g;
    start(&g, shape_of(1, (int64_t)4));
    dense(&g, "h", "x", 4, 4);
    relu(&g, "r", "h");
    dense(&g, "out", "r", 4, 2);
    finish(&g, (const char *[]){ "out" }, 1);
    QsError err = { 0 };
    Tensor **x = make_inputs(&g, 2);
    const Tensor *outs[1];
    FloatExec *f;
    Executor ex = exec_float_new(&g, &f);
    CHECK_OK(ex.forward(ex.self, (const Tensor *const *)x, outs, NULL, NULL, &err), &err);
    const Run *r = exec_float_run(f);
    CHECK_OK(ex.forward(ex.self, (const Tensor *const *)x, outs, NULL, NULL, &err), &err);
    CHECK(!r->shared);
    /* h holds the Dense output before the Relu: nothing was fused into it. */
    const float *h = tensor_f32(&r->vals[g.nodes[node_of(&g, "h")].out]);
    const float *rv = tensor_f32(&r->vals[g.nodes[node_of(&g, "r")].out]);
    bool ok = true;
    for (int i = 0; i < 8; i++)
        ok = ok && (h[i] < 0 ? rv[i] == 0 : memcmp(&rv[i], &h[i], sizeof(float)) == 0);
    CHECK(ok);
    exec_float_free(f);
    free_inputs(&g, x);
    graph_release(&g);
}

/* Every bundled model at batch 64. */
static void test_models(void)
{
    DIR *dir = opendir("models");
    if (!CHECK(dir != NULL))
        return;
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".qsm") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "models/%s", e->d_name);
        QsError err = { 0 };
        Model *m = qsm_load(path, &err);
        if (!CHECK(m != NULL)) {
            fprintf(stderr, "%s: %s\n", path, err.msg);
            continue;
        }
        size_t full;
        size_t shared = check_graph(path, &m->graph, 64, -1, &full);
        CHECK(shared < full);
        printf("%s: batch 64 arena %zu bytes shared, %zu one slot per value; %d fused\n",
               path, shared, full, fused_count(&m->graph));
        model_free(m);
        seen++;
    }
    closedir(dir);
    CHECK(seen >= 6);
}

int main(void)
{
    rng_seed(&rng, 17);
    test_dense_chain();
    test_elementwise();
    test_conv();
    test_conv_bn();
    test_weight_change();
    test_no_fusion();
    test_chain_arena();
    test_blocks_kept();
    test_exec_float();
    test_models();
    return test_summary("run_fuse");
}
