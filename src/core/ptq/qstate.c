#include "ptq/qstate.h"

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
    biascorr_release(&v->corr);
    model_free(v->model);
}

/* A copy of a variant's weights. Running out of memory here aborts as xmalloc does: the
 * copy is of weights already held in memory, and the callers (variant save/use) have no
 * error path. */
static Model *qstate_clone_model(const Model *m)
{
    QsError e;
    Model *c = model_clone(m, &e);
    if (!c)
        qs_assert_fail("out of memory copying a variant's weights", __FILE__, __LINE__);
    return c;
}

/* Makes `m` (owned, may be NULL) the active model; the cache may point at the old one. */
void qstate_set_active_model(QuantState *qs, Model *m)
{
    qstate_clear_cache(qs);
    model_free(qs->model);
    qs->model = m;
}

const Model *qstate_model(const QuantState *qs, const Model *m)
{
    return qs->model ? qs->model : m;
}

/* The model that goes with calibration cal (see qstate_qmodel). */
static const Model *model_of_calib(const QuantState *qs, const Model *m, const Calibration *cal)
{
    if (!cal)
        return qstate_model(qs, m);
    for (int i = 0; i < qs->n_variants; i++)
        if (qs->variants[i].calibrated && cal == &qs->variants[i].calib)
            return qs->variants[i].model ? qs->variants[i].model : m;
    return m;
}

static void drop_variants(QuantState *qs)
{
    qstate_clear_cache(qs); /* cached lowerings may point at the variants' calibrations */
    if (qs->n_variants)
        qs->variants_gen++;
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
    biascorr_release(&qs->corr);
    model_free(qs->model);
    plan_release(&qs->plan);
    memset(qs, 0, sizeof *qs);
}

void qstate_reset(QuantState *qs, int n_nodes)
{
    unsigned calib_gen = qs->calib_gen, variants_gen = qs->variants_gen;
    qstate_release(qs);
    qstate_init(qs, n_nodes);
    /* the generations go on counting, so a state after the reset never looks like one
     * before it (session_work) */
    qs->calib_gen = calib_gen + 1;
    qs->variants_gen = variants_gen + 1;
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
    biascorr_release(&qs->corr);
    qstate_set_active_model(qs, NULL); /* back to the session's model */
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
    qs->calib_gen++;
    snprintf(qs->calib_split, sizeof qs->calib_split, "%s", split);
    biascorr_release(&qs->corr);
}

void qstate_set_bias_corr(QuantState *qs, BiasCorr *c)
{
    biascorr_release(&qs->corr);
    if (!biascorr_active(c)) {
        biascorr_release(c);
        return;
    }
    qs->corr = *c;
    if (!qs->corr.gen)
        qs->corr.gen = biascorr_next_gen();
    *c = biascorr_none();
}

/* corr when it applies to p, else NULL. */
static const BiasCorr *corr_for(const BiasCorr *corr, const Plan *p)
{
    return biascorr_active(corr) && plan_equal(&corr->plan, p) ? corr : NULL;
}

const BiasCorr *qstate_bias_corr_for(const QuantState *qs, const Plan *p)
{
    return corr_for(&qs->corr, p);
}

bool qstate_plan_is_float(const Plan *p)
{
    for (int i = 0; i < p->n_nodes; i++)
        if (!precision_is_float(plan_node_prec(p, i)))
            return false;
    return true;
}

void calib_copy(Calibration *dst, const Calibration *src)
{
    *dst = *src;
    dst->stats = xmalloc((size_t)(src->n_values ? src->n_values : 1) * sizeof *dst->stats);
    memcpy(dst->stats, src->stats, (size_t)src->n_values * sizeof *dst->stats);
    qimport_ref(dst->imported);
}

/* The bias correction that goes with calibration cal: the session's for NULL (its current
 * calibration), a variant's for that variant's calibration, else none. */
static const BiasCorr *corr_of_calib(const QuantState *qs, const Calibration *cal)
{
    if (!cal)
        return &qs->corr;
    for (int i = 0; i < qs->n_variants; i++)
        if (qs->variants[i].calibrated && cal == &qs->variants[i].calib)
            return &qs->variants[i].corr;
    return NULL;
}

QsStatus qstate_qmodel(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                       QModel **out, QsError *err)
{
    return qstate_qmodel_corr(qs, m, p, cal, corr_of_calib(qs, cal), out, err);
}

QsStatus qstate_qmodel_corr(QuantState *qs, const Model *m, const Plan *p,
                            const Calibration *cal, const BiasCorr *corr, QModel **out,
                            QsError *err)
{
    m = model_of_calib(qs, m, cal);
    if (!cal)
        cal = qs->calibrated ? &qs->calib : NULL;
    corr = corr_for(corr, p);
    if (corr && corr->n_nodes != m->graph.n_nodes)
        return qs_fail(err, QS_EINVAL, "the bias correction is for %d layers, the model has %d",
                       corr->n_nodes, m->graph.n_nodes);
    const ActStats *key = cal ? cal->stats : NULL;
    uint64_t gen = corr ? corr->gen : 0;
    for (int i = 0; i < qs->n_cache; i++) {
        if (qs->cache[i].stats != key || qs->cache[i].corr_gen != gen ||
            qs->cache[i].m != m || !plan_equal(&qs->cache[i].plan, p))
            continue;
        /* move to the front: the cache keeps the most recently used */
        QModel *q = qs->cache[i].q;
        Plan keep = qs->cache[i].plan;
        memmove(&qs->cache[1], &qs->cache[0], (size_t)i * sizeof qs->cache[0]);
        qs->cache[0].plan = keep;
        qs->cache[0].stats = key;
        qs->cache[0].corr_gen = gen;
        qs->cache[0].m = m;
        qs->cache[0].q = q;
        *out = q;
        return QS_OK;
    }
    QModel *q;
    if (qmodel_build_ex(m, p, cal, corr ? (const float *const *)corr->v : NULL, &q, err))
        return err->code;
    if (qs->n_cache == QSTATE_CACHE) {
        qs->n_cache--;
        qmodel_free(qs->cache[qs->n_cache].q);
        plan_release(&qs->cache[qs->n_cache].plan);
    }
    memmove(&qs->cache[1], &qs->cache[0], (size_t)qs->n_cache * sizeof qs->cache[0]);
    plan_copy(&qs->cache[0].plan, p);
    qs->cache[0].stats = key;
    qs->cache[0].corr_gen = gen;
    qs->cache[0].m = m;
    qs->cache[0].q = q;
    qs->n_cache++;
    *out = q;
    return QS_OK;
}

QsStatus qstate_executor(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                         Executor *ex, FloatExec **float_owner, QsError *err)
{
    return qstate_executor_corr(qs, m, p, cal, corr_of_calib(qs, cal), ex, float_owner, err);
}

QsStatus qstate_executor_corr(QuantState *qs, const Model *m, const Plan *p,
                              const Calibration *cal, const BiasCorr *corr, Executor *ex,
                              FloatExec **float_owner, QsError *err)
{
    *float_owner = NULL;
    if (qstate_plan_is_float(p)) {
        *ex = exec_float_new(&model_of_calib(qs, m, cal)->graph, float_owner);
        return QS_OK;
    }
    QModel *q;
    if (qstate_qmodel_corr(qs, m, p, cal, corr, &q, err))
        return err->code;
    *ex = qmodel_executor(q);
    return QS_OK;
}

/* Takes v in: it replaces the variant of the same name (whose cached lowerings go), or is
 * appended. */
static void store_variant(QuantState *qs, Variant v)
{
    qs->variants_gen++;
    for (int i = 0; i < qs->n_variants; i++)
        if (strcmp(qs->variants[i].name, v.name) == 0) {
            qstate_clear_cache(qs);
            variant_release(&qs->variants[i]);
            qs->variants[i] = v;
            return;
        }
    qs->variants = xrealloc(qs->variants, (size_t)(qs->n_variants + 1) * sizeof *qs->variants);
    qs->variants[qs->n_variants++] = v;
}

void qstate_variant_save(QuantState *qs, const char *name, const Plan *p)
{
    Variant v = { .name = xstrdup(name), .calibrated = qs->calibrated };
    plan_copy(&v.plan, p);
    if (qs->calibrated)
        calib_copy(&v.calib, &qs->calib);
    biascorr_copy(&v.corr, corr_for(&qs->corr, p)); /* same gen: same lowering */
    v.model = qs->model ? qstate_clone_model(qs->model) : NULL;
    store_variant(qs, v);
}

void qstate_variant_save_model(QuantState *qs, const char *name, const Plan *p,
                               Calibration *cal, Model *model)
{
    Plan copy;
    plan_copy(&copy, p);
    BiasCorr none = biascorr_none();
    qstate_variant_add(qs, name, &copy, cal, &none, model);
}

void qstate_variant_add(QuantState *qs, const char *name, Plan *p, Calibration *cal,
                        BiasCorr *corr, Model *model)
{
    Variant v = { .name = xstrdup(name), .plan = *p, .calibrated = cal != NULL,
                  .corr = *corr, .model = model };
    if (cal) {
        v.calib = *cal;
        memset(cal, 0, sizeof *cal);
    }
    memset(p, 0, sizeof *p);
    *corr = biascorr_none();
    store_variant(qs, v);
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
        qstate_set_calibration(qs, &c, "variant"); /* drops the current correction */
    }
    if (biascorr_active(&v->corr)) {
        biascorr_release(&qs->corr);
        biascorr_copy(&qs->corr, &v->corr);
    }
    /* its own weights (QAT), or back to the session's */
    qstate_set_active_model(qs, v->model ? qstate_clone_model(v->model) : NULL);
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
            qs->variants_gen++;
            qstate_clear_cache(qs);
            variant_release(&qs->variants[i]);
            memmove(&qs->variants[i], &qs->variants[i + 1],
                    (size_t)(qs->n_variants - i - 1) * sizeof *qs->variants);
            qs->n_variants--;
            return true;
        }
    return false;
}

const Variant *qstate_variant_get(const QuantState *qs, const char *name, QsError *err)
{
    const Variant *v = qstate_variant_find(qs, name);
    if (v)
        return v;
    char names[256] = "";
    size_t at = 0;
    for (int i = 0; i < qs->n_variants && at < sizeof names; i++)
        at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
                               qs->variants[i].name);
    qs_fail(err, QS_ENOTFOUND, "no variant '%s' (variants: %s)", name,
            qs->n_variants ? names : "none; save one with 'variant save NAME'");
    return NULL;
}
