/* What `load FILE.tflite` adds to a session beyond the float twin: a quantized file's plan,
 * with its own parameters installed as an imported calibration (tflite/tflite_import.h,
 * quant/qimport.h). */
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/cmd_tflite.h"
#include "tflite/tflite_import.h"

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
    int nv = 0, nw = 0;
    for (int v = 0; v < cal.imported->n_values; v++)
        nv += cal.imported->has_qp[v];
    for (int n = 0; n < cal.imported->n_nodes; n++)
        nw += cal.imported->unit[n] != NULL;
    qstate_set_calibration(qs, &cal, "file");
    plan_release(&qs->plan);
    qs->plan = p;
    result_str(r, "plan", plan_label(&qs->plan));
    result_plan_target(r, &qs->plan);
    result_int(r, "imported_values", nv);
    result_int(r, "imported_weights", nw);
    return QS_OK;
}
