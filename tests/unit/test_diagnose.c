/* diagnose's rules and the weight statistics they read (ptq/wstats.h, ptq/diagnose.h).
 *
 * wstats: a hand-built depthwise Conv whose weights are exact multiples of 0.01, with one
 * channel 27x the others, so every integer code is known by hand under both
 * granularities. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/model.h"
#include "ops/op.h"
#include "ptq/wstats.h"
#include "test_util.h"

static void add_node(Graph *g, int op, const char *name, const char *const *in, int n_in,
                     Attr *attrs, int n_attrs)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_node(g, op, name, in, n_in, name, attrs, n_attrs, &err), &err);
    for (int i = 0; i < n_attrs; i++)
        attr_release(&attrs[i]);
}

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
    add_node(g, OP_CONV, "dw", in, 2, a, 3);
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

int main(void)
{
    test_wstats();
    return test_summary("diagnose");
}
