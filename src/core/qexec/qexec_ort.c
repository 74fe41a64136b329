/* Target ort: the linear units ONNX Runtime (CPU, x86-64, graph optimisation 'all') does
 * not fuse into a QLinear kernel, computed as it computes them. docs/quantization.md
 * ("Targets", "What ONNX Runtime fuses") states the rules and the runtime's source files.
 *
 * Which groups fuse. On x86-64 ONNX Runtime does not allow int8 activations in its QDQ
 * fusions; QDQS8ToU8Transformer turns a QuantizeLinear -> DequantizeLinear pair into
 * uint8 only when the QuantizeLinear has exactly one output edge. EnsureUniqueDQForNodeUnit
 * has first given every consumer of a DequantizeLinear its own copy (keeping the original
 * for a graph output), so a value read by two nodes, or read by one and also a graph
 * output, stays int8. ConvNodeGroupSelector then refuses a Conv whose input or output is
 * int8, and MatMulNodeGroupSelector a MatMul whose input is: those run in float between
 * DequantizeLinear and QuantizeLinear. A MatMul (a Dense on a rank-3 input, exported as
 * MatMul + Add) has no QuantizeLinear of its own: it becomes MatMulIntegerToFloat and the
 * bias Add stays a float Add. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qexec/qexec_internal.h"
#include "qexec/qgemm.h"

/* ---- which groups ONNX Runtime fuses -------------------------------------------------- */

/* edges[v]: the output edges of value v's QuantizeLinear once every consumer has its own
 * DequantizeLinear: the node inputs reading v through it, plus one when the
 * DequantizeLinear produces a graph output. The export gives a value written as int8 one
 * QuantizeLinear/DequantizeLinear pair that every reader reads; a value written in float
 * has the pair for its int8 readers only. */
static void ort_edges(const QModel *q, int *edges)
{
    const Graph *g = q->g;
    bool *int8_out = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *int8_out);
    if (!int8_out)
        return;
    for (int i = 0; i < q->n_steps; i++)
        if (q->steps[i].out_rep == REP_Q)
            int8_out[q->steps[i].out] = true;
    for (int i = 0; i < q->n_steps; i++) {
        const Step *s = &q->steps[i];
        const Node *n = &g->nodes[s->head];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && g->values[v].kind != VAL_CONST && (s->in_rep == REP_Q || int8_out[v]))
                edges[v]++;
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (int8_out[g->outputs[i]])
            edges[g->outputs[i]]++;
    free(int8_out);
}

void qexec_ort_plan(QModel *q)
{
    if (!target_of(q->plan.q.target)->ort_graph)
        return;
    const Graph *g = q->g;
    int *edges = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *edges);
    if (!edges)
        return; /* the fused rule everywhere: the only cost is ties on unfused groups */
    ort_edges(q, edges);
    for (int i = 0; i < q->n_steps; i++) {
        Step *s = &q->steps[i];
        if (s->kind != STEP_LIN_Q || !s->lin)
            continue;
        int vin = g->nodes[s->head].in[0];
        bool in8 = edges[vin] >= 2, out8 = edges[s->out] >= 2; /* stays int8 (not uint8) */
        LinUnit *u = s->lin;
        if (u->kind != LIN_GEMM)
            u->ort = in8 || out8 ? LORT_FLOAT_CONV : LORT_QLINEAR;
        else if (g->values[vin].shape.ndim > 2 && !in8)
            u->ort = LORT_INT_TO_FLOAT;
        /* A Gemm whose input and output types differ, and a MatMul on an int8 input, run
         * as float Gemm / MatMul, whose MLAS order is not modelled: they keep the fused
         * rule (no bundled model has one; docs/quantization.md). */
    }
    free(edges);
}

/* ---- MatMulIntegerToFloat + Add ------------------------------------------------------- */

static size_t ort_align(size_t n) { return (n + QX_ALIGN - 1) & ~(size_t)(QX_ALIGN - 1); }

/* matmul_integer_to_float.cc with MLAS's scale output processor: y = (float)acc * m[c]
 * with m[c] = s_x * s_w[c] in float; the Add of the DequantizeLinear'd int32 bias
 * ((float)bq * m[c], the export's bias scale) in float; then QuantizeLinear. */
static void ort_int_to_float(const LinUnit *u, const int8_t *x, int64_t rows, int8_t *y,
                             int32_t *acc)
{
    /* the work area after the accumulators (qexec_ort_scratch) */
    void *work = (char *)acc + ort_align((size_t)(rows * u->oc) * sizeof(int32_t));
    qgemm_packed_store(&u->wp[0], rows, x, u->k, work, acc, u->oc);
    int32_t zx = u->in_qp.zero_point;
    for (int64_t c = 0; c < u->oc; c++) {
        float m = u->in_qp.scale * u->ws[u->n_wscales > 1 ? c : 0];
        float b = (float)u->bq[c] * m;
        for (int64_t r = 0; r < rows; r++) {
            int32_t a = acc[r * u->oc + c] - zx * u->sumw[c]; /* exact: |a| < 2^31 */
            float v = (float)a * m;
            v = v + b;
            int32_t qv = quant_q(v, &u->out_qp);
            y[r * u->oc + c] = (int8_t)(qv < u->lo ? u->lo : qv > u->hi ? u->hi : qv);
        }
    }
}

/* ---- MLAS float convolution ----------------------------------------------------------- */

/* The K slice MLAS's SGEMM steps through (convolve.cpp MlasConvOperation and sgemm.cpp
 * MlasSgemmOperation, MLAS_SGEMM_STRIDEN = MLAS_SGEMM_STRIDEK = 128) for n output columns
 * and depth k. */
static int64_t ort_stride_k(int64_t n, int64_t k)
{
    int64_t sk = 128, sn = 128;
    if (n >= k) {
        while (sk / 2 >= k)
            sk /= 2;
    } else {
        while (sn > 16 && sn / 2 >= n) {
            sk *= 2;
            sn /= 2;
        }
    }
    return sk;
}

/* a[j] = fma(w[i], col[i][j], a[j]) for i in [0, kn): the kernels' one accumulator per
 * output, one vfmadd231ps per k (FgemmKernelAvx512FCommon.h, FgemmKernelFma3Common.h). fmaf
 * is one rounding wherever it runs; the clone with FMA instructions is only faster. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("fma", "default")))
#endif
static void ort_fma_rows(const float *w, const float *col, int64_t kn, int64_t n, float *a)
{
    for (int64_t j = 0; j < n; j++)
        a[j] = 0.0f;
    for (int64_t i = 0; i < kn; i++) {
        const float wi = w[i], *ci = col + i * n;
        for (int64_t j = 0; j < n; j++)
            a[j] = fmaf(wi, ci[j], a[j]);
    }
}

/* col (K, OH*OW) of one group's float input xg (cg, h, w), zeros outside (MlasConvIm2Col). */
static void ort_im2col(const ConvAttrs *a, int64_t cg, int64_t h, int64_t w, int64_t oh,
                       int64_t ow, const float *xg, float *col)
{
    int64_t n = oh * ow;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t i = 0; i < a->w.kh; i++)
            for (int64_t j = 0; j < a->w.kw; j++) {
                float *r = col + ((c * a->w.kh + i) * a->w.kw + j) * n;
                for (int64_t y = 0; y < oh; y++) {
                    int64_t ih = y * a->w.sh - a->w.pt + i * a->w.dh;
                    for (int64_t x = 0; x < ow; x++) {
                        int64_t iw = x * a->w.sw - a->w.pl + j * a->w.dw;
                        r[y * ow + x] = ih >= 0 && ih < h && iw >= 0 && iw < w
                                            ? xg[(c * h + ih) * w + iw] : 0.0f;
                    }
                }
            }
}


/* DequantizeLinear ((float)(q - z) s), conv.cc's MlasConv (im2col, then per K slice of
 * ort_stride_k a fresh FMA chain added to the output, the first stored), the bias added
 * (MlasActivation), QuantizeLinear (x / s rounded to even, + z, saturated). */
static void ort_float_conv(const LinUnit *u, const Tensor *x, Tensor *y, char *cur)
{
    CDims d = qk_dims(&u->ca, &x->shape, &y->shape);
    int64_t ohw = d.oh * d.ow, per_in = d.c * d.h * d.w, sk = ort_stride_k(ohw, u->k);
    float *xf = (float *)cur;
    float *col = xf + per_in;
    float *acc = col + u->k * ohw, *part = acc + ohw;
    float *wrow = part + ohw;
    const int8_t *xq = x->data;
    int8_t *yq = y->data;
    for (int64_t b = 0; b < d.n; b++) {
        for (int64_t i = 0; i < per_in; i++)
            xf[i] = quant_dq(xq[b * per_in + i], &u->in_qp);
        for (int64_t g = 0; g < u->ca.group; g++) {
            ort_im2col(&u->ca, d.cg, d.h, d.w, d.oh, d.ow, xf + g * d.cg * d.h * d.w, col);
            for (int64_t oc = 0; oc < d.ocg; oc++) {
                int64_t c = g * d.ocg + oc;
                float sw = u->ws[u->n_wscales > 1 ? c : 0];
                for (int64_t i = 0; i < u->k; i++)
                    wrow[i] = sw * (float)u->wq[c * u->k + i];
                for (int64_t k0 = 0; k0 < u->k; k0 += sk) {
                    int64_t kn = u->k - k0 < sk ? u->k - k0 : sk;
                    ort_fma_rows(wrow + k0, col + k0 * ohw, kn, ohw, k0 ? part : acc);
                    if (k0)
                        for (int64_t j = 0; j < ohw; j++)
                            acc[j] = acc[j] + part[j];
                }
                float bias = (float)u->bq[c] * (u->in_qp.scale * sw);
                int8_t *yc = yq + (b * d.oc + c) * ohw;
                for (int64_t j = 0; j < ohw; j++) {
                    int32_t qv = quant_q(acc[j] + bias, &u->out_qp);
                    yc[j] = (int8_t)(qv < u->lo ? u->lo : qv > u->hi ? u->hi : qv);
                }
            }
        }
    }
}

size_t qexec_ort_scratch(const Step *s, const Shape *x, const Shape *y)
{
    const LinUnit *u = s->lin;
    if (u->ort == LORT_INT_TO_FLOAT)
        return ort_align((size_t)shape_numel(y) * sizeof(int32_t)) +
               qgemm_work_bytes(u->oc, u->k);
    CDims d = qk_dims(&u->ca, x, y);
    int64_t ohw = d.oh * d.ow;
    return (size_t)(d.c * d.h * d.w + u->k * ohw + 2 * ohw + u->k) * sizeof(float);
}

void qexec_ort_run(const Step *s, const Tensor *x, Tensor *y, void *scratch)
{
    const LinUnit *u = s->lin;
    if (u->ort == LORT_INT_TO_FLOAT)
        ort_int_to_float(u, x->data, tensor_numel(y) / u->oc, y->data, scratch);
    else
        ort_float_conv(u, x, y, scratch);
}
