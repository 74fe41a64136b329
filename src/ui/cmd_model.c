/* load, save, info, layers. */
#include <stdio.h>
#include <string.h>

#include "cmd_handlers.h"
#include "modelfile.h"
#include "op.h"
#include "spec.h"
#include "transform.h"

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

CMD_HANDLER(cmd_load)
{
    Model *m = modelfile_load(a->pos[0], err);
    if (!m)
        return err->code;
    char dropped[128];
    session_set_model(&app->session, m, a->pos[0], dropped, sizeof dropped);
    result_str(r, "model", a->pos[0]);
    model_summary(m, r);
    if (dropped[0])
        result_str(r, "dropped_splits", dropped);
    return QS_OK;
}

CMD_HANDLER(cmd_init)
{
    long seed;
    if (arg_int_range(a, "seed", -1, -1, 1L << 53, &seed, err))
        return err->code;
    Model *m = spec_load(a->pos[0], seed, err);
    if (!m)
        return err->code;
    char dropped[128];
    session_set_model(&app->session, m, NULL, dropped, sizeof dropped);
    result_str(r, "spec", a->pos[0]);
    result_str(r, "seed", model_meta_get(m, "init_seed"));
    model_summary(m, r);
    if (dropped[0])
        result_str(r, "dropped_splits", dropped);
    return QS_OK;
}

CMD_HANDLER(cmd_save)
{
    if (modelfile_save(a->pos[0], app->session.model, err))
        return err->code;
    result_str(r, "saved", a->pos[0]);
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

CMD_HANDLER(cmd_info)
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

CMD_HANDLER(cmd_layers)
{
    const Graph *g = &app->session.model->graph;
    static const char *const cols[] = { "index", "name", "op", "shape", "params", NULL };
    RTable *t = result_table(r, "layers", cols);
    char buf[128];
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        int64_t params = 0;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && g->values[n->in[i]].kind == VAL_CONST)
                params += shape_numel(&g->values[n->in[i]].shape);
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, k);
        rtable_str(t, row, 1, n->name);
        rtable_str(t, row, 2, op_table[n->op]->name);
        sample_shape(&g->values[n->out].shape, buf, sizeof buf);
        rtable_str(t, row, 3, buf);
        rtable_int(t, row, 4, params);
    }
    return QS_OK;
}

CMD_HANDLER(cmd_fold)
{
    if (strcmp(a->pos[0], "scales") != 0)
        return qs_fail(err, QS_EINVAL, "fold: unknown target '%s' (scales)", a->pos[0]);
    int folded, left;
    if (transform_absorb_scales(app->session.model, &folded, &left, err))
        return err->code;
    result_int(r, "folded", folded);
    result_int(r, "left", left);
    model_summary(app->session.model, r);
    return QS_OK;
}
