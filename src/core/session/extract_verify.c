#include "session/extract_verify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval/walk.h"

/* Captures node outputs of the source run at chosen source values. */
typedef struct VerifyTap {
    const Graph *g;
    int n;
    const int *value;     /* [n] source value indices */
    Tensor **got;         /* [n] clones of the batch's values (NULL: not seen) */
} VerifyTap;

static void verify_tap(void *user, int node, const Tensor *out)
{
    VerifyTap *t = user;
    int v = t->g->nodes[node].out;
    for (int i = 0; i < t->n; i++)
        if (t->value[i] == v) {
            QsError e = { 0 };
            tensor_free(t->got[i]);
            t->got[i] = tensor_clone(out, &e); /* NULL on failure: reported as not seen */
        }
}

typedef struct VerifyWalk {
    const Graph *sg, *pg;         /* source and part */
    const Executor *part;
    const int *from_data;         /* [pg inputs] the split input feeding it, -1: tapped */
    const int *val;               /* [nv] source values of the part's inputs, then outputs */
    int nv;
    Tensor **got;                 /* [nv] the tap's */
    ExtractVerify *res;
} VerifyWalk;

/* Runs the part on the batch and compares; the tapped values are dropped afterwards. */
static QsStatus verify_batch(void *user, WalkBatch *b, QsError *err)
{
    VerifyWalk *c = user;
    const Graph *pg = c->pg;
    ExtractVerify *res = c->res;
    QsStatus st = QS_OK;
    for (int i = 0; i < c->nv && !res->note[0]; i++) {
        bool needed = i >= pg->n_inputs || c->from_data[i] < 0;
        if (needed && !c->got[i])
            snprintf(res->note, sizeof res->note, "value '%s' is computed inside a fused "
                     "unit under this plan, so the source cannot be tapped there",
                     c->sg->values[c->val[i]].name);
    }
    b->stop = res->note[0] != '\0';
    const Tensor *pin[EXTRACT_MAX_IO], *pouts[EXTRACT_MAX_IO];
    for (int i = 0; i < pg->n_inputs && !b->stop; i++)
        pin[i] = c->from_data[i] >= 0 ? b->inputs[c->from_data[i]] : c->got[i];
    if (!b->stop && !(st = c->part->forward(c->part->self, pin, pouts, NULL, NULL, err))) {
        for (int i = 0; i < pg->n_outputs; i++) {
            const Tensor *want = c->got[pg->n_inputs + i], *have = pouts[i];
            if (!shape_equal(&want->shape, &have->shape)) {
                st = qs_fail(err, QS_ESHAPE, "output '%s' of the loaded part has another shape "
                             "than the source's", pg->values[pg->outputs[i]].name);
                break;
            }
            const float *a = tensor_f32(want), *h = tensor_f32(have);
            for (int64_t k = 0; k < tensor_numel(want); k++) {
                double dd = fabs((double)a[k] - (double)h[k]);
                if (!(dd <= res->max_diff)) /* NaN counts as a difference */
                    res->max_diff = isnan(dd) ? INFINITY : dd;
            }
        }
        if (!st)
            res->samples += b->n;
    }
    for (int i = 0; i < c->nv; i++) {
        tensor_free(c->got[i]);
        c->got[i] = NULL;
    }
    return st;
}

QsStatus extract_verify(const Extract *x, const Executor *src, const Executor *part,
                        const Dataset *d, int64_t n, int batch, ExtractVerify *res,
                        QsError *err)
{
    const Graph *sg = src->graph, *pg = &x->m->graph;
    memset(res, 0, sizeof *res);
    /* where each part input and output comes from in the source */
    int nv = pg->n_inputs + pg->n_outputs, val[2 * EXTRACT_MAX_IO], from_data[EXTRACT_MAX_IO];
    for (int i = 0; i < pg->n_inputs; i++) {
        val[i] = x->value_from[pg->inputs[i]];
        from_data[i] = -1;
        for (int k = 0; k < sg->n_inputs; k++)
            if (sg->inputs[k] == val[i])
                from_data[i] = k;
    }
    for (int i = 0; i < pg->n_outputs; i++)
        val[pg->n_inputs + i] = x->value_from[pg->outputs[i]];
    Tensor *got[2 * EXTRACT_MAX_IO] = { 0 };
    VerifyTap tap = { sg, nv, val, got };
    VerifyWalk c = { .sg = sg, .pg = pg, .part = part, .from_data = from_data, .val = val,
                     .nv = nv, .got = got, .res = res };
    Walk w = { .ex = src, .tap = verify_tap, .tap_user = &tap, .batch = verify_batch,
               .user = &c, .what = "verification", .phase = "verify" };
    QsStatus st = walk_split(&w, d, n, batch, err);
    for (int i = 0; i < nv; i++)
        tensor_free(got[i]);
    if (res->note[0])
        res->samples = 0;
    return st;
}
