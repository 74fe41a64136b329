#include "device/device_rows.h"

#include <stdio.h>
#include <string.h>

void device_row_plan(const Session *s, int i, Plan *plan, const Model **m,
                     const Calibration **cal)
{
    const QuantState *qs = &s->q;
    if (i < PREC_COUNT) { /* a precision row: the current options, no pins */
        plan_copy(plan, &qs->plan);
        memset(plan->pin, -1, (size_t)plan->n_nodes);
        plan->mode = (PrecKind)i;
        *m = qstate_model(qs, s->model);
        *cal = qs->calibrated ? &qs->calib : NULL;
        return;
    }
    const Variant *var = &qs->variants[i - PREC_COUNT];
    plan_copy(plan, &var->plan);
    *m = var->model ? var->model : s->model;
    *cal = var->calibrated ? &var->calib : NULL;
}

QsStatus device_rows_apply(const Session *s, VariantRows *v, const DeviceTarget *t,
                           bool io_int8, DeviceSizeFn size, void *size_ctx, QsError *err)
{
    if (v->n != PREC_COUNT + s->q.n_variants)
        return qs_fail(err, QS_EINVAL, "device: the rows are not every precision and variant");
    QsStatus st = QS_OK;
    for (int i = 0; i < v->n && !st; i++) {
        VariantRow *row = &v->rows[i];
        if (!row->evaluated)
            continue;
        Plan p;
        const Model *m;
        const Calibration *cal;
        device_row_plan(s, i, &p, &m, &cal);
        DeviceProfile pr;
        if (!(st = device_profile(m, &p, t, io_int8, &pr, err))) {
            row->ms = pr.est_ms;
            if (t->runtime == DEV_RUNTIME_TFLM && pr.n_unsupported) {
                int n = snprintf(row->unfit, sizeof row->unfit, "%s lacks ", t->name);
                device_unsupported_names(&pr, row->unfit + n, sizeof row->unfit - (size_t)n);
            }
            device_profile_release(&pr);
        }
        const char *kind;
        if (!st && size)
            st = size(size_ctx, m, &p, cal, &row->bytes, &kind, err);
        if (st)
            qs_error_prefix(err, "%s on %s", row->name, t->name);
        plan_release(&p);
    }
    return st;
}
