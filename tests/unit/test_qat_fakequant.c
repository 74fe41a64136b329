/* The FakeQuant op (src/core/ops/op_fakequant.c): exact forward values and exact
 * straight-through / LSQ gradients on hand cases (inside the range, outside it, and ties,
 * which go where the forward rounds them: half to even, before the zero point is added),
 * then central-difference checks (tests/gradcheck.h) against the STE surrogate.
 *
 * Why a surrogate: the forward is a staircase, whose true derivative is 0 almost everywhere;
 * the straight-through estimator is by design the derivative of the function with the
 * rounding residue c = round(x/s) - x/s frozen at the point of evaluation,
 *     F(x, s) = s * clamp(x / s + c, qmin - z, qmax - z) + s z - s z,
 * which equals the forward there and is differentiable: dF/dx = 1 inside the range, 0
 * outside; dF/ds = c inside (LSQ's round(v) - v), qmin - z or qmax - z outside. With LSQ's
 * gradient scale g the scale enters as s0 + g (s - s0), so dF/ds is multiplied by g. The
 * gradient checks evaluate that F in double from the same float x / s the op computes.
 *
 * Tolerances of the central differences (eps = 1e-3, F rounded to float32 per output,
 * |F| < 128 here): rounding ulp(128) / (2 eps) = 7.6e-6 / 2e-3 = 3.8e-3 per output
 * reached; the scale gradient sums up to 40 outputs with random weights in [-1, 1)
 * (typically sqrt(40) * 3.8e-3 / 2 = 0.012). atol 0.05, rtol 1e-3. The perturbation never
 * crosses the clamp: test codes stay two steps or more from the bounds, and moving s by eps
 * moves x / s by at most |x/s| eps / s < 180 * 1e-3 / 0.25 = 0.72. A wrong gradient
 * (missing residue, the wrong bound, a lost g) is off by 0.5 to 100. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "ops/op.h"
#include "base/quant.h"
#include "test_util.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Tensor *vec(const float *v, int64_t n)
{
    Tensor *t = tensor_new(DT_F32, shape_of(1, n), NULL);
    memcpy(t->data, v, (size_t)n * sizeof *v);
    return t;
}

static Node fq_node(int64_t axis, int64_t qmin, int64_t qmax, double lsq, int scale_grad)
{
    Attr a[5] = { attr_int("axis", axis), attr_int("qmin", qmin), attr_int("qmax", qmax),
                  attr_float("lsq_qmax", (float)lsq), attr_int("scale_grad", scale_grad) };
    Node n = gradcheck_make_node(OP_FAKEQUANT, "fq", 3, a, 5);
    for (int i = 0; i < 5; i++)
        attr_release(&a[i]);
    return n;
}

/* Forward then backward with dy; dx, ds pre-filled with 0.5 and 2 (accumulation). */
static void fq_run(const Node *n, Tensor *x, Tensor *s, Tensor *z, const float *dy, float *y,
                   float *dx, float *ds)
{
    Tensor out = tensor_view(DT_F32, x->shape, y);
    const Tensor *in[3] = { x, s, z };
    RunCtx rc = { 0 };
    op_table[OP_FAKEQUANT]->forward(n, in, &out, &rc);
    int64_t nx = tensor_numel(x), ns = tensor_numel(s);
    for (int64_t i = 0; i < nx; i++)
        dx[i] = 0.5f;
    for (int64_t i = 0; i < ns; i++)
        ds[i] = 2.0f;
    Tensor dyt = tensor_view(DT_F32, x->shape, (void *)dy);
    Tensor dxt = tensor_view(DT_F32, x->shape, dx), dst = tensor_view(DT_F32, s->shape, ds);
    Tensor *din[3] = { &dxt, &dst, NULL };
    op_table[OP_FAKEQUANT]->backward(n, in, &out, &dyt, din, &rc);
}

/* ---- hand cases ---------------------------------------------------------------------- */

static void test_hand_asym(void)
{
    /* s = 0.5, z = 3, [-128, 127]: codes r + z must lie in [-128, 127], i.e. r in [-131, 124] */
    const float xs[] = { 0.25f, 0.75f, 1.25f, -0.75f, 62.0f, 62.25f, 62.75f, -65.5f, -66.0f,
                         NAN, INFINITY };
    /* v = x/s:        0.5    1.5    2.5    -1.5   124    124.5   125.5  -131    -132 */
    /* r:              0      2      2      -2     124    124     126    -131    -132 */
    const float want_y[] = { 0.0f, 1.0f, 1.0f, -1.0f, 62.0f, 62.0f, 62.0f, -65.5f, -65.5f, NAN,
                             62.0f };
    const bool inside[] = { 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0 };
    int n = NELEM(xs);
    Tensor *x = vec(xs, n), *s = vec((float[]){ 0.5f }, 1), *z = vec((float[]){ 3.0f }, 1);
    float dy[NELEM(xs)], y[NELEM(xs)], dx[NELEM(xs)], ds[1];
    for (int i = 0; i < n; i++)
        dy[i] = 1.0f;
    Node nd = fq_node(1, -128, 127, 0.0, 1);
    fq_run(&nd, x, s, z, dy, y, dx, ds);
    for (int i = 0; i < n; i++) {
        bool ok = isnan(want_y[i]) ? isnan(y[i]) : y[i] == want_y[i];
        if (!CHECK(ok))
            fprintf(stderr, "  asym x=%g: y %g, want %g\n", (double)xs[i], (double)y[i],
                    (double)want_y[i]);
        /* STE: dy where the code is inside [qmin, qmax] (ties as rounded), 0 elsewhere */
        float want_dx = 0.5f + (inside[i] ? 1.0f : 0.0f);
        if (!CHECK(dx[i] == want_dx))
            fprintf(stderr, "  asym x=%g: dx %g, want %g\n", (double)xs[i], (double)dx[i],
                    (double)want_dx);
    }
    /* ds = sum inside (r - v) + sum outside (bound - z):
     *   -0.5 + 0.5 - 0.5 - 0.5 + 0 - 0.5 + 0 (inside) + 124 - 131 + 124 (outside) = 115.5,
     *   NaN adds nothing; plus the 2 it started from. Every term is exact in float. */
    CHECK(ds[0] == 117.5f);
    gradcheck_node_release(&nd);
    tensor_free(x);
    tensor_free(s);
    tensor_free(z);
}

static void test_hand_ties_at_bounds(void)
{
    /* s = 1, z = 0: a tie just past qmax = 127 rounds to 128 (even): outside, no gradient;
     * a tie just past qmin = -128 rounds to -128 (even): inside, gradient passes. The
     * codes exactly at the bounds are inside (bounds included, as Clip's gradient). */
    const float xs[] = { 127.5f, 126.5f, 127.0f, -128.5f, -129.5f, -128.0f };
    const float want_y[] = { 127.0f, 126.0f, 127.0f, -128.0f, -128.0f, -128.0f };
    const bool inside[] = { 0, 1, 1, 1, 0, 1 };
    int n = NELEM(xs);
    Tensor *x = vec(xs, n), *s = vec((float[]){ 1.0f }, 1), *z = vec((float[]){ 0.0f }, 1);
    float dy[NELEM(xs)], y[NELEM(xs)], dx[NELEM(xs)], ds[1];
    for (int i = 0; i < n; i++)
        dy[i] = (float)(i + 1);
    Node nd = fq_node(1, -128, 127, 0.0, 1);
    fq_run(&nd, x, s, z, dy, y, dx, ds);
    for (int i = 0; i < n; i++) {
        CHECK(y[i] == want_y[i]);
        if (!CHECK(dx[i] == 0.5f + (inside[i] ? dy[i] : 0.0f)))
            fprintf(stderr, "  tie x=%g: dx %g\n", (double)xs[i], (double)dx[i]);
    }
    /* inside: 126.5 -> (126 - 126.5) * 2, 127 -> 0, -128.5 -> (-128 + 128.5) * 4,
     * -128 -> 0; outside: 127.5 -> 127 * 1, -129.5 -> -128 * 5 */
    double want = 2.0 + (-0.5 * 2 + 0.5 * 4 + 127.0 * 1 - 128.0 * 5);
    CHECK(ds[0] == (float)want);
    /* the LSQ gradient scale multiplies exactly that sum by 1 / sqrt(numel * Q) */
    Node lsq = fq_node(1, -128, 127, 255.0, 1);
    fq_run(&lsq, x, s, z, dy, y, dx, ds);
    double g = 1.0 / sqrt(6.0 * 255.0);
    expect_close("lsq scale", ds, (float[]){ (float)(2.0 + g * (want - 2.0)) }, 1, 0, 1e-6);
    /* scale_grad = 0: the scale's gradient is left alone, x's still flows */
    Node nosg = fq_node(1, -128, 127, 0.0, 0);
    fq_run(&nosg, x, s, z, dy, y, dx, ds);
    CHECK(ds[0] == 2.0f && dx[1] == 0.5f + dy[1]);
    gradcheck_node_release(&nd);
    gradcheck_node_release(&lsq);
    gradcheck_node_release(&nosg);
    tensor_free(x);
    tensor_free(s);
    tensor_free(z);
}

static void test_hand_per_channel(void)
{
    /* x (2, 3) per channel along axis 1: scales 0.5, 1, 2; symmetric [-127, 127], z = 0 */
    const float xs[] = { 0.75f, 0.75f, 0.75f, 100.0f, -300.0f, 300.0f };
    /* v:  1.5 -> 2, 0.75 -> 1, 0.375 -> 0; 200 -> out (127), -300 -> out (-127), 150 -> out */
    const float want_y[] = { 1.0f, 1.0f, 0.0f, 63.5f, -127.0f, 254.0f };
    Tensor *x = tensor_new(DT_F32, shape_of(2, (int64_t)2, (int64_t)3), NULL);
    memcpy(x->data, xs, sizeof xs);
    Tensor *s = vec((float[]){ 0.5f, 1.0f, 2.0f }, 3), *z = vec((float[]){ 0, 0, 0 }, 3);
    float dy[6] = { 1, 1, 1, 1, 1, 1 }, y[6], dx[6], ds[3];
    Node nd = fq_node(1, -127, 127, 0.0, 1);
    fq_run(&nd, x, s, z, dy, y, dx, ds);
    expect_close("per-channel y", y, want_y, 6, 0, 0);
    expect_close("per-channel dx", dx, (float[]){ 1.5f, 1.5f, 1.5f, 0.5f, 0.5f, 0.5f }, 6, 0, 0);
    /* channel 0: (2 - 1.5) + 127; channel 1: (1 - 0.75) - 127; channel 2: (0 - 0.375) + 127 */
    expect_close("per-channel ds", ds, (float[]){ 2 + 127.5f, 2 - 126.75f, 2 + 126.625f }, 3, 0,
                 0);
    gradcheck_node_release(&nd);
    tensor_free(x);
    tensor_free(s);
    tensor_free(z);
}

static void test_infer_errors(void)
{
    QsError err;
    Shape x = shape_of(2, (int64_t)2, (int64_t)3), s2 = shape_of(1, (int64_t)2),
          s3 = shape_of(1, (int64_t)3), s1 = shape_of(1, (int64_t)1), out;
    const Shape *in[3] = { &x, &s2, &s2 };
    Node nd = fq_node(1, -128, 127, 0.0, 1);
    expect_error("scales per channel", op_table[OP_FAKEQUANT]->infer(&nd, in, &out, &err), &err,
                 QS_ESHAPE, "2 scales for axis 1");
    const Shape *in2[3] = { &x, &s3, &s1 };
    expect_error("zero points", op_table[OP_FAKEQUANT]->infer(&nd, in2, &out, &err), &err,
                 QS_ESHAPE, "one value or one per channel");
    Node bad = fq_node(1, 5, 5, 0.0, 1);
    const Shape *in3[3] = { &x, &s1, &s1 };
    expect_error("qmin >= qmax", op_table[OP_FAKEQUANT]->infer(&bad, in3, &out, &err), &err,
                 QS_EINVAL, "qmin 5 must be below qmax 5");
    CHECK(op_find("FakeQuant") == OP_FAKEQUANT);
    gradcheck_node_release(&nd);
    gradcheck_node_release(&bad);
}

/* ---- central differences against the STE surrogate ------------------------------------- */

typedef struct Sur {
    int64_t outer, c, inner;
    int32_t qmin, qmax;
    double *res;     /* [numel] round(x/s) - x/s at the check point */
    double *s0;      /* [C] the scales at the check point */
    double g;        /* LSQ gradient scale (1: none) */
} Sur;

static void sur_forward(void *user, Tensor *const *in, int n_in, Tensor *out)
{
    const Sur *u = user;
    const float *x = tensor_f32(in[0]), *s = tensor_f32(in[1]), *z = tensor_f32(in[2]);
    float *y = tensor_f32(out);
    (void)n_in;
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t c = 0; c < u->c; c++) {
            double se = u->s0[c] + u->g * ((double)s[c] - u->s0[c]);
            double lo = u->qmin - (double)z[c], hi = u->qmax - (double)z[c];
            for (int64_t i = 0; i < u->inner; i++) {
                int64_t k = (o * u->c + c) * u->inner + i;
                double v = (double)x[k] / se + u->res[k];
                v = v < lo ? lo : v > hi ? hi : v;
                y[k] = (float)(se * v);
            }
        }
}

static unsigned lcg = 777u;
static double rnd01(void)
{
    lcg = lcg * 1103515245u + 12345u;
    return (double)((lcg >> 8) & 0xffffff) / 16777216.0;
}

/* x (outer, C, inner) with codes spread over [qmin - 30, qmax + 30] but at least two steps
 * from either bound. */
static void surrogate_case(const char *label, int64_t outer, int64_t C, int64_t inner,
                           int64_t axis, Shape shape, bool sym, double lsq)
{
    int32_t qmin, qmax;
    quant_range(8, sym, &qmin, &qmax);
    Tensor *x = tensor_new(DT_F32, shape, NULL);
    Tensor *s = tensor_new(DT_F32, shape_of(1, C), NULL);
    Tensor *z = tensor_new(DT_F32, shape_of(1, C), NULL);
    for (int64_t c = 0; c < C; c++) {
        tensor_f32(s)[c] = (float)(0.25 + 0.125 * (double)c);
        tensor_f32(z)[c] = sym ? 0.0f : (float)(-20 + 17 * c);
    }
    Sur u = { .outer = outer, .c = C, .inner = inner, .qmin = qmin, .qmax = qmax };
    int64_t n = tensor_numel(x);
    u.res = xmalloc((size_t)n * sizeof *u.res);
    u.s0 = xmalloc((size_t)C * sizeof *u.s0);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < C; c++) {
            float sc = tensor_f32(s)[c], zc = tensor_f32(z)[c];
            u.s0[c] = sc;
            for (int64_t i = 0; i < inner; i++) {
                int64_t k = (o * C + c) * inner + i;
                float xv, v, r;
                double code;
                do { /* a code away from the bounds by more than one step */
                    double t = (double)qmin - 30 + rnd01() * (qmax - qmin + 60);
                    xv = (float)((t - zc) * sc);
                    v = xv / sc;
                    r = nearbyintf(v);
                    code = (double)r + zc;
                } while (fabs(code - qmin) < 1.5 || fabs(code - qmax) < 1.5);
                tensor_f32(x)[k] = xv;
                u.res[k] = (double)r - (double)v;
            }
        }
    u.g = lsq > 0 ? 1.0 / sqrt((double)n * lsq) : 1.0;
    Node nd = fq_node(axis, qmin, qmax, lsq, 1);
    Tensor *in[3] = { x, s, z };
    bool check[3] = { true, true, false };
    GradCheckOpts o = { .eps = 1e-3, .atol = 0.05, .rtol = 1e-3, .surrogate = sur_forward,
                        .surrogate_user = &u };
    gradcheck_node(label, &nd, in, 3, check, &o);
    gradcheck_node_release(&nd);
    free(u.res);
    free(u.s0);
    tensor_free(x);
    tensor_free(s);
    tensor_free(z);
}

static void test_surrogate(void)
{
    surrogate_case("per-tensor asym", 1, 1, 40, 1, shape_of(2, (int64_t)4, (int64_t)10), false,
                   0.0);
    surrogate_case("per-tensor sym", 1, 1, 40, 1, shape_of(2, (int64_t)4, (int64_t)10), true,
                   0.0);
    /* activations: (N, C, H) per channel along axis 1 */
    surrogate_case("per-channel axis 1", 2, 3, 5, 1,
                   shape_of(3, (int64_t)2, (int64_t)3, (int64_t)5), false, 0.0);
    /* weights: (OC, K) per channel along axis 0, symmetric */
    surrogate_case("per-channel axis 0", 1, 4, 6, 0, shape_of(2, (int64_t)4, (int64_t)6), true,
                   0.0);
    /* learnable scales with LSQ's gradient scale g = 1 / sqrt(numel * Q_P) */
    surrogate_case("lsq per-tensor", 1, 1, 40, 1, shape_of(2, (int64_t)4, (int64_t)10), false,
                   255.0);
    surrogate_case("lsq per-channel", 2, 3, 5, 1,
                   shape_of(3, (int64_t)2, (int64_t)3, (int64_t)5), true, 127.0);
}

int main(void)
{
    test_hand_asym();
    test_hand_ties_at_bounds();
    test_hand_per_channel();
    test_infer_errors();
    test_surrogate();
    return test_summary("qat_fakequant");
}
