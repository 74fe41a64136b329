/* Finished results and jobs into the state: a result goes where its command's row says
 * it feeds (CmdWorkbench), the layer it is about comes into view, pending figures end. */
#include "tui/tui_app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "quant/plan.h"

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
    const RTable *tb = result_find_table(&it->r, "variants");
    const RValue *mname = result_get(&it->r, "metric");
    const char *name = "accuracy";
    for (int k = 0; k < TASK_COUNT && mname && mname->type == RV_STR; k++)
        if (strcmp(mname->s, task_table[k].metric) == 0)
            name = task_table[k].metric;
    int cv = rtable_col(tb, "variant"), cm = rtable_col(tb, "metric");
    for (int row = 0; tb && row < tb->n_rows; row++) {
        const RValue *v = rtable_cell(tb, row, cv), *m = rtable_cell(tb, row, cm);
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

/* After a command about a layer (its row's wb.follow: `hist L`, `prec L ..`, the worst
 * layer of `sensitivity`) typed or played, select that layer so the detail pane shows
 * it, in the view the result names (wb.follow_view). */
static void follow_layer(Tui *t, const CmdWorkbench *wb, const Result *r)
{
    const RValue *v = wb->follow ? result_get(r, wb->follow) : NULL;
    if (!v || v->type != RV_STR)
        return;
    for (int k = 0; k < t->st.snap.n_layers; k++)
        if (!strcmp(t->st.snap.layer[k], v->s))
            t->st.sel = k;
    const RValue *what = wb->follow_view ? result_get(r, wb->follow_view) : NULL;
    if (what && what->type == RV_STR)
        t->st.view = !strcmp(what->s, "weights") ? TUI_VIEW_WEIGHTS : TUI_VIEW_ACT;
}

/* Keeps a result where the pane its command feeds reads it. */
static void feed(Tui *t, CmdFeeds feeds, const TuiItem *it)
{
    TuiState *st = &t->st;
    const Result *r = &it->r;
    switch (feeds) {
    case CMD_FEEDS_LAYERS:
        result_release(&st->layers);
        result_copy(&st->layers, r);
        snprintf(st->layers_key, sizeof st->layers_key, "%s", it->key);
        st->have_layers = true;
        break;
    case CMD_FEEDS_ERRORS:
        tui_state_cache_put(&st->errors, it->key, r);
        break;
    case CMD_FEEDS_METRIC:
        if (split_whole_eval(st, r))
            tui_state_cache_put(&st->evals, it->key, r);
        break;
    case CMD_FEEDS_COMPARE:
        if (split_whole_eval(st, r)) {
            result_release(&st->compare);
            result_copy(&st->compare, r);
            snprintf(st->compare_key, sizeof st->compare_key, "%s", it->base_key);
            st->have_compare = true;
            compare_metrics(t, it);
        }
        break;
    case CMD_FEEDS_HIST: /* only the histogram the detail pane asked for */
        if (t->hist_line[0] && !strcmp(it->line, t->hist_line))
            tui_state_cache_put(&st->hists, t->hist_key, r);
        break;
    case CMD_FEEDS_NEW_MODEL:
        st->sel = 0;
        tui_app_auto_forget(t);
        break;
    default:
        break;
    }
}

void tui_app_take_result(Tui *t, TuiItem *it)
{
    const Result *r = &it->r;
    const CmdDef *def = cmd_find(r->cmd);
    if (def)
        feed(t, def->wb.feeds, it);
    if (def && !(it->flags & TUI_TASK_QUIET)) /* the layer a command was about comes into view */
        follow_layer(t, &def->wb, r);
    tui_app_event(t, TUI_EV_RESULT, r, NULL, (it->flags & TUI_TASK_QUIET) != 0);
}

void tui_app_take_done(Tui *t, TuiItem *it)
{
    TuiState *st = &t->st;
    char w[32];
    tui_app_first_word(it->line, w, sizeof w);
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
            tui_app_event(t, TUI_EV_ERROR, NULL, m, false);
        }
        /* a figure that cannot be had is not asked for again under the same key; a
         * cancelled one (given way to a command) is, once the workbench is idle */
        if (is_auto && !cancelled && t->auto_what[0])
            tui_app_auto_set_tried(t, t->auto_what, t->auto_key, true);
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
    if (it->flags & TUI_TASK_REPLAY)
        tui_app_play_replayed(t, it->status);
    const CmdDef *def = cmd_find(w);
    char *pending = def ? tui_app_pending_slot(st, def->wb.feeds) : NULL;
    if (pending)
        pending[0] = '\0';
    t->dirty = true;
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
                tui_app_take_result(t, &items[i]);
            else
                tui_app_take_done(t, &items[i]);
            tui_exec_item_release(&items[i]);
        }
        free(items);
        if (!tui_exec_running(&t->ex) && t->app->quit) { /* `quit` ran (the worker's is joined) */
            t->quit = true;
            break;
        }
        if (tui_exec_busy(&t->ex) || !tui_app_auto_refresh(t))
            break;
    }
    if (!tui_exec_busy(&t->ex))
        tui_app_play_drive(t);
    TuiJobView before = t->st.job;
    tui_exec_view(&t->ex, &t->st.job);
    if (before.running != t->st.job.running)
        t->dirty = true;
}
