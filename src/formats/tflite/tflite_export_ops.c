/* TFLite export of single nodes: one row per qscope op (tx_rows), naming how it uses
 * layouts and the function that writes it, or why TFLite has no form of it. Linear units
 * are written by tflite_export_unit.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/geometry.h"
#include "ops/op.h"
#include "quant/target.h"
#include "tflite/tflite_export_int.h"

/* The layout a node's output is written in, and its non-constant input i in it. */
static int op_lay(const Tx *x, const TxNode *tn) { return x->clast[tn->out]; }

int tx_op_in(Tx *x, const TxNode *tn, int i)
{
    if (!tn->q && tn->s.kind == QSTEP_INT8)
        return tx_get_rounded(x, tn->n->in[i], op_lay(x, tn));
    return tx_get(x, tn->n->in[i], op_lay(x, tn), tn->q ? TX_Q : TX_F);
}

static TflOpts opts(int kind) { return (TflOpts){ .kind = kind }; }

void tx_op_unary(Tx *x, const TxNode *tn, int code, const TflOpts *o, const int *extra,
                 int n_extra)
{
    int in[TFL_MAX_OP_IN] = { tx_op_in(x, tn, 0) };
    if (x->st)
        return;
    if (n_extra)
        memcpy(in + 1, extra, (size_t)n_extra * sizeof *in);
    int out = tx_out(x, tn->out, tn->q ? TX_Q : TX_F);
    tx_op(x, code, tn->q, in, 1 + n_extra, out, o);
}

/* An int8 node whose output must keep its input's parameters in TFLite. */
static bool op_same_qparams(Tx *x, const TxNode *tn, int v, const char *rule)
{
    QParams a, b;
    if (!tn->q || !qmodel_value_qparams(x->q, v, &a) ||
        !qmodel_value_qparams(x->q, tn->out, &b))
        return true;
    if (a.scale == b.scale && a.zero_point == b.zero_point)
        return true;
    tx_fail(x, QS_EUNSUPPORTED, "%s '%s': TFLite requires %s (input scale %g zero point %d, "
            "output scale %g zero point %d); tie them in the plan (quant target=tflm or "
            "xnnpack)", op_table[tn->n->op]->name, tn->n->name, rule, (double)a.scale,
            (int)a.zero_point, (double)b.scale, (int)b.zero_point);
    return false;
}

/* ---- activations ------------------------------------------------------------------------ */

static void op_clamp(Tx *x, const TxNode *tn)
{
    float lo, hi;
    op_clamp_range(tn->n, &lo, &hi);
    int act = tx_fused_act(lo, hi);
    static const int codes[] = { [TFL_ACT_RELU] = TFL_OP_RELU, [TFL_ACT_RELU6] = TFL_OP_RELU6,
                                 [TFL_ACT_RELU_N1_TO_1] = TFL_OP_RELU_N1_TO_1 };
    if (tn->q) {
        if (!op_same_qparams(x, tn, tn->n->in[0], "equal input and output parameters"))
            return;
        if (act <= 0 || !tx_act_matches_int8(act, &tn->s.out_qp, tn->s.lo, tn->s.hi)) {
            tx_fail(x, QS_EUNSUPPORTED, "%s '%s': the int8 clamp [%d, %d] is not what TFLite's "
                    "RELU, RELU6 or RELU_N1_TO_1 computes", op_table[tn->n->op]->name,
                    tn->n->name, (int)tn->s.lo, (int)tn->s.hi);
            return;
        }
        tx_op_unary(x, tn, codes[act], NULL, NULL, 0);
        return;
    }
    if (act > 0) {
        tx_op_unary(x, tn, codes[act], NULL, NULL, 0);
        return;
    }
    /* any other float clamp: MAXIMUM with lo, then MINIMUM with hi */
    int in = tx_op_in(x, tn, 0);
    if (x->st)
        return;
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, tn->out, op_lay(x, tn), d);
    char name[300];
    if (isfinite(lo)) {
        snprintf(name, sizeof name, "%s::max", tn->n->name);
        int c = tx_const_f32(x, "min", 0, NULL, &lo);
        int t = isfinite(hi) ? tx_tmp(x, name, TFL_FLOAT32, nd, d, NULL)
                             : tx_out(x, tn->out, TX_F);
        tx_op(x, TFL_OP_MAXIMUM, false, (int[]){ in, c }, 2, t, NULL);
        in = t;
    }
    if (isfinite(hi)) {
        int c = tx_const_f32(x, "max", 0, NULL, &hi);
        tx_op(x, TFL_OP_MINIMUM, false, (int[]){ in, c }, 2, tx_out(x, tn->out, TX_F), NULL);
    }
}

static void op_simple(Tx *x, const TxNode *tn, int code)
{
    tx_op_unary(x, tn, code, NULL, NULL, 0);
}

/* An int8 step (a Sigmoid or Tanh table, a Softmax) whose output parameters are not the
 * ones TFLite's int8 kernel fixes (scale s, zero point z): written as the float op between
 * DEQUANTIZE and QUANTIZE, which computes what qscope's rule does, quant(f(dq(code))). */
static TxNode op_fixed_node(const TxNode *tn, float s, int32_t z)
{
    TxNode f = *tn;
    if (tn->q && !(tn->s.out_qp.scale == s && tn->s.out_qp.zero_point == z))
        f.q = false;
    return f;
}

static void op_fixed_or_float(Tx *x, const TxNode *tn, int code, float s, int32_t z)
{
    TxNode f = op_fixed_node(tn, s, z);
    op_simple(x, &f, code);
}

static void op_sigmoid(Tx *x, const TxNode *tn)
{
    op_fixed_or_float(x, tn, TFL_OP_LOGISTIC, 1.0f / 256.0f, -128);
}
static void op_tanh(Tx *x, const TxNode *tn)
{
    op_fixed_or_float(x, tn, TFL_OP_TANH, 1.0f / 128.0f, 0);
}
static void op_hardswish(Tx *x, const TxNode *tn) { op_simple(x, tn, TFL_OP_HARD_SWISH); }

static void op_leakyrelu(Tx *x, const TxNode *tn)
{
    TflOpts o = opts(TFL_OPT_LEAKY_RELU);
    o.alpha = tn->n->params.leakyrelu.alpha;
    tx_op_unary(x, tn, TFL_OP_LEAKY_RELU, &o, NULL, 0);
}

/* Softmax along the file's last axis only. */
static void op_softmax(Tx *x, const TxNode *tn)
{
    int r = x->shapes[tn->out].ndim;
    int a = (int)tn->n->params.axis.axis;
    a = a < 0 ? a + r : a;
    if (tx_axis(r, op_lay(x, tn), a) != (op_lay(x, tn) && r >= 3 ? 3 : r - 1)) {
        tx_fail(x, QS_EUNSUPPORTED, "Softmax '%s': axis %d is not the last axis of the file's "
                "layout (TFLite's SOFTMAX runs along the last axis)", tn->n->name, a);
        return;
    }
    TflOpts o = opts(TFL_OPT_SOFTMAX);
    o.beta = 1.0f;
    TxNode f = op_fixed_node(tn, 1.0f / 256.0f, -128);
    tx_op_unary(x, &f, TFL_OP_SOFTMAX, &o, NULL, 0);
}

/* ---- windows ---------------------------------------------------------------------------- */

static void op_pool(Tx *x, const TxNode *tn)
{
    const Node *n = tn->n;
    bool avg = n->op == OP_AVGPOOL;
    int vin = n->in[0];
    Window w;
    geom_node_window(n, x->shapes[vin].ndim - 2, NULL, &w);
    if (w.dh != 1 || w.dw != 1) {
        tx_fail(x, QS_EUNSUPPORTED, "%s '%s': dilated pools have no TFLite form",
                op_table[n->op]->name, n->name);
        return;
    }
    if (!op_same_qparams(x, tn, vin, avg ? "equal input and output parameters on "
                                           "AVERAGE_POOL_2D"
                                         : "equal input and output parameters on MAX_POOL_2D"))
        return;
    /* AveragePool without count_include_pad leaves pads out: only SAME expresses it; a
     * PAD of zeros is exact for count_include_pad = 1, a PADV2 of the lowest value for
     * MaxPool */
    bool may_pad = !avg || n->params.win.count_include_pad;
    int padding;
    int in = tx_window_input(x, tn, vin, tn->q ? TX_Q : TX_F, &w, may_pad, &padding);
    if (x->st)
        return;
    if (avg && padding == TFL_PAD_SAME && n->params.win.count_include_pad &&
        (w.pt || w.pb || w.pl || w.pr)) {
        tx_fail(x, QS_EUNSUPPORTED, "AveragePool '%s': count_include_pad with SAME pads has "
                "no TFLite form", n->name);
        return;
    }
    TflOpts o = { .kind = TFL_OPT_POOL2D, .padding = padding, .stride_h = (int)w.sh,
                  .stride_w = (int)w.sw, .filter_h = (int)w.kh, .filter_w = (int)w.kw };
    int out = tx_out(x, tn->out, tn->q ? TX_Q : TX_F);
    tx_op(x, avg ? TFL_OP_AVERAGE_POOL_2D : TFL_OP_MAX_POOL_2D, tn->q, &in, 1, out, &o);
}

/* A reduction (MEAN, SUM, REDUCE_MAX) over file axes `axes` (n of them). */
static void op_reduce_axes(Tx *x, const TxNode *tn, int code, const int32_t *axes, int n,
                           bool keep)
{
    const int64_t d = n;
    int at = tx_const_i32(x, "axes", 1, &d, axes);
    TflOpts o = opts(TFL_OPT_REDUCER);
    o.keep_dims = keep;
    tx_op_unary(x, tn, code, &o, &at, 1);
}

static void op_globalpool(Tx *x, const TxNode *tn)
{
    static const int32_t hw[2] = { 1, 2 };
    op_reduce_axes(x, tn, TFL_OP_MEAN, hw, 2, true);
}

static void op_reduce(Tx *x, const TxNode *tn)
{
    const ReduceParams *p = &tn->n->params.reduce;
    int r = x->shapes[tn->n->in[0]].ndim, lay = x->clast[tn->n->in[0]];
    int32_t axes[QS_MAX_DIMS];
    int na = p->axes.n > 0 ? p->axes.n : r;
    for (int i = 0; i < na; i++) {
        int a = p->axes.n > 0 ? (int)p->axes.v[i] : i;
        axes[i] = tx_axis(r, lay, a < 0 ? a + r : a);
    }
    /* a reduction that drops axes of a channels-last value leaves qscope's order only when
     * the kept axes keep their order: read it in qscope's order instead */
    if (lay == TX_CLAST && !p->keepdims) {
        for (int i = 0; i < na; i++) {
            int a = p->axes.n > 0 ? (int)p->axes.v[i] : i;
            axes[i] = a < 0 ? a + r : a;
        }
        x->clast[tn->out] = TX_PLAIN;
    }
    int code = tn->n->op == OP_REDUCEMEAN ? TFL_OP_MEAN
               : tn->n->op == OP_REDUCESUM ? TFL_OP_SUM : TFL_OP_REDUCE_MAX;
    if (lay == TX_CLAST && !p->keepdims) {
        /* the input in qscope's order */
        const int64_t d = na;
        int at = tx_const_i32(x, "axes", 1, &d, axes);
        int in = tx_get(x, tn->n->in[0], TX_PLAIN, tn->q ? TX_Q : TX_F);
        if (x->st)
            return;
        TflOpts o = opts(TFL_OPT_REDUCER);
        int out = tx_out(x, tn->out, tn->q ? TX_Q : TX_F);
        tx_op(x, code, tn->q, (int[]){ in, at }, 2, out, &o);
        return;
    }
    op_reduce_axes(x, tn, code, axes, na, p->keepdims);
}

/* ---- layout ops ------------------------------------------------------------------------ */

static void op_reshape(Tx *x, const TxNode *tn)
{
    if (!op_same_qparams(x, tn, tn->n->in[0], "equal input and output parameters on RESHAPE"))
        return;
    int in = tx_get(x, tn->n->in[0], TX_PLAIN, tn->q ? TX_Q : TX_F);
    if (x->st)
        return;
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, tn->out, TX_PLAIN, d);
    int32_t s[QS_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        s[i] = (int32_t)d[i];
    const int64_t n = nd;
    int st = tx_const_i32(x, "shape", 1, &n, s);
    int out = tx_out(x, tn->out, tn->q ? TX_Q : TX_F);
    tx_op(x, TFL_OP_RESHAPE, tn->q, (int[]){ in, st }, 2, out, &(TflOpts){ .kind = TFL_OPT_RESHAPE });
}

static void op_transpose(Tx *x, const TxNode *tn)
{
    const ParamInts *p = &tn->n->params.transpose.perm;
    int r = x->shapes[tn->out].ndim;
    int32_t perm[QS_MAX_DIMS];
    for (int i = 0; i < r; i++)
        perm[i] = p->n > 0 ? (int32_t)p->v[i] : r - 1 - i;
    const int64_t n = r;
    int pt = tx_const_i32(x, "perm", 1, &n, perm);
    tx_op_unary(x, tn, TFL_OP_TRANSPOSE, &(TflOpts){ .kind = TFL_OPT_TRANSPOSE }, &pt, 1);
}

/* Identity and Dropout (inference): the output is the input's tensor. */
static void op_alias(Tx *x, const TxNode *tn)
{
    int v = tn->n->in[0];
    x->clast[tn->out] = x->clast[v];
    memcpy(x->tens[tn->out], x->tens[v], sizeof x->tens[v]);
}

static void op_pad(Tx *x, const TxNode *tn)
{
    const PadParams *p = &tn->n->params.pad;
    if (p->mode != PAD_CONSTANT || p->value != 0.0f) {
        tx_fail(x, QS_EUNSUPPORTED, "Pad '%s': only constant zero padding has a TFLite form "
                "here (PAD)", tn->n->name);
        return;
    }
    int r = x->shapes[tn->out].ndim, lay = op_lay(x, tn);
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, tn->out, lay, d);
    int32_t pads[2 * QS_MAX_DIMS] = { 0 };
    for (int a = 0; a < r; a++) {
        int fa = tx_axis(r, lay, a);
        pads[2 * fa] = (int32_t)p->pads.v[a];
        pads[2 * fa + 1] = (int32_t)p->pads.v[r + a];
    }
    const int64_t pd[2] = { nd, 2 };
    int pt = tx_const_i32(x, "paddings", 2, pd, pads);
    tx_op_unary(x, tn, TFL_OP_PAD, &(TflOpts){ .kind = TFL_OPT_PAD }, &pt, 1);
}

/* ---- elementwise and concat --------------------------------------------------------------- */

/* Constant value c broadcast against a rank-r output in layout lay: right-aligned to rank
 * r, then permuted like the data. */
int tx_broadcast_const(Tx *x, const TxNode *tn, int c, int r, int lay,
                              const char *name)
{
    /* an fp16 step reads its constants rounded to half */
    const Tensor *hc = tn->s.kind == QSTEP_HALF ? qmodel_half_const(x->q, c) : NULL;
    const Tensor *t = hc ? hc : x->g->values[c].data;
    int cr = t->shape.ndim;
    if (cr > r || t->dtype != DT_F32) {
        tx_fail(x, QS_EUNSUPPORTED, "constant '%s' does not broadcast as TFLite reads it", name);
        return 0;
    }
    int64_t full[QS_MAX_DIMS];
    for (int i = 0; i < r; i++)
        full[i] = i < r - cr ? 1 : t->shape.dim[i - (r - cr)];
    if (lay == TX_PLAIN || (r != 3 && r != 4) || cr <= 1)
        return tx_const_f32(x, name, cr, t->shape.dim, tensor_f32(t));
    /* channels last: (N, C, H, W) -> (N, H, W, C); rank 3 (N, C, W) -> (N, 1, W, C) */
    int64_t h = r == 4 ? full[2] : 1, w = full[r - 1], ch = full[1], nb = full[0];
    int64_t d[4] = { nb, h, w, ch };
    float *buf = xmalloc((size_t)(nb * h * w * ch) * sizeof *buf);
    const float *src = tensor_f32(t);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t c2 = 0; c2 < ch; c2++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t z = 0; z < w; z++)
                    buf[((b * h + y) * w + z) * ch + c2] = src[((b * ch + c2) * h + y) * w + z];
    int k = tx_const_f32(x, name, 4, d, buf);
    free(buf);
    return k;
}

static void op_binary(Tx *x, const TxNode *tn_in)
{
    if (tn_in->n->op == OP_DIV && tx_gelu(x, tn_in))
        return;
    /* an int8 step with a constant scalar operand is qscope's table of the float op:
     * written as the float op between DEQUANTIZE and QUANTIZE, which computes it */
    TxNode f = *tn_in;
    for (int i = 0; i < 2; i++)
        if (x->g->values[tn_in->n->in[i]].kind == VAL_CONST)
            f.q = false;
    const TxNode *tn = &f;
    static const struct { int op, code, opt; } map[] = {
        { OP_ADD, TFL_OP_ADD, TFL_OPT_ADD }, { OP_MUL, TFL_OP_MUL, TFL_OPT_MUL },
        { OP_SUB, TFL_OP_SUB, TFL_OPT_SUB }, { OP_DIV, TFL_OP_DIV, TFL_OPT_DIV },
    };
    int k = 0;
    while (map[k].op != tn->n->op)
        k++;
    int r = x->shapes[tn->out].ndim, lay = op_lay(x, tn), in[2];
    for (int i = 0; i < 2; i++) {
        int v = tn->n->in[i];
        if (x->g->values[v].kind == VAL_CONST)
            in[i] = tx_broadcast_const(x, tn, v, r, lay, x->g->values[v].name);
        else if (x->shapes[v].ndim != r && lay == TX_CLAST)
            tx_fail(x, QS_EUNSUPPORTED, "%s '%s': a lower-rank input broadcast against a "
                    "channels-last value", op_table[tn->n->op]->name, tn->n->name);
        else
            in[i] = tx_op_in(x, tn, i);
    }
    if (x->st)
        return;
    /* a Relu, Relu6 or Clip(-1, 1) that alone reads the result becomes its fused
     * activation, writing the clamp's value */
    int act = TFL_ACT_NONE, clamp = tx_fusable_clamp(x, tn, &act);
    int outv = tn->out;
    if (clamp >= 0) {
        x->fused[clamp] = true;
        outv = x->g->nodes[clamp].out;
        x->clast[outv] = x->clast[tn->out];
    } else {
        act = TFL_ACT_NONE;
    }
    int out = tx_out(x, outv, tn->q ? TX_Q : TX_F);
    tx_op(x, map[k].code, tn->q, in, 2, out, &(TflOpts){ .kind = map[k].opt, .act = act });
}

/* Whether a target that ties concat parameters left input v apart from the output (an
 * input on fixed parameters, a Sigmoid's): qscope requantizes it, quant(dq(code)). */
static bool op_concat_untied(const Tx *x, const TxNode *tn, int v)
{
    QParams a, b;
    return tn->q && qmodel_target(x->q)->tie_concat && qmodel_value_qparams(x->q, v, &a) &&
           qmodel_value_qparams(x->q, tn->out, &b) &&
           !(a.scale == b.scale && a.zero_point == b.zero_point);
}

static void op_concat(Tx *x, const TxNode *tn_in)
{
    const Node *n = tn_in->n;
    TxNode f = *tn_in;
    const TxNode *tn = &f;
    int r = x->shapes[tn->out].ndim, lay = op_lay(x, tn);
    if (n->n_in > TFL_MAX_OP_IN) {
        tx_fail(x, QS_EUNSUPPORTED, "Concat '%s': more than %d inputs", n->name, TFL_MAX_OP_IN);
        return;
    }
    /* then the float CONCATENATION between DEQUANTIZE and QUANTIZE computes what it does */
    for (int i = 0; i < n->n_in; i++)
        if (op_concat_untied(x, tn_in, n->in[i]))
            f.q = false;
    int in[TFL_MAX_OP_IN];
    for (int i = 0; i < n->n_in; i++) {
        if (!op_same_qparams(x, tn, n->in[i], "every CONCATENATION input's parameters to equal "
                             "the output's"))
            return;
        in[i] = x->g->values[n->in[i]].kind == VAL_CONST
                    ? tx_broadcast_const(x, tn, n->in[i], r, lay,
                                         x->g->values[n->in[i]].name)
                    : tx_op_in(x, tn, i);
    }
    if (x->st)
        return;
    int a = (int)n->params.axis.axis;
    TflOpts o = opts(TFL_OPT_CONCATENATION);
    o.axis = tx_axis(r, lay, a < 0 ? a + r : a);
    int out = tx_out(x, tn->out, tn->q ? TX_Q : TX_F);
    tx_op(x, TFL_OP_CONCATENATION, tn->q, in, n->n_in, out, &o);
}

/* ---- resize ------------------------------------------------------------------------------- */

/* qscope's source index of every output index along the H and W axes, from the op's own
 * float forward on an input holding each element's index. */
static bool op_resize_map(const Tx *x, const Node *n, int64_t *mh, int64_t *mw)
{
    const Shape *xs = &x->shapes[n->in[0]], *ys = &x->shapes[n->out];
    Shape s1 = *xs, o1 = *ys;
    s1.dim[0] = o1.dim[0] = 1;
    QsError e = { 0 };
    Tensor *ti = tensor_new(DT_F32, s1, &e), *to = tensor_new(DT_F32, o1, &e);
    const Shape *ins[1] = { &s1 };
    size_t sb = op_table[n->op]->scratch ? op_table[n->op]->scratch(n, ins, &o1) : 0;
    void *scratch = xmalloc(sb ? sb : 1);
    bool ok = ti && to && shape_numel(&s1) <= (1 << 24);
    if (ok) {
        for (int64_t i = 0; i < shape_numel(&s1); i++)
            tensor_f32(ti)[i] = (float)i;
        RunCtx rc = { .scratch = scratch, .scratch_bytes = sb };
        const Tensor *in[1] = { ti };
        op_table[n->op]->forward(n, in, to, &rc);
        int r = s1.ndim;
        int64_t iw = s1.dim[r - 1], ow = o1.dim[r - 1], oh = r == 4 ? o1.dim[2] : 1;
        int64_t ihw = r == 4 ? s1.dim[2] * iw : iw;
        for (int64_t y = 0; y < oh; y++)
            mh[y] = ((int64_t)tensor_f32(to)[y * ow] % ihw) / iw;
        for (int64_t z = 0; z < ow; z++)
            mw[z] = (int64_t)tensor_f32(to)[z] % iw;
    }
    free(scratch);
    tensor_free(ti);
    tensor_free(to);
    return ok;
}

/* TFLite's nearest source index (reference resize_nearest_neighbor, float arithmetic). */
static int64_t op_tfl_nearest(int64_t o, int64_t in, int64_t out, bool ac, bool hp)
{
    float scale = ac && out > 1 ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    float offset = hp ? 0.5f : 0.0f;
    int64_t v = ac ? (int64_t)roundf((float)o * scale)
                   : (int64_t)floorf(((float)o + offset) * scale);
    if (hp && v < 0)
        v = 0;
    return v < in - 1 ? v : in - 1;
}

static void op_resize(Tx *x, const TxNode *tn)
{
    const Node *n = tn->n;
    const Shape *xs = &x->shapes[n->in[0]], *ys = &x->shapes[n->out];
    int r = xs->ndim;
    if ((r != 3 && r != 4) || xs->dim[1] != ys->dim[1] || xs->dim[0] != ys->dim[0]) {
        tx_fail(x, QS_EUNSUPPORTED, "Resize '%s': TFLite resizes the spatial axes of rank-3 "
                "or rank-4 values only", n->name);
        return;
    }
    if (!op_same_qparams(x, tn, n->in[0], "equal input and output parameters on "
                         "RESIZE_NEAREST_NEIGHBOR"))
        return;
    int64_t ih = r == 4 ? xs->dim[2] : 1, iw = xs->dim[r - 1];
    int64_t oh = r == 4 ? ys->dim[2] : 1, ow = ys->dim[r - 1];
    int64_t *mh = xmalloc((size_t)(oh + ow) * sizeof *mh), *mw = mh + oh;
    bool found = false, ac = false, hp = false;
    if (op_resize_map(x, n, mh, mw)) {
        static const bool rules[3][2] = { { false, false }, { false, true }, { true, false } };
        for (int k = 0; k < 3 && !found; k++) {
            ac = rules[k][0], hp = rules[k][1];
            found = true;
            for (int64_t y = 0; y < oh && found; y++)
                found = mh[y] == op_tfl_nearest(y, ih, oh, ac, hp);
            for (int64_t z = 0; z < ow && found; z++)
                found = mw[z] == op_tfl_nearest(z, iw, ow, ac, hp);
        }
    }
    free(mh);
    if (!found) {
        tx_fail(x, QS_EUNSUPPORTED, "Resize '%s': its coordinate rule picks source pixels "
                "that no RESIZE_NEAREST_NEIGHBOR setting (align_corners, half_pixel_centers) "
                "picks", n->name);
        return;
    }
    int32_t size[2] = { (int32_t)oh, (int32_t)ow };
    const int64_t two = 2;
    int st = tx_const_i32(x, "size", 1, &two, size);
    TflOpts o = opts(TFL_OPT_RESIZE_NEAREST_NEIGHBOR);
    o.align_corners = ac;
    o.half_pixel_centers = hp;
    tx_op_unary(x, tn, TFL_OP_RESIZE_NEAREST_NEIGHBOR, &o, &st, 1);
}

/* ---- the table ----------------------------------------------------------------------------- */

#define UNIT_ONLY "a linear layer is written with constant weights only (as CONV_2D, " \
                  "DEPTHWISE_CONV_2D or FULLY_CONNECTED)"

static const TxRow tx_rows[OP_COUNT] = {
    [OP_GEMM] = { TXL_PLAIN, NULL, UNIT_ONLY },
    [OP_DENSE] = { TXL_PLAIN, NULL, UNIT_ONLY },
    /* a MatMul with constant weights is a unit (FULLY_CONNECTED); this row sees the rest */
    [OP_MATMUL] = { TXL_PLAIN, tx_batch_matmul, NULL },
    [OP_CONV] = { TXL_SPATIAL, NULL, UNIT_ONLY },
    [OP_BATCHNORM] = { TXL_SPATIAL, NULL, "a BatchNormalization is written folded into the "
                                          "convolution or dense layer before it only" },
    [OP_RELU] = { TXL_FOLLOW, op_clamp, NULL },
    [OP_CLIP] = { TXL_FOLLOW, op_clamp, NULL },
    [OP_LEAKYRELU] = { TXL_FOLLOW, op_leakyrelu, NULL },
    [OP_SIGMOID] = { TXL_FOLLOW, op_sigmoid, NULL },
    [OP_TANH] = { TXL_FOLLOW, op_tanh, NULL },
    [OP_HARDSWISH] = { TXL_FOLLOW, op_hardswish, NULL },
    [OP_SOFTMAX] = { TXL_FOLLOW, op_softmax, NULL },
    [OP_MAXPOOL] = { TXL_SPATIAL, op_pool, NULL },
    [OP_AVGPOOL] = { TXL_SPATIAL, op_pool, NULL },
    [OP_GLOBALAVGPOOL] = { TXL_SPATIAL, op_globalpool, NULL },
    [OP_FLATTEN] = { TXL_PLAIN, op_reshape, NULL },
    [OP_RESHAPE] = { TXL_PLAIN, op_reshape, NULL },
    [OP_TRANSPOSE] = { TXL_PLAIN, op_transpose, NULL },
    [OP_ADD] = { TXL_FOLLOW, op_binary, NULL },
    [OP_MUL] = { TXL_FOLLOW, op_binary, NULL },
    [OP_SUB] = { TXL_FOLLOW, op_binary, NULL },
    [OP_DIV] = { TXL_FOLLOW, op_binary, NULL },
    [OP_CONCAT] = { TXL_FOLLOW, op_concat, NULL },
    [OP_REDUCEMEAN] = { TXL_FOLLOW, op_reduce, NULL },
    [OP_REDUCESUM] = { TXL_FOLLOW, op_reduce, NULL },
    [OP_REDUCEMAX] = { TXL_FOLLOW, op_reduce, NULL },
    [OP_IDENTITY] = { TXL_FOLLOW, op_alias, NULL },
    [OP_DROPOUT] = { TXL_FOLLOW, op_alias, NULL },
    [OP_PAD] = { TXL_FOLLOW, op_pad, NULL },
    [OP_RESIZE] = { TXL_SPATIAL, op_resize, NULL },
    [OP_FAKEQUANT] = { TXL_FOLLOW, NULL, "a training-time op; export the QAT variant (its "
                                         "plan) instead of the QAT graph" },
    [OP_LOGSOFTMAX] = { TXL_FOLLOW, NULL, "not written yet (LOG_SOFTMAX)" },
    [OP_GELU] = { TXL_FOLLOW, NULL, "not written yet (GELU)" },
    [OP_SILU] = { TXL_FOLLOW, NULL, "not written yet (LOGISTIC then MUL)" },
    [OP_POW] = { TXL_FOLLOW, tx_pow, NULL },
    [OP_SQRT] = { TXL_FOLLOW, tx_sqrt, NULL },
    [OP_ERF] = { TXL_FOLLOW, tx_erf, NULL },
    [OP_CONVTRANSPOSE] = { TXL_SPATIAL, NULL, "not written yet (TRANSPOSE_CONV)" },
    [OP_LAYERNORM] = { TXL_FOLLOW, NULL, "TFLite has no builtin LayerNormalization" },
    [OP_SLICE] = { TXL_PLAIN, tx_slice, NULL },
    [OP_HARDSIGMOID] = { TXL_FOLLOW, tx_hardsigmoid, NULL },
    [OP_MOD] = { TXL_FOLLOW, NULL, "not written yet (FLOOR_MOD)" },
    [OP_EXPAND] = { TXL_PLAIN, tx_expand, NULL },
    [OP_TOPK] = { TXL_FOLLOW, NULL, "not written yet (TOPK_V2)" },
    [OP_GATHERELEMENTS] = { TXL_FOLLOW, NULL, "not written yet (GATHER_ND)" },
};

const TxRow *tx_row(int op)
{
    static const TxRow none = { TXL_FOLLOW, NULL, "not a qscope op" };
    const TxRow *r = op >= 0 && op < OP_COUNT ? &tx_rows[op] : &none;
    return r->write || r->not_exportable ? r : &none;
}
