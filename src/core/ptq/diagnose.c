#include "ptq/diagnose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "ops/op.h"
#include "ptq/qerror.h"

const char *const diag_kind_names[DIAG_COUNT] = {
    [DIAG_TENSOR_SCALE] = "per-tensor-scale", [DIAG_WIDE_RANGE] = "wide-range",
    [DIAG_CLIPPED] = "clipped",               [DIAG_ERROR_JUMP] = "error-jump",
    [DIAG_FP16_OVERFLOW] = "fp16-overflow",
};

typedef struct {
    Finding *f;
    int n;
} Findings;

static Finding *add(Findings *fs, DiagKind kind, int node, double severity)
{
    fs->f = xrealloc(fs->f, (size_t)(fs->n + 1) * sizeof *fs->f);
    Finding *f = &fs->f[fs->n++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->node = node;
    f->severity = severity;
    return f;
}

/* Thresholds: a spread of 8 means the widest channel uses 8x the grid of a median one,
 * leaving that channel 3 bits fewer; 30 % of weights at zero is a layer mostly erased. */
#define SPREAD_LIMIT 8.0
#define ZERO_LIMIT 0.30
#define CLIPPED_LIMIT 0.005
#define WIDE_LIMIT 2.0
#define LOCAL_GOOD_DB 30.0
#define JUMP_DB 10.0

static void check_weights(const QModel *qt, const Graph *g, bool per_tensor_now, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *L = qmodel_layer(qt, i);
        if (L->unit != i || L->absorbed || L->n_wscales == 0)
            continue;
        if (L->w_channel_spread >= SPREAD_LIMIT && L->w_zero_fraction >= ZERO_LIMIT) {
            Finding *f = add(fs, DIAG_TENSOR_SCALE, i, L->w_zero_fraction);
            snprintf(f->evidence, sizeof f->evidence,
                     "one output channel spans %.0fx the weight range of the median channel; "
                     "with one scale per tensor %.0f%% of the nonzero weights round to 0",
                     L->w_channel_spread, 100 * L->w_zero_fraction);
            snprintf(f->fix, sizeof f->fix, "%s",
                     per_tensor_now ? "quant wgran=channel (one scale per output channel)"
                                    : "keep wgran=channel (the current plan already is)");
        }
    }
}

static void check_activations(const QModel *q, const Graph *g, const Calibration *cal,
                              Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *L = qmodel_layer(q, i);
        const Node *n = &g->nodes[i];
        if (L->has_act && L->clipped >= CLIPPED_LIMIT) {
            Finding *f = add(fs, DIAG_CLIPPED, i, L->clipped * 10);
            snprintf(f->evidence, sizeof f->evidence,
                     "%.2f%% of the calibrated outputs fall outside the clipping range "
                     "[%.4g, %.4g] (observed [%.4g, %.4g])", 100 * L->clipped, L->clip_lo,
                     L->clip_hi, L->act_min, L->act_max);
            snprintf(f->fix, sizeof f->fix, "quant observer=minmax, or a higher pct (e.g. "
                     "pct=99.999)");
        }
        /* a Relu/Clip that was not fused: its input was quantized over the full range */
        float lo, hi;
        if (op_clamp_range(n, &lo, &hi) && !L->absorbed && n->in[0] >= 0) {
            const ActStats *in = &cal->stats[n->in[0]];
            double kept = fmin(in->max, hi) - fmax(in->min, lo);
            double width = in->max - in->min;
            if (in->count && kept > 0 && width / kept >= WIDE_LIMIT) {
                Finding *f = add(fs, DIAG_WIDE_RANGE, n->in[0] >= 0 && g->values[n->in[0]].producer >= 0
                                                          ? g->values[n->in[0]].producer
                                                          : i,
                                 1.0 - kept / width);
                snprintf(f->evidence, sizeof f->evidence,
                         "its output range [%.4g, %.4g] is %.1fx wider than what the following "
                         "%s '%s' lets through: %.0f%% of the int8 grid is spent on values "
                         "it discards", in->min, in->max, width / kept, op_table[n->op]->name,
                         n->name, 100 * (1.0 - kept / width));
                snprintf(f->fix, sizeof f->fix, "fuse the activation into the layer (make it "
                         "the layer's only reader), or quantize after the activation");
            }
        }
    }
}

static void check_fp16(const Graph *g, const Calibration *cal, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const ActStats *s = &cal->stats[g->nodes[i].out];
        if (s->fp16_overflow > 0 && s->count > 0) {
            Finding *f = add(fs, DIAG_FP16_OVERFLOW, i, 1.0 + s->fp16_overflow / (double)s->count);
            snprintf(f->evidence, sizeof f->evidence,
                     "%.0f calibrated outputs exceed 65504 (max |x| %.4g): FP16 turns them "
                     "into Inf", s->fp16_overflow, fmax(fabs(s->min), fabs(s->max)));
            snprintf(f->fix, sizeof f->fix, "prec %s fp32 (keep it in float32), or rescale "
                     "the layer", g->nodes[i].name);
        }
        for (int k = 1; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v < 0 || g->values[v].kind != VAL_CONST)
                continue;
            const Tensor *w = g->values[v].data;
            double big = 0;
            for (int64_t j = 0; j < tensor_numel(w); j++)
                big = fmax(big, fabs(tensor_f32(w)[j]));
            if (big > HALF_MAX) {
                Finding *f = add(fs, DIAG_FP16_OVERFLOW, i, 2.0);
                snprintf(f->evidence, sizeof f->evidence, "parameter '%s' holds |w| = %.4g > "
                         "65504: FP16 storage makes it Inf", g->values[v].name, big);
                snprintf(f->fix, sizeof f->fix, "prec %s fp32", g->nodes[i].name);
            }
        }
    }
}

static QsStatus check_error_jumps(const Model *m, QModel *q, const Dataset *d, int64_t n,
                                  int batch, const JobCtx *job, Findings *fs, QsError *err)
{
    const Graph *g = &m->graph;
    LayerError *acc = xcalloc((size_t)g->n_nodes, sizeof *acc);
    LayerError *loc = xcalloc((size_t)g->n_nodes, sizeof *loc);
    QsStatus st = qerror_run(m, q, d, n, batch, false, job, acc, err);
    if (!st)
        st = qerror_run(m, q, d, n, batch, true, job, loc, err);
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const Node *nd = &g->nodes[i];
        if (!loc[i].valid || !acc[i].valid || nd->in[0] < 0)
            continue;
        int p = g->values[nd->in[0]].producer;
        double in_db = p >= 0 && acc[p].valid ? layer_error_sqnr_db(&acc[p]) : INFINITY;
        double out_db = layer_error_sqnr_db(&acc[i]), local_db = layer_error_sqnr_db(&loc[i]);
        if (local_db >= LOCAL_GOOD_DB && isfinite(out_db) && in_db - out_db >= JUMP_DB) {
            Finding *f = add(fs, DIAG_ERROR_JUMP, i, (in_db - out_db) / 40.0);
            snprintf(f->evidence, sizeof f->evidence,
                     "alone it is accurate (local SQNR %.1f dB) but the accumulated SQNR falls "
                     "from %.1f dB at its input to %.1f dB at its output: it amplifies the "
                     "error of earlier layers", local_db, in_db, out_db);
            snprintf(f->fix, sizeof f->fix, "look upstream: 'sensitivity', a fallback of the "
                     "layers before it, or bias correction");
        }
    }
    free(acc);
    free(loc);
    return st;
}

static int worst_first(const void *a, const void *b)
{
    const Finding *x = a, *y = b;
    return (x->severity < y->severity) - (x->severity > y->severity);
}

QsStatus diagnose_run(QuantState *qs, const Model *m, const Plan *p, const Dataset *d, int64_t n,
                      int batch, const JobCtx *job, Finding **out, int *n_out, QsError *err)
{
    if (!qs->calibrated)
        return qs_fail(err, QS_EINVAL, "diagnose: run 'calibrate' first");
    const Graph *g = &m->graph;
    Findings fs = { 0 };
    /* Weight findings are about int8 weights, so they are judged on the plan in
     * int8-static when it is not already int8, with its weight granularity. */
    Plan pq;
    plan_copy(&pq, p);
    if (!precision_is_integer(pq.mode))
        pq.mode = PREC_INT8_STATIC;
    QModel *q;
    QsStatus st = qstate_qmodel(qs, m, &pq, NULL, &q, err);
    if (!st) {
        check_weights(q, g, pq.q.wgran_tensor, &fs);
        check_activations(q, g, &qs->calib, &fs);
        check_fp16(g, &qs->calib, &fs);
        if (d)
            st = check_error_jumps(m, q, d, n, batch, job, &fs, err);
    }
    plan_release(&pq);
    if (st) {
        free(fs.f);
        return st;
    }
    qsort(fs.f, (size_t)fs.n, sizeof *fs.f, worst_first);
    *out = fs.f;
    *n_out = fs.n;
    return QS_OK;
}
