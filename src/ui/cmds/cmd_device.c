/* device: a device profile of the current plan (core/device/profile.h); without target=,
 * the table of targets. docs/devices.md gives every rule and figure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_device.h"
#include "cmds/cmd_handlers.h"
#include "qexec/qexec.h"
#include "quant/target.h"
#include "tflite/tflite_export.h"
#include "session/extract.h"

const char *choice_device_target(int i)
{
    return i >= 0 && i < DEVICE_TARGET_COUNT ? device_targets[i].name : NULL;
}

const char *choice_device_io(int i)
{
    static const char *const names[] = { "float", "int8" };
    return i >= 0 && i < 2 ? names[i] : NULL;
}

QsStatus device_target_arg(const CmdArgs *a, const DeviceTarget **t, bool *io_int8,
                           QsError *err)
{
    *t = NULL;
    *io_int8 = false;
    int k, io;
    if (arg_has(a, "target")) {
        if (arg_choice_of(a, "target", choice_device_target, 0, &k, err))
            return err->code;
        *t = &device_targets[k];
    }
    if (arg_choice_of(a, "io", choice_device_io, 0, &io, err))
        return err->code;
    if (arg_has(a, "io") && !*t)
        return qs_fail(err, QS_EINVAL, "io= goes with target=");
    *io_int8 = io == 1;
    return QS_OK;
}

QsStatus device_file_bytes(void *ctx, const Model *m, const Plan *p, const Calibration *cal,
                           int64_t *bytes, const char **kind, QsError *err)
{
    (void)ctx;
    QModel *q;
    if (qmodel_build(m, p, cal, &q, err))
        return err->code;
    /* the file the device would get: the .tflite written in memory (float IO, batch 1;
     * int8 IO differs by its two edge conversions' tensors) */
    TfliteOpts o = { .io = TFLIO_FLOAT, .batch = 1 };
    void *buf = NULL;
    size_t len = 0;
    QsError terr = { 0 };
    if (!tflite_serialize_plan(q, &o, &buf, &len, NULL, &terr)) {
        *bytes = (int64_t)len;
        *kind = "tflite";
    } else { /* a plan TFLite cannot hold (an op it lacks): its weights, said so */
        *bytes = qmodel_deployed_bytes(q);
        *kind = "weights (no .tflite: see export)";
    }
    free(buf);
    qmodel_free(q);
    return QS_OK;
}

/* The size field, or why there is none (an int8-static plan before calibrate). */
static QsStatus size_fields(const Model *m, const Plan *p, const Calibration *cal,
                            const char *suffix, Result *r, QsError *err)
{
    char key[64];
    if (plan_needs_calibration(p) && !cal) {
        snprintf(key, sizeof key, "size_note%s", suffix);
        result_str(r, key, "needs calibrate");
        return QS_OK;
    }
    int64_t bytes;
    const char *kind;
    if (device_file_bytes(NULL, m, p, cal, &bytes, &kind, err))
        return err->code;
    snprintf(key, sizeof key, "size_bytes%s", suffix);
    result_int(r, key, bytes);
    snprintf(key, sizeof key, "size_kind%s", suffix);
    result_str(r, key, kind);
    return QS_OK;
}

QsStatus device_bench_fields(const Model *m, const Plan *p, const Calibration *cal,
                             const DeviceTarget *t, bool io_int8, const char *suffix,
                             Result *r, double *est_ms, int64_t *arena, QsError *err)
{
    DeviceProfile pr;
    if (device_profile(m, p, t, io_int8, &pr, err))
        return err->code;
    char key[64];
    const char *sfx = suffix ? suffix : "";
    if (!suffix)
        result_str(r, "profile", t->name);
    snprintf(key, sizeof key, "est_ms%s", sfx);
    result_float(r, key, pr.est_ms, RS_PLAIN);
    snprintf(key, sizeof key, "arena_bytes%s", sfx);
    result_int(r, key, pr.arena_bytes);
    *est_ms = pr.est_ms;
    *arena = pr.arena_bytes;
    device_profile_release(&pr);
    return size_fields(m, p, cal, sfx, r, err);
}

static void device_list(Result *r)
{
    static const char *const cols[] = { "profile", "device", "runtime", "arithmetic", "cpu",
                                        "clock_mhz", NULL };
    RTable *t = result_table(r, "targets", cols);
    for (int i = 0; i < DEVICE_TARGET_COUNT; i++) {
        const DeviceTarget *d = &device_targets[i];
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, d->name);
        rtable_str(t, row, 1, d->device);
        rtable_str(t, row, 2, d->runtime_name);
        rtable_str(t, row, 3, d->arithmetic);
        rtable_str(t, row, 4, d->cost->cpu);
        rtable_float(t, row, 5, d->cost->clock_hz / 1e6, RS_PLAIN);
    }
}

/* Per op: what it is, what it counts, whether the runtime runs it, and its estimate. */
static void ops_table(const DeviceProfile *pr, const Model *m, Result *r)
{
    static const char *const cols[] = { "index", "op", "layer", "type", "macs", "elems",
                                        "runs_on", "supported", "note", "est_cycles",
                                        "est_ms", NULL };
    RTable *t = result_table(r, "ops", cols);
    bool tpu = pr->target->runtime == DEV_RUNTIME_EDGETPU;
    for (int i = 0; i < pr->g.n_ops; i++) {
        const DevOp *op = &pr->g.ops[i];
        const DeviceOpCost *c = &pr->cost[i];
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, i);
        rtable_str(t, row, 1, op->builtin);
        rtable_str(t, row, 2, op->node >= 0 ? m->graph.nodes[op->node].name
                                            : op->edge ? "(io)" : "(border)");
        rtable_str(t, row, 3, devgraph_type_name(op->type));
        rtable_int(t, row, 4, op->macs);
        rtable_int(t, row, 5, op->elems);
        rtable_str(t, row, 6, !tpu ? pr->target->name : c->on_host ? "cpu" : "tpu");
        rtable_bool(t, row, 7, c->supported);
        rtable_str(t, row, 8, c->why ? c->why : "");
        rtable_float(t, row, 9, c->cycles, RS_PLAIN);
        rtable_float(t, row, 10, c->ms, RS_PLAIN);
    }
}

/* Per planned tensor: its bytes, live steps and arena offset. */
static void arena_table(const DeviceProfile *pr, const Model *m, Result *r)
{
    static const char *const cols[] = { "tensor", "type", "shape", "bytes", "first", "last",
                                        "offset", NULL };
    RTable *t = result_table(r, "arena", cols);
    for (int k = 0; k < pr->g.n_tensors; k++) {
        const DevTensor *d = &pr->g.tensors[k];
        int row = rtable_add_row(t);
        char shape[96];
        rtable_str(t, row, 0, d->value >= 0 ? m->graph.values[d->value].name : "(internal)");
        rtable_str(t, row, 1, devgraph_type_name(d->type));
        rtable_str(t, row, 2, shape_format(&d->shape, shape, sizeof shape));
        rtable_int(t, row, 3, pr->buf[k].size);
        rtable_int(t, row, 4, pr->buf[k].first);
        rtable_int(t, row, 5, pr->buf[k].last);
        rtable_int(t, row, 6, pr->buf[k].offset);
    }
}

static void profile_fields(const DeviceProfile *pr, const Model *m, Result *r)
{
    const DeviceTarget *t = pr->target;
    bool tpu = t->runtime == DEV_RUNTIME_EDGETPU;
    char list[1024];
    result_int(r, "arena_bytes", pr->arena_bytes);
    result_int(r, "tensor_bytes", pr->tensor_bytes);
    result_int(r, "arena_tensors", pr->g.n_tensors);
    if (pr->largest >= 0) {
        int v = pr->g.tensors[pr->largest].value;
        result_str(r, "largest_tensor", v >= 0 ? m->graph.values[v].name : "(internal)");
    }
    result_int(r, "n_ops", pr->g.n_ops);
    result_int(r, "unsupported", pr->n_unsupported);
    device_unsupported_list(pr, m, list, sizeof list);
    result_str(r, "unsupported_ops", list[0] ? list : "none");
    result_bool(r, "runs", tpu || pr->n_unsupported == 0);
    if (tpu) {
        result_bool(r, "full_integer", pr->full_integer);
        result_bool(r, "static_shapes", true); /* the export writes batch 1, no -1 dims */
        result_bool(r, "rank_ok", pr->rank_ok);
        result_int(r, "tpu_ops", pr->first_host_op < 0 ? pr->g.n_ops : pr->first_host_op);
        result_int(r, "cpu_ops", pr->n_unsupported);
    }
    result_int(r, "macs", pr->macs);
    result_float(r, "est_ms", pr->est_ms, RS_MS);
    if (tpu)
        result_float(r, "est_ms_cpu", pr->est_ms_host, RS_MS);
    result_str(r, "estimate", "an estimate from per-op counts and the cost table "
                              "(docs/devices.md), not a measurement");
    result_str(r, "cpu", t->cost->cpu);
    result_float(r, "clock_mhz", t->cost->clock_hz / 1e6, RS_PLAIN);
    result_str(r, "cost_source", t->cost_source);
}

/* The profile of plan p on m as the result: fields, the ops and the arena tables. */
static QsStatus device_report(const Model *m, const Plan *p, const Calibration *cal,
                              const DeviceTarget *t, bool io_int8, Result *r, QsError *err)
{
    DeviceProfile pr;
    if (device_profile(m, p, t, io_int8, &pr, err))
        return err->code;
    result_str(r, "profile", t->name);
    result_str(r, "device", t->device);
    result_str(r, "runtime", t->runtime_name);
    result_str(r, "arithmetic", t->arithmetic);
    result_str(r, "arithmetic_note", t->arithmetic_note);
    result_str(r, "plan", plan_label(p));
    /* integers computed here with another runtime's rounding would not be the device's */
    const char *plan_target = target_of(p->q.target)->name;
    if (plan_needs_calibration(p) && strcmp(t->arithmetic, "unknown") != 0 &&
        strcmp(plan_target, t->arithmetic) != 0) {
        char w[200];
        snprintf(w, sizeof w, "the plan computes with %s's integer arithmetic; %s runs %s's "
                 "(quant target=%s)", plan_target, t->name, t->arithmetic, t->arithmetic);
        result_str(r, "warning", w);
    }
    result_str(r, "io", io_int8 ? "int8" : "float");
    result_int(r, "batch", 1);
    QsStatus st = size_fields(m, p, cal, "", r, err);
    if (!st) {
        profile_fields(&pr, m, r);
        ops_table(&pr, m, r);
        arena_table(&pr, m, r);
    }
    device_profile_release(&pr);
    return st;
}

/* One part (the model's metadata "parts", deployed as a file of its own): the plan and the
 * calibration carried over as export part= carries them (session/extract.h). */
static QsStatus device_part(const Model *m, const Plan *p, const Calibration *cal,
                            const char *name, const DeviceTarget *t, bool io_int8, Result *r,
                            QsError *err)
{
    Extract x;
    if (extract_part(m, name, &x, err))
        return err->code;
    Plan pp;
    extract_plan(&x, p, &pp);
    Calibration pc = { 0 };
    if (cal)
        extract_calib(&x, cal, &pc);
    result_str(r, "part", name);
    QsStatus st = device_report(x.m, &pp, cal ? &pc : NULL, t, io_int8, r, err);
    calib_release(&pc);
    plan_release(&pp);
    extract_release(&x);
    return st;
}

QsStatus cmd_device(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const DeviceTarget *t;
    bool io_int8;
    if (device_target_arg(a, &t, &io_int8, err))
        return err->code;
    if (!t) {
        if (arg_has(a, "variant") || arg_has(a, "part"))
            return qs_fail(err, QS_EINVAL, "device: variant= and part= go with target=");
        device_list(r);
        return QS_OK;
    }
    const QuantState *qs = &s->q;
    const Plan *p = &qs->plan;
    const Model *m = qstate_model(qs, s->model);
    const Calibration *cal = qs->calibrated ? &qs->calib : NULL;
    const char *vn = arg_str(a, "variant", NULL);
    if (vn) {
        const Variant *v = qstate_variant_get(qs, vn, err);
        if (!v)
            return err->code;
        p = &v->plan;
        m = v->model ? v->model : s->model;
        cal = v->calibrated ? &v->calib : NULL;
        result_str(r, "variant", vn);
    }
    const char *part = arg_str(a, "part", NULL);
    if (part)
        return device_part(m, p, cal, part, t, io_int8, r, err);
    return device_report(m, p, cal, t, io_int8, r, err);
}
