/* TFLite export: the plan walk, value forms and layouts (tflite_export_int.h), the edges,
 * and the file. */
#include "tflite/tflite_export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "ops/op.h"
#include "tflite/tflite_export_int.h"
#include "tflite/tflite_verify.h"

QsStatus tx_fail(Tx *x, QsStatus code, const char *fmt, ...)
{
    if (x->st)
        return x->st;
    char buf[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    x->st = qs_fail(x->err, code, "%s", buf);
    return x->st;
}

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

/* ---- the walk ---------------------------------------------------------------------------- */

/* Base layouts: graph inputs read by a spatial op, outputs of spatial ops, and outputs of
 * layout-following ops with a channels-last input are channels-last. */
static void tx_layouts(Tx *x)
{
    const Graph *g = x->g;
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        const TxRow *r = tx_row(n->op);
        bool cl = false;
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            if (v < 0 || g->values[v].kind == VAL_CONST)
                continue;
            if (g->values[v].kind == VAL_INPUT && r->layout == TXL_SPATIAL && i == 0 &&
                tx_spatial_rank(x, v))
                x->clast[v] = TX_CLAST;
            cl |= x->clast[v] == TX_CLAST;
        }
        bool spatial_out = tx_spatial_rank(x, n->out);
        x->clast[n->out] = spatial_out && (r->layout == TXL_SPATIAL ||
                                           (r->layout == TXL_FOLLOW && cl));
    }
}

static void tx_inputs(Tx *x)
{
    const Graph *g = x->g;
    for (int i = 0; i < g->n_inputs && !x->st; i++) {
        int v = g->inputs[i];
        int lay = x->clast[v];
        int64_t d[QS_MAX_DIMS];
        int nd = tx_dims(x, v, lay, d);
        if (x->o->io == TFLIO_FLOAT) {
            x->tens[v][lay][TX_F] =
                tfl_tensor(&x->t, g->values[v].name, TFL_FLOAT32, nd, d, NULL);
            tfl_add_input(&x->t, x->tens[v][lay][TX_F]);
            continue;
        }
        TflQuant tq;
        if (!tx_value_quant(x, v, &tq)) {
            tx_fail(x, QS_EINVAL, "io=%s: input '%s' has no int8 parameters in the plan "
                    "(its readers run in float)", x->o->io == TFLIO_INT8 ? "int8" : "uint8",
                    g->values[v].name);
            return;
        }
        if (x->o->io == TFLIO_INT8) {
            x->tens[v][lay][TX_Q] = tfl_tensor(&x->t, g->values[v].name, TFL_INT8, nd, d, &tq);
            tfl_add_input(&x->t, x->tens[v][lay][TX_Q]);
        } else { /* uint8 in, requantized to int8 (zero point + 128, same scale) */
            TflQuant uq = tfl_quant1(tq.scale[0], tq.zero_point[0] + 128);
            int u = tfl_tensor(&x->t, g->values[v].name, TFL_UINT8, nd, d, &uq);
            char name[300];
            snprintf(name, sizeof name, "%s::int8", g->values[v].name);
            int s8 = tfl_tensor(&x->t, name, TFL_INT8, nd, d, &tq);
            tx_op(x, TFL_OP_QUANTIZE, true, &u, 1, s8, &(TflOpts){ .kind = TFL_OPT_QUANTIZE });
            tfl_add_input(&x->t, u);
            x->tens[v][lay][TX_Q] = s8;
            tfl_quant_release(&uq);
        }
        tfl_quant_release(&tq);
    }
}

static void tx_outputs(Tx *x, TfliteInfo *info)
{
    const Graph *g = x->g;
    size_t at = 0;
    for (int i = 0; i < g->n_inputs && at < sizeof info->io_layout; i++) {
        int v = g->inputs[i];
        at += (size_t)snprintf(info->io_layout + at, sizeof info->io_layout - at, "%s%s:%s",
                               i ? "," : "", g->values[v].name,
                               x->clast[v] ? (x->shapes[v].ndim == 4 ? "NHWC" : "NWC")
                                           : "as in qscope");
    }
    for (int i = 0; i < g->n_outputs && !x->st; i++) {
        int v = g->outputs[i];
        int lay = x->clast[v];
        if (at < sizeof info->io_layout)
            at += (size_t)snprintf(info->io_layout + at, sizeof info->io_layout - at, "%s%s:%s",
                                   i ? "," : " -> ", g->values[v].name,
                                   lay ? (x->shapes[v].ndim == 4 ? "NHWC" : "NWC")
                                       : "as in qscope");
        int t;
        if (lay == TX_CLAST && x->shapes[v].ndim == 3) {
            /* (N, 1, W, C) leaves as (N, W, C) */
            int src = tx_get(x, v, TX_CLAST, x->o->io == TFLIO_FLOAT ? TX_F : TX_Q);
            if (x->st)
                return;
            const TflTensor *st = &x->t.tensors[src];
            int64_t d[3] = { st->dim[0], st->dim[2], st->dim[3] };
            const int64_t three = 3;
            int32_t shp[3] = { st->dim[0], st->dim[2], st->dim[3] };
            char name[300];
            snprintf(name, sizeof name, "%s::nwc", g->values[v].name);
            t = tfl_tensor(&x->t, name, st->type, 3, d, st->q.n ? &st->q : NULL);
            int sh = tx_const_i32(x, "shape", 1, &three, shp);
            tx_op(x, TFL_OP_RESHAPE, st->type != TFL_FLOAT32, (int[]){ src, sh }, 2, t,
                  &(TflOpts){ .kind = TFL_OPT_RESHAPE });
        } else {
            t = tx_get(x, v, lay, x->o->io == TFLIO_FLOAT ? TX_F : TX_Q);
        }
        if (x->st)
            return;
        if (x->o->io == TFLIO_UINT8) {
            const TflTensor *st = &x->t.tensors[t];
            TflQuant uq = tfl_quant1(st->q.scale[0], st->q.zero_point[0] + 128);
            int64_t d[TFL_MAX_DIMS];
            for (int k = 0; k < st->nd; k++)
                d[k] = st->dim[k];
            char name[300];
            snprintf(name, sizeof name, "%s::uint8", g->values[v].name);
            int u = tfl_tensor(&x->t, name, TFL_UINT8, st->nd, d, &uq);
            tx_op(x, TFL_OP_QUANTIZE, true, &t, 1, u, &(TflOpts){ .kind = TFL_OPT_QUANTIZE });
            tfl_quant_release(&uq);
            t = u;
        }
        tfl_add_output(&x->t, t);
    }
}

/* Node ni as its plan step runs it. */
static void tx_node(Tx *x, int ni)
{
    const Node *n = &x->g->nodes[ni];
    TxNode tn = { .ni = ni, .n = n, .out = n->out };
    tn.s = qmodel_step(x->q, qmodel_step_of(x->q, ni));
    if (x->units[ni].head == ni) {
        int last = x->units[ni].act >= 0 ? x->units[ni].act
                   : x->units[ni].bn >= 0 ? x->units[ni].bn : ni;
        tn.out = x->g->nodes[last].out;
        tn.q = tn.s.kind == QSTEP_LIN_INT8;
        tx_unit(x, &tn);
        return;
    }
    tn.q = tn.s.kind == QSTEP_INT8;
    const TxRow *r = tx_row(n->op);
    if (!r->write) {
        tx_fail(x, QS_EUNSUPPORTED, "%s '%s' has no TFLite form: %s", op_table[n->op]->name,
                n->name, r->not_exportable);
        return;
    }
    r->write(x, &tn);
}

const char *tflite_variant_name(const QModel *q)
{
    switch (qmodel_plan(q)->mode) {
    case PREC_FP16: return "fp16";
    case PREC_INT8_DYN: return "dynamic";
    case PREC_INT8_STATIC: return "int8";
    default: return "fp32";
    }
}

static void tx_release(Tx *x)
{
    tfl_model_release(&x->t);
    free(x->shapes);
    free(x->units);
    free(x->head_of);
    free(x->clast);
    free(x->tens);
}

QsStatus tflite_serialize_plan(const QModel *q, const TfliteOpts *o, void **out, size_t *len,
                               TfliteInfo *info, QsError *err)
{
    TfliteInfo dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->variant = tflite_variant_name(q);
    const Graph *g = qmodel_graph(q);
    bool int8 = qmodel_plan(q)->mode == PREC_INT8_STATIC;
    if (o->batch < 1 || o->batch > INT32_MAX)
        return qs_fail(err, QS_EINVAL, "batch=%lld: must be 1 or more", (long long)o->batch);
    if (o->io != TFLIO_FLOAT && !int8)
        return qs_fail(err, QS_EINVAL, "io=%s needs the int8 variant (a calibrated "
                       "int8-static plan); the %s variant has float inputs and outputs",
                       o->io == TFLIO_INT8 ? "int8" : "uint8", info->variant);
    Tx x;
    memset(&x, 0, sizeof x);
    x.g = g;
    x.q = q;
    x.o = o;
    x.err = err;
    tfl_model_init(&x.t);
    int nv = g->n_values, nn = g->n_nodes ? g->n_nodes : 1;
    x.shapes = xcalloc((size_t)nv, sizeof *x.shapes);
    x.units = xcalloc((size_t)nn, sizeof *x.units);
    x.head_of = xcalloc((size_t)nn, sizeof *x.head_of);
    x.clast = xcalloc((size_t)nv, 1);
    x.tens = xmalloc((size_t)nv * sizeof *x.tens);
    memset(x.tens, 0xff, (size_t)nv * sizeof *x.tens);
    QsStatus st = graph_infer_shapes(g, o->batch, x.shapes, err);
    if (!st) {
        linear_group(g, NULL, NULL, x.units, x.head_of);
        tx_layouts(&x);
        tx_inputs(&x);
        for (int k = 0; k < g->n_nodes && !x.st; k++) {
            int ni = g->order[k];
            if (x.head_of[ni] == ni)
                tx_node(&x, ni);
        }
        if (!x.st)
            tx_outputs(&x, info);
        st = x.st;
    }
    if (!st) {
        char desc[256];
        snprintf(desc, sizeof desc, "qscope export: variant=%s%s%s", info->variant,
                 o->target ? " target=" : "", o->target ? o->target : "");
        x.t.description = xstrdup(desc);
        x.t.min_runtime = xstrdup(int8 ? "2.3.0" : "1.14.0");
        info->n_ops = x.t.n_ops;
        info->n_tensors = x.t.n_tensors;
        st = tfl_serialize(&x.t, out, len, err);
    }
    if (!st && (st = tflite_verify(*out, *len, NULL, err))) {
        qs_error_prefix(err, "the written model failed its own check");
        free(*out);
        *out = NULL;
    }
    tx_release(&x);
    return st;
}

QsStatus tflite_save_plan(const char *path, const QModel *q, const TfliteOpts *o,
                          TfliteInfo *info, QsError *err)
{
    void *buf = NULL;
    size_t len = 0;
    QsStatus st = tflite_serialize_plan(q, o, &buf, &len, info, err);
    if (!st)
        st = fileio_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}
