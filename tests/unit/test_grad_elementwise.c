/* Backward of the elementwise, shape and reduction ops (op_activation.c, op_softmax.c,
 * op_shape.c, op_binary.c, op_reduce.c): central-difference gradient checks of every
 * input of every op (tests/gradcheck.h), exact hand-computed backward cases including the
 * conventions at kinks and ties, and a walk over the op_table rows these files own.
 *
 * Accumulation: gradcheck_node pre-fills every gradient buffer with 1.0 and expects
 * 1.0 + gradient, so each gradient check below also checks that backward adds into din
 * (+=) rather than overwriting it; the hand cases pre-fill din with other values for the
 * same reason.
 *
 * Tolerances of the gradient checks (|num - ana| <= atol + rtol * max(|num|, |ana|)),
 * with eps = 1e-2 throughout:
 *   - Ops that are linear in each input (Identity, Dropout, Flatten, Reshape, Transpose,
 *     Concat, Add, Mul, ReduceSum, ReduceMean) and the piecewise-linear or -quadratic ones
 *     away from their kinks (Relu, LeakyRelu, Clip, HardSwish, ReduceMax) have no
 *     truncation error: the central difference is off only by float32 rounding of the
 *     outputs, at most ulp(|y|) / (2 eps) per output an input reaches; |y| < 128 here
 *     (ReduceSum of 60 values in [-3, 3)), so < 7.6e-6 / 2e-2 = 3.8e-4, and those errors
 *     partly cancel when one input reaches many outputs (random signs of r).
 *     atol = 1e-3, rtol = 1e-3 (observed worst 3e-5).
 *   - Smooth activations and softmax: truncation eps^2 / 6 * |f'''| <= 2e-5 for these
 *     functions on these ranges, plus rounding ulp(|y| <= 6) / (2 eps) ~ 2.4e-5 and a few
 *     ulp of libm error. atol = 5e-4, rtol = 1e-3 (observed worst 3e-5).
 * A wrong formula (a missing factor, a sign, a wrong broadcast axis) gives errors of the
 * order of the gradient itself (0.05..1 here), far above these limits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "test_util.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define EPS 1e-2

static const GradCheckOpts LINEAR_TOL = { .eps = EPS, .atol = 1e-3, .rtol = 1e-3 };
static const GradCheckOpts SMOOTH_TOL = { .eps = EPS, .atol = 5e-4, .rtol = 1e-3 };

static unsigned rng_state = 2024u;

/* Uniform in [lo, hi), from a fixed LCG so the inputs are the same on every run. */
static float rnd(float lo, float hi)
{
    rng_state = rng_state * 1103515245u + 12345u;
    float u = (float)((rng_state >> 8) & 0xffffff) / 16777216.0f;
    return lo + (hi - lo) * u;
}

/* Uniform values in [lo, hi) that stay at least 3 eps from every kink, so that the
 * +-eps perturbation never crosses one (the function is piecewise smooth between them,
 * and the central difference would otherwise average two slopes). */
static Tensor *make_input(Shape s, float lo, float hi, const float *kinks, int n_kinks)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    float *x = tensor_f32(t);
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        bool near;
        do {
            x[i] = rnd(lo, hi);
            near = false;
            for (int k = 0; k < n_kinks; k++)
                near |= fabsf(x[i] - kinks[k]) < 3.0f * (float)EPS;
        } while (near);
    }
    return t;
}

static Tensor *make_smooth(Shape s, float lo, float hi)
{
    return make_input(s, lo, hi, NULL, 0);
}

/* Distinct values: a shuffled ramp with steps of 0.05 > 2 * 3 eps, so that no
 * perturbation of +-eps changes which element is the max of any set (no ties). */
static Tensor *make_distinct(Shape s)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    float *x = tensor_f32(t);
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(i - n / 2) * 0.05f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rnd(0.0f, 1.0f) * (float)(i + 1));
        if (j > i)
            j = i;
        float v = x[i];
        x[i] = x[j];
        x[j] = v;
    }
    return t;
}

static void attrs_release(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

/* Runs op's forward on `in`, then its backward with dout (out's shape) into din tensors
 * pre-filled with `prefill`; din[i] NULL where want[i] is false (NULL want: all).
 * Returns the output (caller frees with tensor_free) or NULL when infer fails. */
static Tensor *run_backward(int op, const Attr *attrs, int n_attrs, Tensor *const *in,
                            int n_in, const float *dout_data, const bool *want, float prefill,
                            Tensor **din)
{
    Node n = gradcheck_make_node(op, "node", n_in, attrs, n_attrs);
    const OpDef *def = op_table[op];
    const Shape *shapes[64];
    const Tensor *cin[64];
    for (int i = 0; i < n_in; i++) {
        shapes[i] = &in[i]->shape;
        cin[i] = in[i];
        din[i] = NULL;
    }
    Shape os;
    QsError err = { 0 };
    if (!CHECK_OK(def->infer(&n, shapes, &os, &err), &err)) {
        gradcheck_node_release(&n);
        return NULL;
    }
    size_t sbytes = def->scratch ? def->scratch(&n, shapes, &os) : 0;
    void *scratch = NULL;
    if (posix_memalign(&scratch, 64, sbytes ? sbytes : 64))
        abort();
    RunCtx rc = { .scratch = scratch, .scratch_bytes = sbytes };
    Tensor *out = tensor_new(DT_F32, os, NULL);
    def->forward(&n, cin, out, &rc);
    Tensor dout = tensor_view(DT_F32, os, (void *)dout_data);
    for (int i = 0; i < n_in; i++) {
        if (want && !want[i])
            continue;
        din[i] = tensor_new(DT_F32, in[i]->shape, NULL);
        for (int64_t k = 0; k < tensor_numel(din[i]); k++)
            tensor_f32(din[i])[k] = prefill;
    }
    def->backward(&n, cin, out, &dout, din, &rc);
    free(scratch);
    gradcheck_node_release(&n);
    return out;
}

static bool all_finite(const Tensor *t)
{
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (!isfinite(tensor_f32(t)[i]))
            return false;
    return true;
}

/* Gradient check of every input i with check[i] (NULL: all inputs). gradcheck_node
 * passes a NULL din for the inputs not checked, so those cases also exercise "this
 * gradient is not needed". Its comparison lets a NaN analytic gradient through, so the
 * analytic gradients are also required to be finite here (for dout = 1). */
static void gc(const char *label, int op, const Attr *attrs, int n_attrs, Tensor *const *in,
               int n_in, const bool *check, const GradCheckOpts *tol)
{
    bool all[64];
    for (int i = 0; i < n_in; i++)
        all[i] = check ? check[i] : true;
    Node n = gradcheck_make_node(op, label, n_in, attrs, n_attrs);
    gradcheck_node(label, &n, in, n_in, all, tol);
    gradcheck_node_release(&n);

    Tensor *din[64];
    const Shape *shapes[64];
    for (int i = 0; i < n_in; i++)
        shapes[i] = &in[i]->shape;
    Node n2 = gradcheck_make_node(op, label, n_in, attrs, n_attrs);
    Shape os;
    QsError err = { 0 };
    if (op_table[op]->infer(&n2, shapes, &os, &err) == QS_OK) {
        float *ones = malloc((size_t)(shape_numel(&os) ? shape_numel(&os) : 1) * sizeof *ones);
        for (int64_t k = 0; k < shape_numel(&os); k++)
            ones[k] = 1.0f;
        Tensor *out = run_backward(op, attrs, n_attrs, in, n_in, ones, all, 0.0f, din);
        bool finite = true;
        for (int i = 0; i < n_in; i++)
            if (din[i]) {
                finite &= all_finite(din[i]);
                tensor_free(din[i]);
            }
        if (!finite)
            fprintf(stderr, "%s: non-finite analytic gradient\n", label);
        test_check(finite, __FILE__, __LINE__, label);
        tensor_free(out);
        free(ones);
    }
    gradcheck_node_release(&n2);
}

static void free_all(Tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        tensor_free(t[i]);
}

/* ---- activations ---- */

static void test_grad_activations(void)
{
    Shape s = shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4);
    {
        const float k0[] = { 0.0f };
        Tensor *x = make_input(s, -2, 2, k0, 1);
        gc("relu", OP_RELU, NULL, 0, &x, 1, NULL, &LINEAR_TOL);
        gc("leakyrelu default alpha", OP_LEAKYRELU, NULL, 0, &x, 1, NULL, &LINEAR_TOL);
        Attr a[1] = { attr_float("alpha", 0.2f) };
        gc("leakyrelu alpha 0.2", OP_LEAKYRELU, a, 1, &x, 1, NULL, &LINEAR_TOL);
        attrs_release(a, 1);
        tensor_free(x);
    }
    {
        const float k[] = { -1.0f, 2.0f };
        Tensor *x = make_input(s, -3, 4, k, 2);
        Attr a[2] = { attr_float("min", -1.0f), attr_float("max", 2.0f) };
        gc("clip -1..2", OP_CLIP, a, 2, &x, 1, NULL, &LINEAR_TOL);
        gc("clip max only", OP_CLIP, a + 1, 1, &x, 1, NULL, &LINEAR_TOL);
        gc("clip min only", OP_CLIP, a, 1, &x, 1, NULL, &LINEAR_TOL);
        attrs_release(a, 2);
        tensor_free(x);
    }
    {
        const float k[] = { -3.0f, 3.0f };
        Tensor *x = make_input(s, -5, 5, k, 2);
        gc("hardswish", OP_HARDSWISH, NULL, 0, &x, 1, NULL, &LINEAR_TOL);
        tensor_free(x);
    }
    {
        Tensor *x = make_smooth(s, -6, 6);
        gc("sigmoid", OP_SIGMOID, NULL, 0, &x, 1, NULL, &SMOOTH_TOL);
        gc("silu", OP_SILU, NULL, 0, &x, 1, NULL, &SMOOTH_TOL);
        tensor_free(x);
    }
    {
        Tensor *x = make_smooth(s, -3, 3);
        gc("tanh", OP_TANH, NULL, 0, &x, 1, NULL, &SMOOTH_TOL);
        gc("gelu exact", OP_GELU, NULL, 0, &x, 1, NULL, &SMOOTH_TOL);
        Attr a[1] = { attr_str("approximate", "tanh") };
        gc("gelu tanh", OP_GELU, a, 1, &x, 1, NULL, &SMOOTH_TOL);
        attrs_release(a, 1);
        gc("identity", OP_IDENTITY, NULL, 0, &x, 1, NULL, &LINEAR_TOL);
        gc("dropout", OP_DROPOUT, NULL, 0, &x, 1, NULL, &LINEAR_TOL);
        Attr r[1] = { attr_float("ratio", 0.3f) };
        GradCheckOpts tr = LINEAR_TOL;
        tr.training = true; /* still the identity in training (see op_activation.c) */
        gc("dropout training", OP_DROPOUT, r, 1, &x, 1, NULL, &tr);
        attrs_release(r, 1);
        tensor_free(x);
    }
}

/* Exact values at and around the kinks, where each op follows PyTorch (checked with
 * torch 1.13: torch.relu, torch.clamp, F.leaky_relu, F.hardswish). din is pre-filled with
 * 0.5 and dout is a power of two, so every expected value is exact. */
static void test_grad_kinks_exact(void)
{
    Shape s = shape_of(2, (int64_t)1, (int64_t)8);
    Tensor *x = tensor_new(DT_F32, s, NULL), *din[1];
    float dy[8];
    for (int i = 0; i < 8; i++)
        dy[i] = 4.0f;
    {
        /* Relu: 0 at x <= 0 (x == 0 and -0 included); NaN passes dout, as threshold_backward
         * (x <= 0 is false for NaN). */
        const float xv[8] = { -2, -0.0f, 0, 1e-30f, 0.5f, 3, -1e30f, NAN };
        const float want[8] = { 0.5f, 0.5f, 0.5f, 4.5f, 4.5f, 4.5f, 0.5f, 4.5f };
        memcpy(tensor_f32(x), xv, sizeof xv);
        Tensor *y = run_backward(OP_RELU, NULL, 0, &x, 1, dy, NULL, 0.5f, din);
        expect_close("relu backward", tensor_f32(din[0]), want, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
    }
    {
        /* Clip as torch.clamp: gradient where min <= x <= max, bounds included; 0 for NaN. */
        const float xv[8] = { -1, 0, 3, 6, 6.0000005f, -1e-30f, 5.9999995f, NAN };
        const float want[8] = { 0.5f, 4.5f, 4.5f, 4.5f, 0.5f, 0.5f, 4.5f, 0.5f };
        memcpy(tensor_f32(x), xv, sizeof xv);
        Attr a[2] = { attr_float("min", 0), attr_float("max", 6) };
        Tensor *y = run_backward(OP_CLIP, a, 2, &x, 1, dy, NULL, 0.5f, din);
        expect_close("clip backward at bounds", tensor_f32(din[0]), want, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        attrs_release(a, 2);
    }
    {
        /* LeakyRelu: alpha at x <= 0, x == 0 included; alpha = 0.25 keeps it exact. */
        const float xv[8] = { -2, -0.0f, 0, 1e-30f, 0.5f, 3, -1e30f, NAN };
        const float want[8] = { 1.5f, 1.5f, 1.5f, 4.5f, 4.5f, 4.5f, 1.5f, 1.5f };
        memcpy(tensor_f32(x), xv, sizeof xv);
        Attr a[1] = { attr_float("alpha", 0.25f) };
        Tensor *y = run_backward(OP_LEAKYRELU, a, 1, &x, 1, dy, NULL, 0.5f, din);
        expect_close("leakyrelu backward", tensor_f32(din[0]), want, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        attrs_release(a, 1);
    }
    {
        /* HardSwish: 0 below -3, x/3 + 1/2 on [-3, 3] (so -1/2 at -3 and 3/2 at 3), 1
         * above 3; NaN takes the last branch (1), as in PyTorch. */
        const float xv[8] = { -4, -3, 0, 1.5f, 3, 3.0000002f, -1e30f, NAN };
        const float want[8] = { 0.5f, 0.5f - 2.0f, 0.5f + 2.0f, 0.5f + 4.0f, 0.5f + 6.0f,
                                4.5f, 0.5f, 4.5f };
        memcpy(tensor_f32(x), xv, sizeof xv);
        Tensor *y = run_backward(OP_HARDSWISH, NULL, 0, &x, 1, dy, NULL, 0.5f, din);
        expect_close("hardswish backward", tensor_f32(din[0]), want, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
    }
    {
        /* Far out, sigmoid/tanh have gradient 0 and GELU/SiLU 0 on the left and 1 on the
         * right, never NaN (GELU tanh's u'(x) overflows to inf there). At x = -100,
         * sigmoid and SiLU still have a tiny (denormal) gradient. At 0 the slopes are
         * 1/4 (sigmoid), 1 (tanh) and 1/2 (GELU, SiLU). */
        const float xv[8] = { -1e30f, -100, -20, 0, 20, 100, 1e30f, 0 };
        memcpy(tensor_f32(x), xv, sizeof xv);
        Attr tanh_form[1] = { attr_str("approximate", "tanh") };
        const int ops[] = { OP_SIGMOID, OP_TANH, OP_GELU, OP_GELU, OP_SILU };
        const float at0[] = { 1, 4, 2, 2, 2 }, right[] = { 0, 0, 4, 4, 4 };
        for (int k = 0; k < NELEM(ops); k++) {
            bool use_tanh = k == 3;
            Tensor *y = run_backward(ops[k], tanh_form, use_tanh ? 1 : 0, &x, 1, dy, NULL,
                                     0.0f, din);
            const float *g = tensor_f32(din[0]);
            bool ok = all_finite(din[0]) && g[0] == 0.0f && fabsf(g[1]) < 1e-30f &&
                      g[3] == at0[k] && g[5] == right[k] && g[6] == right[k];
            char label[64];
            snprintf(label, sizeof label, "%s%s far out and at 0", op_table[ops[k]]->name,
                     use_tanh ? " tanh" : "");
            if (!ok)
                fprintf(stderr, "%s: %g %g %g %g %g %g %g\n", label, g[0], g[1], g[2], g[3],
                        g[4], g[5], g[6]);
            test_check(ok, __FILE__, __LINE__, label);
            tensor_free(y);
            tensor_free(din[0]);
        }
        attrs_release(tanh_form, 1);
    }
    tensor_free(x);
}

/* ---- softmax ---- */

static void test_grad_softmax(void)
{
    const int ops[] = { OP_SOFTMAX, OP_LOGSOFTMAX };
    Shape s3 = shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4);
    Shape s4 = shape_of(4, (int64_t)2, (int64_t)3, (int64_t)2, (int64_t)3);
    Shape s2 = shape_of(2, (int64_t)3, (int64_t)5);
    Tensor *x3 = make_smooth(s3, -3, 3), *x4 = make_smooth(s4, -3, 3);
    Tensor *x2 = make_smooth(s2, -3, 3);
    for (int k = 0; k < NELEM(ops); k++) {
        char label[64];
        const int64_t axes3[] = { 1, 2, -1, -2 };
        for (int i = 0; i < NELEM(axes3); i++) {
            Attr a[1] = { attr_int("axis", axes3[i]) };
            snprintf(label, sizeof label, "%s (2,3,4) axis %lld", op_table[ops[k]]->name,
                     (long long)axes3[i]);
            gc(label, ops[k], a, 1, &x3, 1, NULL, &SMOOTH_TOL);
            attrs_release(a, 1);
        }
        for (int axis = 1; axis < 4; axis++) {
            Attr a[1] = { attr_int("axis", axis) };
            snprintf(label, sizeof label, "%s (2,3,2,3) axis %d", op_table[ops[k]]->name, axis);
            gc(label, ops[k], a, 1, &x4, 1, NULL, &SMOOTH_TOL);
            attrs_release(a, 1);
        }
        snprintf(label, sizeof label, "%s (3,5) default axis", op_table[ops[k]]->name);
        gc(label, ops[k], NULL, 0, &x2, 1, NULL, &SMOOTH_TOL);
    }
    tensor_free(x3);
    tensor_free(x4);
    tensor_free(x2);
}

/* dx = y (dy - sum dy y): a constant dout gives exactly 0 (softmax is shift invariant), and
 * for LogSoftmax dx = dy - softmax * sum dy. */
static void test_grad_softmax_exact(void)
{
    Shape s = shape_of(2, (int64_t)1, (int64_t)4);
    Tensor *x = tensor_new(DT_F32, s, NULL), *din[1];
    const float xv[4] = { 0, 0, 0, 0 }, dy[4] = { 3, 3, 3, 3 }, dy2[4] = { 1, 0, 0, 0 };
    memcpy(tensor_f32(x), xv, sizeof xv);
    Tensor *y = run_backward(OP_SOFTMAX, NULL, 0, &x, 1, dy, NULL, 0.0f, din);
    const float zero[4] = { 0, 0, 0, 0 };
    expect_close("softmax backward, constant dout", tensor_f32(din[0]), zero, 4, 0, 0);
    tensor_free(y);
    tensor_free(din[0]);
    /* Uniform softmax 1/4: dx = 1/4 (e0 - 1/4) = (3/16, -1/16, -1/16, -1/16). */
    y = run_backward(OP_SOFTMAX, NULL, 0, &x, 1, dy2, NULL, 0.0f, din);
    const float want[4] = { 3.0f / 16, -1.0f / 16, -1.0f / 16, -1.0f / 16 };
    expect_close("softmax backward, one-hot dout", tensor_f32(din[0]), want, 4, 0, 0);
    tensor_free(y);
    tensor_free(din[0]);
    /* LogSoftmax: dx = e0 - 1/4 * 1. */
    y = run_backward(OP_LOGSOFTMAX, NULL, 0, &x, 1, dy2, NULL, 0.0f, din);
    /* exp(y) of the float y = log(1/4) is 1/4 only to about 1e-8 (y's rounding). */
    const float want2[4] = { 0.75f, -0.25f, -0.25f, -0.25f };
    expect_close("logsoftmax backward, one-hot dout", tensor_f32(din[0]), want2, 4, 1e-7, 0);
    tensor_free(y);
    tensor_free(din[0]);
    tensor_free(x);
}

/* ---- layout ops ---- */

static void test_grad_layout(void)
{
    Shape s = shape_of(4, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5);
    Tensor *x = make_smooth(s, -2, 2);
    {
        Attr a[1] = { attr_int("axis", 1) };
        gc("flatten axis 1", OP_FLATTEN, a, 1, &x, 1, NULL, &LINEAR_TOL);
        gc("flatten default axis", OP_FLATTEN, NULL, 0, &x, 1, NULL, &LINEAR_TOL);
        attrs_release(a, 1);
        const int64_t sh1[] = { 0, 12, 5 }, sh2[] = { -1, 60 }, sh3[] = { 0, 5, -1, 2, 2 };
        Attr r1[1] = { attr_ints("shape", sh1, 3) }, r2[1] = { attr_ints("shape", sh2, 2) };
        Attr r3[1] = { attr_ints("shape", sh3, 5) };
        gc("reshape (0,12,5)", OP_RESHAPE, r1, 1, &x, 1, NULL, &LINEAR_TOL);
        gc("reshape (-1,60)", OP_RESHAPE, r2, 1, &x, 1, NULL, &LINEAR_TOL);
        gc("reshape (0,5,-1,2,2)", OP_RESHAPE, r3, 1, &x, 1, NULL, &LINEAR_TOL);
        attrs_release(r1, 1);
        attrs_release(r2, 1);
        attrs_release(r3, 1);
    }
    {
        const int64_t perms[][4] = { { 0, 2, 3, 1 }, { 0, 3, 1, 2 }, { 0, 1, 3, 2 },
                                     { 0, 2, 1, 3 }, { 0, 3, 2, 1 }, { 0, 1, 2, 3 } };
        for (int i = 0; i < NELEM(perms); i++) {
            char label[64];
            snprintf(label, sizeof label, "transpose perm (0,%lld,%lld,%lld)",
                     (long long)perms[i][1], (long long)perms[i][2], (long long)perms[i][3]);
            Attr a[1] = { attr_ints("perm", perms[i], 4) };
            gc(label, OP_TRANSPOSE, a, 1, &x, 1, NULL, &LINEAR_TOL);
            attrs_release(a, 1);
        }
        /* Size-1 axes are dropped by the walk; all-ones gives the m == 0 path. */
        Shape s1 = shape_of(4, (int64_t)2, (int64_t)1, (int64_t)3, (int64_t)1);
        Shape s0 = shape_of(3, (int64_t)1, (int64_t)1, (int64_t)1);
        Tensor *x1 = make_smooth(s1, -2, 2), *x0 = make_smooth(s0, -2, 2);
        const int64_t p1[] = { 0, 3, 2, 1 }, p0[] = { 0, 2, 1 };
        Attr a1[1] = { attr_ints("perm", p1, 4) }, a0[1] = { attr_ints("perm", p0, 3) };
        gc("transpose (2,1,3,1) perm (0,3,2,1)", OP_TRANSPOSE, a1, 1, &x1, 1, NULL,
           &LINEAR_TOL);
        gc("transpose (1,1,1)", OP_TRANSPOSE, a0, 1, &x0, 1, NULL, &LINEAR_TOL);
        attrs_release(a1, 1);
        attrs_release(a0, 1);
        tensor_free(x1);
        tensor_free(x0);
    }
    tensor_free(x);
    {
        /* Three inputs along each non-batch axis, and one input's gradient not wanted. */
        Tensor *c[3];
        c[0] = make_smooth(shape_of(3, (int64_t)2, (int64_t)2, (int64_t)3), -2, 2);
        c[1] = make_smooth(shape_of(3, (int64_t)2, (int64_t)1, (int64_t)3), -2, 2);
        c[2] = make_smooth(shape_of(3, (int64_t)2, (int64_t)4, (int64_t)3), -2, 2);
        Attr a[1] = { attr_int("axis", 1) };
        gc("concat axis 1", OP_CONCAT, a, 1, c, 3, NULL, &LINEAR_TOL);
        const bool some[3] = { true, false, true };
        gc("concat axis 1, input 1 not wanted", OP_CONCAT, a, 1, c, 3, some, &LINEAR_TOL);
        gc("concat default axis", OP_CONCAT, NULL, 0, c, 3, NULL, &LINEAR_TOL);
        attrs_release(a, 1);
        free_all(c, 3);
        c[0] = make_smooth(shape_of(3, (int64_t)2, (int64_t)3, (int64_t)1), -2, 2);
        c[1] = make_smooth(shape_of(3, (int64_t)2, (int64_t)3, (int64_t)2), -2, 2);
        c[2] = make_smooth(shape_of(3, (int64_t)2, (int64_t)3, (int64_t)3), -2, 2);
        Attr b[1] = { attr_int("axis", -1) };
        gc("concat axis -1", OP_CONCAT, b, 1, c, 3, NULL, &LINEAR_TOL);
        attrs_release(b, 1);
        free_all(c, 3);
        c[0] = make_smooth(shape_of(4, (int64_t)2, (int64_t)3, (int64_t)2, (int64_t)2), -2, 2);
        c[1] = make_smooth(shape_of(4, (int64_t)2, (int64_t)3, (int64_t)1, (int64_t)2), -2, 2);
        Attr d[1] = { attr_int("axis", 2) };
        gc("concat 4-D axis 2", OP_CONCAT, d, 1, c, 2, NULL, &LINEAR_TOL);
        attrs_release(d, 1);
        free_all(c, 2);
        c[0] = make_smooth(shape_of(2, (int64_t)2, (int64_t)3), -2, 2);
        gc("concat one input", OP_CONCAT, NULL, 0, c, 1, NULL, &LINEAR_TOL);
        tensor_free(c[0]);
    }
}

/* ---- Add, Mul ---- */

static void test_grad_binary(void)
{
    Shape big = shape_of(4, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5);
    const Shape small[] = {
        shape_of(3, (int64_t)3, (int64_t)1, (int64_t)1),
        shape_of(1, (int64_t)5),
        shape_of(1, (int64_t)1),
        shape_of(4, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5),  /* same shape */
        shape_of(2, (int64_t)4, (int64_t)5),                          /* leading dims */
        shape_of(4, (int64_t)2, (int64_t)1, (int64_t)4, (int64_t)1),
        shape_of(4, (int64_t)1, (int64_t)3, (int64_t)1, (int64_t)5),
    };
    const int ops[] = { OP_ADD, OP_MUL };
    /* Away from 0 so that no Mul gradient (the other operand) is tiny against rounding. */
    Tensor *a = make_smooth(big, -2, 2);
    for (int k = 0; k < NELEM(ops); k++) {
        for (int i = 0; i < NELEM(small); i++) {
            Tensor *b = make_smooth(small[i], -2, 2);
            char sb[64], label[128];
            shape_format(&small[i], sb, sizeof sb);
            Tensor *ab[2] = { a, b }, *ba[2] = { b, a };
            snprintf(label, sizeof label, "%s (2,3,4,5) with %s", op_table[ops[k]]->name, sb);
            gc(label, ops[k], NULL, 0, ab, 2, NULL, &LINEAR_TOL);
            snprintf(label, sizeof label, "%s %s with (2,3,4,5)", op_table[ops[k]]->name, sb);
            gc(label, ops[k], NULL, 0, ba, 2, NULL, &LINEAR_TOL);
            tensor_free(b);
        }
        /* Both operands broadcast: (2,1,4,1) with (1,3,1,5) -> (2,3,4,5). */
        Tensor *p = make_smooth(small[5], -2, 2), *q = make_smooth(small[6], -2, 2);
        Tensor *pq[2] = { p, q };
        char label[64];
        snprintf(label, sizeof label, "%s (2,1,4,1) with (1,3,1,5)", op_table[ops[k]]->name);
        gc(label, ops[k], NULL, 0, pq, 2, NULL, &LINEAR_TOL);
        /* Only one gradient wanted, either side. */
        const bool first[2] = { true, false }, second[2] = { false, true };
        snprintf(label, sizeof label, "%s only din[0]", op_table[ops[k]]->name);
        gc(label, ops[k], NULL, 0, pq, 2, first, &LINEAR_TOL);
        snprintf(label, sizeof label, "%s only din[1]", op_table[ops[k]]->name);
        gc(label, ops[k], NULL, 0, pq, 2, second, &LINEAR_TOL);
        tensor_free(p);
        tensor_free(q);
    }
    tensor_free(a);
}

/* Hand-computed: Add of (2,3) with (3,) gives the (3,) operand the column sums of dout;
 * Mul gives each operand dout times the other, summed over the broadcast axis. din is
 * pre-filled with 1 (and 0.5) to show accumulation. All values are small integers or
 * halves, so every expected value is exact. */
static void test_grad_binary_exact(void)
{
    Tensor *a = tensor_new(DT_F32, shape_of(2, (int64_t)2, (int64_t)3), NULL);
    Tensor *b = tensor_new(DT_F32, shape_of(1, (int64_t)3), NULL);
    const float av[6] = { 1, 2, 3, 4, 5, 6 }, bv[3] = { -1, 0.5f, 2 };
    const float dy[6] = { 1, 2, 3, 10, 20, 30 };
    memcpy(tensor_f32(a), av, sizeof av);
    memcpy(tensor_f32(b), bv, sizeof bv);
    Tensor *in[2] = { a, b }, *din[2];
    {
        Tensor *y = run_backward(OP_ADD, NULL, 0, in, 2, dy, NULL, 1.0f, din);
        const float wa[6] = { 2, 3, 4, 11, 21, 31 }, wb[3] = { 12, 23, 34 };
        expect_close("add backward, full operand", tensor_f32(din[0]), wa, 6, 0, 0);
        expect_close("add backward, broadcast operand", tensor_f32(din[1]), wb, 3, 0, 0);
        tensor_free(y);
        free_all(din, 2);
    }
    {
        /* Reversed order: the broadcast operand first. */
        Tensor *rin[2] = { b, a };
        Tensor *y = run_backward(OP_ADD, NULL, 0, rin, 2, dy, NULL, 0.5f, din);
        const float wb[3] = { 11.5f, 22.5f, 33.5f };
        const float wa[6] = { 1.5f, 2.5f, 3.5f, 10.5f, 20.5f, 30.5f };
        expect_close("add backward reversed, broadcast operand", tensor_f32(din[0]), wb, 3, 0,
                     0);
        expect_close("add backward reversed, full operand", tensor_f32(din[1]), wa, 6, 0, 0);
        tensor_free(y);
        free_all(din, 2);
    }
    {
        Tensor *y = run_backward(OP_MUL, NULL, 0, in, 2, dy, NULL, 1.0f, din);
        /* da = dy * b; db[j] = sum_i dy[i][j] a[i][j]: 1+40, 4+100, 9+180. */
        const float wa[6] = { 0, 2, 7, -9, 11, 61 }, wb[3] = { 42, 105, 190 };
        expect_close("mul backward, full operand", tensor_f32(din[0]), wa, 6, 0, 0);
        expect_close("mul backward, broadcast operand", tensor_f32(din[1]), wb, 3, 0, 0);
        tensor_free(y);
        free_all(din, 2);
    }
    {
        /* A scalar operand (1,) gets the sum over all of dout (times a for Mul). */
        Tensor *c = tensor_new(DT_F32, shape_of(1, (int64_t)1), NULL);
        tensor_f32(c)[0] = 3;
        Tensor *cin[2] = { c, a };
        Tensor *y = run_backward(OP_ADD, NULL, 0, cin, 2, dy, NULL, 0.0f, din);
        const float w[1] = { 66 };
        expect_close("add backward, scalar operand", tensor_f32(din[0]), w, 1, 0, 0);
        tensor_free(y);
        free_all(din, 2);
        y = run_backward(OP_MUL, NULL, 0, cin, 2, dy, NULL, 0.0f, din);
        const float w2[1] = { 1 + 4 + 9 + 40 + 100 + 180 };
        const float wa[6] = { 3, 6, 9, 30, 60, 90 };
        expect_close("mul backward, scalar operand", tensor_f32(din[0]), w2, 1, 0, 0);
        expect_close("mul backward, other operand", tensor_f32(din[1]), wa, 6, 0, 0);
        tensor_free(y);
        free_all(din, 2);
        tensor_free(c);
    }
    tensor_free(a);
    tensor_free(b);
}

/* A node that uses one value twice (Mul(x, x), Add(x, x), Concat(x, x)) gets the same
 * gradient tensor as din[0] and din[1] from run_backward; both contributions must land:
 * d(x*x)/dx = 2x, d(x+x)/dx = 2, and Concat's two slices both add into x's gradient. */
static void test_grad_shared_input(void)
{
    Shape s = shape_of(2, (int64_t)1, (int64_t)3);
    Tensor *x = tensor_new(DT_F32, s, NULL), *g = tensor_new(DT_F32, s, NULL);
    const float xv[3] = { 1, -2, 3 };
    memcpy(tensor_f32(x), xv, sizeof xv);
    const int ops[] = { OP_MUL, OP_ADD, OP_CONCAT };
    const float want[][3] = { { 2 + 1, -4 + 1, 6 + 1 }, { 4 + 1, 4 + 1, 4 + 1 },
                              { 2 + 3 + 1, 2 + 3 + 1, 2 + 3 + 1 } };
    for (int k = 0; k < NELEM(ops); k++) {
        Node n = gradcheck_make_node(ops[k], "twice", 2, NULL, 0);
        const OpDef *def = op_table[ops[k]];
        const Shape *shapes[2] = { &s, &s };
        Shape os;
        QsError err = { 0 };
        if (CHECK_OK(def->infer(&n, shapes, &os, &err), &err)) {
            size_t sbytes = def->scratch ? def->scratch(&n, shapes, &os) : 0;
            void *scratch = NULL;
            if (posix_memalign(&scratch, 64, sbytes ? sbytes : 64))
                abort();
            RunCtx rc = { .scratch = scratch, .scratch_bytes = sbytes };
            Tensor *out = tensor_new(DT_F32, os, NULL), *dout = tensor_new(DT_F32, os, NULL);
            const Tensor *in[2] = { x, x };
            Tensor *din[2] = { g, g };
            def->forward(&n, in, out, &rc);
            /* dout: 1 everywhere for Mul/Add; (2, 2, 2 | 3, 3, 3) for Concat. */
            for (int64_t i = 0; i < tensor_numel(dout); i++)
                tensor_f32(dout)[i] = ops[k] == OP_CONCAT ? (i < 3 ? 2.0f : 3.0f)
                                                          : (ops[k] == OP_ADD ? 2.0f : 1.0f);
            for (int i = 0; i < 3; i++)
                tensor_f32(g)[i] = 1.0f;
            def->backward(&n, in, out, dout, din, &rc);
            char label[64];
            snprintf(label, sizeof label, "%s(x, x) backward into one gradient", def->name);
            expect_close(label, tensor_f32(g), want[k], 3, 0, 0);
            tensor_free(out);
            tensor_free(dout);
            free(scratch);
        }
        gradcheck_node_release(&n);
    }
    tensor_free(x);
    tensor_free(g);
}

/* ---- reductions ---- */

static void test_grad_reduce(void)
{
    Shape s = shape_of(4, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5);
    const int ops[] = { OP_REDUCESUM, OP_REDUCEMEAN, OP_REDUCEMAX };
    const int64_t axes[][3] = { { 1 }, { 2, 3 }, { 1, 3 }, { -1 }, { 1, 2, 3 }, { 2 } };
    const int n_axes[] = { 1, 2, 2, 1, 3, 1 };
    /* Distinct values for every op: ReduceMax needs them (no ties within 3 eps); the
     * linear reductions do not care. */
    Tensor *x = make_distinct(s);
    for (int k = 0; k < NELEM(ops); k++) {
        for (int i = 0; i < NELEM(n_axes); i++) {
            for (int keep = 0; keep < 2; keep++) {
                char label[128];
                snprintf(label, sizeof label, "%s axes[0]=%lld (%d axes) keepdims=%d",
                         op_table[ops[k]]->name, (long long)axes[i][0], n_axes[i], keep);
                Attr a[2] = { attr_ints("axes", axes[i], n_axes[i]), attr_int("keepdims", keep) };
                gc(label, ops[k], a, 2, &x, 1, NULL, &LINEAR_TOL);
                attrs_release(a, 2);
            }
        }
        /* noop_with_empty_axes=1 without axes: the identity. */
        char label[64];
        snprintf(label, sizeof label, "%s noop", op_table[ops[k]]->name);
        Attr a[1] = { attr_int("noop_with_empty_axes", 1) };
        gc(label, ops[k], a, 1, &x, 1, NULL, &LINEAR_TOL);
        attrs_release(a, 1);
    }
    tensor_free(x);
    /* Deep Sets pooling (N, P, H) -> (N, H) with size-1 dims in the way. */
    Shape s2 = shape_of(4, (int64_t)2, (int64_t)5, (int64_t)1, (int64_t)3);
    Tensor *x2 = make_distinct(s2);
    const int64_t ax[1] = { 1 };
    for (int k = 0; k < NELEM(ops); k++) {
        Attr a[2] = { attr_ints("axes", ax, 1), attr_int("keepdims", 0) };
        char label[64];
        snprintf(label, sizeof label, "%s (2,5,1,3) axes [1]", op_table[ops[k]]->name);
        gc(label, ops[k], a, 2, &x2, 1, NULL, &LINEAR_TOL);
        attrs_release(a, 2);
    }
    tensor_free(x2);
}

/* Hand-computed: ReduceMean over axis 1 of (2,4) spreads dout/4; over axes [1, 2] of
 * (1,2,2) spreads dout/4 with keepdims; ReduceMax splits the gradient evenly among
 * ties (as torch.amax) and gives a NaN slice NaN gradients. */
static void test_grad_reduce_exact(void)
{
    const int64_t ax1[1] = { 1 }, ax12[2] = { 1, 2 };
    Tensor *x = tensor_new(DT_F32, shape_of(2, (int64_t)2, (int64_t)4), NULL), *din[1];
    const float xv[8] = { 1, 5, 5, 2, 7, -1, 3, 0 };
    memcpy(tensor_f32(x), xv, sizeof xv);
    {
        Attr a[2] = { attr_ints("axes", ax1, 1), attr_int("keepdims", 0) };
        const float dy[2] = { 2, -6 };
        Tensor *y = run_backward(OP_REDUCEMEAN, a, 2, &x, 1, dy, NULL, 1.0f, din);
        const float want[8] = { 1.5f, 1.5f, 1.5f, 1.5f, -0.5f, -0.5f, -0.5f, -0.5f };
        expect_close("reducemean backward", tensor_f32(din[0]), want, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        y = run_backward(OP_REDUCESUM, a, 2, &x, 1, dy, NULL, 1.0f, din);
        const float want_s[8] = { 3, 3, 3, 3, -5, -5, -5, -5 };
        expect_close("reducesum backward", tensor_f32(din[0]), want_s, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        /* Row 0 has its max 5 twice: each gets half; row 1's max 7 is unique. */
        y = run_backward(OP_REDUCEMAX, a, 2, &x, 1, dy, NULL, 1.0f, din);
        const float want_m[8] = { 1, 2, 2, 1, -5, 1, 1, 1 };
        expect_close("reducemax backward with a tie", tensor_f32(din[0]), want_m, 8, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        attrs_release(a, 2);
    }
    {
        Tensor *x3 = tensor_new(DT_F32, shape_of(3, (int64_t)1, (int64_t)2, (int64_t)2), NULL);
        const float v[4] = { 4, 4, 4, 4 };
        memcpy(tensor_f32(x3), v, sizeof v);
        Attr a[1] = { attr_ints("axes", ax12, 2) }; /* keepdims defaults to 1: (1,1,1) */
        const float dy[1] = { 8 };
        Tensor *y = run_backward(OP_REDUCEMEAN, a, 1, &x3, 1, dy, NULL, 0.0f, din);
        const float want[4] = { 2, 2, 2, 2 };
        expect_close("reducemean backward keepdims", tensor_f32(din[0]), want, 4, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        /* Four-way tie: a quarter each. */
        y = run_backward(OP_REDUCEMAX, a, 1, &x3, 1, dy, NULL, 0.0f, din);
        expect_close("reducemax backward, four-way tie", tensor_f32(din[0]), want, 4, 0, 0);
        tensor_free(y);
        tensor_free(din[0]);
        attrs_release(a, 1);
        tensor_free(x3);
    }
    {
        /* Row 0 holds a NaN: its max is NaN and every element of the row gets NaN. */
        tensor_f32(x)[2] = NAN;
        Attr a[2] = { attr_ints("axes", ax1, 1), attr_int("keepdims", 1) };
        const float dy[2] = { 2, -6 };
        Tensor *y = run_backward(OP_REDUCEMAX, a, 2, &x, 1, dy, NULL, 0.0f, din);
        const float *g = tensor_f32(din[0]);
        bool ok = isnan(g[0]) && isnan(g[1]) && isnan(g[2]) && isnan(g[3]) && g[4] == -6 &&
                  g[5] == 0 && g[6] == 0 && g[7] == 0;
        CHECK(ok);
        tensor_free(y);
        tensor_free(din[0]);
        attrs_release(a, 2);
    }
    tensor_free(x);
}

/* ---- the table ---- */

static void test_backward_rows(void)
{
    /* Every row implemented in op_activation.c, op_softmax.c, op_shape.c, op_binary.c and
     * op_reduce.c. */
    const int mine[] = { OP_RELU, OP_CLIP, OP_LEAKYRELU, OP_SIGMOID, OP_TANH, OP_GELU,
                         OP_HARDSWISH, OP_SILU, OP_IDENTITY, OP_DROPOUT, OP_SOFTMAX,
                         OP_LOGSOFTMAX, OP_FLATTEN, OP_RESHAPE, OP_TRANSPOSE, OP_CONCAT,
                         OP_ADD, OP_MUL, OP_REDUCEMEAN, OP_REDUCESUM, OP_REDUCEMAX };
    for (int i = 0; i < NELEM(mine); i++) {
        const OpDef *d = op_table[mine[i]];
        bool ok = d && d->backward;
        if (!ok)
            fprintf(stderr, "op_table[%d] (%s) has no backward\n", mine[i],
                    d ? d->name : "NULL row");
        test_check(ok, __FILE__, __LINE__, d ? d->name : "NULL row");
    }
}

int main(void)
{
    test_grad_activations();
    test_grad_kinks_exact();
    test_grad_softmax();
    test_grad_softmax_exact();
    test_grad_layout();
    test_grad_binary();
    test_grad_binary_exact();
    test_grad_shared_input();
    test_grad_reduce();
    test_grad_reduce_exact();
    test_backward_rows();
    return test_summary("grad_elementwise");
}
