/* Calibration convergence (convergence.h): one float pass, the observer asked for the range
 * at every doubling of the sample count, and each sample's own extremes kept. */
#include "quant/convergence.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/walk.h"
#include "kern/minmax.h"
#include "run/exec.h"

typedef struct {
    const Graph *g;
    Convergence *c;
    ActStats *stats;     /* [n_nodes] every node output's statistics so far */
    int *track_of;       /* [n_nodes] its track, or -1 */
    ObserverKind obs;
    ObserverOpts o;
    double ma_momentum;
    int64_t first;       /* the batch's first sample (set before each forward) */
    int batch;
    int next_point;      /* the first point not yet reached by the batches done */
} ConvTap;

/* The points ceil(n / 2^k), k = K..0, ascending, from 1 up to n. */
static void conv_points(int64_t n, Convergence *c)
{
    int k = 0;
    while ((n + ((int64_t)1 << k) - 1) >> k > 1)
        k++;
    c->points = xmalloc((size_t)(k + 1) * sizeof *c->points);
    for (int j = k; j >= 0; j--) {
        int64_t p = (n + ((int64_t)1 << j) - 1) >> j;
        if (!c->n_points || c->points[c->n_points - 1] != p)
            c->points[c->n_points++] = p;
    }
}

/* One sample's extremes into the track (a sample setting a new end pushes the old end's
 * sample into *_next, the best of the others). */
static void track_sample(RangeTrack *t, int64_t sample, const float *x, int64_t n)
{
    float lo, hi;
    if (!finite_range_f32(x, n, &lo, &hi))
        return;
    if (lo < t->min) {
        if (t->min_sample >= 0)
            t->min_next = t->min;
        t->min = lo;
        t->min_sample = sample;
    } else if (lo < t->min_next) {
        t->min_next = lo;
    }
    if (hi > t->max) {
        if (t->max_sample >= 0)
            t->max_next = t->max;
        t->max = hi;
        t->max_sample = sample;
    } else if (hi > t->max_next) {
        t->max_next = hi;
    }
}

static void track_point(ConvTap *ct, RangeTrack *t, const ActStats *s, int k)
{
    float lo = NAN, hi = NAN;
    if (s->count == 0 || observer_table[ct->obs].range(s, &ct->o, &lo, &hi, NULL))
        lo = hi = NAN;
    t->lo[k] = lo;
    t->hi[k] = hi;
}

/* A node output of the batch [first, first + b): the statistics are fed in pieces cut at
 * the points inside the batch, the range taken at each. */
static void conv_tap(void *user, int node, const Tensor *out)
{
    ConvTap *ct = user;
    int ti = ct->track_of[node];
    if (ti < 0 || out->dtype != DT_F32 || out->shape.ndim < 1)
        return;
    RangeTrack *t = &ct->c->t[ti];
    int64_t b = ct->c->n - ct->first < ct->batch ? ct->c->n - ct->first : ct->batch;
    if (out->shape.dim[0] != b) {
        /* not one row per sample (a shape computation): no sample owns its values */
        t->valid = false;
        ct->track_of[node] = -1;
        return;
    }
    ActStats *s = &ct->stats[node];
    int64_t per = tensor_numel(out) / b;
    const float *x = tensor_f32(out);
    for (int64_t i = 0; i < b; i++)
        track_sample(t, ct->first + i, x + i * per, per);
    int64_t done = ct->first;
    for (int k = ct->next_point; k < ct->c->n_points && ct->c->points[k] <= ct->first + b;
         k++) {
        int64_t upto = ct->c->points[k];
        act_stats_observe(s, x + (done - ct->first) * per, (upto - done) * per,
                          ct->ma_momentum);
        done = upto;
        track_point(ct, t, s, k);
    }
    act_stats_observe(s, x + (done - ct->first) * per, (ct->first + b - done) * per,
                      ct->ma_momentum);
}

static QsStatus conv_batch(void *user, WalkBatch *b, QsError *err)
{
    (void)err;
    ConvTap *ct = user;
    while (ct->next_point < ct->c->n_points && ct->c->points[ct->next_point] <= b->first + b->n)
        ct->next_point++;
    ct->first = b->first + b->n;
    return QS_OK;
}

static void conv_tracks(const Graph *g, Convergence *c, int *track_of)
{
    c->t = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *c->t);
    for (int k = 0; k < g->n_nodes; k++) {
        int i = g->order[k];
        RangeTrack *t = &c->t[c->n_tracks];
        track_of[i] = c->n_tracks++;
        t->node = i;
        t->valid = true;
        t->min = t->min_next = INFINITY;
        t->max = t->max_next = -INFINITY;
        t->min_sample = t->max_sample = -1;
        t->lo = xmalloc((size_t)c->n_points * sizeof *t->lo);
        t->hi = xmalloc((size_t)c->n_points * sizeof *t->hi);
        for (int p = 0; p < c->n_points; p++)
            t->lo[p] = t->hi[p] = NAN;
    }
}

/* The last doubling's largest move of an end over the final width. */
static void conv_moved(Convergence *c)
{
    for (int i = 0; i < c->n_tracks; i++) {
        RangeTrack *t = &c->t[i];
        int k = c->n_points - 1;
        double width = (double)t->hi[k] - (double)t->lo[k];
        if (k < 1 || !(width > 0))
            continue;
        double d = fmax(fabs((double)t->lo[k] - t->lo[k - 1]), fabs((double)t->hi[k] - t->hi[k - 1]));
        t->moved = isfinite(d) ? d / width : 1.0; /* no range at n/2 yet: it all moved */
    }
}

QsStatus convergence_run(const Graph *g, const Dataset *d, int64_t n, int batch,
                         ObserverKind obs, const ObserverOpts *o, double ma_momentum,
                         const JobCtx *job, Convergence *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch=%d: must be at least 1", batch);
    int64_t len = dataset_len(d);
    if (len < 1)
        return qs_fail(err, QS_EINVAL, "the split holds no samples");
    if (obs < 0 || obs >= OBS_COUNT)
        return qs_fail(err, QS_EINVAL, "observer %d: no such observer", (int)obs);
    if (n <= 0 || n > len)
        n = len;
    /* about 33 KB of statistics per node, sized from the model and checked */
    size_t bytes;
    if (__builtin_mul_overflow((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(ActStats), &bytes))
        return qs_fail(err, QS_ENOMEM, "statistics for %d layers overflow", g->n_nodes);
    ActStats *stats = malloc(bytes);
    if (!stats)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes of statistics", bytes);
    for (int i = 0; i < g->n_nodes; i++)
        act_stats_init(&stats[i]);
    out->n = n;
    conv_points(n, out);
    int *track_of = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *track_of);
    conv_tracks(g, out, track_of);
    ConvTap ct = { .g = g, .c = out, .stats = stats, .track_of = track_of, .obs = obs,
                   .o = *o, .ma_momentum = ma_momentum, .batch = batch };
    FloatExec *f;
    Executor ex = exec_float_new(g, &f);
    Walk w = { .ex = &ex, .tap = conv_tap, .tap_user = &ct, .batch = conv_batch, .user = &ct,
               .job = job, .what = "convergence", .phase = "convergence" };
    QsStatus st = walk_split(&w, d, n, batch, err);
    exec_float_free(f);
    free(stats);
    free(track_of);
    if (st) {
        convergence_release(out);
        return st;
    }
    conv_moved(out);
    return QS_OK;
}

void convergence_release(Convergence *c)
{
    for (int i = 0; i < c->n_tracks; i++) {
        free(c->t[i].lo);
        free(c->t[i].hi);
    }
    free(c->t);
    free(c->points);
    memset(c, 0, sizeof *c);
}

bool range_track_moving(const RangeTrack *t, double tol)
{
    return t->moved > tol;
}

bool range_track_max_outlier(const RangeTrack *t, double gap)
{
    double width = t->max - t->min;
    return t->max_sample >= 0 && isfinite(t->max_next) && width > 0 &&
           t->max - t->max_next >= gap * width;
}

bool range_track_min_outlier(const RangeTrack *t, double gap)
{
    double width = t->max - t->min;
    return t->min_sample >= 0 && isfinite(t->min_next) && width > 0 &&
           t->min_next - t->min >= gap * width;
}

double range_track_lead(const RangeTrack *t, double gap, bool *is_max)
{
    double width = t->max - t->min;
    double hi = range_track_max_outlier(t, gap) ? (t->max - t->max_next) / width : 0;
    double lo = range_track_min_outlier(t, gap) ? (t->min_next - t->min) / width : 0;
    *is_max = hi >= lo;
    return fmax(hi, lo);
}

const char *range_track_advice(const RangeTrack *t, ObserverKind obs, int64_t n, double tol,
                               double gap, char *buf, size_t cap)
{
    bool hi = range_track_max_outlier(t, gap), lo = range_track_min_outlier(t, gap);
    bool minmax = obs == OBS_MINMAX || obs == OBS_MA_MINMAX;
    int len = 0;
    buf[0] = 0;
    if (hi || lo) {
        int64_t a = hi ? t->max_sample : t->min_sample, b = t->min_sample;
        if (hi && lo && a != b)
            len = snprintf(buf, cap, "look at samples #%lld (max) and #%lld (min)",
                           (long long)a, (long long)b);
        else
            len = snprintf(buf, cap, "look at sample #%lld", (long long)a);
        if (minmax && len >= 0 && (size_t)len < cap)
            len += snprintf(buf + len, cap - (size_t)len, "; quant observer=percentile (or "
                            "mse) ignores one sample's extreme");
    }
    if (range_track_moving(t, tol) && len >= 0 && (size_t)len < cap)
        len += snprintf(buf + len, cap - (size_t)len, "%scalibrate n=%lld", len ? "; " : "",
                        (long long)(2 * n));
    if (!len)
        snprintf(buf, cap, "converged");
    return buf;
}
