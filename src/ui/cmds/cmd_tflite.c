/* What `load FILE.tflite` adds to a session beyond the float twin: a quantized file's plan,
 * with its own parameters installed as an imported calibration (tflite/tflite_import.h,
 * quant/qimport.h). */
#include <stdio.h>
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

/* The file's name without folder and suffix. */
static void file_stem(const char *path, char *stem, size_t cap)
{
    const char *base = strrchr(path, '/');
    snprintf(stem, cap, "%s", base ? base + 1 : path);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = 0;
}

QsStatus tflite_refuse_imported(const Session *s, const char *cmd, const char *why,
                                QsError *err)
{
    const QImport *im = s->q.calibrated ? s->q.calib.imported : NULL;
    if (!im)
        return QS_OK;
    return qs_fail(err, QS_EINVAL, "%s: the plan runs on the parameters imported from %s "
                   "(its scales, zero points, int8 weights and int32 biases are the file's): "
                   "%s; 'calibrate' replaces them with qscope's own first (keeping the "
                   "file's as a variant)", cmd, im->source, why);
}

void tflite_keep_imported(Session *s, Result *r)
{
    QuantState *qs = &s->q;
    QImport *im = qs->calibrated ? qs->calib.imported : NULL;
    if (!im)
        return;
    result_str(r, "replaced_imported", im->source);
    const char *kept = NULL;
    for (int i = 0; i < qs->n_variants && !kept; i++)
        if (qs->variants[i].calibrated && qs->variants[i].calib.imported == im)
            kept = qs->variants[i].name;
    char name[160], stem[128];
    if (!kept) {
        file_stem(im->source, stem, sizeof stem);
        snprintf(name, sizeof name, "%s", stem);
        for (int k = 2; precision_find(name) >= 0 || qstate_variant_find(qs, name); k++)
            snprintf(name, sizeof name, "%.120s_file%d", stem, k);
        qstate_variant_save(qs, name, &qs->plan);
        kept = name;
    }
    result_str(r, "file_variant", kept);
    result_textf(r, "the parameters imported from %s are replaced by qscope's own from this "
                 "calibration; the file's stay as variant '%s' ('compare' shows both)",
                 im->source, kept);
}

QsStatus tflite_variant_import(App *app, const char *path, const char *name, Result *r,
                               QsError *err)
{
    char stem[128];
    if (!name) {
        file_stem(path, stem, sizeof stem);
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
