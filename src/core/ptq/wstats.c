#include "ptq/wstats.h"

#include <stdlib.h>
#include <string.h>

#include "base/quant.h"
#include "quant/wscale.h"

/* The unit containing node, through the same grouping the executor uses (so a BatchNorm
 * folds only where the executor folds it). */
static bool wstats_unit(const Graph *g, int node, LinearUnit *u)
{
    LinearUnit *units = xcalloc((size_t)g->n_nodes, sizeof *units);
    int *head_of = xcalloc((size_t)g->n_nodes, sizeof *head_of);
    linear_group(g, NULL, NULL, units, head_of);
    int h = head_of[node];
    *u = units[h];
    free(units);
    free(head_of);
    return u->head >= 0;
}

static void wstats_channel(const float *w, int64_t k, const QParams *p, WChannelStats *c)
{
    bool used[256] = { false };
    c->min = c->max = w[0];
    c->absmax = 0.0f;
    c->scale = p->scale;
    for (int64_t i = 0; i < k; i++) {
        float v = w[i];
        c->min = v < c->min ? v : c->min;
        c->max = v > c->max ? v : c->max;
        float a = v < 0.0f ? -v : v;
        c->absmax = a > c->absmax ? a : c->absmax;
        int32_t q = quant_q(v, p);
        used[q + 128] = true;
        c->max_code = q > c->max_code ? q : -q > c->max_code ? -q : c->max_code;
        if (v != 0.0f) {
            c->nonzero++;
            c->zeroed += q == 0;
        }
    }
    for (int i = 0; i < 256; i++)
        c->levels += used[i];
}

static const WStats *wstats_sorting;

static int wstats_by_range(const void *a, const void *b)
{
    int ia = *(const int *)a, ib = *(const int *)b;
    const WChannelStats *ca = &wstats_sorting->ch[ia], *cb = &wstats_sorting->ch[ib];
    double ra = (double)ca->max - ca->min, rb = (double)cb->max - cb->min;
    if (ra != rb)
        return ra > rb ? -1 : 1;
    return ia - ib;
}

/* Ranks ws->by_range; qsort's comparator has no context, so the one WStats being sorted
 * is held in a file static for the call (wstats is not used from several threads). */
static void wstats_rank(WStats *ws)
{
    for (int64_t c = 0; c < ws->oc; c++)
        ws->by_range[c] = (int)c;
    wstats_sorting = ws;
    qsort(ws->by_range, (size_t)ws->oc, sizeof *ws->by_range, wstats_by_range);
    wstats_sorting = NULL;
}

QsStatus wstats_compute(const Graph *g, int node, int bits, bool per_tensor, WStats *ws,
                        QsError *err)
{
    memset(ws, 0, sizeof *ws);
    if (node < 0 || node >= g->n_nodes)
        return qs_fail(err, QS_EINVAL, "no node %d", node);
    if (bits < 2 || bits > 8)
        return qs_fail(err, QS_EINVAL, "weight bits must be 2..8, not %d", bits);
    LinearUnit u;
    if (!wstats_unit(g, node, &u))
        return qs_fail(err, QS_EINVAL, "'%s' is in no layer with weights (Conv, Dense, Gemm, "
                       "MatMul)", g->nodes[node].name);
    size_t nw = (size_t)(u.oc * u.k);
    float *w = malloc((nw + (size_t)u.oc) * sizeof *w);
    QParams *qp = malloc((size_t)u.oc * sizeof *qp);
    ws->ch = calloc((size_t)u.oc, sizeof *ws->ch);
    ws->by_range = malloc((size_t)u.oc * sizeof *ws->by_range);
    if (!w || !qp || !ws->ch || !ws->by_range) {
        free(w);
        free(qp);
        wstats_release(ws);
        return qs_fail(err, QS_ENOMEM, "cannot allocate the statistics of %lld weights",
                       (long long)nw);
    }
    linear_fold(g, &u, w, w + nw);
    wscale_params(w, u.oc, u.k, bits, per_tensor, qp);
    ws->node = u.head;
    ws->kind = u.kind;
    ws->oc = u.oc;
    ws->k = u.k;
    ws->bits = bits;
    ws->per_tensor = per_tensor;
    ws->max_levels = 2 * ((1 << (bits - 1)) - 1) + 1;
    for (int64_t c = 0; c < u.oc; c++) {
        wstats_channel(w + c * u.k, u.k, &qp[c], &ws->ch[c]);
        ws->nonzero += ws->ch[c].nonzero;
        ws->zeroed += ws->ch[c].zeroed;
    }
    wstats_rank(ws);
    free(w);
    free(qp);
    return QS_OK;
}

QsStatus wstats_for_plan(const Graph *g, const Plan *p, int node, WStats *ws, QsError *err)
{
    if (node < 0 || node >= g->n_nodes)
        return qs_fail(err, QS_EINVAL, "no node %d", node);
    LinearUnit u;
    int head = wstats_unit(g, node, &u) ? u.head : node;
    QsStatus st = wstats_compute(g, node, p->q.bits, plan_node_wgran_tensor(p, head), ws, err);
    if (!st)
        ws->integer = precision_is_integer(plan_node_prec(p, head));
    return st;
}

void wstats_release(WStats *ws)
{
    free(ws->ch);
    free(ws->by_range);
    memset(ws, 0, sizeof *ws);
}

double wstats_zero_share(const WChannelStats *c)
{
    return c->nonzero ? (double)c->zeroed / (double)c->nonzero : 0.0;
}

int64_t wstats_channels_below(const WStats *ws, int levels)
{
    int64_t n = 0;
    for (int64_t c = 0; c < ws->oc; c++)
        n += ws->ch[c].levels < levels;
    return n;
}
