/* The ops added for ONNX import (op_arith.c, op_pad.c, op_resize.c, op_convtranspose.c,
 * op_layernorm.c): exact hand cases of every forward, ConvTranspose against a direct
 * scatter loop on random shapes (groups, strides, dilations, pads, output_padding),
 * infer failures, and central-difference gradient checks of every input of every op
 * (tests/gradcheck.h), which also check that backward accumulates (+=).
 *
 * Gradient tolerances (|num - ana| <= atol + rtol * max), eps = 1e-2:
 *   - Sub, Pad, Resize, Slice, ConvTranspose and HardSigmoid (away from its kinks at
 *     +-2.5) are linear in each input: the central difference
 *     is off only by float32 rounding of the outputs (ulp(|y| < 16) / 2 eps ~ 5e-5 per
 *     output reached): atol = rtol = 1e-3.
 *   - Div, Pow, Sqrt, Erf and LayerNormalization are smooth on the ranges used (inputs kept
 *     away from 0 for Div/Sqrt/Pow): truncation eps^2/6 |f'''| stays below 1e-3 relative
 *     there: atol = 2e-3, rtol = 5e-3.
 * A wrong formula gives errors of the order of the gradient itself (> 0.05 here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "test_util.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const GradCheckOpts LINEAR_TOL = { .eps = 1e-2, .atol = 1e-3, .rtol = 1e-3 };
static const GradCheckOpts SMOOTH_TOL = { .eps = 1e-2, .atol = 2e-3, .rtol = 5e-3 };

static unsigned rng_state = 77u;

static float rnd(float lo, float hi)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((rng_state >> 8) & 0xffffff) / 16777216.0f;
}

static Tensor *make(Shape s, float lo, float hi)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = rnd(lo, hi);
    return t;
}

static Tensor *from(Shape s, const float *v)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    memcpy(t->data, v, (size_t)tensor_numel(t) * sizeof(float));
    return t;
}

static void attrs_release(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

/* Runs infer and forward; returns the output (caller frees) or NULL with err set. */
static Tensor *fwd(int op, const Attr *attrs, int n_attrs, Tensor *const *in, int n_in,
                   QsError *err)
{
    Node n = gradcheck_make_node(op, "node", n_in, attrs, n_attrs);
    const Shape *shapes[8];
    const Tensor *cin[8];
    for (int i = 0; i < n_in; i++) {
        shapes[i] = in[i] ? &in[i]->shape : NULL;
        cin[i] = in[i];
    }
    Shape os;
    Tensor *out = NULL;
    if (op_table[op]->infer(&n, shapes, &os, err) == QS_OK) {
        size_t sb = op_table[op]->scratch ? op_table[op]->scratch(&n, shapes, &os) : 0;
        void *scratch = NULL;
        if (posix_memalign(&scratch, 64, sb ? sb : 64))
            abort();
        RunCtx rc = { .scratch = scratch, .scratch_bytes = sb };
        out = tensor_new(DT_F32, os, err);
        op_table[op]->forward(&n, cin, out, &rc);
        free(scratch);
    }
    gradcheck_node_release(&n);
    return out;
}

static void expect_fwd(const char *label, int op, const Attr *attrs, int n_attrs,
                       Tensor *const *in, int n_in, Shape want_shape, const float *want)
{
    QsError err = { 0 };
    Tensor *out = fwd(op, attrs, n_attrs, in, n_in, &err);
    if (!CHECK(out != NULL)) {
        fprintf(stderr, "%s: %s\n", label, err.msg);
        return;
    }
    if (CHECK(shape_equal(&out->shape, &want_shape)))
        expect_close(label, tensor_f32(out), want, (size_t)tensor_numel(out), 0, 0);
    tensor_free(out);
}

static void expect_infer_fails(const char *label, int op, const Attr *attrs, int n_attrs,
                               Tensor *const *in, int n_in, QsStatus code, const char *needle)
{
    QsError err = { 0 };
    Tensor *out = fwd(op, attrs, n_attrs, in, n_in, &err);
    CHECK(out == NULL);
    tensor_free(out);
    expect_error(label, err.code, &err, code, needle);
}

static void gc(const char *label, int op, const Attr *attrs, int n_attrs, Tensor *const *in,
               int n_in, const GradCheckOpts *tol)
{
    bool all[8] = { true, true, true, true, true, true, true, true };
    Node n = gradcheck_make_node(op, label, n_in, attrs, n_attrs);
    gradcheck_node(label, &n, in, n_in, all, tol);
    gradcheck_node_release(&n);
}

static void free_all(Tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        tensor_free(t[i]);
}

static void test_arith(void)
{
    const float a[] = { 1, 2, 3, 4, 5, 6 }, b[] = { 1, 2, 4 };
    Tensor *in[2] = { from(shape_of(2, 2LL, 3LL), a), from(shape_of(1, 3LL), b) };
    const float sub[] = { 0, 0, -1, 3, 3, 2 }, dv[] = { 1, 1, 0.75f, 4, 2.5f, 1.5f };
    const float pw[] = { 1, 4, 81, 4, 25, 1296 };
    expect_fwd("sub", OP_SUB, NULL, 0, in, 2, shape_of(2, 2LL, 3LL), sub);
    expect_fwd("div", OP_DIV, NULL, 0, in, 2, shape_of(2, 2LL, 3LL), dv);
    expect_fwd("pow", OP_POW, NULL, 0, in, 2, shape_of(2, 2LL, 3LL), pw);
    /* Broadcast both ways: (2, 1) - (3) -> (2, 3). */
    const float c[] = { 10, 20 };
    Tensor *in2[2] = { from(shape_of(2, 2LL, 1LL), c), in[1] };
    const float sub2[] = { 9, 8, 6, 19, 18, 16 };
    expect_fwd("sub broadcast", OP_SUB, NULL, 0, in2, 2, shape_of(2, 2LL, 3LL), sub2);
    tensor_free(in2[0]);
    Tensor *bad[2] = { in[0], from(shape_of(1, 2LL), c) };
    expect_infer_fails("sub shapes", OP_SUB, NULL, 0, bad, 2, QS_ESHAPE, "do not broadcast");
    tensor_free(bad[1]);
    const float sq[] = { 1, 1.41421354f, 1.73205078f, 2, 2.23606801f, 2.44948983f };
    expect_fwd("sqrt", OP_SQRT, NULL, 0, in, 1, shape_of(2, 2LL, 3LL), sq);
    float er[6];
    for (int i = 0; i < 6; i++)
        er[i] = erff(a[i] * 0.25f - 0.5f);
    Tensor *ein = make(shape_of(2, 2LL, 3LL), 0, 1);
    for (int i = 0; i < 6; i++)
        tensor_f32(ein)[i] = a[i] * 0.25f - 0.5f;
    expect_fwd("erf", OP_ERF, NULL, 0, &ein, 1, shape_of(2, 2LL, 3LL), er);
    tensor_free(ein);
    free_all(in, 2);

    /* Gradients, with a broadcast operand on each side. */
    Tensor *g1[2] = { make(shape_of(3, 2LL, 3LL, 4LL), -2, 2), make(shape_of(2, 3LL, 1LL), 0.5f, 2) };
    gc("sub grad", OP_SUB, NULL, 0, g1, 2, &LINEAR_TOL);
    gc("div grad", OP_DIV, NULL, 0, g1, 2, &SMOOTH_TOL);
    Tensor *g2[2] = { make(shape_of(1, 4LL), 0.5f, 2), make(shape_of(3, 2LL, 3LL, 4LL), 0.5f, 1.5f) };
    gc("div grad lhs broadcast", OP_DIV, NULL, 0, g2, 2, &SMOOTH_TOL);
    gc("pow grad", OP_POW, NULL, 0, g2, 2, &SMOOTH_TOL);
    Tensor *two = make(shape_of(0), 2, 2);
    Tensor *g3[2] = { g2[1], two };
    gc("pow square grad", OP_POW, NULL, 0, g3, 2, &SMOOTH_TOL);
    Tensor *pos = make(shape_of(2, 3LL, 4LL), 0.3f, 3);
    gc("sqrt grad", OP_SQRT, NULL, 0, &pos, 1, &SMOOTH_TOL);
    gc("erf grad", OP_ERF, NULL, 0, &g1[0], 1, &SMOOTH_TOL);
    free_all(g1, 2);
    free_all(g2, 2);
    tensor_free(two);
    tensor_free(pos);
}

static void test_pad(void)
{
    const float x[] = { 1, 2, 3 };
    Tensor *in = from(shape_of(3, 1LL, 1LL, 3LL), x);
    const int64_t pads[] = { 0, 0, 2, 0, 0, 1 };
    Attr a[3] = { attr_ints("pads", pads, 6), attr_str("mode", "constant"),
                  attr_float("value", 9) };
    const float wc[] = { 9, 9, 1, 2, 3, 9 }, wr[] = { 3, 2, 1, 2, 3, 2 }, we[] = { 1, 1, 1, 2, 3, 3 };
    Shape s6 = shape_of(3, 1LL, 1LL, 6LL);
    expect_fwd("pad constant", OP_PAD, a, 3, &in, 1, s6, wc);
    attr_release(&a[1]);
    a[1] = attr_str("mode", "reflect");
    expect_fwd("pad reflect", OP_PAD, a, 3, &in, 1, s6, wr);
    attr_release(&a[1]);
    a[1] = attr_str("mode", "edge");
    expect_fwd("pad edge", OP_PAD, a, 3, &in, 1, s6, we);
    /* Negative pads crop. */
    const int64_t crop[] = { 0, 0, -1, 0, 0, 0 };
    Attr c[1] = { attr_ints("pads", crop, 6) };
    const float wcrop[] = { 2, 3 };
    expect_fwd("pad crop", OP_PAD, c, 1, &in, 1, shape_of(3, 1LL, 1LL, 2LL), wcrop);
    attr_release(&c[0]);
    const int64_t batch[] = { 1, 0, 0, 0, 0, 0 };
    c[0] = attr_ints("pads", batch, 6);
    expect_infer_fails("pad batch", OP_PAD, c, 1, &in, 1, QS_EINVAL, "batch axis");
    attr_release(&c[0]);
    const int64_t deep[] = { 0, 0, 3, 0, 0, 0 };
    Attr r[2] = { attr_ints("pads", deep, 6), attr_str("mode", "reflect") };
    expect_infer_fails("pad reflect too deep", OP_PAD, r, 2, &in, 1, QS_EINVAL, "reflect");
    attrs_release(r, 2);
    tensor_free(in);

    Tensor *g = make(shape_of(4, 2LL, 2LL, 3LL, 4LL), -2, 2);
    const int64_t p2[] = { 0, 1, 2, 1, 0, 0, 1, 2 };
    Attr ga[2] = { attr_ints("pads", p2, 8), attr_str("mode", "reflect") };
    gc("pad reflect grad", OP_PAD, ga, 2, &g, 1, &LINEAR_TOL);
    attr_release(&ga[1]);
    ga[1] = attr_str("mode", "edge");
    gc("pad edge grad", OP_PAD, ga, 2, &g, 1, &LINEAR_TOL);
    attr_release(&ga[1]);
    ga[1] = attr_str("mode", "constant");
    gc("pad constant grad", OP_PAD, ga, 2, &g, 1, &LINEAR_TOL);
    attrs_release(ga, 2);
    attrs_release(a, 3);
    tensor_free(g);
}

static void test_resize(void)
{
    const float x[] = { 1, 2, 3, 4 };
    Tensor *in = from(shape_of(4, 1LL, 1LL, 2LL, 2LL), x);
    const float sc[] = { 1, 1, 2, 2 };
    Attr a[3] = { attr_floats("scales", sc, 4),
                  attr_str("coordinate_transformation_mode", "asymmetric"),
                  attr_str("nearest_mode", "floor") };
    const float w[] = { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 };
    expect_fwd("resize x2", OP_RESIZE, a, 3, &in, 1, shape_of(4, 1LL, 1LL, 4LL, 4LL), w);
    tensor_free(in);
    /* half_pixel + round_prefer_floor, up by 2 and down by 2 (ties at .5 go down). */
    const float r3[] = { 5, 6, 7 }, r4[] = { 5, 6, 7, 8 };
    Tensor *i3 = from(shape_of(3, 1LL, 1LL, 3LL), r3), *i4 = from(shape_of(3, 1LL, 1LL, 4LL), r4);
    const float up[] = { 1, 1, 2 }, down[] = { 1, 1, 0.5f };
    Attr h[1] = { attr_floats("scales", up, 3) };
    const float wu[] = { 5, 5, 6, 6, 7, 7 }, wd[] = { 5, 7 };
    expect_fwd("resize half_pixel up", OP_RESIZE, h, 1, &i3, 1, shape_of(3, 1LL, 1LL, 6LL), wu);
    attr_release(&h[0]);
    h[0] = attr_floats("scales", down, 3);
    expect_fwd("resize half_pixel down", OP_RESIZE, h, 1, &i4, 1, shape_of(3, 1LL, 1LL, 2LL), wd);
    attr_release(&h[0]);
    const int64_t sz[] = { 0, 1, 5 };
    Attr s[2] = { attr_ints("sizes", sz, 3), attr_str("coordinate_transformation_mode",
                                                      "align_corners") };
    const float ws[] = { 5, 5, 6, 6, 7 }; /* c = o * 2/4: 0, .5, 1, 1.5, 2 (ties down) */
    expect_fwd("resize sizes align_corners", OP_RESIZE, s, 2, &i3, 1, shape_of(3, 1LL, 1LL, 5LL),
               ws);
    attrs_release(s, 2);
    const float bs[] = { 2, 1, 1 };
    h[0] = attr_floats("scales", bs, 3);
    expect_infer_fails("resize batch", OP_RESIZE, h, 1, &i3, 1, QS_EINVAL, "batch axis");
    attr_release(&h[0]);
    Attr lin[2] = { attr_floats("scales", up, 3), attr_str("mode", "linear") };
    expect_infer_fails("resize linear", OP_RESIZE, lin, 2, &i3, 1, QS_EUNSUPPORTED, "nearest only");
    attrs_release(lin, 2);
    tensor_free(i3);
    tensor_free(i4);

    Tensor *g = make(shape_of(4, 2LL, 2LL, 3LL, 3LL), -2, 2);
    const float gs[] = { 1, 1, 2, 1.5f };
    Attr ga[1] = { attr_floats("scales", gs, 4) };
    gc("resize grad", OP_RESIZE, ga, 1, &g, 1, &LINEAR_TOL);
    attr_release(&ga[0]);
    attrs_release(a, 3);
    tensor_free(g);
}

/* Direct ConvTranspose: every input element scatters into the output. */
static void ct_reference(const Tensor *x, const Tensor *w, const Tensor *b, int64_t group,
                         const int64_t *st, const int64_t *dl, const int64_t *pd, Tensor *y)
{
    int64_t n = x->shape.dim[0], c = x->shape.dim[1], h = x->shape.dim[2], wd = x->shape.dim[3];
    int64_t ocg = w->shape.dim[1], kh = w->shape.dim[2], kw = w->shape.dim[3];
    int64_t oc = y->shape.dim[1], oh = y->shape.dim[2], ow = y->shape.dim[3], cg = c / group;
    float *yy = tensor_f32(y);
    for (int64_t s = 0; s < n; s++)
        for (int64_t o = 0; o < oc; o++)
            for (int64_t i = 0; i < oh * ow; i++)
                yy[(s * oc + o) * oh * ow + i] = b ? tensor_f32(b)[o] : 0.0f;
    for (int64_t s = 0; s < n; s++)
        for (int64_t ci = 0; ci < c; ci++)
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < wd; j++)
                    for (int64_t ol = 0; ol < ocg; ol++)
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t e = 0; e < kw; e++) {
                                int64_t yi = i * st[0] - pd[0] + a * dl[0];
                                int64_t yj = j * st[1] - pd[1] + e * dl[1];
                                if (yi < 0 || yi >= oh || yj < 0 || yj >= ow)
                                    continue;
                                int64_t o = (ci / cg) * ocg + ol;
                                yy[((s * oc + o) * oh + yi) * ow + yj] +=
                                    tensor_f32(x)[((s * c + ci) * h + i) * wd + j] *
                                    tensor_f32(w)[((ci * ocg + ol) * kh + a) * kw + e];
                            }
}

static void test_convtranspose(void)
{
    /* 1-D hand case: x [1, 2], w [1, 1, 1], stride 2 -> [1, 1, 3, 2, 2]. */
    const float x[] = { 1, 2 }, w[] = { 1, 1, 1 };
    Tensor *in[2] = { from(shape_of(3, 1LL, 1LL, 2LL), x), from(shape_of(3, 1LL, 1LL, 3LL), w) };
    const int64_t s2[] = { 2 };
    Attr a[1] = { attr_ints("strides", s2, 1) };
    const float want[] = { 1, 1, 3, 2, 2 };
    expect_fwd("convtranspose 1-D", OP_CONVTRANSPOSE, a, 1, in, 2, shape_of(3, 1LL, 1LL, 5LL), want);
    attr_release(&a[0]);
    free_all(in, 2);

    struct {
        int64_t n, c, h, w, ocg, kh, kw, group, st[2], dl[2], pd[4], op[2];
    } cases[] = {
        { 2, 3, 4, 5, 2, 3, 3, 1, { 1, 1 }, { 1, 1 }, { 0, 0, 0, 0 }, { 0, 0 } },
        { 1, 4, 3, 3, 3, 3, 2, 2, { 2, 2 }, { 1, 1 }, { 1, 0, 1, 1 }, { 1, 0 } },
        { 2, 2, 3, 4, 1, 2, 2, 2, { 2, 1 }, { 2, 1 }, { 0, 1, 0, 0 }, { 1, 0 } },
        { 1, 3, 2, 2, 2, 4, 4, 1, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, { 0, 0 } },
    };
    for (int k = 0; k < NELEM(cases); k++) {
        char label[64];
        snprintf(label, sizeof label, "convtranspose case %d", k);
        Tensor *t[3] = {
            make(shape_of(4, cases[k].n, cases[k].c, cases[k].h, cases[k].w), -1, 1),
            make(shape_of(4, cases[k].c, cases[k].ocg, cases[k].kh, cases[k].kw), -1, 1),
            make(shape_of(1, cases[k].ocg * cases[k].group), -1, 1),
        };
        Attr at[5] = { attr_ints("strides", cases[k].st, 2), attr_ints("dilations", cases[k].dl, 2),
                       attr_ints("pads", cases[k].pd, 4), attr_int("group", cases[k].group),
                       attr_ints("output_padding", cases[k].op, 2) };
        QsError err = { 0 };
        Tensor *got = fwd(OP_CONVTRANSPOSE, at, 5, t, 3, &err);
        if (CHECK_OK(got ? QS_OK : err.code, &err)) {
            int64_t oh = (cases[k].h - 1) * cases[k].st[0] - cases[k].pd[0] - cases[k].pd[2] +
                         (cases[k].kh - 1) * cases[k].dl[0] + 1 + cases[k].op[0];
            int64_t ow = (cases[k].w - 1) * cases[k].st[1] - cases[k].pd[1] - cases[k].pd[3] +
                         (cases[k].kw - 1) * cases[k].dl[1] + 1 + cases[k].op[1];
            Shape ws = shape_of(4, cases[k].n, cases[k].ocg * cases[k].group, oh, ow);
            CHECK(shape_equal(&got->shape, &ws));
            Tensor *ref = tensor_new(DT_F32, ws, NULL);
            ct_reference(t[0], t[1], t[2], cases[k].group, cases[k].st, cases[k].dl,
                         cases[k].pd, ref);
            /* sgemm sums at most C/group * KH * KW products of magnitude <= 1 in a
             * different order: a few ulp of 16. */
            expect_close(label, tensor_f32(got), tensor_f32(ref), (size_t)tensor_numel(ref),
                         1e-5, 1e-5);
            tensor_free(ref);
        }
        tensor_free(got);
        snprintf(label, sizeof label, "convtranspose grad %d", k);
        gc(label, OP_CONVTRANSPOSE, at, 5, t, 3, &LINEAR_TOL);
        attrs_release(at, 5);
        free_all(t, 3);
    }
    Tensor *bad[3] = { make(shape_of(4, 1LL, 2LL, 3LL, 3LL), 0, 1),
                       make(shape_of(4, 2LL, 3LL, 2LL, 2LL), 0, 1), make(shape_of(1, 4LL), 0, 1) };
    expect_infer_fails("convtranspose bias", OP_CONVTRANSPOSE, NULL, 0, bad, 3, QS_ESHAPE,
                       "bias has shape (4), expected (3)");
    free_all(bad, 3);
}

static void test_layernorm(void)
{
    const float x[] = { 1, 2, 3, 4, -1, -1, 1, 1 }, one[] = { 1, 1, 1, 1 }, zero[] = { 0, 0, 0, 0 };
    Tensor *in[3] = { from(shape_of(2, 2LL, 4LL), x), from(shape_of(1, 4LL), one),
                      from(shape_of(1, 4LL), zero) };
    Attr a[1] = { attr_float("epsilon", 0) };
    const double r = 1.0 / sqrt(1.25);
    const float want[] = { (float)(-1.5 * r), (float)(-0.5 * r), (float)(0.5 * r),
                           (float)(1.5 * r), -1, -1, 1, 1 };
    expect_fwd("layernorm", OP_LAYERNORM, a, 1, in, 3, shape_of(2, 2LL, 4LL), want);
    attr_release(&a[0]);
    Attr ax[1] = { attr_int("axis", 0) };
    expect_infer_fails("layernorm axis 0", OP_LAYERNORM, ax, 1, in, 3, QS_EINVAL, "batch");
    attr_release(&ax[0]);
    Tensor *badsc[2] = { in[0], make(shape_of(1, 3LL), 0, 1) };
    expect_infer_fails("layernorm scale", OP_LAYERNORM, NULL, 0, badsc, 2, QS_ESHAPE,
                       "Scale has shape (3)");
    tensor_free(badsc[1]);
    free_all(in, 3);

    Tensor *g[3] = { make(shape_of(3, 2LL, 3LL, 4LL), -2, 2), make(shape_of(2, 3LL, 4LL), 0.5f, 1.5f),
                     make(shape_of(2, 3LL, 4LL), -1, 1) };
    Attr ga[1] = { attr_int("axis", -2) };
    gc("layernorm grad axis -2", OP_LAYERNORM, ga, 1, g, 3, &SMOOTH_TOL);
    attr_release(&ga[0]);
    Tensor *g2[2] = { g[0], make(shape_of(1, 4LL), 0.5f, 1.5f) };
    gc("layernorm grad no bias", OP_LAYERNORM, NULL, 0, g2, 2, &SMOOTH_TOL);
    tensor_free(g2[1]);
    free_all(g, 3);
}

static void test_slice_hardsigmoid(void)
{
    const float x[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    Tensor *in = from(shape_of(3, 1LL, 3LL, 4LL), x);
    const int64_t st[] = { 1, -1 }, en[] = { INT64_MAX, -5 }, ax[] = { 1, 2 }, sp[] = { 1, -2 };
    Attr a[4] = { attr_ints("starts", st, 2), attr_ints("ends", en, 2), attr_ints("axes", ax, 2),
                  attr_ints("steps", sp, 2) };
    const float want[] = { 7, 5, 11, 9 }; /* rows 1..2, columns 3, 1 */
    expect_fwd("slice", OP_SLICE, a, 4, &in, 1, shape_of(3, 1LL, 2LL, 2LL), want);
    attrs_release(a, 4);
    const int64_t b0[] = { 0 }, b1[] = { 1 };
    Attr b[3] = { attr_ints("starts", b0, 1), attr_ints("ends", b1, 1), attr_ints("axes", b0, 1) };
    Tensor *in2 = make(shape_of(2, 2LL, 3LL), 0, 1);
    expect_infer_fails("slice batch", OP_SLICE, b, 3, &in2, 1, QS_EINVAL, "batch axis 0");
    attrs_release(b, 3);
    tensor_free(in2);
    tensor_free(in);
    Tensor *g = make(shape_of(3, 2LL, 5LL, 6LL), -2, 2);
    const int64_t gs[] = { 1, 5 }, ge[] = { 4, 0 }, ga[] = { 1, 2 }, gp[] = { 2, -2 };
    Attr c[4] = { attr_ints("starts", gs, 2), attr_ints("ends", ge, 2), attr_ints("axes", ga, 2),
                  attr_ints("steps", gp, 2) };
    gc("slice grad", OP_SLICE, c, 4, &g, 1, &LINEAR_TOL);
    attrs_release(c, 4);
    /* HardSigmoid: alpha 0.2, beta 0.5 (ONNX defaults); kinks at -2.5 and 2.5. */
    const float hx[] = { -3, -2.5f, 0, 1, 2.5f, 4 };
    const float hw[] = { 0, 0, 0.5f, 0.7f, 1, 1 };
    Tensor *hin = from(shape_of(2, 1LL, 6LL), hx);
    expect_fwd("hardsigmoid", OP_HARDSIGMOID, NULL, 0, &hin, 1, shape_of(2, 1LL, 6LL), hw);
    tensor_free(hin);
    gc("hardsigmoid grad", OP_HARDSIGMOID, NULL, 0, &g, 1, &LINEAR_TOL);
    tensor_free(g);
}

/* Mod: exact remainders (fmodf is exact; the floored rule adds b once) in both sign rules,
 * the fmod attribute's check, and gradients away from the jumps (a multiple of b). */
static void test_mod(void)
{
    const float a[] = { 5, -5, 5, -5, 7.5f, -7.5f }, b[] = { 3, 3, -3, -3, 2, 2 };
    const float floored[] = { 2, 1, -1, -2, 1.5f, 0.5f }, truncated[] = { 2, -2, 2, -2, 1.5f, -1.5f };
    Tensor *in[2] = { from(shape_of(2, 1LL, 6LL), a), from(shape_of(2, 1LL, 6LL), b) };
    expect_fwd("mod fmod=0", OP_MOD, NULL, 0, in, 2, shape_of(2, 1LL, 6LL), floored);
    Attr f1 = attr_int("fmod", 1);
    expect_fwd("mod fmod=1", OP_MOD, &f1, 1, in, 2, shape_of(2, 1LL, 6LL), truncated);
    free_all(in, 2);

    Attr f2 = attr_int("fmod", 2);
    Node n = gradcheck_make_node(OP_MOD, "m", 2, &f2, 1);
    OpParams p;
    QsError err = { 0 };
    CHECK(op_parse(&n, &p, &err) == QS_EINVAL);
    CHECK(strstr(err.msg, "Mod 'm': fmod must be 0 or 1, not 2") != NULL);
    gradcheck_node_release(&n);
    attr_release(&f2);

    /* a / b in (0.1, 0.85) and (-0.85, -0.1): floor and trunc are constant around every
     * point, so the finite differences see the smooth pieces. */
    Tensor *pos[2] = { make(shape_of(3, 2LL, 3LL, 4LL), 0.3f, 1.7f), make(shape_of(2, 3LL, 1LL), 2, 3) };
    Tensor *neg[2] = { make(shape_of(3, 2LL, 3LL, 4LL), -1.7f, -0.3f), pos[1] };
    gc("mod grad", OP_MOD, NULL, 0, pos, 2, &LINEAR_TOL);
    gc("mod grad negative", OP_MOD, NULL, 0, neg, 2, &LINEAR_TOL);
    gc("fmod grad negative", OP_MOD, &f1, 1, neg, 2, &LINEAR_TOL);
    attr_release(&f1);
    tensor_free(neg[0]);
    free_all(pos, 2);
}

/* Expand: a (1, 1, 3) constant to (N, 2, 3) with N from input 1's dim 0, the broadcast
 * both ways, a shape that does not broadcast, a missing batch source, and gradients. */
static void test_expand(void)
{
    const float x[] = { 1, 2, 3 };
    Tensor *in[2] = { from(shape_of(3, 1LL, 1LL, 3LL), x), make(shape_of(2, 3LL, 5LL), 0, 1) };
    const int64_t sh[] = { 0, 2, 1 }, bm[] = { 1, 0, 0 };
    Attr a[2] = { attr_ints("shape", sh, 3), attr_ints("batch", bm, 3) };
    const float want[18] = { 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3 };
    expect_fwd("expand by batch", OP_EXPAND, a, 2, in, 2, shape_of(3, 3LL, 2LL, 3LL), want);
    expect_infer_fails("expand without batch source", OP_EXPAND, a, 2, in, 1, QS_ESHAPE,
                       "the batch size");
    attrs_release(a, 2);
    const int64_t bad[] = { 1, 1, 4 };
    Attr b[1] = { attr_ints("shape", bad, 3) };
    expect_infer_fails("expand mismatch", OP_EXPAND, b, 1, in, 1, QS_ESHAPE, "does not broadcast");
    attrs_release(b, 1);
    Tensor *g[1] = { make(shape_of(2, 3LL, 1LL), -1, 1) };
    const int64_t gs[] = { 2, 3, 4 };
    Attr c[1] = { attr_ints("shape", gs, 3) };
    gc("expand grad", OP_EXPAND, c, 1, g, 1, &LINEAR_TOL);
    attrs_release(c, 1);
    free_all(g, 1);
    free_all(in, 2);
}

/* TopK: values and indices along the last and a middle axis, largest and smallest, ties
 * (the lower index first, as ONNX says), k beyond the axis, and the gradient of the values
 * (inputs spaced further apart than the finite difference's step, so no rank changes). */
static void test_topk(void)
{
    const float x[] = { 3, 1, 4, 1, 5, 9, 2, 6 }; /* (1, 2, 4) */
    Tensor *in = from(shape_of(3, 1LL, 2LL, 4LL), x);
    Attr a[3] = { attr_int("k", 2), attr_int("axis", -1), attr_int("indices", 0) };
    const float v_last[] = { 4, 3, 9, 6 }, i_last[] = { 2, 0, 1, 3 };
    expect_fwd("topk values", OP_TOPK, a, 3, &in, 1, shape_of(3, 1LL, 2LL, 2LL), v_last);
    attr_release(&a[2]);
    a[2] = attr_int("indices", 1);
    expect_fwd("topk indices", OP_TOPK, a, 3, &in, 1, shape_of(3, 1LL, 2LL, 2LL), i_last);
    attrs_release(a, 3);
    /* smallest along axis 1 of (1, 2, 4): one per column; column 0 ties nothing */
    Attr b[4] = { attr_int("k", 1), attr_int("axis", 1), attr_int("largest", 0),
                  attr_int("indices", 1) };
    const float i_mid[] = { 0, 0, 1, 0 };
    expect_fwd("topk smallest middle axis", OP_TOPK, b, 4, &in, 1, shape_of(3, 1LL, 1LL, 4LL),
               i_mid);
    attrs_release(b, 4);
    tensor_free(in);
    /* ties: 1 at positions 1, 3 and 5; both orders pick the lower index first */
    const float t[] = { 2, 1, 7, 1, 7, 1 };
    Tensor *tin = from(shape_of(2, 1LL, 6LL), t);
    Attr c[3] = { attr_int("k", 4), attr_int("largest", 0), attr_int("indices", 1) };
    const float i_ties[] = { 1, 3, 5, 0 };
    expect_fwd("topk ties smallest", OP_TOPK, c, 3, &tin, 1, shape_of(2, 1LL, 4LL), i_ties);
    attrs_release(c, 3);
    Attr d[2] = { attr_int("k", 3), attr_int("indices", 1) };
    const float i_ties_large[] = { 2, 4, 0 };
    expect_fwd("topk ties largest", OP_TOPK, d, 2, &tin, 1, shape_of(2, 1LL, 3LL), i_ties_large);
    attrs_release(d, 2);
    Attr e[1] = { attr_int("k", 7) };
    expect_infer_fails("topk k too large", OP_TOPK, e, 1, &tin, 1, QS_ESHAPE, "exceeds the axis");
    attrs_release(e, 1);
    tensor_free(tin);
    float gx[2 * 3 * 5];
    for (int i = 0; i < NELEM(gx); i++)
        gx[i] = (float)((i * 7) % NELEM(gx)) * 0.25f - 3; /* distinct, 0.25 apart */
    Tensor *g = from(shape_of(3, 2LL, 3LL, 5LL), gx);
    Attr f[2] = { attr_int("k", 3), attr_int("axis", 2) };
    gc("topk grad", OP_TOPK, f, 2, &g, 1, &LINEAR_TOL);
    attrs_release(f, 2);
    Attr h[3] = { attr_int("k", 2), attr_int("axis", 1), attr_int("largest", 0) };
    gc("topk grad smallest", OP_TOPK, h, 3, &g, 1, &LINEAR_TOL);
    attrs_release(h, 3);
    tensor_free(g);
}

/* GatherElements: float indices along axis 2 (a negative one from the end, inexact ones
 * rounded to the nearest), an index out of range gives NaN, a shape check, and the gradient into the data (indices fixed). */
static void test_gather_elements(void)
{
    const float x[] = { 10, 11, 12, 13, 20, 21, 22, 23 }; /* (1, 2, 4) */
    const float ix[] = { 3, 0, -1, 1, 1.2f, 1.6f };         /* (1, 2, 3), rounded */
    Tensor *in[2] = { from(shape_of(3, 1LL, 2LL, 4LL), x), from(shape_of(3, 1LL, 2LL, 3LL), ix) };
    Attr a[1] = { attr_int("axis", 2) };
    const float want[] = { 13, 10, 13, 21, 21, 22 };
    expect_fwd("gatherelements", OP_GATHERELEMENTS, a, 1, in, 2, shape_of(3, 1LL, 2LL, 3LL), want);
    tensor_f32(in[1])[0] = 4;
    Node n = gradcheck_make_node(OP_GATHERELEMENTS, "ge", 2, a, 1);
    Tensor *out = tensor_new(DT_F32, shape_of(3, 1LL, 2LL, 3LL), NULL);
    RunCtx rc = { 0 };
    op_table[OP_GATHERELEMENTS]->forward(&n, (const Tensor *const *)in, out, &rc);
    CHECK(isnan(tensor_f32(out)[0]) && tensor_f32(out)[1] == 10);
    tensor_free(out);
    gradcheck_node_release(&n);
    Tensor *wide = make(shape_of(3, 1LL, 3LL, 3LL), 0, 1);
    Tensor *bad[2] = { in[0], wide };
    expect_infer_fails("gatherelements dims", OP_GATHERELEMENTS, a, 1, bad, 2, QS_ESHAPE,
                       "exceeds the data's");
    tensor_free(wide);
    free_all(in, 2);
    /* indices 0..3 of a (2, 3, 4) gradient input: the check perturbs the data only */
    Tensor *g[2] = { make(shape_of(3, 2LL, 3LL, 4LL), -1, 1), tensor_new(DT_F32, shape_of(3, 2LL, 3LL, 2LL), NULL) };
    for (int i = 0; i < 12; i++)
        tensor_f32(g[1])[i] = (float)((i * 3) % 4);
    const bool data_only[2] = { true, false };
    Node gn = gradcheck_make_node(OP_GATHERELEMENTS, "gatherelements grad", 2, a, 1);
    gradcheck_node("gatherelements grad", &gn, g, 2, data_only, &LINEAR_TOL);
    gradcheck_node_release(&gn);
    attrs_release(a, 1);
    free_all(g, 2);
}

static void test_rows(void)
{
    static const int mine[] = { OP_SUB, OP_DIV, OP_POW, OP_SQRT, OP_ERF, OP_PAD, OP_RESIZE,
                                OP_CONVTRANSPOSE, OP_LAYERNORM, OP_SLICE, OP_HARDSIGMOID, OP_MOD,
                                OP_EXPAND, OP_TOPK };
    static const char *const names[] = { "Sub", "Div", "Pow", "Sqrt", "Erf", "Pad", "Resize",
                                         "ConvTranspose", "LayerNormalization", "Slice",
                                         "HardSigmoid", "Mod", "Expand", "TopK" };
    for (int i = 0; i < NELEM(mine); i++) {
        CHECK(op_table[mine[i]] && op_table[mine[i]]->backward != NULL);
        CHECK(op_find(names[i]) == mine[i]);
    }
}

int main(void)
{
    test_rows();
    test_arith();
    test_mod();
    test_pad();
    test_resize();
    test_convtranspose();
    test_layernorm();
    test_slice_hardsigmoid();
    test_expand();
    test_topk();
    test_gather_elements();
    return test_summary("ops_onnx");
}
