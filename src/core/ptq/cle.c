/* Cross-layer equalization (cle.h). The pairs are found on the float graph, the Clip
 * channels' pre-activation maxima and the reference outputs come from one float pass, the
 * weights are rescaled in sweeps, and a second float pass verifies the function; any
 * failure restores every tensor that was touched. */
#include "ptq/cle.h"
#include "eval/eval.h"
#include "eval/walk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"
#include "graph/linear_unit.h"
#include "ops/op.h"
#include "run/run.h"

/* A scale factor closer to 1 than this (in log) is not applied: the channel is equal. */
#define CLE_MOVE_TOL 1e-6

enum { CH_FREE = 0, CH_LEFT };

typedef struct Pair {
    ClePair r;
    int wa, ba;            /* A's weight and bias values (ba -1: none) */
    int gamma, beta;       /* A's BatchNorm scale and bias values (bn >= 0) */
    int wb;                /* B's weight value */
    int bn_b;              /* a BatchNorm after B, for its folded ranges; -1 */
    int pre;               /* the value the activation reads */
    int axis;              /* its channel axis: 1 (conv) or last (dense) */
    double *maxv;          /* [channels] calibrated pre-activation maxima (finite clip) */
    unsigned char *state;  /* [channels] CH_* */
} Pair;

/* Node inputs reading v, plus 1000 when v is a graph output; *last: the last reader. */
static int cle_readers(const Graph *g, int v, int *last)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v) {
                count++;
                if (last)
                    *last = i;
            }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            count += 1000;
    return count;
}

static int cle_sole_reader(const Graph *g, int v)
{
    int r = -1;
    return cle_readers(g, v, &r) == 1 ? r : -1;
}

static bool cle_const_f32(const Graph *g, int v)
{
    return v >= 0 && g->values[v].kind == VAL_CONST && g->values[v].data->dtype == DT_F32;
}

/* A constant this transform may rewrite: f32 and read by one node input only. */
static bool cle_own_const(const Graph *g, int v)
{
    return cle_const_f32(g, v) && cle_readers(g, v, NULL) == 1;
}

static float *cle_f32(const Graph *g, int v) { return tensor_f32(g->values[v].data); }

/* A Conv or Dense unit head whose weights (and bias) only it reads; *oc its output
 * channels. */
static bool cle_linear(const Graph *g, int node, int64_t *oc)
{
    const Node *n = &g->nodes[node];
    LinearUnit u;
    int bias = n->n_in > 2 ? n->in[2] : -1;
    if (!linear_head(g, node, &u) || u.kind == LU_GEMM || u.kind == LU_MATMUL ||
        !cle_own_const(g, n->in[1]) || (bias >= 0 && !cle_own_const(g, bias)))
        return false;
    *oc = u.oc;
    return true;
}

/* The BatchNormalization that alone reads linear node's output and folds into it, else -1. */
static int cle_bn_after(const Graph *g, int node)
{
    int r = cle_sole_reader(g, g->nodes[node].out);
    LinearUnit u;
    return r >= 0 && linear_head(g, node, &u) && linear_bn_folds(g, &u, r) ? r : -1;
}

/* The BatchNorm's folding factor of channel c: gamma / sqrt(var + eps). */
static double cle_bn_factor(const Graph *g, int bn, int64_t c)
{
    if (bn < 0)
        return 1.0;
    const Node *b = &g->nodes[bn];
    double eps = linear_bn_epsilon(b);
    return cle_f32(g, b->in[1])[c] / sqrt((double)cle_f32(g, b->in[4])[c] + eps);
}

/* The activation between the pair: Relu, LeakyRelu or Clip(0, c); *clip = c (Inf: none). */
static bool cle_act(const Graph *g, int node, int v, double *clip)
{
    const Node *n = &g->nodes[node];
    if (n->n_in != 1 || n->in[0] != v)
        return false;
    *clip = INFINITY;
    if (n->op == OP_LEAKYRELU)
        return true;
    float lo, hi;
    if (!op_clamp_range(n, &lo, &hi) || lo != 0.0f || !(hi > 0.0f))
        return false;
    *clip = hi; /* Relu: Inf */
    return true;
}

/* Finds the pair that starts at node a; fills p (maxv and state unset). */
static bool cle_pair_at(const Graph *g, int a, Pair *p)
{
    int64_t oc, ocb;
    if (!cle_linear(g, a, &oc))
        return false;
    const Node *na = &g->nodes[a];
    memset(p, 0, sizeof *p);
    p->r.first = a;
    p->r.channels = oc;
    p->wa = na->in[1];
    p->ba = na->n_in > 2 ? na->in[2] : -1;
    p->r.bn = cle_bn_after(g, a);
    p->pre = na->out;
    if (p->r.bn >= 0) {
        const Node *b = &g->nodes[p->r.bn];
        p->gamma = b->in[1];
        p->beta = b->in[2];
        /* the BN's scale and bias are rewritten: nothing else may read them */
        if (cle_readers(g, p->gamma, NULL) != 1 || cle_readers(g, p->beta, NULL) != 1)
            return false;
        p->pre = b->out;
    }
    int act = cle_sole_reader(g, p->pre);
    if (act < 0 || !cle_act(g, act, p->pre, &p->r.clip))
        return false;
    p->r.act = act;
    int bnode = cle_sole_reader(g, g->nodes[act].out);
    if (bnode < 0 || g->nodes[bnode].in[0] != g->nodes[act].out || !cle_linear(g, bnode, &ocb) ||
        g->nodes[bnode].op != na->op)
        return false;
    const Shape *wb = &g->values[g->nodes[bnode].in[1]].shape;
    if (na->op == OP_CONV) {
        int64_t group = g->nodes[bnode].params.win.group;
        if (group < 1 || wb->dim[1] * group != oc || ocb % group != 0)
            return false;
    } else if (wb->dim[1] != oc) {
        return false;
    }
    p->r.second = bnode;
    p->wb = g->nodes[bnode].in[1];
    p->bn_b = cle_bn_after(g, bnode);
    const Shape *ps = &g->values[p->pre].shape;
    p->axis = na->op == OP_CONV ? 1 : ps->ndim - 1;
    return true;
}

/* ---- ranges ---------------------------------------------------------------------------- */

/* max |w| of A's output channel i, BatchNorm folded. */
static double cle_range_out(const Graph *g, const Pair *p, int64_t i)
{
    const Tensor *w = g->values[p->wa].data;
    int64_t k = tensor_numel(w) / p->r.channels;
    const float *row = tensor_f32(w) + i * k;
    double mx = 0;
    for (int64_t j = 0; j < k; j++)
        mx = fabs(row[j]) > mx ? fabs(row[j]) : mx;
    return mx * fabs(cle_bn_factor(g, p->r.bn, i));
}

/* Calls fn on every weight of B that reads input channel i (with its output channel). */
typedef void (*CleVisit)(float *w, int64_t o, void *user);

static void cle_visit_in(const Graph *g, const Pair *p, int64_t i, CleVisit fn, void *user)
{
    const Node *b = &g->nodes[p->r.second];
    Tensor *w = g->values[p->wb].data;
    float *wv = tensor_f32(w);
    int64_t ocb = w->shape.dim[0];
    if (b->op == OP_DENSE) {
        int64_t in = w->shape.dim[1];
        for (int64_t o = 0; o < ocb; o++)
            fn(&wv[o * in + i], o, user);
        return;
    }
    int64_t group = b->params.win.group, cg = w->shape.dim[1];
    int64_t ocg = ocb / group, inner = shape_span(&w->shape, 2, w->shape.ndim);
    int64_t gi = i / cg, j = i % cg;
    for (int64_t o = gi * ocg; o < (gi + 1) * ocg; o++)
        for (int64_t t = 0; t < inner; t++)
            fn(&wv[(o * cg + j) * inner + t], o, user);
}

typedef struct {
    const Graph *g;
    int bn;
    double mx;
    double s;
} CleAcc;

static void cle_max_visit(float *w, int64_t o, void *user)
{
    CleAcc *a = user;
    double v = fabs(*w * cle_bn_factor(a->g, a->bn, o));
    a->mx = v > a->mx ? v : a->mx;
}

static void cle_scale_visit(float *w, int64_t o, void *user)
{
    (void)o;
    *w = (float)(*w * ((CleAcc *)user)->s);
}

/* max |w| of B's input channel i, B's own BatchNorm folded. */
static double cle_range_in(const Graph *g, const Pair *p, int64_t i)
{
    CleAcc a = { .g = g, .bn = p->bn_b };
    cle_visit_in(g, p, i, cle_max_visit, &a);
    return a.mx;
}

static int cle_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* `layers`' w_spread of a Conv/Dense with an optional BatchNorm folded: the largest
 * per-output-channel range (max - min) over the median one. */
static double cle_spread(const Graph *g, int node, int bn)
{
    const Tensor *w = g->values[g->nodes[node].in[1]].data;
    int64_t oc = w->shape.dim[0], k = tensor_numel(w) / oc;
    double *range = xmalloc((size_t)oc * sizeof *range);
    for (int64_t c = 0; c < oc; c++) {
        double a = cle_bn_factor(g, bn, c), lo = INFINITY, hi = -INFINITY;
        for (int64_t j = 0; j < k; j++) {
            double v = (double)(float)(tensor_f32(w)[c * k + j] * a);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        range[c] = hi - lo;
    }
    qsort(range, (size_t)oc, sizeof *range, cle_cmp_double);
    double med = oc % 2 ? range[oc / 2] : 0.5 * (range[oc / 2 - 1] + range[oc / 2]);
    double top = range[oc - 1];
    free(range);
    return med > 0 ? top / med : top > 0 ? INFINITY : 1.0;
}

/* ---- the rewrite ------------------------------------------------------------------------- */

/* One sweep over pair p; returns the largest |log s| applied. */
static double cle_sweep_pair(Graph *g, Pair *p, double headroom)
{
    ClePair *r = &p->r;
    r->equalized = r->limited = r->left = r->zero = 0;
    double moved = 0;
    for (int64_t i = 0; i < r->channels; i++) {
        if (p->state && p->state[i] == CH_LEFT) {
            r->left++;
            continue;
        }
        double r1 = cle_range_out(g, p, i), r2 = cle_range_in(g, p, i);
        if (!(r1 > 0) || !(r2 > 0) || !isfinite(r1) || !isfinite(r2)) {
            r->zero++;
            continue;
        }
        double s = sqrt(r1 / r2);
        bool limited = false;
        if (isfinite(r->clip)) {
            double mx = p->maxv[i] * headroom, c = r->clip;
            if (mx > c) { /* clipped on the calibration data: no scale keeps the function */
                p->state[i] = CH_LEFT;
                r->left++;
                continue;
            }
            if (mx > c * s) {
                s = mx / c;
                limited = true;
            }
        }
        if (limited)
            r->limited++;
        else
            r->equalized++;
        if (fabs(fm_log(s)) < CLE_MOVE_TOL)
            continue;
        if (r->bn >= 0) {
            float *gamma = cle_f32(g, p->gamma), *beta = cle_f32(g, p->beta);
            gamma[i] = (float)(gamma[i] / s);
            beta[i] = (float)(beta[i] / s);
        } else {
            const Tensor *w = g->values[p->wa].data;
            int64_t k = tensor_numel(w) / r->channels;
            float *row = tensor_f32(w) + i * k;
            for (int64_t j = 0; j < k; j++)
                row[j] = (float)(row[j] / s);
            if (p->ba >= 0)
                cle_f32(g, p->ba)[i] = (float)(cle_f32(g, p->ba)[i] / s);
        }
        CleAcc a = { .s = s };
        cle_visit_in(g, p, i, cle_scale_visit, &a);
        if (p->maxv)
            /* a limited channel's maximum now sits at the clip; keep it exactly there so
             * float rounding cannot call it clipped in the next sweep */
            p->maxv[i] = limited ? r->clip / headroom : p->maxv[i] / s;
        moved = fabs(fm_log(s)) > moved ? fabs(fm_log(s)) : moved;
    }
    return moved;
}

/* ---- float passes ------------------------------------------------------------------------ */

typedef struct CleTap {
    const Graph *g;
    Pair *pairs;
    const int *pair_of;    /* [n_nodes] the Clip pair whose pre-activation node i makes, -1 */
} CleTap;

static void cle_tap(void *user, int node, const Tensor *t)
{
    CleTap *c = user;
    int k = c->pair_of[node];
    if (k < 0)
        return;
    Pair *p = &c->pairs[k];
    const float *v = tensor_f32(t);
    int64_t n = tensor_numel(t), inner = shape_span(&t->shape, p->axis + 1, t->shape.ndim);
    for (int64_t i = 0; i < n; i++) {
        int64_t ch = (i / inner) % p->r.channels;
        if (v[i] > p->maxv[ch])
            p->maxv[ch] = v[i];
    }
}

typedef struct ClePass {
    int n_outputs;
    float *cur;            /* where the next batch's outputs go (or are compared) */
    double *diff;          /* NULL: copy the outputs */
} ClePass;

static QsStatus cle_pass_batch(void *user, WalkBatch *b, QsError *err)
{
    (void)err;
    ClePass *c = user;
    for (int k = 0; k < c->n_outputs; k++) {
        const Tensor *o = b->out[k];
        const float *y = tensor_f32(o);
        float *cur = c->cur;
        int64_t m = tensor_numel(o);
        if (!c->diff) {
            memcpy(cur, y, (size_t)m * sizeof *cur);
        } else {
            double *diff = c->diff;
            for (int64_t i = 0; i < m && !isnan(*diff); i++) {
                if (isnan(y[i]) && isnan(cur[i]))
                    continue;
                double dv = fabs((double)y[i] - cur[i]);
                *diff = !(dv <= *diff) ? dv : *diff; /* NaN against a number: NaN sticks */
            }
        }
        c->cur += m;
    }
    return QS_OK;
}

/* Runs the float model over samples [0, n) of d and copies the outputs into out (or compares them with
 * out: *diff = max |y - out|). */
static QsStatus cle_pass(const Graph *g, const Dataset *d, int64_t n, int batch, CleTap *tap,
                         float *out, double *diff, const JobCtx *job, double frac0,
                         QsError *err)
{
    FloatExec *f;
    Executor ex = exec_float_new(g, &f);
    ClePass c = { .n_outputs = g->n_outputs, .cur = out, .diff = diff };
    Walk w = { .ex = &ex, .tap = tap ? cle_tap : NULL, .tap_user = tap, .batch = cle_pass_batch,
               .user = &c, .job = job, .what = "cross-layer equalization", .phase = "cle",
               .frac0 = frac0, .span = 0.5 };
    QsStatus st = walk_split(&w, d, n, batch, err);
    exec_float_free(f);
    return st;
}

QsStatus cle_run(Model *m, const Dataset *d, int64_t n, int batch, int iters, double headroom,
                 const JobCtx *job, CleReport *rep, QsError *err)
{
    Graph *g = &m->graph;
    memset(rep, 0, sizeof *rep);
    if (!d || d->n_x == 0)
        return qs_fail(err, QS_EINVAL, "cle: calibration samples are needed");
    if (eval_check_inputs(g, d, err))
        return qs_error_prefix(err, "cle"), err->code;
    if (batch < 1 || iters < 1)
        return qs_fail(err, QS_EINVAL, "cle: batch %d and iters %d must be at least 1", batch,
                       iters);
    if (!(headroom >= 1.0) || !isfinite(headroom))
        return qs_fail(err, QS_EINVAL, "cle: headroom %g must be at least 1", headroom);
    if (n <= 0 || n > dataset_len(d))
        n = dataset_len(d);
    if (n < 1)
        return qs_fail(err, QS_EINVAL, "cle: the split is empty");
    int nn = g->n_nodes, np = 0;
    Pair *pairs = xcalloc((size_t)(nn ? nn : 1), sizeof *pairs);
    for (int k = 0; k < nn; k++)
        if (cle_pair_at(g, g->order[k], &pairs[np]))
            np++;
    if (np == 0) {
        free(pairs);
        return QS_OK;
    }
    int *pair_of = xmalloc((size_t)nn * sizeof *pair_of);
    for (int i = 0; i < nn; i++)
        pair_of[i] = -1;
    for (int k = 0; k < np; k++) {
        Pair *p = &pairs[k];
        p->r.spread_first[0] = cle_spread(g, p->r.first, p->r.bn);
        p->r.spread_second[0] = cle_spread(g, p->r.second, p->bn_b);
        if (!isfinite(p->r.clip))
            continue;
        p->maxv = xmalloc((size_t)p->r.channels * sizeof *p->maxv);
        p->state = xcalloc((size_t)p->r.channels, 1);
        for (int64_t i = 0; i < p->r.channels; i++)
            p->maxv[i] = -INFINITY;
        pair_of[g->values[p->pre].producer] = k;
    }
    /* the reference outputs of the float model, for the verification */
    size_t per_out = 0, total = 0;
    for (int k = 0; k < g->n_outputs; k++)
        per_out += (size_t)shape_span(&g->values[g->outputs[k]].shape, 1,
                                      g->values[g->outputs[k]].shape.ndim);
    float *ref = NULL;
    Tensor **saved = xcalloc((size_t)g->n_values, sizeof *saved);
    QsStatus st = QS_OK;
    if (__builtin_mul_overflow(per_out, (size_t)n, &total) ||
        __builtin_mul_overflow(total, sizeof(float), &total) || !(ref = malloc(total ? total : 1)))
        st = qs_fail(err, QS_ENOMEM, "cle: cannot allocate %zu bytes of reference outputs",
                     total);
    CleTap tap = { .g = g, .pairs = pairs, .pair_of = pair_of };
    if (!st)
        st = cle_pass(g, d, n, batch, &tap, ref, NULL, job, 0.0, err);
    /* keep a copy of everything the sweeps may write, to undo */
    for (int k = 0; k < np && !st; k++) {
        Pair *p = &pairs[k];
        int vs[4] = { p->wa, p->r.bn >= 0 ? p->gamma : p->ba, p->r.bn >= 0 ? p->beta : -1, p->wb };
        for (int j = 0; j < 4 && !st; j++)
            if (vs[j] >= 0 && !saved[vs[j]] && !(saved[vs[j]] = tensor_clone(g->values[vs[j]].data, err)))
                st = err->code;
    }
    int sweeps = 0;
    for (; sweeps < iters && !st;) {
        double moved = 0;
        for (int k = 0; k < np; k++) {
            double mv = cle_sweep_pair(g, &pairs[k], headroom);
            moved = mv > moved ? mv : moved;
        }
        sweeps++;
        if (moved < CLE_MOVE_TOL)
            break;
    }
    double diff = 0, scale = 0;
    if (!st) {
        const float *y = ref;
        for (size_t i = 0; i < per_out * (size_t)n; i++)
            scale = fabs(y[i]) > scale ? fabs(y[i]) : scale;
        st = cle_pass(g, d, n, batch, NULL, ref, &diff, job, 0.5, err);
    }
    double rel = scale > 0 ? diff / scale : diff;
    if (!st && !(rel <= CLE_TOLERANCE))
        st = qs_fail(err, QS_EINVAL, "cle: the float outputs moved by %.3g (relative to their "
                     "largest magnitude %.3g), above %g; every weight was restored", rel, scale,
                     CLE_TOLERANCE);
    if (st) {
        for (int v = 0; v < g->n_values; v++)
            if (saved[v])
                memcpy(g->values[v].data->data, saved[v]->data, tensor_bytes(saved[v]));
    } else {
        rep->pairs = xcalloc((size_t)np, sizeof *rep->pairs);
        for (int k = 0; k < np; k++) {
            Pair *p = &pairs[k];
            p->r.spread_first[1] = cle_spread(g, p->r.first, p->r.bn);
            p->r.spread_second[1] = cle_spread(g, p->r.second, p->bn_b);
            rep->pairs[k] = p->r;
        }
        rep->n_pairs = np;
        rep->sweeps = sweeps;
        rep->max_rel_diff = rel;
        rep->samples = n;
    }
    for (int v = 0; v < g->n_values; v++)
        tensor_free(saved[v]);
    free(saved);
    for (int k = 0; k < np; k++) {
        free(pairs[k].maxv);
        free(pairs[k].state);
    }
    free(pairs);
    free(pair_of);
    free(ref);
    return st;
}
