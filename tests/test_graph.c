#include "test_graph.h"

#include <string.h>

#include "run/run.h"
#include "test_util.h"

void tu_add_node(Graph *g, int op, const char *name, const char *const *in, int n_in,
                 Attr *attrs, int n_attrs)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_node(g, op, name, in, n_in, name, attrs, n_attrs, &err), &err);
    for (int i = 0; i < n_attrs; i++)
        attr_release(&attrs[i]);
}

void tu_add_const_uniform(Graph *g, const char *name, Shape s, Rng *r, double lo, double hi)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)(lo + (hi - lo) * rng_uniform(r));
    CHECK_OK(graph_add_const(g, name, t, true, &err), &err);
}

void tu_add_const_values(Graph *g, const char *name, Shape s, const float *v)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    memcpy(tensor_f32(t), v, (size_t)shape_numel(&s) * sizeof(float));
    CHECK_OK(graph_add_const(g, name, t, true, &err), &err);
}

Tensor *tu_run_graph(const Model *m, const Tensor *x)
{
    Run r;
    QsError err = { 0 };
    run_init(&r, &m->graph);
    Tensor *y = NULL;
    const Tensor *in[1] = { x };
    if (CHECK_OK(run_set_batch(&r, x->shape.dim[0], &err), &err) &&
        CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err))
        y = tensor_clone(run_output(&r, 0), &err);
    run_release(&r);
    return y;
}
