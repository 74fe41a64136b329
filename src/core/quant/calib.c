/* Calibration: one pass of the float model over a split, every value's ActStats fed by a
 * tap. The graph is only read. */
#include "quant/calib.h"

#include "eval/eval.h"
#include "eval/walk.h"

#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "run/exec.h"

typedef struct {
    const Graph *g;
    Calibration *c;
    int *clamp_of;  /* [n_values] the Relu or Clip observed with this value, or -1 */
    bool *observed; /* [n_nodes] this activation's output is observed for this batch */
} CalibTap;

/* Pairs each node output read by a Relu or Clip from 0 with that activation (the first
 * one): the activation's output is clamp_value of its input, so both are observed at the
 * input's tap in one read (act_stats_observe_clamped) and the activation's tap only takes
 * note. Returns clamp_of. */
static int *calib_clamp_pairs(const Graph *g)
{
    int *of = xmalloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *of);
    for (int v = 0; v < g->n_values; v++)
        of[v] = -1;
    for (int a = 0; a < g->n_nodes; a++) {
        const Node *n = &g->nodes[a];
        float lo, hi;
        if (n->n_in != 1 || n->in[0] < 0 || !op_clamp_range(n, &lo, &hi) || lo != 0.0f ||
            !(hi >= 0.0f))
            continue;
        int v = n->in[0];
        if (g->values[v].kind == VAL_NODE && of[v] < 0)
            of[v] = a;
    }
    return of;
}

static void calib_observe(Calibration *c, int v, const Tensor *t)
{
    if (t->dtype != DT_F32)
        return; /* every op output is f32 today; a non-float value has no range to observe */
    act_stats_observe(&c->stats[v], tensor_f32(t), tensor_numel(t), c->ma_momentum);
}

static void calib_tap(void *user, int node, const Tensor *out)
{
    CalibTap *ct = user;
    const Graph *g = ct->g;
    int v = g->nodes[node].out, a = ct->clamp_of[v];
    if (ct->observed[node]) { /* observed with its input */
        ct->observed[node] = false;
        return;
    }
    if (a < 0 || out->dtype != DT_F32) {
        calib_observe(ct->c, v, out);
        return;
    }
    float lo, hi;
    op_clamp_range(&g->nodes[a], &lo, &hi);
    act_stats_observe_clamped(&ct->c->stats[v], &ct->c->stats[g->nodes[a].out],
                              tensor_f32(out), tensor_numel(out), lo, hi, ct->c->ma_momentum);
    ct->observed[a] = true;
}

/* The inputs are observed after the run (no tap sees them); a failing run discards the
 * whole calibration, so no half-counted batch survives. */
static QsStatus calib_batch(void *user, WalkBatch *b, QsError *err)
{
    (void)err;
    CalibTap *ct = user;
    for (int k = 0; k < ct->g->n_inputs; k++)
        calib_observe(ct->c, ct->g->inputs[k], &b->views[k]);
    ct->c->samples += b->n;
    return QS_OK;
}

void calib_release(Calibration *c)
{
    if (!c)
        return;
    free(c->stats);
    qimport_unref(c->imported);
    memset(c, 0, sizeof *c);
}

QsStatus calib_run(const Graph *g, const Dataset *d, int64_t n, int batch, double ma_momentum,
                   const JobCtx *job, Calibration *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    if (!g->finalized)
        return qs_fail(err, QS_EINVAL, "the graph is not finalized");
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch=%d: must be at least 1", batch);
    if (eval_check_inputs(g, d, err))
        return err->code;
    int64_t len = dataset_len(d);
    if (len < 1)
        return qs_fail(err, QS_EINVAL, "the split holds no samples");
    if (n <= 0 || n > len)
        n = len;
    if (!(ma_momentum > 0.0 && ma_momentum <= 1.0))
        ma_momentum = 0.01;

    /* One ActStats per value; about 33 KB each, so the whole table is sized from the model
     * and checked rather than xmalloc'ed. */
    size_t bytes;
    if (__builtin_mul_overflow((size_t)g->n_values, sizeof(ActStats), &bytes))
        return qs_fail(err, QS_ENOMEM, "calibration statistics for %d values overflow",
                       g->n_values);
    out->stats = malloc(bytes ? bytes : 1);
    if (!out->stats)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes of calibration statistics",
                       bytes);
    out->n_values = g->n_values;
    out->ma_momentum = ma_momentum;
    for (int v = 0; v < g->n_values; v++)
        act_stats_init(&out->stats[v]);

    FloatExec *f;
    Executor ex = exec_float_new(g, &f);
    CalibTap ct = { .g = g, .c = out, .clamp_of = calib_clamp_pairs(g),
                    .observed = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(bool)) };
    Walk w = { .ex = &ex, .tap = calib_tap, .tap_user = &ct, .batch = calib_batch, .user = &ct,
               .job = job, .what = "calibration", .phase = "calibrate" };
    QsStatus st = walk_split(&w, d, n, batch, err);
    exec_float_free(f);
    free(ct.clamp_of);
    free(ct.observed);
    if (st)
        calib_release(out);
    return st;
}
