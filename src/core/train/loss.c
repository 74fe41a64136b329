/* Training losses. Every loss accumulates in double and follows PyTorch's 'mean'
 * reduction; the formulas are spelled out in docs/training.md. */
#include "train/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"

static QsStatus loss_check_weights(const LossArgs *a, const char *what, QsError *err)
{
    if (!a->class_weights)
        return QS_OK;
    for (int c = 0; c < a->c; c++) {
        float w = a->class_weights[c];
        if (!(w >= 0.0f) || isinf(w))
            return qs_fail(err, QS_EINVAL, "%s: class weight %d is %g; weights must be finite and >= 0",
                           what, c, (double)w);
    }
    return QS_OK;
}

static double loss_weight(const LossArgs *a, int c)
{
    return a->class_weights ? (double)a->class_weights[c] : 1.0;
}

/* ---- softmax cross-entropy -------------------------------------------------------------
 * With log-probabilities lp = log_softmax(z), weights w (1 when absent), smoothing e and
 * W = sum_i w[y_i] (torch's normalisation, also used for the smoothing term):
 *   L = [ (1 - e) sum_i w[y_i] (-lp[i, y_i]) + (e / C) sum_i sum_c w[c] (-lp[i, c]) ] / W
 *   dL/dz[i, j] = [ (1 - e) w[y_i] (p[i, j] - [j == y_i]) + (e / C) (S p[i, j] - w[j]) ] / W
 * with p = softmax(z) and S = sum_c w[c]. */
static QsStatus loss_cross_entropy(const LossArgs *a, double *loss, float *dlogits,
                                   QsError *err)
{
    const char *what = "cross_entropy";
    int C = a->c;
    double eps = a->label_smoothing;
    if (!(eps >= 0.0 && eps <= 1.0))
        return qs_fail(err, QS_EINVAL, "%s: label_smoothing=%g must be in [0, 1]", what, eps);
    if (loss_check_weights(a, what, err))
        return err->code;
    double wsum = 0.0, sum_w_all = 0.0;
    for (int c = 0; c < C; c++)
        sum_w_all += loss_weight(a, c);
    for (int64_t i = 0; i < a->n; i++) {
        int64_t y = a->labels[i];
        if (y < 0 || y >= C)
            return qs_fail(err, QS_EINVAL, "%s: sample %lld has label %lld, outside [0, %d)",
                           what, (long long)i, (long long)y, C);
        wsum += loss_weight(a, (int)y);
    }
    if (wsum == 0.0) {
        /* Every label in the batch has weight 0: torch returns 0/0 = NaN. Here the batch
         * simply contributes nothing, so one such batch cannot derail training. */
        *loss = 0.0;
        if (dlogits)
            memset(dlogits, 0, (size_t)a->n * (size_t)C * sizeof *dlogits);
        return QS_OK;
    }
    double nll = 0.0, smooth = 0.0;
    for (int64_t i = 0; i < a->n; i++) {
        const float *z = a->logits + i * C;
        int y = (int)a->labels[i];
        double m = z[0];
        for (int c = 1; c < C; c++)
            if (z[c] > m)
                m = z[c];
        double se = 0.0;
        for (int c = 0; c < C; c++)
            se += fm_exp((double)z[c] - m);
        double lse = m + fm_log(se);
        double wy = loss_weight(a, y);
        nll += wy * (lse - (double)z[y]);
        if (eps != 0.0)
            for (int c = 0; c < C; c++)
                smooth += loss_weight(a, c) * (lse - (double)z[c]);
        if (dlogits) {
            float *d = dlogits + i * C;
            for (int c = 0; c < C; c++) {
                double p = fm_exp((double)z[c] - lse);
                double g = (1.0 - eps) * wy * (p - (c == y ? 1.0 : 0.0)) +
                           eps / C * (sum_w_all * p - loss_weight(a, c));
                d[c] = (float)(g / wsum);
            }
        }
    }
    *loss = ((1.0 - eps) * nll + eps / C * smooth) / wsum;
    return QS_OK;
}

/* ---- binary cross-entropy with logits ----------------------------------------------------
 * Per element, in the overflow-free form torch uses:
 *   l = max(z, 0) - z t + log(1 + exp(-|z|)),   dl/dz = sigmoid(z) - t
 * L = mean over all N*C elements of w[c] l (torch's weight= rescales, the mean still
 * divides by N*C). */
static QsStatus loss_bce_logits(const LossArgs *a, double *loss, float *dlogits, QsError *err)
{
    const char *what = "bce_logits";
    int C = a->c;
    if (loss_check_weights(a, what, err))
        return err->code;
    double total = 0.0, count = (double)a->n * (double)C;
    for (int64_t i = 0; i < a->n; i++)
        for (int c = 0; c < C; c++) {
            int64_t k = i * C + c;
            double t = a->targets[k], z = a->logits[k];
            if (!(t >= 0.0 && t <= 1.0))
                return qs_fail(err, QS_EINVAL, "%s: sample %lld target %d is %g, outside [0, 1]",
                               what, (long long)i, c, t);
            double w = loss_weight(a, c);
            total += w * (fmax(z, 0.0) - z * t + fm_log1p(fm_exp(-fabs(z))));
            if (dlogits) {
                double s = z >= 0 ? 1.0 / (1.0 + fm_exp(-z)) : fm_exp(z) / (1.0 + fm_exp(z));
                dlogits[k] = (float)(w * (s - t) / count);
            }
        }
    *loss = total / count;
    return QS_OK;
}

/* ---- mean squared error -------------------------------------------------------------------
 *   L = mean over N*C of (z - t)^2,   dL/dz = 2 (z - t) / (N C) */
static QsStatus loss_mse(const LossArgs *a, double *loss, float *dlogits, QsError *err)
{
    int C = a->c;
    double total = 0.0, count = (double)a->n * (double)C;
    for (int64_t i = 0; i < a->n; i++)
        for (int c = 0; c < C; c++) {
            int64_t k = i * C + c;
            double t = a->targets[k], d = (double)a->logits[k] - t;
            if (!isfinite(t))
                return qs_fail(err, QS_EINVAL, "mse: sample %lld target %d is %g", (long long)i,
                               c, t);
            total += d * d;
            if (dlogits)
                dlogits[k] = (float)(2.0 * d / count);
        }
    *loss = total / count;
    return QS_OK;
}

/* ---- knowledge distillation ---------------------------------------------------------------
 * Hinton et al. 2015. With teacher logits t, temperature T, lt = log_softmax(t / T) and
 * ls = log_softmax(z / T) (max-subtracted), pt = exp(lt), ps = exp(ls):
 *   L = T^2 / N sum_i sum_c pt[i, c] (lt[i, c] - ls[i, c])
 *   dL/dz[i, c] = T / N (ps[i, c] - pt[i, c])
 * The T^2 keeps the gradient's size independent of T. A class whose pt underflows to 0
 * adds 0 (torch's xlogy convention). */
static void loss_log_softmax(const float *z, int C, double T, double *out)
{
    double m = (double)z[0] / T;
    for (int c = 1; c < C; c++)
        m = fmax(m, (double)z[c] / T);
    double se = 0.0;
    for (int c = 0; c < C; c++)
        se += fm_exp((double)z[c] / T - m);
    double lse = m + fm_log(se);
    for (int c = 0; c < C; c++)
        out[c] = (double)z[c] / T - lse;
}

static QsStatus loss_kl_distill(const LossArgs *a, double *loss, float *dlogits, QsError *err)
{
    int C = a->c;
    double T = a->temperature == 0.0 ? 1.0 : a->temperature;
    if (!(T > 0.0) || isinf(T))
        return qs_fail(err, QS_EINVAL, "kl_distill: temperature %g must be finite and > 0", T);
    double *lt = xmalloc(2 * (size_t)C * sizeof *lt), *ls = lt + C;
    double total = 0.0, n = (double)a->n;
    for (int64_t i = 0; i < a->n; i++) {
        const float *t = a->targets + i * C, *z = a->logits + i * C;
        for (int c = 0; c < C; c++)
            if (!isfinite(t[c])) {
                free(lt);
                return qs_fail(err, QS_EINVAL, "kl_distill: sample %lld teacher logit %d is %g",
                               (long long)i, c, (double)t[c]);
            }
        loss_log_softmax(t, C, T, lt);
        loss_log_softmax(z, C, T, ls);
        for (int c = 0; c < C; c++) {
            double pt = fm_exp(lt[c]);
            if (pt > 0.0)
                total += pt * (lt[c] - ls[c]);
            if (dlogits)
                dlogits[i * C + c] = (float)(T / n * (fm_exp(ls[c]) - pt));
        }
    }
    free(lt);
    *loss = T * T * total / n;
    return QS_OK;
}

const LossDef loss_table[LOSS_COUNT] = {
    [LOSS_CROSS_ENTROPY] = { .name = "cross_entropy", .short_name = "ce", .class_labels = true,
                             .uses_class_weights = true, .uses_label_smoothing = true,
                             .compute = loss_cross_entropy },
    [LOSS_BCE_LOGITS] = { .name = "bce_logits", .short_name = "bce", .uses_class_weights = true,
                          .compute = loss_bce_logits },
    [LOSS_MSE] = { .name = "mse", .short_name = "mse", .compute = loss_mse },
    [LOSS_KL_DISTILL] = { .name = "kl_distill", .compute = loss_kl_distill },
};

int loss_find(const char *name)
{
    for (int k = 0; k < LOSS_COUNT; k++)
        if (strcmp(loss_table[k].name, name) == 0)
            return k;
    return -1;
}

QsStatus loss_compute(LossKind kind, const LossArgs *a, double *loss, float *dlogits,
                      QsError *err)
{
    if ((unsigned)kind >= LOSS_COUNT)
        return qs_fail(err, QS_EINVAL, "loss %d is not in the loss table", (int)kind);
    if (a->n < 1 || a->c < 1)
        return qs_fail(err, QS_EINVAL, "%s: batch of %lld x %d values is empty",
                       loss_table[kind].name, (long long)a->n, a->c);
    const LossDef *def = &loss_table[kind];
    if (def->class_labels ? !a->labels : !a->targets)
        return qs_fail(err, QS_EINVAL, "%s needs %s", def->name,
                       def->class_labels ? "integer class labels" : "float targets");
    if (a->class_weights && !def->uses_class_weights)
        return qs_fail(err, QS_EINVAL, "%s does not take class weights", def->name);
    if (a->label_smoothing != 0.0f && !def->uses_label_smoothing)
        return qs_fail(err, QS_EINVAL, "%s does not take label smoothing", def->name);
    return def->compute(a, loss, dlogits, err);
}
