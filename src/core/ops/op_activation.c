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

const OpDef op_relu_def = { .name = "Relu", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_clip_def = { .name = "Clip", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_leakyrelu_def = { .name = "LeakyRelu", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_sigmoid_def = { .name = "Sigmoid", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_tanh_def = { .name = "Tanh", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_gelu_def = { .name = "Gelu", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_hardswish_def = { .name = "HardSwish", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_silu_def = { .name = "SiLU", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_identity_def = { .name = "Identity", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
const OpDef op_dropout_def = { .name = "Dropout", .min_in = 1, .max_in = 64, .infer = stub_infer, .forward = stub_forward };
