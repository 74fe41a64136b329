/* TFLite export of linear units (graph/linear_unit.h): a Conv, Dense, Gemm or MatMul with
 * its BatchNormalization folded and its Relu/Clip fused, as CONV_2D, DEPTHWISE_CONV_2D or
 * FULLY_CONNECTED, with the weights the plan's step uses: folded float (fp32 and float
 * fallbacks), float16 behind DEQUANTIZE (fp16), int8 with float bias (int8-dyn: hybrid
 * kernels) or int8 with int32 bias (int8-static). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/geometry.h"
#include "ops/op.h"
#include "tflite/tflite_export_int.h"

/* Weights (OC, K) of es bytes in the unit's own order (OIHW for convolutions), reordered
 * for TFLite: OHWI (conv), 1HWC (depthwise, C = OC), as they are (fully connected). */
static void *unit_reorder(const void *src, size_t es, const LinearUnit *u, int64_t kh,
                          int64_t kw)
{
    int64_t oc = u->oc, k = u->k;
    char *dst = xmalloc((size_t)(oc * k) * es);
    if (u->kind == LU_CONV) {
        int64_t ci = k / (kh * kw);
        for (int64_t o = 0; o < oc; o++)
            for (int64_t i = 0; i < ci; i++)
                for (int64_t h = 0; h < kh; h++)
                    for (int64_t w = 0; w < kw; w++)
                        memcpy(dst + (size_t)(((o * kh + h) * kw + w) * ci + i) * es,
                               (const char *)src + (size_t)(((o * ci + i) * kh + h) * kw + w) * es,
                               es);
    } else if (u->kind == LU_DEPTHWISE) {
        for (int64_t o = 0; o < oc; o++)
            for (int64_t j = 0; j < k; j++)
                memcpy(dst + (size_t)(j * oc + o) * es, (const char *)src + (size_t)(o * k + j) * es,
                       es);
    } else {
        memcpy(dst, src, (size_t)(oc * k) * es);
    }
    return dst;
}

/* The TFLite dims of the weight tensor. */
static int unit_wdims(const LinearUnit *u, int64_t kh, int64_t kw, int64_t *d)
{
    if (u->kind == LU_CONV) {
        d[0] = u->oc, d[1] = kh, d[2] = kw, d[3] = u->k / (kh * kw);
        return 4;
    }
    if (u->kind == LU_DEPTHWISE) {
        d[0] = 1, d[1] = kh, d[2] = kw, d[3] = u->oc;
        return 4;
    }
    d[0] = u->oc, d[1] = u->k;
    return 2;
}

/* The weight and bias tensors for the step's weights; *hybrid: int8 weights on float data. */
static void unit_consts(Tx *x, const TxNode *tn, const LinearUnit *u, int64_t kh, int64_t kw,
                        int *wt, int *bt)
{
    const QLinearView *l = &tn->s.lin;
    const char *name = tn->n->name;
    int64_t wd[4], oc = u->oc;
    int wnd = unit_wdims(u, kh, kw, wd);
    int qdim = u->kind == LU_DEPTHWISE ? 3 : 0;
    char wn[300], bn[300];
    snprintf(wn, sizeof wn, "%s::weight", name);
    snprintf(bn, sizeof bn, "%s::bias", name);
    size_t nw = (size_t)(u->oc * u->k);
    if (tn->s.kind == QSTEP_LIN_INT8 || tn->s.kind == QSTEP_LIN_DYN) {
        TflQuant wq = tfl_quant_axis(l->ws, l->n_wscales, l->n_wscales > 1 ? qdim : 0);
        int8_t *w = unit_reorder(l->wq, 1, u, kh, kw);
        *wt = tfl_const(&x->t, wn, TFL_INT8, wnd, wd, w, nw, &wq);
        free(w);
        tfl_quant_release(&wq);
    }
    if (tn->s.kind == QSTEP_LIN_INT8) {
        float *bs = xmalloc((size_t)oc * sizeof *bs);
        for (int64_t c = 0; c < oc; c++)
            bs[c] = l->in_qp.scale * l->ws[l->n_wscales > 1 ? c : 0];
        TflQuant bq = tfl_quant_axis(bs, l->n_wscales > 1 ? (int)oc : 1, 0);
        *bt = tfl_const(&x->t, bn, TFL_INT32, 1, &oc, l->bq, (size_t)oc * 4, &bq);
        tfl_quant_release(&bq);
        free(bs);
        return;
    }
    if (tn->s.kind == QSTEP_LIN_HALF) {
        uint16_t *w = unit_reorder(l->wh, 2, u, kh, kw);
        char hn[300];
        snprintf(hn, sizeof hn, "%s::weight_fp16", name);
        int wh = tfl_const(&x->t, hn, TFL_FLOAT16, wnd, wd, w, nw * 2, NULL);
        free(w);
        snprintf(hn, sizeof hn, "%s::bias_fp16", name);
        int bh = tfl_const(&x->t, hn, TFL_FLOAT16, 1, &oc, l->bh, (size_t)oc * 2, NULL);
        *wt = tx_tmp(x, wn, TFL_FLOAT32, wnd, wd, NULL);
        *bt = tx_tmp(x, bn, TFL_FLOAT32, 1, &oc, NULL);
        const TflOpts dq = { .kind = TFL_OPT_DEQUANTIZE };
        tfl_op(&x->t, TFL_OP_DEQUANTIZE, 3, &wh, 1, *wt, &dq);
        tfl_op(&x->t, TFL_OP_DEQUANTIZE, 3, &bh, 1, *bt, &dq);
        return;
    }
    /* float weights (fp32) and float bias (fp32, int8-dyn): the folded unit */
    float *wf = xmalloc(nw * sizeof *wf), *bf = xmalloc((size_t)oc * sizeof *bf);
    linear_fold(x->g, u, wf, bf);
    const float *const *corr = x->o->bias_corr;
    if (tn->s.kind == QSTEP_LIN_DYN && corr && corr[tn->ni])
        for (int64_t c = 0; c < oc; c++)
            bf[c] += corr[tn->ni][c];
    if (tn->s.kind != QSTEP_LIN_DYN) {
        float *w = unit_reorder(wf, 4, u, kh, kw);
        *wt = tx_const_f32(x, wn, wnd, wd, w);
        free(w);
    }
    *bt = tx_const_f32(x, bn, 1, &oc, bf);
    free(wf);
    free(bf);
}

/* The fused activation of the unit, checked against the plan's integer clamp. */
static int unit_act(Tx *x, const TxNode *tn, const LinearUnit *u)
{
    float lo = u->act >= 0 ? u->act_lo : -INFINITY, hi = u->act >= 0 ? u->act_hi : INFINITY;
    int act = tx_fused_act(lo, hi);
    if (!tn->q) {
        if (act < 0)
            tx_fail(x, QS_EUNSUPPORTED, "'%s': the fused clamp [%g, %g] has no TFLite fused "
                    "activation (Relu, Relu6 or [-1, 1])", x->g->nodes[u->act].name, lo, hi);
        return act;
    }
    QParams op = tn->s.out_qp;
    if (act >= 0 && tx_act_matches_int8(act, &op, tn->s.lo, tn->s.hi))
        return act;
    if (tx_act_matches_int8(TFL_ACT_NONE, &op, tn->s.lo, tn->s.hi))
        return TFL_ACT_NONE;
    tx_fail(x, QS_EUNSUPPORTED, "'%s': the plan clamps its int8 output to [%d, %d], which "
            "TFLite's fused activation computes otherwise on scale %g, zero point %d",
            tn->n->name, (int)tn->s.lo, (int)tn->s.hi, (double)op.scale, (int)op.zero_point);
    return -1;
}

/* The padded input of a window op: SAME, VALID, or a PAD op then VALID. */
int tx_window_input(Tx *x, const TxNode *tn, int v, int rep, const Window *w, bool may_pad,
                    int *padding)
{
    int in = tx_get(x, v, TX_CLAST, rep);
    if (x->st)
        return 0;
    const TflTensor *it = &x->t.tensors[in];
    int64_t ih = it->dim[1], iw = it->dim[2];
    int64_t od[4];
    tx_dims(x, tn->out, TX_CLAST, od);
    int64_t eh = geom_extent(w->kh, w->dh), ew = geom_extent(w->kw, w->dw);
    bool zero = !w->pt && !w->pl && !w->pb && !w->pr;
    if (zero && od[1] == (ih - eh) / w->sh + 1 && od[2] == (iw - ew) / w->sw + 1) {
        *padding = TFL_PAD_VALID;
        return in;
    }
    int64_t th = (od[1] - 1) * w->sh + eh - ih, tw = (od[2] - 1) * w->sw + ew - iw;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    if (od[1] == (ih + w->sh - 1) / w->sh && od[2] == (iw + w->sw - 1) / w->sw &&
        w->pt == th / 2 && w->pb == th - th / 2 && w->pl == tw / 2 && w->pr == tw - tw / 2) {
        *padding = TFL_PAD_SAME;
        return in;
    }
    int64_t ph = ih + w->pt + w->pb, pw = iw + w->pl + w->pr;
    if (!may_pad || od[1] != (ph - eh) / w->sh + 1 || od[2] != (pw - ew) / w->sw + 1) {
        tx_fail(x, QS_EUNSUPPORTED, "%s '%s': its pads (%lld, %lld, %lld, %lld) and output "
                "size have no TFLite form (SAME, VALID%s)", op_table[tn->n->op]->name,
                tn->n->name, (long long)w->pt, (long long)w->pl, (long long)w->pb,
                (long long)w->pr, may_pad ? ", or a PAD before VALID" : "");
        return 0;
    }
    int32_t pads[8] = { 0, 0, (int32_t)w->pt, (int32_t)w->pb, (int32_t)w->pl, (int32_t)w->pr,
                        0, 0 };
    const int64_t pd[2] = { 4, 2 };
    int pt = tx_const_i32(x, "paddings", 2, pd, pads);
    int64_t d[4] = { it->dim[0], ph, pw, it->dim[3] };
    char name[300];
    snprintf(name, sizeof name, "%s::padded", tn->n->name);
    int out = tx_tmp(x, name, it->type, 4, d, it->q.n ? &it->q : NULL);
    if (tn->n->op == OP_MAXPOOL) {
        /* MaxPool leaves pads out: PADV2 with the lowest value, which a window (pads
         * smaller than the kernel) always holds a real element above or equal to; int8
         * pads take the input's parameters, as TFLite requires of constant_values */
        const float lowest = -FLT_MAX;
        const int8_t low8 = -128;
        int c = rep == TX_Q ? tfl_const(&x->t, "lowest", TFL_INT8, 0, NULL, &low8, 1, &it->q)
                            : tx_const_f32(x, "lowest", 0, NULL, &lowest);
        tx_op(x, TFL_OP_PADV2, rep == TX_Q, (int[]){ in, pt, c }, 3, out,
              &(TflOpts){ .kind = TFL_OPT_PADV2 });
        *padding = TFL_PAD_VALID;
        return out;
    }
    tx_op(x, TFL_OP_PAD, rep == TX_Q, (int[]){ in, pt }, 2, out,
          &(TflOpts){ .kind = TFL_OPT_PAD });
    *padding = TFL_PAD_VALID;
    return out;
}

void tx_unit(Tx *x, const TxNode *tn)
{
    const LinearUnit *u = &x->units[tn->ni];
    const Node *n = tn->n;
    bool conv = u->kind == LU_CONV || u->kind == LU_DEPTHWISE;
    const Tensor *wt0 = x->g->values[n->in[1]].data;
    int sp = conv ? wt0->shape.ndim - 2 : 0;
    if (conv && u->kind == LU_CONV && n->params.win.group != 1) {
        tx_fail(x, QS_EUNSUPPORTED, "Conv '%s': grouped convolution (group %lld) has no "
                "TFLite form here (CONV_2D takes group 1, DEPTHWISE_CONV_2D one input channel "
                "per group)", n->name, (long long)n->params.win.group);
        return;
    }
    if (tn->q && (!tx_check_int8_range(x, &tn->s.lin.in_qp, n->name) ||
                  !tx_check_int8_range(x, &tn->s.out_qp, n->name)))
        return;
    int act = unit_act(x, tn, u);
    if (x->st)
        return;
    Window w = { .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
    if (conv)
        geom_node_window(n, sp, wt0->shape.dim + 2, &w);
    int rep = tn->q ? TX_Q : TX_F;
    int vin = n->in[0];
    int in, padding = TFL_PAD_VALID;
    if (conv)
        in = tx_window_input(x, tn, vin, rep, &w, true, &padding);
    else
        in = tx_get(x, vin, TX_PLAIN, rep);
    if (x->st)
        return;
    int wt = 0, bt = 0;
    unit_consts(x, tn, u, w.kh, w.kw, &wt, &bt);
    x->clast[tn->out] = conv ? TX_CLAST : TX_PLAIN;
    int out = tx_out(x, tn->out, rep);
    bool hybrid = tn->s.kind == QSTEP_LIN_DYN;
    TflOpts o = { .act = act, .padding = padding, .stride_h = (int)w.sh,
                  .stride_w = (int)w.sw, .dilation_h = (int)w.dh, .dilation_w = (int)w.dw };
    int code, version;
    if (u->kind == LU_CONV) {
        o.kind = TFL_OPT_CONV2D;
        code = TFL_OP_CONV_2D;
        version = hybrid ? 2 : tx_version(code, tn->q);
    } else if (u->kind == LU_DEPTHWISE) {
        o.kind = TFL_OPT_DEPTHWISE_CONV2D;
        o.depth_multiplier = (int)(u->oc / x->shapes[vin].dim[1]);
        code = TFL_OP_DEPTHWISE_CONV_2D;
        version = hybrid ? 6 : tx_version(code, tn->q);
    } else {
        o = (TflOpts){ .kind = TFL_OPT_FULLY_CONNECTED, .act = act,
                       .keep_num_dims = x->shapes[vin].ndim > 2, .asymmetric_inputs = hybrid };
        code = TFL_OP_FULLY_CONNECTED;
        version = hybrid ? 3 : tx_version(code, tn->q);
        if (o.keep_num_dims && version < 5)
            version = 5;
    }
    tfl_op(&x->t, code, version, (int[]){ in, wt, bt }, 3, out, &o);
}
