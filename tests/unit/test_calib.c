/* calib_run on a small Dense -> Relu -> Dense model: every value's statistics equal the
 * ones computed directly from the same batches; sample limits, progress, cancellation and
 * errors leave the output empty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/builder.h"
#include "quant/calib.h"
#include "base/rng.h"
#include "kern/normal.h"
#include "run/run.h"
#include "test_util.h"

#define HALF (HIST_BINS / 2)

static Model *make_model(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Builder b;
    Shape s = shape_of(1, (int64_t)4);
    CHECK_OK(builder_begin(&b, m, "x", &s, 3, &err), &err);
    LayerSpec l1 = layer_spec_default("dense");
    l1.out = 8;
    CHECK_OK(builder_add(&b, &l1, &err), &err);
    LayerSpec lr = layer_spec_default("relu");
    CHECK_OK(builder_add(&b, &lr, &err), &err);
    LayerSpec l2 = layer_spec_default("dense");
    l2.out = 3;
    CHECK_OK(builder_add(&b, &l2, &err), &err);
    CHECK_OK(builder_finish(&b, &err), &err);
    return m;
}

static void make_data(Dataset *d, int64_t n, int64_t width, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    Rng r;
    rng_seed(&r, seed);
    d->x[0] = tensor_new(DT_F32, shape_of(2, n, width), NULL);
    d->n_x = 1;
    for (int64_t i = 0; i < n * width; i++)
        tensor_f32(d->x[0])[i] = (float)(1.5 * rng_normal(&r));
}

/* ---- direct statistics ------------------------------------------------------------------ */

/* Every value's data over all batches, gathered by a tap, plus each batch's min/max. */
typedef struct {
    const Graph *g;
    float **data;       /* [n_values] concatenated batches */
    int64_t *len;       /* [n_values] */
    double **bmin, **bmax; /* [n_values][batches] */
    int *nb;            /* [n_values] batches seen */
} Direct;

static void direct_add(Direct *d, int v, const Tensor *t)
{
    int64_t n = tensor_numel(t);
    d->data[v] = xrealloc(d->data[v], (size_t)(d->len[v] + n) * sizeof(float));
    memcpy(d->data[v] + d->len[v], t->data, (size_t)n * sizeof(float));
    d->len[v] += n;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, tensor_f32(t)[i]);
        hi = fmax(hi, tensor_f32(t)[i]);
    }
    d->bmin[v] = xrealloc(d->bmin[v], (size_t)(d->nb[v] + 1) * sizeof(double));
    d->bmax[v] = xrealloc(d->bmax[v], (size_t)(d->nb[v] + 1) * sizeof(double));
    d->bmin[v][d->nb[v]] = lo;
    d->bmax[v][d->nb[v]] = hi;
    d->nb[v]++;
}

static void direct_tap(void *user, int node, const Tensor *out)
{
    Direct *d = user;
    direct_add(d, d->g->nodes[node].out, out);
}

/* Checks one value's ActStats against its gathered data: everything exact, the histogram
 * binned at the smallest power of two >= max|x| (independent of batching). */
static void check_value(const Direct *d, int v, const ActStats *s, double c)
{
    const float *x = d->data[v];
    int64_t n = d->len[v];
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    double ma_lo = d->bmin[v][0], ma_hi = d->bmax[v][0];
    for (int b = 1; b < d->nb[v]; b++) {
        ma_lo = ma_lo + c * (d->bmin[v][b] - ma_lo);
        ma_hi = ma_hi + c * (d->bmax[v][b] - ma_hi);
    }
    CHECK(s->count == n && s->hist.total == n && s->nonfinite == 0);
    CHECK(s->batches == d->nb[v]);
    CHECK(s->min == lo && s->max == hi);
    CHECK(s->ma_min == ma_lo && s->ma_max == ma_hi);
    double maxabs = fmax(-lo, hi), R = 1.0;
    while (R < maxabs)
        R *= 2;
    while (R / 2 >= maxabs)
        R /= 2;
    CHECK(s->hist.range == R);
    int64_t *want = xcalloc(HIST_BINS, sizeof *want);
    double w = 2 * R / HIST_BINS;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = (int64_t)floor(x[i] / w) + HALF;
        want[k >= HIST_BINS ? HIST_BINS - 1 : k]++;
    }
    CHECK(memcmp(want, s->hist.bins, HIST_BINS * sizeof *want) == 0);
    free(want);
}

static void direct_free(Direct *d, int nv)
{
    for (int v = 0; v < nv; v++) {
        free(d->data[v]);
        free(d->bmin[v]);
        free(d->bmax[v]);
    }
    free(d->data);
    free(d->len);
    free(d->bmin);
    free(d->bmax);
    free(d->nb);
}

/* Runs the same batches as calib_run would and gathers every value directly. */
static void direct_run(Direct *d, const Graph *g, const Dataset *ds, int64_t n, int batch)
{
    QsError err = { 0 };
    int nv = g->n_values;
    d->g = g;
    d->data = xcalloc((size_t)nv, sizeof *d->data);
    d->len = xcalloc((size_t)nv, sizeof *d->len);
    d->bmin = xcalloc((size_t)nv, sizeof *d->bmin);
    d->bmax = xcalloc((size_t)nv, sizeof *d->bmax);
    d->nb = xcalloc((size_t)nv, sizeof *d->nb);
    Run r;
    run_init(&r, g);
    int64_t width = ds->x[0]->shape.dim[1];
    for (int64_t first = 0; first < n; first += batch) {
        int64_t b = n - first < batch ? n - first : batch;
        Tensor in = tensor_view(DT_F32, shape_of(2, b, width), tensor_f32(ds->x[0]) + first * width);
        direct_add(d, g->inputs[0], &in);
        const Tensor *inputs[1] = { &in };
        CHECK_OK(run_forward(&r, inputs, direct_tap, d, &err), &err);
    }
    run_release(&r);
}

/* ---- progress and cancellation ---------------------------------------------------------- */

typedef struct {
    int calls;
    double last;
    char phase[32];
    bool monotone;
    int cancel_after;   /* sets the cancel flag after this many calls (0: never) */
    atomic_int *flag;
} Progress;

static void on_progress(void *user, double frac, const char *phase)
{
    Progress *p = user;
    if (frac < p->last)
        p->monotone = false;
    p->last = frac;
    p->calls++;
    snprintf(p->phase, sizeof p->phase, "%s", phase);
    if (p->cancel_after && p->calls == p->cancel_after)
        atomic_store(p->flag, 1);
}

static bool is_empty(const Calibration *c)
{
    return c->stats == NULL && c->n_values == 0 && c->samples == 0;
}

int main(void)
{
    QsError err = { 0 };
    Model *m = make_model();
    const Graph *g = &m->graph;
    Dataset d;
    make_data(&d, 50, 4, 9);

    /* all 50 samples in batches of 7 (the last one holds 1) */
    Calibration cal;
    Progress pr = { .monotone = true };
    atomic_int flag = 0;
    JobCtx job = { .progress = on_progress, .user = &pr, .cancel = &flag };
    CHECK_OK(calib_run(g, &d, 0, 7, 0.25, &job, &cal, &err), &err);
    CHECK(cal.n_values == g->n_values && cal.samples == 50 && cal.ma_momentum == 0.25);
    CHECK(pr.calls == 8 && pr.last == 1.0 && pr.monotone && strcmp(pr.phase, "calibrate") == 0);
    Direct dir;
    direct_run(&dir, g, &d, 50, 7);
    int checked = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind == VAL_CONST) {
            CHECK(cal.stats[v].count == 0); /* constants are not observed */
            continue;
        }
        CHECK(dir.nb[v] == 8);
        check_value(&dir, v, &cal.stats[v], 0.25);
        checked++;
    }
    CHECK(checked == 1 + g->n_nodes);
    CHECK(cal.stats[g->inputs[0]].count == 50 * 4);
    /* the Relu output is non-negative and saw zeros */
    int relu = g->nodes[graph_find_node(g, "relu2")].out;
    CHECK(cal.stats[relu].min == 0.0 && cal.stats[relu].max > 0.0);
    /* every observer gives a range from every observed value */
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind == VAL_CONST)
            continue;
        for (int k = 0; k < OBS_COUNT; k++) {
            ObserverOpts o = { .pct = 99.9, .bits = 8, .symmetric = false };
            float lo, hi;
            CHECK_OK(observer_table[k].range(&cal.stats[v], &o, &lo, &hi, &err), &err);
            CHECK(lo <= hi && lo >= cal.stats[v].min - 1e-6 && hi <= cal.stats[v].max + 1e-6);
        }
    }
    direct_free(&dir, g->n_values);
    calib_release(&cal);
    CHECK(is_empty(&cal));
    calib_release(&cal); /* twice is harmless */

    /* the first 20 samples only, one batch; momentum <= 0 becomes 0.01 */
    CHECK_OK(calib_run(g, &d, 20, 64, 0.0, NULL, &cal, &err), &err);
    CHECK(cal.samples == 20 && cal.ma_momentum == 0.01);
    direct_run(&dir, g, &d, 20, 64);
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind != VAL_CONST)
            check_value(&dir, v, &cal.stats[v], 0.01);
    /* one batch: the moving averages are that batch's min/max */
    CHECK(cal.stats[relu].ma_max == cal.stats[relu].max);
    direct_free(&dir, g->n_values);
    calib_release(&cal);

    /* n beyond the split means all of it */
    CHECK_OK(calib_run(g, &d, 1000, 16, 0.01, NULL, &cal, &err), &err);
    CHECK(cal.samples == 50);
    calib_release(&cal);

    /* cancelled before the first batch, and after the second */
    atomic_store(&flag, 1);
    pr = (Progress){ .monotone = true };
    expect_error("cancel", calib_run(g, &d, 0, 7, 0.01, &job, &cal, &err), &err, QS_ECANCELLED,
                 "calibration cancelled");
    CHECK(is_empty(&cal) && pr.calls == 0);
    atomic_store(&flag, 0);
    pr = (Progress){ .monotone = true, .cancel_after = 2, .flag = &flag };
    expect_error("cancel", calib_run(g, &d, 0, 7, 0.01, &job, &cal, &err), &err, QS_ECANCELLED,
                 "cancelled");
    CHECK(is_empty(&cal) && pr.calls == 2);

    /* errors leave nothing behind */
    expect_error("batch", calib_run(g, &d, 0, 0, 0.01, NULL, &cal, &err), &err, QS_EINVAL,
                 "batch=0");
    CHECK(is_empty(&cal));
    Dataset bad;
    make_data(&bad, 10, 5, 1);
    expect_error("shape", calib_run(g, &bad, 0, 4, 0.01, NULL, &cal, &err), &err, QS_ESHAPE,
                 "input 'x'");
    CHECK(is_empty(&cal));
    dataset_release(&bad);
    Dataset none = { 0 };
    expect_error("no data", calib_run(g, &none, 0, 4, 0.01, NULL, &cal, &err), &err, QS_EINVAL,
                 "no data");
    CHECK(is_empty(&cal));

    dataset_release(&d);
    model_free(m);
    return test_summary("calib");
}
