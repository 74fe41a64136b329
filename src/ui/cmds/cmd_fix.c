/* biascorr, cle: fixing a quantized model without training (docs/plans.md, "Fixing without
 * training"). Bias correction is quantized state (the float model is not touched);
 * cross-layer equalization rewrites the float weights and so drops the calibration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptq/biascorr.h"
#include "ptq/cle.h"
#include "cmds/cmd_handlers.h"
#include "cmds/cmd_tflite.h"
#include "cmds/decide.h"
#include "ops/op.h"

/* The split a fixing command measures on (default calib). */
static const Dataset *fix_split(const Session *s, const CmdArgs *a, const char *cmd,
                                const char **name, QsError *err)
{
    const char *want = arg_str(a, "split", "calib");
    int id = split_find(want);
    if (id < 0 || !s->splits[id].n_x) {
        qs_fail(err, QS_EINVAL, "%s: split '%s' is empty or unknown (use 'data calib X')", cmd,
                want);
        return NULL;
    }
    *name = split_name((SplitId)id);
    return &s->splits[id];
}

QsStatus cmd_biascorr(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    QuantState *qs = &s->q;
    if (a->n_pos == 1) {
        if (strcmp(a->pos[0], "off") != 0)
            return qs_fail(err, QS_EINVAL, "biascorr: unknown argument '%s' (off)", a->pos[0]);
        bool had = biascorr_active(&qs->corr);
        BiasCorr none = biascorr_none();
        qstate_set_bias_corr(qs, &none);
        result_str(r, "bias_corr", "off");
        result_bool(r, "dropped", had);
        return QS_OK;
    }
    long n, batch;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err))
        return err->code;
    const char *split;
    const Dataset *d = fix_split(s, a, "biascorr", &split, err);
    if (!d)
        return err->code;
    BiasCorr c;
    BiasCorrReport rep;
    /* measured on the model the plan runs on (a QAT variant's weights when one is active) */
    if (biascorr_run(qstate_model(qs, s->model), &qs->plan, qs->calibrated ? &qs->calib : NULL,
                     d, n, (int)batch, &app->job, &c, &rep, err))
        return err->code; /* the previous correction stays */
    snprintf(c.split, sizeof c.split, "%s", split);
    qstate_set_bias_corr(qs, &c);
    const Graph *g = &s->model->graph;
    result_str(r, "bias_corr", "on");
    if (qs->calibrated && qs->calib.imported) /* qexec_lower.c adds them to the file's */
        result_str(r, "imported", qs->calib.imported->source);
    result_str(r, "plan", plan_label(&qs->plan));
    result_plan_target(r, &qs->plan);
    result_str(r, "split", split);
    decide_fields_split(split_find(split), r); /* default calib; eval named: a warning */
    result_int(r, "samples", rep.samples);
    result_int(r, "n_units", rep.n_units);
    result_float(r, "sqnr_before", rep.sqnr_before, RS_DB);
    result_float(r, "sqnr_after", rep.sqnr_after, RS_DB);
    static const char *const cols[] = { "layer", "op", "prec", "channels", "corr_rms",
                                        "corr_max", "rel_rms", NULL };
    RTable *t = result_table(r, "units", cols);
    for (int i = 0; i < rep.n_units; i++) {
        const BiasCorrUnit *u = &rep.units[i];
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, g->nodes[u->node].name);
        rtable_str(t, row, 1, op_table[g->nodes[u->node].op]->name);
        rtable_str(t, row, 2, precision_table[u->prec].name);
        rtable_int(t, row, 3, u->channels);
        rtable_float(t, row, 4, u->rms, RS_PLAIN);
        rtable_float(t, row, 5, u->max_abs, RS_PLAIN);
        /* the shift against the size of what it shifts */
        rtable_float(t, row, 6, u->rms_pre > 0 ? u->rms / u->rms_pre : NAN, RS_PCT);
    }
    free(rep.units);
    return QS_OK;
}

QsStatus cmd_cle(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    long iters, n, batch;
    double headroom;
    if (arg_int_range(a, "iters", 100, 1, 10000, &iters, err) ||
        arg_float(a, "headroom", 1.0, &headroom, err) ||
        arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err))
        return err->code;
    if (tflite_refuse_imported(s, "cle", "equalizing the float twin would leave the file's "
                               "int8 weights as they are and drop its parameters", err))
        return err->code;
    const char *split;
    const Dataset *d = fix_split(s, a, "cle", &split, err);
    if (!d)
        return err->code;
    CleReport rep;
    /* on failure or cancellation every weight is back as it was, bit for bit */
    if (cle_run(s->model, d, n, (int)batch, (int)iters, headroom, &app->job, &rep, err))
        return err->code;
    result_int(r, "n_pairs", rep.n_pairs);
    if (rep.n_pairs == 0) {
        result_textf(r, "no conv/dense pair joined by a ReLU or Clip(0, c): nothing changed");
        return QS_OK;
    }
    session_model_changed(s);
    int eq = 0, lim = 0, left = 0;
    for (int k = 0; k < rep.n_pairs; k++) {
        eq += rep.pairs[k].equalized;
        lim += rep.pairs[k].limited;
        left += rep.pairs[k].left;
    }
    result_int(r, "sweeps", rep.sweeps);
    result_int(r, "equalized", eq);
    result_int(r, "limited", lim);
    result_int(r, "left", left);
    result_str(r, "split", split);
    result_int(r, "samples", rep.samples);
    result_float(r, "max_rel_diff", rep.max_rel_diff, RS_PLAIN);
    const Graph *g = &s->model->graph;
    static const char *const cols[] = { "first", "second", "act", "clip", "channels",
                                        "equalized", "limited", "left", "zero",
                                        "spread_first_before", "spread_first_after",
                                        "spread_second_before", "spread_second_after", NULL };
    RTable *t = result_table(r, "pairs", cols);
    for (int k = 0; k < rep.n_pairs; k++) {
        const ClePair *p = &rep.pairs[k];
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, g->nodes[p->first].name);
        rtable_str(t, row, 1, g->nodes[p->second].name);
        rtable_str(t, row, 2, op_table[g->nodes[p->act].op]->name);
        if (isfinite(p->clip))
            rtable_float(t, row, 3, p->clip, RS_PLAIN);
        rtable_int(t, row, 4, p->channels);
        rtable_int(t, row, 5, p->equalized);
        rtable_int(t, row, 6, p->limited);
        rtable_int(t, row, 7, p->left);
        rtable_int(t, row, 8, p->zero);
        rtable_float(t, row, 9, p->spread_first[0], RS_PLAIN);
        rtable_float(t, row, 10, p->spread_first[1], RS_PLAIN);
        rtable_float(t, row, 11, p->spread_second[0], RS_PLAIN);
        rtable_float(t, row, 12, p->spread_second[1], RS_PLAIN);
    }
    free(rep.pairs);
    result_str(r, "calibration", "dropped: the float weights changed, run 'calibrate' again");
    return QS_OK;
}
