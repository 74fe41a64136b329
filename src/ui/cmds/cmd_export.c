/* export: the model, one of its parts, or any cut of it, under the current plan or a
 * variant's, as ONNX (docs/onnx.md, "Export") or as .qsm carrying the plan as a variant.
 * A part is written with the plan, calibration and bias correction of its source carried
 * over (extract.h), then loaded back and run against the source on the eval split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds/cmd_handlers.h"
#include "session/extract.h"
#include "session/extract_verify.h"
#include "io/fileio.h"
#include "native/modelfile.h"
#include "onnx/onnx_export.h"
#include "native/variants.h"
#include "tflite/tflite_export.h"

/* What one export writes: a model (the session's, a variant's weights, or a part of
 * either), the plan, calibration and bias correction that go with it, and the variant name
 * they are saved under in a .qsm. */
typedef struct ExportJob {
    const Model *m;
    const Plan *p;
    const Calibration *cal;   /* NULL: none (float or dynamic plans) */
    const BiasCorr *corr;     /* NULL or inactive: none */
    const char *vname;
} ExportJob;

static QsStatus export_variant_lookup(QuantState *qs, const char *vn, const Variant **v,
                                      QsError *err)
{
    *v = NULL;
    if (!vn || (*v = qstate_variant_get(qs, vn, err)))
        return QS_OK;
    return err->code;
}

/* Job j's bias corrections when they were made for its plan, else NULL. */
static const float *const *export_bias_corr(const ExportJob *j)
{
    return j->corr && biascorr_active(j->corr) && plan_equal(&j->corr->plan, j->p)
               ? (const float *const *)j->corr->v
               : NULL;
}

/* The QModel of job j (caller frees with qmodel_free). */
static QsStatus export_qmodel(const ExportJob *j, QModel **q, QsError *err)
{
    return qmodel_build_ex(j->m, j->p, j->cal, export_bias_corr(j), q, err);
}

/* Writes job j as PATH.qsm: the model with its plan as the only variant (none for a float
 * plan), marked current so that `load` runs it as exported (as `save variant=` does); the
 * model's own metadata is put back afterwards. */
static QsStatus export_qsm(const char *path, const ExportJob *j, QsError *err)
{
    Model *m = (Model *)j->m; /* metadata is swapped for the write and restored */
    char *json = NULL;
    if (!qstate_plan_is_float(j->p)) {
        QuantState one;
        qstate_init(&one, m->graph.n_nodes);
        Variant v = { .name = xstrdup(j->vname), .calibrated = j->cal != NULL,
                      .corr = biascorr_none() };
        plan_copy(&v.plan, j->p);
        if (j->cal)
            calib_copy(&v.calib, j->cal);
        if (j->corr)
            biascorr_copy(&v.corr, j->corr);
        one.variants = xmalloc(sizeof *one.variants);
        one.variants[0] = v;
        one.n_variants = 1;
        json = variants_to_json(m, &one, err);
        qstate_release(&one);
        if (!json)
            return err->code ? err->code : qs_fail(err, QS_EINVAL, "variant '%s' could not be "
                                                   "serialised", j->vname);
    }
    static const char *const keys[2] = { "variants", "current_variant" };
    const char *vals[2] = { json, json ? j->vname : NULL };
    QsStatus st = modelfile_save_meta(path, m, 2, keys, vals, err);
    free(json);
    return st;
}

/* Writes job j as PATH.onnx and names the layout. */
static QsStatus export_onnx(const char *path, const ExportJob *j, const char **layout,
                            QsError *err)
{
    *layout = "fp32";
    if (qstate_plan_is_float(j->p))
        return onnx_save(path, j->m, err);
    QModel *q;
    if (export_qmodel(j, &q, err))
        return err->code;
    QsStatus st = onnx_save_plan(path, q, err);
    qmodel_free(q);
    *layout = prec_onnx_name(plan_onnx_layout(j->p, NULL));
    return st;
}

/* Writes job j as PATH.tflite (io=, batch=) and names the layout ("tflite-int8"); the
 * io layout goes into the result. */
static QsStatus export_tflite(const char *path, const ExportJob *j, const CmdArgs *a,
                              const char **layout, Result *r, QsError *err)
{
    int io;
    long batch;
    if (arg_choice_of(a, "io", choice_tflite_io, TFLIO_FLOAT, &io, err) ||
        arg_int_range(a, "batch", 1, 1, 1L << 20, &batch, err))
        return err->code;
    QModel *q;
    if (export_qmodel(j, &q, err))
        return err->code;
    TfliteOpts o = { .io = (TflIo)io, .batch = batch, .bias_corr = export_bias_corr(j) };
    TfliteInfo info;
    QsStatus st = tflite_save_plan(path, q, &o, &info, err);
    qmodel_free(q);
    static const char *const names[] = { "tflite-fp32", "tflite-fp16", "tflite-dynamic",
                                         "tflite-int8" };
    *layout = names[strcmp(info.variant, "fp16") == 0      ? 1
                    : strcmp(info.variant, "dynamic") == 0 ? 2
                    : strcmp(info.variant, "int8") == 0    ? 3 : 0];
    if (!st) {
        result_str(r, "io", choice_tflite_io(io));
        result_int(r, "batch", batch);
        result_str(r, "io_layout", info.io_layout);
        result_int(r, "tflite_ops", info.n_ops);
    }
    return st;
}

/* Splits "a,b,c" into names (pointers into buf); returns the count or -1. */
static int export_split(const char *s, char *buf, size_t cap, const char **names, int max)
{
    if ((size_t)snprintf(buf, cap, "%s", s) >= cap)
        return -1;
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n >= max)
            return -1;
        names[n++] = tok;
    }
    return n;
}

/* ---- verification ---------------------------------------------------------------------- */

/* Loads `path` back and checks it against the source executor src on the first n samples
 * of split d (extract_verify). The loaded variant `vname` runs (NULL: the float model;
 * .onnx files are loaded back for float plans only). */
static QsStatus export_verify(App *app, const char *path, const char *vname,
                              const Extract *x, Executor *src, const Dataset *d, int64_t n,
                              ExtractVerify *res, QsError *err)
{
    Session *s = &app->session;
    const Graph *pg = &x->m->graph;
    memset(res, 0, sizeof *res);
    Model *lm = modelfile_load(path, err);
    if (!lm)
        return err->code;
    QuantState lq;
    qstate_init(&lq, lm->graph.n_nodes);
    QModel *q = NULL;
    FloatExec *fe = NULL;
    Executor lx;
    QsStatus st = QS_OK;
    const char *vj = model_meta_get(lm, "variants");
    const Variant *lv = NULL;
    if (vj && (st = variants_from_json(vj, lm, &lq, err)))
        goto done;
    if (vname && !(lv = qstate_variant_find(&lq, vname))) {
        st = qs_fail(err, QS_EFORMAT, "%s: the written file holds no variant '%s'", path, vname);
        goto done;
    }
    if (lm->graph.n_inputs != pg->n_inputs || lm->graph.n_outputs != pg->n_outputs) {
        st = qs_fail(err, QS_EFORMAT, "%s: loaded back with %d inputs and %d outputs, written "
                     "with %d and %d", path, lm->graph.n_inputs, lm->graph.n_outputs,
                     pg->n_inputs, pg->n_outputs);
        goto done;
    }
    if (lv) {
        ExportJob lj = { lm, &lv->plan, lv->calibrated ? &lv->calib : NULL, &lv->corr, vname };
        if ((st = export_qmodel(&lj, &q, err)))
            goto done;
        lx = qmodel_executor(q);
    } else {
        lx = exec_float_new(&lm->graph, &fe);
    }
    st = extract_verify(x, src, &lx, d, n, s->opt.batch > 0 ? s->opt.batch : 32, res, err);
done:
    qmodel_free(q);
    exec_float_free(fe);
    qstate_release(&lq);
    model_free(lm);
    return st;
}

/* ---- the command ----------------------------------------------------------------------- */

/* The export of cmd_export once the plan is known: variant v, or the plan `base` (a
 * precision row), or (both NULL) the current plan. */
static QsStatus export_run(App *app, const CmdArgs *a, const char *path, const char *vn,
                           const Variant *v, const Plan *base, Result *r, QsError *err)
{
    Session *s = &app->session;
    QuantState *qs = &s->q;
    const char *part = arg_str(a, "part", NULL), *ins_s = arg_str(a, "inputs", NULL),
               *outs_s = arg_str(a, "outputs", NULL);
    long verify_n;
    if (arg_int_range(a, "verify", 256, 0, 1L << 40, &verify_n, err))
        return err->code;
    bool qsm = fileio_has_suffix(path, ".qsm"), onnx = fileio_has_suffix(path, ".onnx");
    bool tflite = fileio_has_suffix(path, ".tflite");
    const Plan *p = v ? &v->plan : base ? base : &qs->plan;
    if (plan_needs_calibration(p) && !(v ? v->calibrated : qs->calibrated))
        return v ? qs_fail(err, QS_EINVAL, "variant '%s' has no calibration", vn)
                 : qs_fail(err, QS_EINVAL, "the plan runs int8-static: run 'calibrate' first");
    const Calibration *cal = v ? (v->calibrated ? &v->calib : NULL)
                               : (qs->calibrated ? &qs->calib : NULL);
    const BiasCorr *corr = v ? &v->corr : qstate_bias_corr_for(qs, p);
    const Model *src = v && v->model ? v->model : qstate_model(qs, s->model);
    ExportJob job = { src, p, plan_needs_calibration(p) ? cal : NULL, corr, vn ? vn : "current" };

    bool cut = part || ins_s;
    Extract x = { 0 };
    Plan pp = { 0 };
    Calibration pc = { 0 };
    BiasCorr pcorr = biascorr_none();
    QsStatus st = QS_OK;
    if (cut) {
        if (part) {
            st = extract_part(src, part, &x, err);
        } else {
            char bi[512], bo[512];
            const char *in[EXTRACT_MAX_IO], *out[EXTRACT_MAX_IO];
            int ni = export_split(ins_s, bi, sizeof bi, in, EXTRACT_MAX_IO);
            int no = export_split(outs_s, bo, sizeof bo, out, EXTRACT_MAX_IO);
            if (ni < 1 || no < 1)
                return qs_fail(err, QS_EINVAL, "inputs= and outputs= take 1 to %d value names "
                               "separated by commas", EXTRACT_MAX_IO);
            st = extract_model(src, ni, in, no, out, &x, err);
        }
        if (st)
            return st;
        if (part)
            model_meta_set(x.m, "part", part);
        extract_plan(&x, p, &pp);
        if (job.cal)
            extract_calib(&x, job.cal, &pc);
        if (corr)
            extract_bias_corr(&x, corr, &pcorr);
        job = (ExportJob){ x.m, &pp, job.cal ? &pc : NULL, &pcorr, job.vname };
    }
    const char *layout = "qsm";
    if (qsm)
        st = export_qsm(path, &job, err);
    else if (tflite)
        st = export_tflite(path, &job, a, &layout, r, err);
    else
        st = export_onnx(path, &job, &layout, err);
    ExtractVerify vr = { 0 };
    const Dataset *d = &s->splits[SPLIT_EVAL];
    bool verified = false;
    if (!st && cut && verify_n > 0) {
        if (!d->n_x) {
            snprintf(vr.note, sizeof vr.note, "no eval split to run it on");
        } else if (tflite) {
            snprintf(vr.note, sizeof vr.note, ".tflite files are checked against LiteRT "
                     "(tests/peers), not loaded back here");
        } else if (onnx && !qstate_plan_is_float(p)) {
            snprintf(vr.note, sizeof vr.note, "quantized ONNX files are checked against ONNX "
                     "Runtime (tests/onnx), not loaded back here");
        } else {
            Executor ex;
            FloatExec *owner = NULL;
            if (!(st = qstate_executor(qs, s->model, p, v && v->calibrated ? &v->calib : NULL,
                                       &ex, &owner, err))) {
                st = export_verify(app, path, qstate_plan_is_float(p) ? NULL : job.vname,
                                   &x, &ex, d, verify_n, &vr, err);
                verified = !st && !vr.note[0];
            }
            exec_float_free(owner);
        }
    }
    if (!st) {
        struct stat sb;
        result_str(r, "exported", path);
        if (part)
            result_str(r, "part", part);
        if (cut) {
            const Graph *pg = &x.m->graph;
            char io[512];
            size_t at = 0;
            for (int i = 0; i < pg->n_inputs && at < sizeof io; i++)
                at += (size_t)snprintf(io + at, sizeof io - at, "%s%s", i ? "," : "",
                                       pg->values[pg->inputs[i]].name);
            for (int i = 0; i < pg->n_outputs && at < sizeof io; i++)
                at += (size_t)snprintf(io + at, sizeof io - at, "%s%s", i ? "," : " -> ",
                                       pg->values[pg->outputs[i]].name);
            result_str(r, "cut", io);
            result_int(r, "layers", pg->n_nodes);
        }
        result_str(r, "variant", vn ? vn : "(current plan)");
        result_str(r, "plan", plan_label(job.p));
        result_str(r, "layout", qsm ? (qstate_plan_is_float(job.p) ? "qsm" : "qsm+variant")
                                    : layout);
        result_int(r, "bytes", stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1);
        if (cut && !qstate_plan_is_float(job.p)) {
            QModel *q;
            if (!export_qmodel(&job, &q, err)) {
                result_int(r, "deployed_bytes", qmodel_deployed_bytes(q));
                qmodel_free(q);
            }
        } else if (cut) {
            result_int(r, "deployed_bytes", (int64_t)graph_param_bytes(&job.m->graph));
        }
        if (cut && verify_n > 0) {
            result_int(r, "verified", vr.samples);
            if (verified)
                result_float(r, "max_abs_diff", vr.max_diff, RS_PLAIN);
            else
                result_str(r, "verify_note", vr.note);
        }
    }
    plan_release(&pp);
    calib_release(&pc);
    biascorr_release(&pcorr);
    extract_release(&x);
    return st;
}

QsStatus cmd_export(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    QuantState *qs = &s->q;
    const char *path = a->pos[0], *vn = arg_str(a, "variant", NULL);
    const char *part = arg_str(a, "part", NULL), *ins_s = arg_str(a, "inputs", NULL),
               *outs_s = arg_str(a, "outputs", NULL);
    bool tflite = fileio_has_suffix(path, ".tflite");
    if (!fileio_has_suffix(path, ".qsm") && !fileio_has_suffix(path, ".onnx") && !tflite)
        return qs_fail(err, QS_EINVAL, "%s: export writes PATH.onnx, PATH.qsm or PATH.tflite",
                       path);
    if (!tflite && (arg_str(a, "io", NULL) || arg_str(a, "batch", NULL)))
        return qs_fail(err, QS_EINVAL, "io= and batch= are options of .tflite exports");
    /* .tflite's variant names: dynamic is int8-dyn, int8 is int8-static */
    if (tflite && vn && !qstate_variant_find(qs, vn))
        vn = strcmp(vn, "dynamic") == 0 ? "int8-dyn" : strcmp(vn, "int8") == 0 ? "int8-static"
                                                                                 : vn;
    if (part && (ins_s || outs_s))
        return qs_fail(err, QS_EINVAL, "give part=NAME or inputs=.. outputs=.., not both");
    if (!part && (!ins_s) != (!outs_s))
        return qs_fail(err, QS_EINVAL, "a cut needs both inputs=A,B and outputs=C");
    const Variant *v = NULL;
    /* a precision name is the row of that name in compare and pick: the current options,
     * no pins, the session's calibration (so pick's winner can always be exported) */
    Plan base = { 0 };
    bool is_base = vn && !qstate_variant_find(qs, vn) && precision_find(vn) >= 0;
    if (is_base) {
        plan_copy(&base, &qs->plan);
        memset(base.pin, -1, (size_t)base.n_nodes);
        base.mode = (PrecKind)precision_find(vn);
    } else if (export_variant_lookup(qs, vn, &v, err)) {
        return err->code;
    }
    QsStatus st = export_run(app, a, path, vn, v, is_base ? &base : NULL, r, err);
    plan_release(&base);
    return st;
}
