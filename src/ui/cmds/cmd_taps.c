/* taps save|compare, ties, and diagnose's taps= check: every layer's output written to an
 * .npz, another runtime's dump of it compared layer by layer, and the rounding ties of the
 * int8 linear units against every target's rule (ptq/taps.h; docs/debugging.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/npz.h"
#include "cmds/cmd_handlers.h"
#include "ops/op.h"
#include "ptq/taps.h"
#include "qexec/qexec_view.h"

enum { TAPS_DEFAULT_N = 100 };

/* The split taps read: split= when given, else eval when registered, else calib. */
static const Dataset *taps_split(const Session *s, const CmdArgs *a, const char **name,
                                 QsError *err)
{
    const char *want = arg_str(a, "split", NULL);
    int id = want ? split_find(want) : s->splits[SPLIT_EVAL].n_x ? SPLIT_EVAL : SPLIT_CALIB;
    if (id < 0 || !s->splits[id].n_x) {
        qs_fail(err, QS_EINVAL, "no data to run: register a split with 'data eval X' or "
                "'data calib X'%s%s", want ? ", or check split=" : "", want ? want : "");
        return NULL;
    }
    *name = split_name((SplitId)id);
    return &s->splits[id];
}

/* The current plan lowered and run over the split's first n samples. */
static QsStatus taps_run(App *app, const CmdArgs *a, long n, const bool *want, QModel **q,
                         TapSet *set, Result *r, QsError *err)
{
    Session *s = &app->session;
    const char *split;
    const Dataset *d = taps_split(s, a, &split, err);
    if (!d || qstate_qmodel(&s->q, s->model, &s->q.plan, NULL, q, err))
        return err->code;
    if (taps_capture(*q, d, n, s->opt.batch, &app->job, want, set, err))
        return err->code;
    result_str(r, "split", split);
    result_int(r, "n", set->samples);
    result_str(r, "precision", plan_label(&s->q.plan));
    result_plan_target(r, &s->q.plan);
    return QS_OK;
}

static QsStatus taps_save(App *app, const CmdArgs *a, const char *path, Result *r,
                          QsError *err)
{
    long n;
    if (arg_int_range(a, "n", TAPS_DEFAULT_N, 1, 1L << 40, &n, err))
        return err->code;
    QModel *q;
    TapSet set;
    if (taps_run(app, a, n, NULL, &q, &set, r, err))
        return err->code;
    const Graph *g = qmodel_graph(q);
    const char **names = xmalloc((size_t)(set.n ? set.n : 1) * sizeof *names);
    const Tensor **ts = xmalloc((size_t)(set.n ? set.n : 1) * sizeof *ts);
    int codes = 0;
    for (int i = 0; i < set.n; i++) {
        names[i] = g->values[set.value[i]].name;
        ts[i] = &set.t[i];
        codes += set.t[i].dtype == DT_I8;
    }
    QsStatus st = npz_save(path, names, ts, set.n, err);
    free(names);
    free(ts);
    if (!st) {
        result_str(r, "saved", path);
        result_int(r, "arrays", set.n);
        result_int(r, "int8_arrays", codes);
    }
    tapset_release(&set);
    return st;
}

static void tapfile_release(TapFile *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->key[i]);
        tensor_free(f->t[i]);
    }
    free(f->key);
    free(f->t);
    memset(f, 0, sizeof *f);
}

/* Every member of the dump; *samples: the first dim of the first one naming a value. */
static QsStatus tapfile_load(const char *path, const Graph *g, TapFile *f, int64_t *samples,
                             QsError *err)
{
    memset(f, 0, sizeof *f);
    *samples = 0;
    if (npz_list(path, &f->key, &f->n, err))
        return err->code;
    f->t = xcalloc((size_t)(f->n ? f->n : 1), sizeof *f->t);
    for (int i = 0; i < f->n; i++) {
        if (!(f->t[i] = npz_load_member(path, f->key[i], err))) {
            tapfile_release(f);
            return err->code;
        }
        if (!*samples && taps_key_value(g, f->key[i]) >= 0 && f->t[i]->shape.ndim > 0)
            *samples = f->t[i]->shape.dim[0];
    }
    if (!*samples) {
        tapfile_release(f);
        return qs_fail(err, QS_ENOTFOUND, "'%s': no array names a value of the model (keys "
                       "are value names or #INDEX; docs/formats.md, \"Taps files\")", path);
    }
    return QS_OK;
}

/* The targets of a bit set, "xnnpack,ort"; "" when none. */
static const char *taps_targets(unsigned bits, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int t = 0; t < QTGT_COUNT && at < cap; t++)
        if (bits >> t & 1)
            at += (size_t)snprintf(buf + at, cap - at, "%s%s", at ? "," : "",
                                   target_table[t].name);
    return buf;
}

/* The verdict of a report: divergence, ties or identical. */
static const char *taps_verdict(const TapReport *rep)
{
    return rep->n_divergent ? "divergence" : rep->n_ties ? "ties" : "identical";
}

static void taps_table(const Graph *g, const TapReport *rep, Result *r)
{
    static const char *const cols[] = { "index", "layer", "op", "class", "compared", "differ",
                                        "max_diff", "local_differ", "ties", "divergent",
                                        "reproduced_by", "inputs", "note", NULL };
    RTable *t = result_table(r, "layers", cols);
    for (int i = 0; i < rep->n; i++) {
        const TapLayer *L = &rep->l[i];
        int row = rtable_add_row(t);
        char buf[64];
        rtable_int(t, row, 0, L->value);
        rtable_str(t, row, 1, g->values[L->value].name);
        rtable_str(t, row, 2, L->head < 0 ? "input" : op_table[g->nodes[L->head].op]->name);
        rtable_str(t, row, 3, tap_class_names[L->cls]);
        if (L->cls == TAPC_MISSING) {
            rtable_str(t, row, 12, L->why);
            continue;
        }
        rtable_int(t, row, 4, L->n);
        rtable_int(t, row, 5, L->differ);
        rtable_float(t, row, 6, L->max_diff, RS_PLAIN);
        rtable_int(t, row, 7, L->local_differ);
        rtable_int(t, row, 8, L->ties);
        rtable_int(t, row, 9, L->divergent);
        if (L->rules)
            rtable_str(t, row, 10, taps_targets(L->reproduced_by, buf, sizeof buf));
        if (L->head >= 0 && L->differ)
            rtable_str(t, row, 11, L->inputs_from_file ? "file" : "qscope");
    }
}

/* Runs the comparison of the dump at path into rep (the caller releases it). */
static QsStatus taps_compare_file(App *app, const CmdArgs *a, const char *path, Result *r,
                                  TapReport *rep, QsError *err)
{
    Session *s = &app->session;
    TapFile f;
    int64_t samples;
    if (tapfile_load(path, &s->model->graph, &f, &samples, err))
        return qs_error_prefix(err, "taps"), err->code;
    long n;
    QsStatus st = arg_int_range(a, "n", samples, 1, 1L << 40, &n, err);
    QModel *q = NULL;
    TapSet set = { 0 };
    if (!st)
        st = taps_run(app, a, n, NULL, &q, &set, r, err);
    if (!st)
        st = taps_compare(q, &set, &f, rep, err);
    tapset_release(&set);
    tapfile_release(&f);
    if (!st)
        result_str(r, "file", path);
    return st;
}

/* The summary fields of a comparison, each key prefixed (diagnose: "taps_"). */
static void taps_summary(const Graph *g, const TapReport *rep, const char *pre, Result *r)
{
    char key[64], buf[64];
#define TAPS_KEY(k) (snprintf(key, sizeof key, "%s%s", pre, k), key)
    result_str(r, TAPS_KEY("verdict"), taps_verdict(rep));
    result_int(r, TAPS_KEY("identical"), rep->n_identical);
    result_int(r, TAPS_KEY("propagated"), rep->n_propagated);
    result_int(r, TAPS_KEY("tie_layers"), rep->n_ties);
    result_int(r, TAPS_KEY("divergent_layers"), rep->n_divergent);
    result_int(r, TAPS_KEY("missing"), rep->n_missing);
    result_int(r, TAPS_KEY("unmatched"), rep->n_unmatched);
    if (rep->first_divergence >= 0)
        result_str(r, TAPS_KEY("first_divergence"),
                   g->values[rep->l[rep->first_divergence].value].name);
    if (rep->n_ties)
        result_str(r, TAPS_KEY("reproduced_by"), taps_targets(rep->reproduced_by, buf,
                                                              sizeof buf));
#undef TAPS_KEY
}

/* The target mismatch a ties-only dump shows: the first target (table order) whose rule
 * reproduces every differing layer when the plan's own does not; NULL otherwise. */
static const char *taps_mismatch(const TapReport *rep, const Plan *p)
{
    if (rep->n_divergent || !rep->n_ties || (rep->reproduced_by >> p->q.target & 1))
        return NULL;
    for (int t = 0; t < QTGT_COUNT; t++)
        if (rep->reproduced_by >> t & 1)
            return target_table[t].name;
    return NULL;
}

static void taps_verdict_text(const Graph *g, const TapReport *rep, const Plan *p, Result *r)
{
    const char *other = taps_mismatch(rep, p);
    if (rep->first_divergence >= 0)
        result_textf(r, "first divergence: '%s' (%lld of %lld elements unexplained)",
                     g->values[rep->l[rep->first_divergence].value].name,
                     (long long)rep->l[rep->first_divergence].divergent,
                     (long long)rep->l[rep->first_divergence].n);
    else if (other)
        result_textf(r, "target mismatch: the dump differs only on rounding ties, as target "
                     "'%s' rounds them (quant target=%s)", other, other);
    else if (rep->n_ties)
        result_textf(r, "only rounding ties differ");
    else
        result_textf(r, "no layer differs beyond what its inputs explain");
}

QsStatus cmd_taps(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const char *verb = a->pos[0];
    if (strcmp(verb, "save") != 0 && strcmp(verb, "compare") != 0)
        return qs_fail(err, QS_EINVAL, "taps: unknown action '%s' (save, compare)", verb);
    if (a->n_pos != 2)
        return qs_fail(err, QS_EINVAL, "taps %s: a FILE.npz is needed", verb);
    result_str(r, "action", verb);
    if (!strcmp(verb, "save"))
        return taps_save(app, a, a->pos[1], r, err);
    Session *s = &app->session;
    TapReport rep;
    if (taps_compare_file(app, a, a->pos[1], r, &rep, err))
        return err->code;
    const Graph *g = &s->model->graph;
    taps_summary(g, &rep, "", r);
    const char *other = taps_mismatch(&rep, &s->q.plan);
    if (other)
        result_str(r, "target_mismatch", other);
    taps_table(g, &rep, r);
    taps_verdict_text(g, &rep, &s->q.plan, r);
    tapreport_release(&rep);
    return QS_OK;
}

QsStatus diagnose_taps(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    TapReport rep;
    Result scratch; /* taps_run's split and plan fields: diagnose reports its own */
    result_init(&scratch, "taps");
    QsStatus st = taps_compare_file(app, a, arg_str(a, "taps", ""), &scratch, &rep, err);
    result_release(&scratch);
    if (st)
        return qs_error_prefix(err, "diagnose taps="), err->code;
    const Graph *g = &s->model->graph;
    taps_summary(g, &rep, "taps_", r);
    const char *other = taps_mismatch(&rep, &s->q.plan);
    if (other)
        result_str(r, "target_mismatch", other);
    taps_verdict_text(g, &rep, &s->q.plan, r);
    tapreport_release(&rep);
    return QS_OK;
}

/* ---- ties ---------------------------------------------------------------------------- */

/* The tables of the units measured: one row per unit, one per unit and pair of targets
 * (made one after the other: a table pointer lives until the next table is made). */
static void ties_tables(const Graph *g, const TieStats *ts, int n, int cur, Result *r)
{
    static const char *const lcols[] = { "layer", "op", "outputs", "on_tie", "near_tie",
                                         "differ_most", NULL };
    static const char *const pcols[] = { "layer", "a", "b", "differ", NULL };
    RTable *lt = result_table(r, "layers", lcols);
    for (int i = 0; i < n; i++) {
        int row = rtable_add_row(lt);
        const Node *hn = &g->nodes[ts[i].head];
        rtable_str(lt, row, 0, hn->name);
        rtable_str(lt, row, 1, op_table[hn->op]->name);
        rtable_int(lt, row, 2, ts[i].n);
        rtable_int(lt, row, 3, ts[i].on_tie);
        rtable_int(lt, row, 4, ts[i].near_tie);
        int64_t most = 0;
        for (int t = 0; t < QTGT_COUNT; t++)
            most = ts[i].differ[cur][t] > most ? ts[i].differ[cur][t] : most;
        rtable_int(lt, row, 5, most);
    }
    RTable *pt = result_table(r, "pairs", pcols);
    for (int i = 0; i < n; i++)
        for (int a = 0; a < QTGT_COUNT; a++)
            for (int b = a + 1; b < QTGT_COUNT; b++) {
                if (!ts[i].ok[a] || !ts[i].ok[b])
                    continue;
                int row = rtable_add_row(pt);
                rtable_str(pt, row, 0, g->nodes[ts[i].head].name);
                rtable_str(pt, row, 1, target_table[a].name);
                rtable_str(pt, row, 2, target_table[b].name);
                rtable_int(pt, row, 3, ts[i].differ[a][b]);
            }
}

/* An int8 step other than a linear unit: every target's codes on the taps' inputs to it
 * (taps_step_pairs); *has false when no target changes its arithmetic. */
static QsStatus ties_step(QModel *q, const Graph *g, const TapSet *set, QStepView sv,
                          TieStats *ts, bool *has, QsError *err)
{
    const Node *hn = &g->nodes[sv.head];
    int nin = hn->n_in ? hn->n_in : 1;
    const Tensor **in = xcalloc((size_t)nin, sizeof *in);
    Tensor **own = xcalloc((size_t)nin, sizeof *own);
    const Tensor *y = tapset_find(set, sv.out);
    bool ok = y != NULL;
    for (int i = 0; i < hn->n_in && ok; i++) {
        int v = hn->in[i];
        if (v < 0 || g->values[v].kind == VAL_CONST)
            continue;
        in[i] = own[i] = taps_float(q, v, tapset_find(set, v));
        ok = own[i] != NULL;
    }
    QsStatus st = QS_OK;
    *has = false;
    if (ok)
        st = taps_step_pairs(q, sv.head, in, &y->shape, ts, has, err);
    for (int i = 0; i < hn->n_in; i++)
        tensor_free(own[i]);
    free(own);
    free(in);
    return st;
}

QsStatus cmd_ties(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    long n;
    if (arg_int_range(a, "n", TAPS_DEFAULT_N, 1, 1L << 40, &n, err))
        return err->code;
    int only = -1;
    if (a->n_pos && (only = graph_find_node(g, a->pos[0])) < 0)
        return qs_fail(err, QS_ENOTFOUND, "ties: no layer '%s'", a->pos[0]);
    QModel *q;
    TapSet set;
    if (taps_run(app, a, n, NULL, &q, &set, r, err))
        return err->code;
    if (only >= 0)
        only = qmodel_layer(q, only)->unit;
    int cur = (int)(qmodel_target(q) - target_table), units = 0;
    TieStats *ts = xmalloc((size_t)(qmodel_n_steps(q) + 1) * sizeof *ts);
    int64_t outs = 0, on = 0, near = 0;
    QsStatus st = QS_OK;
    int steps = 0;
    for (int si = 0; si < qmodel_n_steps(q) && !st; si++) {
        QStepView sv = qmodel_step(q, si);
        if (only >= 0 && sv.head != only)
            continue;
        if (sv.kind == QSTEP_INT8) {
            bool has;
            st = ties_step(q, g, &set, sv, &ts[units], &has, err);
            units += has && !st;
            steps += has && !st;
            continue;
        }
        if (sv.kind != QSTEP_LIN_INT8)
            continue;
        int vin = g->nodes[sv.head].in[0];
        Tensor *owned;
        const Tensor *x = taps_codes(q, vin, tapset_find(&set, vin), &owned);
        const Tensor *y = tapset_find(&set, sv.out);
        if (!x || !y)
            continue; /* an input without int8 parameters: nothing to rerun */
        st = taps_ties(q, sv.head, x->data, &x->shape, &y->shape, &ts[units], err);
        tensor_free(owned);
        if (!st) {
            outs += ts[units].n;
            on += ts[units].on_tie;
            near += ts[units].near_tie;
            units++;
        }
    }
    tapset_release(&set);
    if (!st && only >= 0 && !units)
        st = qs_fail(err, QS_EINVAL, "ties: layer '%s' is not in an int8-static step whose "
                     "arithmetic differs between targets (ties covers Conv, Dense, Gemm and "
                     "MatMul units, Add, Mul, Softmax, Concat, pools and clamps at int8)",
                     a->pos[0]);
    if (st) {
        free(ts);
        return st;
    }
    ties_tables(g, ts, units, cur, r);
    free(ts);
    result_int(r, "units", units - steps);
    result_int(r, "steps", steps);
    result_int(r, "outputs", outs);
    result_int(r, "on_tie", on);
    result_int(r, "near_tie", near);
    return QS_OK;
}
