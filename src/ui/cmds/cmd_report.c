/* report: the session as one JSON document (for archiving and diffing scripted runs) or as
 * one self-contained HTML page (report_html.c: for people), by the path's suffix. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "cmds/report.h"
#include "io/fileio.h"
#include "text/args.h"
#include "text/render.h"

QsStatus report_run(App *app, const char *cmd, Result *r, bool *ran, char *why, size_t cap,
                    QsError *err)
{
    QsError sub = { 0 };
    QsStatus st = cmd_exec(app, cmd, r, &sub);
    *ran = st == QS_OK;
    if (cap)
        why[0] = '\0';
    if (st == QS_ECANCELLED) {
        *err = sub;
        return st;
    }
    if (st && cap)
        snprintf(why, cap, "%s", sub.msg);
    return QS_OK;
}

/* Runs one command quietly and adds its result under `key`; a command that cannot run in
 * this session (no calibration, no labels) is recorded as {"skipped": reason}. */
static QsStatus add_section(App *app, cJSON *doc, const char *key, const char *cmd,
                            QsError *err)
{
    Result r;
    result_init(&r, "");
    bool ran;
    char why[sizeof err->msg];
    QsStatus st = report_run(app, cmd, &r, &ran, why, sizeof why, err);
    if (!st && !ran) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "skipped", why);
        cJSON_AddItemToObject(doc, key, o);
    } else if (!st) {
        cJSON_AddItemToObject(doc, key, render_json_object(&r));
    }
    result_release(&r);
    return st;
}

static QsStatus report_json(App *app, const char *path, const char *pick, QsError *err)
{
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
    return st;
}

QsStatus cmd_report(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const char *path = a->pos[0];
    bool html = fileio_has_suffix(path, ".html");
    if (!html && !fileio_has_suffix(path, ".json"))
        return qs_fail(err, QS_EINVAL, "report: the path must end in .json or .html");
    double drop;
    /* a bad threshold fails here, not as a skipped pick section in a written report */
    for (int i = 1; i < a->n_pos; i++)
        if (strncmp(a->pos[i], "drop<=", 6) == 0 && parse_fraction("drop", a->pos[i] + 6, &drop,
                                                                  err))
            return err->code;
    /* the pick command, and the report's own line for the HTML page's subtitle */
    StrBuf pick = { 0 }, self = { 0 };
    strbuf_printf(&pick, "pick");
    strbuf_printf(&self, "report ");
    args_quote(&self, path);
    for (int i = 1; i < a->n_pos; i++) {
        strbuf_printf(&pick, " ");
        args_quote(&pick, a->pos[i]);
        strbuf_printf(&self, " ");
        args_quote(&self, a->pos[i]);
    }
    QsStatus st = html ? report_html(app, path, self.s, pick.s, err)
                       : report_json(app, path, pick.s, err);
    strbuf_release(&pick);
    strbuf_release(&self);
    if (!st)
        result_str(r, "report", path);
    return st;
}
