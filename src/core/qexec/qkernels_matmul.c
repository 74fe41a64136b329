/* STEP_Q_MATMUL: MatMul of two int8 activations (attention's Q K^T and P V), numpy.matmul
 * broadcasting over the batch dims (ops/geometry.h geom_matmul).
 *   acc[i, j] = sum_k (q_a[i, k] - z_a) (q_b[k, j] - z_b)   exact in int32 (K <= 33025:
 *               qexec_lower.c lower_matmul_fits)
 *   q_y       = quant_requant_rule(acc, s_a s_b / s_out, z_out, qmin, qmax)
 * the target's requantization of a linear unit without bias. The fake-quant twin runs the
 * float MatMul on the dequantized inputs and fake-quantizes its output. Each output row is
 * computed alone, so any thread split gives the same bytes. */
#include "kern/pool.h"
#include "ops/geometry.h"
#include "ops/op.h"
#include "qexec/qkernels.h"

enum { QK_MM_COLS = 256 }; /* int32 sums of one row block on the stack */

typedef struct QkMatMul {
    const Step *s;
    MatMulGeom g;
    const int8_t *a, *b;
    int8_t *y;
} QkMatMul;

/* Output rows r0..r1 of the stacked (entries x M) rows. */
static void qk_matmul_rows(void *ctx, int64_t r0, int64_t r1)
{
    const QkMatMul *e = ctx;
    const Step *s = e->s;
    const MatMulGeom *g = &e->g;
    int32_t za = s->in_qps[0].zero_point, zb = s->in_qps[1].zero_point;
    int32_t zo = s->out_qp.zero_point;
    int32_t acc[QK_MM_COLS];
    for (int64_t r = r0; r < r1; r++) {
        int64_t t = r / g->m, i = r % g->m, ea, eb;
        geom_matmul_entry(g, t, &ea, &eb);
        const int8_t *ar = e->a + (ea * g->m + i) * g->k;
        const int8_t *bm = e->b + eb * g->k * g->n;
        int8_t *yr = e->y + r * g->n;
        for (int64_t j0 = 0; j0 < g->n; j0 += QK_MM_COLS) {
            int64_t nj = g->n - j0 < QK_MM_COLS ? g->n - j0 : QK_MM_COLS;
            for (int64_t j = 0; j < nj; j++)
                acc[j] = 0;
            for (int64_t k = 0; k < g->k; k++) {
                int32_t av = (int32_t)ar[k] - za;
                const int8_t *bk = bm + k * g->n + j0;
                for (int64_t j = 0; j < nj; j++)
                    acc[j] += av * ((int32_t)bk[j] - zb);
            }
            for (int64_t j = 0; j < nj; j++)
                yr[j0 + j] = (int8_t)quant_requant_rule(acc[j], &s->rq, zo, s->lo, s->hi);
        }
    }
}

void qk_step_matmul_run(const Step *s, StepIO *io)
{
    const Node *n = &io->g->nodes[s->head];
    if (io->fake) {
        RunCtx rc = { .scratch = io->scratch, .scratch_bytes = io->scratch_bytes };
        op_table[n->op]->forward(n, io->in, &io->out, &rc);
        float *y = tensor_f32(&io->out);
        int64_t cnt = tensor_numel(&io->out);
        for (int64_t i = 0; i < cnt; i++)
            y[i] = quant_fake(y[i], &s->out_qp);
        return;
    }
    QkMatMul e = { .s = s, .a = io->in[0]->data, .b = io->in[1]->data, .y = io->out.data };
    QS_ASSERT(geom_matmul(n, &io->in[0]->shape, &io->in[1]->shape, &e.g, NULL, NULL) == QS_OK);
    int64_t rows = e.g.n ? tensor_numel(&io->out) / e.g.n : 0;
    /* about 2^16 multiply-adds per chunk at least */
    int64_t work = e.g.k * e.g.n > 0 ? e.g.k * e.g.n : 1;
    pool_for(rows, work >= 65536 ? 1 : 65536 / work, qk_matmul_rows, &e);
}
