/* int8 elementwise steps over numpy-broadcast operands (ops/broadcast.h BCAST_WALK):
 *   STEP_Q_MUL: p = (q_a - z_a)(q_b - z_b), exact in int32 (|p| <= 255^2), onto the output
 *     grid by the target's rule (quant/target.h TargetMulRule): the linear requantization
 *     of p by s_a s_b / s_out (quant_requant_rule on s->rq), or ONNX Runtime's QLinearMul,
 *     rint((float)p ratio + (float)z_out) with ratio = (s_a s_b) / s_out in float (the
 *     multiplier target_requant_linear makes for its fp32 rule), saturated;
 *   STEP_Q_ADD whose operands differ in shape from the output (a per-channel gate, a
 *     residual against a broadcast term): target_add_apply at each element's offsets.
 * The fake-quant twins compute in float on the dequantized inputs and fake-quantize. */
#include <math.h>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "qexec/qkernels.h"

static int8_t qk_mul_ort(int32_t p, float ratio, int32_t zo, int32_t lo, int32_t hi)
{
    int32_t v = (int32_t)nearbyintf((float)p * ratio + (float)zo);
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

void qk_step_mul_run(const Step *s, StepIO *io)
{
    const Shape *o = &io->out.shape;
    int64_t sa[QS_MAX_DIMS], sb[QS_MAX_DIMS];
    shape_broadcast_strides(&io->in[0]->shape, o, sa);
    shape_broadcast_strides(&io->in[1]->shape, o, sb);
    if (io->fake) {
        const float *a = tensor_f32(io->in[0]), *b = tensor_f32(io->in[1]);
        float *y = tensor_f32(&io->out);
        BCAST_WALK(o, sa, sb, y[i] = quant_fake(a[ia] * b[ib], &s->out_qp));
        return;
    }
    const int8_t *a = io->in[0]->data, *b = io->in[1]->data;
    int8_t *y = io->out.data;
    int32_t za = s->in_qps[0].zero_point, zb = s->in_qps[1].zero_point;
    int32_t zo = s->out_qp.zero_point;
    if (s->target->mul == TMUL_ORT)
        BCAST_WALK(o, sa, sb,
                   y[i] = qk_mul_ort(((int32_t)a[ia] - za) * ((int32_t)b[ib] - zb),
                                     s->rq.scale, zo, s->lo, s->hi));
    else
        BCAST_WALK(o, sa, sb,
                   y[i] = (int8_t)quant_requant_rule(((int32_t)a[ia] - za) *
                                                         ((int32_t)b[ib] - zb),
                                                     &s->rq, zo, s->lo, s->hi));
}

void qk_add_broadcast(const Step *s, StepIO *io)
{
    const Shape *o = &io->out.shape;
    int64_t sa[QS_MAX_DIMS], sb[QS_MAX_DIMS];
    shape_broadcast_strides(&io->in[0]->shape, o, sa);
    shape_broadcast_strides(&io->in[1]->shape, o, sb);
    if (io->fake) {
        const float *a = tensor_f32(io->in[0]), *b = tensor_f32(io->in[1]);
        float *y = tensor_f32(&io->out);
        BCAST_WALK(o, sa, sb, y[i] = quant_fake(a[ia] + b[ib], &s->out_qp));
        return;
    }
    const int8_t *a = io->in[0]->data, *b = io->in[1]->data;
    int8_t *y = io->out.data;
    BCAST_WALK(o, sa, sb, y[i] = (int8_t)target_add_apply(&s->add, a[ia], b[ib]));
}
