#include "session/variant_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score.h"

/* Each part's deployed bytes under plan p with calibration cal (NULL: the session's). */
static QsStatus part_bytes(const Session *s, const VariantRows *v, const Extract *parts,
                           VariantRow *row, const Plan *p, const Calibration *cal, QsError *err)
{
    const QuantState *qs = &s->q;
    if (!cal && qs->calibrated)
        cal = &qs->calib;
    QsStatus st = QS_OK;
    for (int k = 0; k < v->n_parts && !st; k++) {
        const Extract *x = &parts[k];
        Plan pp;
        extract_plan(x, p, &pp);
        if (qstate_plan_is_float(&pp)) {
            row->part_bytes[k] = (int64_t)graph_param_bytes(&x->m->graph);
        } else {
            Calibration pc = { 0 };
            if (cal)
                extract_calib(x, cal, &pc);
            QModel *q;
            if (!(st = qmodel_build(x->m, &pp, cal ? &pc : NULL, &q, err))) {
                row->part_bytes[k] = qmodel_deployed_bytes(q);
                qmodel_free(q);
            } else {
                qs_error_prefix(err, "part '%s'", v->part[k]);
            }
            calib_release(&pc);
        }
        plan_release(&pp);
    }
    return st;
}

static QsStatus score_row(Session *s, const JobCtx *job, VariantRow *row, const Plan *p,
                          const Calibration *cal, const Dataset *d, int64_t n, TaskKind task,
                          const Tensor *ref, double ref_metric, QsError *err)
{
    if (plan_needs_calibration(p) && !(cal || s->q.calibrated)) {
        snprintf(row->note, sizeof row->note, "needs calibrate");
        return QS_OK;
    }
    Executor ex;
    FloatExec *owner;
    QModel *q = NULL;
    if (qstate_executor(&s->q, s->model, p, cal, &ex, &owner, err))
        return err->code;
    if (!owner && qstate_qmodel(&s->q, s->model, p, cal, &q, err))
        return err->code;
    Score sc;
    QsStatus st = score_run(&ex, d, n, task, s->opt.batch, ref, NULL, job, &sc, err);
    exec_float_free(owner);
    if (st)
        return st;
    row->evaluated = true;
    row->metric = score_metric(&sc);
    row->drop = task_table[task].higher_is_better ? ref_metric - row->metric : row->metric - ref_metric;
    row->agreement = compare_metrics_agreement(&sc.vs_ref);
    row->sqnr_db = compare_metrics_sqnr_db(&sc.vs_ref);
    row->bytes = q ? qmodel_deployed_bytes(q) : (int64_t)graph_param_bytes(&s->model->graph);
    row->ms = 1e3 * sc.seconds / (double)sc.n;
    score_release(&sc);
    return QS_OK;
}

static VariantRow *add_row(VariantRows *v, const char *name, PrecKind mode, bool current)
{
    v->rows = xrealloc(v->rows, (size_t)(v->n + 1) * sizeof *v->rows);
    VariantRow *r = &v->rows[v->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->mode = mode;
    r->current = current;
    return r;
}

/* Every row, or only the one named `only` (not NULL). */
static QsStatus rows_collect(Session *s, const char *split_name_s, int64_t n, const char *only,
                             const JobCtx *job, VariantRows *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    int split = split_find(split_name_s);
    if (split < 0 || !s->splits[split].n_x || !s->splits[split].y)
        return qs_fail(err, QS_EINVAL, "split '%s' is empty or unlabelled", split_name_s);
    const Dataset *d = &s->splits[split];
    TaskKind task = session_task(s, d);
    /* The float run first: its outputs are the reference for agreement and SQNR. */
    Tensor *ref = NULL;
    QsStatus st = score_reference(&s->model->graph, d, n, task, s->opt.batch, job,
                                  &out->fp32_metric, &out->samples, &ref, err);
    if (st)
        return st;
    out->task = task;
    out->split = split_name((SplitId)split);
    /* the parts are cut once; only their plans differ between rows */
    ExtractPart pd[EXTRACT_MAX_PARTS];
    Extract parts[EXTRACT_MAX_PARTS];
    int np = extract_parts(s->model, pd, EXTRACT_MAX_PARTS, err);
    if (np < 0) {
        tensor_free(ref);
        return err->code;
    }
    for (int k = 0; k < np; k++) {
        if (extract_part(s->model, pd[k].name, &parts[k], err)) {
            for (int j = 0; j < k; j++)
                extract_release(&parts[j]);
            tensor_free(ref);
            return err->code;
        }
        memcpy(out->part[k], pd[k].name, sizeof out->part[k]); /* both 64, NUL-ended */
    }
    out->n_parts = np;
    Plan p;
    plan_copy(&p, &s->q.plan);
    memset(p.pin, -1, (size_t)p.n_nodes);
    for (int k = 0; k < PREC_COUNT && !st; k++) {
        if (only && strcmp(only, precision_table[k].name) != 0)
            continue;
        p.mode = (PrecKind)k;
        VariantRow *row = add_row(out, precision_table[k].name, p.mode,
                                  plan_equal(&p, &s->q.plan));
        row->target = plan_target_name(&p);
        st = score_row(s, job, row, &p, NULL, d, n, task, ref, out->fp32_metric, err);
        if (!st && row->evaluated)
            st = part_bytes(s, out, parts, row, &p, NULL, err);
    }
    plan_release(&p);
    for (int i = 0; i < s->q.n_variants && !st; i++) {
        const Variant *v = &s->q.variants[i];
        if (only && strcmp(only, v->name) != 0)
            continue;
        VariantRow *row = add_row(out, v->name, v->plan.mode, false);
        row->target = plan_target_name(&v->plan);
        st = score_row(s, job, row, &v->plan, v->calibrated ? &v->calib : NULL, d, n, task, ref,
                       out->fp32_metric, err);
        if (!st && row->evaluated)
            st = part_bytes(s, out, parts, row, &v->plan, v->calibrated ? &v->calib : NULL,
                            err);
    }
    for (int k = 0; k < np; k++)
        extract_release(&parts[k]);
    tensor_free(ref);
    if (st)
        variant_rows_release(out);
    return st;
}

QsStatus variant_rows_collect(Session *s, const char *split_name_s, int64_t n, const JobCtx *job,
                              VariantRows *out, QsError *err)
{
    return rows_collect(s, split_name_s, n, NULL, job, out, err);
}

QsStatus variant_rows_collect_one(Session *s, const char *split_name_s, int64_t n,
                                  const char *name, const JobCtx *job, VariantRows *out,
                                  QsError *err)
{
    return rows_collect(s, split_name_s, n, name, job, out, err);
}

void variant_rows_release(VariantRows *v)
{
    free(v->rows);
    memset(v, 0, sizeof *v);
}
