/* TFLite export: value forms (tflite_export_int.h): layouts, tensors and operators,
 * conversions between forms, and the fused activations' integer clamps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tflite/tflite_export_int.h"

/* ---- layouts --------------------------------------------------------------------------- */

bool tx_spatial_rank(const Tx *x, int v)
{
    int r = x->shapes[v].ndim;
    return r == 3 || r == 4;
}

int tx_dims(const Tx *x, int v, int lay, int64_t *d)
{
    const Shape *s = &x->shapes[v];
    if (lay == TX_PLAIN || !tx_spatial_rank(x, v)) {
        memcpy(d, s->dim, (size_t)s->ndim * sizeof *d);
        return s->ndim;
    }
    d[0] = s->dim[0];
    d[1] = s->ndim == 4 ? s->dim[2] : 1;
    d[2] = s->dim[s->ndim - 1];
    d[3] = s->dim[1];
    return 4;
}

int tx_axis(int r, int lay, int a)
{
    if (lay == TX_PLAIN || (r != 3 && r != 4))
        return a;
    static const int r4[4] = { 0, 3, 1, 2 }, r3[3] = { 0, 3, 2 };
    return r == 4 ? r4[a] : r3[a];
}

/* ---- tensors and ops ------------------------------------------------------------------- */

int tx_tmp(Tx *x, const char *name, int type, int nd, const int64_t *dims, const TflQuant *q)
{
    return tfl_tensor(&x->t, name, type, nd, dims, q);
}

int tx_const_f32(Tx *x, const char *name, int nd, const int64_t *dims, const float *v)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= dims[i];
    return tfl_const(&x->t, name, TFL_FLOAT32, nd, dims, v, (size_t)n * 4, NULL);
}

int tx_const_i32(Tx *x, const char *name, int nd, const int64_t *dims, const int32_t *v)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= dims[i];
    return tfl_const(&x->t, name, TFL_INT32, nd, dims, v, (size_t)n * 4, NULL);
}

/* Versions as the TFLite converter numbers them (its op_version rules) for what qscope
 * writes: int8 kernels came in version 2 for most ops (per-channel convolutions in 3, int8
 * fully connected in 4); RESHAPE has one version for every type. */
int tx_version(int code, bool q)
{
    if (code == TFL_OP_BROADCAST_TO)
        return 2; /* its first version: 1 was taken by an older custom op */
    if (!q)
        return 1;
    switch (code) {
    case TFL_OP_RESHAPE: return 1;
    case TFL_OP_CONV_2D: case TFL_OP_DEPTHWISE_CONV_2D: return 3;
    case TFL_OP_FULLY_CONNECTED: return 4;
    default: return 2;
    }
}

void tx_op(Tx *x, int code, bool q, const int *in, int n_in, int out, const TflOpts *opt)
{
    tfl_op(&x->t, code, tx_version(code, q), in, n_in, out, opt);
}

bool tx_value_quant(const Tx *x, int v, TflQuant *tq)
{
    QParams qp;
    if (!x->q || !qmodel_value_qparams(x->q, v, &qp))
        return false;
    *tq = tfl_quant1(qp.scale, qp.zero_point);
    return true;
}

bool tx_check_int8_range(Tx *x, const QParams *p, const char *layer)
{
    if (p->qmin == -128 && p->qmax == 127)
        return true;
    tx_fail(x, QS_EUNSUPPORTED, "'%s': int8 codes in [%d, %d] (bits or symmetric "
            "activations) have no TFLite form: TFLite int8 tensors hold [-128, 127]",
            layer, (int)p->qmin, (int)p->qmax);
    return false;
}

int tx_out(Tx *x, int v, int rep)
{
    int lay = x->clast[v];
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, v, lay, d);
    TflQuant tq = { 0 };
    if (rep == TX_Q && !tx_value_quant(x, v, &tq)) {
        tx_fail(x, QS_EINVAL, "value '%s' has no int8 parameters in the plan",
                x->g->values[v].name);
        return 0;
    }
    int t = tfl_tensor(&x->t, x->g->values[v].name, rep == TX_Q ? TFL_INT8 : TFL_FLOAT32, nd,
                       d, &tq);
    tfl_quant_release(&tq);
    x->tens[v][lay][rep] = t;
    return t;
}

/* ---- forms ------------------------------------------------------------------------------ */

static const char *const tx_lay_names[2] = { "plain", "nhwc" };

/* Value v in layout `lay`, made from its form in the other layout (same rep). */
static int tx_relayout(Tx *x, int v, int lay, int rep)
{
    int src = tx_get(x, v, !lay, rep);
    if (x->st)
        return 0;
    const TflTensor *st = &x->t.tensors[src];
    TflQuant q = { 0 };
    if (st->q.n)
        q = tfl_quant1(st->q.scale[0], st->q.zero_point[0]);
    int type = st->type;
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, v, lay, d);
    char name[300];
    snprintf(name, sizeof name, "%s::%s%s", x->g->values[v].name, tx_lay_names[lay],
             rep == TX_Q ? "_q" : "");
    bool q8 = rep == TX_Q;
    int r = x->shapes[v].ndim;
    const int64_t four = 4;
    int out = tfl_tensor(&x->t, name, type, nd, d, &q);
    if (r == 4) {
        static const int32_t to_c[4] = { 0, 2, 3, 1 }, to_p[4] = { 0, 3, 1, 2 };
        int perm = tx_const_i32(x, "perm", 1, &four, lay == TX_CLAST ? to_c : to_p);
        tx_op(x, TFL_OP_TRANSPOSE, q8, (int[]){ src, perm }, 2, out,
              &(TflOpts){ .kind = TFL_OPT_TRANSPOSE });
    } else { /* rank 3: (N, C, W) <-> (N, C, 1, W) <-> (N, 1, W, C) */
        const Shape *s = &x->shapes[v];
        int64_t mid[4] = { s->dim[0], s->dim[1], 1, s->dim[2] };
        char mname[300];
        snprintf(mname, sizeof mname, "%s::nc1w%s", x->g->values[v].name, q8 ? "_q" : "");
        int m = tfl_tensor(&x->t, mname, type, 4, mid, &q);
        const int64_t one = 4, three = 3;
        if (lay == TX_CLAST) {
            int32_t shp[4] = { (int32_t)mid[0], (int32_t)mid[1], 1, (int32_t)mid[3] };
            int sh = tx_const_i32(x, "shape", 1, &one, shp);
            tx_op(x, TFL_OP_RESHAPE, q8, (int[]){ src, sh }, 2, m,
                  &(TflOpts){ .kind = TFL_OPT_RESHAPE });
            static const int32_t to_c[4] = { 0, 2, 3, 1 };
            int perm = tx_const_i32(x, "perm", 1, &four, to_c);
            tx_op(x, TFL_OP_TRANSPOSE, q8, (int[]){ m, perm }, 2, out,
                  &(TflOpts){ .kind = TFL_OPT_TRANSPOSE });
        } else {
            static const int32_t to_p[4] = { 0, 3, 1, 2 };
            int perm = tx_const_i32(x, "perm", 1, &four, to_p);
            tx_op(x, TFL_OP_TRANSPOSE, q8, (int[]){ src, perm }, 2, m,
                  &(TflOpts){ .kind = TFL_OPT_TRANSPOSE });
            int32_t shp[3] = { (int32_t)s->dim[0], (int32_t)s->dim[1], (int32_t)s->dim[2] };
            int sh = tx_const_i32(x, "shape", 1, &three, shp);
            tx_op(x, TFL_OP_RESHAPE, q8, (int[]){ m, sh }, 2, out,
                  &(TflOpts){ .kind = TFL_OPT_RESHAPE });
        }
    }
    tfl_quant_release(&q);
    return out;
}

/* Value v in representation rep, made from its other representation (same layout). */
static int tx_rerep(Tx *x, int v, int lay, int rep)
{
    if (x->tens[v][lay][!rep] < 0) {
        tx_fail(x, QS_EINVAL, "value '%s' is read before it is written", x->g->values[v].name);
        return 0;
    }
    int src = x->tens[v][lay][!rep];
    TflQuant tq = { 0 };
    if (!tx_value_quant(x, v, &tq)) {
        tx_fail(x, QS_EINVAL, "value '%s' is read as int8 but has no parameters in the plan",
                x->g->values[v].name);
        return 0;
    }
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, v, lay, d);
    char name[300];
    snprintf(name, sizeof name, "%s::%s%s", x->g->values[v].name,
             rep == TX_Q ? "quantized" : "dequantized", lay == TX_CLAST ? "_nhwc" : "");
    int out = tfl_tensor(&x->t, name, rep == TX_Q ? TFL_INT8 : TFL_FLOAT32, nd, d,
                         rep == TX_Q ? &tq : NULL);
    tfl_quant_release(&tq);
    tx_op(x, rep == TX_Q ? TFL_OP_QUANTIZE : TFL_OP_DEQUANTIZE, true, &src, 1, out,
          &(TflOpts){ .kind = rep == TX_Q ? TFL_OPT_QUANTIZE : TFL_OPT_DEQUANTIZE });
    return out;
}

int tx_get(Tx *x, int v, int lay, int rep)
{
    if (!tx_spatial_rank(x, v))
        lay = x->clast[v];
    if (x->tens[v][lay][rep] >= 0 || x->st)
        return x->st ? 0 : x->tens[v][lay][rep];
    int base = x->clast[v];
    /* convert the representation in the base layout first, then the layout */
    int t = lay == base ? tx_rerep(x, v, lay, rep) : tx_relayout(x, v, lay, rep);
    if (!x->st)
        x->tens[v][lay][rep] = t;
    return x->st ? 0 : t;
}

/* Whether an int8 step writes value v (then its float forms are dequantized codes). */
static bool tx_int8_written(const Tx *x, int v)
{
    for (int k = 0; k < x->g->n_nodes; k++)
        if (x->g->nodes[k].out == v)
            return qmodel_step(x->q, qmodel_step_of(x->q, k)).kind == QSTEP_INT8 ||
                   qmodel_step(x->q, qmodel_step_of(x->q, x->head_of[k])).kind ==
                       QSTEP_LIN_INT8;
    return false;
}

int tx_get_rounded(Tx *x, int v, int lay)
{
    if (!tx_spatial_rank(x, v))
        lay = x->clast[v];
    if (x->rounded[v][lay] >= 0 || x->st)
        return x->st ? 0 : x->rounded[v][lay];
    int t;
    if (tx_int8_written(x, v)) {
        t = tx_get(x, v, lay, TX_F);
    } else {
        int q = tx_get(x, v, lay, TX_Q);
        if (x->st)
            return 0;
        int64_t d[QS_MAX_DIMS];
        int nd = tx_dims(x, v, lay, d);
        char name[300];
        snprintf(name, sizeof name, "%s::rounded%s", x->g->values[v].name,
                 lay == TX_CLAST ? "_nhwc" : "");
        t = tfl_tensor(&x->t, name, TFL_FLOAT32, nd, d, NULL);
        tx_op(x, TFL_OP_DEQUANTIZE, true, &q, 1, t, &(TflOpts){ .kind = TFL_OPT_DEQUANTIZE });
    }
    if (!x->st)
        x->rounded[v][lay] = t;
    return x->st ? 0 : t;
}

/* ---- activations ------------------------------------------------------------------------ */

int tx_fused_act(float lo, float hi)
{
    if (lo == -INFINITY && hi == INFINITY)
        return TFL_ACT_NONE;
    if (lo == 0.0f && hi == INFINITY)
        return TFL_ACT_RELU;
    if (lo == 0.0f && hi == 6.0f)
        return TFL_ACT_RELU6;
    if (lo == -1.0f && hi == 1.0f)
        return TFL_ACT_RELU_N1_TO_1;
    return -1;
}

int tx_fusable_clamp(const Tx *x, const TxNode *tn, int *act)
{
    int r = x->reader[tn->out];
    float lo, hi;
    if (r < 0 || !op_clamp_range(&x->g->nodes[r], &lo, &hi) || x->head_of[r] != r ||
        (*act = tx_fused_act(lo, hi)) <= 0)
        return -1;
    QStepView s = qmodel_step(x->q, qmodel_step_of(x->q, r));
    bool rq = s.kind == QSTEP_INT8;
    if (rq != tn->q || (rq && !tx_act_matches_int8(*act, &tn->s.out_qp, s.lo, s.hi)))
        return -1;
    /* an int8 clamp keeps its input's parameters (OPQ_QP_CLAMPED), so the fused op writes
     * the clamp's output on the same grid */
    return r;
}

/* TFLite's quantized activation range (CalculateActivationRangeQuantized): the float
 * bounds quantized with round half away from zero, within [-128, 127]. */
bool tx_act_matches_int8(int act, const QParams *p, int32_t lo, int32_t hi)
{
    int32_t tl = -128, th = 127;
    double z = p->zero_point, s = p->scale;
    if (act == TFL_ACT_RELU || act == TFL_ACT_RELU6)
        tl = (int32_t)fmax(tl, z);
    if (act == TFL_ACT_RELU6)
        th = (int32_t)fmin(th, z + round(6.0 / s));
    if (act == TFL_ACT_RELU_N1_TO_1) {
        tl = (int32_t)fmax(tl, z + round(-1.0 / s));
        th = (int32_t)fmin(th, z + round(1.0 / s));
    }
    return tl == lo && th == hi;
}

