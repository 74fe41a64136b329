/* help, source, echo, set, get, quit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "cmds/options.h"
#include "cmds/script.h"
#include "text/strbuf.h"
#include "kern/threads.h"

static void help_option_row(RTable *t, const char *name, const char *takes, const char *help)
{
    int row = rtable_add_row(t);
    rtable_str(t, row, 0, name);
    rtable_str(t, row, 1, takes);
    rtable_str(t, row, 2, help);
}

QsStatus cmd_help(App *app, const CmdArgs *a, Result *r, QsError *err)
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
    static const char *const cols[] = { "option", "takes", "meaning", NULL };
    StrBuf takes = { 0 };
    if (d->args && d->args[0].name) {
        static const char *const acols[] = { "argument", "takes", NULL };
        RTable *t = result_table(r, "arguments", acols);
        for (const CmdOpt *o = d->args; o->name; o++) {
            strbuf_clear(&takes);
            optkind_describe(&takes, o->kind, o->choices);
            int row = rtable_add_row(t);
            rtable_str(t, row, 0, o->name);
            rtable_str(t, row, 1, strbuf_str(&takes));
        }
    }
    RTable *t = NULL;
    CmdOpt o;
    for (int k = 0; cmd_option_at(d, k, &o); k++) {
        if (!t)
            t = result_table(r, "options", cols);
        strbuf_clear(&takes);
        optkind_describe(&takes, o.kind, o.choices);
        help_option_row(t, o.name, strbuf_str(&takes), o.help);
    }
    strbuf_release(&takes);
    return QS_OK;
}

QsStatus cmd_source(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    QsStatus st = script_run_file(app, a->pos[0], err);
    if (!st)
        result_str(r, "sourced", a->pos[0]);
    return st;
}

QsStatus cmd_echo(App *app, const CmdArgs *a, Result *r, QsError *err)
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

/* A figure by name: the previous result's field, else a variable (`keep`, `let`, -D).
 * Exactly one of *text and the number is set. */
static QsStatus check_lookup(const App *app, const char *name, double *num, const char **text,
                             QsError *err)
{
    *text = NULL;
    const RValue *v = result_get(&app->last, name);
    if (v && v->type == RV_STR) {
        *text = v->s;
        return QS_OK;
    }
    if (v && (v->type == RV_INT || v->type == RV_FLOAT || v->type == RV_BOOL)) {
        *num = v->type == RV_FLOAT ? v->f : (double)v->i;
        return QS_OK;
    }
    if (v)
        return qs_fail(err, QS_EINVAL, "check: '%s' is not a number", name);
    const char *var = vars_get(&app->vars, name);
    if (!var)
        return qs_fail(err, QS_ENOTFOUND, "check: the previous result (%s) has no figure '%s' "
                       "and no variable has that name",
                       app->last.cmd && app->last.cmd[0] ? app->last.cmd : "none", name);
    char *end;
    *num = strtod(var, &end);
    if (end == var || *end)
        *text = var;
    return QS_OK;
}

/* VALUE: a number, text, or a figure (check_lookup) with an optional +K or -K after it:
 * `check f1 >= fp32.f1-0.005`. A number or K may end in % (a fraction: 1% = 0.01), as drop
 * thresholds do (decide.h). */
static QsStatus check_value(const App *app, const char *s, double *num, const char **text,
                            QsError *err)
{
    *text = NULL;
    if (parse_number_pct(s, num))
        return QS_OK;
    size_t len = strcspn(s, "+-"), off_at = len;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)len, s);
    if (!result_get(&app->last, name) && !vars_get(&app->vars, name)) {
        *text = s; /* names compare as text: check worst == dw1 */
        return QS_OK;
    }
    if (check_lookup(app, name, num, text, err))
        return err->code;
    if (s[off_at]) {
        double k;
        if (*text)
            return qs_fail(err, QS_EINVAL, "check: '%s' is text", name);
        if (!parse_number_pct(s + off_at, &k))
            return qs_fail(err, QS_EINVAL, "check: '%s': expected a number (or N%%) after the "
                           "figure", s + off_at);
        *num += k;
    }
    return QS_OK;
}

QsStatus cmd_check(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    char field[128], op[3], want_s[128];
    if (check_parts(a, field, sizeof field, op, want_s, sizeof want_s, err))
        return err->code;
    double got, want;
    const char *got_s, *want_txt;
    if (check_lookup(app, field, &got, &got_s, err) ||
        check_value(app, want_s, &want, &want_txt, err))
        return err->code;
    if (got_s || want_txt) {
        if (!got_s || !want_txt)
            return qs_fail(err, QS_EINVAL, "check: '%s' is %s but '%s' is %s", field,
                           got_s ? "text" : "a number", want_s, want_txt ? "text" : "a number");
        bool eq = strcmp(got_s, want_txt) == 0;
        if (strcmp(op, "==") && strcmp(op, "!="))
            return qs_fail(err, QS_EINVAL, "check: '%s' is text; only == and != apply", field);
        if (eq != (strcmp(op, "==") == 0))
            return qs_fail(err, QS_ECHECK, "check failed: %s = %s, expected %s %s", field, got_s,
                           op, want_txt);
        result_textf(r, "ok: %s = %s %s %s", field, got_s, op, want_txt);
        return QS_OK;
    }
    bool ok = strcmp(op, "<") == 0    ? got < want
              : strcmp(op, "<=") == 0 ? got <= want
              : strcmp(op, ">") == 0  ? got > want
              : strcmp(op, ">=") == 0 ? got >= want
              : strcmp(op, "==") == 0 ? got == want
                                      : got != want;
    char shown[160];
    double lit;
    if (parse_number_pct(want_s, &lit) && !strchr(want_s, '%'))
        snprintf(shown, sizeof shown, "%s", want_s);
    else
        snprintf(shown, sizeof shown, "%s (%.6g)", want_s, want);
    if (!ok)
        return qs_fail(err, QS_ECHECK, "check failed: %s = %.6g, expected %s %s", field, got, op,
                       shown);
    result_textf(r, "ok: %s = %.6g %s %s", field, got, op, shown);
    return QS_OK;
}

/* let NAME=VALUE ... defines variables; a positional NAME?=VALUE defines NAME only when it
 * is not yet defined (a script's default that -D can override). */
QsStatus cmd_let(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    (void)r;
    for (int i = 0; i < a->n_pos; i++) {
        const char *q = strstr(a->pos[i], "?=");
        if (!q || q == a->pos[i])
            return qs_fail(err, QS_EINVAL, "let: expected NAME=VALUE or NAME?=VALUE, got '%s'",
                           a->pos[i]);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(q - a->pos[i]), a->pos[i]);
        if (!vars_get(&app->vars, name) && vars_set(&app->vars, name, q + 2, err))
            return err->code;
    }
    for (int k = 0; k < a->n_kv; k++)
        if (vars_set(&app->vars, a->keys[k], a->vals[k], err))
            return err->code;
    if (a->n_pos == 0 && a->n_kv == 0) {
        static const char *const cols[] = { "name", "value", NULL };
        RTable *t = result_table(r, "variables", cols);
        for (int i = 0; i < app->vars.n; i++) {
            int row = rtable_add_row(t);
            rtable_str(t, row, 0, app->vars.name[i]);
            rtable_str(t, row, 1, app->vars.value[i]);
        }
    }
    return QS_OK;
}

/* keep NAME: every figure of the previous result becomes the variable NAME.FIELD, with
 * numbers at full precision, so later checks compare two results exactly. */
QsStatus cmd_keep(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const Result *last = &app->last;
    if (!last->cmd || !last->cmd[0])
        return qs_fail(err, QS_EINVAL, "keep: there is no previous result");
    int kept = 0;
    for (int i = 0; i < last->n_fields; i++) {
        const RField *f = &last->fields[i];
        char name[192], val[64];
        snprintf(name, sizeof name, "%s.%s", a->pos[0], f->key);
        const char *text = val;
        switch (f->v.type) {
        case RV_INT:
            snprintf(val, sizeof val, "%lld", (long long)f->v.i);
            break;
        case RV_BOOL:
            snprintf(val, sizeof val, "%d", f->v.i ? 1 : 0);
            break;
        case RV_FLOAT:
            snprintf(val, sizeof val, "%.17g", f->v.f);
            break;
        case RV_STR:
            text = f->v.s;
            break;
        default:
            continue;
        }
        if (vars_set(&app->vars, name, text, err))
            return err->code;
        kept++;
    }
    result_textf(r, "kept %d figures of '%s' as %s.*", kept, last->cmd, a->pos[0]);
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

/* One option as a field named after it (its value as `set` shows it): a number for an
 * integer option. */
static void option_field(App *app, const OptionDef *o, Result *r)
{
    char buf[64];
    o->show(app, buf, sizeof buf);
    if (o->kind == OPT_INT)
        result_int(r, o->name, strtoll(buf, NULL, 10));
    else
        result_str(r, o->name, buf);
}

QsStatus cmd_set(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    if (a->n_kv == 0) {
        options_table(app, r, NULL);
        return QS_OK;
    }
    /* cmd_exec checked every name and value's kind; a value out of range restores every
     * option, so a failed `set` changes nothing. */
    SessionOptions saved = app->session.opt;
    RenderMode saved_mode = app->mode;
    for (int i = 0; i < a->n_kv; i++) {
        if (option_find(a->keys[i])->set(app, a->keys[i], a->vals[i], err)) {
            app->session.opt = saved;
            app->mode = saved_mode;
            threads_set(saved.threads);
            return err->code;
        }
    }
    /* each option once, with the value it ended with (`set batch=8 batch=16`: 16) */
    for (int i = 0; i < a->n_kv; i++)
        if (!result_get(r, a->keys[i]))
            option_field(app, option_find(a->keys[i]), r);
    return QS_OK;
}

QsStatus cmd_get(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    if (a->n_pos == 1) {
        const OptionDef *o = option_find(a->pos[0]);
        if (!o)
            return qs_fail(err, QS_ENOTFOUND, "get: unknown option '%s'", a->pos[0]);
        option_field(app, o, r);
        return QS_OK;
    }
    options_table(app, r, NULL);
    return QS_OK;
}

QsStatus cmd_quit(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    app->quit = true;
    return QS_OK;
}
