#include "quant/plan.h"

#include <stdlib.h>
#include <string.h>

#include "quant/observer.h"

const PrecisionDef precision_table[PREC_COUNT] = {
    [PREC_FP32] = { .name = "fp32", .weights = "float32", .activations = "float32",
                    .weight_bytes = 4 },
    [PREC_FP16] = { .name = "fp16", .weights = "IEEE half",
                    .activations = "float32 arithmetic, every layer output rounded to half",
                    .weight_bytes = 2 },
    [PREC_INT8_DYN] = { .name = "int8-dyn", .weights = "int8 symmetric + float scales",
                        .activations = "quantized per sample at run time from their own "
                                       "range, int32 accumulation, float output",
                        .weight_bytes = 1 },
    [PREC_INT8_STATIC] = { .name = "int8-static", .weights = "int8 symmetric + float scales, "
                                                             "int32 bias",
                           .activations = "int8 from calibrated ranges, integer kernels",
                           .weight_bytes = 1, .needs_calibration = true },
};

int precision_find(const char *name)
{
    for (int i = 0; i < PREC_COUNT; i++)
        if (strcmp(precision_table[i].name, name) == 0)
            return i;
    return -1;
}

const char *const quant_wgran_names[2] = { "channel", "tensor" };

QuantOpts plan_default_opts(void)
{
    return (QuantOpts){ .wgran_tensor = false, .observer = OBS_MINMAX, .pct = 99.99, .bits = 8,
                        .act_symmetric = false };
}

void plan_init(Plan *p, int n_nodes)
{
    p->mode = PREC_FP32;
    p->n_nodes = n_nodes;
    p->pin = xmalloc((size_t)(n_nodes ? n_nodes : 1));
    memset(p->pin, -1, (size_t)(n_nodes ? n_nodes : 1));
    p->q = plan_default_opts();
}

void plan_release(Plan *p)
{
    free(p->pin);
    p->pin = NULL;
    p->n_nodes = 0;
}

void plan_copy(Plan *dst, const Plan *src)
{
    *dst = *src;
    dst->pin = xmalloc((size_t)(src->n_nodes ? src->n_nodes : 1));
    memcpy(dst->pin, src->pin, (size_t)(src->n_nodes ? src->n_nodes : 1));
}

bool plan_equal(const Plan *a, const Plan *b)
{
    return a->mode == b->mode && a->n_nodes == b->n_nodes &&
           memcmp(a->pin, b->pin, (size_t)a->n_nodes) == 0 &&
           a->q.wgran_tensor == b->q.wgran_tensor && a->q.observer == b->q.observer &&
           a->q.pct == b->q.pct && a->q.bits == b->q.bits &&
           a->q.act_symmetric == b->q.act_symmetric;
}

PrecKind plan_node_prec(const Plan *p, int node)
{
    return p->pin[node] >= 0 ? (PrecKind)p->pin[node] : p->mode;
}

const char *plan_label(const Plan *p)
{
    static const char *const pinned[PREC_COUNT] = {
        [PREC_FP32] = "fp32+pins", [PREC_FP16] = "fp16+pins",
        [PREC_INT8_DYN] = "int8-dyn+pins", [PREC_INT8_STATIC] = "int8-static+pins",
    };
    for (int i = 0; i < p->n_nodes; i++)
        if (p->pin[i] >= 0)
            return pinned[p->mode];
    return precision_table[p->mode].name;
}
