/* mode, prec, quant, calibrate, variant, compare: choosing and comparing precision plans. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/calib.h"
#include "cmds/cmd_handlers.h"
#include "cmds/cmd_tflite.h"
#include "quant/observer.h"
#include "quant/target.h"
#include "eval/score.h"
#include "session/variant_rows.h"
#include "graph/linear_unit.h"
#include "ops/op.h"

static void plan_fields(const Plan *p, Result *r)
{
    result_str(r, "mode", precision_table[p->mode].name);
    result_str(r, "wgran", quant_wgran_names[p->q.wgran_tensor]);
    result_str(r, "observer", observer_table[p->q.observer].name);
    result_float(r, "pct", p->q.pct, RS_PLAIN);
    result_int(r, "bits", p->q.bits);
    result_bool(r, "asym", !p->q.act_symmetric);
    result_str(r, "target", target_of(p->q.target)->name);
    int pins = 0, wpins = 0;
    for (int i = 0; i < p->n_nodes; i++) {
        pins += p->pin[i] >= 0;
        wpins += p->wgran[i] >= 0;
    }
    result_int(r, "pinned", pins);
    result_int(r, "wgran_pinned", wpins);
}

static QsStatus parse_prec(const char *s, int *out, QsError *err)
{
    return parse_choice_of("precision", s, choice_precision, out, err);
}

QsStatus cmd_mode(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Plan *p = &app->session.q.plan;
    if (a->n_pos == 1) {
        int k;
        if (parse_prec(a->pos[0], &k, err))
            return err->code;
        p->mode = (PrecKind)k;
    }
    plan_fields(p, r);
    return QS_OK;
}

QsStatus cmd_prec(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    Plan *p = &s->q.plan;
    int node = graph_find_node(&s->model->graph, a->pos[0]);
    if (node < 0)
        return qs_fail(err, QS_ENOTFOUND, "prec: no layer named '%s' (see 'layers')", a->pos[0]);
    if (strcmp(a->pos[1], "auto") == 0) {
        p->pin[node] = -1;
    } else {
        int k;
        if (parse_prec(a->pos[1], &k, err))
            return err->code;
        p->pin[node] = (int8_t)k;
    }
    result_str(r, "layer", a->pos[0]);
    result_str(r, "pin", p->pin[node] < 0 ? "auto" : precision_table[p->pin[node]].name);
    result_str(r, "runs_at", precision_table[plan_node_prec(p, node)].name);
    return QS_OK;
}

/* Reads quant options (shared by quant and calibrate) into q. */
static QsStatus read_quant_opts(const CmdArgs *a, QuantOpts *q, QsError *err)
{
    int gran = q->wgran_tensor, obs = q->observer, tgt = q->target;
    long bits;
    double pct;
    bool asym;
    if (arg_choice_of(a, "observer", choice_observer, obs, &obs, err) ||
        arg_choice_of(a, "wgran", choice_wgran, gran, &gran, err) ||
        arg_choice_of(a, "target", choice_target, tgt, &tgt, err) ||
        arg_int_range(a, "bits", q->bits, 2, 8, &bits, err) ||
        arg_float(a, "pct", q->pct, &pct, err) || arg_bool(a, "asym", !q->act_symmetric, &asym, err))
        return err->code;
    if (!(pct > 50.0 && pct <= 100.0))
        return qs_fail(err, QS_EINVAL, "pct=%g: expected a percentile in (50, 100]", pct);
    q->wgran_tensor = gran == 1;
    q->observer = obs;
    q->target = tgt;
    q->bits = (int)bits;
    q->pct = pct;
    q->act_symmetric = !asym;
    return QS_OK;
}

/* quant wgran=G layer=L,..: pins (G auto: unpins) the weight granularity of each layer,
 * all or none; each must head a linear unit (the granularity is its weights'). */
static QsStatus quant_layer_wgran(const Graph *g, Plan *p, const char *list, const char *gran,
                                  QsError *err)
{
    if (!gran)
        return qs_fail(err, QS_EINVAL, "quant: layer= sets a layer's weight granularity; "
                       "add wgran=channel|tensor|auto");
    int k;
    if (parse_choice_of("wgran", gran, choice_wgran_or_auto, &k, err))
        return err->code;
    int8_t *next = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1));
    memcpy(next, p->wgran, (size_t)g->n_nodes);
    QsStatus st = QS_OK;
    for (const char *s = list; *s && !st; s += *s == ',') {
        size_t len = strcspn(s, ",");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), s);
        s += len;
        int node = graph_find_node(g, name);
        LinearUnit u;
        if (node < 0)
            st = qs_fail(err, QS_ENOTFOUND, "quant: no layer named '%s' (see 'layers')", name);
        else if (!linear_head(g, node, &u))
            st = qs_fail(err, QS_EINVAL, "quant: '%s' (%s) has no weights to quantize; name a "
                         "Conv, Dense, Gemm or MatMul", name, op_table[g->nodes[node].op]->name);
        else
            next[node] = (int8_t)(k == 2 ? -1 : k);
    }
    if (!st)
        memcpy(p->wgran, next, (size_t)g->n_nodes);
    free(next);
    return st;
}

QsStatus cmd_quant(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Plan *p = &app->session.q.plan;
    const char *layers = arg_str(a, "layer", NULL);
    if (!layers && strcmp(arg_str(a, "wgran", ""), "auto") == 0)
        return qs_fail(err, QS_EINVAL, "quant: wgran=auto gives layers back to the plan's "
                       "granularity; name them with layer=, or set the plan's: wgran=channel|"
                       "tensor");
    /* with layer=, wgran= was the layers': the other options are the plan's */
    CmdArgs rest = *a;
    rest.keys = xmalloc((size_t)(a->n_kv + 1) * sizeof *rest.keys);
    rest.vals = xmalloc((size_t)(a->n_kv + 1) * sizeof *rest.vals);
    rest.n_kv = 0;
    for (int i = 0; i < a->n_kv; i++)
        if (!layers || strcmp(a->keys[i], "wgran") != 0) {
            rest.keys[rest.n_kv] = a->keys[i];
            rest.vals[rest.n_kv++] = a->vals[i];
        }
    QuantOpts q = p->q;
    QsStatus st = read_quant_opts(&rest, &q, err);
    free(rest.keys);
    free(rest.vals);
    if (st)
        return st;
    if (layers) {
        if (quant_layer_wgran(&app->session.model->graph, p, layers, arg_str(a, "wgran", NULL),
                              err))
            return err->code;
        result_str(r, "layer", layers);
        result_str(r, "layer_wgran", arg_str(a, "wgran", ""));
    }
    p->q = q;
    plan_fields(p, r);
    return QS_OK;
}

QsStatus cmd_calibrate(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    int split = split_find(arg_str(a, "split", "calib"));
    if (split < 0 || !s->splits[split].n_x)
        return qs_fail(err, QS_EINVAL, "calibrate: split '%s' is empty or unknown (use 'data "
                       "calib X')", arg_str(a, "split", "calib"));
    long n, batch;
    QuantOpts q = s->q.plan.q;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err) ||
        read_quant_opts(a, &q, err))
        return err->code;
    Calibration c;
    /* the model the plan runs on: a QAT variant's weights when one is current */
    if (calib_run(&qstate_model(&s->q, s->model)->graph, &s->splits[split], n, (int)batch, 0.01,
                  &app->job, &c, err))
        return err->code; /* the previous calibration stays */
    int64_t samples = c.samples;
    /* the file's parameters give way to qscope's own, kept as a variant to compare */
    tflite_keep_imported(s, r);
    qstate_set_calibration(&s->q, &c, split_name((SplitId)split));
    s->q.plan.q = q;
    result_str(r, "split", split_name((SplitId)split));
    result_int(r, "samples", samples);
    result_str(r, "observer", observer_table[q.observer].name);
    return QS_OK;
}

QsStatus cmd_variant(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    QuantState *qs = &app->session.q;
    const char *verb = a->pos[0];
    if (strcmp(verb, "save") == 0 || strcmp(verb, "use") == 0 || strcmp(verb, "drop") == 0) {
        if (a->n_pos != 2)
            return qs_fail(err, QS_EINVAL, "variant %s: one NAME is needed", verb);
        const char *name = a->pos[1];
        if (strcmp(verb, "save") == 0) {
            if (precision_find(name) >= 0)
                return qs_fail(err, QS_EINVAL, "variant save: '%s' names a precision; pick "
                               "another name", name);
            qstate_variant_save(qs, name, &qs->plan);
        } else if (strcmp(verb, "use") == 0) {
            if (!qstate_variant_use(qs, name))
                return qs_fail(err, QS_ENOTFOUND, "variant use: no variant '%s'", name);
        } else if (!qstate_variant_drop(qs, name)) {
            return qs_fail(err, QS_ENOTFOUND, "variant drop: no variant '%s'", name);
        }
        result_str(r, "variant", name);
        result_str(r, "action", verb);
    } else if (strcmp(verb, "import") == 0) {
        if (a->n_pos < 2)
            return qs_fail(err, QS_EINVAL, "variant import: a FILE.tflite is needed");
        if (tflite_variant_import(app, a->pos[1], a->n_pos > 2 ? a->pos[2] : NULL, r, err))
            return err->code;
    } else if (strcmp(verb, "list") != 0) {
        return qs_fail(err, QS_EINVAL, "variant: unknown action '%s' (save, use, drop, list, "
                       "import)", verb);
    }
    static const char *const cols[] = { "variant", "mode", "wgran", "observer", "bits",
                                        "pinned", "weights", "target", NULL };
    RTable *t = result_table(r, "variants", cols);
    for (int i = 0; i < qs->n_variants; i++) {
        const Plan *p = &qs->variants[i].plan;
        int pins = 0;
        for (int k = 0; k < p->n_nodes; k++)
            pins += p->pin[k] >= 0;
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, qs->variants[i].name);
        rtable_str(t, row, 1, precision_table[p->mode].name);
        rtable_str(t, row, 2, quant_wgran_names[p->q.wgran_tensor]);
        rtable_str(t, row, 3, observer_table[p->q.observer].name);
        rtable_int(t, row, 4, p->q.bits);
        rtable_int(t, row, 5, pins);
        /* a QAT variant runs on its own fine-tuned weights, the others on the session's */
        rtable_str(t, row, 6, qs->variants[i].model ? "own" : "session");
        rtable_str(t, row, 7, target_of(p->q.target)->name);
    }
    return QS_OK;
}

QsStatus cmd_compare(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    long n;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err))
        return err->code;
    VariantRows v;
    if (variant_rows_collect(&app->session, arg_str(a, "split", "eval"), n, &app->job, &v,
                             err))
        return err->code;
    RvStyle style = task_metric_style(v.task);
    static const char *const cols[] = { "variant", "mode", "metric", "drop", "agreement",
                                        "sqnr", "bytes", "latency", "current", "note",
                                        "target", NULL };
    RTable *t = result_table(r, "variants", cols);
    for (int i = 0; i < v.n; i++) {
        const VariantRow *w = &v.rows[i];
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, w->name);
        rtable_str(t, row, 1, precision_table[w->mode].name);
        rtable_bool(t, row, 8, w->current);
        if (w->target)
            rtable_str(t, row, 10, w->target);
        if (!w->evaluated) {
            rtable_str(t, row, 9, w->note);
            continue;
        }
        rtable_float(t, row, 2, w->metric, style);
        rtable_float(t, row, 3, w->drop, style);
        rtable_float(t, row, 4, w->agreement, RS_PCT);
        rtable_float(t, row, 5, w->sqnr_db, RS_DB);
        rtable_int(t, row, 6, w->bytes);
        t->cells[row * t->n_cols + 6].style = RS_BYTES;
        rtable_float(t, row, 7, w->ms, RS_MS);
    }
    result_str(r, "split", v.split);
    result_str(r, "metric", score_metric_name(v.task));
    result_int(r, "n", v.samples);
    result_int(r, "batch", app->session.opt.batch);
    variant_rows_release(&v);
    return QS_OK;
}
