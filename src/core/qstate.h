/* The quantization state of a session: the current plan, the calibration, named variants,
 * and a cache of lowered plans so that switching precision back and forth costs no
 * re-quantization. */
#ifndef QS_QSTATE_H
#define QS_QSTATE_H

#include <stdbool.h>

#include "calib.h"
#include "error.h"
#include "exec.h"
#include "model.h"
#include "plan.h"
#include "qexec.h"

#define QSTATE_CACHE 8

typedef struct Variant {
    char *name;          /* owned */
    Plan plan;
    Calibration calib;   /* a snapshot of the calibration it was saved with (owned) */
    bool calibrated;
} Variant;

typedef struct QuantState {
    Plan plan;                    /* the current plan */
    Calibration calib;
    bool calibrated;
    char calib_split[16];         /* which split calibrated it */
    int n_cache;
    struct {
        Plan plan;
        const ActStats *stats;    /* identity of the calibration it was built with */
        QModel *q;                /* owned */
    } cache[QSTATE_CACHE];        /* most recently used first */
    int n_variants;
    Variant *variants;            /* owned */
} QuantState;

void qstate_init(QuantState *qs, int n_nodes);
void qstate_release(QuantState *qs);

/* The model's weights or graph changed (load, init, train, fold): drops the calibration,
 * the cache and -- when the node count changed -- the pins and the variants. n_nodes < 0
 * means the model is going away: everything goes. */
void qstate_model_changed(QuantState *qs, int n_nodes);

/* Installs a new calibration (moved in; *c is emptied) and drops cached lowerings. */
void qstate_set_calibration(QuantState *qs, Calibration *c, const char *split);

/* Drops cached lowerings (after the plan's options changed in a way the cache key does
 * not see, e.g. a bias correction changed the float weights). */
void qstate_clear_cache(QuantState *qs);

/* True when p runs every node in fp32: the float model itself. */
bool qstate_plan_is_float(const Plan *p);

/* The lowered plan p for model m with calibration cal (NULL: the session's current one),
 * built on first use and cached (owned by qs). */
QsStatus qstate_qmodel(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                       QModel **out, QsError *err);

/* An executor for plan p (cal as above): the float run for an all-fp32 plan (then
 * *float_owner is set and the caller frees it with exec_float_free), else the cached
 * quantized model (*float_owner NULL). */
QsStatus qstate_executor(QuantState *qs, const Model *m, const Plan *p, const Calibration *cal,
                         Executor *ex, FloatExec **float_owner, QsError *err);

/* A deep copy of a calibration (dst initialised here). */
void calib_copy(Calibration *dst, const Calibration *src);

/* Variants: save copies the plan and the current calibration under name (replacing one of
 * that name); use makes a variant's plan and calibration current; find returns NULL when
 * absent; drop returns false when absent. */
void qstate_variant_save(QuantState *qs, const char *name, const Plan *p);
bool qstate_variant_use(QuantState *qs, const char *name);
const Variant *qstate_variant_find(const QuantState *qs, const char *name);
bool qstate_variant_drop(QuantState *qs, const char *name);

#endif
