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

const OpDef op_flatten_def = { .name = "Flatten", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_reshape_def = { .name = "Reshape", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_transpose_def = { .name = "Transpose", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_concat_def = { .name = "Concat", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
