/* TFLite export: the plan walk (each node or unit as its plan step runs it), the graph's
 * inputs and outputs, and the file; value forms live in tflite_export_forms.c. */
#include "tflite/tflite_export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "ops/op.h"
#include "qexec/qexec_view.h"
#include "quant/target.h"
#include "tflite/tflite_export_int.h"
#include "tflite/tflite_verify.h"

QsStatus tx_fail(Tx *x, QsStatus code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    QsStatus st = qs_vfail_first(&x->st, x->err, code, fmt, ap);
    va_end(ap);
    return st;
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

/* The one reader of each value (-1: none, several, or a graph output). */
static void tx_readers(Tx *x)
{
    const Graph *g = x->g;
    for (int v = 0; v < g->n_values; v++)
        x->reader[v] = -1;
    uint8_t *count = xcalloc((size_t)g->n_values, 1);
    for (int ni = 0; ni < g->n_nodes; ni++)
        for (int i = 0; i < g->nodes[ni].n_in; i++) {
            int v = g->nodes[ni].in[i];
            if (v >= 0 && count[v] < 2 && !(count[v] == 1 && x->reader[v] == ni)) {
                count[v]++;
                x->reader[v] = ni;
            }
        }
    for (int v = 0; v < g->n_values; v++)
        if (count[v] != 1)
            x->reader[v] = -1;
    for (int i = 0; i < g->n_outputs; i++)
        x->reader[g->outputs[i]] = -1;
    free(count);
}

/* A value an int8 step computes but its row wrote in float (a table or a requantizing
 * copy written as the float op, see tflite_export_ops.c): qscope's value is the int8 code,
 * so the file quantizes the float result at once, and float readers get it back through
 * DEQUANTIZE (made on first use) rather than the unrounded float. */
static void tx_settle_int8(Tx *x)
{
    const Graph *g = x->g;
    for (int k = 0; k < g->n_nodes && !x->st; k++) {
        int v = g->nodes[k].out, lay = x->clast[v];
        if (x->tens[v][lay][TX_F] < 0 || x->tens[v][lay][TX_Q] >= 0 ||
            qmodel_step(x->q, qmodel_step_of(x->q, k)).kind != QSTEP_INT8)
            continue;
        tx_get(x, v, lay, TX_Q);
        x->tens[v][lay][TX_F] = -1;
        x->tens[v][!lay][TX_F] = -1;
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
    tx_settle_int8(x);
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
    free(x->reader);
    free(x->fused);
    free(x->tens);
    free(x->rounded);
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
    x.reader = xmalloc((size_t)nv * sizeof *x.reader);
    x.fused = xcalloc((size_t)nn, sizeof *x.fused);
    tx_readers(&x);
    x.tens = xmalloc((size_t)nv * sizeof *x.tens);
    memset(x.tens, 0xff, (size_t)nv * sizeof *x.tens);
    x.rounded = xmalloc((size_t)nv * sizeof *x.rounded);
    memset(x.rounded, 0xff, (size_t)nv * sizeof *x.rounded);
    QsStatus st = graph_infer_shapes(g, o->batch, x.shapes, err);
    if (!st) {
        linear_group(g, NULL, NULL, x.units, x.head_of);
        tx_layouts(&x);
        tx_inputs(&x);
        for (int k = 0; k < g->n_nodes && !x.st; k++) {
            int ni = g->order[k];
            if (x.head_of[ni] == ni && !x.fused[ni])
                tx_node(&x, ni);
        }
        if (!x.st)
            tx_outputs(&x, info);
        st = x.st;
    }
    if (!st) {
        /* an int8 file carries the arithmetic its integers were computed with */
        const char *target = int8 ? qmodel_target(q)->name : NULL;
        /* a model whose channels-last values are all 1-D (N, C, W), written (N, 1, W, C),
         * says so: the reader then loads it back at its own rank (docs/formats.md §11) */
        int n1 = 0, n2 = 0;
        for (int v = 0; v < nv; v++)
            if (x.clast[v] == TX_CLAST)
                x.shapes[v].ndim == 3 ? n1++ : n2++;
        char desc[256];
        snprintf(desc, sizeof desc, "qscope export: variant=%s%s%s%s", info->variant,
                 target ? " target=" : "", target ? target : "",
                 n1 && !n2 ? " spatial=1d" : "");
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
