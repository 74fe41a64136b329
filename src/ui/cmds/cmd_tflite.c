/* What `load FILE.tflite` adds to a session beyond the float twin: a quantized file's plan,
 * with its own parameters installed as an imported calibration (tflite/tflite_import.h,
 * quant/qimport.h). */
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/cmd_tflite.h"
#include "io/fileio.h"
#include "tflite/tflite_import.h"

static void tflite_counts(const QImport *im, Result *r)
{
    int nv = 0, nw = 0;
    for (int v = 0; v < im->n_values; v++)
        nv += im->has_qp[v];
    for (int n = 0; n < im->n_nodes; n++)
        nw += im->unit[n] != NULL;
    result_int(r, "imported_values", nv);
    result_int(r, "imported_weights", nw);
}

QsStatus tflite_session_apply(App *app, const Model *m, const TflImportQuant *tq,
                              const char *path, Result *r, QsError *err)
{
    result_str(r, "tflite_variant", tq->variant ? tq->variant : "fp32");
    if (!tq->variant || strcmp(tq->variant, "fp32") == 0)
        return QS_OK;
    Plan p;
    Calibration cal;
    if (tflite_import_plan(m, tq, path, &p, &cal, err))
        return err->code;
    QuantState *qs = &app->session.q;
    qstate_set_calibration(qs, &cal, "file");
    plan_release(&qs->plan);
    qs->plan = p;
    result_str(r, "plan", plan_label(&qs->plan));
    result_plan_target(r, &qs->plan);
    tflite_counts(qs->calib.imported, r);
    return QS_OK;
}

QsStatus tflite_variant_import(App *app, const char *path, const char *name, Result *r,
                               QsError *err)
{
    char stem[128];
    if (!name) { /* the file's name without folder and suffix */
        const char *base = strrchr(path, '/');
        snprintf(stem, sizeof stem, "%s", base ? base + 1 : path);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem)
            *dot = 0;
        name = stem;
    }
    if (!fileio_has_suffix(path, ".tflite"))
        return qs_fail(err, QS_EUNSUPPORTED, "variant import: %s is not a .tflite file", path);
    if (precision_find(name) >= 0)
        return qs_fail(err, QS_EINVAL, "variant import: '%s' names a precision; give another "
                       "NAME", name);
    TflImportQuant tq;
    Model *fm = tflite_load_ex(path, &tq, err);
    if (!fm)
        return err->code;
    Plan p = { 0 };
    Calibration cal = { 0 };
    QsStatus st = tflite_pair_plan(app->session.model, fm, &tq, path, &p, &cal, err);
    if (!st && qstate_plan_is_float(&p))
        st = qs_fail(err, QS_EINVAL, "variant import: a float (%s) file, nothing to import",
                     tq.variant);
    if (!st) {
        result_str(r, "variant", name);
        result_str(r, "action", "import");
        result_str(r, "tflite_variant", tq.variant);
        tflite_counts(cal.imported, r);
        BiasCorr none = biascorr_none();
        qstate_variant_add(&app->session.q, name, &p, &cal, &none, NULL);
    } else if (p.pin) {
        plan_release(&p);
        calib_release(&cal);
    }
    tflite_import_quant_release(&tq);
    model_free(fm);
    if (st)
        qs_error_prefix(err, "%s", path);
    return st;
}
