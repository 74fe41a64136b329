/* The ties question (taps.h): which outputs of an int8 linear unit sit on a rounding tie,
 * and which targets' rules round them apart. Exact integer arithmetic throughout. */
#include "ptq/taps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qexec/qexec_rerun.h"
#include "qexec/qexec_view.h"

/* The multiplier of r as its rule holds it: mant 2^-e (mant > 0). */
static void tie_multiplier(const Requant *r, int64_t *mant, int *e)
{
    if (r->rule == QRQ_FP32) {
        int ex;
        float f = frexpf(r->scale, &ex); /* scale = f 2^ex, f in [0.5, 1) */
        *mant = (int64_t)ldexpf(f, 24);  /* exact: a float has 24 significant bits */
        *e = 24 - ex;
    } else {
        *mant = r->m0;
        *e = 31 + r->shift;
    }
}

/* Whether the value the rule's last rounding sees is exactly k + 1/2. */
static bool tie_rule_on(int32_t acc, const Requant *r)
{
    if (r->rule == QRQ_FP32) {
        float f = (float)acc * r->scale;
        return f - floorf(f) == 0.5f;
    }
    if (r->rule == QRQ_GEMMLOWP && r->shift > 0 && r->shift <= 31) {
        /* RoundingDivideByPOT of the high product: its remainder is half the divisor */
        int64_t x = quant_srdhm(acc, r->m0), mask = ((int64_t)1 << r->shift) - 1;
        return (x & mask) == (int64_t)1 << (r->shift - 1);
    }
    /* one rounding of acc m0 2^-(31 + shift) (gemmlowp with a left shift: the high
       product's own rounding, of acc 2^-shift m0 2^-31) */
    int e = r->rule == QRQ_GEMMLOWP ? 31 : 31 + r->shift;
    int64_t a = r->rule == QRQ_GEMMLOWP && r->shift < 0 ? (int64_t)acc << -r->shift : acc;
    if (e < 1 || e > 62 || a > INT32_MAX || a < INT32_MIN)
        return false; /* gemmlowp's left shift wraps in int32: the device's, not a tie */
    int64_t p = a * r->m0, mask = ((int64_t)1 << e) - 1;
    return (p & mask) == (int64_t)1 << (e - 1);
}

void taps_tie_of(int32_t acc, const Requant *r, int32_t z_out, int32_t lo, int32_t hi,
                 bool *on, bool *near)
{
    *on = *near = false;
    int64_t mant;
    int e;
    tie_multiplier(r, &mant, &e);
    /* the FP32 rule multiplies (float)acc: an integer, exact in int64 */
    int64_t a = r->rule == QRQ_FP32 ? (int64_t)(float)acc : acc;
    if (mant <= 0 || e < 1 || e > 62 || a == 0)
        return; /* an integer value, or |value| far below 1/2 */
    int64_t p = a * mant;                   /* |a| <= 2^31, mant < 2^31: no overflow */
    int64_t fl = p >> e;                    /* floor(value) (arithmetic shift) */
    int64_t frac = p & (((int64_t)1 << e) - 1);
    int64_t half = (int64_t)1 << (e - 1);
    int64_t dist = frac > half ? frac - half : half - frac;
    int64_t k0 = fl + z_out, k1 = k0 + 1;   /* the two codes around it */
    if (k0 < lo || k1 > hi)
        return;                             /* the clamp decides, not the rounding */
    /* the rule's resolution in units of 2^-e: one unit in the multiplier's last place
       times |acc|; gemmlowp's first rounding (half a unit of the high product, 2^-shift
       of a step); the float product's rounding (2^-24 of |value|, taken as 2^-23) */
    int64_t res = a < 0 ? -a : a;
    if (r->rule == QRQ_GEMMLOWP && r->shift > 0 && e - r->shift >= 1)
        res = res > (int64_t)1 << (e - r->shift - 1) ? res : (int64_t)1 << (e - r->shift - 1);
    if (r->rule == QRQ_FP32) {
        int64_t ulp = (p < 0 ? -p : p) >> 23;
        res = res > ulp ? res : ulp;
    }
    *on = tie_rule_on(acc, r);
    *near = *on || dist <= res;
}

/* One output's codes under every target (code[t] read where out->ok[t]): the pairs that
 * round it apart. */
static void ties_pair_count(const int32_t code[QTGT_COUNT], TieStats *out)
{
    for (int a = 0; a < QTGT_COUNT; a++)
        for (int b = a + 1; b < QTGT_COUNT; b++)
            if (out->ok[a] && out->ok[b] && code[a] != code[b]) {
                out->differ[a][b]++;
                out->differ[b][a]++;
            }
}

QsStatus taps_ties(const QModel *q, int head, const int8_t *x, const Shape *xs,
                   const Shape *ys, TieStats *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    out->head = head;
    QUnitRules R;
    if (qmodel_unit_rules(q, head, ys, &R, err))
        return err->code;
    int64_t n = shape_numel(ys);
    int32_t *acc = xmalloc((size_t)(n ? n : 1) * sizeof *acc);
    if (qmodel_unit_accumulators(q, head, x, xs, ys, acc, err)) {
        free(acc);
        qunit_rules_release(&R);
        return err->code;
    }
    int cur = R.current;
    for (int t = 0; t < QTGT_COUNT; t++)
        out->ok[t] = R.ok[t];
    out->n = n;
    out->acc = true;
    for (int64_t i = 0; i < n; i++) {
        int32_t code[QTGT_COUNT];
        for (int t = 0; t < QTGT_COUNT; t++)
            code[t] = R.ok[t] ? qunit_code(&R, t, i, acc[i]) : 0;
        ties_pair_count(code, out);
        /* on: under the plan's own rule; near: within any target's resolution (a rule
           that rounds an output apart from another does so within its own) */
        bool any_near = false;
        for (int t = 0; t < QTGT_COUNT; t++) {
            if (!R.ok[t])
                continue;
            bool on, near;
            taps_tie_of(acc[i], &R.rq[t][qunit_channel(&R, i)], R.z_out, R.lo[t], R.hi[t],
                        &on, &near);
            out->on_tie += t == cur && on;
            any_near |= near;
        }
        out->near_tie += any_near;
    }
    free(acc);
    qunit_rules_release(&R);
    return QS_OK;
}

/* The differing pairs of n codes per target (codes[t] set where out->ok[t]). */
static void ties_pairs(int32_t *const *codes, int64_t n, TieStats *out)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t code[QTGT_COUNT];
        for (int t = 0; t < QTGT_COUNT; t++)
            code[t] = out->ok[t] ? codes[t][i] : 0;
        ties_pair_count(code, out);
    }
}

QsStatus taps_step_pairs(QModel *q, int head, const Tensor *const *in, const Shape *ys,
                         TieStats *out, bool *has, QsError *err)
{
    memset(out, 0, sizeof *out);
    out->head = head;
    out->on_tie = out->near_tie = -1;
    *has = false;
    QStepView sv = qmodel_step(q, qmodel_step_of(q, head));
    QParams qp;
    if (sv.kind != QSTEP_INT8 || !qmodel_value_qparams(q, sv.out, &qp))
        return QS_OK;
    Tensor *y = tensor_new(DT_F32, *ys, err);
    if (!y)
        return err->code;
    int64_t n = tensor_numel(y);
    int32_t *codes[QTGT_COUNT] = { 0 };
    QsStatus st = QS_OK;
    for (int t = 0; t < QTGT_COUNT && !st; t++) {
        QsError e = { 0 };
        QsStatus rc = qmodel_run_node_target(q, head, t, in, y, has, &e);
        if (!*has)
            break;
        if (rc == QS_EINVAL)
            continue; /* parameters the target cannot hold */
        if (rc) {
            *err = e;
            st = rc;
            break;
        }
        out->ok[t] = true;
        codes[t] = xmalloc((size_t)(n ? n : 1) * sizeof(int32_t));
        for (int64_t i = 0; i < n; i++)
            codes[t][i] = quant_q(tensor_f32(y)[i], &qp);
    }
    if (!st && *has) {
        out->n = n;
        ties_pairs(codes, n, out);
    }
    for (int t = 0; t < QTGT_COUNT; t++)
        free(codes[t]);
    tensor_free(y);
    return st;
}
