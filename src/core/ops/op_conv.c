/* PLACEHOLDER: replaced by the real implementation. */
#include "op.h"

static QsStatus stub_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    (void)in; (void)out;
    return qs_fail(err, QS_EUNSUPPORTED, "op of node '%s' not implemented yet", n->name);
}

static void stub_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    (void)n; (void)in; (void)out; (void)rc;
}

const OpDef op_conv_def = { .name = "Conv", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
