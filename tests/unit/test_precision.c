/* The precision table and what code reads from it: each predicate's answer for every
 * precision (the PrecKind comparisons they replaced), names, weight bits, the plan-level
 * reads (calibration, ONNX layout, label). */
#include <string.h>

#include "quant/plan.h"
#include "test_util.h"

static void test_predicates(void)
{
    for (int i = 0; i < PREC_COUNT; i++) {
        PrecKind k = (PrecKind)i;
        CHECK(precision_is_float(k) == (k == PREC_FP32));
        CHECK(precision_is_integer(k) == (k == PREC_INT8_DYN || k == PREC_INT8_STATIC));
        CHECK(precision_static_activations(k) == (k == PREC_INT8_STATIC));
        CHECK(precision_half_outputs(k) == (k == PREC_FP16));
        CHECK(precision_needs_calibration(k) == (k == PREC_INT8_STATIC));
        CHECK(precision_find(precision_table[k].name) == i);
        CHECK(precision_table[k].short_name && precision_table[k].field &&
              strchr(precision_table[k].field, '-') == NULL);
        CHECK((precision_table[k].onnx == PONNX_NONE) == (precision_table[k].onnx_none != NULL));
    }
    CHECK(precision_find("int8") == -1);
    QuantOpts q = plan_default_opts();
    q.bits = 4;
    CHECK(precision_weight_bits(PREC_FP32, &q) == 32 && precision_weight_bits(PREC_FP16, &q) == 16);
    CHECK(precision_weight_bits(PREC_INT8_DYN, &q) == 4 &&
          precision_weight_bits(PREC_INT8_STATIC, &q) == 4);
}

static void test_plan_reads(void)
{
    Plan p;
    plan_init(&p, 3);
    CHECK(!plan_needs_calibration(&p) && plan_onnx_layout(&p, NULL) == PONNX_FLOAT);
    CHECK(strcmp(plan_label(&p), "fp32") == 0);
    p.pin[1] = PREC_FP16;
    CHECK(plan_onnx_layout(&p, NULL) == PONNX_FP16 && strcmp(plan_label(&p), "fp32+pins") == 0);
    p.mode = PREC_INT8_STATIC;
    CHECK(plan_needs_calibration(&p) && plan_onnx_layout(&p, NULL) == PONNX_QDQ);
    p.pin[0] = p.pin[2] = PREC_FP16;
    CHECK(!plan_needs_calibration(&p)); /* every layer pinned away from int8-static */
    p.pin[2] = PREC_INT8_DYN;
    PrecKind blocker = PREC_FP32;
    CHECK(plan_onnx_layout(&p, &blocker) == PONNX_NONE && blocker == PREC_INT8_DYN);
    CHECK(strcmp(prec_onnx_name(PONNX_QDQ), "qdq-int8") == 0 &&
          strcmp(prec_onnx_name(PONNX_FP16), "fp16") == 0 &&
          strcmp(prec_onnx_name(PONNX_FLOAT), "fp32") == 0);
    plan_release(&p);
}

int main(void)
{
    test_predicates();
    test_plan_reads();
    return test_summary("precision");
}
