/* reset, session new|save|load: the session as a whole (docs/scripts.md, "Sessions"). */
#include "cmds/cmd_session.h"

#include <stdio.h>
#include <string.h>

#include "kern/threads.h"
#include "cmds/cmd_handlers.h"
#include "native/sessionfile.h"

void cmd_session_fresh(App *app)
{
    session_clear(&app->session);
}

/* What a session holds, for the results of save and load. */
static void session_summary(const Session *s, Result *r)
{
    char splits[64];
    session_split_names(s, splits, sizeof splits);
    result_str(r, "model", s->model_path ? s->model_path : "");
    result_str(r, "splits", splits);
    result_str(r, "plan", plan_label(&s->q.plan));
    result_str(r, "calibrated", s->q.calibrated ? "yes" : "no");
    result_int(r, "variants", s->q.n_variants);
}

QsStatus cmd_reset(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    session_reset(&app->session);
    char splits[64];
    session_split_names(&app->session, splits, sizeof splits);
    result_str(r, "state", "fresh");
    result_str(r, "plan", plan_label(&app->session.q.plan));
    result_str(r, "kept_splits", splits);
    result_textf(r, "a fresh plan: fp32 with default quant options, no pins, no calibration, "
                 "no variants; the model's weights and the data splits stay");
    return QS_OK;
}

/* Replaces the session with the file's; the old one is kept on failure. */
static QsStatus session_load(App *app, const char *path, QsError *err)
{
    Session s;
    if (sessionfile_load(path, &s, err)) {
        session_release(&s);
        return err->code;
    }
    session_release(&app->session);
    app->session = s;
    threads_set(s.opt.threads);
    return QS_OK;
}

QsStatus cmd_session(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const char *verb = a->pos[0];
    bool needs_file = !strcmp(verb, "save") || !strcmp(verb, "load");
    if (!needs_file && strcmp(verb, "new") != 0)
        return qs_fail(err, QS_EINVAL, "session: unknown action '%s' (new, save, load)", verb);
    if (needs_file != (a->n_pos == 2))
        return qs_fail(err, QS_EINVAL, "session %s: %s", verb,
                       needs_file ? "a FILE is needed" : "takes no FILE");
    result_str(r, "action", verb);
    if (strcmp(verb, "save") != 0) /* what the workbench showed is gone (its row) */
        result_str(r, "state", "replaced");
    if (!strcmp(verb, "new")) {
        cmd_session_fresh(app);
        result_textf(r, "a fresh session: no model, no data; the 'set' options stay");
        return QS_OK;
    }
    const char *path = a->pos[1];
    if (!strcmp(verb, "save")) {
        if (sessionfile_save(path, &app->session, err))
            return qs_error_prefix(err, "session save"), err->code;
        session_mark_saved(&app->session);
        result_str(r, "saved", path);
    } else {
        if (session_load(app, path, err))
            return qs_error_prefix(err, "session load"), err->code;
        result_str(r, "loaded", path);
    }
    session_summary(&app->session, r);
    return QS_OK;
}

QsStatus cmd_session_resume(App *app, const char *path)
{
    QsError err = { 0 };
    if (session_load(app, path, &err))
        fprintf(stderr, "qscope: --resume: %s\n", err.msg);
    return err.code;
}
