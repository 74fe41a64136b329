/* TFLite export of the ops transformers and detectors add: Slice (STRIDED_SLICE), Expand
 * (BROADCAST_TO), MatMul of two activations (BATCH_MATMUL), Pow (MUL, SQRT or POW), Sqrt
 * (SQRT), HardSigmoid (MUL, ADD, MAXIMUM, MINIMUM) and the Erf form of GELU that torch
 * exports (GELU). Shapes are the export batch's,
 * so every index, shape and broadcast is a constant of the file. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/geometry.h"
#include "ops/op.h"
#include "tflite/tflite_export_int.h"

/* An int8 node that TFLite would run on its input's parameters (a copy: STRIDED_SLICE,
 * BROADCAST_TO) but whose plan gives its output other ones: qscope requantizes, which is
 * quant(dq(code)), what the float op between DEQUANTIZE and QUANTIZE computes. */
static TxNode seq_copy_node(const Tx *x, const TxNode *tn, int v)
{
    TxNode f = *tn;
    QParams a, b;
    if (tn->q && !(qmodel_value_qparams(x->q, v, &a) && qmodel_value_qparams(x->q, tn->out, &b) &&
                   a.scale == b.scale && a.zero_point == b.zero_point))
        f.q = false;
    return f;
}

/* The one value of a scalar float constant v, or NAN when v is not one. */
static float seq_scalar(const Tx *x, int v)
{
    if (v < 0 || x->g->values[v].kind != VAL_CONST)
        return NAN;
    const Tensor *t = x->g->values[v].data;
    if (!t || t->dtype != DT_F32 || shape_numel(&t->shape) != 1)
        return NAN;
    return tensor_f32(t)[0];
}

/* The input of node n that is not value v (n has two inputs), or -1. */
static int seq_other(const Node *n, int v)
{
    if (n->n_in != 2)
        return -1;
    return n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -1;
}

void tx_slice(Tx *x, const TxNode *tn_in)
{
    const Node *n = tn_in->n;
    TxNode tn = seq_copy_node(x, tn_in, n->in[0]);
    const Shape *xs = &x->shapes[n->in[0]];
    Shape ys;
    int64_t begin[QS_MAX_DIMS], step[QS_MAX_DIMS];
    if (geom_slice(n, xs, &ys, begin, step, x->err)) {
        x->st = x->err ? x->err->code : QS_EINVAL;
        return;
    }
    int r = xs->ndim;
    int32_t b[QS_MAX_DIMS], e[QS_MAX_DIMS], s[QS_MAX_DIMS];
    int end_mask = 0;
    for (int a = 0; a < r; a++) {
        int64_t end = begin[a] + ys.dim[a] * step[a];
        b[a] = (int32_t)begin[a];
        s[a] = (int32_t)step[a];
        e[a] = (int32_t)end;
        /* a negative step through index 0 ends before it: no end index says that */
        if (end < 0)
            end_mask |= 1 << a;
    }
    const int64_t nd = r;
    int extra[3] = { tx_const_i32(x, "begin", 1, &nd, b), tx_const_i32(x, "end", 1, &nd, e),
                     tx_const_i32(x, "strides", 1, &nd, s) };
    int in = tx_op_in(x, &tn, 0);
    if (x->st)
        return;
    int out = tx_out(x, tn.out, tn.q ? TX_Q : TX_F);
    /* version 4 added rank 5, 2 int8 */
    TflOpts o = { .kind = TFL_OPT_STRIDED_SLICE, .end_mask = end_mask };
    tfl_op(&x->t, TFL_OP_STRIDED_SLICE, r > 4 ? 4 : tn.q ? 2 : 1,
           (int[]){ in, extra[0], extra[1], extra[2] }, 4, out, &o);
}

void tx_expand(Tx *x, const TxNode *tn_in)
{
    const Node *n = tn_in->n;
    int v = n->in[0];
    TxNode tn = seq_copy_node(x, tn_in, v);
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, tn.out, TX_PLAIN, d);
    int32_t shp[QS_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shp[i] = (int32_t)d[i];
    const int64_t k = nd;
    int st = tx_const_i32(x, "shape", 1, &k, shp);
    int in;
    if (x->g->values[v].kind == VAL_CONST) {
        /* a constant (ViT's class token) is written as float; readers quantize it */
        const Tensor *t = x->g->values[v].data;
        tn.q = false;
        in = tx_const_f32(x, x->g->values[v].name, t->shape.ndim, t->shape.dim,
                          tensor_f32(t));
    } else {
        in = tx_op_in(x, &tn, 0);
    }
    if (x->st)
        return;
    int out = tx_out(x, tn.out, tn.q ? TX_Q : TX_F);
    tx_op(x, TFL_OP_BROADCAST_TO, tn.q, (int[]){ in, st }, 2, out, NULL);
}

/* An int8 MatMul of two activations is written as the float BATCH_MATMUL between
 * DEQUANTIZE and QUANTIZE: LiteRT's int8 BATCH_MATMUL does not requantize as qscope's
 * targets do (measured on the zoo's ViT: sums whose exact value is k + 0.4968 came out
 * k + 1, an effective multiplier about 1e-4 larger), while the float product of the
 * dequantized codes is the exact integer sum times s_a s_b up to float rounding, so
 * QUANTIZE gives the target's code except within a few ulps of a tie. */
void tx_batch_matmul(Tx *x, const TxNode *tn_in)
{
    TxNode f = *tn_in;
    f.q = false;
    const TxNode *tn = &f;
    const Node *n = tn->n;
    for (int i = 0; i < 2; i++) {
        int r = x->shapes[n->in[i]].ndim;
        if (r < 2 || r > 5 || x->g->values[n->in[i]].kind == VAL_CONST) {
            tx_fail(x, QS_EUNSUPPORTED, "MatMul '%s': BATCH_MATMUL takes two activations of "
                    "rank 2 to 5 (input %d has rank %d%s)", n->name, i, r,
                    x->g->values[n->in[i]].kind == VAL_CONST ? " and is a constant" : "");
            return;
        }
    }
    int in[2] = { tx_op_in(x, tn, 0), tx_op_in(x, tn, 1) };
    if (x->st)
        return;
    int out = tx_out(x, tn->out, tn->q ? TX_Q : TX_F);
    tx_op(x, TFL_OP_BATCH_MATMUL, tn->q, in, 2, out,
          &(TflOpts){ .kind = TFL_OPT_BATCH_MATMUL });
}

/* Pow by a constant: x * x for 2 (exact, as qscope computes it), SQRT for 0.5, else POW.
 * An int8 Pow is qscope's table of the float op: written in float between DEQUANTIZE and
 * QUANTIZE, which computes it. */
void tx_pow(Tx *x, const TxNode *tn_in)
{
    TxNode tn = *tn_in;
    tn.q = false;
    const Node *n = tn.n;
    float p = seq_scalar(x, n->in[1]);
    if (x->g->values[n->in[0]].kind == VAL_CONST || isnan(p)) {
        tx_fail(x, QS_EUNSUPPORTED, "Pow '%s': written for an activation raised to a scalar "
                "constant only", n->name);
        return;
    }
    if (p == 2.0f) {
        int a = tx_op_in(x, &tn, 0);
        if (x->st)
            return;
        int out = tx_out(x, tn.out, TX_F);
        tx_op(x, TFL_OP_MUL, false, (int[]){ a, a }, 2, out, &(TflOpts){ .kind = TFL_OPT_MUL });
        return;
    }
    if (p == 1.0f || p == 0.5f) {
        /* qscope's x^1 is x; its x^0.5 is powf, which sqrtf equals (both correctly
         * rounded) except that powf(-0, 0.5) is +0 and sqrtf(-0) is -0: equal values */
        if (p == 0.5f) {
            tx_op_unary(x, &tn, TFL_OP_SQRT, NULL, NULL, 0);
            return;
        }
    }
    int r = x->shapes[tn.out].ndim;
    int c = tx_broadcast_const(x, &tn, n->in[1], r, x->clast[tn.out], "exponent");
    if (x->st)
        return;
    tx_op_unary(x, &tn, TFL_OP_POW, &(TflOpts){ .kind = TFL_OPT_POW }, &c, 1);
}

/* An int8 Sqrt is qscope's table of sqrtf: float SQRT between DEQUANTIZE and QUANTIZE. */
void tx_sqrt(Tx *x, const TxNode *tn_in)
{
    TxNode tn = *tn_in;
    tn.q = false;
    tx_op_unary(x, &tn, TFL_OP_SQRT, NULL, NULL, 0);
}

void tx_erf(Tx *x, const TxNode *tn)
{
    tx_fail(x, QS_EUNSUPPORTED, "Erf '%s' has no TFLite form: TFLite has no builtin Erf; "
            "only torch's GELU, x * (1 + Erf(x / sqrt(2))) * 0.5 with each step read once, "
            "is written (GELU)", tn->n->name);
}

/* The node that alone reads value v, when its op is `op`, or NULL. */
static const Node *seq_reader(const Tx *x, int v, int op)
{
    int r = v >= 0 ? x->reader[v] : -1;
    return r >= 0 && x->g->nodes[r].op == op ? &x->g->nodes[r] : NULL;
}

bool tx_gelu(Tx *x, const TxNode *div)
{
    /* Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x) -> Mul(0.5), as torch exports nn.GELU() */
    const Node *d = div->n;
    int xv = d->in[0];
    if (d->op != OP_DIV || fabsf(seq_scalar(x, d->in[1]) - 1.41421356f) > 1e-6f)
        return false;
    const Node *e = seq_reader(x, d->out, OP_ERF);
    const Node *a = e ? seq_reader(x, e->out, OP_ADD) : NULL;
    const Node *m1 = a ? seq_reader(x, a->out, OP_MUL) : NULL;
    const Node *m2 = m1 ? seq_reader(x, m1->out, OP_MUL) : NULL;
    if (!m2 || seq_scalar(x, seq_other(a, e->out)) != 1.0f || seq_other(m1, a->out) != xv ||
        seq_scalar(x, seq_other(m2, m1->out)) != 0.5f)
        return false;
    const Node *chain[4] = { e, a, m1, m2 };
    TxNode g = *div;
    g.out = m2->out;
    for (int i = 0; i < 4; i++) {
        int ni = (int)(chain[i] - x->g->nodes);
        x->fused[ni] = true;
        /* int8 GELU is TFLite's table of the float function: where qscope runs the five
         * steps on int8, the file runs the one table from x's codes to the last step's */
        QStepView s = qmodel_step(x->q, qmodel_step_of(x->q, ni));
        if (i == 3)
            g.q = div->q && s.kind == QSTEP_INT8;
    }
    x->clast[g.out] = x->clast[xv];
    tx_op_unary(x, &g, TFL_OP_GELU, &(TflOpts){ .kind = TFL_OPT_GELU }, NULL, 0);
    return true;
}

/* HardSigmoid, max(0, min(1, alpha x + beta)), which TFLite has no builtin for: MUL, ADD,
 * MAXIMUM and MINIMUM in float, each one float32 operation as qscope's forward (an int8
 * HardSigmoid is qscope's table of it: the same between DEQUANTIZE and QUANTIZE). */
void tx_hardsigmoid(Tx *x, const TxNode *tn_in)
{
    TxNode tn = *tn_in;
    tn.q = false;
    const HardSigmoidParams *p = &tn.n->params.hardsigmoid;
    int in = tx_op_in(x, &tn, 0);
    if (x->st)
        return;
    int64_t d[QS_MAX_DIMS];
    int nd = tx_dims(x, tn.out, x->clast[tn.out], d);
    static const struct { int code, opt; const char *what; } steps[4] = {
        { TFL_OP_MUL, TFL_OPT_MUL, "alpha" }, { TFL_OP_ADD, TFL_OPT_ADD, "beta" },
        { TFL_OP_MAXIMUM, TFL_OPT_MAXIMUM_MINIMUM, "min" },
        { TFL_OP_MINIMUM, TFL_OPT_MAXIMUM_MINIMUM, "max" },
    };
    const float c[4] = { p->alpha, p->beta, 0.0f, 1.0f };
    for (int i = 0; i < 4; i++) {
        char name[300];
        snprintf(name, sizeof name, "%s::%s", tn.n->name, steps[i].what);
        int k = tx_const_f32(x, steps[i].what, 0, NULL, &c[i]);
        int t = i < 3 ? tx_tmp(x, name, TFL_FLOAT32, nd, d, NULL) : tx_out(x, tn.out, TX_F);
        tx_op(x, steps[i].code, false, (int[]){ in, k }, 2, t,
              &(TflOpts){ .kind = steps[i].opt });
        in = t;
    }
}
