/* Automatic figures: what the current view needs (the layer list, the histogram, error
 * bars, metrics), started as quiet tasks that give way to any command. */
#include "tui/tui_app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "quant/plan.h"

bool tui_app_auto_tried(const Tui *t, const char *what, const char *key)
{
    char k[TUI_KEY_LEN + 200];
    snprintf(k, sizeof k, "%s|%s", what, key);
    for (int i = 0; i < t->n_tried; i++)
        if (!strcmp(t->tried[i], k))
            return true;
    return false;
}

void tui_app_auto_set_tried(Tui *t, const char *what, const char *key, bool on)
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

void tui_app_auto_forget(Tui *t)
{
    for (int i = 0; i < t->n_tried; i++)
        free(t->tried[i]);
    t->n_tried = 0;
}


/* Submits an automatic figure: quiet, giving way to any command. Failures are remembered
 * by (what, key) in take_done so they are not retried; a runaway (figures that never
 * settle) stops after AUTO_MAX submissions without a key press in between. */
#define AUTO_MAX 200

static bool submit_auto(Tui *t, const char *what, const char *key, const char *line)
{
    if (tui_app_auto_tried(t, what, key) || t->auto_streak >= AUTO_MAX)
        return false;
    if (++t->auto_streak == AUTO_MAX) {
        t->st.auto_figures = false;
        tui_app_msg(t, TS_WARN, "automatic figures stopped: they kept being recomputed (A restarts them)");
    }
    snprintf(t->auto_what, sizeof t->auto_what, "%s", what);
    snprintf(t->auto_key, sizeof t->auto_key, "%s", key);
    tui_exec_submit(&t->ex, line, TUI_TASK_QUIET | TUI_TASK_AUTO);
    return true;
}

/* Starts what the view needs and the session can give; true when it submitted a task. */
bool tui_app_auto_refresh(Tui *t)
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
        if (!tui_state_cache_peek(&st->hists, key) && !tui_app_auto_tried(t, "hist", key)) {
            char q[512];
            tui_app_quote_arg(sn->layer[st->sel], q, sizeof q);
            /* the weight view draws a bar per channel: as many as the width holds */
            if (st->view == TUI_VIEW_WEIGHTS)
                snprintf(t->hist_line, sizeof t->hist_line, "hist %s weights top=%d", q,
                         st->hist_w);
            else
                snprintf(t->hist_line, sizeof t->hist_line, "hist %s act width=%d height=%d",
                         q, st->hist_w, st->hist_h);
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
