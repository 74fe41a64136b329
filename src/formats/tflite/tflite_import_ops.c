/* TFLite import: one row per builtin operator the reader takes (ti_rows), each turning the
 * operator into graph nodes on the tensors' forms (tflite_import_int.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tflite/tflite_import_int.h"

static int ti_in(const TflSumOp *o, int i) { return i < o->n_in ? o->ins[i] : -1; }

static QsStatus ti_need(Ti *x, const TflSumOp *o, int k, int n_in, const char *what)
{
    if (o->n_in < n_in || o->ins[0] < 0)
        return ti_fail(x, QS_EFORMAT, "operator %d (%s): %d inputs, %d needed", k, what,
                       o->n_in, n_in);
    for (int i = 1; i < n_in; i++)
        if (o->ins[i] < 0)
            return ti_fail(x, QS_EFORMAT, "operator %d (%s): input %d is missing", k, what, i);
    return QS_OK;
}

static int ti_rank(const Ti *x, int t) { return x->s->tensors[t].nd; }

/* ---- quantized weights ------------------------------------------------------------------ */

/* Records the int8 weights (file codes in qscope's order) and int32 bias of linear node
 * `node` for the integer plan. order: 0 (O, K) as stored, 1 OHWI -> OIHW, 2 1HWC -> C1HW. */
static void ti_note_weights(Ti *x, const char *node, int w, int b, int order)
{
    const TflSumTensor *ws = &x->s->tensors[w];
    if (!x->q || ws->type != TFL_INT8 || !ws->n_q)
        return;
    int64_t n = 1;
    for (int i = 0; i < ws->nd; i++)
        n *= ws->dim[i];
    int64_t oc = order == 2 ? ws->dim[3] : ws->dim[0], k = n / oc;
    TflQWeights q = { .node = xstrdup(node), .oc = oc, .k = k, .n_scales = ws->n_q };
    q.codes = xmalloc((size_t)n);
    const int8_t *src = (const int8_t *)ws->data;
    if (order == 1) {
        int64_t kh = ws->dim[1], kw = ws->dim[2], ci = ws->dim[3];
        for (int64_t o = 0; o < oc; o++)
            for (int64_t i = 0; i < ci; i++)
                for (int64_t h = 0; h < kh; h++)
                    for (int64_t z = 0; z < kw; z++)
                        q.codes[((o * ci + i) * kh + h) * kw + z] = src[((o * kh + h) * kw + z) * ci + i];
    } else if (order == 2) {
        for (int64_t o = 0; o < oc; o++)
            for (int64_t j = 0; j < k; j++)
                q.codes[o * k + j] = src[j * oc + o];
    } else {
        memcpy(q.codes, src, (size_t)n);
    }
    q.scales = xmalloc((size_t)ws->n_q * sizeof *q.scales);
    memcpy(q.scales, ws->scale, (size_t)ws->n_q * sizeof *q.scales);
    if (b >= 0 && x->s->tensors[b].type == TFL_INT32 && x->s->tensors[b].data_len ==
                                                            (size_t)oc * 4) {
        q.bias = xmalloc((size_t)oc * sizeof *q.bias);
        memcpy(q.bias, x->s->tensors[b].data, (size_t)oc * 4);
    }
    x->q->weights = xrealloc(x->q->weights, (size_t)(x->q->n_weights + 1) * sizeof *x->q->weights);
    x->q->weights[x->q->n_weights++] = q;
}

/* ---- windows ---------------------------------------------------------------------------- */

/* ONNX pads (top, left, bottom, right) of a window op on input tensor in and output out. */
static void ti_pads(const Ti *x, int in, int out, int pad, int kh, int kw, int sh, int sw,
                    int dh, int dw, int64_t *pads)
{
    memset(pads, 0, 4 * sizeof *pads);
    if (pad != TFL_PAD_SAME)
        return;
    const int32_t *id = x->s->tensors[in].dim, *od = x->s->tensors[out].dim;
    int64_t eh = (int64_t)(kh - 1) * dh + 1, ew = (int64_t)(kw - 1) * dw + 1;
    int64_t th = ((int64_t)od[1] - 1) * sh + eh - id[1], tw = ((int64_t)od[2] - 1) * sw + ew - id[2];
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    pads[0] = th / 2, pads[1] = tw / 2, pads[2] = th - th / 2, pads[3] = tw - tw / 2;
}

static QsStatus ti_check_window(Ti *x, int k, const TflOpts *p, int kh, int kw)
{
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        kh < 1 || kw < 1 || p->stride_h > 65536 || p->stride_w > 65536 ||
        p->dilation_h > 65536 || p->dilation_w > 65536)
        return ti_fail(x, QS_EFORMAT, "operator %d: strides %d x %d, dilations %d x %d, window "
                       "%d x %d must be positive", k, p->stride_h, p->stride_w, p->dilation_h,
                       p->dilation_w, kh, kw);
    return QS_OK;
}

static int ti_window_attrs(const Ti *x, const TflSumOp *o, int kh, int kw, Attr *a)
{
    const TflOpts *p = &o->opt;
    int64_t pads[4];
    ti_pads(x, o->ins[0], o->out[0], p->padding, kh, kw, p->stride_h, p->stride_w,
            p->dilation_h, p->dilation_w, pads);
    int n = 0;
    if (ti_flat(x, o->ins[0], TI_CLAST)) { /* a 1-D window over W */
        a[n++] = attr_ints("kernel_shape", (int64_t[]){ kw }, 1);
        a[n++] = attr_ints("strides", (int64_t[]){ p->stride_w }, 1);
        a[n++] = attr_ints("pads", (int64_t[]){ pads[1], pads[3] }, 2);
        return n;
    }
    a[n++] = attr_ints("kernel_shape", (int64_t[]){ kh, kw }, 2);
    a[n++] = attr_ints("strides", (int64_t[]){ p->stride_h, p->stride_w }, 2);
    a[n++] = attr_ints("pads", pads, 4);
    return n;
}

static QsStatus ti_conv(Ti *x, const TflSumOp *o, int k)
{
    bool dw = o->code == TFL_OP_DEPTHWISE_CONV_2D;
    if (ti_need(x, o, k, 2, dw ? "DEPTHWISE_CONV_2D" : "CONV_2D"))
        return x->st;
    int in = o->ins[0], w = o->ins[1], b = ti_in(o, 2);
    TflOpts p = o->opt;
    if (p.kind == TFL_OPT_NONE)
        p = (TflOpts){ .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1 };
    if (ti_rank(x, in) != 4 || ti_rank(x, w) != 4 || !ti_is_const(x, w) ||
        (b >= 0 && !ti_is_const(x, b)))
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: a 2-D convolution of a rank-4 input "
                       "with constant weights and bias is read", k);
    const int32_t *wd = x->s->tensors[w].dim, *id = x->s->tensors[in].dim;
    int kh = wd[1], kw = wd[2];
    if (ti_check_window(x, k, &p, kh, kw))
        return x->st;
    bool flat = ti_flat(x, in, TI_CLAST);
    if (flat && kh != 1)
        return ti_fail(x, QS_EFORMAT, "operator %d: a %d-high window on a 1-D input", k, kh);
    Attr a[6];
    int na = ti_window_attrs(x, o, kh, kw, a);
    a[na++] = flat ? attr_ints("dilations", (int64_t[]){ p.dilation_w }, 1)
                   : attr_ints("dilations", (int64_t[]){ p.dilation_h, p.dilation_w }, 2);
    int64_t ci = id[3], group;
    const char *wname;
    if (dw) {
        int64_t oc = wd[3];
        if (wd[0] != 1 || oc % ci || (p.depth_multiplier && p.depth_multiplier != oc / ci)) {
            for (int i = 0; i < na; i++)
                attr_release(&a[i]);
            return ti_fail(x, QS_EFORMAT, "operator %d: depthwise weights (%d, %d, %d, %d) on "
                           "%lld channels with depth multiplier %d", k, wd[0], wd[1], wd[2],
                           wd[3], (long long)ci, p.depth_multiplier);
        }
        group = ci;
        int64_t n;
        float *v = ti_const_values(x, w, &n);
        if (!v) {
            for (int i = 0; i < na; i++)
                attr_release(&a[i]);
            return x->st;
        }
        float *r = xmalloc((size_t)n * sizeof *r); /* (1, KH, KW, OC) -> (OC, 1, KH, KW) */
        int64_t kk = (int64_t)kh * kw;
        for (int64_t c = 0; c < oc; c++)
            for (int64_t j = 0; j < kk; j++)
                r[c * kk + j] = v[j * oc + c];
        free(v);
        Shape sh = flat ? shape_of(3, oc, (int64_t)1, (int64_t)kw)
                        : shape_of(4, oc, (int64_t)1, (int64_t)kh, (int64_t)kw);
        wname = ti_const_add(x, x->s->tensors[w].name, &sh, r);
    } else {
        if (wd[3] < 1 || ci % wd[3]) {
            for (int i = 0; i < na; i++)
                attr_release(&a[i]);
            return ti_fail(x, QS_EFORMAT, "operator %d: %lld input channels and weights of "
                           "%d", k, (long long)ci, wd[3]);
        }
        group = ci / wd[3];
        wname = ti_const(x, w, TI_CLAST, -1, NULL);
    }
    a[na++] = attr_int("group", group);
    const char *bname = b >= 0 ? ti_const(x, b, TI_PLAIN, -1, NULL) : NULL;
    const char *xin = ti_value(x, in, TI_CLAST);
    if (x->st) {
        for (int i = 0; i < na; i++)
            attr_release(&a[i]);
        return x->st;
    }
    const char *ins[3] = { xin, wname, bname };
    int head = x->g->n_nodes;
    if (ti_node(x, OP_CONV, o->out[0], TI_CLAST, ins, bname ? 3 : 2, a, na, p.act))
        return x->st;
    ti_note_weights(x, x->g->nodes[head].name, w, b, dw ? 2 : 1);
    return QS_OK;
}

static QsStatus ti_pool(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 1, "pool") || o->opt.kind != TFL_OPT_POOL2D)
        return x->st ? x->st : ti_fail(x, QS_EFORMAT, "operator %d: a pool without options", k);
    TflOpts p = o->opt;
    p.dilation_h = p.dilation_w = 1;
    if (ti_rank(x, o->ins[0]) != 4)
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: a pool of a rank-4 input is read", k);
    if (ti_check_window(x, k, &p, p.filter_h, p.filter_w))
        return x->st;
    if (ti_flat(x, o->ins[0], TI_CLAST) && p.filter_h != 1)
        return ti_fail(x, QS_EFORMAT, "operator %d: a %d-high window on a 1-D input", k,
                       p.filter_h);
    Attr a[5];
    int na = ti_window_attrs(x, o, p.filter_h, p.filter_w, a);
    bool avg = o->code == TFL_OP_AVERAGE_POOL_2D;
    const char *xin = ti_value(x, o->ins[0], TI_CLAST);
    if (!xin) {
        for (int i = 0; i < na; i++)
            attr_release(&a[i]);
        return x->st;
    }
    /* TFLite's average leaves pads out of the count */
    return ti_node(x, avg ? OP_AVGPOOL : OP_MAXPOOL, o->out[0], TI_CLAST, &xin, 1, a, na, p.act);
}

/* ---- dense ------------------------------------------------------------------------------ */

static QsStatus ti_fc(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "FULLY_CONNECTED"))
        return x->st;
    int in = o->ins[0], w = o->ins[1], b = ti_in(o, 2);
    if (ti_rank(x, w) != 2 || !ti_is_const(x, w) || (b >= 0 && !ti_is_const(x, b)))
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: FULLY_CONNECTED with constant (out, "
                       "in) weights and bias is read", k);
    int64_t kin = x->s->tensors[w].dim[1];
    const TflSumTensor *it = &x->s->tensors[in];
    const char *xin = ti_value(x, in, TI_PLAIN);
    if (!xin)
        return x->st;
    if (it->nd != 2 && !o->opt.keep_num_dims) {
        int64_t per = 1;
        for (int i = 1; i < it->nd; i++)
            per *= it->dim[i];
        if (per != kin)
            return ti_fail(x, QS_EUNSUPPORTED, "operator %d: FULLY_CONNECTED folds the batch "
                           "of its rank-%d input into rows (read when one sample is one row)",
                           k, it->nd);
        Attr sh = attr_ints("shape", (int64_t[]){ 0, kin }, 2);
        char base[320];
        snprintf(base, sizeof base, "%.300s::rows", xin);
        xin = ti_node_tmp(x, OP_RESHAPE, base, &xin, 1, &sh, 1);
    } else if (it->dim[it->nd - 1] != kin) {
        return ti_fail(x, QS_EFORMAT, "operator %d: input of %d features, weights of %lld", k,
                       it->dim[it->nd - 1], (long long)kin);
    }
    const char *wname = ti_const(x, w, TI_PLAIN, -1, NULL);
    const char *bname = b >= 0 ? ti_const(x, b, TI_PLAIN, -1, NULL) : NULL;
    if (x->st)
        return x->st;
    const char *ins[3] = { xin, wname, bname };
    int head = x->g->n_nodes;
    if (ti_node(x, OP_DENSE, o->out[0], TI_PLAIN, ins, bname ? 3 : 2, NULL, 0, o->opt.act))
        return x->st;
    ti_note_weights(x, x->g->nodes[head].name, w, b, 0);
    return QS_OK;
}

/* ---- elementwise ------------------------------------------------------------------------ */

/* A constant read against data in layout lay of rank r (right-aligned broadcasting). */
static const char *ti_bcast_const(Ti *x, int t, int r, int lay)
{
    int cr = ti_rank(x, t);
    if (lay != TI_CLAST || r != 4 || cr == 0)
        return ti_const(x, t, TI_PLAIN, -1, NULL);
    int64_t d[4];
    for (int i = 0; i < 4; i++)
        d[i] = i < 4 - cr ? 1 : x->s->tensors[x->const_src[t] >= 0 ? x->const_src[t] : t]
                                    .dim[i - (4 - cr)];
    return ti_const(x, t, TI_CLAST, 4, d);
}

static QsStatus ti_binary(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "binary"))
        return x->st;
    static const struct { int code, op; } map[] = {
        { TFL_OP_ADD, OP_ADD }, { TFL_OP_MUL, OP_MUL }, { TFL_OP_SUB, OP_SUB }, { TFL_OP_DIV, OP_DIV },
    };
    int op = OP_ADD;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].code == o->code)
            op = map[i].op;
    int r = ti_rank(x, o->out[0]), lay = TI_PLAIN;
    bool all4 = true;
    for (int i = 0; i < 2; i++) {
        int t = o->ins[i];
        if (ti_is_const(x, t))
            continue;
        all4 &= ti_rank(x, t) == 4;
        if (x->form[t] == TI_CLAST)
            lay = TI_CLAST;
    }
    if (!all4 || r != 4)
        lay = TI_PLAIN;
    const char *ins[2];
    for (int i = 0; i < 2; i++) {
        int t = o->ins[i];
        ins[i] = ti_is_const(x, t) ? ti_bcast_const(x, t, r, lay) : ti_value(x, t, lay);
    }
    if (x->st)
        return x->st;
    return ti_node(x, op, o->out[0], lay, ins, 2, NULL, 0, o->opt.act);
}

static QsStatus ti_unary(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 1, "unary"))
        return x->st;
    int in = o->ins[0], op = OP_RELU, na = 0;
    Attr a[2];
    switch (o->code) {
    case TFL_OP_RELU: op = OP_RELU; break;
    case TFL_OP_RELU6:
        op = OP_CLIP;
        a[na++] = attr_float("min", 0.0f);
        a[na++] = attr_float("max", 6.0f);
        break;
    case TFL_OP_RELU_N1_TO_1:
        op = OP_CLIP;
        a[na++] = attr_float("min", -1.0f);
        a[na++] = attr_float("max", 1.0f);
        break;
    case TFL_OP_LOGISTIC: op = OP_SIGMOID; break;
    case TFL_OP_TANH: op = OP_TANH; break;
    case TFL_OP_HARD_SWISH: op = OP_HARDSWISH; break;
    case TFL_OP_LEAKY_RELU:
        op = OP_LEAKYRELU;
        a[na++] = attr_float("alpha", o->opt.alpha);
        break;
    default: break;
    }
    int lay = x->form[in];
    const char *xin = ti_value(x, in, lay);
    if (!xin) {
        for (int i = 0; i < na; i++)
            attr_release(&a[i]);
        return x->st;
    }
    return ti_node(x, op, o->out[0], lay, &xin, 1, a, na, TFL_ACT_NONE);
}

/* MAXIMUM / MINIMUM with a constant scalar: a one-sided Clip (what qscope writes for a
 * float clamp that no fused activation expresses). */
static QsStatus ti_minmax(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "MAXIMUM/MINIMUM"))
        return x->st;
    int d = o->ins[0], c = o->ins[1];
    if (ti_is_const(x, d)) {
        int t = d;
        d = c;
        c = t;
    }
    int64_t n = 0;
    float *v = ti_is_const(x, c) && !ti_is_const(x, d) ? ti_const_values(x, c, &n) : NULL;
    if (!v || n != 1) {
        free(v);
        return x->st ? x->st : ti_fail(x, QS_EUNSUPPORTED, "operator %d: MAXIMUM and MINIMUM "
                                       "are read with one constant scalar", k);
    }
    Attr a = attr_float(o->code == TFL_OP_MAXIMUM ? "min" : "max", v[0]);
    free(v);
    int lay = x->form[d];
    const char *xin = ti_value(x, d, lay);
    if (!xin) {
        attr_release(&a);
        return x->st;
    }
    return ti_node(x, OP_CLIP, o->out[0], lay, &xin, 1, &a, 1, TFL_ACT_NONE);
}

static QsStatus ti_softmax(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 1, "SOFTMAX"))
        return x->st;
    if (o->opt.kind == TFL_OPT_SOFTMAX && o->opt.beta != 1.0f)
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: SOFTMAX with beta %g (1 is read)", k,
                       (double)o->opt.beta);
    int in = o->ins[0], lay = x->form[in], r = ti_rank(x, in);
    Attr a = attr_int("axis", ti_gaxis(x, in, lay, r - 1));
    const char *xin = ti_value(x, in, lay);
    if (!xin) {
        attr_release(&a);
        return x->st;
    }
    return ti_node(x, OP_SOFTMAX, o->out[0], lay, &xin, 1, &a, 1, TFL_ACT_NONE);
}

static QsStatus ti_concat(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 1, "CONCATENATION"))
        return x->st;
    int r = ti_rank(x, o->out[0]), lay = TI_PLAIN;
    if (o->n_in > 64)
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: %d inputs (64 are read)", k, o->n_in);
    if (r == 4)
        for (int i = 0; i < o->n_in; i++)
            if (o->ins[i] >= 0 && !ti_is_const(x, o->ins[i]) && x->form[o->ins[i]] == TI_CLAST)
                lay = TI_CLAST;
    int axis = o->opt.axis < 0 ? o->opt.axis + r : o->opt.axis;
    if (axis < 0 || axis >= r)
        return ti_fail(x, QS_EFORMAT, "operator %d: axis %d of rank %d", k, o->opt.axis, r);
    const char *ins[64];
    for (int i = 0; i < o->n_in; i++) {
        int t = o->ins[i];
        if (t < 0)
            return ti_fail(x, QS_EFORMAT, "operator %d: input %d is missing", k, i);
        ins[i] = ti_is_const(x, t) ? ti_const(x, t, lay, -1, NULL) : ti_value(x, t, lay);
    }
    if (x->st)
        return x->st;
    int ga = ti_gaxis(x, o->out[0], lay, axis);
    if (ga < 0)
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: a concatenation along the H axis of "
                       "a 1-D model", k);
    Attr a = attr_int("axis", ga);
    return ti_node(x, OP_CONCAT, o->out[0], lay, ins, o->n_in, &a, 1, o->opt.act);
}

/* ---- reductions and layout -------------------------------------------------------------- */

static QsStatus ti_reduce(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "reduction"))
        return x->st;
    int in = o->ins[0], r = ti_rank(x, in);
    int64_t axes[8];
    int na = ti_const_ints(x, o->ins[1], axes, 8);
    if (na < 0)
        return x->st;
    bool keep = o->opt.keep_dims;
    int lay = keep ? x->form[in] : TI_PLAIN;
    bool flat = ti_flat(x, in, lay);
    int n_spatial = 0, kept = 0; /* axes that are H or W of a channels-last value */
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r)
            return ti_fail(x, QS_EFORMAT, "operator %d: axis %lld of rank %d", k,
                           (long long)axes[i], r);
        n_spatial += lay == TI_CLAST && r == 4 && (a == 1 || a == 2);
        int ga = ti_gaxis(x, in, lay, (int)a);
        if (ga >= 0) /* a flat value's H axis (size 1) is no graph axis */
            axes[kept++] = ga;
    }
    const char *xin = ti_value(x, in, lay);
    if (!xin)
        return x->st;
    /* MEAN over H and W of a channels-last value: qscope's GlobalAveragePool */
    if (o->code == TFL_OP_MEAN && n_spatial == 2 && na == 2)
        return ti_node(x, OP_GLOBALAVGPOOL, o->out[0], lay, &xin, 1, NULL, 0, TFL_ACT_NONE);
    if (flat && !kept)
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: a reduction over the H axis alone of "
                       "a 1-D model", k);
    na = kept;
    int op = o->code == TFL_OP_MEAN ? OP_REDUCEMEAN : o->code == TFL_OP_SUM ? OP_REDUCESUM
                                                                         : OP_REDUCEMAX;
    Attr a[2] = { attr_ints("axes", axes, na), attr_int("keepdims", keep) };
    return ti_node(x, op, o->out[0], lay, &xin, 1, a, 2, TFL_ACT_NONE);
}

static QsStatus ti_reshape(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 1, "RESHAPE"))
        return x->st;
    int in = o->ins[0], out = o->out[0];
    const TflSumTensor *ot = &x->s->tensors[out], *it = &x->s->tensors[in];
    if (ot->nd < 1 || it->nd < 1 || ot->dim[0] != it->dim[0] || ot->nd > QS_MAX_DIMS)
        return ti_fail(x, QS_EUNSUPPORTED, "operator %d: a RESHAPE that keeps axis 0 (the "
                       "batch) is read", k);
    int64_t shape[QS_MAX_DIMS] = { 0 };
    for (int i = 1; i < ot->nd; i++)
        shape[i] = ot->dim[i];
    if (x->view_src[in] >= 0 && !x->name[in]) { /* reshaping a pending view: from its 1-D
                                                   value, no node when it is that shape */
        int src = x->view_src[in];
        int64_t d[8];
        int nd = ti_dims(x, src, x->form[src], d);
        bool same = nd == ot->nd;
        for (int i = 1; same && i < nd; i++)
            same = d[i] == ot->dim[i];
        const char *v = ti_value(x, src, x->form[src]);
        if (!v)
            return x->st;
        if (same) {
            free(x->name[out]);
            x->name[out] = xstrdup(v);
            x->form[out] = TI_PLAIN;
            return QS_OK;
        }
        Attr a = attr_ints("shape", shape, ot->nd);
        return ti_node(x, OP_RESHAPE, out, TI_PLAIN, &v, 1, &a, 1, TFL_ACT_NONE);
    }
    const char *xin = ti_value(x, in, TI_PLAIN);
    if (!xin)
        return x->st;
    Attr a = attr_ints("shape", shape, ot->nd);
    return ti_node(x, OP_RESHAPE, out, TI_PLAIN, &xin, 1, &a, 1, TFL_ACT_NONE);
}

static bool ti_perm_is(const int64_t *p, int n, const int64_t *q)
{
    return n == 4 && memcmp(p, q, 4 * sizeof *p) == 0;
}

/* A change of view between a 1-D value's graph (N, C, W) and a rank-4 file tensor:
 * (N, 1, W, C) -> (N, C, 1, W) (to NCHW) or (N, C, 1, W) -> (N, 1, W, C) (to NHWC), the same
 * elements in the same order as the graph's value. To NCHW is a pending view (view_src: the
 * exporter reshapes it back to (N, C, W) next, which then makes no node); to NHWC a
 * Reshape. */
static QsStatus ti_transpose_flat(Ti *x, int in, int out)
{
    if (x->form[in] == TI_CLAST) {
        free(x->name[out]);
        x->name[out] = NULL;
        x->form[out] = TI_PLAIN;
        x->view_src[out] = in;
        return QS_OK;
    }
    const char *v = ti_value(x, in, x->form[in]);
    int64_t d[8];
    int nd = ti_dims(x, out, TI_CLAST, d);
    d[0] = 0;
    Attr a = attr_ints("shape", d, nd);
    return ti_node(x, OP_RESHAPE, out, TI_CLAST, &v, 1, &a, 1, TFL_ACT_NONE);
}

static QsStatus ti_transpose(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "TRANSPOSE"))
        return x->st;
    int in = o->ins[0], out = o->out[0], r = ti_rank(x, in);
    int64_t perm[8];
    int np = ti_const_ints(x, o->ins[1], perm, 8);
    if (np < 0)
        return x->st;
    if (np != r)
        return ti_fail(x, QS_EFORMAT, "operator %d: perm of %d for rank %d", k, np, r);
    static const int64_t to_nchw[4] = { 0, 3, 1, 2 }, to_nhwc[4] = { 0, 2, 3, 1 };
    /* a change of view: the graph value stays, its form changes */
    if ((x->form[in] == TI_CLAST && ti_perm_is(perm, np, to_nchw)) ||
        (x->form[in] == TI_PLAIN && ti_perm_is(perm, np, to_nhwc))) {
        const char *v = ti_value(x, in, x->form[in]);
        if (!v)
            return x->st;
        if (ti_flat(x, in, x->form[in]) || ti_flat(x, out, TI_CLAST))
            return ti_transpose_flat(x, in, out);
        free(x->name[out]);
        x->name[out] = xstrdup(v);
        x->form[out] = x->form[in] == TI_CLAST ? TI_PLAIN : TI_CLAST;
        return QS_OK;
    }
    const char *xin = ti_value(x, in, TI_PLAIN);
    if (!xin)
        return x->st;
    Attr a = attr_ints("perm", perm, np);
    return ti_node(x, OP_TRANSPOSE, out, TI_PLAIN, &xin, 1, &a, 1, TFL_ACT_NONE);
}

static QsStatus ti_pad(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "PAD"))
        return x->st;
    int in = o->ins[0], r = ti_rank(x, in), lay = x->form[in];
    int64_t p[16];
    int np = ti_const_ints(x, o->ins[1], p, 16);
    if (np < 0)
        return x->st;
    if (np != 2 * r || r > QS_MAX_DIMS)
        return ti_fail(x, QS_EFORMAT, "operator %d: %d paddings for rank %d", k, np, r);
    int64_t pads[2 * QS_MAX_DIMS];
    int gr = ti_flat(x, in, lay) ? r - 1 : r; /* the graph's rank */
    for (int a = 0; a < r; a++) {
        if (p[2 * a] < 0 || p[2 * a + 1] < 0 || p[2 * a] > (1 << 20) || p[2 * a + 1] > (1 << 20))
            return ti_fail(x, QS_EFORMAT, "operator %d: padding %lld, %lld", k,
                           (long long)p[2 * a], (long long)p[2 * a + 1]);
        int ga = ti_gaxis(x, in, lay, a);
        if (ga < 0) {
            if (p[2 * a] || p[2 * a + 1])
                return ti_fail(x, QS_EUNSUPPORTED, "operator %d: a PAD of the H axis of a "
                               "1-D model", k);
            continue;
        }
        pads[ga] = p[2 * a];
        pads[gr + ga] = p[2 * a + 1];
    }
    const char *xin = ti_value(x, in, lay);
    if (!xin)
        return x->st;
    Attr a = attr_ints("pads", pads, 2 * gr);
    return ti_node(x, OP_PAD, o->out[0], lay, &xin, 1, &a, 1, TFL_ACT_NONE);
}

/* RESIZE_NEAREST_NEIGHBOR as qscope's nearest Resize with the coordinate rule TFLite's
 * options pick: src = floor(dst * in / out), floor((dst + 0.5) * in / out) with
 * half_pixel_centers, round(dst * (in - 1) / (out - 1)) with align_corners. */
static QsStatus ti_resize(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 2, "RESIZE_NEAREST_NEIGHBOR"))
        return x->st;
    int in = o->ins[0];
    int64_t size[2];
    if (ti_rank(x, in) != 4 || ti_const_ints(x, o->ins[1], size, 2) != 2)
        return x->st ? x->st : ti_fail(x, QS_EFORMAT, "operator %d: RESIZE_NEAREST_NEIGHBOR "
                                       "of a rank-4 input to 2 sizes", k);
    const char *ctm = o->opt.align_corners ? "align_corners"
                      : o->opt.half_pixel_centers ? "tf_half_pixel_for_nn" : "asymmetric";
    const char *nm = o->opt.align_corners ? "round_prefer_ceil" : "floor";
    const char *xin = ti_value(x, in, TI_CLAST);
    if (!xin)
        return x->st;
    Attr a[4] = {
        attr_str("mode", "nearest"), attr_str("coordinate_transformation_mode", ctm),
        attr_str("nearest_mode", nm),
        attr_ints("sizes", (int64_t[]){ 0, x->s->tensors[in].dim[3], size[0], size[1] }, 4),
    };
    return ti_node(x, OP_RESIZE, o->out[0], TI_CLAST, &xin, 1, a, 4, TFL_ACT_NONE);
}

/* QUANTIZE and DEQUANTIZE: the float twin's identities; a DEQUANTIZE of a constant (float16
 * or int8 weights) is that constant. */
static QsStatus ti_convert(Ti *x, const TflSumOp *o, int k)
{
    if (ti_need(x, o, k, 1, "QUANTIZE/DEQUANTIZE"))
        return x->st;
    int in = o->ins[0], out = o->out[0];
    if (ti_rank(x, in) != ti_rank(x, out))
        return ti_fail(x, QS_EFORMAT, "operator %d: input and output ranks differ", k);
    if (!ti_is_const(x, in) && !x->name[in])
        return ti_fail(x, QS_EFORMAT, "operator %d reads tensor %d before it is written", k, in);
    ti_note_qparams(x, in);
    ti_alias(x, out, in);
    return QS_OK;
}

static const TiRow ti_rows[] = {
    { TFL_OP_CONV_2D, ti_conv },
    { TFL_OP_DEPTHWISE_CONV_2D, ti_conv },
    { TFL_OP_FULLY_CONNECTED, ti_fc },
    { TFL_OP_AVERAGE_POOL_2D, ti_pool },
    { TFL_OP_MAX_POOL_2D, ti_pool },
    { TFL_OP_ADD, ti_binary },
    { TFL_OP_MUL, ti_binary },
    { TFL_OP_SUB, ti_binary },
    { TFL_OP_DIV, ti_binary },
    { TFL_OP_RELU, ti_unary },
    { TFL_OP_RELU6, ti_unary },
    { TFL_OP_RELU_N1_TO_1, ti_unary },
    { TFL_OP_LOGISTIC, ti_unary },
    { TFL_OP_TANH, ti_unary },
    { TFL_OP_HARD_SWISH, ti_unary },
    { TFL_OP_LEAKY_RELU, ti_unary },
    { TFL_OP_MAXIMUM, ti_minmax },
    { TFL_OP_MINIMUM, ti_minmax },
    { TFL_OP_SOFTMAX, ti_softmax },
    { TFL_OP_CONCATENATION, ti_concat },
    { TFL_OP_MEAN, ti_reduce },
    { TFL_OP_SUM, ti_reduce },
    { TFL_OP_REDUCE_MAX, ti_reduce },
    { TFL_OP_RESHAPE, ti_reshape },
    { TFL_OP_TRANSPOSE, ti_transpose },
    { TFL_OP_PAD, ti_pad },
    { TFL_OP_RESIZE_NEAREST_NEIGHBOR, ti_resize },
    { TFL_OP_QUANTIZE, ti_convert },
    { TFL_OP_DEQUANTIZE, ti_convert },
};

const TiRow *ti_row(int code)
{
    for (size_t i = 0; i < sizeof ti_rows / sizeof ti_rows[0]; i++)
        if (ti_rows[i].code == code)
            return &ti_rows[i];
    return NULL;
}
