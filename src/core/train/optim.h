/* Optimizers, learning-rate schedules and gradient clipping, with PyTorch semantics
 * (formulas and equivalents: docs/training.md). Optimizers walk a ParamList (run.h): each
 * parameter tensor is updated in place from its gradient; per-element state (momentum,
 * Adam moments) is float32 like torch's and lives in buffers indexed like the ParamList's
 * contiguous gradient buffer. Per-element arithmetic is done in double and rounded to
 * float32 once per stored value. */
#ifndef QS_OPTIM_H
#define QS_OPTIM_H

#include <stdint.h>

#include "base/error.h"
#include "run/run.h"

typedef enum { OPTIM_SGD = 0, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_COUNT } OptimKind;

typedef struct OptimConfig {
    double lr;            /* base learning rate (> 0); schedules scale it per epoch */
    double momentum;      /* sgd: [0, 1), 0 = plain SGD (dampening is always 0) */
    double weight_decay;  /* >= 0. sgd, adam: L2, wd * param added to the gradient;
                             adamw: decoupled, param *= 1 - lr * wd before the step */
    double beta1, beta2;  /* adam, adamw: [0, 1) */
    double eps;           /* adam, adamw: > 0, added outside the square root */
} OptimConfig;

typedef struct Optim {
    OptimKind kind;
    OptimConfig cfg;
    int64_t numel;        /* elements of the ParamList it was made for */
    int64_t t;            /* steps taken (Adam's bias correction uses t after increment) */
    float *state[2];      /* [numel] each or NULL: sgd momentum buffer; adam exp_avg,
                             exp_avg_sq. Owned. */
} Optim;

typedef struct OptimDef {
    const char *name;     /* "sgd", "adam", "adamw" */
    int n_state;          /* state buffers of numel floats */
    /* One update of every parameter in p with learning rate lr; o->t is already
     * incremented for this step. */
    void (*step)(Optim *o, const ParamList *p, double lr);
} OptimDef;

extern const OptimDef optim_table[OPTIM_COUNT];

/* Optimizer index by name, or -1. */
int optim_find(const char *name);

/* torch's defaults for `kind`: lr 0.01 (sgd) or 0.001 (adam, adamw), momentum 0,
 * weight_decay 0 (0.01 for adamw), betas (0.9, 0.999), eps 1e-8. */
OptimConfig optim_config_default(OptimKind kind);

/* Checks ranges (see OptimConfig); QS_EINVAL names the bad field and its value. */
QsStatus optim_check_config(const OptimConfig *cfg, QsError *err);

/* Prepares an optimizer for a parameter list of `numel` elements, with zeroed state.
 * Release with optim_release. QS_ENOMEM names the size. */
QsStatus optim_init(Optim *o, OptimKind kind, const OptimConfig *cfg, int64_t numel,
                    QsError *err);
/* One step over p (p->numel must equal o->numel) at learning rate lr, which the schedule
 * gives; cfg.lr is only its base. */
void optim_step(Optim *o, const ParamList *p, double lr);
/* Forgets the state (momentum, moments, step count). */
void optim_reset(Optim *o);
void optim_release(Optim *o);

/* torch.nn.utils.clip_grad_norm_(params, max_norm) with norm_type 2: the global L2 norm
 * of all gradients, total = sqrt(sum g^2) (in double); every gradient is multiplied by
 * min(1, max_norm / (total + 1e-6)). Returns total, measured before clipping (may be
 * Inf/NaN, in which case the gradients become NaN as in torch). max_norm > 0. */
double optim_clip_grad_norm(const ParamList *p, double max_norm);

/* ---- learning-rate schedules, per epoch ------------------------------------------------ */

typedef enum { SCHED_CONSTANT = 0, SCHED_STEP, SCHED_COSINE, SCHED_COUNT } SchedKind;

typedef struct SchedConfig {
    double base_lr;       /* the optimizer's lr */
    int epochs;           /* total epochs, cosine's T_max (>= 1) */
    int step_size;        /* step: epochs between decays (>= 1) */
    double gamma;         /* step: factor per decay (> 0) */
} SchedConfig;

typedef struct SchedDef {
    const char *name;     /* "constant", "step", "cosine" */
    /* Learning rate used during 0-based `epoch`. */
    double (*lr)(const SchedConfig *c, int epoch);
} SchedDef;

extern const SchedDef optim_sched_table[SCHED_COUNT];

/* Schedule index by name, or -1. */
int optim_sched_find(const char *name);
/* Checks the fields schedule `kind` uses; QS_EINVAL names the bad one. */
QsStatus optim_sched_check(SchedKind kind, const SchedConfig *c, QsError *err);
/* The learning rate of 0-based `epoch` under schedule `kind`. */
double optim_sched_lr(SchedKind kind, const SchedConfig *c, int epoch);

#endif
