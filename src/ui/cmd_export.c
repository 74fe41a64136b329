/* export: the model, or one variant's plan, as ONNX (docs/onnx.md, "Export"). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_handlers.h"
#include "fileio.h"
#include "onnx_export.h"

CMD_HANDLER(cmd_export)
{
    Session *s = &app->session;
    QuantState *qs = &s->q;
    const char *path = a->pos[0], *vn = arg_str(a, "variant", NULL);
    if (!fileio_has_suffix(path, ".onnx"))
        return qs_fail(err, QS_EINVAL, "%s: export writes ONNX, give a PATH.onnx (save writes "
                       ".qsm)", path);
    const Variant *v = NULL;
    if (vn && !(v = qstate_variant_find(qs, vn))) {
        char names[256] = "";
        size_t at = 0;
        for (int i = 0; i < qs->n_variants && at < sizeof names; i++)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
                                   qs->variants[i].name);
        return qs_fail(err, QS_ENOTFOUND, "no variant '%s' (variants: %s)", vn,
                       qs->n_variants ? names : "none; save one with 'variant save NAME'");
    }
    const Plan *p = v ? &v->plan : &qs->plan;
    const Calibration *cal = v ? &v->calib : NULL;
    const char *layout = "fp32";
    QsStatus st;
    if (qstate_plan_is_float(p)) {
        const Model *m = v && v->model ? v->model : qstate_model(qs, s->model);
        st = onnx_save(path, m, err);
    } else {
        QModel *q;
        if (v && !v->calibrated && p->mode == PREC_INT8_STATIC)
            return qs_fail(err, QS_EINVAL, "variant '%s' has no calibration", vn);
        if ((st = qstate_qmodel(qs, s->model, p, cal, &q, err)))
            return st;
        st = onnx_save_plan(path, q, err);
        bool any8 = false, any16 = false;
        for (int i = 0; i < p->n_nodes; i++) {
            PrecKind k = plan_node_prec(p, i);
            any8 |= k == PREC_INT8_STATIC;
            any16 |= k == PREC_FP16;
        }
        layout = any8 ? "qdq-int8" : any16 ? "fp16" : "fp32";
    }
    if (st)
        return st;
    struct stat sb;
    result_str(r, "exported", path);
    result_str(r, "variant", vn ? vn : "(current plan)");
    result_str(r, "plan", plan_label(p));
    result_str(r, "layout", layout);
    result_int(r, "bytes", stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1);
    return QS_OK;
}
