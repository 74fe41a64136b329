/* Reference recomputation of an int8-static linear unit (qexec_rerun.h). */
#include "qexec/qexec_rerun.h"

#include <stdlib.h>
#include <string.h>

#include "base/memtrack.h"
#include "qexec/qexec_internal.h"
#include "qexec/qkernels.h"

static QsStatus rerun_unit(const QModel *q, int head, const LinUnit **u, QsError *err)
{
    const Graph *g = q->g;
    if (head < 0 || head >= g->n_nodes)
        return qs_fail(err, QS_ENOTFOUND, "layer %d does not exist (the model has %d)", head,
                       g->n_nodes);
    const Step *s = &q->steps[q->step_of[head]];
    if (s->head != head || s->kind != STEP_LIN_Q || !s->lin)
        return qs_fail(err, QS_EINVAL, "layer '%s' does not head an int8-static linear unit",
                       g->nodes[head].name);
    *u = s->lin;
    return QS_OK;
}

/* The conv's output extent along one axis, as shape inference computes it. */
static int64_t rerun_extent(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1)
{
    int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

static QsStatus rerun_conv_dims(const LinUnit *u, const Shape *xs, const Shape *ys, CDims *d,
                                const char *name, QsError *err)
{
    const ConvAttrs *a = &u->ca;
    int rank = a->sp + 2;
    if (xs->ndim != rank || ys->ndim != rank)
        return qs_fail(err, QS_ESHAPE, "layer '%s': a rank-%d input and output expected", name,
                       rank);
    *d = qk_dims(a, xs, ys);
    const Window *w = &a->w;
    if (d->n != ys->dim[0] || d->oc != u->oc || d->c != d->cg * a->group ||
        d->oc != d->ocg * a->group || d->cg * w->kh * w->kw != u->k ||
        d->oh != rerun_extent(d->h, w->kh, w->sh, w->dh, w->pt, w->pb) ||
        d->ow != rerun_extent(d->w, w->kw, w->sw, w->dw, w->pl, w->pr))
        return qs_fail(err, QS_ESHAPE, "layer '%s': input and output shapes do not fit its "
                       "convolution", name);
    return QS_OK;
}

/* sum_k (x_k - z) w_k + b: at most K * 255 * 127 + |b|, kept in int64 and saturated as the
 * int32 accumulator it stands for never needs to be (the exporters refuse such units). */
static int32_t rerun_dot(const int8_t *x, const int8_t *w, int64_t k, int32_t z, int32_t b)
{
    int64_t s = b;
    for (int64_t i = 0; i < k; i++)
        s += ((int64_t)x[i] - z) * w[i];
    return (int32_t)(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
}

QsStatus qmodel_unit_accumulators(const QModel *q, int head, const int8_t *x, const Shape *xs,
                                  const Shape *ys, int32_t *acc, QsError *err)
{
    const LinUnit *u;
    if (rerun_unit(q, head, &u, err))
        return err->code;
    const char *name = q->g->nodes[head].name;
    const int32_t z = u->in_qp.zero_point;
    if (u->kind == LIN_GEMM) {
        int64_t rows = u->k ? shape_numel(xs) / u->k : 0;
        if (rows * u->k != shape_numel(xs) || rows * u->oc != shape_numel(ys))
            return qs_fail(err, QS_ESHAPE, "layer '%s': input and output sizes do not fit its "
                           "(%lld, %lld) weights", name, (long long)u->oc, (long long)u->k);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < u->oc; c++)
                acc[r * u->oc + c] = rerun_dot(x + r * u->k, u->wq + c * u->k, u->k, z, u->bq[c]);
        return QS_OK;
    }
    CDims d;
    if (rerun_conv_dims(u, xs, ys, &d, name, err))
        return err->code;
    int8_t *row = xmalloc((size_t)(u->k ? u->k : 1));
    const int64_t hw = d.h * d.w, ohw = d.oh * d.ow;
    for (int64_t b = 0; b < d.n; b++)
        for (int64_t gi = 0; gi < u->ca.group; gi++) {
            const int8_t *xg = x + (b * d.c + gi * d.cg) * hw;
            for (int64_t p = 0; p < ohw; p++) {
                qk_im2row_row(&u->ca, &d, xg, (int8_t)z, p / d.ow, p % d.ow, row);
                for (int64_t oc = gi * d.ocg; oc < (gi + 1) * d.ocg; oc++)
                    acc[(b * d.oc + oc) * ohw + p] =
                        rerun_dot(row, u->wq + oc * u->k, u->k, z, u->bq[oc]);
            }
        }
    free(row);
    return QS_OK;
}

QsStatus qmodel_unit_rules(const QModel *q, int head, const Shape *ys, QUnitRules *r,
                           QsError *err)
{
    memset(r, 0, sizeof *r);
    const LinUnit *u;
    if (rerun_unit(q, head, &u, err))
        return err->code;
    r->oc = u->oc;
    r->per_row = u->kind == LIN_GEMM;
    r->inner = 1;
    if (!r->per_row)
        for (int i = 2; i < ys->ndim; i++)
            r->inner *= ys->dim[i];
    r->z_out = u->out_qp.zero_point;
    r->current = (int)(target_of(q->plan.q.target) - target_table);
    for (int t = 0; t < QTGT_COUNT; t++) {
        const QTargetDef *T = &target_table[t];
        r->rq[t] = xmalloc((size_t)u->oc * sizeof(Requant));
        r->ok[t] = true;
        for (int64_t c = 0; c < u->oc && r->ok[t]; c++) {
            QsError ignored = { 0 }; /* a multiplier the runtime cannot hold: no candidate */
            r->ok[t] = !target_requant_linear(T, u->in_qp.scale, u->ws[u->n_wscales > 1 ? c : 0],
                                              u->out_qp.scale, &r->rq[t][c], "unit", &ignored);
        }
        r->lo[t] = u->out_qp.qmin;
        r->hi[t] = u->out_qp.qmax;
        if (u->has_act)
            target_clamp(T, &u->out_qp, u->act_lo, u->act_hi, &r->lo[t], &r->hi[t]);
        if (!r->ok[t]) {
            free(r->rq[t]);
            r->rq[t] = NULL;
        }
    }
    return QS_OK;
}

void qunit_rules_release(QUnitRules *r)
{
    for (int t = 0; t < QTGT_COUNT; t++)
        free(r->rq[t]);
    memset(r, 0, sizeof *r);
}
