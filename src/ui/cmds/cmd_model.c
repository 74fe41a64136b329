/* load, save, info, layers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/cmd_tflite.h"
#include "io/fileio.h"
#include "native/modelfile.h"
#include "ops/op.h"
#include "qexec/qexec.h"
#include "session/qview.h"
#include "native/spec.h"
#include "graph/transform.h"
#include "native/variants.h"

static void sample_shape(const Shape *s, char *buf, size_t cap)
{
    /* Shown with the batch dimension as N so it reads like the tensors people know. */
    size_t used = (size_t)snprintf(buf, cap, "(N");
    for (int i = 1; i < s->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, ", %lld", (long long)s->dim[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, ")");
}

static void model_summary(const Model *m, Result *r)
{
    const Graph *g = &m->graph;
    result_int(r, "inputs", g->n_inputs);
    result_int(r, "outputs", g->n_outputs);
    result_int(r, "layers", g->n_nodes);
    result_int(r, "params", graph_param_count(g));
    result_int(r, "bytes", (int64_t)graph_param_bytes(g));
}

/* What a new model starts from, said in the result when it replaces one (`prev`: its
 * path, "" for a model made by init; NULL: none was loaded): a fresh plan, and which data
 * splits stayed and which went (a split stays only when its samples are exactly the new
 * model's inputs). */
static void fresh_state_note(const Session *s, const char *prev, const char *dropped,
                             const char *variant, Result *r)
{
    char kept[64];
    session_split_names(s, kept, sizeof kept);
    if (kept[0])
        result_str(r, "kept_splits", kept);
    if (dropped[0])
        result_str(r, "dropped_splits", dropped);
    if (!prev)
        return;
    result_str(r, "replaced", prev[0] ? prev : "(init)");
    if (variant)
        result_textf(r, "a fresh session at the file's current variant '%s'", variant);
    else
        result_textf(r, "a fresh plan: %s with default quant options, no pins, no "
                     "calibration%s", precision_table[s->q.plan.mode].name,
                     s->q.n_variants ? "; the file's variants" : "");
    if (kept[0])
        result_textf(r, "kept splits: %s (their samples are this model's inputs)", kept);
    if (dropped[0])
        result_textf(r, "dropped splits: %s (their samples are not this model's inputs; "
                     "'data' loads new ones)", dropped);
}

/* The path of the model a load replaces (see fresh_state_note), copied into buf. */
static const char *previous_model(const Session *s, char *buf, size_t cap)
{
    if (!s->model)
        return NULL;
    snprintf(buf, cap, "%s", s->model_path ? s->model_path : "");
    return buf;
}

QsStatus cmd_load(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    /* a .tflite file also says how it is quantized (cmd_tflite.h) */
    bool tfl = fileio_has_suffix(a->pos[0], ".tflite");
    TflImportQuant tq = { 0 };
    Model *m = tfl ? tflite_load_ex(a->pos[0], &tq, err) : modelfile_load(a->pos[0], err);
    if (!m)
        return err->code;
    /* Variants are checked against the model before the session changes. */
    QuantState vq;
    qstate_init(&vq, m->graph.n_nodes);
    const char *vj = model_meta_get(m, "variants");
    if (vj && variants_from_json(vj, m, &vq, err)) {
        qstate_release(&vq);
        model_free(m);
        qs_error_prefix(err, "%s", a->pos[0]);
        return err->code;
    }
    char dropped[128], prev_buf[512];
    const char *prev = previous_model(&app->session, prev_buf, sizeof prev_buf);
    session_set_model(&app->session, m, a->pos[0], dropped, sizeof dropped);
    QuantState *qs = &app->session.q;
    for (int i = 0; i < vq.n_variants; i++) { /* move them in */
        qs->variants = xrealloc(qs->variants, (size_t)(qs->n_variants + 1) * sizeof *qs->variants);
        qs->variants[qs->n_variants++] = vq.variants[i];
    }
    vq.n_variants = 0;
    qstate_release(&vq);
    if (qs->n_variants)
        result_int(r, "variants", qs->n_variants);
    /* a file written by `save variant=NAME` comes back at that variant's plan */
    const char *cur = model_meta_get(m, "current_variant");
    bool used = cur && qstate_variant_use(qs, cur);
    if (used) {
        result_str(r, "current_variant", cur);
        result_str(r, "plan", plan_label(&qs->plan));
        result_plan_target(r, &qs->plan);
    } else if (cur) {
        result_str(r, "note", "the file names a current variant it does not hold; ignored");
    }
    result_str(r, "model", a->pos[0]);
    model_summary(m, r);
    const char *stop = model_meta_get(m, "onnx_stopped_before"); /* onnx/onnx_stop.h */
    if (stop)
        result_str(r, "stopped_before", stop);
    if (tfl) {
        QsStatus st = tflite_session_apply(app, m, &tq, a->pos[0], r, err);
        tflite_import_quant_release(&tq);
        if (st)
            return st;
    }
    session_mark_saved(&app->session); /* what the file holds is not unsaved work */
    fresh_state_note(&app->session, prev, dropped, used ? cur : NULL, r);
    return QS_OK;
}

QsStatus cmd_init(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    long seed;
    if (arg_int_range(a, "seed", -1, -1, 1L << 53, &seed, err))
        return err->code;
    Model *m = spec_load(a->pos[0], seed, err);
    if (!m)
        return err->code;
    char dropped[128], prev_buf[512];
    const char *prev = previous_model(&app->session, prev_buf, sizeof prev_buf);
    session_set_model(&app->session, m, NULL, dropped, sizeof dropped);
    result_str(r, "spec", a->pos[0]);
    const char *init_seed = model_meta_get(m, "init_seed"); /* the spec's seed when none given */
    if (init_seed)
        result_int(r, "seed", strtoll(init_seed, NULL, 10));
    model_summary(m, r);
    fresh_state_note(&app->session, prev, dropped, NULL, r);
    return QS_OK;
}

/* `save PATH variant=NAME`: the model NAME runs on -- its own fine-tuned weights for a QAT
 * variant, else the session's -- with NAME as its only variant, marked "current_variant"
 * so that `load` makes it current again: loading the file and `eval` then give exactly
 * the variant's figures. The model in memory keeps its own metadata. */
static QsStatus save_variant(Session *s, const char *path, const char *name, Result *r,
                             QsError *err)
{
    const Variant *v = qstate_variant_get(&s->q, name, err);
    if (!v)
        return qs_error_prefix(err, "save"), err->code;
    if (plan_needs_calibration(&v->plan) && !v->calibrated)
        return qs_fail(err, QS_EINVAL, "save: variant '%s' runs int8-static but has no "
                       "calibration", name);
    Model *out = v->model ? v->model : s->model;
    char *json = variants_one_to_json(out, v, err);
    if (!json)
        return err->code;
    static const char *const keys[2] = { "variants", "current_variant" };
    const char *vals[2] = { json, v->name };
    QsStatus st = modelfile_save_meta(path, out, 2, keys, vals, err);
    free(json);
    if (st)
        return st;
    result_str(r, "saved", path);
    result_str(r, "variant", v->name);
    result_str(r, "plan", plan_label(&v->plan));
    result_plan_target(r, &v->plan);
    result_str(r, "weights", v->model ? "own" : "session");
    model_summary(out, r);
    return QS_OK;
}

QsStatus cmd_save(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const char *vn = arg_str(a, "variant", NULL);
    if (vn)
        return save_variant(s, a->pos[0], vn, r, err);
    /* the whole session: no variant is made current on load */
    model_meta_remove(s->model, "current_variant");
    char *vj = variants_to_json(s->model, &s->q, err);
    if (vj)
        model_meta_set(s->model, "variants", vj);
    else
        model_meta_remove(s->model, "variants");
    free(vj);
    if (modelfile_save(a->pos[0], s->model, err))
        return err->code;
    result_str(r, "saved", a->pos[0]);
    result_int(r, "variants", s->q.n_variants);
    return QS_OK;
}

static void value_table(Result *r, const char *name, const Graph *g, const int *idx, int n)
{
    static const char *const cols[] = { "name", "shape", NULL };
    RTable *t = result_table(r, name, cols);
    char buf[128];
    for (int i = 0; i < n; i++) {
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, g->values[idx[i]].name);
        sample_shape(&g->values[idx[i]].shape, buf, sizeof buf);
        rtable_str(t, row, 1, buf);
    }
}

QsStatus cmd_info(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const Model *m = app->session.model;
    const Graph *g = &m->graph;
    result_str(r, "model", app->session.model_path ? app->session.model_path : "");
    model_summary(m, r);
    value_table(r, "input_list", g, g->inputs, g->n_inputs);
    value_table(r, "output_list", g, g->outputs, g->n_outputs);
    if (m->n_meta) {
        static const char *const cols[] = { "key", "value", NULL };
        RTable *t = result_table(r, "metadata", cols);
        for (int i = 0; i < m->n_meta; i++) {
            int row = rtable_add_row(t);
            rtable_str(t, row, 0, m->meta[i].key);
            rtable_str(t, row, 1, m->meta[i].value);
        }
    }
    return QS_OK;
}

QsStatus cmd_layers(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    char note[512];
    QModel *q = qview_current(s, note, sizeof note);
    bool preview = q && qview_is_preview(s);
    if (preview) {
        const char *pv = precision_table[qview_preview_prec()].name;
        snprintf(note, sizeof note, "the plan is fp32: every layer runs float; w_range to "
                 "clipped preview %s from the calibration ('mode %s' runs it)", pv, pv);
        result_str(r, "preview", pv);
    }
    if (note[0])
        result_str(r, "note", note);
    const QImport *imp = s->q.calib.imported;
    if (q && imp)
        result_str(r, "imported", imp->source);
    static const char *const cols[] = { "index", "name", "op", "shape", "params", "prec",
                                        "kernel", "w_range", "w_spread", "act_range", "clip",
                                        "scale", "zp", "clipped", "qparams", NULL };
    RTable *t = result_table(r, "layers", cols);
    char buf[128];
    for (int k = 0; k < g->n_nodes; k++) {
        int i = g->order[k];
        const Node *n = &g->nodes[i];
        int64_t params = 0;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && g->values[n->in[j]].kind == VAL_CONST)
                params += shape_numel(&g->values[n->in[j]].shape);
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, k);
        rtable_str(t, row, 1, n->name);
        rtable_str(t, row, 2, op_table[n->op]->name);
        sample_shape(&g->values[n->out].shape, buf, sizeof buf);
        rtable_str(t, row, 3, buf);
        rtable_int(t, row, 4, params);
        /* a layer whose weight granularity is pinned away from the plan's says so */
        const Plan *p = &s->q.plan;
        bool own_gran = plan_node_wgran_tensor(p, i) != p->q.wgran_tensor;
        snprintf(buf, sizeof buf, "%s%s%s", precision_table[plan_node_prec(p, i)].name,
                 own_gran ? "/" : "", own_gran ? quant_wgran_names[!p->q.wgran_tensor] : "");
        rtable_str(t, row, 5, buf);
        const char *kernel = qview_kernel(s, q, i);
        if (kernel)
            rtable_str(t, row, 6, kernel);
        if (!q)
            continue;
        const QLayerInfo *L = qmodel_layer(q, i);
        if (L->n_wscales) {
            rtable_range(t, row, 7, L->w_min, L->w_max);
            rtable_float(t, row, 8, L->w_channel_spread, RS_PLAIN);
        }
        if (L->has_act) {
            rtable_range(t, row, 9, L->act_min, L->act_max);
            rtable_range(t, row, 10, L->clip_lo, L->clip_hi);
            rtable_float(t, row, 11, L->act.scale, RS_PLAIN);
            rtable_int(t, row, 12, L->act.zero_point);
            if (L->act_observed)
                rtable_float(t, row, 13, L->clipped, RS_PCT);
            /* whose scale and zero point: the deployed file's, or derived here */
            rtable_str(t, row, 14, !L->act_from_file ? "calibrated"
                                   : L->act_observed ? "file" : "file, grid");
        }
    }
    return QS_OK;
}

QsStatus cmd_fold(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    if (strcmp(a->pos[0], "scales") != 0)
        return qs_fail(err, QS_EINVAL, "fold: unknown target '%s' (scales)", a->pos[0]);
    int folded, left;
    QsStatus st = transform_absorb_scales(app->session.model, &folded, &left, err);
    session_model_changed(&app->session); /* even a failed fold may have changed weights */
    if (st)
        return st;
    result_int(r, "folded", folded);
    result_int(r, "left", left);
    model_summary(app->session.model, r);
    return QS_OK;
}
