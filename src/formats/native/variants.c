#include "native/variants.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/observer.h"
#include "quant/target.h"
#include "ops/op.h"

void plan_json_fill(cJSON *o, const Graph *g, const Plan *p, const char *observer_key)
{
    cJSON_AddStringToObject(o, "mode", precision_table[p->mode].name);
    cJSON_AddStringToObject(o, "wgran", p->q.wgran_tensor ? "tensor" : "channel");
    cJSON_AddStringToObject(o, observer_key, observer_table[p->q.observer].name);
    cJSON_AddNumberToObject(o, "pct", p->q.pct);
    cJSON_AddNumberToObject(o, "bits", p->q.bits);
    cJSON_AddBoolToObject(o, "asym", !p->q.act_symmetric);
    /* absent in files written before targets existed: qscope */
    if (p->q.target != QTGT_QSCOPE)
        cJSON_AddStringToObject(o, "target", target_table[p->q.target].name);
    cJSON *pins = cJSON_AddObjectToObject(o, "pins");
    for (int k = 0; k < p->n_nodes; k++)
        if (p->pin[k] >= 0)
            cJSON_AddStringToObject(pins, g->nodes[k].name, precision_table[p->pin[k]].name);
    /* per-layer weight granularities (absent in files written before they existed) */
    cJSON *wpins = NULL;
    for (int k = 0; k < p->n_nodes; k++)
        if (p->wgran[k] >= 0) {
            if (!wpins)
                wpins = cJSON_AddObjectToObject(o, "wgran_pins");
            cJSON_AddStringToObject(wpins, g->nodes[k].name, quant_wgran_names[p->wgran[k]]);
        }
}

cJSON *bias_corr_json(const Graph *g, const BiasCorr *c)
{
    /* per layer, the correction added to each output channel's bias */
    cJSON *bc = cJSON_CreateObject();
    for (int k = 0; k < c->n_nodes && k < g->n_nodes; k++) {
        if (!c->v[k])
            continue;
        cJSON *vals = cJSON_CreateArray();
        for (int64_t i = 0; i < c->len[k]; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.9g", c->v[k][i]);
            cJSON_AddItemToArray(vals, cJSON_CreateRaw(buf));
        }
        cJSON_AddItemToObject(bc, g->nodes[k].name, vals);
    }
    return bc;
}

/* v as a JSON object, its ranges and bias correction named after m's values and layers. */
static cJSON *variant_object(const Graph *g, const Variant *v)
{
    const Plan *p = &v->plan;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    plan_json_fill(o, g, p, "observer_was");
    if (v->calibrated) {
        cJSON *ranges = cJSON_AddObjectToObject(o, "ranges");
        ObserverOpts oo = { .pct = p->q.pct, .bits = p->q.bits, .symmetric = p->q.act_symmetric };
        for (int k = 0; k < v->calib.n_values && k < g->n_values; k++) {
            const ActStats *st = &v->calib.stats[k];
            float lo, hi;
            if (st->count == 0 || observer_table[p->q.observer].range(st, &oo, &lo, &hi, NULL))
                continue;
            /* floats as exact decimal text: %.9g round-trips a float32 */
            char buf[2][32];
            snprintf(buf[0], sizeof buf[0], "%.9g", lo);
            snprintf(buf[1], sizeof buf[1], "%.9g", hi);
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateRaw(buf[0]));
            cJSON_AddItemToArray(pair, cJSON_CreateRaw(buf[1]));
            cJSON_AddItemToObject(ranges, g->values[k].name, pair);
        }
    }
    if (biascorr_active(&v->corr))
        cJSON_AddItemToObject(o, "bias_corr", bias_corr_json(g, &v->corr));
    return o;
}

static char *print_array(cJSON *arr, QsError *err)
{
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!s)
        qs_fail(err, QS_ENOMEM, "cannot serialise the variants");
    char *out = s ? xstrdup(s) : NULL;
    cJSON_free(s);
    return out;
}

char *variants_to_json(const Model *m, const QuantState *qs, QsError *err)
{
    if (qs->n_variants == 0)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < qs->n_variants; i++)
        if (!qs->variants[i].model) /* its own weights (QAT) are not the file's */
            cJSON_AddItemToArray(arr, variant_object(&m->graph, &qs->variants[i]));
    return print_array(arr, err);
}

char *variants_one_to_json(const Model *m, const Variant *v, QsError *err)
{
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, variant_object(&m->graph, v));
    return print_array(arr, err);
}

static QsStatus bad(QsError *err, int i, const char *what)
{
    return qs_fail(err, QS_EFORMAT, "variants[%d]: %s", i, what);
}

QsStatus bias_corr_from_json(const cJSON *bc, const char *where, const Graph *g,
                             const Plan *p, BiasCorr *out, QsError *err)
{
    BiasCorr c = biascorr_none();
    c.n_nodes = g->n_nodes;
    c.v = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *c.v);
    c.len = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *c.len);
    plan_copy(&c.plan, p);
    c.gen = biascorr_next_gen();
    snprintf(c.split, sizeof c.split, "file");
    QsStatus st = QS_OK;
    for (const cJSON *it = bc->child; it && !st; it = it->next) {
        int node = graph_find_node(g, it->string);
        const Shape *s = node >= 0 ? &g->values[g->nodes[node].out].shape : NULL;
        int64_t oc = !s ? 0 : g->nodes[node].op == OP_CONV && s->ndim > 1 ? s->dim[1]
                                                                          : s->dim[s->ndim - 1];
        if (node < 0 || !cJSON_IsArray(it) || cJSON_GetArraySize(it) != oc || c.v[node]) {
            st = qs_fail(err, QS_EFORMAT, "%s: bias_corr of '%s' is not one value "
                         "per output channel of a layer", where, it->string);
            break;
        }
        c.v[node] = xmalloc((size_t)(oc ? oc : 1) * sizeof(float));
        c.len[node] = oc;
        int64_t k = 0;
        for (const cJSON *e = it->child; e; e = e->next, k++) {
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
                st = qs_fail(err, QS_EFORMAT, "%s: bias_corr of '%s'[%lld] is not a "
                             "finite number", where, it->string, (long long)k);
                break;
            }
            c.v[node][k] = (float)e->valuedouble;
        }
    }
    if (st) {
        biascorr_release(&c);
        return st;
    }
    *out = c;
    return QS_OK;
}

QsStatus plan_from_json(const cJSON *o, const char *where, const Graph *g, Plan *out,
                        QsError *err)
{
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
    const cJSON *wgran = cJSON_GetObjectItemCaseSensitive(o, "wgran");
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(o, "pct");
    const cJSON *bits = cJSON_GetObjectItemCaseSensitive(o, "bits");
    const cJSON *asym = cJSON_GetObjectItemCaseSensitive(o, "asym");
    const cJSON *pins = cJSON_GetObjectItemCaseSensitive(o, "pins");
    const cJSON *wpins = cJSON_GetObjectItemCaseSensitive(o, "wgran_pins");
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(o, "target");
    const char *why = NULL;
    if (target && (!cJSON_IsString(target) || target_find(target->valuestring) < 0))
        why = "'target' must name a target";
    else if (!cJSON_IsString(mode) || precision_find(mode->valuestring) < 0)
        why = "'mode' must name a precision";
    else if (!cJSON_IsString(wgran) ||
             (strcmp(wgran->valuestring, "channel") && strcmp(wgran->valuestring, "tensor")))
        why = "'wgran' must be channel or tensor";
    else if (!cJSON_IsNumber(pct) || !(pct->valuedouble > 50 && pct->valuedouble <= 100))
        why = "'pct' must be in (50, 100]";
    else if (!cJSON_IsNumber(bits) || bits->valuedouble < 2 || bits->valuedouble > 8 ||
             bits->valuedouble != floor(bits->valuedouble))
        why = "'bits' must be an integer from 2 to 8";
    else if (!cJSON_IsBool(asym))
        why = "'asym' must be a boolean";
    else if ((pins && !cJSON_IsObject(pins)) || (wpins && !cJSON_IsObject(wpins)))
        why = "'pins' and 'wgran_pins' must be objects";
    if (why)
        return qs_fail(err, QS_EFORMAT, "%s: %s", where, why);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = (PrecKind)precision_find(mode->valuestring);
    p.q.wgran_tensor = strcmp(wgran->valuestring, "tensor") == 0;
    p.q.observer = OBS_MINMAX;
    p.q.pct = pct->valuedouble;
    p.q.bits = (int)bits->valuedouble;
    p.q.act_symmetric = !cJSON_IsTrue(asym);
    p.q.target = target ? target_find(target->valuestring) : QTGT_QSCOPE;
    QsStatus st = QS_OK;
    for (const cJSON *it = pins ? pins->child : NULL; it && !st; it = it->next) {
        int node = graph_find_node(g, it->string);
        int prec = cJSON_IsString(it) ? precision_find(it->valuestring) : -1;
        if (node < 0 || prec < 0)
            st = qs_fail(err, QS_EFORMAT, "%s: pin '%s' names no layer or precision", where,
                         it->string);
        else
            p.pin[node] = (int8_t)prec;
    }
    for (const cJSON *it = wpins ? wpins->child : NULL; it && !st; it = it->next) {
        int node = graph_find_node(g, it->string);
        const char *v = cJSON_IsString(it) ? it->valuestring : "";
        int gran = !strcmp(v, "channel") ? 0 : !strcmp(v, "tensor") ? 1 : -1;
        if (node < 0 || gran < 0)
            st = qs_fail(err, QS_EFORMAT, "%s: wgran pin '%s' names no layer or "
                         "granularity (channel, tensor)", where, it->string);
        else
            p.wgran[node] = (int8_t)gran;
    }
    if (st)
        plan_release(&p);
    else
        *out = p;
    return st;
}

static QsStatus parse_variant(const cJSON *o, int i, const Model *m, QuantState *qs,
                              QsError *err)
{
    const Graph *g = &m->graph;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(o, "ranges");
    const cJSON *bias_corr = cJSON_GetObjectItemCaseSensitive(o, "bias_corr");
    if (!cJSON_IsString(name) || !name->valuestring[0])
        return bad(err, i, "'name' must be a non-empty string");
    if ((ranges && !cJSON_IsObject(ranges)) || (bias_corr && !cJSON_IsObject(bias_corr)))
        return bad(err, i, "'ranges' and 'bias_corr' must be objects");
    char where[32];
    snprintf(where, sizeof where, "variants[%d]", i);
    Plan p;
    QsStatus st = plan_from_json(o, where, g, &p, err);
    if (st)
        return st;
    Calibration cal = { 0 };
    bool calibrated = ranges != NULL;
    if (!st && calibrated) {
        cal.n_values = g->n_values;
        cal.stats = xmalloc((size_t)g->n_values * sizeof *cal.stats);
        for (int k = 0; k < g->n_values; k++)
            act_stats_init(&cal.stats[k]);
        for (const cJSON *it = ranges->child; it && !st; it = it->next) {
            int v = graph_find_value(g, it->string);
            const cJSON *lo = cJSON_GetArrayItem(it, 0), *hi = cJSON_GetArrayItem(it, 1);
            if (v < 0 || cJSON_GetArraySize(it) != 2 || !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) ||
                !(lo->valuedouble <= hi->valuedouble) || !isfinite(lo->valuedouble) ||
                !isfinite(hi->valuedouble)) {
                st = qs_fail(err, QS_EFORMAT, "variants[%d]: range of '%s' is not [lo, hi] of a "
                             "known value", i, it->string);
                break;
            }
            /* Min-max over a two-value "sample" gives back exactly these bounds. */
            float two[2] = { (float)lo->valuedouble, (float)hi->valuedouble };
            act_stats_observe(&cal.stats[v], two, 2, 0.01);
        }
    }
    BiasCorr corr = biascorr_none();
    if (!st && bias_corr)
        st = bias_corr_from_json(bias_corr, where, g, &p, &corr, err);
    if (!st) {
        /* save through the current-calibration (and -correction) slots: swap ours in, save,
         * swap back */
        Calibration keep = qs->calib;
        bool keep_cal = qs->calibrated;
        BiasCorr keep_corr = qs->corr;
        qs->calib = cal;
        qs->calibrated = calibrated;
        qs->corr = corr;
        qstate_variant_save(qs, name->valuestring, &p);
        qs->calib = keep;
        qs->calibrated = keep_cal;
        qs->corr = keep_corr;
    }
    biascorr_release(&corr);
    if (calibrated)
        calib_release(&cal);
    plan_release(&p);
    return st;
}

QsStatus variants_from_json(const char *json, const Model *m, QuantState *qs, QsError *err)
{
    cJSON *arr = cJSON_Parse(json);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return qs_fail(err, QS_EFORMAT, "variants: expected a JSON array");
    }
    QsStatus st = QS_OK;
    int i = 0;
    for (const cJSON *o = arr->child; o && !st; o = o->next, i++)
        st = cJSON_IsObject(o) ? parse_variant(o, i, m, qs, err) : bad(err, i, "not an object");
    cJSON_Delete(arr);
    return st;
}
