#include "graph/builder.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"

typedef QsStatus (*LayerFn)(Builder *b, const LayerSpec *ls, const char *name, QsError *err);

typedef struct LayerKind {
    const char *name;
    LayerFn build;
    int op;             /* the op of simple one-node layers; -1 when build does it all */
} LayerKind;

LayerSpec layer_spec_default(const char *kind)
{
    LayerSpec ls;
    memset(&ls, 0, sizeof ls);
    ls.kind = kind;
    ls.bias = 1;
    ls.alpha = 0.01f;
    ls.axis = -1;
    ls.scale = 2;
    return ls;
}

/* The shape at batch 1 of the value named `name`; false when there is none. */
static bool value_shape(const Builder *b, const char *name, Shape *out)
{
    const Graph *g = &b->m->graph;
    int v = graph_find_value(g, name);
    if (v < 0)
        return false;
    *out = g->values[v].shape;
    if (g->values[v].kind == VAL_INPUT)
        out->dim[0] = 1; /* stored as the batch placeholder 0 */
    return true;
}

/* Adds a node reading `inputs` and writing a value named after the node, and makes it the
 * current value, with its shape inferred at batch 1. */
static QsStatus add_node(Builder *b, int op, const char *name, const char *const *inputs,
                         int n_in, const Attr *attrs, int n_attrs, QsError *err)
{
    Graph *g = &b->m->graph;
    if (graph_add_node(g, op, name, inputs, n_in, name, attrs, n_attrs, err))
        return err->code;
    const Node *n = &g->nodes[g->n_nodes - 1];
    Shape shapes[BUILDER_MAX_FROM + 4];
    const Shape *in[BUILDER_MAX_FROM + 4];
    QS_ASSERT(n->n_in <= BUILDER_MAX_FROM + 4);
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        in[i] = v >= 0 && value_shape(b, g->values[v].name, &shapes[i]) ? &shapes[i] : NULL;
    }
    Shape out;
    if (op_infer(n, in, &out, err))
        return err->code;
    g->values[n->out].shape = out;
    snprintf(b->cur, sizeof b->cur, "%s", name);
    b->cur_shape = out;
    return QS_OK;
}

/* A constant named "<layer>.<what>", uniform in [-bound, bound] (bound 0: filled with
 * `fill`). */
static QsStatus add_param(Builder *b, const char *layer, const char *what, Shape s, double bound,
                          float fill, int trainable, char *name_out, size_t cap, QsError *err)
{
    char what_of[200];
    size_t bytes;
    snprintf(what_of, sizeof what_of, "'%s.%s'", layer, what);
    if (shape_checked_bytes(&s, sizeof(float), &bytes, what_of, err) ||
        budget_charge(&b->budget, (int64_t)bytes, 1, what_of, err))
        return err->code;
    Tensor *t = tensor_new(DT_F32, s, err);
    if (!t)
        return err->code;
    float *v = tensor_f32(t);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        v[i] = bound > 0 ? (float)((2.0 * rng_uniform(&b->rng) - 1.0) * bound) : fill;
    snprintf(name_out, cap, "%s.%s", layer, what);
    return graph_add_const(&b->m->graph, name_out, t, trainable, err);
}

static QsStatus need_rank(const Builder *b, const char *name, int lo, int hi, QsError *err)
{
    if (b->cur_shape.ndim < lo || b->cur_shape.ndim > hi) {
        char buf[96];
        return qs_fail(err, QS_ESHAPE, "layer '%s': input shape %s, expected rank %d to %d", name,
                       shape_format(&b->cur_shape, buf, sizeof buf), lo, hi);
    }
    return QS_OK;
}

static QsStatus build_conv(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (need_rank(b, name, 3, 4, err))
        return err->code;
    int sp = b->cur_shape.ndim - 2; /* spatial dims */
    int64_t in_c = b->cur_shape.dim[1];
    int64_t groups = ls->depthwise ? in_c : ls->groups ? ls->groups : 1;
    int64_t out_c = ls->out ? ls->out : ls->depthwise ? in_c : 0;
    int64_t k = ls->kernel ? ls->kernel : 3;
    if (out_c <= 0 || groups <= 0 || in_c % groups || out_c % groups)
        return qs_fail(err, QS_EINVAL, "layer '%s': out=%lld and groups=%lld must divide the %lld "
                       "input channels", name, (long long)out_c, (long long)groups,
                       (long long)in_c);
    int64_t stride = ls->stride ? ls->stride : 1, dil = ls->dilation ? ls->dilation : 1;
    int64_t ks[2] = { k, k }, st[2] = { stride, stride }, dl[2] = { dil, dil };
    int64_t pads[4] = { ls->pad, ls->pad, ls->pad, ls->pad };
    Shape ws = { .ndim = 2 + sp, .dim = { out_c, in_c / groups, k, k } };
    double bound = 1.0 / sqrt((double)(in_c / groups) * (double)(sp == 2 ? k * k : k));
    char w[160], bias[160] = "";
    if (add_param(b, name, "weight", ws, bound, 0, 1, w, sizeof w, err))
        return err->code;
    if (ls->bias && add_param(b, name, "bias", shape_of(1, out_c), bound, 0, 1, bias, sizeof bias,
                              err))
        return err->code;
    Attr attrs[5] = { attr_ints("kernel_shape", ks, sp), attr_ints("strides", st, sp),
                      attr_ints("pads", pads, 2 * sp), attr_ints("dilations", dl, sp),
                      attr_int("group", groups) };
    const char *in[3] = { b->cur, w, bias };
    QsStatus st2 = add_node(b, OP_CONV, name, in, ls->bias ? 3 : 2, attrs, 5, err);
    for (int i = 0; i < 5; i++)
        attr_release(&attrs[i]);
    return st2;
}

static QsStatus build_dense(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (need_rank(b, name, 2, QS_MAX_DIMS, err))
        return err->code;
    int64_t in_f = b->cur_shape.dim[b->cur_shape.ndim - 1];
    if (ls->out <= 0)
        return qs_fail(err, QS_EINVAL, "layer '%s': dense needs out > 0", name);
    double bound = 1.0 / sqrt((double)in_f);
    char w[160], bias[160] = "";
    if (add_param(b, name, "weight", shape_of(2, ls->out, in_f), bound, 0, 1, w, sizeof w, err))
        return err->code;
    if (ls->bias &&
        add_param(b, name, "bias", shape_of(1, ls->out), bound, 0, 1, bias, sizeof bias, err))
        return err->code;
    const char *in[3] = { b->cur, w, bias };
    return add_node(b, OP_DENSE, name, in, ls->bias ? 3 : 2, NULL, 0, err);
}

static QsStatus build_batchnorm(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    (void)ls;
    if (need_rank(b, name, 2, 4, err))
        return err->code;
    Shape c = shape_of(1, b->cur_shape.dim[1]);
    char sc[160], bi[160], mu[160], va[160];
    if (add_param(b, name, "scale", c, 0, 1.0f, 1, sc, sizeof sc, err) ||
        add_param(b, name, "bias", c, 0, 0.0f, 1, bi, sizeof bi, err) ||
        add_param(b, name, "mean", c, 0, 0.0f, 0, mu, sizeof mu, err) ||
        add_param(b, name, "var", c, 0, 1.0f, 0, va, sizeof va, err))
        return err->code;
    Attr attrs[2] = { attr_float("epsilon", 1e-5f), attr_float("momentum", 0.9f) };
    const char *in[5] = { b->cur, sc, bi, mu, va };
    return add_node(b, OP_BATCHNORM, name, in, 5, attrs, 2, err);
}

/* A fixed per-channel multiplier (not trained): Mul by a (C, 1, ...) constant. */
static QsStatus build_scale(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (need_rank(b, name, 2, QS_MAX_DIMS, err))
        return err->code;
    int64_t c = b->cur_shape.dim[1];
    if (ls->n_values != c)
        return qs_fail(err, QS_EINVAL, "layer '%s': %d scale values for %lld channels", name,
                       ls->n_values, (long long)c);
    Shape s = { .ndim = b->cur_shape.ndim - 1 };
    s.dim[0] = c;
    for (int i = 1; i < s.ndim; i++)
        s.dim[i] = 1;
    char v[160];
    if (add_param(b, name, "factor", s, 0, 0, 0, v, sizeof v, err))
        return err->code;
    Graph *g = &b->m->graph;
    memcpy(g->values[g->n_values - 1].data->data, ls->values, (size_t)c * sizeof(float));
    const char *in[2] = { b->cur, v };
    return add_node(b, OP_MUL, name, in, 2, NULL, 0, err);
}

static QsStatus build_pool(Builder *b, const LayerSpec *ls, const char *name, int op,
                           QsError *err)
{
    if (need_rank(b, name, 3, 4, err))
        return err->code;
    int sp = b->cur_shape.ndim - 2;
    int64_t k = ls->kernel ? ls->kernel : 2, s = ls->stride ? ls->stride : k;
    int64_t ks[2] = { k, k }, st[2] = { s, s }, pads[4] = { ls->pad, ls->pad, ls->pad, ls->pad };
    Attr attrs[3] = { attr_ints("kernel_shape", ks, sp), attr_ints("strides", st, sp),
                      attr_ints("pads", pads, 2 * sp) };
    const char *in[1] = { b->cur };
    QsStatus r = add_node(b, op, name, in, 1, attrs, 3, err);
    for (int i = 0; i < 3; i++)
        attr_release(&attrs[i]);
    return r;
}

static QsStatus build_maxpool(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    return build_pool(b, ls, name, OP_MAXPOOL, err);
}

static QsStatus build_avgpool(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    return build_pool(b, ls, name, OP_AVGPOOL, err);
}

/* Layers that are one attribute-free op, or one op with a fixed attribute. */
static QsStatus build_simple(Builder *b, const LayerSpec *ls, const char *name, int op,
                             QsError *err)
{
    const char *in[1] = { b->cur };
    Attr attrs[2];
    int n = 0;
    if (strcmp(ls->kind, "relu6") == 0) {
        attrs[n++] = attr_float("min", 0.0f);
        attrs[n++] = attr_float("max", 6.0f);
    } else if (op == OP_LEAKYRELU) {
        attrs[n++] = attr_float("alpha", ls->alpha);
    } else if (op == OP_FLATTEN) {
        attrs[n++] = attr_int("axis", 1);
    } else if (op == OP_SOFTMAX) {
        attrs[n++] = attr_int("axis", ls->axis);
    } else if (op == OP_DROPOUT) {
        attrs[n++] = attr_float("ratio", ls->p);
    }
    return add_node(b, op, name, in, 1, attrs, n, err);
}

/* Concatenation of the `from` values along `axis` (default -1, the features). */
static QsStatus build_concat(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (ls->n_from < 2)
        return qs_fail(err, QS_EINVAL, "layer '%s': concat needs at least 2 values in 'from'",
                       name);
    Attr attrs[1] = { attr_int("axis", ls->axis) };
    return add_node(b, OP_CONCAT, name, ls->from, ls->n_from, attrs, 1, err);
}

/* ReduceMean over `axes` (Deep Sets pooling: (N, n, F) -> (N, F) with axes [1]). */
static QsStatus build_mean(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (ls->n_axes < 1)
        return qs_fail(err, QS_EINVAL, "layer '%s': mean needs 'axes' (e.g. [1])", name);
    Attr attrs[2] = { attr_ints("axes", ls->axes, ls->n_axes),
                      attr_int("keepdims", ls->keepdims ? 1 : 0) };
    const char *in[1] = { b->cur };
    QsStatus st = add_node(b, OP_REDUCEMEAN, name, in, 1, attrs, 2, err);
    attr_release(&attrs[0]);
    return st;
}

/* Nearest-neighbour upsampling by an integer factor on every spatial dim, as PyTorch's
 * nn.Upsample(scale_factor=s, mode="nearest"): output index i reads input floor(i / s),
 * which is Resize's asymmetric transform with floor rounding (how torch exports it). */
static QsStatus build_upsample(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (need_rank(b, name, 3, 4, err))
        return err->code;
    int r = b->cur_shape.ndim;
    float scales[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
    for (int i = 2; i < r; i++)
        scales[i] = (float)(ls->scale ? ls->scale : 2);
    Attr attrs[4] = { attr_floats("scales", scales, r), attr_str("mode", "nearest"),
                      attr_str("coordinate_transformation_mode", "asymmetric"),
                      attr_str("nearest_mode", "floor") };
    const char *in[1] = { b->cur };
    QsStatus st = add_node(b, OP_RESIZE, name, in, 1, attrs, 4, err);
    for (int i = 0; i < 4; i++)
        attr_release(&attrs[i]);
    return st;
}

static const LayerKind layer_kinds[] = {
    { "conv", build_conv, -1 },
    { "dense", build_dense, -1 },
    { "batchnorm", build_batchnorm, -1 },
    { "scale", build_scale, -1 },
    { "maxpool", build_maxpool, -1 },
    { "avgpool", build_avgpool, -1 },
    { "relu", NULL, OP_RELU },
    { "relu6", NULL, OP_CLIP },
    { "leakyrelu", NULL, OP_LEAKYRELU },
    { "sigmoid", NULL, OP_SIGMOID },
    { "tanh", NULL, OP_TANH },
    { "gelu", NULL, OP_GELU },
    { "hardswish", NULL, OP_HARDSWISH },
    { "silu", NULL, OP_SILU },
    { "globalavgpool", NULL, OP_GLOBALAVGPOOL },
    { "flatten", NULL, OP_FLATTEN },
    { "dropout", NULL, OP_DROPOUT },
    { "softmax", NULL, OP_SOFTMAX },
    { "concat", build_concat, -1 },
    { "mean", build_mean, -1 },
    { "upsample", build_upsample, -1 },
};
enum { N_KINDS = sizeof layer_kinds / sizeof layer_kinds[0] };

int builder_kind_count(void) { return N_KINDS; }

const char *builder_kind_name(int i) { return i >= 0 && i < N_KINDS ? layer_kinds[i].name : NULL; }

QsStatus builder_begin_inputs(Builder *b, Model *m, int n, const char *const *names,
                              const Shape *samples, uint64_t seed, QsError *err)
{
    memset(b, 0, sizeof *b);
    b->m = m;
    b->budget = (Budget){ .limit = budget_max() };
    rng_seed(&b->rng, seed);
    if (n < 1)
        return qs_fail(err, QS_EINVAL, "a model needs at least one input");
    for (int i = 0; i < n; i++)
        if (graph_add_input(&m->graph, names[i], &samples[i], err))
            return err->code;
    snprintf(b->cur, sizeof b->cur, "%s", names[0]);
    value_shape(b, names[0], &b->cur_shape);
    return QS_OK;
}

QsStatus builder_begin(Builder *b, Model *m, const char *input, const Shape *sample,
                       uint64_t seed, QsError *err)
{
    return builder_begin_inputs(b, m, 1, &input, sample, seed, err);
}

/* Makes ls->from[0] the current value after checking every `from` name. */
static QsStatus take_from(Builder *b, const LayerSpec *ls, const char *name, QsError *err)
{
    if (ls->n_from < 0 || ls->n_from > BUILDER_MAX_FROM)
        return qs_fail(err, QS_EINVAL, "layer '%s': 'from' lists %d values (at most %d)", name,
                       ls->n_from, BUILDER_MAX_FROM);
    const Graph *g = &b->m->graph;
    for (int i = 0; i < ls->n_from; i++) {
        int v = graph_find_value(g, ls->from[i]);
        if (strlen(ls->from[i]) >= sizeof b->cur)
            return qs_fail(err, QS_EINVAL, "layer '%s': 'from' name '%.40s...' is longer than "
                           "%zu characters", name, ls->from[i], sizeof b->cur - 1);
        if (v < 0 || g->values[v].kind == VAL_CONST)
            return qs_fail(err, QS_EINVAL, "layer '%s': 'from' names '%s', which is neither a "
                           "graph input nor an earlier layer", name, ls->from[i]);
    }
    if (ls->n_from > 1 && strcmp(ls->kind, "concat") != 0)
        return qs_fail(err, QS_EINVAL, "layer '%s': %s reads one value, 'from' lists %d", name,
                       ls->kind, ls->n_from);
    if (ls->n_from >= 1) {
        snprintf(b->cur, sizeof b->cur, "%s", ls->from[0]);
        value_shape(b, ls->from[0], &b->cur_shape);
    }
    return QS_OK;
}

QsStatus builder_add(Builder *b, const LayerSpec *ls, QsError *err)
{
    const LayerKind *k = NULL;
    for (int i = 0; i < N_KINDS; i++)
        if (strcmp(layer_kinds[i].name, ls->kind) == 0)
            k = &layer_kinds[i];
    if (!k)
        return qs_fail(err, QS_EINVAL, "unknown layer kind '%s'", ls->kind);
    b->counter++;
    char name[96];
    if (ls->name && ls->name[0])
        snprintf(name, sizeof name, "%s", ls->name);
    else
        snprintf(name, sizeof name, "%s%d", ls->kind, b->counter);
    QsStatus st = take_from(b, ls, name, err);
    if (!st)
        st = k->build ? k->build(b, ls, name, err) : build_simple(b, ls, name, k->op, err);
    if (st)
        qs_error_prefix(err, "layer %d (%s)", b->counter, ls->kind);
    return st;
}

QsStatus builder_finish_outputs(Builder *b, int n, const char *const *names, QsError *err)
{
    Graph *g = &b->m->graph;
    if (n < 1)
        return qs_fail(err, QS_EINVAL, "a model needs at least one output");
    for (int i = 0; i < n; i++) {
        int v = graph_find_value(g, names[i]);
        if (v < 0 || g->values[v].kind == VAL_CONST)
            return qs_fail(err, QS_EINVAL, "output '%s' is neither a graph input nor a layer",
                           names[i]);
        if (graph_add_output(g, names[i], err))
            return err->code;
    }
    if (graph_finalize(g, err))
        return err->code;
    return model_pack(b->m, err);
}

QsStatus builder_finish(Builder *b, QsError *err)
{
    const char *cur = b->cur;
    return builder_finish_outputs(b, 1, &cur, err);
}
