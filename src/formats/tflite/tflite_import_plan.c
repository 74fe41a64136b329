/* TFLite import: the plan and imported parameters of a quantized file (tflite_import.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/target.h"
#include "tflite/tflite_import.h"

static PrecKind tip_mode(const char *variant)
{
    if (strcmp(variant, "int8") == 0)
        return PREC_INT8_STATIC;
    if (strcmp(variant, "dynamic") == 0)
        return PREC_INT8_DYN;
    return strcmp(variant, "fp16") == 0 ? PREC_FP16 : PREC_FP32;
}

static QImport *tip_import(const Graph *g, const TflImportQuant *q, const char *source,
                           QsError *err)
{
    QImport *im = qimport_new(g->n_values, g->n_nodes);
    snprintf(im->source, sizeof im->source, "%s", source);
    for (int i = 0; i < q->n_values; i++) {
        int v = graph_find_value(g, q->values[i].value);
        if (v < 0)
            continue; /* a value the graph folded away */
        im->has_qp[v] = true;
        im->qp[v] = (QParams){ .scale = q->values[i].scale,
                               .zero_point = q->values[i].zero_point, .qmin = -128,
                               .qmax = 127 };
        if (im->qp[v].zero_point < -128 || im->qp[v].zero_point > 127) {
            qs_fail(err, QS_EFORMAT, "value '%s': zero point %d is outside int8",
                    q->values[i].value, (int)im->qp[v].zero_point);
            qimport_unref(im);
            return NULL;
        }
    }
    for (int i = 0; i < q->n_weights; i++) {
        const TflQWeights *w = &q->weights[i];
        int n = graph_find_node(g, w->node);
        if (n < 0)
            continue;
        QImportUnit *u = xcalloc(1, sizeof *u);
        u->oc = w->oc;
        u->k = w->k;
        u->n_scales = w->n_scales;
        u->codes = xmalloc((size_t)(w->oc * w->k));
        memcpy(u->codes, w->codes, (size_t)(w->oc * w->k));
        u->scales = xmalloc((size_t)w->n_scales * sizeof *u->scales);
        memcpy(u->scales, w->scales, (size_t)w->n_scales * sizeof *u->scales);
        if (w->bias) {
            u->bias = xmalloc((size_t)w->oc * sizeof *u->bias);
            memcpy(u->bias, w->bias, (size_t)w->oc * sizeof *u->bias);
        }
        im->unit[n] = u;
    }
    return im;
}

QsStatus tflite_import_plan(const Model *m, const TflImportQuant *q, const char *source,
                            Plan *plan, Calibration *cal, QsError *err)
{
    const Graph *g = &m->graph;
    plan_init(plan, g->n_nodes);
    memset(cal, 0, sizeof *cal);
    plan->mode = tip_mode(q->variant ? q->variant : "fp32");
    int t = q->target[0] ? target_find(q->target) : -1;
    plan->q.target = t >= 0 ? t : QTGT_TFLM;
    bool per_tensor = q->n_weights > 0;
    for (int i = 0; i < q->n_weights; i++)
        per_tensor &= q->weights[i].n_scales == 1;
    plan->q.wgran_tensor = per_tensor;
    if (plan->mode == PREC_INT8_STATIC)
        for (int i = 0; i < q->n_float; i++) {
            int n = graph_find_node(g, q->float_nodes[i]);
            if (n >= 0)
                plan->pin[n] = PREC_FP32;
        }
    cal->n_values = g->n_values;
    cal->stats = xmalloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *cal->stats);
    for (int v = 0; v < g->n_values; v++)
        act_stats_init(&cal->stats[v]);
    cal->ma_momentum = 0.01;
    cal->imported = tip_import(g, q, source, err);
    if (!cal->imported) {
        calib_release(cal);
        plan_release(plan);
        return err->code;
    }
    return QS_OK;
}
