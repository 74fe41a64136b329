/* Back-propagation through whole graphs (run_enable_grads / run_backward, src/core/run/run.c):
 * central-difference checks of every parameter and input gradient on small graphs with
 * shared values, skip connections, Conv and BatchNorm in both modes; the ParamList layout;
 * which values get gradients; gradients zeroed per backward; batch-size changes; errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"
#include "ops/op.h"
#include "base/rng.h"
#include "run/run.h"
#include "test_util.h"

static Rng rng;

static Tensor *rand_tensor(Shape s, double scale, double shift)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)(shift + scale * (2.0 * rng_uniform(&rng) - 1.0));
    return t;
}

static void add_const(Graph *g, const char *name, Shape s, double scale, double shift,
                      bool is_param)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_const(g, name, rand_tensor(s, scale, shift), is_param, &err), &err);
}

static void add_node(Graph *g, int op, const char *name, const char *const *in, int n_in,
                     const Attr *attrs, int n_attrs)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_node(g, op, name, in, n_in, name, attrs, n_attrs, &err), &err);
}

/* x (5) -> Dense h (4); a = Tanh(h), b = Sigmoid(h) (h feeds two nodes); s = Add(a, b);
 * m = Mul(s, a) (a feeds two nodes); out = Dense(m) (3). A dead branch dead = Dense(x)
 * with its own parameter reaches no output. Smooth ops only, so central differences have
 * no kinks to trip over. */
static void build_branchy(Graph *g)
{
    QsError err = { 0 };
    graph_init(g);
    Shape sx = shape_of(1, (int64_t)5);
    CHECK_OK(graph_add_input(g, "x", &sx, &err), &err);
    add_const(g, "fc1.weight", shape_of(2, (int64_t)4, (int64_t)5), 0.6, 0, true);
    add_const(g, "fc1.bias", shape_of(1, (int64_t)4), 0.3, 0, true);
    add_const(g, "dead.weight", shape_of(2, (int64_t)2, (int64_t)5), 0.5, 0, true);
    add_const(g, "fc2.weight", shape_of(2, (int64_t)3, (int64_t)4), 0.6, 0, true);
    add_const(g, "fc2.bias", shape_of(1, (int64_t)3), 0.3, 0, true);
    add_const(g, "frozen", shape_of(1, (int64_t)3), 0.3, 0, false);
    add_node(g, OP_DENSE, "h", (const char *[]){ "x", "fc1.weight", "fc1.bias" }, 3, NULL, 0);
    add_node(g, OP_TANH, "a", (const char *[]){ "h" }, 1, NULL, 0);
    add_node(g, OP_SIGMOID, "b", (const char *[]){ "h" }, 1, NULL, 0);
    add_node(g, OP_ADD, "s", (const char *[]){ "a", "b" }, 2, NULL, 0);
    add_node(g, OP_MUL, "m", (const char *[]){ "s", "a" }, 2, NULL, 0);
    add_node(g, OP_DENSE, "dead", (const char *[]){ "x", "dead.weight" }, 2, NULL, 0);
    add_node(g, OP_DENSE, "fc2", (const char *[]){ "m", "fc2.weight", "fc2.bias" }, 3, NULL, 0);
    add_node(g, OP_ADD, "out", (const char *[]){ "fc2", "frozen" }, 2, NULL, 0);
    CHECK_OK(graph_add_output(g, "out", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
}

/* x (2, 5, 5) -> Conv (3 ch, 3x3, pad 1, stride 1) -> BatchNormalization -> Tanh
 * -> GlobalAveragePool -> Flatten -> Gemm (transB, 3 -> 2). */
static void build_convbn(Graph *g)
{
    QsError err = { 0 };
    graph_init(g);
    Shape sx = shape_of(3, (int64_t)2, (int64_t)5, (int64_t)5);
    CHECK_OK(graph_add_input(g, "x", &sx, &err), &err);
    add_const(g, "conv.weight", shape_of(4, (int64_t)3, (int64_t)2, (int64_t)3, (int64_t)3), 0.4,
              0, true);
    add_const(g, "conv.bias", shape_of(1, (int64_t)3), 0.2, 0, true);
    add_const(g, "bn.scale", shape_of(1, (int64_t)3), 0.3, 1.0, true);
    add_const(g, "bn.bias", shape_of(1, (int64_t)3), 0.2, 0, true);
    add_const(g, "bn.mean", shape_of(1, (int64_t)3), 0.2, 0, false);
    add_const(g, "bn.var", shape_of(1, (int64_t)3), 0.3, 1.0, false);
    add_const(g, "fc.weight", shape_of(2, (int64_t)2, (int64_t)3), 0.8, 0, true);
    add_const(g, "fc.bias", shape_of(1, (int64_t)2), 0.2, 0, true);
    int64_t pads[4] = { 1, 1, 1, 1 };
    Attr conv_attrs[1] = { attr_ints("pads", pads, 4) };
    add_node(g, OP_CONV, "conv", (const char *[]){ "x", "conv.weight", "conv.bias" }, 3,
             conv_attrs, 1);
    attr_release(&conv_attrs[0]);
    add_node(g, OP_BATCHNORM, "bn",
             (const char *[]){ "conv", "bn.scale", "bn.bias", "bn.mean", "bn.var" }, 5, NULL, 0);
    add_node(g, OP_TANH, "act", (const char *[]){ "bn" }, 1, NULL, 0);
    add_node(g, OP_GLOBALAVGPOOL, "gap", (const char *[]){ "act" }, 1, NULL, 0);
    add_node(g, OP_FLATTEN, "flat", (const char *[]){ "gap" }, 1, NULL, 0);
    Attr gemm_attrs[1] = { attr_int("transB", 1) };
    add_node(g, OP_GEMM, "fc", (const char *[]){ "flat", "fc.weight", "fc.bias" }, 3, gemm_attrs,
             1);
    CHECK_OK(graph_add_output(g, "fc", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
}

/* Float32 forward, double loss: with eps = 1e-2 the rounding of L (~1e-7 |L|) contributes
 * ~1e-5 / 1e-2 = 1e-3 at most to a difference quotient, and curvature O(eps^2) ~1e-4;
 * atol 2e-3 + rtol 1e-2 covers both with margin while a wrong formula (a missing term, a
 * factor of 2, a transposed weight) is off by far more. */
static const GradCheckOpts opts = { .eps = 1e-2, .atol = 2e-3, .rtol = 1e-2, .seed = 99u };

static void test_gradcheck_branchy(void)
{
    Graph g;
    build_branchy(&g);
    Tensor *x = rand_tensor(shape_of(2, (int64_t)3, (int64_t)5), 1.0, 0);
    gradcheck_graph("branchy batch 3", &g, &x, true, &opts);
    /* another batch size on the same graph */
    Tensor *x5 = rand_tensor(shape_of(2, (int64_t)5, (int64_t)5), 1.0, 0);
    gradcheck_graph("branchy batch 5", &g, &x5, true, &opts);
    tensor_free(x);
    tensor_free(x5);
    graph_release(&g);
}

static void test_gradcheck_convbn(void)
{
    Graph g;
    build_convbn(&g);
    Tensor *x = rand_tensor(shape_of(4, (int64_t)4, (int64_t)2, (int64_t)5, (int64_t)5), 1.0, 0);
    GradCheckOpts train = opts;
    train.training = true;
    gradcheck_graph("conv+bn training", &g, &x, true, &train);
    gradcheck_graph("conv+bn inference", &g, &x, true, &opts);
    tensor_free(x);
    graph_release(&g);
}

static void test_param_list(void)
{
    QsError err = { 0 };
    Graph g;
    build_branchy(&g);
    Run r;
    run_init(&r, &g);
    CHECK(run_params(&r)->n == 0);
    CHECK_OK(run_enable_grads(&r, false, &err), &err);
    const ParamList *p = run_params(&r);
    /* dead.weight reaches no output and frozen is no parameter: 4 parameters, in value order */
    const char *want[4] = { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" };
    CHECK(p->n == 4 && p->numel == 20 + 4 + 12 + 3);
    int64_t off = 0;
    for (int i = 0; i < p->n && i < 4; i++) {
        CHECK(strcmp(g.values[p->value[i]].name, want[i]) == 0);
        CHECK(p->offset[i] == off && tensor_f32(&p->grad[i]) == p->buf + off);
        CHECK(p->param[i].data == g.values[p->value[i]].data->data);
        CHECK(shape_equal(&p->param[i].shape, &p->grad[i].shape));
        off += tensor_numel(&p->param[i]);
        if (i > 0)
            CHECK(p->value[i] > p->value[i - 1]);
    }
    CHECK(run_grad(&r, graph_find_value(&g, "dead.weight")) == NULL);
    CHECK(run_grad(&r, graph_find_value(&g, "dead")) == NULL);
    CHECK(run_grad(&r, graph_find_value(&g, "frozen")) == NULL);
    CHECK(run_grad(&r, graph_find_value(&g, "fc1.weight")) != NULL);

    /* errors: backward before a forward; a dout of the wrong shape */
    Tensor *x = rand_tensor(shape_of(2, (int64_t)2, (int64_t)5), 1.0, 0);
    Tensor *dout = rand_tensor(shape_of(2, (int64_t)2, (int64_t)3), 1.0, 0);
    Tensor *bad = rand_tensor(shape_of(2, (int64_t)2, (int64_t)4), 1.0, 0);
    const Tensor *d[1] = { dout }, *dbad[1] = { bad }, *in[1] = { x };
    expect_error("backward before forward", run_backward(&r, d, &err), &err, QS_EINVAL,
                 "no forward pass");
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    expect_error("dout shape", run_backward(&r, dbad, &err), &err, QS_ESHAPE,
                 "gradient of output 'out'");
    CHECK(run_input_grad(&r, 0) == NULL); /* input_grads off */

    /* gradients are zeroed per backward: twice gives the same, not double */
    CHECK_OK(run_backward(&r, d, &err), &err);
    float first[39];
    memcpy(first, p->buf, sizeof first);
    CHECK_OK(run_backward(&r, d, &err), &err);
    CHECK(memcmp(first, p->buf, sizeof first) == 0);
    bool nonzero = false;
    for (int i = 0; i < 39; i++)
        nonzero |= first[i] != 0.0f;
    CHECK(nonzero);
    /* no dout at all: every gradient 0 */
    const Tensor *none[1] = { NULL };
    CHECK_OK(run_backward(&r, none, &err), &err);
    bool all_zero = true;
    for (int i = 0; i < 39; i++)
        all_zero &= p->buf[i] == 0.0f;
    CHECK(all_zero);

    /* re-planning with input gradients; the forward output is unaffected by grads */
    CHECK_OK(run_enable_grads(&r, true, &err), &err);
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    CHECK_OK(run_backward(&r, d, &err), &err);
    const Tensor *gx = run_input_grad(&r, 0);
    CHECK(gx && shape_equal(&gx->shape, &x->shape));
    CHECK(memcmp(first, run_params(&r)->buf, sizeof first) == 0);

    /* a run without gradients still works as before, and refuses backward */
    Run plain;
    run_init(&plain, &g);
    CHECK_OK(run_forward(&plain, in, NULL, NULL, &err), &err);
    CHECK(memcmp(run_output(&plain, 0)->data, run_output(&r, 0)->data, 6 * sizeof(float)) == 0);
    expect_error("not enabled", run_backward(&plain, d, &err), &err, QS_EINVAL,
                 "not enabled");
    run_release(&plain);

    tensor_free(x);
    tensor_free(dout);
    tensor_free(bad);
    run_release(&r);
    graph_release(&g);
}

/* BatchNorm running statistics are constants, not parameters: no gradient, but a
 * training-mode forward moves them (the BN op's job) and an inference one does not. */
static void test_bn_state(void)
{
    QsError err = { 0 };
    Graph g;
    build_convbn(&g);
    Run r;
    run_init(&r, &g);
    CHECK_OK(run_enable_grads(&r, false, &err), &err);
    const ParamList *p = run_params(&r);
    CHECK(p->n == 6);
    int vm = graph_find_value(&g, "bn.mean");
    CHECK(run_grad(&r, vm) == NULL);
    float before = tensor_f32(g.values[vm].data)[0];
    Tensor *x = rand_tensor(shape_of(4, (int64_t)2, (int64_t)2, (int64_t)5, (int64_t)5), 1.0, 3.0);
    const Tensor *in[1] = { x };
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    CHECK(tensor_f32(g.values[vm].data)[0] == before);
    r.training = true;
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    CHECK(tensor_f32(g.values[vm].data)[0] != before);
    tensor_free(x);
    run_release(&r);
    graph_release(&g);
}

/* The gradient arena shares slots by liveness (run/grad_layout.h): along a chain only the
 * gradient being read and the one being written live at once, beside the input's, which
 * lasts the whole backward; the gradients stay right (central differences, inputs too). */
static void test_grad_layout(void)
{
    QsError err = { 0 };
    Graph g;
    graph_init(&g);
    Shape sx = shape_of(1, (int64_t)5);
    CHECK_OK(graph_add_input(&g, "x", &sx, &err), &err);
    add_const(&g, "fc.weight", shape_of(2, (int64_t)4, (int64_t)5), 0.6, 0, true);
    add_node(&g, OP_DENSE, "t0", (const char *[]){ "x", "fc.weight" }, 2, NULL, 0);
    char names[7][4] = { "t0", "t1", "t2", "t3", "t4", "t5", "t6" };
    for (int i = 1; i < 7; i++)
        add_node(&g, OP_TANH, names[i], (const char *[]){ names[i - 1] }, 1, NULL, 0);
    CHECK_OK(graph_add_output(&g, "t6", &err), &err);
    CHECK_OK(graph_finalize(&g, &err), &err);
    Tensor *x = rand_tensor(shape_of(2, (int64_t)2, (int64_t)5), 1.0, 0);
    gradcheck_graph("tanh chain", &g, &x, true, &opts);
    Run r;
    run_init(&r, &g);
    CHECK_OK(run_enable_grads(&r, true, &err), &err);
    const Tensor *in[1] = { x };
    CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
    /* every slot is 2 x 4 or 2 x 5 floats, one 64-byte unit: 8 unshared, 3 shared */
    CHECK(r.grad_arena_bytes == 3 * 64);
    run_release(&r);
    tensor_free(x);
    graph_release(&g);
}

int main(void)
{
    rng_seed(&rng, 4242);
    test_gradcheck_branchy();
    test_gradcheck_convbn();
    test_param_list();
    test_bn_state();
    test_grad_layout();
    return test_summary("run_grad");
}
