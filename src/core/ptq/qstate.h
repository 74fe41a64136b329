/* The quantization state of a session: the current plan, the calibration, named variants,
 * and a cache of lowered plans so that switching precision back and forth costs no
 * re-quantization. */
#ifndef QS_QSTATE_H
#define QS_QSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ptq/biascorr.h"
#include "quant/calib.h"
#include "base/error.h"
#include "run/exec.h"
#include "graph/model.h"
#include "quant/plan.h"
#include "qexec/qexec.h"

#define QSTATE_CACHE 8

typedef struct Variant {
    char *name;          /* owned */
    Plan plan;
    Calibration calib;   /* a snapshot of the calibration it was saved with (owned) */
    bool calibrated;
    BiasCorr corr;       /* the bias correction of its plan, when one was current (owned) */
    Model *model;        /* its own fine-tuned weights (a QAT variant: qat.h), same graph
                            structure as the session's model; owned. NULL: the session's */
} Variant;

typedef struct QuantState {
    Plan plan;                    /* the current plan */
    Calibration calib;
    bool calibrated;
    char calib_split[16];         /* which split calibrated it */
    BiasCorr corr;                /* bias correction of corr.plan (biascorr.h); empty: none */
    Model *model;                 /* the ACTIVE model: a copy of the weights of the variant
                                     last made current by qstate_variant_use when it holds
                                     its own (QAT); owned. NULL: the session's model */
    int n_cache;
    struct {
        Plan plan;
        const ActStats *stats;    /* identity of the calibration it was built with */
        uint64_t corr_gen;        /* the bias correction it was built with (0: none) */
        const Model *m;           /* the model it was lowered onto */
        QModel *q;                /* owned */
    } cache[QSTATE_CACHE];        /* most recently used first */
    int n_variants;
    Variant *variants;            /* owned */
    unsigned calib_gen;           /* counts calibrations installed (qstate_set_calibration) */
    unsigned variants_gen;        /* counts changes to the variants (save, replace, drop) */
} QuantState;

void qstate_init(QuantState *qs, int n_nodes);
void qstate_release(QuantState *qs);

/* Back to the state of a freshly loaded model of n_nodes nodes: an fp32 plan with default
 * options and no pins, no calibration, no bias correction, no variants, the session's own
 * weights active. The generations keep counting up. */
void qstate_reset(QuantState *qs, int n_nodes);

/* The model's weights or graph changed (train, fold, cle): drops the
 * calibration, the bias correction, the cache and -- when the node count changed -- the
 * pins and the variants. n_nodes < 0 means the model is going away: everything goes. */
void qstate_model_changed(QuantState *qs, int n_nodes);

/* Installs a new calibration (moved in; *c is emptied) and drops cached lowerings and the
 * bias correction (it was measured with the old one). Parameters imported from a file
 * (c->imported) come only with c: a calibration without them replaces the file's with
 * parameters derived from its ranges. */
void qstate_set_calibration(QuantState *qs, Calibration *c, const char *split);

/* Installs a bias correction (moved in; *c is emptied; an empty one switches correction
 * off). It applies to plans equal to c->plan only. */
void qstate_set_bias_corr(QuantState *qs, BiasCorr *c);

/* The current bias correction when it applies to plan p (measured for it), else NULL. */
const BiasCorr *qstate_bias_corr_for(const QuantState *qs, const Plan *p);

/* The model the current plan runs on: the active model (a QAT variant's weights, made
 * current by `variant use`) when there is one, else m, the session's model. */
const Model *qstate_model(const QuantState *qs, const Model *m);

/* Drops cached lowerings (after something changed that the cache key -- plan, calibration,
 * bias correction gen, model -- does not see, e.g. weights rewritten in place). */
void qstate_clear_cache(QuantState *qs);

/* True when p runs every node in fp32: the float model itself. */
bool qstate_plan_is_float(const Plan *p);

/* The lowered plan p for model m with calibration cal (NULL: the session's current one),
 * built on first use and cached (owned by qs). m is the session's model: the plan is
 * lowered onto the model that goes with cal -- qstate_model(qs, m) for NULL (the current
 * state), a variant's own weights for that variant's calibration (&v->calib), else m
 * (docs/qat.md, "The QAT variant"). The bias correction that goes with cal is
 * applied when it was measured for plan p: the session's for NULL, a variant's for that
 * variant's calibration (&v->calib), none for any other calibration. */
QsStatus qstate_qmodel(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                       QModel **out, QsError *err);
/* The same with an explicit bias correction (NULL: none; ignored when measured for another
 * plan than p), e.g. a variant's. */
QsStatus qstate_qmodel_corr(QuantState *qs, const Model *m, const Plan *p,
                            const Calibration *cal, const BiasCorr *corr, QModel **out,
                            QsError *err);

/* An executor for plan p (m and cal as above): the float run for an all-fp32 plan (then
 * *float_owner is set and the caller frees it with exec_float_free), else the cached
 * quantized model (*float_owner NULL). */
QsStatus qstate_executor(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                         Executor *ex, FloatExec **float_owner, QsError *err);
/* The same with an explicit bias correction (as qstate_qmodel_corr). */
QsStatus qstate_executor_corr(QuantState *qs, const Model *m, const Plan *p,
                              const Calibration *cal, const BiasCorr *corr, Executor *ex,
                              FloatExec **float_owner, QsError *err);

/* A deep copy of a calibration (dst initialised here). */
void calib_copy(Calibration *dst, const Calibration *src);

/* Variants: save copies the plan, the current calibration and the current bias correction
 * (when it applies to the plan) under name (replacing one of that name); use makes a
 * variant's plan, calibration and bias correction current; find returns NULL when absent;
 * drop returns false when absent. */
void qstate_variant_save(QuantState *qs, const char *name, const Plan *p);
/* Saves a variant that holds its own weights (QAT): plan p (copied), calibration *cal and
 * model (both moved in; *cal is emptied), no bias correction. Replaces one of that name.
 * model must have the session model's graph structure. */
void qstate_variant_save_model(QuantState *qs, const char *name, const Plan *p,
                               Calibration *cal, Model *model);
/* Adds a variant from its parts, all moved in (*p, *corr emptied; cal NULL: uncalibrated,
 * else emptied; model NULL: the session's weights), replacing one of that name. What a
 * session file restores (sessionfile.h). */
void qstate_variant_add(QuantState *qs, const char *name, Plan *p, Calibration *cal,
                        BiasCorr *corr, Model *model);
/* Makes m (moved in; NULL: the session's model) the active model, as `variant use` of a
 * variant with its own weights does. */
void qstate_set_active_model(QuantState *qs, Model *m);
bool qstate_variant_use(QuantState *qs, const char *name);
const Variant *qstate_variant_find(const QuantState *qs, const char *name);
/* The same, failing with QS_ENOTFOUND listing the variants there are. */
const Variant *qstate_variant_get(const QuantState *qs, const char *name, QsError *err);
bool qstate_variant_drop(QuantState *qs, const char *name);

#endif
