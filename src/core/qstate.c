#include "qstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qstate_init(QuantState *qs, int n_nodes)
{
    memset(qs, 0, sizeof *qs);
    plan_init(&qs->plan, n_nodes);
}

void qstate_clear_cache(QuantState *qs)
{
    for (int i = 0; i < qs->n_cache; i++) {
        qmodel_free(qs->cache[i].q);
        plan_release(&qs->cache[i].plan);
    }
    qs->n_cache = 0;
}

static void variant_release(Variant *v)
{
    free(v->name);
    plan_release(&v->plan);
    if (v->calibrated)
        calib_release(&v->calib);
}

static void drop_variants(QuantState *qs)
{
    qstate_clear_cache(qs); /* cached lowerings may point at the variants' calibrations */
    for (int i = 0; i < qs->n_variants; i++)
        variant_release(&qs->variants[i]);
    free(qs->variants);
    qs->variants = NULL;
    qs->n_variants = 0;
}

void qstate_release(QuantState *qs)
{
    qstate_clear_cache(qs);
    drop_variants(qs);
    if (qs->calibrated)
        calib_release(&qs->calib);
    plan_release(&qs->plan);
    memset(qs, 0, sizeof *qs);
}

void qstate_model_changed(QuantState *qs, int n_nodes)
{
    if (n_nodes < 0) /* the model is about to go: forget everything derived from it */
        n_nodes = 0;
    qstate_clear_cache(qs);
    if (qs->calibrated)
        calib_release(&qs->calib);
    qs->calibrated = false;
    qs->calib_split[0] = '\0';
    if (n_nodes != qs->plan.n_nodes) {
        QuantOpts keep = qs->plan.q;
        PrecKind mode = qs->plan.mode;
        plan_release(&qs->plan);
        plan_init(&qs->plan, n_nodes);
        qs->plan.q = keep;
        qs->plan.mode = mode;
        drop_variants(qs);
    }
}

void qstate_set_calibration(QuantState *qs, Calibration *c, const char *split)
{
    qstate_clear_cache(qs);
    if (qs->calibrated)
        calib_release(&qs->calib);
    qs->calib = *c;
    memset(c, 0, sizeof *c);
    qs->calibrated = true;
    snprintf(qs->calib_split, sizeof qs->calib_split, "%s", split);
}

bool qstate_plan_is_float(const Plan *p)
{
    for (int i = 0; i < p->n_nodes; i++)
        if (plan_node_prec(p, i) != PREC_FP32)
            return false;
    return true;
}

void calib_copy(Calibration *dst, const Calibration *src)
{
    *dst = *src;
    dst->stats = xmalloc((size_t)(src->n_values ? src->n_values : 1) * sizeof *dst->stats);
    memcpy(dst->stats, src->stats, (size_t)src->n_values * sizeof *dst->stats);
}

QsStatus qstate_qmodel(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                       QModel **out, QsError *err)
{
    if (!cal)
        cal = qs->calibrated ? &qs->calib : NULL;
    const ActStats *key = cal ? cal->stats : NULL;
    for (int i = 0; i < qs->n_cache; i++) {
        if (qs->cache[i].stats != key || !plan_equal(&qs->cache[i].plan, p))
            continue;
        /* move to the front: the cache keeps the most recently used */
        QModel *q = qs->cache[i].q;
        Plan keep = qs->cache[i].plan;
        memmove(&qs->cache[1], &qs->cache[0], (size_t)i * sizeof qs->cache[0]);
        qs->cache[0].plan = keep;
        qs->cache[0].stats = key;
        qs->cache[0].q = q;
        *out = q;
        return QS_OK;
    }
    QModel *q;
    if (qmodel_build(m, p, cal, &q, err))
        return err->code;
    if (qs->n_cache == QSTATE_CACHE) {
        qs->n_cache--;
        qmodel_free(qs->cache[qs->n_cache].q);
        plan_release(&qs->cache[qs->n_cache].plan);
    }
    memmove(&qs->cache[1], &qs->cache[0], (size_t)qs->n_cache * sizeof qs->cache[0]);
    plan_copy(&qs->cache[0].plan, p);
    qs->cache[0].stats = key;
    qs->cache[0].q = q;
    qs->n_cache++;
    *out = q;
    return QS_OK;
}

QsStatus qstate_executor(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                         Executor *ex, FloatExec **float_owner, QsError *err)
{
    *float_owner = NULL;
    if (qstate_plan_is_float(p)) {
        *ex = exec_float_new(&m->graph, float_owner);
        return QS_OK;
    }
    QModel *q;
    if (qstate_qmodel(qs, m, p, cal, &q, err))
        return err->code;
    *ex = qmodel_executor(q);
    return QS_OK;
}

void qstate_variant_save(QuantState *qs, const char *name, const Plan *p)
{
    Variant v = { .name = xstrdup(name), .calibrated = qs->calibrated };
    plan_copy(&v.plan, p);
    if (qs->calibrated)
        calib_copy(&v.calib, &qs->calib);
    for (int i = 0; i < qs->n_variants; i++)
        if (strcmp(qs->variants[i].name, name) == 0) {
            qstate_clear_cache(qs);
            variant_release(&qs->variants[i]);
            qs->variants[i] = v;
            return;
        }
    qs->variants = xrealloc(qs->variants, (size_t)(qs->n_variants + 1) * sizeof *qs->variants);
    qs->variants[qs->n_variants++] = v;
}

bool qstate_variant_use(QuantState *qs, const char *name)
{
    const Variant *v = qstate_variant_find(qs, name);
    if (!v)
        return false;
    Plan p;
    plan_copy(&p, &v->plan);
    plan_release(&qs->plan);
    qs->plan = p;
    if (v->calibrated) {
        Calibration c;
        calib_copy(&c, &v->calib);
        qstate_set_calibration(qs, &c, "variant");
    }
    return true;
}

const Variant *qstate_variant_find(const QuantState *qs, const char *name)
{
    for (int i = 0; i < qs->n_variants; i++)
        if (strcmp(qs->variants[i].name, name) == 0)
            return &qs->variants[i];
    return NULL;
}

bool qstate_variant_drop(QuantState *qs, const char *name)
{
    for (int i = 0; i < qs->n_variants; i++)
        if (strcmp(qs->variants[i].name, name) == 0) {
            qstate_clear_cache(qs);
            variant_release(&qs->variants[i]);
            memmove(&qs->variants[i], &qs->variants[i + 1],
                    (size_t)(qs->n_variants - i - 1) * sizeof *qs->variants);
            qs->n_variants--;
            return true;
        }
    return false;
}
