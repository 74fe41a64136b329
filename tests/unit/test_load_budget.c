/* Loading hostile or large files (issue 14, findings 6 and 7): the name hash (namemap.h),
 * the graph's name index kept right through bypass and direct filling, the resource
 * budget (budget.h: its rule, parsing, refusals naming what asked), the budget applied by
 * the ONNX folder and the spec builder, and a 4096-node chain that round-trips through
 * .qsm (a guard on linear loading: it would take seconds with the old quadratic scans,
 * but nothing here is timed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/budget.h"
#include "base/namemap.h"
#include "graph/model.h"
#include "native/qsm.h"
#include "native/spec.h"
#include "onnx/onnx_import.h"
#include "ops/op.h"
#include "test_graph.h"
#include "test_util.h"

static void test_namemap(void)
{
    NameMap m;
    namemap_init(&m);
    CHECK(namemap_get(&m, "a") == -1);
    static char names[1000][8];
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof names[i], "n%d", i);
        CHECK(namemap_put(&m, names[i], i) == i);
    }
    CHECK(m.n == 1000 && m.cap >= 2000); /* at most half full */
    int wrong = 0;
    for (int i = 0; i < 1000; i++)
        wrong += namemap_get(&m, names[i]) != i;
    CHECK(wrong == 0);
    CHECK(namemap_put(&m, "n7", 99) == 7); /* the first stays */
    CHECK(namemap_get(&m, "n1000") == -1 && namemap_get(&m, "") == -1);
    namemap_clear(&m);
    CHECK(m.n == 0 && namemap_get(&m, "n7") == -1);
    namemap_free(&m);
}

static void test_budget_rule(void)
{
    QsError err = { 0 };
    int64_t n = 0;
    CHECK_OK(budget_parse_bytes("512M", &n, &err), &err);
    CHECK(n == (int64_t)512 << 20);
    CHECK_OK(budget_parse_bytes("4GiB", &n, &err), &err);
    CHECK(n == (int64_t)4 << 30);
    CHECK_OK(budget_parse_bytes("1048576", &n, &err), &err);
    CHECK(n == 1048576);
    CHECK(budget_parse_bytes("4X", &n, &err) == QS_EINVAL);
    CHECK(budget_parse_bytes("-1G", &n, &err) == QS_EINVAL);
    CHECK(budget_parse_bytes("99999999999T", &n, &err) == QS_EINVAL);
    char buf[32];
    budget_format_bytes((int64_t)64 << 20, buf, sizeof buf);
    CHECK(strcmp(buf, "64 MiB") == 0);
    budget_format_bytes(1536, buf, sizeof buf);
    CHECK(strcmp(buf, "1.5 KiB") == 0);

    budget_reset_max();
    CHECK(budget_max() == BUDGET_DEFAULT_MAX);
    CHECK(budget_for_file(145).limit == BUDGET_FLOOR);                   /* the floor */
    CHECK(budget_for_file((int64_t)10 << 20).limit == (int64_t)160 << 20); /* 16 x */
    CHECK(budget_for_file((int64_t)1 << 30).limit == BUDGET_DEFAULT_MAX);  /* the cap */
    CHECK(budget_set_max(1000, &err) == QS_EINVAL);
    CHECK_OK(budget_set_max((int64_t)8 << 30, &err), &err);
    CHECK(budget_for_file(145).limit == (int64_t)8 << 30); /* set: every file's budget */
    budget_reset_max();

    Budget b = { .limit = 1000 };
    CHECK_OK(budget_charge(&b, 100, 8, "a", &err), &err);
    CHECK_OK(budget_charge(&b, 200, 1, "b", &err), &err);
    CHECK(b.used == 1000);
    QsStatus st = budget_charge(&b, 1, 1, "Expand '/e'", &err);
    expect_error("over by one", st, &err, QS_ENOMEM,
                 "Expand '/e': 1 bytes asked, the budget allows 1000 bytes (set max_memory= to "
                 "raise it)");
    CHECK(b.used == 1000); /* a refusal charges nothing */
    st = budget_charge(&b, INT64_MAX, 8, "huge", &err);
    expect_error("overflowing size", st, &err, QS_ENOMEM, "huge: more than 8 EiB asked");
    st = budget_charge(&b, -1, 4, "neg", &err);
    expect_error("negative size", st, &err, QS_EFORMAT, "neg: a negative size");
    CHECK_OK(budget_charge(NULL, 1 << 30, 4, "no budget", &err), &err);
}

/* x -> r0 -> r1 -> ... -> r{n-1}, all Relu; the last is the output. */
static void relu_chain(Graph *g, int n)
{
    QsError err = { 0 };
    Shape s = shape_of(1, (int64_t)4);
    CHECK_OK(graph_add_input(g, "x", &s, &err), &err);
    char name[32], prev[32] = "x";
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "r%d", i);
        const char *in[1] = { prev };
        tu_add_node(g, OP_RELU, name, in, 1, NULL, 0);
        snprintf(prev, sizeof prev, "%s", name);
    }
    CHECK_OK(graph_add_output(g, prev, &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
}

/* Every value and node is found at its index. */
static bool index_agrees(const Graph *g)
{
    for (int i = 0; i < g->n_values; i++)
        if (graph_find_value(g, g->values[i].name) != i)
            return false;
    for (int i = 0; i < g->n_nodes; i++)
        if (graph_find_node(g, g->nodes[i].name) != i)
            return false;
    return true;
}

static void test_graph_index(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    relu_chain(g, 5);
    CHECK(index_agrees(g));
    CHECK(graph_find_value(g, "nope") == -1 && graph_find_node(g, "x") == -1);
    /* a duplicate is refused through the index */
    const char *in[1] = { "r4" };
    CHECK(graph_add_node(g, OP_RELU, "r4", in, 1, "z", NULL, 0, &err) == QS_EFORMAT);
    CHECK(graph_add_node(g, OP_RELU, "z", in, 1, "r2", NULL, 0, &err) == QS_EFORMAT);
    CHECK(g->n_values == 6 && index_agrees(g));
    /* bypass r1: indices shift, the index follows, r1 is gone */
    CHECK_OK(graph_bypass_node(g, graph_find_node(g, "r1"), &err), &err);
    CHECK(g->n_nodes == 4 && g->n_values == 5);
    CHECK(graph_find_node(g, "r1") == -1 && graph_find_value(g, "r1") == -1);
    CHECK(index_agrees(g));
    CHECK(g->nodes[graph_find_node(g, "r2")].in[0] == graph_find_value(g, "r0"));
    /* a clone fills its arrays directly: its index is built on the first lookup */
    Model *c = model_clone(m, &err);
    CHECK(c && index_agrees(&c->graph));
    /* appended after the index was built */
    const char *in4[1] = { "r4" };
    tu_add_node(g, OP_RELU, "r5", in4, 1, NULL, 0);
    CHECK(graph_find_node(g, "r5") == 4 && index_agrees(g));
    model_free(c);
    model_free(m);
}

static void test_onnx_budget(void)
{
    QsError err = { 0 };
    budget_reset_max();
    Model *m = onnx_load("tests/hostile/onnx_expand_budget/model.onnx", &err);
    CHECK(!m);
    expect_error("Expand fold", err.code, &err, QS_ENOMEM,
                 "Expand '/e': 4 GiB asked, the budget allows 64 MiB (set max_memory= to "
                 "raise it)");
    QS_ASSERT(budget_set_max((int64_t)1 << 20, &err) == QS_OK);
    m = onnx_load("tests/hostile/onnx_range_budget/model.onnx", &err);
    CHECK(!m);
    expect_error("Range fold under max_memory", err.code, &err, QS_ENOMEM,
                 "Range '/r': 762.9 MiB asked, the budget allows 1 MiB");
    budget_reset_max();
}

static void test_spec_budget(void)
{
    QsError err = { 0 };
    /* 2048 x 8192 floats = 64 MiB: exactly the floor; 8193 is one column too many */
    const char *fits = "{\"input\": {\"shape\": [2048]}, \"layers\": [{\"kind\": \"dense\", "
                       "\"name\": \"fc\", \"out\": 8192, \"bias\": false}]}";
    const char *over = "{\"input\": {\"shape\": [2048]}, \"layers\": [{\"kind\": \"dense\", "
                       "\"name\": \"fc\", \"out\": 8193, \"bias\": false}]}";
    Model *m = spec_parse(fits, "fits", 1, &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    model_free(m);
    m = spec_parse(over, "over", 1, &err);
    CHECK(!m);
    expect_error("spec over the floor", err.code, &err, QS_ENOMEM,
                 "'fc.weight': 64.0 MiB asked, the budget allows 64 MiB");
}

static void test_many_nodes_load(void)
{
    QsError err = { 0 };
    enum { N = 4096 };
    Model *m = model_new();
    relu_chain(&m->graph, N);
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(qsm_serialize(m, &buf, &len, &err), &err);
    Model *back = buf ? qsm_parse(buf, len, "chain", &err) : NULL;
    CHECK_OK(back ? QS_OK : err.code, &err);
    if (back) {
        CHECK(back->graph.n_nodes == N && back->graph.finalized);
        CHECK(graph_find_node(&back->graph, "r4095") >= 0);
        CHECK(back->graph.order[N - 1] == graph_find_node(&back->graph, "r4095"));
    }
    model_free(back);
    free(buf);
    model_free(m);
}

int main(void)
{
    test_namemap();
    test_budget_rule();
    test_graph_index();
    test_onnx_budget();
    test_spec_budget();
    test_many_nodes_load();
    return test_summary("load_budget");
}
