#include "ptq/diagnose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "ops/op.h"
#include "ptq/diag_calib.h"
#include "ptq/qerror.h"
#include "ptq/wstats.h"
#include "qexec/qexec_view.h"
#include "quant/observer.h"

const char *const diag_kind_names[DIAG_COUNT] = {
    [DIAG_WEIGHT_LEVELS] = "weight-levels", [DIAG_LOCAL_ERROR] = "local-error",
    [DIAG_WIDE_RANGE] = "wide-range",       [DIAG_CLIPPED] = "clipped",
    [DIAG_ERROR_JUMP] = "error-jump",       [DIAG_FP16_OVERFLOW] = "fp16-overflow",
    [DIAG_COLLAPSE] = "collapse",           [DIAG_RANGE_MOVING] = "range-moving",
    [DIAG_OUTLIER_SAMPLE] = "outlier-sample",
};

/* The plan change a finding's fix makes, when it is one (then it is measured). */
typedef enum {
    FIX_ADVICE = 0,      /* not a plan change: not measured */
    FIX_WGRAN_CHANNEL,   /* one weight scale per output channel on the layer */
    FIX_PIN_FP16,        /* the layer at fp16 */
    FIX_PIN_FP32,        /* the layer at fp32 */
    FIX_OBSERVER_MINMAX, /* the min-max observer for every range */
} FixKind;

typedef struct {
    Finding *f;
    FixKind *fix;        /* [n] */
    int n;
} Findings;

static Finding *add(Findings *fs, DiagKind kind, int node, double severity, FixKind fix)
{
    fs->f = xrealloc(fs->f, (size_t)(fs->n + 1) * sizeof *fs->f);
    fs->fix = xrealloc(fs->fix, (size_t)(fs->n + 1) * sizeof *fs->fix);
    fs->fix[fs->n] = fix;
    Finding *f = &fs->f[fs->n++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->node = node;
    f->severity = severity;
    return f;
}

static Finding *find_kind(Findings *fs, DiagKind kind, int node)
{
    for (int i = 0; i < fs->n; i++)
        if (fs->f[i].kind == kind && fs->f[i].node == node)
            return &fs->f[i];
    return NULL;
}

/* Thresholds (docs/plans.md, "diagnose"):
 * - a channel is starved when its range covers fewer than 16 integer levels (|code| <= 7)
 *   -- or half the levels its bits allow, when that is fewer;
 * - the channels that set a per-tensor scale are those at >= 4x the median channel's max|w|;
 * - a layer's own error is excessive at 6x the floor 1/sqrt(12) steps that rounding its
 *   output alone costs (mnist_dw per channel, `error local`: 0.25-1.07 steps);
 * - 0.5 % of values clipped, a range 2x what the next clip keeps, an accumulated SQNR
 *   falling 10 dB across a layer whose own SQNR is 30 dB. */
#define STARVED_LEVELS 16
#define SETS_SCALE_FACTOR 4.0
#define ROUNDING_FLOOR 0.28867513459481287 /* 1 / sqrt(12) */
#define LOCAL_FACTOR 6.0
#define CLIPPED_LIMIT 0.005
#define WIDE_LIMIT 2.0
#define LOCAL_GOOD_DB 30.0
#define JUMP_DB 10.0

static int by_float_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static float median_absmax(const WStats *ws)
{
    float *v = xmalloc((size_t)ws->oc * sizeof *v);
    int64_t n = 0;
    for (int64_t c = 0; c < ws->oc; c++)
        if (ws->ch[c].absmax > 0.0f)
            v[n++] = ws->ch[c].absmax;
    qsort(v, (size_t)n, sizeof *v, by_float_desc);
    float m = n ? v[n / 2] : 0.0f;
    free(v);
    return m;
}

/* One unit head under a per-tensor scale: the channels its widest channels starve. */
static void check_unit_weights(const Graph *g, const WStats *ws, Findings *fs)
{
    int limit = ws->max_levels / 2 < STARVED_LEVELS ? (ws->max_levels + 1) / 2 : STARVED_LEVELS;
    int64_t starved = 0, active = 0;
    int most_code = 0, fewest = 256, most = 0;
    for (int64_t c = 0; c < ws->oc; c++) {
        const WChannelStats *ch = &ws->ch[c];
        if (ch->absmax <= 0.0f)
            continue; /* a pruned channel loses nothing */
        active++;
        if (2 * ch->max_code + 1 >= limit)
            continue;
        starved++;
        most_code = ch->max_code > most_code ? ch->max_code : most_code;
        fewest = ch->levels < fewest ? ch->levels : fewest;
        most = ch->levels > most ? ch->levels : most;
    }
    if (!starved)
        return;
    Finding *f = add(fs, DIAG_WEIGHT_LEVELS, ws->node, (double)starved / (double)active,
                     FIX_WGRAN_CHANNEL);
    float med = median_absmax(ws);
    for (int64_t i = 0; i < ws->oc && f->n_channels < DIAG_MAX_CHANNELS; i++) {
        int c = ws->by_range[i];
        if (i == 0 || ws->ch[c].absmax >= SETS_SCALE_FACTOR * med)
            f->channels[f->n_channels++] = c;
    }
    const WChannelStats *w = &ws->ch[f->channels[0]];
    int qmax = (ws->max_levels - 1) / 2;
    snprintf(f->evidence, sizeof f->evidence,
             "one weight scale for the tensor, set by channel %d (max |w| %.3g, %.1fx the "
             "median channel): %lld of %lld channels reach at most +-%d of +-%d codes "
             "(%d to %d distinct levels)",
             f->channels[0], w->absmax, med > 0 ? w->absmax / med : INFINITY,
             (long long)starved, (long long)active, most_code, qmax, fewest, most);
    snprintf(f->fix, sizeof f->fix, "quant wgran=channel layer=%s", g->nodes[ws->node].name);
}

static void check_weights(const Graph *g, QModel *q, const Plan *pq, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *L = qmodel_layer(q, i);
        if (L->unit != i || L->absorbed || L->n_wscales != 1)
            continue; /* per-channel scales give every channel its full grid */
        WStats ws;
        QsError e = { 0 };
        if (wstats_for_plan(g, pq, i, &ws, &e))
            continue;
        check_unit_weights(g, &ws, fs);
        wstats_release(&ws);
    }
}

/* Layers whose own error (fed float inputs) is far above what rounding their output costs;
 * on a layer with a weight or clipping finding it becomes that finding's evidence. */
static void check_local_error(const Graph *g, QModel *q, const LayerError *loc, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *L = qmodel_layer(q, i);
        if (!loc[i].valid || !(loc[i].step > 0) || L->unit != i || L->absorbed)
            continue;
        double steps = layer_error_rmse_steps(&loc[i]), ratio = steps / ROUNDING_FLOOR;
        if (!(ratio >= LOCAL_FACTOR))
            continue;
        Finding *w = find_kind(fs, DIAG_WEIGHT_LEVELS, i);
        w = w ? w : find_kind(fs, DIAG_CLIPPED, i);
        if (w) {
            size_t len = strlen(w->evidence);
            snprintf(w->evidence + len, sizeof w->evidence - len, "; alone it errs by %.2f "
                     "output steps RMS, %.0fx the rounding floor", steps, ratio);
            continue;
        }
        bool per_tensor = L->n_wscales == 1;
        Finding *f = add(fs, DIAG_LOCAL_ERROR, i, ratio / (10.0 * LOCAL_FACTOR),
                         per_tensor ? FIX_WGRAN_CHANNEL : FIX_PIN_FP16);
        int n = snprintf(f->evidence, sizeof f->evidence,
                         "alone (fed the float model's input) it errs by %.2f output steps RMS, "
                         "%.1fx the floor 1/sqrt(12) = 0.29 of rounding its output: its weights "
                         "or its input grid lose precision", steps, ratio);
        /* the input grid, so a coarse one (a wide range upstream) shows */
        int v = g->nodes[i].in[0];
        QParams in;
        if (v >= 0 && qmodel_value_qparams(q, v, &in) && n > 0 && n < (int)sizeof f->evidence)
            snprintf(f->evidence + n, sizeof f->evidence - (size_t)n, "; its input step is "
                     "%.3g over [%.3g, %.3g]", in.scale, in.scale * (in.qmin - in.zero_point),
                     in.scale * (in.qmax - in.zero_point));
        if (per_tensor)
            snprintf(f->fix, sizeof f->fix, "quant wgran=channel layer=%s", g->nodes[i].name);
        else
            snprintf(f->fix, sizeof f->fix, "prec %s fp16", g->nodes[i].name);
    }
}

static void check_clipped(const Graph *g, QModel *q, const Plan *pq, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *L = qmodel_layer(q, i);
        if (!L->has_act || L->absorbed || L->clipped < CLIPPED_LIMIT)
            continue; /* an absorbed node's output is its unit's, reported at the head */
        bool minmax = pq->q.observer == OBS_MINMAX;
        Finding *f = add(fs, DIAG_CLIPPED, i, L->clipped * 10,
                         minmax ? FIX_ADVICE : FIX_OBSERVER_MINMAX);
        snprintf(f->evidence, sizeof f->evidence,
                 "%.2f%% of the calibrated outputs fall outside the clipping range "
                 "[%.4g, %.4g] (observed [%.4g, %.4g])", 100 * L->clipped, L->clip_lo,
                 L->clip_hi, L->act_min, L->act_max);
        snprintf(f->fix, sizeof f->fix, "%s", minmax ? "recalibrate on more samples"
                                                     : "quant observer=minmax");
    }
}

/* A Relu/Clip that was not fused: its input was quantized over the full range. */
static void check_wide_ranges(const Graph *g, QModel *q, const Calibration *cal, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *L = qmodel_layer(q, i);
        const Node *n = &g->nodes[i];
        float lo, hi;
        if (!op_clamp_range(n, &lo, &hi) || L->absorbed || n->in[0] < 0)
            continue;
        const ActStats *in = &cal->stats[n->in[0]];
        double kept = fmin(in->max, hi) - fmax(in->min, lo);
        double width = in->max - in->min;
        if (!in->count || !(kept > 0) || width / kept < WIDE_LIMIT)
            continue;
        int producer = g->values[n->in[0]].producer;
        Finding *f = add(fs, DIAG_WIDE_RANGE, producer >= 0 ? producer : i, 1.0 - kept / width,
                         FIX_ADVICE);
        snprintf(f->evidence, sizeof f->evidence,
                 "its output range [%.4g, %.4g] is %.1fx wider than what the following %s "
                 "'%s' lets through: %.0f%% of the int8 grid is spent on values it discards",
                 in->min, in->max, width / kept, op_table[n->op]->name, n->name,
                 100 * (1.0 - kept / width));
        snprintf(f->fix, sizeof f->fix, "fuse the activation into the layer (make it the "
                 "layer's only reader), or quantize after the activation");
    }
}

static void check_fp16(const Graph *g, const Calibration *cal, Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const ActStats *s = &cal->stats[g->nodes[i].out];
        if (s->fp16_overflow > 0 && s->count > 0) {
            Finding *f = add(fs, DIAG_FP16_OVERFLOW, i,
                             1.0 + s->fp16_overflow / (double)s->count, FIX_PIN_FP32);
            snprintf(f->evidence, sizeof f->evidence,
                     "%.0f calibrated outputs exceed 65504 (max |x| %.4g): FP16 turns them "
                     "into Inf", s->fp16_overflow, fmax(fabs(s->min), fabs(s->max)));
            snprintf(f->fix, sizeof f->fix, "prec %s fp32", g->nodes[i].name);
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
                Finding *f = add(fs, DIAG_FP16_OVERFLOW, i, 2.0, FIX_PIN_FP32);
                snprintf(f->evidence, sizeof f->evidence, "parameter '%s' holds |w| = %.4g > "
                         "65504: FP16 storage makes it Inf", g->values[v].name, big);
                snprintf(f->fix, sizeof f->fix, "prec %s fp32", g->nodes[i].name);
            }
        }
    }
}

static void check_error_jumps(const Graph *g, const LayerError *acc, const LayerError *loc,
                              Findings *fs)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *nd = &g->nodes[i];
        if (!loc[i].valid || !acc[i].valid || nd->in[0] < 0)
            continue;
        int p = g->values[nd->in[0]].producer;
        if (p < 0 || !acc[p].valid)
            continue; /* a graph input's own rounding is no earlier layer's error */
        double in_db = layer_error_sqnr_db(&acc[p]);
        double out_db = layer_error_sqnr_db(&acc[i]), local_db = layer_error_sqnr_db(&loc[i]);
        if (local_db >= LOCAL_GOOD_DB && isfinite(out_db) && in_db - out_db >= JUMP_DB) {
            Finding *f = add(fs, DIAG_ERROR_JUMP, i, (in_db - out_db) / 40.0, FIX_ADVICE);
            snprintf(f->evidence, sizeof f->evidence,
                     "alone it is accurate (local SQNR %.1f dB) but the accumulated SQNR falls "
                     "from %.1f dB at its input to %.1f dB at its output: it amplifies the "
                     "error of earlier layers", local_db, in_db, out_db);
            snprintf(f->fix, sizeof f->fix, "look upstream: 'sensitivity', a fallback of the "
                     "layers before it, or bias correction");
        }
    }
}

/* Findings made elsewhere (diag_*.h), all advice: appended. */
static void add_found(Findings *fs, const Finding *found, int n)
{
    for (int i = 0; i < n; i++)
        *add(fs, found[i].kind, found[i].node, found[i].severity, FIX_ADVICE) = found[i];
}

/* The collapse check, on the same split, with the accumulated errors. */
static QsStatus check_collapse(const SensContext *c, QModel *q, const LayerError *acc,
                               const Plan *pq, Findings *fs, CollapseStats *cs, QsError *err)
{
    Finding f;
    if (diag_collapse_run(c, q, acc, cs, err))
        return err->code;
    if (diag_collapse_finding(&c->m->graph, cs, plan_label(pq), &f))
        add_found(fs, &f, 1);
    return QS_OK;
}

static QsStatus check_calibration(const SensContext *c, QModel *q, const Plan *pq,
                                  Findings *fs, QsError *err)
{
    Finding *found;
    int n;
    if (diag_calib_run(&c->m->graph, q, pq, &c->qs->calib, c->calib_d, c->qs->calib_split,
                       c->batch, c->job, &found, &n, err))
        return err->code;
    add_found(fs, found, n);
    free(found);
    return QS_OK;
}

/* The rules that need data: accumulated and local error over the split. */
static QsStatus check_errors(const SensContext *c, QModel *q, const Plan *pq, Findings *fs,
                             CollapseStats *cs, QsError *err)
{
    const Graph *g = &c->m->graph;
    LayerError *acc = xcalloc((size_t)g->n_nodes, sizeof *acc);
    LayerError *loc = xcalloc((size_t)g->n_nodes, sizeof *loc);
    int64_t len = dataset_len(c->d), n = c->n > 0 && c->n < len ? c->n : len;
    QsStatus st = qerror_run(c->m, q, c->d, n, c->batch, false, c->job, acc, err);
    if (!st)
        st = qerror_run(c->m, q, c->d, n, c->batch, true, c->job, loc, err);
    if (!st) {
        check_local_error(g, q, loc, fs);
        check_error_jumps(g, acc, loc, fs);
        st = check_collapse(c, q, acc, pq, fs, cs, err);
    }
    free(acc);
    free(loc);
    return st;
}

/* The plan a fix makes of pq (fixed is initialised here). */
static void fix_plan(const Plan *pq, FixKind k, int node, Plan *fixed)
{
    plan_copy(fixed, pq);
    switch (k) {
    case FIX_WGRAN_CHANNEL:
        fixed->wgran[node] = 0;
        break;
    case FIX_PIN_FP16:
        fixed->pin[node] = PREC_FP16;
        break;
    case FIX_PIN_FP32:
        fixed->pin[node] = PREC_FP32;
        break;
    case FIX_OBSERVER_MINMAX:
        fixed->q.observer = OBS_MINMAX;
        break;
    case FIX_ADVICE:
        break;
    }
}

/* Scores the judged plan, the float model and every fix that is a plan change. */
static QsStatus measure(const SensContext *c, DiagReport *r, Findings *fs, QsError *err)
{
    Plan fp32;
    plan_init(&fp32, r->judged.n_nodes);
    QsStatus st = sens_score(c, &r->judged, &r->base_metric, NULL, err);
    if (!st)
        st = sens_score(c, &fp32, &r->fp32_metric, NULL, err);
    plan_release(&fp32);
    for (int i = 0; i < fs->n && !st; i++) {
        Finding *f = &fs->f[i];
        if (fs->fix[i] == FIX_ADVICE)
            continue;
        /* the same plan change was measured already (a global one: for any layer) */
        int same = -1;
        for (int j = 0; j < i && same < 0; j++)
            if (fs->f[j].measured && fs->fix[j] == fs->fix[i] &&
                (fs->fix[i] == FIX_OBSERVER_MINMAX || fs->f[j].node == f->node))
                same = j;
        if (same >= 0) {
            f->metric = fs->f[same].metric;
        } else {
            Plan fixed;
            fix_plan(&r->judged, fs->fix[i], f->node, &fixed);
            st = sens_score(c, &fixed, &f->metric, NULL, err);
            plan_release(&fixed);
        }
        f->measured = !st;
        f->gain = -sens_drop(c->task, r->base_metric, f->metric);
    }
    return st;
}

/* Measured fixes that gain, largest gain first, then the rest by severity. */
static int worst_first(const void *a, const void *b)
{
    const Finding *x = a, *y = b;
    bool gx = x->measured && x->gain > 0, gy = y->measured && y->gain > 0;
    if (gx != gy)
        return gx ? -1 : 1;
    if (gx)
        return (x->gain < y->gain) - (x->gain > y->gain);
    return (x->severity < y->severity) - (x->severity > y->severity);
}

QsStatus diagnose_run(const SensContext *c, const Plan *p, DiagReport *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    if (!c->qs->calibrated)
        return qs_fail(err, QS_EINVAL, "diagnose: run 'calibrate' first");
    const Graph *g = &c->m->graph;
    Findings fs = { 0 };
    plan_copy(&out->judged, p);
    if (qstate_plan_is_float(p))
        out->judged.mode = PREC_INT8_STATIC;
    const Plan *pq = &out->judged;
    QModel *q;
    QsStatus st = qstate_qmodel(c->qs, c->m, pq, NULL, &q, err);
    if (!st) {
        check_weights(g, q, pq, &fs);
        check_clipped(g, q, pq, &fs);
        check_wide_ranges(g, q, &c->qs->calib, &fs);
        check_fp16(g, &c->qs->calib, &fs);
        if (c->d && dataset_len(c->d) > 0)
            st = check_errors(c, q, pq, &fs, &out->collapse, err);
        if (!st && c->calib_d)
            st = check_calibration(c, q, pq, &fs, err);
    }
    /* q may be evicted from the cache by the scoring below: not used after this point */
    out->scored = c->d && c->d->y && dataset_len(c->d) > 0;
    if (!st && out->scored)
        st = measure(c, out, &fs, err);
    free(fs.fix);
    out->f = fs.f;
    out->n = fs.n;
    if (st) {
        diagnose_release(out);
        return st;
    }
    if (out->n > 1)
        qsort(out->f, (size_t)out->n, sizeof *out->f, worst_first);
    return QS_OK;
}

void diagnose_release(DiagReport *r)
{
    free(r->f);
    plan_release(&r->judged);
    memset(r, 0, sizeof *r);
}
