/* pick: the decision rule over every variant, and export of the winner. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_device.h"
#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "native/modelfile.h"
#include "session/variant_pick.h"
#include "native/variants.h"

/* Reads "size<=100KB", "latency<=50ms" (units optional) and "drop<=0.01" or "drop<=1%"
 * (a fraction of the metric, as fallback's) from positional arguments. */
static QsStatus read_constraints(const CmdArgs *a, PickLimits *c, QsError *err)
{
    static const struct {
        const char *name, *unit;
        size_t off;
    } keys[] = {
        { "size", "KB", offsetof(PickLimits, size_kb) },
        { "latency", "ms", offsetof(PickLimits, latency_ms) },
        { "drop", NULL, offsetof(PickLimits, drop) },
    };
    *c = (PickLimits){ .size_kb = NAN, .latency_ms = NAN, .drop = NAN };
    for (int i = 0; i < a->n_pos; i++) {
        const char *t = a->pos[i];
        int k = 0;
        while (k < 3 && strncmp(t, keys[k].name, strlen(keys[k].name)) != 0)
            k++;
        const char *rest = k < 3 ? t + strlen(keys[k].name) : NULL;
        if (!rest || strncmp(rest, "<=", 2) != 0)
            return qs_fail(err, QS_EINVAL, "pick: '%s' is not a constraint (size<=KB, "
                           "latency<=MS, drop<=0.01 or drop<=1%%)", t);
        double v;
        if (!keys[k].unit) {
            if (parse_fraction(keys[k].name, rest + 2, &v, err))
                return err->code;
        } else {
            char num[64];
            snprintf(num, sizeof num, "%s", rest + 2);
            size_t len = strlen(num), ul = strlen(keys[k].unit);
            if (len > ul && strcasecmp(num + len - ul, keys[k].unit) == 0)
                num[len - ul] = '\0';
            if (parse_double(keys[k].name, num, &v, err))
                return err->code;
            if (v < 0)
                return qs_fail(err, QS_EINVAL, "pick: %s must not be negative", keys[k].name);
        }
        *(double *)((char *)c + keys[k].off) = v;
    }
    return QS_OK;
}

/* Saves the model the winner was scored on with the winner as its only variant: a winner
 * holding its own weights (QAT) with those, a base precision row with the active model.
 * The metadata is swapped for the write and restored. */
static QsStatus export_winner(App *app, const VariantRow *w, const char *path, QsError *err)
{
    Session *s = &app->session;
    QuantState one;
    qstate_init(&one, s->model->graph.n_nodes);
    const Variant *v = qstate_variant_find(&s->q, w->name);
    /* a base precision row was scored on the active model (a QAT variant's weights after
     * `variant use qat`), so that is what it exports */
    Model *out = v && v->model ? v->model : (Model *)qstate_model(&s->q, s->model);
    Plan p;
    if (v) {
        plan_copy(&p, &v->plan);
    } else { /* a base precision row: the current options, no pins */
        plan_copy(&p, &s->q.plan);
        memset(p.pin, -1, (size_t)p.n_nodes);
        p.mode = w->mode;
    }
    const Calibration *cal = v ? (v->calibrated ? &v->calib : NULL)
                               : (s->q.calibrated ? &s->q.calib : NULL);
    if (cal) {
        calib_copy(&one.calib, cal);
        one.calibrated = true;
    }
    qstate_variant_save(&one, w->name, &p);
    plan_release(&p);
    char *json = variants_to_json(out, &one, err);
    qstate_release(&one);
    /* the file names the winner; the model keeps its own metadata */
    static const char *const keys[2] = { "variants", "picked" };
    const char *vals[2] = { json, w->name };
    QsStatus st = modelfile_save_meta(path, out, json ? 2 : 1, json ? keys : keys + 1,
                                      json ? vals : vals + 1, err);
    free(json);
    return st;
}

/* The winner's metric and drop on the split that scores (scored_metric, scored_drop): the
 * deciding split's own figures when it is that split. */
static QsStatus score_winner(App *app, const Decision *d, long n, const VariantRow *w,
                             RvStyle style, Result *r, QsError *err)
{
    double metric = w->metric, drop = w->drop;
    if (d->scored != d->split) {
        VariantRows one;
        if (variant_rows_collect_one(&app->session, split_name((SplitId)d->scored), n,
                                     w->name, &app->job, &one, err))
            return err->code;
        metric = one.n == 1 ? one.rows[0].metric : NAN;
        drop = one.n == 1 ? one.rows[0].drop : NAN;
        variant_rows_release(&one);
    }
    result_float(r, "scored_metric", metric, style);
    result_float(r, "scored_drop", drop, style);
    return QS_OK;
}

QsStatus cmd_pick(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    PickLimits c;
    long n;
    if (read_constraints(a, &c, err) || arg_int_range(a, "n", 0, 0, 1L << 40, &n, err))
        return err->code;
    const char *by = arg_str(a, "by", "metric");
    if (strcmp(by, "metric") != 0)
        return qs_fail(err, QS_EINVAL, "by=%s: only 'metric' (the split's accuracy or MSE) is "
                       "supported", by);
    Decision d;
    if (decide_split(&app->session, a, "split", "pick", true, &d, err))
        return err->code;
    const DeviceTarget *target;
    bool io_int8;
    if (device_target_arg(a, &target, &io_int8, err))
        return err->code;
    VariantRows v;
    if (variant_rows_collect(&app->session, split_name((SplitId)d.split), n, &app->job, &v,
                             err))
        return err->code;
    /* a part named twice would be two bytes_<part> columns of one name */
    for (int k = 0; k < v.n_parts; k++)
        for (int j = 0; j < k; j++)
            if (strcmp(v.part[j], v.part[k]) == 0) {
                qs_fail(err, QS_EFORMAT, "metadata 'parts': part '%s' is named twice",
                        v.part[k]);
                variant_rows_release(&v);
                return QS_EFORMAT;
            }
    /* on a device: its estimated latency and its deployment size judge each row */
    if (target && device_rows_apply(&app->session, &v, target, io_int8, device_file_bytes, app,
                                    err)) {
        variant_rows_release(&v);
        return err->code;
    }
    int win = pick_winner(&v, &c);
    char why[256];
    RvStyle style = task_metric_style(v.task);
    /* with parts, one bytes column per part after the whole model's: size<= applies to
     * each part (they are deployed apart), so pick_size_ok reads those */
    char part_cols[EXTRACT_MAX_PARTS][80];
    const char *cols[12 + EXTRACT_MAX_PARTS];
    int nc = 0;
    cols[nc++] = "variant";
    cols[nc++] = "metric";
    cols[nc++] = "drop";
    cols[nc++] = "bytes";
    for (int k = 0; k < v.n_parts; k++) {
        snprintf(part_cols[k], sizeof part_cols[k], "bytes_%s", v.part[k]);
        cols[nc++] = part_cols[k];
    }
    int c_lat = nc;
    cols[nc++] = "latency";
    cols[nc++] = "size_ok";
    cols[nc++] = "latency_ok";
    cols[nc++] = "drop_ok";
    cols[nc++] = "verdict";
    cols[nc++] = "target"; /* the arithmetic of an int8-static row's figures */
    cols[nc] = NULL;
    RTable *t = result_table(r, "variants", cols);
    for (int i = 0; i < v.n; i++) {
        const VariantRow *w = &v.rows[i];
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, w->name);
        pick_failures(&v, w, &c, why, sizeof why);
        if (w->evaluated) {
            rtable_float(t, row, 1, w->metric, style);
            rtable_float(t, row, 2, w->drop, style);
            rtable_int(t, row, 3, w->bytes);
            t->cells[row * t->n_cols + 3].style = RS_BYTES;
            for (int k = 0; k < v.n_parts; k++) {
                rtable_int(t, row, 4 + k, w->part_bytes[k]);
                t->cells[row * t->n_cols + 4 + k].style = RS_BYTES;
            }
            rtable_float(t, row, c_lat, w->ms, RS_MS);
            rtable_bool(t, row, c_lat + 1, pick_size_ok(&v, w, &c));
            rtable_bool(t, row, c_lat + 2, pick_latency_ok(w, &c));
            rtable_bool(t, row, c_lat + 3, pick_drop_ok(w, &c));
        }
        char verdict[300];
        if (i == win)
            snprintf(verdict, sizeof verdict, "winner");
        else if (why[0])
            snprintf(verdict, sizeof verdict, "fails: %s", why);
        else
            snprintf(verdict, sizeof verdict, "meets all, but %s", win >= 0 &&
                     v.rows[win].metric == w->metric ? "the winner ties and is smaller or listed first"
                                                     : "the winner scores higher");
        rtable_str(t, row, c_lat + 4, verdict);
        rtable_str(t, row, c_lat + 5, w->target ? w->target : "");
    }
    QsStatus st = QS_OK;
    decide_fields(&d, r);
    if (target) {
        result_str(r, "profile", target->name);
        result_str(r, "latency_from", "estimate (docs/devices.md)");
    } else {
        result_str(r, "latency_from", "measured here");
    }
    if (win < 0) {
        /* the table still reaches the user: it is the explanation of the failure */
        if (app->emit)
            app->emit(app, r);
        st = qs_fail(err, QS_ECHECK, "pick: no variant meets every constraint");
    } else {
        result_str(r, "winner", v.rows[win].name);
        if (v.n_parts)
            result_str(r, "size_rule", "each part");
        result_float(r, "winner_metric", v.rows[win].metric, style);
        st = score_winner(app, &d, n, &v.rows[win], style, r, err);
        const char *path = arg_str(a, "export", NULL);
        if (!st && path && !(st = export_winner(app, &v.rows[win], path, err)))
            result_str(r, "exported", path);
    }
    variant_rows_release(&v);
    return st;
}
