/* Attributes are parsed once, when a node is made: the typed parameters, errors at
 * graph_add_node, node_set_attr, the bare-node fallback, and the window geometry. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "ops/geometry.h"
#include "ops/op.h"
#include "test_util.h"

static void graph_with_input(Graph *g)
{
    QsError err = { 0 };
    graph_init(g);
    Shape s = shape_of(1, (int64_t)4);
    CHECK_OK(graph_add_input(g, "x", &s, &err), &err);
}

static void test_parsed_at_creation(void)
{
    Graph g;
    QsError err = { 0 };
    graph_with_input(&g);
    const char *in[1] = { "x" };
    Attr clip[2] = { attr_float("min", -1.5f), attr_int("max", 3) };
    CHECK_OK(graph_add_node(&g, OP_CLIP, "clip", in, 1, "y", clip, 2, &err), &err);
    const Node *n = &g.nodes[0];
    CHECK(n->parsed && n->params.clip.min == -1.5f && n->params.clip.max == 3.0f);
    CHECK_OK(graph_add_node(&g, OP_SOFTMAX, "sm", in, 1, "z", NULL, 0, &err), &err);
    CHECK(g.nodes[1].params.axis.axis == -1);
    float lo, hi;
    CHECK(op_clamp_range(&g.nodes[0], &lo, &hi) && lo == -1.5f && hi == 3.0f);
    CHECK(!op_clamp_range(&g.nodes[1], &lo, &hi));
    attr_release(&clip[0]);
    attr_release(&clip[1]);
    graph_release(&g);
}

/* A rejected attribute fails graph_add_node with the op's message and leaves no trace. */
static void test_rejected_at_creation(void)
{
    Graph g;
    QsError err = { 0 };
    graph_with_input(&g);
    const char *in[1] = { "x" };
    Attr bad[2] = { attr_float("min", 2.0f), attr_float("max", 1.0f) };
    int nv = g.n_values;
    expect_error("clip min > max", graph_add_node(&g, OP_CLIP, "c", in, 1, "y", bad, 2, &err),
                 &err, QS_EINVAL, "Clip 'c': min 2 is greater than max 1");
    CHECK(g.n_nodes == 0 && g.n_values == nv && graph_find_value(&g, "y") < 0);
    Attr pad = attr_str("auto_pad", "SAME_UPPER");
    expect_error("pool auto_pad", graph_add_node(&g, OP_MAXPOOL, "p", in, 1, "y", &pad, 1, &err),
                 &err, QS_EUNSUPPORTED, "MaxPool 'p': auto_pad=SAME_UPPER is not supported");
    expect_error("pool kernel", graph_add_node(&g, OP_AVGPOOL, "p", in, 1, "y", NULL, 0, &err),
                 &err, QS_EFORMAT, "attribute kernel_shape is required");
    CHECK_OK(graph_add_node(&g, OP_RELU, "r", in, 1, "y", NULL, 0, &err), &err);
    attr_release(&bad[0]);
    attr_release(&bad[1]);
    attr_release(&pad);
    graph_release(&g);
}

static void test_set_attr(void)
{
    Graph g;
    QsError err = { 0 };
    graph_with_input(&g);
    const char *in[1] = { "x" };
    Attr alpha = attr_float("alpha", 0.5f);
    CHECK_OK(graph_add_node(&g, OP_LEAKYRELU, "l", in, 1, "y", NULL, 0, &err), &err);
    Node *n = &g.nodes[0];
    CHECK(n->params.leakyrelu.alpha == 0.01f);
    CHECK_OK(node_set_attr(n, &alpha, &err), &err);
    CHECK(n->params.leakyrelu.alpha == 0.5f && n->n_attrs == 1);
    Attr inf = attr_float("alpha", INFINITY);
    expect_error("alpha inf", node_set_attr(n, &inf, &err), &err, QS_EINVAL, "not finite");
    CHECK(n->params.leakyrelu.alpha == 0.5f && n->attrs[0].f == 0.5f && n->n_attrs == 1);
    attr_release(&alpha);
    attr_release(&inf);
    graph_release(&g);
}

/* A Node filled in by hand is parsed on the fly, with the same errors. */
static void test_bare_node(void)
{
    Attr tb[2] = { attr_int("transB", 1), attr_float("alpha", 2.0f) };
    Node n = { .op = OP_GEMM, .name = (char *)"g", .n_in = 2, .n_attrs = 2, .attrs = tb };
    OpParams tmp;
    QsError err = { 0 };
    const OpParams *p = op_params(&n, &tmp, &err);
    CHECK(p == &tmp && p->gemm.trans_b && !p->gemm.trans_a && p->gemm.alpha == 2.0f &&
          p->gemm.beta == 1.0f);
    Attr r = attr_float("ratio", 1.0f);
    Node d = { .op = OP_DROPOUT, .name = (char *)"d", .n_in = 1, .n_attrs = 1, .attrs = &r };
    Shape s = shape_of(2, (int64_t)1, (int64_t)3), out;
    const Shape *ins[1] = { &s };
    expect_error("dropout ratio", op_table[OP_DROPOUT]->infer(&d, ins, &out, &err), &err,
                 QS_EINVAL, "ratio 1 is outside [0, 1)");
    attr_release(&tb[0]);
    attr_release(&tb[1]);
    attr_release(&r);
}

static void test_geometry(void)
{
    int64_t lo, hi;
    geom_range(5, 4, 1, -1, &lo, &hi); /* taps -1..3 of a 4-long input */
    CHECK(lo == 1 && hi == 5);
    geom_range(3, 7, 2, -1, &lo, &hi); /* positions -1, 1, 3 */
    CHECK(lo == 1 && hi == 3);
    geom_range(3, 2, 1, 5, &lo, &hi); /* all past the end */
    CHECK(lo == hi);
    CHECK(geom_extent(3, 2) == 5);
    CHECK(geom_out_len(7, 3, 2, 1, 1, 1, false) == 4);
    CHECK(geom_out_len(6, 3, 2, 1, 0, 0, false) == 2);
    CHECK(geom_out_len(6, 3, 2, 1, 0, 0, true) == 3);
    CHECK(geom_out_len(5, 2, 2, 1, 0, 1, true) == 3);  /* last window starts in the input */
    CHECK(geom_out_len(4, 2, 2, 1, 0, 1, true) == 2);  /* ... or would start in the pad */
    CHECK(geom_transposed_len(3, 3, 2, 1, 1, 1, 1) == 6);
    Window w;
    const int64_t k[1] = { 3 }, s[1] = { 2 }, d[1] = { 1 }, p[2] = { 1, 0 };
    geom_window(1, k, s, d, p, &w);
    CHECK(w.kh == 1 && w.kw == 3 && w.sh == 1 && w.sw == 2 && w.pt == 0 && w.pl == 1 &&
          w.pb == 0 && w.pr == 0);
}

/* The window of a made node, as the integer executor reads it. */
static void test_node_window(void)
{
    Graph g;
    QsError err = { 0 };
    graph_with_input(&g);
    const char *in[1] = { "x" };
    const int64_t ks[2] = { 3, 2 }, st[2] = { 2, 1 }, pd[4] = { 1, 0, 1, 0 };
    Attr a[3] = { attr_ints("kernel_shape", ks, 2), attr_ints("strides", st, 2),
                  attr_ints("pads", pd, 4) };
    CHECK_OK(graph_add_node(&g, OP_MAXPOOL, "p", in, 1, "y", a, 3, &err), &err);
    Window w;
    geom_node_window(&g.nodes[0], 2, NULL, &w);
    CHECK(w.kh == 3 && w.kw == 2 && w.sh == 2 && w.sw == 1 && w.dh == 1 && w.dw == 1 &&
          w.pt == 1 && w.pl == 0 && w.pb == 1 && w.pr == 0);
    const int64_t wk[2] = { 5, 5 };
    geom_node_window(&g.nodes[0], 2, wk, &w);
    CHECK(w.kh == 5 && w.kw == 5 && w.sh == 2);
    for (int i = 0; i < 3; i++)
        attr_release(&a[i]);
    graph_release(&g);
}

int main(void)
{
    test_parsed_at_creation();
    test_rejected_at_creation();
    test_set_attr();
    test_bare_node();
    test_geometry();
    test_node_window();
    return test_summary("op_params");
}
