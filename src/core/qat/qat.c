/* QAT's configuration and loss (qat.h); the loop is qat_run.c. Rules in docs/qat.md. */
#include "qat/qat.h"

#include <stdlib.h>
#include <string.h>

const char *const qat_distill_names[QAT_DISTILL_COUNT] = { "none", "kl", "mse" };

QatConfig qat_config_default(void)
{
    QatConfig c;
    memset(&c, 0, sizeof c);
    c.epochs = 3;
    c.batch = 32;
    c.optim = OPTIM_ADAM;
    c.opt = optim_config_default(OPTIM_ADAM);
    c.opt.lr = 1e-4;
    c.distill = -1;
    c.temperature = 4.0;
    c.alpha = 0.5;
    c.scales = QAT_SCALES_EMA;
    c.ma_momentum = 0.01;
    return c;
}

void qat_result_release(QatResult *r)
{
    model_free(r->model);
    calib_release(&r->cal);
    plan_release(&r->plan);
    memset(r, 0, sizeof *r);
}

/* ---- the loss ---------------------------------------------------------------------------- */

QsStatus qat_loss(const QatLossCfg *c, const float *logits, const float *teacher,
                  const int64_t *labels, const float *targets, int64_t n, int C,
                  float *dlogits, QatLossParts *out, QsError *err)
{
    LossArgs la = { .logits = logits, .n = n, .c = C, .labels = labels, .targets = targets,
                    .class_weights = c->class_weights };
    double lt, ld;
    if (loss_compute(c->task, &la, &lt, dlogits, err))
        return err->code;
    out->task = out->total = lt;
    out->distill = 0.0;
    if (c->distill == QAT_DISTILL_NONE)
        return QS_OK;
    size_t count;
    if (__builtin_mul_overflow((size_t)n, (size_t)C, &count))
        return qs_fail(err, QS_ENOMEM, "a batch of %lld x %d logits overflows", (long long)n, C);
    float *dd = malloc(count * sizeof *dd);
    if (!dd)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu distillation gradients", count);
    LossArgs da = { .logits = logits, .n = n, .c = C, .targets = teacher,
                    .temperature = c->temperature };
    if (loss_compute(c->distill == QAT_DISTILL_KL ? LOSS_KL_DISTILL : LOSS_MSE, &da, &ld, dd,
                     err)) {
        free(dd);
        return err->code;
    }
    double a = c->alpha;
    for (size_t i = 0; i < count; i++)
        dlogits[i] = (float)(a * dlogits[i] + (1.0 - a) * dd[i]);
    free(dd);
    out->distill = ld;
    out->total = a * lt + (1.0 - a) * ld;
    return QS_OK;
}
