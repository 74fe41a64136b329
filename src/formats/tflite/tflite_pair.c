/* TFLite import: a quantized file's parameters moved onto another float model of the same
 * network (`variant import`, tflite_import.h: tflite_pair_plan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/linear_unit.h"
#include "ops/op.h"
#include "tflite/tflite_import.h"

/* Nodes that carry no value of their own after folding: a BatchNormalization (folded into
 * the layer before it in the file) and identities. */
static bool tp_skipped(const Graph *g, int n, const LinearUnit *units, const int *head_of)
{
    int op = g->nodes[n].op;
    return op == OP_IDENTITY || op == OP_DROPOUT ||
           (op == OP_BATCHNORM && head_of[n] != n && units[head_of[n]].bn == n);
}

/* A Pad that only feeds window ops: how a file writes pads TFLite's SAME cannot express
 * (the float model holds them inside its Conv or pool). */
static bool tp_window_pad(const Graph *g, int n)
{
    if (n < 0 || g->nodes[n].op != OP_PAD)
        return false;
    int v = g->nodes[n].out, readers = 0;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_in; i++)
            if (g->nodes[k].in[i] == v) {
                int op = g->nodes[k].op;
                if (op != OP_CONV && op != OP_AVGPOOL && op != OP_MAXPOOL)
                    return false;
                readers++;
            }
    return readers > 0;
}

static int tp_class(int op) { return op == OP_FLATTEN ? OP_RESHAPE : op; }

/* The nodes in run order that write values, as the pairing walks them. */
static int tp_sequence(const Graph *g, const LinearUnit *units, const int *head_of, int *seq)
{
    int n = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        int ni = g->order[k];
        if (!tp_skipped(g, ni, units, head_of) && !tp_window_pad(g, ni))
            seq[n++] = ni;
    }
    return n;
}

static bool tp_same_sample(const Shape *a, const Shape *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 1; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

/* vm[file value] = session value: by name where every quantized point has a namesake of
 * the same shape, else by position (inputs, then the nodes in run order, BatchNormalization
 * and identities aside) with op kinds and shapes checked. */
static QsStatus tp_value_map(const Graph *fg, const Graph *sg, const LinearUnit *fu,
                             const int *fh, const LinearUnit *su, const int *sh,
                             const QImport *fi, int *vm, QsError *err)
{
    for (int v = 0; v < fg->n_values; v++)
        vm[v] = -1;
    /* by name when every quantized value, input and output has a namesake of its shape */
    bool by_name = true;
    for (int v = 0; v < fg->n_values; v++) {
        if (fg->values[v].kind == VAL_CONST)
            continue;
        int s = graph_find_value(sg, fg->values[v].name);
        if (s >= 0 && sg->values[s].kind != VAL_CONST &&
            tp_same_sample(&fg->values[v].shape, &sg->values[s].shape))
            vm[v] = s;
        else if ((fi->has_qp[v] && !tp_window_pad(fg, fg->values[v].producer)) ||
                 fg->values[v].kind == VAL_INPUT)
            by_name = false;
    }
    if (by_name)
        return QS_OK;
    for (int v = 0; v < fg->n_values; v++)
        vm[v] = -1;
    if (fg->n_inputs != sg->n_inputs)
        return qs_fail(err, QS_EINVAL, "the files do not pair: %d inputs against %d",
                       fg->n_inputs, sg->n_inputs);
    for (int i = 0; i < fg->n_inputs; i++) {
        if (!tp_same_sample(&fg->values[fg->inputs[i]].shape, &sg->values[sg->inputs[i]].shape))
            return qs_fail(err, QS_EINVAL, "the files do not pair: input %d '%s' has another "
                           "shape than '%s'", i, fg->values[fg->inputs[i]].name,
                           sg->values[sg->inputs[i]].name);
        vm[fg->inputs[i]] = sg->inputs[i];
    }
    int *fs = xmalloc((size_t)(fg->n_nodes ? fg->n_nodes : 1) * sizeof *fs);
    int *ss = xmalloc((size_t)(sg->n_nodes ? sg->n_nodes : 1) * sizeof *ss);
    int nf = tp_sequence(fg, fu, fh, fs), ns = tp_sequence(sg, su, sh, ss);
    QsStatus st = QS_OK;
    for (int i = 0; i < nf && i < ns && !st; i++) {
        const Node *a = &fg->nodes[fs[i]], *b = &sg->nodes[ss[i]];
        if (tp_class(a->op) != tp_class(b->op) ||
            !tp_same_sample(&fg->values[a->out].shape, &sg->values[b->out].shape))
            st = qs_fail(err, QS_EINVAL, "the files do not pair: layer %d of the quantized "
                         "file is %s '%s', of the float model %s '%s' (op or shape differ)",
                         i, op_table[a->op]->name, a->name, op_table[b->op]->name, b->name);
        else
            vm[a->out] = b->out;
    }
    if (!st && nf != ns)
        st = qs_fail(err, QS_EINVAL, "the files do not pair: the quantized file has %d layers, "
                     "the float model %d (BatchNormalization folded)", nf, ns);
    free(fs);
    free(ss);
    return st;
}

/* The imported parameters of the file model moved onto the session model's indices. */
static QsStatus tp_move(const Graph *fg, const Graph *sg, const LinearUnit *fu,
                        const LinearUnit *su, const int *sh, const int *vm, const QImport *fi,
                        QImport *si, QsError *err)
{
    for (int v = 0; v < fg->n_values; v++)
        if (fi->has_qp[v] && vm[v] >= 0) {
            si->has_qp[vm[v]] = true;
            si->qp[vm[v]] = fi->qp[v];
        }
    for (int h = 0; h < fg->n_nodes; h++) {
        const QImportUnit *u = fi->unit[h];
        if (!u)
            continue;
        const LinearUnit *f = &fu[h];
        int tail = f->act >= 0 ? f->act : f->bn >= 0 ? f->bn : h;
        int sv = vm[fg->nodes[tail].out];
        int sp = sv >= 0 ? sg->values[sv].producer : -1;
        int shead = sp >= 0 ? sh[sp] : -1;
        if (shead < 0 || su[shead].head != shead)
            return qs_fail(err, QS_EINVAL, "the files do not pair: layer '%s' of the quantized "
                           "file has no linear layer in the float model", fg->nodes[h].name);
        if (su[shead].oc != u->oc || su[shead].k != u->k)
            return qs_fail(err, QS_EINVAL, "the files do not pair: layer '%s' has %lld x %lld "
                           "weights in the quantized file, '%s' %lld x %lld in the float model",
                           fg->nodes[h].name, (long long)u->oc, (long long)u->k,
                           sg->nodes[shead].name, (long long)su[shead].oc,
                           (long long)su[shead].k);
        QImportUnit *c = xcalloc(1, sizeof *c);
        *c = *u;
        c->codes = xmalloc((size_t)(u->oc * u->k));
        memcpy(c->codes, u->codes, (size_t)(u->oc * u->k));
        c->scales = xmalloc((size_t)u->n_scales * sizeof *c->scales);
        memcpy(c->scales, u->scales, (size_t)u->n_scales * sizeof *c->scales);
        if (u->bias) {
            c->bias = xmalloc((size_t)u->oc * sizeof *c->bias);
            memcpy(c->bias, u->bias, (size_t)u->oc * sizeof *c->bias);
        }
        si->unit[shead] = c;
    }
    return QS_OK;
}

QsStatus tflite_pair_plan(const Model *sm, const Model *fm, const TflImportQuant *q,
                          const char *source, Plan *plan, Calibration *cal, QsError *err)
{
    Plan fp;
    Calibration fc;
    if (tflite_import_plan(fm, q, source, &fp, &fc, err))
        return err->code;
    const Graph *fg = &fm->graph, *sg = &sm->graph;
    int nf = fg->n_nodes ? fg->n_nodes : 1, ns = sg->n_nodes ? sg->n_nodes : 1;
    LinearUnit *fu = xcalloc((size_t)nf, sizeof *fu), *su = xcalloc((size_t)ns, sizeof *su);
    int *fh = xmalloc((size_t)nf * sizeof *fh), *sh = xmalloc((size_t)ns * sizeof *sh);
    int *vm = xmalloc((size_t)(fg->n_values ? fg->n_values : 1) * sizeof *vm);
    linear_group(fg, NULL, NULL, fu, fh);
    linear_group(sg, NULL, NULL, su, sh);
    QImport *si = qimport_new(sg->n_values, sg->n_nodes);
    snprintf(si->source, sizeof si->source, "%s", source);
    QsStatus st = tp_value_map(fg, sg, fu, fh, su, sh, fc.imported, vm, err);
    if (!st)
        st = tp_move(fg, sg, fu, su, sh, vm, fc.imported, si, err);
    if (!st) {
        plan_init(plan, sg->n_nodes);
        plan->mode = fp.mode;
        plan->q = fp.q;
        /* a layer the file runs in float: pinned to its precision in the float model */
        for (int n = 0; n < fg->n_nodes; n++) {
            if (fp.pin[n] < 0)
                continue;
            const LinearUnit *f = &fu[fh[n]];
            int tail = f->head < 0 ? n : f->act >= 0 ? f->act : f->bn >= 0 ? f->bn : f->head;
            int sv = vm[fg->nodes[tail].out];
            int sp = sv >= 0 ? sg->values[sv].producer : -1;
            if (sp >= 0) {
                plan->pin[sp] = fp.pin[n];
                plan->pin[sh[sp]] = fp.pin[n];
            }
        }
        memset(cal, 0, sizeof *cal);
        cal->n_values = sg->n_values;
        cal->stats = xmalloc((size_t)(sg->n_values ? sg->n_values : 1) * sizeof *cal->stats);
        for (int v = 0; v < sg->n_values; v++)
            act_stats_init(&cal->stats[v]);
        cal->ma_momentum = fc.ma_momentum;
        cal->imported = si;
        si = NULL;
    }
    qimport_unref(si);
    free(fu);
    free(su);
    free(fh);
    free(sh);
    free(vm);
    plan_release(&fp);
    calib_release(&fc);
    return st;
}
