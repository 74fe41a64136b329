/* report: the session as one JSON document, for archiving and diffing scripted runs. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "io/fileio.h"
#include "text/render.h"

/* Runs one command quietly and adds its result under `key`; a command that cannot run in
 * this session (no calibration, no labels) is recorded as {"skipped": reason}. */
static QsStatus add_section(App *app, cJSON *doc, const char *key, const char *cmd,
                            QsError *err)
{
    Result r;
    result_init(&r, "");
    QsError sub = { 0 };
    QsStatus st = cmd_exec(app, cmd, &r, &sub);
    if (st == QS_ECANCELLED) {
        *err = sub;
    } else if (st) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "skipped", sub.msg);
        cJSON_AddItemToObject(doc, key, o);
        st = QS_OK;
    } else {
        cJSON_AddItemToObject(doc, key, render_json_object(&r));
    }
    result_release(&r);
    return st;
}

QsStatus cmd_report(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const char *path = a->pos[0];
    if (!fileio_has_suffix(path, ".json"))
        return qs_fail(err, QS_EINVAL, "report: the path must end in .json");
    char pick[256] = "pick";
    double drop;
    /* a bad threshold fails here, not as a skipped pick section in a written report */
    for (int i = 1; i < a->n_pos; i++)
        if (strncmp(a->pos[i], "drop<=", 6) == 0 && parse_fraction("drop", a->pos[i] + 6, &drop,
                                                                  err))
            return err->code;
    for (int i = 1; i < a->n_pos; i++) {
        strncat(pick, " ", sizeof pick - strlen(pick) - 1);
        strncat(pick, a->pos[i], sizeof pick - strlen(pick) - 1);
    }
    /* One section per question a reader of the report asks, each the JSON of the command
     * that answers it (docs/json.md names their fields). */
    const struct {
        const char *key, *cmd;
    } sections[] = {
        { "model", "info" },     { "data", "data" },         { "plan", "mode" },
        { "layers", "layers" },  { "error", "error accum" }, { "local_error", "error local" },
        { "variants", "compare" }, { "pick", pick },
    };
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "qscope", "0.1.0");
    cJSON_AddStringToObject(doc, "calibrated_on", app->session.q.calibrated
                                                      ? app->session.q.calib_split
                                                      : "");
    QsStatus st = QS_OK;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0] && !st; i++)
        st = add_section(app, doc, sections[i].key, sections[i].cmd, err);
    if (!st) {
        char *text = render_json_print(doc, true);
        st = fileio_write_atomic(path, text, strlen(text), err);
        free(text);
    }
    cJSON_Delete(doc);
    if (!st)
        result_str(r, "report", path);
    return st;
}
