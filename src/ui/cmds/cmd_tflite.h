/* The session side of `load FILE.tflite` (cmd_tflite.c). */
#ifndef QS_CMD_TFLITE_H
#define QS_CMD_TFLITE_H

#include "cmds/app.h"
#include "text/result.h"
#include "tflite/tflite_import.h"

/* Installs a quantized file's plan (its variant's precision, its target, float layers
 * pinned) and its parameters as the session's imported calibration (split "file"); adds
 * "tflite_variant", "plan", "target", "imported_values", "imported_weights" to r. An fp32
 * file adds only its variant. */
QsStatus tflite_session_apply(App *app, const Model *m, const TflImportQuant *tq,
                              const char *path, Result *r, QsError *err);

/* `variant import FILE.tflite [NAME]`: the file's plan and parameters paired with the
 * session's model (tflite_pair_plan) saved as variant NAME (default: the file's name
 * without folder and suffix); adds "variant", "action" ("import"), "tflite_variant",
 * "imported_values", "imported_weights". */
QsStatus tflite_variant_import(App *app, const char *path, const char *name, Result *r,
                               QsError *err);

/* When the session's current parameters are imported from a file (quant/qimport.h):
 * QS_EINVAL "CMD: the plan runs on the parameters imported from FILE ... WHY"; else QS_OK.
 * For commands that would act on parameters the file fixes. */
QsStatus tflite_refuse_imported(const Session *s, const char *cmd, const char *why,
                                QsError *err);

/* Before `calibrate` replaces imported parameters with qscope's own: keeps the current plan
 * and the file's parameters as a variant (named after the file, unless a variant holds
 * them already) so `compare` shows both; adds "replaced_imported" (the file) and
 * "file_variant" to r. Nothing when the parameters are not imported. */
void tflite_keep_imported(Session *s, Result *r);

#endif
