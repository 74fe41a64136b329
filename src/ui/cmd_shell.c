/* help, source, echo, set, get, quit. */
#include <stdio.h>
#include <string.h>

#include "cmd_handlers.h"
#include "options.h"
#include "script.h"
#include "strbuf.h"
#include "threads.h"

CMD_HANDLER(cmd_help)
{
    if (a->n_pos == 0) {
        static const char *const cols[] = { "command", "summary", NULL };
        RTable *t = result_table(r, "commands", cols);
        for (int i = 0; i < cmd_count; i++) {
            int row = rtable_add_row(t);
            rtable_str(t, row, 0, cmd_table[i].name);
            rtable_str(t, row, 1, cmd_table[i].summary);
        }
        result_textf(r, "'help COMMAND' shows its options and an example.");
        return QS_OK;
    }
    const CmdDef *d = cmd_find(a->pos[0]);
    if (!d)
        return qs_fail(err, QS_ENOTFOUND, "help: unknown command '%s'", a->pos[0]);
    result_str(r, "command", d->name);
    result_str(r, "usage", d->usage);
    result_str(r, "summary", d->summary);
    result_str(r, "example", d->example);
    static const char *const cols[] = { "option", "meaning", NULL };
    if (d->flags & CMD_SETTINGS) {
        RTable *t = result_table(r, "options", cols);
        for (int k = 0; k < option_count; k++) {
            int row = rtable_add_row(t);
            rtable_str(t, row, 0, option_table[k].name);
            rtable_str(t, row, 1, option_table[k].help);
        }
    } else if (d->opts[0].name) {
        RTable *t = result_table(r, "options", cols);
        for (const CmdOpt *o = d->opts; o->name; o++) {
            int row = rtable_add_row(t);
            rtable_str(t, row, 0, o->name);
            rtable_str(t, row, 1, o->help);
        }
    }
    return QS_OK;
}

CMD_HANDLER(cmd_source)
{
    QsStatus st = script_run_file(app, a->pos[0], err);
    if (!st)
        result_str(r, "sourced", a->pos[0]);
    return st;
}

CMD_HANDLER(cmd_echo)
{
    StrBuf b = { 0 };
    for (int i = 0; i < a->n_pos; i++)
        strbuf_printf(&b, "%s%s", i ? " " : "", a->pos[i]);
    result_textf(r, "%s", b.s ? b.s : "");
    strbuf_release(&b);
    return QS_OK;
}

/* Splits "accuracy>=0.9" (one token) or "accuracy >= 0.9" (three) into its parts. */
static QsStatus check_parts(const CmdArgs *a, char *field, size_t fcap, char *op, char *value,
                            size_t vcap, QsError *err)
{
    static const char *const ops[] = { "<=", ">=", "==", "!=", "<", ">", NULL };
    if (a->n_pos == 3) {
        snprintf(field, fcap, "%s", a->pos[0]);
        snprintf(op, 3, "%s", a->pos[1]);
        snprintf(value, vcap, "%s", a->pos[2]);
    } else if (a->n_pos == 1) {
        const char *s = a->pos[0];
        size_t i = strcspn(s, "<>=!");
        size_t oplen = (s[i] && (s[i + 1] == '=')) ? 2 : 1;
        if (!s[i] || i == 0)
            return qs_fail(err, QS_EINVAL, "check: expected FIELD OP VALUE, got '%s'", s);
        snprintf(field, fcap, "%.*s", (int)i, s);
        snprintf(op, 3, "%.*s", (int)oplen, s + i);
        snprintf(value, vcap, "%s", s + i + oplen);
    } else {
        return qs_fail(err, QS_EINVAL, "check: expected FIELD OP VALUE");
    }
    for (int k = 0; ops[k]; k++)
        if (strcmp(op, ops[k]) == 0)
            return QS_OK;
    return qs_fail(err, QS_EINVAL, "check: unknown comparison '%s' (< <= > >= == !=)", op);
}

CMD_HANDLER(cmd_check)
{
    char field[64], op[3], want_s[64];
    double want;
    if (check_parts(a, field, sizeof field, op, want_s, sizeof want_s, err))
        return err->code;
    const RValue *v = result_get(&app->last, field);
    if (!v)
        return qs_fail(err, QS_ENOTFOUND, "check: the previous result (%s) has no figure '%s'",
                       app->last.cmd && app->last.cmd[0] ? app->last.cmd : "none", field);
    if (v->type == RV_STR) { /* names compare as text: check worst == dw1 */
        bool eq = strcmp(v->s, want_s) == 0;
        if (strcmp(op, "==") && strcmp(op, "!="))
            return qs_fail(err, QS_EINVAL, "check: '%s' is text; only == and != apply", field);
        if (eq != (strcmp(op, "==") == 0))
            return qs_fail(err, QS_EINVAL, "check failed: %s = %s, expected %s %s", field, v->s,
                           op, want_s);
        result_textf(r, "ok: %s = %s %s %s", field, v->s, op, want_s);
        return QS_OK;
    }
    if (parse_double(field, want_s, &want, err))
        return err->code;
    if (v->type != RV_INT && v->type != RV_FLOAT && v->type != RV_BOOL)
        return qs_fail(err, QS_EINVAL, "check: '%s' is not a number", field);
    double got = v->type == RV_FLOAT ? v->f : (double)v->i;
    bool ok = strcmp(op, "<") == 0    ? got < want
              : strcmp(op, "<=") == 0 ? got <= want
              : strcmp(op, ">") == 0  ? got > want
              : strcmp(op, ">=") == 0 ? got >= want
              : strcmp(op, "==") == 0 ? got == want
                                      : got != want;
    if (!ok)
        return qs_fail(err, QS_EINVAL, "check failed: %s = %.6g, expected %s %s", field, got, op,
                       want_s);
    result_textf(r, "ok: %s = %.6g %s %s", field, got, op, want_s);
    return QS_OK;
}

static void options_table(const App *app, Result *r, const char *only)
{
    static const char *const cols[] = { "option", "value", "meaning", NULL };
    RTable *t = result_table(r, "options", cols);
    char buf[64];
    for (int k = 0; k < option_count; k++) {
        if (only && strcmp(only, option_table[k].name) != 0)
            continue;
        option_table[k].show(app, buf, sizeof buf);
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, option_table[k].name);
        rtable_str(t, row, 1, buf);
        rtable_str(t, row, 2, option_table[k].help);
    }
}

CMD_HANDLER(cmd_set)
{
    if (a->n_kv == 0) {
        options_table(app, r, NULL);
        return QS_OK;
    }
    /* Check every name before changing anything, so a typo changes nothing. */
    for (int i = 0; i < a->n_kv; i++)
        if (!option_find(a->keys[i])) {
            StrBuf list = { 0 };
            for (int k = 0; k < option_count; k++)
                strbuf_printf(&list, "%s%s", k ? ", " : "", option_table[k].name);
            qs_fail(err, QS_EINVAL, "set: unknown option '%s' (valid: %s)", a->keys[i], list.s);
            strbuf_release(&list);
            return QS_EINVAL;
        }
    /* A bad value restores every option, so a failed `set` changes nothing. */
    SessionOptions saved = app->session.opt;
    RenderMode saved_mode = app->mode;
    for (int i = 0; i < a->n_kv; i++) {
        if (option_find(a->keys[i])->set(app, a->keys[i], a->vals[i], err)) {
            app->session.opt = saved;
            app->mode = saved_mode;
            threads_set(saved.threads);
            return err->code;
        }
        char buf[64];
        option_find(a->keys[i])->show(app, buf, sizeof buf);
        result_str(r, a->keys[i], buf);
    }
    return QS_OK;
}

CMD_HANDLER(cmd_get)
{
    if (a->n_pos == 1) {
        const OptionDef *o = option_find(a->pos[0]);
        if (!o)
            return qs_fail(err, QS_ENOTFOUND, "get: unknown option '%s'", a->pos[0]);
        char buf[64];
        o->show(app, buf, sizeof buf);
        result_str(r, o->name, buf);
        return QS_OK;
    }
    options_table(app, r, NULL);
    return QS_OK;
}

CMD_HANDLER(cmd_quit)
{
    app->quit = true;
    return QS_OK;
}
