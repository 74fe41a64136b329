/* Optimizers (torch.optim.SGD, Adam, AdamW), schedules and gradient clipping. Each
 * per-element update is computed in double from float32 inputs and rounded once per stored
 * float32 value, in the order torch updates them, so results agree with torch's float32
 * arithmetic to a few ulps per step. Adam's per-element update is kern/adam.h's (vector
 * lanes, the same operations). */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/adam.h"
#include "kern/fmath.h"

/* ---- SGD: torch.optim.SGD(momentum=mu, dampening=0, nesterov=False, weight_decay=wd)
 *   g = grad + wd * p
 *   b = g on the first step, else mu * b + g      (only when mu != 0)
 *   p = p - lr * b                                (b = g when mu == 0) */
static void optim_sgd_step(Optim *o, const ParamList *p, double lr)
{
    double mu = o->cfg.momentum, wd = o->cfg.weight_decay;
    float *buf = o->state[0];
    for (int i = 0; i < p->n; i++) {
        float *w = tensor_f32(&p->param[i]);
        const float *gr = tensor_f32(&p->grad[i]);
        float *b = buf ? buf + p->offset[i] : NULL;
        int64_t n = tensor_numel(&p->param[i]);
        for (int64_t k = 0; k < n; k++) {
            float g = (float)((double)gr[k] + wd * (double)w[k]);
            if (b) {
                b[k] = o->t == 1 ? g : (float)(mu * (double)b[k] + (double)g);
                g = b[k];
            }
            w[k] = (float)((double)w[k] - lr * (double)g);
        }
    }
}

/* ---- Adam / AdamW: torch.optim.Adam(betas=(b1, b2), eps, weight_decay=wd), AdamW
 *   adamw: p = p * (1 - lr * wd)                   (decoupled decay, before the step)
 *   adam:  g = grad + wd * p                       (L2 through the gradient)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
static void optim_adam_common(Optim *o, const ParamList *p, double lr, bool decoupled)
{
    double b1 = o->cfg.beta1, b2 = o->cfg.beta2, wd = o->cfg.weight_decay;
    AdamCoef c = { .b1 = b1, .b2 = b2, .one_b1 = 1.0 - b1, .one_b2 = 1.0 - b2,
                   .step_size = lr / (1.0 - fm_powi(b1, o->t)),
                   .bc2_sqrt = sqrt(1.0 - fm_powi(b2, o->t)), .eps = o->cfg.eps, .wd = wd,
                   .decay = 1.0 - lr * wd, .decoupled = decoupled };
    for (int i = 0; i < p->n; i++)
        adam_update_f32(tensor_f32(&p->param[i]), tensor_f32(&p->grad[i]),
                        o->state[0] + p->offset[i], o->state[1] + p->offset[i],
                        tensor_numel(&p->param[i]), &c);
}

static void optim_adam_step(Optim *o, const ParamList *p, double lr)
{
    optim_adam_common(o, p, lr, false);
}

static void optim_adamw_step(Optim *o, const ParamList *p, double lr)
{
    optim_adam_common(o, p, lr, true);
}

const OptimDef optim_table[OPTIM_COUNT] = {
    [OPTIM_SGD] = { .name = "sgd", .n_state = 1, .step = optim_sgd_step },
    [OPTIM_ADAM] = { .name = "adam", .n_state = 2, .step = optim_adam_step },
    [OPTIM_ADAMW] = { .name = "adamw", .n_state = 2, .step = optim_adamw_step },
};

int optim_find(const char *name)
{
    for (int k = 0; k < OPTIM_COUNT; k++)
        if (strcmp(optim_table[k].name, name) == 0)
            return k;
    return -1;
}

OptimConfig optim_config_default(OptimKind kind)
{
    OptimConfig c = { .lr = 1e-3, .momentum = 0.0, .weight_decay = 0.0, .beta1 = 0.9,
                      .beta2 = 0.999, .eps = 1e-8 };
    if (kind == OPTIM_SGD)
        c.lr = 0.01;
    if (kind == OPTIM_ADAMW)
        c.weight_decay = 0.01;
    return c;
}

static bool optim_in_unit(double x) { return x >= 0.0 && x < 1.0; }

QsStatus optim_check_config(const OptimConfig *c, QsError *err)
{
    if (!(c->lr > 0.0) || isinf(c->lr))
        return qs_fail(err, QS_EINVAL, "lr=%g: must be finite and > 0", c->lr);
    if (!optim_in_unit(c->momentum))
        return qs_fail(err, QS_EINVAL, "momentum=%g: must be in [0, 1)", c->momentum);
    if (!(c->weight_decay >= 0.0) || isinf(c->weight_decay))
        return qs_fail(err, QS_EINVAL, "weight_decay=%g: must be finite and >= 0",
                       c->weight_decay);
    if (!optim_in_unit(c->beta1))
        return qs_fail(err, QS_EINVAL, "beta1=%g: must be in [0, 1)", c->beta1);
    if (!optim_in_unit(c->beta2))
        return qs_fail(err, QS_EINVAL, "beta2=%g: must be in [0, 1)", c->beta2);
    if (!(c->eps > 0.0) || isinf(c->eps))
        return qs_fail(err, QS_EINVAL, "eps=%g: must be finite and > 0", c->eps);
    return QS_OK;
}

QsStatus optim_init(Optim *o, OptimKind kind, const OptimConfig *cfg, int64_t numel,
                    QsError *err)
{
    memset(o, 0, sizeof *o);
    if ((unsigned)kind >= OPTIM_COUNT)
        return qs_fail(err, QS_EINVAL, "optimizer %d is not in the optimizer table", (int)kind);
    if (optim_check_config(cfg, err))
        return err->code;
    o->kind = kind;
    o->cfg = *cfg;
    o->numel = numel;
    int n_state = optim_table[kind].n_state;
    /* Plain SGD keeps no momentum buffer, as torch's. */
    if (kind == OPTIM_SGD && cfg->momentum == 0.0)
        n_state = 0;
    size_t bytes;
    if (numel < 0 || __builtin_mul_overflow((size_t)numel, sizeof(float), &bytes))
        return qs_fail(err, QS_ENOMEM, "optimizer state for %lld parameters overflows",
                       (long long)numel);
    for (int s = 0; s < n_state; s++) {
        o->state[s] = calloc(bytes ? bytes : 1, 1);
        if (!o->state[s]) {
            optim_release(o);
            return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes of %s state", bytes,
                           optim_table[kind].name);
        }
    }
    return QS_OK;
}

void optim_step(Optim *o, const ParamList *p, double lr)
{
    QS_ASSERT(p->numel == o->numel);
    o->t++;
    optim_table[o->kind].step(o, p, lr);
}

void optim_reset(Optim *o)
{
    for (int s = 0; s < 2; s++)
        if (o->state[s])
            memset(o->state[s], 0, (size_t)o->numel * sizeof(float));
    o->t = 0;
}

void optim_release(Optim *o)
{
    if (!o)
        return;
    free(o->state[0]);
    free(o->state[1]);
    memset(o, 0, sizeof *o);
}

double optim_clip_grad_norm(const ParamList *p, double max_norm)
{
    double sq = 0.0;
    for (int64_t k = 0; k < p->numel; k++)
        sq += (double)p->buf[k] * (double)p->buf[k];
    double total = sqrt(sq);
    double coef = max_norm / (total + 1e-6);
    /* torch multiplies by the clamped coefficient unconditionally; by 1 is a no-op, and
     * a NaN norm spreads NaN into every gradient just as there. */
    if (!(coef >= 1.0))
        for (int64_t k = 0; k < p->numel; k++)
            p->buf[k] = (float)((double)p->buf[k] * coef);
    return total;
}

/* ---- schedules ----------------------------------------------------------------------- */

static double optim_sched_constant(const SchedConfig *c, int epoch)
{
    (void)epoch;
    return c->base_lr;
}

/* torch.optim.lr_scheduler.StepLR: lr = base * gamma^floor(epoch / step_size). */
static double optim_sched_step(const SchedConfig *c, int epoch)
{
    return c->base_lr * fm_powi(c->gamma, epoch / c->step_size);
}

/* torch.optim.lr_scheduler.CosineAnnealingLR(T_max=epochs, eta_min=0), closed form:
 * lr = base * (1 + cos(pi * epoch / epochs)) / 2. */
static double optim_sched_cosine(const SchedConfig *c, int epoch)
{
    return c->base_lr * (1.0 + fm_cospi((double)epoch / (double)c->epochs)) / 2.0;
}

const SchedDef optim_sched_table[SCHED_COUNT] = {
    [SCHED_CONSTANT] = { .name = "constant", .lr = optim_sched_constant },
    [SCHED_STEP] = { .name = "step", .lr = optim_sched_step },
    [SCHED_COSINE] = { .name = "cosine", .lr = optim_sched_cosine },
};

int optim_sched_find(const char *name)
{
    for (int k = 0; k < SCHED_COUNT; k++)
        if (strcmp(optim_sched_table[k].name, name) == 0)
            return k;
    return -1;
}

QsStatus optim_sched_check(SchedKind kind, const SchedConfig *c, QsError *err)
{
    if ((unsigned)kind >= SCHED_COUNT)
        return qs_fail(err, QS_EINVAL, "schedule %d is not in the schedule table", (int)kind);
    if (!(c->base_lr > 0.0) || isinf(c->base_lr))
        return qs_fail(err, QS_EINVAL, "lr=%g: must be finite and > 0", c->base_lr);
    if (kind == SCHED_COSINE && c->epochs < 1)
        return qs_fail(err, QS_EINVAL, "epochs=%d: cosine needs at least 1", c->epochs);
    if (kind == SCHED_STEP && c->step_size < 1)
        return qs_fail(err, QS_EINVAL, "step_size=%d: must be at least 1", c->step_size);
    if (kind == SCHED_STEP && (!(c->gamma > 0.0) || isinf(c->gamma)))
        return qs_fail(err, QS_EINVAL, "gamma=%g: must be finite and > 0", c->gamma);
    return QS_OK;
}

double optim_sched_lr(SchedKind kind, const SchedConfig *c, int epoch)
{
    QS_ASSERT((unsigned)kind < SCHED_COUNT);
    return optim_sched_table[kind].lr(c, epoch);
}
