/* Device profiles (core/device): the arena planner on hand-worked buffer sets, the deployed
 * op list and its arena on a hand-built model (every offset worked out by hand from TFLM's
 * greedy rule, docs/devices.md), the op-support checks (a layer the runtime lacks is named)
 * and the latency estimate's arithmetic on hand-counted MACs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "device/arena.h"
#include "device/devgraph.h"
#include "device/profile.h"
#include "graph/model.h"
#include "ops/op.h"
#include "test_graph.h"
#include "test_util.h"

/* ---- the planner alone ---------------------------------------------------------------- */

static void test_align(void)
{
    CHECK(arena_align(1) == 16);
    CHECK(arena_align(16) == 16);
    CHECK(arena_align(17) == 32);
    CHECK(arena_align(784) == 784);
    CHECK(arena_align(0) == 0);
}

/* A chain: B (largest) at 0; A overlaps it at step 1, so after it; C overlaps only B. */
static void test_chain(void)
{
    ArenaBuffer b[3] = { { 100, 0, 1, -1 }, { 200, 1, 2, -1 }, { 50, 2, 3, -1 } };
    CHECK(arena_plan(b, 3) == 300);
    CHECK(b[1].offset == 0);
    CHECK(b[0].offset == 200);
    CHECK(b[2].offset == 200);
}

/* T1 at 0, T2 after it (both live at 0..1); T3 is live with T2 only and fits in the 200
 * bytes below T2 (offset 0); T4 meets T1 and T3 below 200 and T2 above: it goes after T2. */
static void test_gap(void)
{
    ArenaBuffer b[4] = { { 200, 0, 1, -1 }, { 200, 0, 3, -1 }, { 150, 2, 3, -1 },
                         { 60, 1, 2, -1 } };
    CHECK(arena_plan(b, 4) == 460);
    CHECK(b[0].offset == 0);
    CHECK(b[1].offset == 200);
    CHECK(b[2].offset == 0);
    CHECK(b[3].offset == 400);
}

/* Equal sizes keep their given order (the planner's stable sort): the first of two live at
 * once gets offset 0. */
static void test_ties(void)
{
    ArenaBuffer b[2] = { { 64, 0, 1, -1 }, { 64, 1, 2, -1 } };
    CHECK(arena_plan(b, 2) == 128);
    CHECK(b[0].offset == 0 && b[1].offset == 64);
    ArenaBuffer c[2] = { { 64, 1, 2, -1 }, { 64, 0, 1, -1 } };
    CHECK(arena_plan(c, 2) == 128);
    CHECK(c[0].offset == 0 && c[1].offset == 64);
    CHECK(arena_plan(c, 0) == 0);
}

/* ---- a hand-built model ----------------------------------------------------------------- */

/* x (2, 4, 4) -> Conv 1x1 (3) + Relu -> MaxPool 2x2 stride 2 -> Flatten -> Dense 5 [-> tail],
 * where tail is an op given by the caller (OP_COUNT: none). */
static Model *small_model(int tail)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Rng r;
    rng_seed(&r, 5);
    Shape xs = shape_of(3, (int64_t)2, (int64_t)4, (int64_t)4);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    tu_add_const_uniform(g, "c.w", shape_of(4, (int64_t)3, (int64_t)2, (int64_t)1, (int64_t)1),
                         &r, -0.5, 0.5);
    tu_add_const_uniform(g, "c.b", shape_of(1, (int64_t)3), &r, -0.1, 0.1);
    tu_add_const_uniform(g, "fc.w", shape_of(2, (int64_t)5, (int64_t)12), &r, -0.5, 0.5);
    tu_add_const_uniform(g, "fc.b", shape_of(1, (int64_t)5), &r, -0.1, 0.1);
    int64_t k1[2] = { 1, 1 }, k2[2] = { 2, 2 };
    {
        const char *in[3] = { "x", "c.w", "c.b" };
        Attr a[1] = { attr_ints("kernel_shape", k1, 2) };
        tu_add_node(g, OP_CONV, "conv", in, 3, a, 1);
    }
    {
        const char *in[1] = { "conv" };
        tu_add_node(g, OP_RELU, "relu", in, 1, NULL, 0);
    }
    {
        const char *in[1] = { "relu" };
        Attr a[2] = { attr_ints("kernel_shape", k2, 2), attr_ints("strides", k2, 2) };
        tu_add_node(g, OP_MAXPOOL, "pool", in, 1, a, 2);
    }
    {
        const char *in[1] = { "pool" };
        tu_add_node(g, OP_FLATTEN, "flat", in, 1, NULL, 0);
    }
    {
        const char *in[3] = { "flat", "fc.w", "fc.b" };
        tu_add_node(g, OP_DENSE, "fc", in, 3, NULL, 0);
    }
    const char *out = "fc";
    if (tail != OP_COUNT) {
        const char *in[1] = { "fc" };
        tu_add_node(g, tail, "tail", in, 1, NULL, 0);
        out = "tail";
    }
    CHECK_OK(graph_add_output(g, out, &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    return m;
}

static bool op_names(const DeviceProfile *pr, const char *const *want, int n)
{
    if (pr->g.n_ops != n)
        return false;
    for (int i = 0; i < n; i++)
        if (strcmp(pr->g.ops[i].builtin, want[i]) != 0)
            return false;
    return true;
}

static bool offsets(const DeviceProfile *pr, const int64_t *want, int n)
{
    if (pr->g.n_tensors != n)
        return false;
    for (int i = 0; i < n; i++)
        if (pr->buf[i].offset != want[i])
            return false;
    return true;
}

/* fp32: tensors x 128 (steps 0-1), conv 192 (1-2), pool 48 (2-3), flat 48 (3-4), fc 20 -> 32
 * (4-4). Largest first: conv at 0; x live with it: 192; pool live with conv: 192; flat
 * live only with pool (at 192): the 192 bytes below it fit, 0; fc live with flat: 48.
 * Peak: x ends at 320. */
static void test_fp32_arena(void)
{
    QsError err = { 0 };
    Model *m = small_model(OP_COUNT);
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    DeviceProfile pr;
    CHECK_OK(device_profile(m, &p, device_target_find("esp32s3"), false, &pr, &err), &err);
    static const char *const ops[] = { "CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED" };
    CHECK(op_names(&pr, ops, 4));
    static const int64_t off[] = { 192, 0, 192, 0, 48 };
    CHECK(offsets(&pr, off, 5));
    CHECK(pr.arena_bytes == 320);
    CHECK(pr.tensor_bytes == 128 + 192 + 48 + 48 + 32);
    CHECK(pr.n_unsupported == 0);
    /* MACs: conv 48 outputs x K 2, fc 5 x 12; the pool reads 12 windows of 4 */
    CHECK(pr.macs == 96 + 60);
    CHECK(pr.g.ops[0].macs == 96 && pr.g.ops[1].macs == 48 && pr.g.ops[3].macs == 60);
    CHECK(pr.g.ops[2].elems == 12);
    /* the estimate: float cycles per MAC / read / element of the esp32s3 table */
    double cycles = 96 * 11.51 + 48 * 13.33 + 12 * 2.0 + 60 * 10.38;
    CHECK(fabs(pr.est_ms - 1e3 * cycles / 240e6) < 1e-12);
    device_profile_release(&pr);
    plan_release(&p);
    model_free(m);
}

/* int8-static with io=int8: x 32, conv 48, pool 12 -> 16, flat 16, fc 5 -> 16. conv at 0, x
 * after it (48), pool after conv (48), flat below pool (0), fc after flat (16): peak 80.
 * With io=float: QUANTIZE first and DEQUANTIZE last; x 128 (0-1), xq 32 (1-2), conv 48
 * (2-3), pool 16 (3-4), flat 16 (4-5), fc int8 16 (5-6), fc float 32 (6-6): x 0, conv 0,
 * xq 128, fc float 0, pool 48, flat 0, fc int8 32: peak 160. No calibration is needed. */
static void test_int8_arena(void)
{
    QsError err = { 0 };
    Model *m = small_model(OP_COUNT);
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    const DeviceTarget *t = device_target_find("cortex-m");
    DeviceProfile pr;
    CHECK_OK(device_profile(m, &p, t, true, &pr, &err), &err);
    static const int64_t off8[] = { 48, 0, 48, 0, 16 };
    CHECK(offsets(&pr, off8, 5));
    CHECK(pr.arena_bytes == 80);
    CHECK(pr.g.ops[0].type == DEV_INT8);
    /* cortex-m int8: conv 1.5 / MAC, pool-max 1.0 / read, move 1.0 / element, fc 1.2 / MAC */
    double cycles = 96 * 1.5 + 48 * 1.0 + 12 * 1.0 + 60 * 1.2;
    CHECK(fabs(pr.est_ms - 1e3 * cycles / 216e6) < 1e-12);
    device_profile_release(&pr);

    CHECK_OK(device_profile(m, &p, t, false, &pr, &err), &err);
    static const char *const ops[] = { "QUANTIZE", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
                                       "FULLY_CONNECTED", "DEQUANTIZE" };
    CHECK(op_names(&pr, ops, 6));
    CHECK(pr.g.ops[0].edge && pr.g.ops[5].edge);
    static const int64_t off[] = { 0, 128, 0, 48, 0, 32, 0 };
    CHECK(offsets(&pr, off, 7));
    CHECK(pr.arena_bytes == 160);
    device_profile_release(&pr);

    /* esp32s3 int8 CONV_2D takes its cost tier by input channels: 2 < 16 */
    CHECK_OK(device_profile(m, &p, device_target_find("esp32s3"), true, &pr, &err), &err);
    CHECK(pr.g.ops[0].conv_cin == 2);
    CHECK(fabs(pr.cost[0].cycles - 96 * 6.347) < 1e-9);
    device_profile_release(&pr);
    plan_release(&p);
    model_free(m);
}

/* Op support: TFLM lacks GELU (named with its layer); int8-dyn's hybrid kernels and fp16's
 * float16 DEQUANTIZE; Erf has no builtin at all. The Edge TPU maps the prefix before
 * the first op it cannot run. */
static void test_support(void)
{
    QsError err = { 0 };
    const DeviceTarget *mcu = device_target_find("esp32s3");
    const DeviceTarget *tpu = device_target_find("edgetpu");
    char list[256];
    Model *m = small_model(OP_GELU);
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    DeviceProfile pr;
    CHECK_OK(device_profile(m, &p, mcu, false, &pr, &err), &err);
    CHECK(pr.n_unsupported == 1);
    device_unsupported_list(&pr, m, list, sizeof list);
    CHECK(strcmp(list, "GELU: no kernel (tail)") == 0);
    device_profile_release(&pr);

    p.mode = PREC_INT8_DYN;
    CHECK_OK(device_profile(m, &p, mcu, false, &pr, &err), &err);
    device_unsupported_names(&pr, list, sizeof list);
    CHECK(strcmp(list, "hybrid CONV_2D, hybrid FULLY_CONNECTED, GELU") == 0);
    device_profile_release(&pr);

    p.mode = PREC_FP16;
    CHECK_OK(device_profile(m, &p, mcu, false, &pr, &err), &err);
    device_unsupported_names(&pr, list, sizeof list);
    CHECK(strcmp(list, "float16 DEQUANTIZE, GELU") == 0);
    CHECK(pr.n_unsupported == 5); /* conv and fc weights and biases, and GELU */
    device_profile_release(&pr);

    plan_release(&p);
    model_free(m);

    /* Edge TPU: LogSoftmax has no integer kernel here (GELU, once used here, now runs as an
     * int8 table), so the int8 plan dequantizes before it; DEQUANTIZE is not an Edge TPU
     * op: it and everything after run on the CPU */
    m = small_model(OP_LOGSOFTMAX);
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    CHECK_OK(device_profile(m, &p, tpu, false, &pr, &err), &err);
    CHECK(!pr.full_integer);
    CHECK(pr.first_host_op == 5); /* QUANTIZE, CONV, POOL, RESHAPE, FC, DEQUANTIZE, ... */
    CHECK(strcmp(pr.g.ops[5].builtin, "DEQUANTIZE") == 0 && pr.cost[6].on_host);
    CHECK(strcmp(pr.g.ops[6].builtin, "LOG_SOFTMAX") == 0);
    device_profile_release(&pr);
    plan_release(&p);
    model_free(m);

    m = small_model(OP_COUNT);
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    CHECK_OK(device_profile(m, &p, tpu, false, &pr, &err), &err);
    CHECK(pr.full_integer && pr.rank_ok);
    CHECK(pr.first_host_op == 5 && pr.n_unsupported == 1); /* only the final DEQUANTIZE */
    device_profile_release(&pr);
    p.mode = PREC_FP32;
    CHECK_OK(device_profile(m, &p, tpu, false, &pr, &err), &err);
    CHECK(!pr.full_integer && pr.first_host_op == 0 && pr.n_unsupported == pr.g.n_ops);
    device_profile_release(&pr);
    plan_release(&p);
    model_free(m);

    m = small_model(OP_ERF);
    plan_init(&p, m->graph.n_nodes);
    QsStatus st = device_profile(m, &p, mcu, false, &pr, &err);
    CHECK(expect_error("erf", st, &err, QS_EUNSUPPORTED, "layer 'tail'"));
    plan_release(&p);
    model_free(m);
}

/* A chain long enough that a conversion is made while the tensor list grows: x -> 62 Relu
 * (int8) -> Softmax (float: a DEQUANTIZE before it is the 65th tensor; Sigmoid, once used
 * here, now runs as an int8 table). The sanitizer build
 * catches a conversion that reads its source tensor after the list moved. */
static void test_long_chain(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(1, (int64_t)16);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    char prev[16] = "x", name[16];
    for (int i = 0; i < 62; i++) {
        snprintf(name, sizeof name, "r%d", i);
        const char *in[1] = { prev };
        tu_add_node(g, OP_RELU, name, in, 1, NULL, 0);
        memcpy(prev, name, sizeof prev);
    }
    const char *in[1] = { prev };
    tu_add_node(g, OP_SOFTMAX, "sig", in, 1, NULL, 0);
    CHECK_OK(graph_add_output(g, "sig", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    DeviceProfile pr;
    CHECK_OK(device_profile(m, &p, device_target_find("cortex-m"), false, &pr, &err), &err);
    CHECK(pr.g.n_tensors == 66 && pr.g.n_ops == 65);
    CHECK(strcmp(pr.g.ops[63].builtin, "DEQUANTIZE") == 0);
    CHECK(pr.g.tensors[64].shape.ndim == 2 && pr.g.tensors[64].elems == 16);
    CHECK(strcmp(pr.g.ops[64].builtin, "SOFTMAX") == 0 && pr.g.ops[64].type == DEV_FLOAT);
    device_profile_release(&pr);
    plan_release(&p);
    model_free(m);
}

int main(void)
{
    test_align();
    test_chain();
    test_gap();
    test_ties();
    test_fp32_arena();
    test_int8_arena();
    test_support();
    test_long_chain();
    return test_summary("device");
}
