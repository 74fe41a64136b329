/* TopK: one qscope TopK node per ONNX output that is read (Values: indices=0, Indices:
 * indices=1, carried as floats holding exact integers; the Values when neither is read).
 * K must be a constant. */
#include <stdlib.h>

#include "onnx/onnx_ops.h"
#include "ops/op.h"

QsStatus ox_tr_topk(OxCtx *c, const OxOpRow *r)
{
    (void)r;
    OxVal *x = ox_in(c, 0);
    int64_t k;
    int nk = 0;
    if (!ox_in(c, 1))
        return ox_nfail(c, QS_EUNSUPPORTED, "the K attribute of opset 1 to 9 is not "
                        "supported (opset 10 and later take K as an input)");
    QsStatus st = ox_const_ints(c, 1, "K", &k, 1, &nk);
    if (st)
        return st;
    if (nk != 1)
        return ox_nfail(c, QS_EINVAL, "K must hold one value");
    /* by its own name: the value table may move while outputs are defined */
    const char *xname = x->name;
    for (int o = 0; o < c->n->n_out && o < 2 && !st; o++) {
        bool read = !c->used || c->used[o] || (o == 0 && !c->used[1]);
        if (!c->n->out[o][0] || !read)
            continue;
        Attr a[4] = { attr_int("k", k), attr_int("axis", ox_attr_int(c->n, "axis", -1)),
                      attr_int("largest", ox_attr_int(c->n, "largest", 1)),
                      attr_int("indices", o) };
        char *layer = o ? ox_unique_name(c, "indices") : xstrdup(c->name);
        x = ox_val(c->x, xname);
        st = ox_emit_as(c, OP_TOPK, &x, 1, a, 4, layer, c->n->out[o]);
        for (int i = 0; i < 4; i++)
            attr_release(&a[i]);
        free(layer);
        OxVal *y = st || o == 0 ? NULL : ox_val(c->x, c->n->out[o]);
        if (y)
            y->integral = true;
    }
    return st;
}
