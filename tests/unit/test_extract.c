/* Sub-model extraction (src/core/session/extract.c): a Deep Sets model cut into its encoder
 * (peers -> pool) and head (pool, ego -> logits). Recomposed, the two parts give exactly
 * the full model's outputs in fp32, fp16, int8-dyn and int8-static (with the plan and the
 * calibration carried over); their parameters partition the model's; bad cuts fail with a
 * message naming the value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/calib.h"
#include "run/exec.h"
#include "session/extract.h"
#include "qexec/qexec.h"
#include "base/rng.h"
#include "native/spec.h"
#include "test_util.h"

static const char *spec =
    "{\"inputs\": [{\"name\": \"peers\", \"shape\": [5, 6]}, {\"name\": \"ego\", \"shape\": [4]}],"
    " \"task\": \"policy\","
    " \"parts\": {\"encoder\": {\"inputs\": [\"peers\"], \"outputs\": [\"pool\"]},"
    "           \"head\": {\"inputs\": [\"pool\", \"ego\"], \"outputs\": [\"logits\"]}},"
    " \"layers\": ["
    "  {\"kind\": \"dense\", \"name\": \"enc1\", \"out\": 16, \"from\": \"peers\"},"
    "  {\"kind\": \"relu\"},"
    "  {\"kind\": \"dense\", \"name\": \"enc2\", \"out\": 8}, {\"kind\": \"relu\"},"
    "  {\"kind\": \"mean\", \"name\": \"pool\", \"axes\": [1]},"
    "  {\"kind\": \"concat\", \"name\": \"joint\", \"from\": [\"pool\", \"ego\"]},"
    "  {\"kind\": \"dense\", \"name\": \"h1\", \"out\": 16}, {\"kind\": \"relu\"},"
    "  {\"kind\": \"dense\", \"name\": \"logits\", \"out\": 5}]}";

enum { N = 64, P = 5 };

/* Random peers (some slots empty) and ego features. */
static void make_data(Dataset *d, uint64_t seed, QsError *err)
{
    memset(d, 0, sizeof *d);
    d->x[0] = tensor_new(DT_F32, shape_of(3, (int64_t)N, (int64_t)P, (int64_t)6), err);
    d->x[1] = tensor_new(DT_F32, shape_of(2, (int64_t)N, (int64_t)4), err);
    d->n_x = 2;
    Rng r;
    rng_seed(&r, seed);
    float *p = tensor_f32(d->x[0]), *e = tensor_f32(d->x[1]);
    for (int i = 0; i < N * P; i++) {
        bool present = rng_uniform(&r) < 0.7;
        for (int f = 0; f < 6; f++)
            p[i * 6 + f] = present ? (float)(2.0 * rng_uniform(&r) - 1.0) : 0.0f;
    }
    for (int i = 0; i < N * 4; i++)
        e[i] = (float)rng_uniform(&r);
}

/* Runs ex on the inputs and copies output 0 into a new tensor. */
static Tensor *run_copy(Executor *ex, const Tensor *const *in, QsError *err)
{
    const Tensor *out[1];
    if (ex->forward(ex->self, in, out, NULL, NULL, err))
        return NULL;
    return tensor_clone(out[0], err);
}

/* Full model vs encoder then head under plan mode `mode`. */
static void check_recomposed(const Model *m, const Extract *enc, const Extract *head,
                             const Dataset *d, PrecKind mode)
{
    QsError err = { 0 };
    char label[64];
    snprintf(label, sizeof label, "recomposed %s", precision_table[mode].name);
    Plan pf, pe, ph;
    plan_init(&pf, m->graph.n_nodes);
    pf.mode = mode;
    Calibration cf = { 0 }, ce = { 0 }, ch = { 0 };
    const bool need_cal = mode == PREC_INT8_STATIC;
    if (need_cal && !CHECK_OK(calib_run(&m->graph, d, 0, 16, 0.01, NULL, &cf, &err), &err))
        return;
    extract_plan(enc, &pf, &pe);
    extract_plan(head, &pf, &ph);
    if (need_cal) {
        extract_calib(enc, &cf, &ce);
        extract_calib(head, &cf, &ch);
    }
    QModel *qf = NULL, *qe = NULL, *qh = NULL;
    Tensor *full = NULL, *pool = NULL, *rec = NULL;
    if (!CHECK_OK(qmodel_build(m, &pf, need_cal ? &cf : NULL, &qf, &err), &err) ||
        !CHECK_OK(qmodel_build(enc->m, &pe, need_cal ? &ce : NULL, &qe, &err), &err) ||
        !CHECK_OK(qmodel_build(head->m, &ph, need_cal ? &ch : NULL, &qh, &err), &err))
        goto done;
    Executor xf = qmodel_executor(qf), xe = qmodel_executor(qe), xh = qmodel_executor(qh);
    const Tensor *in_full[2] = { d->x[0], d->x[1] }, *in_enc[1] = { d->x[0] };
    full = run_copy(&xf, in_full, &err);
    pool = full ? run_copy(&xe, in_enc, &err) : NULL;
    const Tensor *in_head[2] = { pool, d->x[1] };
    rec = pool ? run_copy(&xh, in_head, &err) : NULL;
    if (CHECK_OK(rec ? QS_OK : err.code, &err)) {
        CHECK(rec->shape.dim[0] == N && rec->shape.dim[1] == 5);
        expect_close(label, tensor_f32(rec), tensor_f32(full), (size_t)N * 5, 0, 0);
    }
    if (mode == PREC_INT8_STATIC && full) {
        /* the integer kernels on the per-peer Dense over (N, 5, 6), the float-fallback
         * ReduceMean and the int8 Concat agree with the plan's fake-quant twin within one
         * step of the logits (docs/quantization.md) */
        Executor fk = qmodel_fake_executor(qf);
        Tensor *fake = run_copy(&fk, in_full, &err);
        const QLayerInfo *li = qmodel_layer(qf, graph_find_node(&m->graph, "logits"));
        if (CHECK_OK(fake ? QS_OK : err.code, &err) && CHECK(li && li->has_act))
            expect_close("int8 vs fake-quant", tensor_f32(full), tensor_f32(fake),
                         (size_t)N * 5, li->act.scale * 1.0001, 0);
        tensor_free(fake);
    }
    /* the parts' deployed bytes add up to the model's: every weight is in exactly one */
    CHECK(qmodel_deployed_bytes(qe) + qmodel_deployed_bytes(qh) == qmodel_deployed_bytes(qf));
done:
    tensor_free(full);
    tensor_free(pool);
    tensor_free(rec);
    qmodel_free(qf);
    qmodel_free(qe);
    qmodel_free(qh);
    plan_release(&pf);
    plan_release(&pe);
    plan_release(&ph);
    calib_release(&cf);
    calib_release(&ce);
    calib_release(&ch);
}

static void test_encoder_head(void)
{
    QsError err = { 0 };
    Model *m = spec_parse(spec, "deepsets", 3, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    Extract enc, head;
    if (!CHECK_OK(extract_part(m, "encoder", &enc, &err), &err)) {
        model_free(m);
        return;
    }
    if (!CHECK_OK(extract_part(m, "head", &head, &err), &err)) {
        extract_release(&enc);
        model_free(m);
        return;
    }
    const Graph *ge = &enc.m->graph, *gh = &head.m->graph;
    /* encoder: enc1, relu, enc2, relu, pool; head: joint, h1, relu, logits */
    CHECK(ge->n_nodes == 5 && gh->n_nodes == 4);
    CHECK(ge->n_inputs == 1 && gh->n_inputs == 2 && ge->n_outputs == 1 && gh->n_outputs == 1);
    const Value *pin = &gh->values[gh->inputs[0]];
    CHECK(strcmp(pin->name, "pool") == 0 && pin->kind == VAL_INPUT && pin->shape.ndim == 2 &&
          pin->shape.dim[1] == 8);
    CHECK(strcmp(ge->values[ge->outputs[0]].name, "pool") == 0);
    /* weights copied bit for bit, and their names kept */
    int vs = graph_find_value(&m->graph, "h1.weight"), vh = graph_find_value(gh, "h1.weight");
    CHECK(vs >= 0 && vh >= 0 && gh->values[vh].is_param &&
          memcmp(m->graph.values[vs].data->data, gh->values[vh].data->data,
                 tensor_bytes(gh->values[vh].data)) == 0);
    CHECK(graph_param_count(ge) + graph_param_count(gh) == graph_param_count(&m->graph));
    CHECK(graph_find_value(ge, "h1.weight") < 0);
    /* maps: node and value of the source */
    int hn = graph_find_node(gh, "h1");
    CHECK(hn >= 0 && head.node_from[hn] == graph_find_node(&m->graph, "h1"));
    CHECK(head.value_from[gh->inputs[0]] == graph_find_value(&m->graph, "pool"));
    /* metadata: the head computes the model's outputs, so it is still a policy */
    CHECK(model_meta_get(head.m, "task") && !model_meta_get(enc.m, "task"));
    CHECK(!model_meta_get(head.m, "parts"));

    Dataset d;
    make_data(&d, 5, &err);
    for (int k = 0; k < PREC_COUNT; k++)
        check_recomposed(m, &enc, &head, &d, (PrecKind)k);

    /* a pin follows its node */
    Plan p, ph;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_DYN;
    p.pin[graph_find_node(&m->graph, "h1")] = PREC_FP16;
    extract_plan(&head, &p, &ph);
    CHECK(ph.mode == PREC_INT8_DYN && ph.pin[hn] == PREC_FP16 &&
          ph.pin[graph_find_node(gh, "logits")] == -1);
    plan_release(&p);
    plan_release(&ph);

    dataset_release(&d);
    extract_release(&enc);
    extract_release(&head);
    model_free(m);
}

static void test_bad_cuts(void)
{
    QsError err = { 0 };
    Model *m = spec_parse(spec, "deepsets", 3, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    static const struct {
        const char *in[3], *out[2];
        QsStatus code;
        const char *needle;
    } cases[] = {
        { { "peers" }, { "nope" }, QS_ENOTFOUND, "output 'nope': the model has no such value" },
        { { "enc1.weight" }, { "pool" }, QS_EINVAL, "input 'enc1.weight' is a constant" },
        { { "pool" }, { "logits" }, QS_EINVAL, "need graph input 'ego'" },
        { { "peers", "ego" }, { "pool" }, QS_EINVAL, "input 'ego' is not needed" },
        { { "peers", "peers" }, { "pool" }, QS_EINVAL, "input 'peers' is listed twice" },
        { { "peers" }, { "peers" }, QS_EINVAL, "'peers' is both an input and an output" },
        /* the encoder's layers are not computed from the head's inputs */
        { { "pool", "ego" }, { "enc1" }, QS_EINVAL, "need graph input 'peers'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ni = 0, no = 0;
        while (ni < 3 && cases[i].in[ni])
            ni++;
        while (no < 2 && cases[i].out[no])
            no++;
        Extract x;
        QsStatus st = extract_model(m, ni, cases[i].in, no, cases[i].out, &x, &err);
        expect_error(cases[i].needle, st, &err, cases[i].code, cases[i].needle);
        CHECK(x.m == NULL);
    }
    /* a cut after the first relu works: the second dense reads it as its input */
    const char *in[2] = { "relu2", "ego" }, *out[1] = { "logits" };
    Extract x;
    if (CHECK_OK(extract_model(m, 2, in, 1, out, &x, &err), &err)) {
        CHECK(x.m->graph.n_nodes == 7);
        extract_release(&x);
    }
    Extract y;
    expect_error("unknown part", extract_part(m, "tail", &y, &err), &err, QS_ENOTFOUND,
                 "no part 'tail' (parts: encoder, head)");
    model_meta_set(m, "parts", "a=peers");
    ExtractPart parts[4];
    CHECK(extract_parts(m, parts, 4, &err) == -1);
    expect_error("bad parts", err.code, &err, QS_EFORMAT, "cannot read 'a=peers'");
    model_meta_set(m, "parts", "a=peers>pool;b=pool,ego>logits");
    CHECK(extract_parts(m, parts, 4, &err) == 2);
    CHECK(parts[1].n_in == 2 && strcmp(parts[1].in[1], "ego") == 0 &&
          strcmp(parts[1].out[0], "logits") == 0);
    model_meta_remove(m, "parts");
    CHECK(extract_parts(m, parts, 4, &err) == 0);
    model_free(m);
}

int main(void)
{
    test_encoder_head();
    test_bad_cuts();
    return test_summary("extract");
}
