/* STEP_Q_SOFTMAX: Softmax of int8 codes along the node's axis onto the output grid (fixed
 * at 1/256, qmin on targets that fix it), span by span, by the target's rule:
 *   TSM_FLOAT  (qscope): the span dequantized, the float op's own arithmetic
 *              (ops/softmax.h softmax_span), quant_q: what the fake-quant run computes;
 *   TSM_TFLITE, TSM_ORT: the runtimes' exp tables (quant/target_softmax.c).
 * The fake-quant twin runs the float op on the dequantized input and fake-quantizes. */
#include "ops/op.h"
#include "ops/softmax.h"
#include "qexec/qkernels.h"

size_t qk_step_softmax_scratch(const Step *s, const StepIO *io)
{
    int64_t outer, len, inner;
    softmax_split(&io->g->nodes[s->head], &io->out.shape, &outer, &len, &inner);
    return (size_t)len * sizeof(float);
}

static void qk_softmax_float_span(const Step *s, const int8_t *x, int8_t *y, int64_t len,
                                  int64_t step, float *tmp)
{
    for (int64_t j = 0; j < len; j++)
        tmp[j] = quant_dq(x[j * step], &s->in_qps[0]);
    softmax_span(tmp, tmp, len, 1, false);
    for (int64_t j = 0; j < len; j++)
        y[j * step] = (int8_t)quant_q(tmp[j], &s->out_qp);
}

void qk_step_softmax_run(const Step *s, StepIO *io)
{
    const Node *nd = &io->g->nodes[s->head];
    if (io->fake) {
        RunCtx rc = { .scratch = io->scratch, .scratch_bytes = io->scratch_bytes };
        op_table[nd->op]->forward(nd, io->in, &io->out, &rc);
        float *y = tensor_f32(&io->out);
        int64_t n = tensor_numel(&io->out);
        for (int64_t i = 0; i < n; i++)
            y[i] = quant_fake(y[i], &s->out_qp);
        return;
    }
    int64_t outer, len, inner;
    softmax_split(nd, &io->out.shape, &outer, &len, &inner);
    const int8_t *x = io->in[0]->data;
    int8_t *y = io->out.data;
    float *tmp = io->scratch;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * len * inner + i;
            if (s->softmax->rule == TSM_FLOAT)
                qk_softmax_float_span(s, x + at, y + at, len, inner, tmp);
            else
                target_softmax_span(s->softmax, x + at, y + at, len, inner, tmp);
        }
}
