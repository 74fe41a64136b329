/* diagnose's collapse check (diag_collapse.h): class shares and entropies of the float and
 * quantized outputs, and the clipping calibration's ranges cause on the split. */
#include "ptq/diag_collapse.h"

#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/walk.h"
#include "kern/fmath.h"
#include "ops/op.h"
#include "ptq/diag_calib.h"
#include "ptq/diagnose.h"
#include "qexec/qexec_view.h"
#include "run/exec.h"

#define EXPLODE_DB 10.0

typedef struct {
    const Graph *g;
    int C;
    bool probs;             /* the output is a Softmax's: entropy of the normalised values */
    int64_t *votes[2];      /* [C] top-1 counts: float, quantized */
    double entropy[2];      /* sums over samples */
    int64_t samples;
    /* clipping on the split, per node whose output is a quantized unit's */
    bool *graded;           /* [n_nodes] */
    float *lo, *hi;         /* [n_nodes] the grid's ends widened by half a step */
    int64_t *outside, *seen;
} CollapseWalk;

static int row_top1(const float *row, int C)
{
    int best = 0;
    for (int j = 1; j < C; j++)
        if (row[j] > row[best] || (isnan(row[best]) && !isnan(row[j])))
            best = j;
    return best;
}

/* Entropy in nats of softmax(row), or of row normalised when it holds probabilities;
 * non-finite entries are left out. */
static double row_entropy(const float *row, int C, bool probs)
{
    double m = -INFINITY, sum = 0, h = 0;
    if (probs) {
        for (int j = 0; j < C; j++)
            sum += isfinite(row[j]) && row[j] > 0 ? row[j] : 0.0;
        if (!(sum > 0))
            return 0.0;
        for (int j = 0; j < C; j++)
            if (isfinite(row[j]) && row[j] > 0) {
                double p = row[j] / sum;
                h -= p * fm_log(p);
            }
        return h;
    }
    for (int j = 0; j < C; j++)
        if (isfinite(row[j]) && row[j] > m)
            m = row[j];
    if (!isfinite(m))
        return 0.0;
    double dot = 0; /* H = log Z - sum p (z - m), Z = sum e^(z - m) */
    for (int j = 0; j < C; j++)
        if (isfinite(row[j])) {
            double e = fm_exp(row[j] - m);
            sum += e;
            dot += e * (row[j] - m);
        }
    return fm_log(sum) - dot / sum;
}

static void count_rows(CollapseWalk *cw, int which, const Tensor *out, int64_t n)
{
    const float *x = tensor_f32(out);
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * cw->C;
        cw->votes[which][row_top1(row, cw->C)]++;
        cw->entropy[which] += row_entropy(row, cw->C, cw->probs);
    }
}

static void collapse_tap(void *user, int node, const Tensor *out)
{
    CollapseWalk *cw = user;
    if (!cw->graded[node] || out->dtype != DT_F32)
        return;
    const float *x = tensor_f32(out);
    int64_t n = tensor_numel(out), k = 0;
    float lo = cw->lo[node], hi = cw->hi[node];
    for (int64_t i = 0; i < n; i++)
        k += x[i] < lo || x[i] > hi;
    cw->outside[node] += k;
    cw->seen[node] += n;
}

static QsStatus collapse_batch(void *user, WalkBatch *b, QsError *err)
{
    CollapseWalk *cw = user;
    const Tensor *f = b->out[0], *q = b->out2[0];
    if (f->dtype != DT_F32 || q->dtype != DT_F32 || tensor_numel(f) != b->n * cw->C ||
        tensor_numel(q) != b->n * cw->C)
        return qs_fail(err, QS_ESHAPE, "collapse check: the output is not %d classes per "
                       "sample", cw->C);
    count_rows(cw, 0, f, b->n);
    count_rows(cw, 1, q, b->n);
    cw->samples += b->n;
    return QS_OK;
}

/* Which nodes end a quantized unit, and their grids widened by half a step (a value within
 * half a step of an end rounds to it: not clipped). */
static void collapse_grids(const Graph *g, QModel *q, CollapseWalk *cw)
{
    for (int i = 0; i < g->n_nodes; i++) {
        QParams qp;
        if (!diag_quantized_output(q, g, i) || !qmodel_value_qparams(q, g->nodes[i].out, &qp))
            continue;
        cw->graded[i] = true;
        cw->lo[i] = qp.scale * ((float)(qp.qmin - qp.zero_point) - 0.5f);
        cw->hi[i] = qp.scale * ((float)(qp.qmax - qp.zero_point) + 0.5f);
    }
}

/* Units are judged at their tails (what the next unit reads), against the tail of the unit
 * that feeds the head; the layer named is the head. */
static void collapse_explode(const Graph *g, QModel *q, const LayerError *acc,
                             CollapseStats *s)
{
    int worst = -1;
    double worst_fall = 0, worst_in = 0, worst_out = 0;
    for (int k = 0; k < g->n_nodes && acc; k++) {
        int i = g->order[k], head = qmodel_layer(q, i)->unit;
        if (head < 0 || qmodel_unit_tail(q, head) != i || !acc[i].valid ||
            g->nodes[head].in[0] < 0)
            continue;
        int p = g->values[g->nodes[head].in[0]].producer;
        double in_db = p >= 0 && acc[p].valid ? layer_error_sqnr_db(&acc[p]) : INFINITY;
        double out_db = layer_error_sqnr_db(&acc[i]);
        if (in_db >= EXPLODE_DB && out_db < EXPLODE_DB) {
            s->explode_node = head;
            s->explode_in_db = in_db;
            s->explode_out_db = out_db;
            return;
        }
        double fall = isfinite(in_db) ? in_db - out_db : 0;
        if (fall > worst_fall) {
            worst = head;
            worst_fall = fall;
            worst_in = in_db;
            worst_out = out_db;
        }
    }
    if (worst >= 0) {
        s->explode_node = worst;
        s->explode_in_db = worst_in;
        s->explode_out_db = worst_out;
    }
}

static void collapse_judge(const CollapseWalk *cw, CollapseStats *s)
{
    for (int w = 0; w < 2; w++) {
        int top = 0;
        for (int j = 1; j < cw->C; j++)
            if (cw->votes[w][j] > cw->votes[w][top])
                top = j;
        double share = (double)cw->votes[w][top] / (double)cw->samples;
        double h = cw->entropy[w] / (double)cw->samples;
        *(w ? &s->top_class : &s->top_class_fp32) = top;
        *(w ? &s->top_share : &s->top_share_fp32) = share;
        *(w ? &s->entropy : &s->entropy_fp32) = h;
    }
    s->one_class = s->top_share >= COLLAPSE_TOP_SHARE &&
                   s->top_share - s->top_share_fp32 >= COLLAPSE_TOP_GAIN;
    s->entropy_low = s->entropy < COLLAPSE_ENTROPY_RATIO * s->entropy_fp32 &&
                     s->entropy_fp32 - s->entropy >= COLLAPSE_ENTROPY_FLOOR * fm_log(cw->C);
    s->collapsed = s->one_class || s->entropy_low;
    for (int i = 0; i < cw->g->n_nodes; i++) {
        double share = cw->seen[i] ? (double)cw->outside[i] / (double)cw->seen[i] : 0;
        if (cw->graded[i] && share > s->clipped_share) {
            s->clipped_node = i;
            s->clipped_share = share;
            s->clip_lo = cw->lo[i];
            s->clip_hi = cw->hi[i];
        }
    }
}

static void collapse_walk_free(CollapseWalk *cw)
{
    free(cw->votes[0]);
    free(cw->votes[1]);
    free(cw->graded);
    free(cw->lo);
    free(cw->hi);
    free(cw->outside);
    free(cw->seen);
}

QsStatus diag_collapse_run(const SensContext *c, QModel *q, const LayerError *acc,
                           CollapseStats *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    out->explode_node = out->clipped_node = -1;
    const Graph *g = &c->m->graph;
    int64_t len = c->d ? dataset_len(c->d) : 0;
    if (!task_table[c->task].class_labels || len < 1 || g->n_outputs < 1)
        return QS_OK;
    const Shape *os = &g->values[g->outputs[0]].shape;
    int64_t C = os->ndim == 2 ? os->dim[1] : 0;
    if (C < 2 || C > (1 << 20))
        return QS_OK; /* not one row of class scores per sample */
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
    int producer = g->values[g->outputs[0]].producer;
    CollapseWalk cw = { .g = g, .C = (int)C,
                        .probs = producer >= 0 && g->nodes[producer].op == OP_SOFTMAX,
                        .votes = { xcalloc((size_t)C, sizeof(int64_t)),
                                   xcalloc((size_t)C, sizeof(int64_t)) },
                        .graded = xcalloc(nn, sizeof(bool)), .lo = xcalloc(nn, sizeof(float)),
                        .hi = xcalloc(nn, sizeof(float)), .outside = xcalloc(nn, sizeof(int64_t)),
                        .seen = xcalloc(nn, sizeof(int64_t)) };
    collapse_grids(g, q, &cw);
    FloatExec *f;
    Executor ex = exec_float_new(g, &f), ex2 = qmodel_executor(q);
    Walk w = { .ex = &ex, .tap = collapse_tap, .tap_user = &cw, .ex2 = &ex2,
               .batch = collapse_batch, .user = &cw, .job = c->job, .what = "diagnose",
               .phase = "collapse check" };
    QsStatus st = walk_split(&w, c->d, c->n > 0 && c->n < len ? c->n : len, c->batch, err);
    exec_float_free(f);
    if (!st && cw.samples > 0) {
        out->checked = true;
        out->n_classes = (int)C;
        out->samples = cw.samples;
        collapse_judge(&cw, out);
        collapse_explode(g, q, acc, out);
    }
    collapse_walk_free(&cw);
    return st;
}

bool diag_collapse_finding(const Graph *g, const CollapseStats *s, const char *plan,
                           Finding *f)
{
    if (!s->checked || !s->collapsed)
        return false;
    memset(f, 0, sizeof *f);
    f->kind = DIAG_COLLAPSE;
    f->node = s->explode_node >= 0 ? s->explode_node
                                   : g->values[g->outputs[0]].producer;
    f->severity = 10.0 + s->top_share; /* before any unmeasured finding */
    f->channels[f->n_channels++] = s->top_class;
    int n = snprintf(f->evidence, sizeof f->evidence,
                     "%s predicts class %d for %.1f%% of the %lld samples (the float model's "
                     "most frequent class, %d, %.1f%%); mean softmax entropy %.3g nats against "
                     "%.3g for the float model", plan, s->top_class, 100 * s->top_share,
                     (long long)s->samples, s->top_class_fp32, 100 * s->top_share_fp32,
                     s->entropy, s->entropy_fp32);
    if (s->explode_node >= 0 && n > 0 && n < (int)sizeof f->evidence)
        n += snprintf(f->evidence + n, sizeof f->evidence - (size_t)n, "; the error first "
                      "explodes here (accumulated SQNR %.1f dB at its input, %.1f dB at its "
                      "unit's output)", s->explode_in_db, s->explode_out_db);
    bool clipped = s->clipped_node >= 0 && s->clipped_share >= COLLAPSE_CLIPPED;
    if (clipped && n > 0 && n < (int)sizeof f->evidence)
        snprintf(f->evidence + n, sizeof f->evidence - (size_t)n, "; %.1f%% of %s's float "
                 "outputs on the split fall outside its calibrated grid [%.4g, %.4g]",
                 100 * s->clipped_share, g->nodes[s->clipped_node].name, s->clip_lo,
                 s->clip_hi);
    if (clipped)
        snprintf(f->fix, sizeof f->fix, "recalibrate on more, representative samples "
                 "('convergence' shows whether the ranges settled)");
    else
        snprintf(f->fix, sizeof f->fix, "look at %s: 'error', 'hist %s act'",
                 g->nodes[f->node].name, g->nodes[f->node].name);
    return true;
}
