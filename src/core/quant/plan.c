#include "quant/plan.h"

#include <stdlib.h>
#include <string.h>

#include "quant/observer.h"
#include "quant/target.h"

const PrecisionDef precision_table[PREC_COUNT] = {
    [PREC_FP32] = { .name = "fp32", .field = "fp32", .short_name = "fp32",
                    .pinned_label = "fp32+pins", .weights = "float32", .activations = "float32",
                    .weight_bits = 32, .weight_prep = WPREP_FLOAT, .linear_run = PRUN_FLOAT,
                    .other_run = PRUN_FLOAT, .onnx = PONNX_FLOAT },
    [PREC_FP16] = { .name = "fp16", .field = "fp16", .short_name = "fp16",
                    .pinned_label = "fp16+pins", .weights = "IEEE half",
                    .activations = "float32 arithmetic, every layer output rounded to half",
                    .weight_bits = 16, .weight_prep = WPREP_HALF, .linear_run = PRUN_HALF,
                    .other_run = PRUN_HALF, .half_outputs = true, .onnx = PONNX_FP16 },
    [PREC_INT8_DYN] = { .name = "int8-dyn", .field = "int8_dyn", .short_name = "i8dyn",
                        .pinned_label = "int8-dyn+pins",
                        .weights = "int8 symmetric + float scales",
                        .activations = "quantized per sample at run time from their own "
                                       "range, int32 accumulation, float output",
                        .weight_prep = WPREP_INT8,
                        .linear_run = PRUN_INT8_DYN, .other_run = PRUN_FLOAT,
                        .onnx = PONNX_NONE,
                        .onnx_none = "int8-dyn layers have no ONNX layout here "
                                     "(export fp32, fp16 or int8-static)" },
    [PREC_INT8_STATIC] = { .name = "int8-static", .field = "int8_static", .short_name = "int8",
                           .pinned_label = "int8-static+pins",
                           .weights = "int8 symmetric + float scales, int32 bias",
                           .activations = "int8 from calibrated ranges, integer kernels",
                           .weight_prep = WPREP_INT8,
                           .linear_run = PRUN_INT8_STATIC, .other_run = PRUN_INT8_STATIC,
                           .needs_calibration = true, .onnx = PONNX_QDQ },
};

int precision_find(const char *name)
{
    for (int i = 0; i < PREC_COUNT; i++)
        if (strcmp(precision_table[i].name, name) == 0)
            return i;
    return -1;
}

bool precision_is_float(PrecKind k)
{
    const PrecisionDef *d = &precision_table[k];
    return d->weight_prep == WPREP_FLOAT && d->linear_run == PRUN_FLOAT &&
           d->other_run == PRUN_FLOAT && !d->half_outputs;
}

bool precision_is_integer(PrecKind k)
{
    return precision_table[k].weight_prep == WPREP_INT8;
}

bool precision_static_activations(PrecKind k)
{
    return precision_table[k].other_run == PRUN_INT8_STATIC;
}

bool precision_half_outputs(PrecKind k)
{
    return precision_table[k].half_outputs;
}

bool precision_needs_calibration(PrecKind k)
{
    return precision_table[k].needs_calibration;
}

int precision_weight_bits(PrecKind k, const QuantOpts *q)
{
    return precision_table[k].weight_bits ? precision_table[k].weight_bits : q->bits;
}

const char *prec_onnx_name(PrecOnnx o)
{
    static const char *const names[] = {
        [PONNX_FLOAT] = "fp32", [PONNX_FP16] = "fp16", [PONNX_QDQ] = "qdq-int8",
        [PONNX_NONE] = NULL,
    };
    return names[o];
}

const char *const quant_wgran_names[2] = { "channel", "tensor" };

QuantOpts plan_default_opts(void)
{
    return (QuantOpts){ .wgran_tensor = false, .observer = OBS_MINMAX, .pct = 99.99, .bits = 8,
                        .act_symmetric = false, .target = QTGT_QSCOPE };
}

/* pin and wgran share one block of 2 * max(n_nodes, 1) bytes */
static int8_t *plan_node_block(int n_nodes)
{
    size_t n = (size_t)(n_nodes ? n_nodes : 1);
    return xmalloc(2 * n);
}

void plan_init(Plan *p, int n_nodes)
{
    p->mode = PREC_FP32;
    p->n_nodes = n_nodes;
    size_t n = (size_t)(n_nodes ? n_nodes : 1);
    p->pin = plan_node_block(n_nodes);
    p->wgran = p->pin + n;
    memset(p->pin, -1, 2 * n);
    p->q = plan_default_opts();
}

void plan_release(Plan *p)
{
    free(p->pin);
    p->pin = NULL;
    p->wgran = NULL;
    p->n_nodes = 0;
}

void plan_copy(Plan *dst, const Plan *src)
{
    size_t n = (size_t)(src->n_nodes ? src->n_nodes : 1);
    *dst = *src;
    dst->pin = plan_node_block(src->n_nodes);
    dst->wgran = dst->pin + n;
    memcpy(dst->pin, src->pin, n);
    memcpy(dst->wgran, src->wgran, n);
}

bool plan_equal(const Plan *a, const Plan *b)
{
    return a->mode == b->mode && a->n_nodes == b->n_nodes &&
           memcmp(a->pin, b->pin, (size_t)a->n_nodes) == 0 &&
           memcmp(a->wgran, b->wgran, (size_t)a->n_nodes) == 0 &&
           a->q.wgran_tensor == b->q.wgran_tensor && a->q.observer == b->q.observer &&
           a->q.pct == b->q.pct && a->q.bits == b->q.bits &&
           a->q.act_symmetric == b->q.act_symmetric && a->q.target == b->q.target;
}

PrecKind plan_node_prec(const Plan *p, int node)
{
    return p->pin[node] >= 0 ? (PrecKind)p->pin[node] : p->mode;
}

bool plan_node_wgran_tensor(const Plan *p, int node)
{
    return p->wgran[node] >= 0 ? p->wgran[node] == 1 : p->q.wgran_tensor;
}

const char *plan_target_name(const Plan *p)
{
    const QTargetDef *t = target_of(p->q.target);
    bool dyn_rule = t->dyn != TDYN_SAMPLE || t->dyn_dw != TDYN_SAMPLE;
    for (int i = 0; i < p->n_nodes; i++) {
        PrecKind k = plan_node_prec(p, i);
        /* int8-dyn depends on the target only where it has its own activation rule */
        if (precision_static_activations(k) ||
            (dyn_rule && precision_table[k].linear_run == PRUN_INT8_DYN))
            return t->name;
    }
    return NULL;
}

bool plan_needs_calibration(const Plan *p)
{
    for (int i = 0; i < p->n_nodes; i++)
        if (precision_needs_calibration(plan_node_prec(p, i)))
            return true;
    return false;
}

PrecOnnx plan_onnx_layout(const Plan *p, PrecKind *blocker)
{
    PrecOnnx layout = PONNX_FLOAT;
    for (int i = 0; i < p->n_nodes; i++) {
        PrecKind k = plan_node_prec(p, i);
        if (precision_table[k].onnx > layout) {
            layout = precision_table[k].onnx;
            if (layout == PONNX_NONE && blocker)
                *blocker = k;
        }
    }
    return layout;
}

const char *plan_label(const Plan *p)
{
    for (int i = 0; i < p->n_nodes; i++)
        if (p->pin[i] >= 0 || plan_node_wgran_tensor(p, i) != p->q.wgran_tensor)
            return precision_table[p->mode].pinned_label;
    return precision_table[p->mode].name;
}
