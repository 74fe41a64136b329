#include "tui/tui_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "base/error.h"
#include "quant/observer.h"
#include "quant/target.h"
#include "quant/plan.h"
#include "session/session.h"

/* ---- snapshot ---- */

static void snap_keys(TuiSnap *s)
{
    snprintf(s->base_key, sizeof s->base_key, "M%u.D%u.C%u|%s", s->model_gen, s->data_gen,
             s->calib_gen, s->quant);
    tui_state_mode_key(s, PREC_FP32, s->fp32_key, sizeof s->fp32_key);
    if (!tui_state_pinned(s)) {
        tui_state_mode_key(s, s->mode, s->key, sizeof s->key);
        return;
    }
    /* Pins enter the key as a hash: keys stay short for graphs of any size. */
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < s->n_layers; i++) {
        h ^= (uint8_t)(s->pin[i] + 1);
        h *= 1099511628211ull;
    }
    snprintf(s->key, sizeof s->key, "%.200s|%.15s|pins:%016llx", s->base_key, s->mode_name,
             (unsigned long long)h);
}

/* A whole-model mode's figures depend on less than the plan: FP32 and FP16 only on the
 * model and data, INT8 dynamic also on the quantization options, INT8 static on the
 * calibration too. Keys say exactly that, so a new calibration keeps the FP16 figures. */
void tui_state_mode_key(const TuiSnap *s, int mode, char *buf, size_t cap)
{
    if (mode >= 0 && mode < PREC_COUNT && !precision_is_integer(mode))
        snprintf(buf, cap, "M%u.D%u|%s", s->model_gen, s->data_gen, precision_table[mode].name);
    else if (mode >= 0 && mode < PREC_COUNT && !precision_needs_calibration(mode))
        snprintf(buf, cap, "M%u.D%u|%.128s|%s", s->model_gen, s->data_gen, s->quant,
                 precision_table[mode].name);
    else
        snprintf(buf, cap, "%.200s|%.15s", s->base_key,
                 mode >= 0 && mode < PREC_COUNT ? precision_table[mode].name : "?");
}

bool tui_state_pinned(const TuiSnap *s)
{
    for (int i = 0; i < s->n_layers; i++)
        if (s->pin[i] >= 0)
            return true;
    return false;
}

void tui_state_snap_take(TuiSnap *s, const App *app, unsigned model_gen, unsigned data_gen,
                   unsigned calib_gen)
{
    tui_state_snap_release(s);
    const Session *se = &app->session;
    s->model_gen = model_gen;
    s->data_gen = data_gen;
    s->calib_gen = calib_gen;
    for (int i = 0; i < SPLIT_COUNT && i < 3; i++) {
        s->split_n[i] = dataset_len(&se->splits[i]);
        s->split_labelled[i] = se->splits[i].y != NULL;
    }
    const Plan *p = &se->q.plan;
    s->mode = p->mode;
    snprintf(s->mode_name, sizeof s->mode_name, "%s", precision_table[p->mode].name);
    /* an integer plan's label names the target its INT8 figures follow: int8-static@tflm */
    const char *tgt = plan_target_name(p);
    snprintf(s->plan_label, sizeof s->plan_label, "%s%s%s", plan_label(p), tgt ? "@" : "",
             tgt ? tgt : "");
    s->calibrated = se->q.calibrated;
    s->unsaved = session_unsaved(se);
    snprintf(s->calib_split, sizeof s->calib_split, "%s", se->q.calib_split);
    snprintf(s->quant, sizeof s->quant, "wgran=%s observer=%s pct=%g bits=%d asym=%d target=%s",
             quant_wgran_names[p->q.wgran_tensor],
             p->q.observer >= 0 && p->q.observer < OBS_COUNT ? observer_table[p->q.observer].name
                                                              : "?",
             p->q.pct, p->q.bits, !p->q.act_symmetric, target_of(p->q.target)->name);
    /* per-layer weight granularities change every INT8 figure: they enter the key hashed */
    uint64_t wh = 1469598103934665603ull;
    bool wpins = false;
    for (int i = 0; i < p->n_nodes; i++) {
        wpins |= p->wgran[i] >= 0;
        wh = (wh ^ (uint8_t)(p->wgran[i] + 1)) * 1099511628211ull;
    }
    if (wpins) {
        size_t len = strlen(s->quant);
        snprintf(s->quant + len, sizeof s->quant - len, " wgran_pins=%016llx",
                 (unsigned long long)wh);
    }
    if (se->model) {
        const Graph *g = &se->model->graph;
        s->model = true;
        snprintf(s->model_path, sizeof s->model_path, "%s",
                 se->model_path ? se->model_path : "(new model)");
        s->n_layers = g->n_nodes;
        s->layer = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *s->layer);
        s->pin = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *s->pin);
        for (int k = 0; k < g->n_nodes; k++) {
            int i = g->order ? g->order[k] : k;
            s->layer[k] = xstrdup(g->nodes[i].name);
            s->pin[k] = p->pin && i < p->n_nodes ? p->pin[i] : -1;
        }
    }
    s->n_variants = se->q.n_variants;
    s->variant = xcalloc((size_t)(s->n_variants ? s->n_variants : 1), sizeof *s->variant);
    for (int k = 0; k < s->n_variants; k++)
        s->variant[k] = xstrdup(se->q.variants[k].name);
    snap_keys(s);
}

void tui_state_snap_copy(TuiSnap *dst, const TuiSnap *src)
{
    tui_state_snap_release(dst);
    *dst = *src;
    dst->layer = NULL;
    dst->pin = NULL;
    dst->variant = xcalloc((size_t)(src->n_variants ? src->n_variants : 1), sizeof *dst->variant);
    for (int i = 0; i < src->n_variants; i++)
        dst->variant[i] = xstrdup(src->variant[i]);
    if (src->n_layers) {
        dst->layer = xcalloc((size_t)src->n_layers, sizeof *dst->layer);
        dst->pin = xmalloc((size_t)src->n_layers);
        for (int i = 0; i < src->n_layers; i++)
            dst->layer[i] = xstrdup(src->layer[i]);
        memcpy(dst->pin, src->pin, (size_t)src->n_layers);
    }
}

void tui_state_snap_release(TuiSnap *s)
{
    if (s->layer)
        for (int i = 0; i < s->n_layers; i++)
            free(s->layer[i]);
    free(s->layer);
    free(s->pin);
    for (int i = 0; i < s->n_variants; i++)
        free(s->variant[i]);
    free(s->variant);
    memset(s, 0, sizeof *s);
    s->mode = PREC_FP32;
}

/* ---- cache ---- */

void tui_state_cache_init(TuiCache *c, int cap)
{
    memset(c, 0, sizeof *c);
    c->cap = cap < 1 ? 1 : cap;
    c->keys = xcalloc((size_t)c->cap, sizeof *c->keys);
    c->vals = xcalloc((size_t)c->cap, sizeof *c->vals);
}

void tui_state_cache_clear(TuiCache *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->keys[i]);
        result_release(&c->vals[i]);
    }
    c->n = 0;
}

void tui_state_cache_release(TuiCache *c)
{
    tui_state_cache_clear(c);
    free(c->keys);
    free(c->vals);
    memset(c, 0, sizeof *c);
}

static int cache_find(const TuiCache *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return i;
    return -1;
}

/* Moves entry i to the front, keeping the others in order. */
static void to_front(TuiCache *c, int i)
{
    char *k = c->keys[i];
    Result v = c->vals[i];
    memmove(c->keys + 1, c->keys, (size_t)i * sizeof *c->keys);
    memmove(c->vals + 1, c->vals, (size_t)i * sizeof *c->vals);
    c->keys[0] = k;
    c->vals[0] = v;
}

const Result *tui_state_cache_get(TuiCache *c, const char *key)
{
    int i = cache_find(c, key);
    if (i < 0)
        return NULL;
    to_front(c, i);
    return &c->vals[0];
}

const Result *tui_state_cache_peek(const TuiCache *c, const char *key)
{
    int i = cache_find(c, key);
    return i < 0 ? NULL : &c->vals[i];
}

void tui_state_cache_put(TuiCache *c, const char *key, const Result *r)
{
    int i = cache_find(c, key);
    if (i < 0) {
        if (c->n == c->cap) { /* evict the least recently used */
            free(c->keys[c->n - 1]);
            result_release(&c->vals[c->n - 1]);
            c->n--;
        }
        i = c->n++;
        c->keys[i] = xstrdup(key);
        result_init(&c->vals[i], "");
    }
    result_release(&c->vals[i]);
    result_copy(&c->vals[i], r);
    to_front(c, i);
}

/* ---- state ---- */

void tui_state_init(TuiState *st)
{
    memset(st, 0, sizeof *st);
    st->snap.mode = PREC_FP32;
    result_init(&st->layers, "");
    result_init(&st->compare, "");
    tui_state_cache_init(&st->errors, 16);
    tui_state_cache_init(&st->evals, 32);
    tui_state_cache_init(&st->hists, 64);
    st->sel = -1;
    st->zoom = -1;
    st->auto_figures = true;
    st->job.frac = -1;
}

void tui_state_release(TuiState *st)
{
    tui_state_snap_release(&st->snap);
    result_release(&st->layers);
    result_release(&st->compare);
    tui_state_cache_release(&st->errors);
    tui_state_cache_release(&st->evals);
    tui_state_cache_release(&st->hists);
}

bool tui_state_metric(const TuiState *st, const char *key, double *value, RvStyle *style,
                      const char **name)
{
    const Result *e = tui_state_cache_peek(&st->evals, key);
    if (!e)
        return false;
    /* the headline of whichever task the eval ran (f1 before the accuracy it lacks) */
    for (int k = 0; k < TASK_COUNT; k++) {
        const RValue *v = result_get(e, task_table[k].metric);
        if (v && v->type == RV_FLOAT) {
            *value = v->f;
            *style = v->style;
            *name = task_table[k].metric;
            return true;
        }
    }
    return false;
}

void tui_state_hist_key(const TuiState *st, const char *layer, TuiView view, char *buf,
                        size_t cap)
{
    snprintf(buf, cap, "%s|%s|%dx%d|%s", layer, view == TUI_VIEW_WEIGHTS ? "weights" : "act",
             st->hist_w, st->hist_h, st->snap.base_key);
}
