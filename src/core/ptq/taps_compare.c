/* taps_compare: a dump's layers against qscope's run and its reruns (taps.h). */
#include "ptq/taps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qexec/qexec_rerun.h"
#include "ops/op.h"
#include "qexec/qexec_view.h"

const char *const tap_class_names[TAPC_COUNT] = { "identical", "propagated", "ties",
                                                  "float", "divergence", "missing" };

typedef struct Cmp {
    QModel *q;
    const Graph *g;
    const TapSet *mine;
    const TapFile *file;
    int *file_of;            /* [n_values] file array naming the value, -1 */
    Tensor **conv;           /* [n_values] the file's array in mine's dtype and shape */
    char (*why)[160];        /* [n_values] why a named array could not be used */
} Cmp;

/* The file's array of value v as mine holds it (codes or float), or why not. */
static Tensor *cmp_convert(Cmp *c, int v, const Tensor *ft, const Tensor *mt, char *why,
                           size_t cap)
{
    int64_t s = c->mine->samples, per = tensor_numel(mt) / (s ? s : 1);
    if (ft->shape.ndim < 1 || ft->shape.dim[0] < s) {
        snprintf(why, cap, "has %lld samples, %lld compared",
                 (long long)(ft->shape.ndim ? ft->shape.dim[0] : 0), (long long)s);
        return NULL;
    }
    if (tensor_numel(ft) / ft->shape.dim[0] != per) {
        char a[96], b[96];
        snprintf(why, cap, "is %s, qscope's is %s", shape_format(&ft->shape, a, sizeof a),
                 shape_format(&mt->shape, b, sizeof b));
        return NULL;
    }
    QParams qp;
    bool has_qp = qmodel_value_qparams(c->q, v, &qp);
    bool codes = mt->dtype == DT_I8;
    if (!codes && ft->dtype != DT_F32 && !has_qp) {
        snprintf(why, cap, "holds integers where qscope's value is float");
        return NULL;
    }
    if (ft->dtype != DT_F32 && ft->dtype != DT_I8 && ft->dtype != DT_U8) {
        snprintf(why, cap, "has dtype %s (int8, uint8 or float32 expected)",
                 dtype_name(ft->dtype));
        return NULL;
    }
    Tensor *t = tensor_new(mt->dtype, mt->shape, NULL);
    if (!t) {
        snprintf(why, cap, "does not fit in memory");
        return NULL;
    }
    int64_t n = tensor_numel(mt);
    for (int64_t i = 0; i < n; i++) {
        int32_t code;
        float x;
        if (ft->dtype == DT_F32) {
            x = tensor_f32(ft)[i];
            code = codes ? quant_q(x, &qp) : 0;
        } else {
            code = ft->dtype == DT_I8 ? ((const int8_t *)ft->data)[i]
                                      : (int32_t)((const uint8_t *)ft->data)[i] - 128;
            x = quant_dq(code, &qp);
        }
        if (codes)
            ((int8_t *)t->data)[i] = (int8_t)code;
        else
            tensor_f32(t)[i] = x;
    }
    return t;
}

/* Value v as float over the compared samples: the file's when usable, else mine. */
static Tensor *cmp_input_f32(Cmp *c, int v, bool *from_file)
{
    const Tensor *src = c->conv[v];
    *from_file = src != NULL;
    return taps_float(c->q, v, src ? src : tapset_find(c->mine, v));
}

static double cmp_elem(const Tensor *t, int64_t i)
{
    return t->dtype == DT_I8 ? ((const int8_t *)t->data)[i] : tensor_f32(t)[i];
}

/* Counts elements of a unlike b and the largest difference. */
static int64_t cmp_count(const Tensor *a, const Tensor *b, double *max)
{
    int64_t n = tensor_numel(a), k = 0;
    *max = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = cmp_elem(a, i), y = cmp_elem(b, i);
        if (x == y || (x != x && y != y))
            continue;
        k++;
        double d = fabs(x - y);
        *max = d > *max || d != d ? d : *max;
    }
    return k;
}

/* The head's non-constant inputs as float: the file's where usable, else mine. */
typedef struct CmpIn {
    const Tensor *in[64];
    Tensor *own[64];
    int n;
} CmpIn;

static void cmp_in_free(CmpIn *ci)
{
    for (int i = 0; i < ci->n; i++)
        tensor_free(ci->own[i]);
}

static QsStatus cmp_in_make(Cmp *c, TapLayer *L, CmpIn *ci, QsError *err)
{
    const Node *hn = &c->g->nodes[L->head];
    memset(ci, 0, sizeof *ci);
    ci->n = hn->n_in < 64 ? hn->n_in : 64;
    L->inputs_from_file = true;
    for (int i = 0; i < ci->n; i++) {
        int v = hn->in[i];
        if (v < 0 || c->g->values[v].kind == VAL_CONST)
            continue;
        bool ff;
        ci->in[i] = ci->own[i] = cmp_input_f32(c, v, &ff);
        if (!ci->own[i])
            return qs_fail(err, QS_ENOMEM, "taps: no input '%s' for layer '%s'",
                           c->g->values[v].name, hn->name);
        L->inputs_from_file &= ff;
    }
    return QS_OK;
}

/* A rerun's float output as codes on value v's parameters (its codes dequantized). */
static void cmp_codes_of(const Cmp *c, int v, const Tensor *y, int32_t *codes)
{
    QParams qp;
    qmodel_value_qparams(c->q, v, &qp);
    for (int64_t i = 0; i < tensor_numel(y); i++)
        codes[i] = quant_q(tensor_f32(y)[i], &qp);
}

/* The rerun of layer L's step on the file's inputs (mine where the file has none). */
static QsStatus cmp_rerun(Cmp *c, TapLayer *L, const Tensor *mt, Tensor **out, QsError *err)
{
    CmpIn ci;
    QsStatus st = cmp_in_make(c, L, &ci, err);
    Tensor *y = st ? NULL : tensor_new(DT_F32, mt->shape, err);
    if (!st && !y)
        st = err->code;
    if (!st)
        st = qmodel_run_node_local(c->q, L->head, ci.in, y, err);
    cmp_in_free(&ci);
    if (st) {
        tensor_free(y);
        return st;
    }
    if (mt->dtype == DT_I8) {
        Tensor *codes = tensor_new(DT_I8, mt->shape, err);
        int32_t *k = codes ? xmalloc((size_t)(tensor_numel(y) ? tensor_numel(y) : 1) *
                                     sizeof *k) : NULL;
        if (!codes) {
            tensor_free(y);
            return err->code;
        }
        cmp_codes_of(c, L->value, y, k);
        for (int64_t i = 0; i < tensor_numel(y); i++)
            ((int8_t *)codes->data)[i] = (int8_t)k[i];
        free(k);
        tensor_free(y);
        y = codes;
    }
    *out = y;
    return QS_OK;
}

/* Every target's codes of layer L from the same inputs: codes[t] (n elements) for each
 * target t that can run it, NULL for the others; false when the layer has no rule here. */
typedef struct CmpCodes {
    int32_t *codes[QTGT_COUNT];
} CmpCodes;

static void cmp_codes_free(CmpCodes *k)
{
    for (int t = 0; t < QTGT_COUNT; t++)
        free(k->codes[t]);
}

/* Input i of the head as codes (the file's, else mine); NULL when it has none. */
static const Tensor *cmp_in_codes(const Cmp *c, const Node *hn, int i, Tensor **owned)
{
    int v = hn->in[i];
    *owned = NULL;
    return taps_codes(c->q, v, c->conv[v] ? c->conv[v] : tapset_find(c->mine, v), owned);
}

/* An int8-static linear unit: each target's requantization of the int32 accumulators. */
static QsStatus cmp_codes_linear(Cmp *c, const TapLayer *L, const Tensor *ft, CmpCodes *k,
                                 bool *done, QsError *err)
{
    Tensor *owned;
    const Tensor *x = cmp_in_codes(c, &c->g->nodes[L->head], 0, &owned);
    QUnitRules R;
    if (!x || qmodel_unit_rules(c->q, L->head, &ft->shape, &R, err)) {
        tensor_free(owned);
        return x ? err->code : QS_OK;
    }
    int64_t n = tensor_numel(ft);
    int32_t *acc = xmalloc((size_t)(n ? n : 1) * sizeof *acc);
    QsStatus st = qmodel_unit_accumulators(c->q, L->head, x->data, &x->shape, &ft->shape, acc,
                                           err);
    for (int t = 0; t < QTGT_COUNT && !st; t++) {
        if (!R.ok[t])
            continue;
        k->codes[t] = xmalloc((size_t)(n ? n : 1) * sizeof(int32_t));
        for (int64_t i = 0; i < n; i++)
            k->codes[t][i] = qunit_code(&R, t, i, acc[i]);
    }
    *done = !st;
    free(acc);
    tensor_free(owned);
    qunit_rules_release(&R);
    return st;
}

/* Any other int8 step whose arithmetic differs between targets (Add, Mul, MatMul of two
 * activations, Softmax, Concat requantization, average pools, clamps): the step rerun on
 * the same inputs under each target's row (qmodel_run_node_target). A row that cannot hold
 * the step's parameters has no candidate. */
static QsStatus cmp_codes_step(Cmp *c, TapLayer *L, const Tensor *ft, CmpCodes *k,
                               bool *done, QsError *err)
{
    CmpIn ci;
    QsStatus st = cmp_in_make(c, L, &ci, err);
    Tensor *y = st ? NULL : tensor_new(DT_F32, ft->shape, err);
    if (!st && !y)
        st = err->code;
    int64_t n = tensor_numel(ft);
    for (int t = 0; t < QTGT_COUNT && !st; t++) {
        bool has;
        QsError e = { 0 };
        QsStatus rc = qmodel_run_node_target(c->q, L->head, t, ci.in, y, &has, &e);
        if (!has)
            break;
        if (rc == QS_EINVAL)
            continue; /* parameters the target cannot hold: no candidate */
        if (rc) {
            *err = e;
            st = rc;
            break;
        }
        k->codes[t] = xmalloc((size_t)(n ? n : 1) * sizeof(int32_t));
        cmp_codes_of(c, L->value, y, k->codes[t]);
        *done = true;
    }
    tensor_free(y);
    cmp_in_free(&ci);
    return st;
}

/* The local differences of L as ties (one step, some target's code) or divergent, and the
 * targets whose codes equal the file's everywhere. */
static void cmp_classify(TapLayer *L, const Tensor *ft, const Tensor *local, const CmpCodes *k)
{
    const int8_t *f = ft->data, *l = local->data;
    int64_t n = tensor_numel(ft);
    L->rules = true;
    for (int t = 0; t < QTGT_COUNT; t++)
        L->reproduced_by |= k->codes[t] ? 1u << t : 0;
    for (int64_t i = 0; i < n; i++) {
        bool any = false;
        for (int t = 0; t < QTGT_COUNT; t++) {
            if (!k->codes[t])
                continue;
            bool same = k->codes[t][i] == f[i];
            any |= same;
            if (!same)
                L->reproduced_by &= ~(1u << t);
        }
        if (f[i] != l[i]) {
            if (any && abs(f[i] - l[i]) == 1)
                L->ties++;
            else
                L->divergent++;
        }
    }
}

static QsStatus cmp_rules(Cmp *c, TapLayer *L, const Tensor *ft, const Tensor *local,
                          QStepViewKind kind, QsError *err)
{
    CmpCodes k = { 0 };
    bool done = false;
    QsStatus st = QS_OK;
    if (kind == QSTEP_LIN_INT8)
        st = cmp_codes_linear(c, L, ft, &k, &done, err);
    else if (kind == QSTEP_INT8)
        st = cmp_codes_step(c, L, ft, &k, &done, err);
    if (done)
        cmp_classify(L, ft, local, &k);
    cmp_codes_free(&k);
    return st;
}

/* Classifies layer L from its file array ft and qscope's own mt. */
static QsStatus cmp_layer(Cmp *c, TapLayer *L, const Tensor *ft, const Tensor *mt, QsError *err)
{
    L->codes = mt->dtype == DT_I8;
    L->n = tensor_numel(mt);
    L->differ = cmp_count(ft, mt, &L->max_diff);
    if (L->head < 0) { /* a graph input: nothing computes it */
        L->local_differ = L->differ;
        L->max_local = L->max_diff;
        L->divergent = L->differ;
        L->cls = L->differ ? TAPC_DIVERGENCE : TAPC_IDENTICAL;
        return QS_OK;
    }
    if (!L->differ) { /* identical: the rerun on identical inputs changes nothing */
        L->cls = TAPC_IDENTICAL;
        return QS_OK;
    }
    Tensor *local = NULL;
    if (cmp_rerun(c, L, mt, &local, err))
        return err->code;
    L->local_differ = cmp_count(ft, local, &L->max_local);
    QsStatus st = QS_OK;
    QStepView sv = qmodel_step(c->q, qmodel_step_of(c->q, L->head));
    if (!L->local_differ) {
        L->cls = TAPC_PROPAGATED;
    } else if (!L->codes) {
        double big = 0;
        for (int64_t i = 0; i < L->n; i++)
            big = fmax(big, fabs(cmp_elem(local, i)));
        L->divergent = L->max_local <= TAPS_FLOAT_REL * big ? 0 : L->local_differ;
        L->cls = L->divergent ? TAPC_DIVERGENCE : TAPC_FLOAT;
    } else {
        st = cmp_rules(c, L, ft, local, sv.kind, err);
        if (!L->rules)
            L->divergent = L->local_differ;
        L->cls = L->divergent ? TAPC_DIVERGENCE : TAPC_TIES;
    }
    tensor_free(local);
    return st;
}

static void cmp_free(Cmp *c)
{
    for (int v = 0; v < c->g->n_values; v++)
        tensor_free(c->conv[v]);
    free(c->conv);
    free(c->file_of);
    free(c->why);
}

/* Which file array names each value, and its conversion to mine's form. */
static int cmp_match(Cmp *c)
{
    int unmatched = 0;
    for (int k = 0; k < c->file->n; k++) {
        int v = taps_key_value(c->g, c->file->key[k]);
        const Tensor *mt = v >= 0 ? tapset_find(c->mine, v) : NULL;
        if (!mt) {
            unmatched++;
            continue;
        }
        if (c->file_of[v] >= 0)
            continue; /* the first array naming it counts */
        c->file_of[v] = k;
        c->conv[v] = cmp_convert(c, v, c->file->t[k], mt, c->why[v], sizeof c->why[v]);
    }
    return unmatched;
}

static void cmp_tally(TapReport *r)
{
    r->first_divergence = -1;
    r->reproduced_by = (1u << QTGT_COUNT) - 1;
    for (int i = 0; i < r->n; i++) {
        const TapLayer *L = &r->l[i];
        r->n_identical += L->cls == TAPC_IDENTICAL;
        r->n_propagated += L->cls == TAPC_PROPAGATED;
        r->n_ties += L->cls == TAPC_TIES;
        r->n_missing += L->cls == TAPC_MISSING;
        if (L->cls == TAPC_DIVERGENCE) {
            r->n_divergent++;
            if (r->first_divergence < 0)
                r->first_divergence = i;
        }
        if (L->rules)
            r->reproduced_by &= L->reproduced_by;
    }
}

QsStatus taps_compare(QModel *q, const TapSet *mine, const TapFile *file, TapReport *out,
                      QsError *err)
{
    memset(out, 0, sizeof *out);
    const Graph *g = qmodel_graph(q);
    Cmp c = { .q = q, .g = g, .mine = mine, .file = file };
    c.file_of = xmalloc((size_t)g->n_values * sizeof *c.file_of);
    c.conv = xcalloc((size_t)g->n_values, sizeof *c.conv);
    c.why = xcalloc((size_t)g->n_values, sizeof *c.why);
    for (int v = 0; v < g->n_values; v++)
        c.file_of[v] = -1;
    out->n_unmatched = cmp_match(&c);
    out->samples = mine->samples;
    out->l = xcalloc((size_t)(mine->n ? mine->n : 1), sizeof *out->l);
    QsStatus st = QS_OK;
    for (int i = 0; i < mine->n && !st; i++) {
        int v = mine->value[i];
        TapLayer *L = &out->l[out->n++];
        L->value = v;
        L->head = g->values[v].kind == VAL_INPUT ? -1 : qmodel_step(q, qmodel_step_of(q,
                  g->values[v].producer)).head;
        L->file = c.file_of[v];
        if (!c.conv[v]) {
            L->cls = TAPC_MISSING;
            snprintf(L->why, sizeof L->why, "%s",
                     L->file < 0 ? "no array names it" : c.why[v]);
            continue;
        }
        st = cmp_layer(&c, L, c.conv[v], &mine->t[i], err);
    }
    cmp_free(&c);
    if (st) {
        tapreport_release(out);
        return st;
    }
    cmp_tally(out);
    return QS_OK;
}

void tapreport_release(TapReport *r)
{
    free(r->l);
    memset(r, 0, sizeof *r);
}
