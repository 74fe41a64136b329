#include "tui/tui_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "quant/observer.h"
#include "quant/plan.h"
#include "text/strbuf.h"
#include "tui/tui_keys.h"

/* ---- small helpers ---- */

static void msg(Tui *t, TuiStyle style, const char *text)
{
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], style, "%s", text);
    t->dirty = true;
}

/* An argument as the command lexer reads it back: quoted when it has to be. */
static void quote_arg(const char *s, char *buf, size_t cap)
{
    bool plain = s[0] != '\0';
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '\'' || *p == ';' || *p == '#' || *p == '\\' ||
            *p == '=' || *p == '\t')
            plain = false;
    if (plain) {
        snprintf(buf, cap, "%s", s);
        return;
    }
    size_t n = 0;
    if (cap < 3) {
        if (cap)
            buf[0] = '\0';
        return;
    }
    buf[n++] = '"';
    for (const char *p = s; *p && n + 3 < cap; p++) {
        if (*p == '"' || *p == '\\')
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    buf[n++] = '"';
    buf[n] = '\0';
}

static void first_word(const char *line, char *buf, size_t cap)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t n = strcspn(line, " \t;\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
}

static bool tried(const Tui *t, const char *what, const char *key)
{
    char k[TUI_KEY_LEN + 200];
    snprintf(k, sizeof k, "%s|%s", what, key);
    for (int i = 0; i < t->n_tried; i++)
        if (!strcmp(t->tried[i], k))
            return true;
    return false;
}

static void set_tried(Tui *t, const char *what, const char *key, bool on)
{
    char k[TUI_KEY_LEN + 200];
    snprintf(k, sizeof k, "%s|%s", what, key);
    for (int i = 0; i < t->n_tried; i++)
        if (!strcmp(t->tried[i], k)) {
            if (!on) {
                free(t->tried[i]);
                t->tried[i] = t->tried[--t->n_tried];
            }
            return;
        }
    if (!on)
        return;
    if (t->n_tried == (int)(sizeof t->tried / sizeof t->tried[0])) { /* forget the oldest */
        free(t->tried[0]);
        memmove(t->tried, t->tried + 1, (size_t)(t->n_tried - 1) * sizeof *t->tried);
        t->n_tried--;
    }
    t->tried[t->n_tried++] = xstrdup(k);
}

static void clear_tried(Tui *t)
{
    for (int i = 0; i < t->n_tried; i++)
        free(t->tried[i]);
    t->n_tried = 0;
}

static void event(Tui *t, TuiEventKind kind, const Result *r, const char *text, bool quiet)
{
    TuiEvent ev = { .kind = kind, .r = r, .text = text, .quiet = quiet };
    for (int i = 0; i < TUI_PANE_COUNT; i++)
        t->panes[i]->cls->on_result(t->panes[i], &t->st, &ev);
    t->dirty = true;
}

static void relayout(Tui *t, int w, int h)
{
    tui_layout_compute(&t->lay, w, h, t->st.playing);
    tui_layout_hist_size(&t->lay, &t->st.hist_w, &t->st.hist_h);
}

/* ---- demo playing ---- */

static void play_sync(Tui *t)
{
    TuiState *st = &t->st;
    st->playing = t->play.n > 0;
    st->play_step = t->play_next;
    st->play_steps = t->play.n;
    if (!st->playing) {
        st->play_caption = st->play_next = NULL;
        return;
    }
    const char *slash = strrchr(t->play.path, '/');
    snprintf(st->play_name, sizeof st->play_name, "%s", slash ? slash + 1 : t->play.path);
    if (t->play_next < t->play.n) {
        st->play_caption = t->play.steps[t->play_next].caption;
        st->play_next = t->play.steps[t->play_next].line;
    } else {
        st->play_caption = t->play.epilogue;
        st->play_next = NULL;
    }
    if (t->lay.w)
        relayout(t, t->lay.w, t->lay.h);
}

static void play_stop(Tui *t)
{
    cmd_play_release(&t->play);
    t->play_next = 0;
    play_sync(t);
}

static void play_start(Tui *t, const char *path)
{
    PlayScript ps;
    QsError err = { 0 };
    if (cmd_play_load(path, &ps, &err)) {
        cmd_play_release(&ps);
        msg(t, TS_BAD, err.msg);
        return;
    }
    play_stop(t);
    t->play = ps;
    t->play_next = 0;
    t->st.focus = TUI_PANE_LAYERS;
    play_sync(t);
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_DIM,
                        "playing %s: %d steps. Space runs the next step, Backspace goes back "
                        "one (replaying from the start), Esc stops.",
                        path, ps.n);
}

static void run_line(Tui *t, const char *line, unsigned flags, bool echo);

static void play_step(Tui *t)
{
    if (t->play_next >= t->play.n) {
        msg(t, TS_DIM, "end of the demo: Esc closes it");
        return;
    }
    if (tui_exec_busy(&t->ex) && !(t->ex.cur.flags & TUI_TASK_AUTO)) {
        msg(t, TS_WARN, "the step is still running (Esc cancels it)");
        return;
    }
    const PlayStep *s = &t->play.steps[t->play_next++];
    const char *p = s->caption;
    while (*p) {
        size_t n = strcspn(p, "\n");
        tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_WARN, "# %.*s", (int)n, p);
        p += n + (p[n] == '\n');
    }
    play_sync(t);
    run_line(t, s->line, 0, true);
}

static void play_back(Tui *t)
{
    if (tui_exec_busy(&t->ex)) {
        msg(t, TS_WARN, "a job is running: wait for it (or Esc) before going back");
        return;
    }
    if (t->play_next == 0)
        return;
    int target = --t->play_next;
    play_sync(t);
    if (target == 0) {
        msg(t, TS_DIM, "back at step 1 (nothing to replay: the session is as step 1 left it)");
        return;
    }
    StrBuf b = { 0 };
    /* `load` of a model with the same layers keeps the plan (mode, pins, options), so the
     * plan goes back to its defaults first: the replay then starts where the demo did */
    const TuiSnap *sn = &t->st.snap;
    if (sn->model) {
        for (int i = 0; i < sn->n_layers; i++)
            if (sn->pin[i] >= 0) {
                char q[512];
                quote_arg(sn->layer[i], q, sizeof q);
                strbuf_printf(&b, "prec %s auto\n", q);
            }
        QuantOpts d = plan_default_opts();
        strbuf_printf(&b, "mode fp32\nquant wgran=%s observer=%s pct=%g bits=%d asym=%d\n",
                      d.wgran_tensor ? "tensor" : "channel", observer_table[d.observer].name,
                      d.pct, d.bits, !d.act_symmetric);
    }
    for (int i = 0; i < target; i++)
        strbuf_printf(&b, "%s\n", t->play.steps[i].line);
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_DIM,
                        "back to step %d: replaying steps 1-%d from the start", target + 1,
                        target);
    run_line(t, b.s, TUI_TASK_QUIET, false);
    strbuf_release(&b);
}

/* ---- @actions: the view only ---- */

static int page_rows(const Tui *t)
{
    int h = t->lay.pane[TUI_PANE_LAYERS].h - 2;
    return h > 1 ? h : 1;
}

static void action_select(Tui *t, const char *arg)
{
    TuiState *st = &t->st;
    int n = st->snap.n_layers, sel = st->sel < 0 ? 0 : st->sel;
    if (n == 0)
        return;
    if (!strcmp(arg, "first"))
        sel = 0;
    else if (!strcmp(arg, "last"))
        sel = n - 1;
    else if (!strcmp(arg, "+page"))
        sel += page_rows(t);
    else if (!strcmp(arg, "-page"))
        sel -= page_rows(t);
    else if (arg[0] == '+' || arg[0] == '-')
        sel += atoi(arg);
    else if (arg[0] >= '0' && arg[0] <= '9')
        sel = atoi(arg);
    else {
        int k;
        for (k = 0; k < n && strcmp(st->snap.layer[k], arg) != 0; k++)
            ;
        if (k == n) {
            char m[200];
            snprintf(m, sizeof m, "@select: no layer named '%s'", arg);
            msg(t, TS_BAD, m);
            return;
        }
        sel = k;
    }
    st->sel = sel < 0 ? 0 : sel >= n ? n - 1 : sel;
}

static void action_focus(Tui *t, const char *arg)
{
    static const char *const names[] = { "layers", "detail", "metrics", "console" };
    int f = t->st.focus;
    if (!strcmp(arg, "next"))
        f = (f + 1) % TUI_PANE_COUNT;
    else if (!strcmp(arg, "prev"))
        f = (f + TUI_PANE_COUNT - 1) % TUI_PANE_COUNT;
    else
        for (int i = 0; i < TUI_PANE_COUNT; i++)
            if (!strcmp(arg, names[i]))
                f = i;
    if (f == TUI_PANE_CONSOLE && t->st.focus != TUI_PANE_CONSOLE)
        t->return_focus = t->st.focus;
    t->st.focus = f;
}

static void action(Tui *t, const char *text)
{
    char verb[32] = "", arg[256] = "";
    sscanf(text, "%31s %255[^\n]", verb, arg);
    TuiState *st = &t->st;
    t->dirty = true;
    if (!strcmp(verb, "select")) {
        action_select(t, arg);
    } else if (!strcmp(verb, "focus")) {
        action_focus(t, arg);
    } else if (!strcmp(verb, "view")) {
        st->view = !strcmp(arg, "weights") ? TUI_VIEW_WEIGHTS
                   : !strcmp(arg, "act")   ? TUI_VIEW_ACT
                                           : !st->view;
    } else if (!strcmp(verb, "scroll")) {
        bool page = strstr(arg, "page") != NULL;
        int n = arg[0] == '-' ? -1 : 1;
        if (!page)
            n = atoi(arg);
        if (st->focus == TUI_PANE_CONSOLE)
            tui_pane_console_scroll(t->panes[TUI_PANE_CONSOLE], n, page);
        else if (st->focus == TUI_PANE_METRICS)
            t->panes[TUI_PANE_METRICS]->scroll += n;
        else
            action_select(t, arg);
    } else if (!strcmp(verb, "help")) {
        t->help = true;
    } else if (!strcmp(verb, "cancel")) {
        if (tui_exec_running(&t->ex)) {
            char m[200];
            snprintf(m, sizeof m, "cancelling '%s'...", t->ex.cur.line);
            int dropped = tui_exec_cancel(&t->ex);
            msg(t, TS_WARN, m);
            if (dropped) {
                snprintf(m, sizeof m, "dropped %d queued command%s", dropped,
                         dropped > 1 ? "s" : "");
                msg(t, TS_WARN, m);
            }
        }
    } else if (!strcmp(verb, "quit")) {
        if (!strcmp(arg, "now") || !tui_exec_running(&t->ex) || (t->ex.cur.flags & TUI_TASK_AUTO))
            t->quit = true;
        else
            t->confirm_quit = true;
    } else if (!strcmp(verb, "play")) {
        if (!t->play.n)
            msg(t, TS_DIM, "no demo playing (play FILE.qs starts one)");
        else if (!strcmp(arg, "next"))
            play_step(t);
        else if (!strcmp(arg, "back"))
            play_back(t);
        else
            play_stop(t);
    } else if (!strcmp(verb, "refresh")) {
        clear_tried(t);
        tui_state_cache_clear(&st->errors);
        tui_state_cache_clear(&st->evals);
        tui_state_cache_clear(&st->hists);
        st->have_layers = st->have_compare = false;
    } else if (!strcmp(verb, "auto")) {
        st->auto_figures = !strcmp(arg, "on")    ? true
                           : !strcmp(arg, "off") ? false
                                                 : !st->auto_figures;
        if (!st->auto_figures && tui_exec_running(&t->ex) && (t->ex.cur.flags & TUI_TASK_AUTO))
            tui_exec_cancel(&t->ex);
        msg(t, TS_DIM, st->auto_figures ? "automatic figures on (error bars, compare)"
                                        : "automatic figures off: e, m and E compute them");
    } else {
        char m[300];
        snprintf(m, sizeof m, "unknown workbench action '@%s' (see ?)", text);
        msg(t, TS_BAD, m);
    }
}

/* ---- commands ---- */

/* Fills {layer} and {nextpin} from the selection; false (with a message) when there is no
 * layer to fill in. */
static bool expand(Tui *t, const char *cmd, char *out, size_t cap)
{
    const TuiState *st = &t->st;
    StrBuf b = { 0 };
    bool ok = true;
    for (const char *p = cmd; *p && ok;) {
        const char *open = strchr(p, '{');
        if (!open) {
            strbuf_printf(&b, "%s", p);
            break;
        }
        strbuf_append(&b, p, (size_t)(open - p));
        const char *close = strchr(open, '}');
        if (!close) {
            strbuf_printf(&b, "%s", open);
            break;
        }
        bool sel = st->sel >= 0 && st->sel < st->snap.n_layers;
        if (!strncmp(open, "{layer}", 7) || !strncmp(open, "{nextpin}", 9)) {
            if (!sel) {
                msg(t, TS_BAD, "no layer selected");
                ok = false;
                break;
            }
            if (open[1] == 'l') {
                char q[512];
                quote_arg(st->snap.layer[st->sel], q, sizeof q);
                strbuf_printf(&b, "%s", q);
            } else { /* auto > fp32 > fp16 > int8-dyn > int8-static > auto */
                int pin = st->snap.pin[st->sel];
                int next = pin + 1 >= PREC_COUNT ? -1 : pin + 1;
                strbuf_printf(&b, "%s", next < 0 ? "auto" : precision_table[next].name);
            }
        } else {
            strbuf_append(&b, open, (size_t)(close - open + 1));
        }
        p = close + 1;
    }
    if (ok)
        snprintf(out, cap, "%s", b.s ? b.s : "");
    strbuf_release(&b);
    return ok;
}

/* Figures a line computes, shown as pending until it ends. */
static void mark_pending(Tui *t, const char *line)
{
    char w[32];
    first_word(line, w, sizeof w);
    if (strchr(line, ';') || strchr(line, '\n'))
        return;
    if (!strcmp(w, "error"))
        snprintf(t->st.pending_error, TUI_KEY_LEN, "%s", t->st.snap.key);
    else if (!strcmp(w, "eval"))
        snprintf(t->st.pending_eval, TUI_KEY_LEN, "%s", t->st.snap.key);
    else if (!strcmp(w, "compare"))
        snprintf(t->st.pending_compare, TUI_KEY_LEN, "%s", t->st.snap.base_key);
}

static void run_line(Tui *t, const char *line, unsigned flags, bool echo)
{
    char w[32];
    first_word(line, w, sizeof w);
    if (!strcmp(w, "play") && !strchr(line, ';')) {
        char path[1024] = "";
        const char *p = line + strspn(line, " \t") + 4;
        p += strspn(p, " \t");
        snprintf(path, sizeof path, "%s", p);
        size_t n = strlen(path);
        while (n && (path[n - 1] == ' ' || path[n - 1] == '\n'))
            path[--n] = '\0';
        if (n >= 2 && (path[0] == '"' || path[0] == '\'') && path[n - 1] == path[0]) {
            path[n - 1] = '\0';
            memmove(path, path + 1, n - 1);
        }
        if (echo)
            event(t, TUI_EV_ECHO, NULL, line, false);
        if (!path[0])
            msg(t, TS_BAD, "play: usage: play FILE.qs");
        else
            play_start(t, path);
        return;
    }
    if (!strcmp(w, "quit") && !strchr(line, ';')) {
        action(t, "quit");
        return;
    }
    if (echo)
        event(t, TUI_EV_ECHO, NULL, line, false);
    bool was_auto = tui_exec_running(&t->ex) && (t->ex.cur.flags & TUI_TASK_AUTO);
    mark_pending(t, line);
    TuiRunHow how = tui_exec_submit(&t->ex, line, flags);
    if (how == TUI_RUN_QUEUED && !was_auto) {
        char m[256];
        snprintf(m, sizeof m, "queued: runs after '%s' (Esc cancels that)",
                 t->ex.cur.line ? t->ex.cur.line : "the running job");
        msg(t, TS_DIM, m);
    }
    tui_app_pump(t);
}

void tui_app_run(Tui *t, const char *cmd)
{
    t->auto_streak = 0;
    char line[2048];
    if (!expand(t, cmd, line, sizeof line))
        return;
    const char *p = line + strspn(line, " \t");
    if (*p == '@')
        action(t, p + 1);
    else if (*p)
        run_line(t, p, 0, true);
}

/* ---- results ---- */

static bool split_whole_eval(const TuiState *st, const Result *r)
{
    const RValue *split = result_get(r, "split"), *n = result_get(r, "n");
    return split && split->type == RV_STR && !strcmp(split->s, "eval") && n &&
           n->type == RV_INT && n->i == st->snap.split_n[1];
}

/* Each precision row of a compare is that precision's metric: kept per mode key, so the
 * rows that a later calibration does not change stay filled. Only when the snapshot still
 * describes the compare's options (the mode keys are built from it). */
static void compare_metrics(Tui *t, const TuiItem *it)
{
    TuiState *st = &t->st;
    for (int k = 0; k < PREC_COUNT; k++)
        st->compare_mode_key[k][0] = '\0';
    if (strcmp(it->base_key, st->snap.base_key) != 0)
        return;
    const RTable *tb = tui_state_table(&it->r, "variants");
    const RValue *mname = result_get(&it->r, "metric");
    const char *name = "accuracy";
    for (int k = 0; k < TASK_COUNT && mname && mname->type == RV_STR; k++)
        if (strcmp(mname->s, task_table[k].metric) == 0)
            name = task_table[k].metric;
    int cv = tui_state_col(tb, "variant"), cm = tui_state_col(tb, "metric");
    for (int row = 0; tb && row < tb->n_rows; row++) {
        const RValue *v = tui_state_cell(tb, row, cv), *m = tui_state_cell(tb, row, cm);
        int mode = v && v->type == RV_STR ? precision_find(v->s) : -1;
        if (mode < 0 || !m || m->type != RV_FLOAT)
            continue;
        char key[TUI_KEY_LEN];
        tui_state_mode_key(&st->snap, mode, key, sizeof key);
        snprintf(st->compare_mode_key[mode], TUI_KEY_LEN, "%s", key);
        Result e;
        result_init(&e, "eval");
        result_float(&e, name, m->f, m->style);
        tui_state_cache_put(&st->evals, key, &e);
        result_release(&e);
    }
}

/* After `hist L`, `prec L ..` or `sensitivity` typed (or played), select that layer (the
 * worst one for sensitivity) so the detail pane shows it. */
static void follow_layer(Tui *t, const Result *r)
{
    const char *field = !strcmp(r->cmd, "hist") || !strcmp(r->cmd, "prec") ? "layer"
                        : !strcmp(r->cmd, "sensitivity")                    ? "worst"
                                                                             : NULL;
    const RValue *v = field ? result_get(r, field) : NULL;
    if (!v || v->type != RV_STR)
        return;
    for (int k = 0; k < t->st.snap.n_layers; k++)
        if (!strcmp(t->st.snap.layer[k], v->s))
            t->st.sel = k;
    const RValue *what = !strcmp(r->cmd, "hist") ? result_get(r, "what") : NULL;
    if (what && what->type == RV_STR)
        t->st.view = !strcmp(what->s, "weights") ? TUI_VIEW_WEIGHTS : TUI_VIEW_ACT;
}

static void take_result(Tui *t, TuiItem *it)
{
    TuiState *st = &t->st;
    const Result *r = &it->r;
    const char *cmd = r->cmd;
    if (!strcmp(cmd, "layers")) {
        result_release(&st->layers);
        tui_state_result_copy(&st->layers, r);
        snprintf(st->layers_key, sizeof st->layers_key, "%s", it->key);
        st->have_layers = true;
    } else if (!strcmp(cmd, "error")) {
        tui_state_cache_put(&st->errors, it->key, r);
    } else if (!strcmp(cmd, "eval")) {
        if (split_whole_eval(st, r))
            tui_state_cache_put(&st->evals, it->key, r);
    } else if (!strcmp(cmd, "compare")) {
        if (split_whole_eval(st, r)) {
            result_release(&st->compare);
            tui_state_result_copy(&st->compare, r);
            snprintf(st->compare_key, sizeof st->compare_key, "%s", it->base_key);
            st->have_compare = true;
            compare_metrics(t, it);
        }
    } else if (!strcmp(cmd, "hist")) {
        if (t->hist_line[0] && !strcmp(it->line, t->hist_line))
            tui_state_cache_put(&st->hists, t->hist_key, r);
    } else if (!strcmp(cmd, "load") || !strcmp(cmd, "init")) {
        st->sel = 0;
        clear_tried(t);
    }
    if (!(it->flags & TUI_TASK_QUIET)) /* the layer a command was about comes into view */
        follow_layer(t, r);
    event(t, TUI_EV_RESULT, r, NULL, (it->flags & TUI_TASK_QUIET) != 0);
}

static void take_done(Tui *t, TuiItem *it)
{
    TuiState *st = &t->st;
    char w[32];
    first_word(it->line, w, sizeof w);
    bool is_auto = (it->flags & TUI_TASK_AUTO) != 0;
    bool cancelled = it->status == QS_ECANCELLED;
    if (it->status) {
        if (!is_auto) {
            char m[700];
            if (cancelled)
                snprintf(m, sizeof m, "%s; the session is as it was before",
                         it->err.msg[0] ? it->err.msg : "cancelled");
            else
                snprintf(m, sizeof m, "%s", it->err.msg);
            event(t, TUI_EV_ERROR, NULL, m, false);
        }
        /* a figure that cannot be had is not asked for again under the same key; a
         * cancelled one (given way to a command) is, once the workbench is idle */
        if (is_auto && !cancelled && t->auto_what[0])
            set_tried(t, t->auto_what, t->auto_key, true);
        if (t->hist_line[0] && !strcmp(it->line, t->hist_line)) {
            Result f;
            result_init(&f, "hist");
            result_str(&f, "error", it->err.msg);
            tui_state_cache_put(&st->hists, t->hist_key, &f);
            result_release(&f);
        }
    }
    if (t->hist_line[0] && !strcmp(it->line, t->hist_line))
        t->hist_line[0] = '\0';
    if (is_auto)
        t->auto_what[0] = '\0';
    if (!strcmp(w, "error"))
        st->pending_error[0] = '\0';
    else if (!strcmp(w, "eval"))
        st->pending_eval[0] = '\0';
    else if (!strcmp(w, "compare"))
        st->pending_compare[0] = '\0';
    t->dirty = true;
}

/* Submits an automatic figure: quiet, giving way to any command. Failures are remembered
 * by (what, key) in take_done so they are not retried; a runaway (figures that never
 * settle) stops after AUTO_MAX submissions without a key press in between. */
#define AUTO_MAX 200

static bool submit_auto(Tui *t, const char *what, const char *key, const char *line)
{
    if (tried(t, what, key) || t->auto_streak >= AUTO_MAX)
        return false;
    if (++t->auto_streak == AUTO_MAX) {
        t->st.auto_figures = false;
        msg(t, TS_WARN, "automatic figures stopped: they kept being recomputed (A restarts them)");
    }
    snprintf(t->auto_what, sizeof t->auto_what, "%s", what);
    snprintf(t->auto_key, sizeof t->auto_key, "%s", key);
    tui_exec_submit(&t->ex, line, TUI_TASK_QUIET | TUI_TASK_AUTO);
    return true;
}

/* Starts what the view needs and the session can give; true when it submitted a task. */
static bool refresh(Tui *t)
{
    TuiState *st = &t->st;
    const TuiSnap *sn = &st->snap;
    if (!sn->model)
        return false;
    if (st->sel >= sn->n_layers)
        st->sel = sn->n_layers - 1;
    if (st->sel < 0 && sn->n_layers > 0)
        st->sel = 0;
    if ((!st->have_layers || strcmp(st->layers_key, sn->key) != 0) &&
        submit_auto(t, "layers", sn->key, "layers"))
        return true;
    if (st->sel >= 0 && st->hist_w >= 16 && st->hist_h >= 3 &&
        (st->view == TUI_VIEW_WEIGHTS || sn->calibrated)) {
        char key[sizeof t->hist_key];
        tui_state_hist_key(st, sn->layer[st->sel], st->view, key, sizeof key);
        if (!tui_state_cache_peek(&st->hists, key) && !tried(t, "hist", key)) {
            char q[512];
            quote_arg(sn->layer[st->sel], q, sizeof q);
            snprintf(t->hist_line, sizeof t->hist_line, "hist %s %s width=%d height=%d", q,
                     st->view == TUI_VIEW_WEIGHTS ? "weights" : "act", st->hist_w, st->hist_h);
            snprintf(t->hist_key, sizeof t->hist_key, "%s", key);
            if (submit_auto(t, "hist", key, t->hist_line))
                return true;
            t->hist_line[0] = '\0';
        }
    }
    if (!st->auto_figures)
        return false;
    bool has_eval = sn->split_n[1] > 0 && sn->split_labelled[1];
    bool has_data = sn->split_n[0] > 0 || sn->split_n[1] > 0;
    bool pinned = tui_state_pinned(sn), needs_cal = precision_needs_calibration(sn->mode);
    for (int i = 0; i < sn->n_layers; i++)
        needs_cal |= sn->pin[i] >= 0 && precision_needs_calibration((PrecKind)sn->pin[i]);
    bool ready = !needs_cal || sn->calibrated;
    bool float_plan = precision_is_float(sn->mode) && !pinned;
    if (!float_plan && has_data && ready && !tui_state_cache_peek(&st->errors, sn->key) &&
        submit_auto(t, "error", sn->key, "error")) {
        snprintf(st->pending_error, TUI_KEY_LEN, "%s", sn->key);
        return true;
    }
    /* Metrics: one compare for a new model or data set (every precision, and the FP32
     * reference for drops), then only an eval of the current plan when it is new. */
    double m;
    RvStyle ms;
    const char *mn;
    if (has_eval && !tui_state_metric(st, sn->fp32_key, &m, &ms, &mn) &&
        submit_auto(t, "compare", sn->base_key, "compare")) {
        snprintf(st->pending_compare, TUI_KEY_LEN, "%s", sn->base_key);
        return true;
    }
    if (has_eval && ready && !tui_state_metric(st, sn->key, &m, &ms, &mn) &&
        submit_auto(t, "eval", sn->key, "eval")) {
        snprintf(st->pending_eval, TUI_KEY_LEN, "%s", sn->key);
        return true;
    }
    return false;
}

void tui_app_pump(Tui *t)
{
    for (int round = 0; round < 16; round++) {
        tui_exec_poll(&t->ex);
        TuiItem *items;
        int n;
        /* the snapshot first: it was taken after every item now waiting */
        tui_exec_take(&t->ex, &items, &n);
        if (tui_exec_take_snap(&t->ex, &t->st.snap))
            t->dirty = true;
        for (int i = 0; i < n; i++) {
            if (items[i].kind == TUI_ITEM_RESULT)
                take_result(t, &items[i]);
            else
                take_done(t, &items[i]);
            tui_exec_item_release(&items[i]);
        }
        free(items);
        if (!tui_exec_running(&t->ex) && t->app->quit) { /* `quit` ran (the worker's is joined) */
            t->quit = true;
            break;
        }
        if (tui_exec_busy(&t->ex) || !refresh(t))
            break;
    }
    TuiJobView before = t->st.job;
    tui_exec_view(&t->ex, &t->st.job);
    if (before.running != t->st.job.running)
        t->dirty = true;
}

/* ---- keys ---- */

static int pane_at(const Tui *t, int x, int y)
{
    for (int i = 0; i < TUI_PANE_COUNT; i++) {
        TuiRect r = t->lay.pane[i];
        if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h)
            return i;
    }
    return -1;
}

void tui_app_key(Tui *t, int key)
{
    t->dirty = true;
    t->auto_streak = 0;
    if (key == TUI_KEY_RESIZE || key == TUI_KEY_NONE)
        return;
    if (t->confirm_quit) {
        t->confirm_quit = false;
        if (key == 'y' || key == 'Y') {
            tui_exec_cancel(&t->ex);
            t->quit = true;
        } else {
            msg(t, TS_DIM, "not quitting");
        }
        return;
    }
    if (t->help) {
        if (key != TUI_KEY_MOUSE)
            t->help = false;
        return;
    }
    if (t->lay.too_small) {
        if (key == 'q' || key == TUI_KEY_CTRL_C)
            action(t, "quit");
        return;
    }
    if (key == TUI_KEY_MOUSE) {
        int p = pane_at(t, t->st.mouse_x, t->st.mouse_y);
        if (p < 0)
            return;
        t->st.focus = p;
    }
    Pane *p = t->panes[t->st.focus];
    char cmd[2048] = "";
    unsigned f = p->cls->on_key(p, &t->st, key, cmd, sizeof cmd);
    if ((f & TUI_RUN_CMD) && t->st.focus == TUI_PANE_CONSOLE)
        t->st.focus = t->return_focus; /* as in vi: ':' types one command, Enter goes back */
    if (f & TUI_RUN_CMD)
        tui_app_run(t, cmd);
    if (f & TUI_QUIT)
        t->quit = true;
    if (f & TUI_HANDLED)
        return;
    /* automatic figures are not "a job" for the keys: Esc keeps its other meanings, and
     * any command pre-empts them anyway */
    bool user_job = tui_exec_running(&t->ex) && !(t->ex.cur.flags & TUI_TASK_AUTO);
    unsigned where = (1u << t->st.focus) | (t->st.playing ? TUI_IN_PLAY : 0) |
                     (user_job ? TUI_IN_JOB : TUI_IN_IDLE);
    const TuiBinding *b = tui_keys_lookup(key, where);
    if (b)
        tui_app_run(t, b->cmd);
}

/* ---- drawing ---- */

void tui_app_draw(Tui *t, TuiScreen *s)
{
    if (s->w != t->lay.w || s->h != t->lay.h ||
        (t->lay.caption.h > 0) != t->st.playing)
        relayout(t, s->w, s->h);
    tui_screen_clear(s);
    t->dirty = false;
    if (t->lay.too_small) {
        tui_layout_too_small(s);
        return;
    }
    tui_layout_status(s, t->lay.status, &t->st);
    for (int i = 0; i < TUI_PANE_COUNT; i++)
        t->panes[i]->cls->draw(t->panes[i], &t->st, s, t->lay.pane[i], t->st.focus == i);
    for (int y = t->lay.sep.y; y < t->lay.sep.y + t->lay.sep.h; y++)
        tui_screen_putc(s, t->lay.sep.x, y, tui_screen_glyph(s, TG_VLINE), TS_DIM);
    if (t->st.playing)
        tui_layout_caption(s, t->lay.caption, &t->st);
    tui_layout_hints(s, t->lay.hints, &t->st);
    if (t->help) {
        s->cur_on = false;
        tui_layout_help(s);
    }
    if (t->confirm_quit) {
        s->cur_on = false;
        char q[200];
        snprintf(q, sizeof q, "'%s' is running. Quit anyway (it is cancelled)? y/n",
                 t->ex.cur.line ? t->ex.cur.line : "a job");
        tui_layout_question(s, q);
    }
}

/* ---- life cycle ---- */

Tui *tui_app_new(App *app, const char *history_path)
{
    Tui *t = xcalloc(1, sizeof *t);
    t->app = app;
    tui_state_init(&t->st);
    tui_history_init(&t->hist, history_path, 1000);
    tui_exec_init(&t->ex, app);
    t->panes[TUI_PANE_LAYERS] = tui_pane_layers_new();
    t->panes[TUI_PANE_DETAIL] = tui_pane_detail_new();
    t->panes[TUI_PANE_METRICS] = tui_pane_metrics_new();
    t->panes[TUI_PANE_CONSOLE] = tui_pane_console_new(&t->hist);
    t->st.focus = t->return_focus = TUI_PANE_LAYERS;
    relayout(t, 80, 24);
    tui_exec_snapshot(&t->ex);
    tui_exec_take_snap(&t->ex, &t->st.snap);
    t->dirty = true;
    return t;
}

void tui_app_free(Tui *t)
{
    if (!t)
        return;
    tui_exec_release(&t->ex);
    for (int i = 0; i < TUI_PANE_COUNT; i++)
        tui_pane_free(t->panes[i]);
    cmd_play_release(&t->play);
    clear_tried(t);
    tui_history_release(&t->hist);
    tui_state_release(&t->st);
    free(t);
}

void tui_app_start(Tui *t, const char *model, const char *init)
{
    char q[2048], line[2100];
    if (t->hist.save_failed)
        msg(t, TS_DIM, "(command history is not saved: its file cannot be written)");
    if (model) {
        quote_arg(model, q, sizeof q);
        snprintf(line, sizeof line, "load %s", q);
        run_line(t, line, 0, true);
    }
    if (init) {
        quote_arg(init, q, sizeof q);
        snprintf(line, sizeof line, "source %s", q);
        run_line(t, line, 0, true);
    }
    if (!model && !init)
        msg(t, TS_DIM, "qscope workbench: ':load PATH.qsm' loads a model; '?' lists the keys");
}

bool tui_app_idle(const Tui *t)
{
    return !tui_exec_busy(&t->ex);
}

bool tui_app_settle(Tui *t, double timeout_s)
{
    double end = tui_exec_now() + timeout_s;
    for (;;) {
        tui_app_pump(t);
        if (tui_app_idle(t))
            return true;
        if (tui_exec_now() > end)
            return false;
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

bool tui_app_quitting(const Tui *t)
{
    return t->quit;
}

bool tui_app_needs_redraw(const Tui *t)
{
    return t->dirty || tui_exec_running(&t->ex);
}
