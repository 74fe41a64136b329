/* STEP_Q_TABLE: a unary op (Sigmoid, Tanh, HardSigmoid, HardSwish) on int8 as a lookup of
 * each input code in the 256-entry table made at lowering (qexec_lower.c lower_table:
 * quant_q(f(dq(c))) with the op's own float forward). The fake-quant twin runs the float op
 * on the dequantized input and fake-quantizes: the same values, code for code. */
#include "ops/op.h"
#include "qexec/qkernels.h"

void qk_step_table_run(const Step *s, StepIO *io)
{
    int64_t n = tensor_numel(&io->out);
    if (io->fake) {
        const Node *nd = &io->g->nodes[s->head];
        RunCtx rc = { .scratch = io->scratch, .scratch_bytes = io->scratch_bytes };
        op_table[nd->op]->forward(nd, io->in, &io->out, &rc);
        float *y = tensor_f32(&io->out);
        for (int64_t i = 0; i < n; i++)
            y[i] = quant_fake(y[i], &s->out_qp);
        return;
    }
    const int8_t *x = io->in[0]->data, *t = s->table;
    int8_t *y = io->out.data;
    for (int64_t i = 0; i < n; i++)
        y[i] = t[(int)x[i] + 128];
}
