#include "eval/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"

const TaskDef task_table[TASK_COUNT] = {
    [TASK_CLASSIFY] = { "classify", "accuracy", true, true, false },
    [TASK_MULTILABEL] = { "multilabel", "accuracy", true, false, false },
    [TASK_REGRESS] = { "regress", "mse", false, false, false },
    [TASK_DETECT] = { "detect", "f1", true, false, true },
    [TASK_POLICY] = { "policy", "success", true, true, true },
};

const char *task_name(TaskKind t)
{
    if ((unsigned)t < TASK_COUNT)
        return task_table[t].name;
    return "unknown";
}

int task_find(const char *name)
{
    for (int t = 0; t < TASK_COUNT; t++)
        if (strcmp(task_table[t].name, name) == 0)
            return t;
    return -1;
}

/* Index of the first largest element. NaN never compares greater, so a row with NaNs
 * picks among its numbers (index 0 when the whole row is NaN): a broken run then shows
 * up as wrong predictions rather than as a crash. */
static int row_argmax(const float *row /* (C,) */, int C)
{
    int best = 0;
    for (int j = 1; j < C; j++)
        if (row[j] > row[best] || (isnan(row[best]) && !isnan(row[j])))
            best = j;
    return best;
}

void label_metrics_init(LabelMetrics *m, TaskKind task, int n_classes)
{
    QS_ASSERT((unsigned)task < TASK_COUNT && n_classes >= 1);
    memset(m, 0, sizeof *m);
    m->task = task;
    m->n_classes = n_classes;
    if (task_table[task].class_labels)
        m->confusion = xcalloc((size_t)n_classes * (size_t)n_classes, sizeof *m->confusion);
}

void label_metrics_release(LabelMetrics *m)
{
    if (!m)
        return;
    free(m->confusion);
    m->confusion = NULL;
}

QsStatus label_metrics_add(LabelMetrics *m, const float *out, int64_t n, const int64_t *labels,
                           const float *targets, int64_t first_index, QsError *err)
{
    const int C = m->n_classes;
    if (n < 0)
        return qs_fail(err, QS_EINVAL, "negative sample count %lld", (long long)n);
    if (task_table[m->task].class_labels) {
        if (!labels)
            return qs_fail(err, QS_EINVAL, "%s metrics need integer labels", task_name(m->task));
        /* Checked before counting anything, so a bad batch leaves the totals as they were. */
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= C)
                return qs_fail(err, QS_EINVAL, "sample %lld: label %lld out of range [0, %d)",
                               (long long)(first_index + i), (long long)labels[i], C);
        for (int64_t i = 0; i < n; i++) {
            int pred = row_argmax(out + i * C, C);
            m->confusion[labels[i] * C + pred]++;
        }
        m->n += n;
        return QS_OK;
    }
    if (!targets)
        return qs_fail(err, QS_EINVAL, "%s metrics need float targets", task_name(m->task));
    for (int64_t i = 0; i < n; i++) {
        const float *o = out + i * C, *t = targets + i * C;
        for (int j = 0; j < C; j++) {
            double y = o[j];
            if (m->task == TASK_MULTILABEL || m->task == TASK_DETECT) {
                /* A target counts as set from 0.5 up, so soft labels still compare. */
                bool want = t[j] >= 0.5f, got = o[j] > 0.0f;
                m->bits_right += want == got;
                m->bits_total++;
                y = 1.0 / (1.0 + fm_exp(-(double)o[j]));
            }
            double d = y - (double)t[j];
            m->sum_sq += d * d;
            m->sum_abs += fabs(d);
            m->values++;
        }
    }
    m->n += n;
    return QS_OK;
}

void label_metrics_set_detect(LabelMetrics *m, const DetectCfg *cfg) { m->det_cfg = *cfg; }

QsStatus label_metrics_add_aux(LabelMetrics *m, const float *out, int64_t n, const float *aux,
                               int64_t aux_width, QsError *err)
{
    const int C = m->n_classes;
    if (m->task == TASK_POLICY) {
        if (aux_width != C)
            return qs_fail(err, QS_ESHAPE, "policy: %lld unsafe flags per sample for %d actions",
                           (long long)aux_width, C);
        for (int64_t i = 0; i < n; i++)
            m->unsafe += aux[i * C + row_argmax(out + i * C, C)] >= 0.5f;
    } else if (m->task == TASK_DETECT) {
        const DetectCfg *c = &m->det_cfg;
        if (aux_width % 3 != 0 || (int64_t)c->out_h * c->out_w != C)
            return qs_fail(err, QS_ESHAPE, "detect: objects need 3 values each (got %lld per "
                           "sample) and a %dx%d heat map of %d cells", (long long)aux_width,
                           c->out_h, c->out_w, C);
        detect_counts_add(&m->det, c, out, n, aux, (int)(aux_width / 3));
    }
    return QS_OK;
}

double label_metrics_headline(const LabelMetrics *m)
{
    switch (m->task) {
    case TASK_REGRESS:
        return label_metrics_mse(m);
    case TASK_DETECT:
        return detect_f1(&m->det, -1);
    default:
        return label_metrics_accuracy(m);
    }
}

double label_metrics_collision(const LabelMetrics *m)
{
    return m->task == TASK_POLICY && m->n ? (double)m->unsafe / (double)m->n : NAN;
}

double label_metrics_accuracy(const LabelMetrics *m)
{
    if (task_table[m->task].class_labels) {
        if (m->n == 0)
            return NAN;
        int64_t right = 0;
        for (int c = 0; c < m->n_classes; c++)
            right += m->confusion[c * m->n_classes + c];
        return (double)right / (double)m->n;
    }
    if (m->task == TASK_MULTILABEL && m->bits_total > 0)
        return (double)m->bits_right / (double)m->bits_total;
    return NAN;
}

double label_metrics_precision(const LabelMetrics *m, int cls)
{
    if (!task_table[m->task].class_labels || cls < 0 || cls >= m->n_classes)
        return NAN;
    const int C = m->n_classes;
    int64_t predicted = 0;
    for (int t = 0; t < C; t++)
        predicted += m->confusion[t * C + cls];
    return predicted ? (double)m->confusion[cls * C + cls] / (double)predicted : NAN;
}

double label_metrics_recall(const LabelMetrics *m, int cls)
{
    if (!task_table[m->task].class_labels || cls < 0 || cls >= m->n_classes)
        return NAN;
    const int C = m->n_classes;
    int64_t occurs = 0;
    for (int p = 0; p < C; p++)
        occurs += m->confusion[cls * C + p];
    return occurs ? (double)m->confusion[cls * C + cls] / (double)occurs : NAN;
}

double label_metrics_mse(const LabelMetrics *m)
{
    return m->values ? m->sum_sq / (double)m->values : NAN;
}

double label_metrics_mae(const LabelMetrics *m)
{
    return m->values ? m->sum_abs / (double)m->values : NAN;
}

void compare_metrics_init(CompareMetrics *c) { memset(c, 0, sizeof *c); }

/* Floor for q in KL(p || q): a class the reference gives weight but the other run gives
 * (numerically) none would make the divergence infinite, and one such sample would hide
 * every other in the mean. 1e-12 caps a single term at p * 27.6 nats. */
#define KL_Q_FLOOR 1e-12

/* log-softmax of a row in double, max-subtracted so that large logits cannot overflow. */
static void log_softmax_row(const float *x /* (C,) */, int C, double *out /* (C,) */)
{
    double mx = -INFINITY;
    for (int j = 0; j < C; j++)
        if ((double)x[j] > mx)
            mx = x[j];
    double sum = 0;
    for (int j = 0; j < C; j++)
        sum += fm_exp((double)x[j] - mx);
    double lse = mx + fm_log(sum);
    for (int j = 0; j < C; j++)
        out[j] = (double)x[j] - lse;
}

void compare_metrics_add(CompareMetrics *c, const float *a, const float *b, int64_t n, int C)
{
    QS_ASSERT(n >= 0 && C >= 1);
    double *lp = xmalloc(2 * (size_t)C * sizeof *lp), *lq = lp + C;
    for (int64_t i = 0; i < n; i++) {
        const float *ra = a + i * C, *rb = b + i * C;
        c->agree += row_argmax(ra, C) == row_argmax(rb, C);
        for (int j = 0; j < C; j++) {
            double x = ra[j], y = rb[j], d = x - y;
            if (fabs(d) > c->max_abs || isnan(d))
                c->max_abs = isnan(d) ? NAN : fabs(d);
            c->sum_sq_diff += d * d;
            c->sum_sq_ref += x * x;
            c->dot += x * y;
            c->norm_a += x * x;
            c->norm_b += y * y;
        }
        log_softmax_row(ra, C, lp);
        log_softmax_row(rb, C, lq);
        double kl = 0;
        for (int j = 0; j < C; j++) {
            /* log q straight from the log-softmax unless floored, so identical rows give
             * exactly 0 rather than the rounding of log(exp(x)). */
            double p = fm_exp(lp[j]), log_q = fm_exp(lq[j]) < KL_Q_FLOOR ? fm_log(KL_Q_FLOOR) : lq[j];
            /* p == 0 (underflow) contributes nothing, as the limit p log p -> 0 says. */
            if (p > 0)
                kl += p * (lp[j] - log_q);
        }
        c->kl_sum += kl;
    }
    free(lp);
    c->n += n;
    c->values += n * C;
}

double compare_metrics_agreement(const CompareMetrics *c)
{
    return c->n ? (double)c->agree / (double)c->n : NAN;
}

double compare_metrics_mse(const CompareMetrics *c)
{
    return c->values ? c->sum_sq_diff / (double)c->values : NAN;
}

double compare_metrics_sqnr_db(const CompareMetrics *c)
{
    if (c->values == 0)
        return NAN;
    if (c->sum_sq_diff == 0)
        return INFINITY;
    return 10.0 * fm_log10(c->sum_sq_ref / c->sum_sq_diff);
}

/* norm_a and norm_b hold sums of squares. Two all-zero outputs are identical (1); one
 * all-zero output shares no direction with the other (0). */
double compare_metrics_cosine(const CompareMetrics *c)
{
    if (c->values == 0)
        return NAN;
    if (c->norm_a == 0 && c->norm_b == 0)
        return 1.0;
    if (c->norm_a == 0 || c->norm_b == 0)
        return 0.0;
    return c->dot / sqrt(c->norm_a * c->norm_b);
}

double compare_metrics_kl(const CompareMetrics *c)
{
    return c->n ? c->kl_sum / (double)c->n : NAN;
}
