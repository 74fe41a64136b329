#include "ops/geometry.h"

#include <string.h>

#include "ops/op.h"

QsStatus geom_parse(const Node *n, OpParams *p, QsError *err)
{
    const char *op = op_table[n->op]->name;
    bool pool = n->op == OP_MAXPOOL || n->op == OP_AVGPOOL;
    WindowParams *w = &p->win;
    const char *auto_pad = node_attr_str(n, "auto_pad", "NOTSET");
    if (strcmp(auto_pad, "NOTSET") != 0)
        return qs_fail(err, QS_EUNSUPPORTED, "%s '%s': auto_pad=%s is not supported; give "
                       "explicit pads", op, n->name, auto_pad);
    if (n->op == OP_CONVTRANSPOSE && node_attr(n, "output_shape"))
        return qs_fail(err, QS_EUNSUPPORTED,
                       "ConvTranspose '%s': output_shape is not supported; give explicit pads",
                       n->name);
    if (pool && !node_attr(n, "kernel_shape"))
        return qs_fail(err, QS_EFORMAT, "%s '%s': attribute kernel_shape is required", op,
                       n->name);
    w->group = node_attr_int(n, "group", 1);
    op_param_ints(n, "kernel_shape", &w->kernel_shape);
    op_param_ints(n, "strides", &w->strides);
    op_param_ints(n, "pads", &w->pads);
    op_param_ints(n, "dilations", &w->dilations);
    op_param_ints(n, "output_padding", &w->output_padding);
    w->ceil_mode = node_attr_int(n, "ceil_mode", 0);
    w->count_include_pad = n->op == OP_AVGPOOL ? node_attr_int(n, "count_include_pad", 0) : 0;
    return QS_OK;
}

QsStatus geom_ints(const Node *n, const char *name, const ParamInts *a, int count, int64_t def,
                   int64_t lo, int64_t *out, QsError *err)
{
    const char *op = op_table[n->op]->name;
    if (a->n < 0 && a->given)
        return qs_fail(err, QS_EFORMAT, "%s '%s': attribute %s must be a list of ints", op,
                       n->name, name);
    if (a->n < 0) {
        for (int i = 0; i < count; i++)
            out[i] = def;
        return QS_OK;
    }
    if (a->n != count)
        return qs_fail(err, QS_EFORMAT, "%s '%s': %s has %d values, expected %d", op, n->name,
                       name, a->n, count);
    for (int i = 0; i < count; i++) {
        out[i] = a->v[i];
        if (out[i] < lo || out[i] > GEOM_ATTR_MAX)
            return qs_fail(err, QS_EINVAL, "%s '%s': %s[%d] = %lld, must be in [%lld, %d]", op,
                           n->name, name, i, (long long)out[i], (long long)lo, GEOM_ATTR_MAX);
    }
    return QS_OK;
}

void geom_window(int sp, const int64_t *k, const int64_t *s, const int64_t *d,
                 const int64_t *pads, Window *w)
{
    if (sp == 2) {
        w->kh = k[0], w->kw = k[1], w->sh = s[0], w->sw = s[1], w->dh = d[0], w->dw = d[1];
        w->pt = pads[0], w->pl = pads[1], w->pb = pads[2], w->pr = pads[3];
    } else {
        w->kh = 1, w->kw = k[0], w->sh = 1, w->sw = s[0], w->dh = 1, w->dw = d[0];
        w->pt = 0, w->pl = pads[0], w->pb = 0, w->pr = pads[1];
    }
}

void geom_node_window(const Node *n, int sp, const int64_t *kernel, Window *w)
{
    OpParams tmp;
    const WindowParams *p = &op_params(n, &tmp, NULL)->win;
    int64_t ks[2], st[2], dl[2], pd[4];
    bool ok = !geom_ints(n, "strides", &p->strides, sp, 1, 1, st, NULL) &&
              !geom_ints(n, "dilations", &p->dilations, sp, 1, 1, dl, NULL) &&
              !geom_ints(n, "pads", &p->pads, 2 * sp, 0, 0, pd, NULL) &&
              (kernel || !geom_ints(n, "kernel_shape", &p->kernel_shape, sp, 1, 1, ks, NULL));
    QS_ASSERT(ok); /* infer accepted them */
    geom_window(sp, kernel ? kernel : ks, st, dl, pd, w);
}

int64_t geom_extent(int64_t k, int64_t d) { return (k - 1) * d + 1; }

int64_t geom_out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1,
                     bool ceil_mode)
{
    int64_t span = in + p0 + p1 - geom_extent(k, d);
    int64_t out = (ceil_mode ? span + s - 1 : span) / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p0)
        out--;
    return out;
}

int64_t geom_transposed_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0,
                            int64_t p1, int64_t out_pad)
{
    return (in - 1) * s - p0 - p1 + geom_extent(k, d) + out_pad;
}


QsStatus geom_matmul(const Node *n, const Shape *a, const Shape *b, MatMulGeom *g,
                     Shape *out, QsError *err)
{
    char sa[96], sb[96];
    int ra = a->ndim, rb = b->ndim;
    g->m = ra >= 2 ? a->dim[ra - 2] : 1;
    g->k = a->dim[ra - 1];
    int64_t kb = rb >= 2 ? b->dim[rb - 2] : b->dim[0];
    g->n = rb >= 2 ? b->dim[rb - 1] : 1;
    if (g->k != kb)
        return qs_fail(err, QS_ESHAPE, "MatMul '%s': A %s has K=%lld but B %s has K=%lld",
                       n->name, shape_format(a, sa, sizeof sa), (long long)g->k,
                       shape_format(b, sb, sizeof sb), (long long)kb);
    int na = ra > 2 ? ra - 2 : 0, nb = rb > 2 ? rb - 2 : 0;
    g->rank = na > nb ? na : nb;
    for (int i = 0; i < g->rank; i++) {
        int ia = na - g->rank + i, ib = nb - g->rank + i;
        g->ba[i] = ia >= 0 ? a->dim[ia] : 1;
        g->bb[i] = ib >= 0 ? b->dim[ib] : 1;
        if (g->ba[i] != g->bb[i] && g->ba[i] != 1 && g->bb[i] != 1)
            return qs_fail(err, QS_ESHAPE,
                           "MatMul '%s': batch dimensions of A %s and B %s do not broadcast",
                           n->name, shape_format(a, sa, sizeof sa), shape_format(b, sb, sizeof sb));
        g->bo[i] = g->ba[i] == 1 ? g->bb[i] : g->ba[i];
    }
    if (out) {
        out->ndim = 0;
        for (int i = 0; i < g->rank; i++)
            out->dim[out->ndim++] = g->bo[i];
        if (ra >= 2)
            out->dim[out->ndim++] = g->m;
        if (rb >= 2)
            out->dim[out->ndim++] = g->n;
    }
    return QS_OK;
}

void geom_matmul_entry(const MatMulGeom *g, int64_t t, int64_t *ea, int64_t *eb)
{
    /* walk the output batch index from the last dim, mapping it into A and B with stride
     * 0 on broadcast dims */
    int64_t rem = t, oa = 0, ob = 0, sa = 1, sb = 1;
    for (int i = g->rank - 1; i >= 0; i--) {
        int64_t idx = rem % g->bo[i];
        rem /= g->bo[i];
        if (g->ba[i] != 1)
            oa += idx * sa;
        if (g->bb[i] != 1)
            ob += idx * sb;
        sa *= g->ba[i];
        sb *= g->bb[i];
    }
    *ea = oa;
    *eb = ob;
}
