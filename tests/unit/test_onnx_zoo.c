/* The model zoo (tests/fixtures/zoo/, scripts/fixtures/gen_zoo.py): small torchvision
 * models and two detectors (a DETR-style encoder-decoder with a box head, a YOLO-style
 * two-scale head with its box decode and Split) with seeded weights exported by PyTorch
 * 1.13 at opset 13 with a dynamic batch.
 *   - each member loads, and its float output at batch 2 matches PyTorch's within the
 *     manifest's tolerance: |got - want| <= 1e-4 max|want| + 1e-4 |want| (qscope and torch
 *     sum in different orders and use different elementary functions: a few ulp per layer,
 *     far below 1e-4 over these shallow nets; a semantic error, such as a window shifted
 *     the wrong way or samples mixed by a reshape that folds the batch into the window
 *     count, moves outputs by percents);
 *   - each sample run alone gives bit for bit its row of the batch-2 output (no op mixes
 *     samples, docs/reproducibility.md), Swin's batch-folded reshapes included;
 *   - INT8 static: calibrated on 8 seeded synthetic inputs, the integer plan runs at batch
 *     2 and its outputs are finite and within 25 % of the output range of the float ones
 *     (a loose bound: these random-weight nets keep most non-conv layers in float, and the
 *     bound only catches a broken lowering, which gives garbage or NaN);
 *   - ViT's attention (nn.MultiheadAttention, batch moved to axis 1 and folded into the
 *     heads) and its class token expanded to the batch are among them (onnx_view.h). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "graph/model.h"
#include "io/fileio.h"
#include "onnx/onnx_import.h"
#include "qexec/qexec.h"
#include "quant/calib.h"
#include "quant/plan.h"
#include "run/exec.h"
#include "run/run.h"
#include "test_graph.h"
#include "test_util.h"

#define DIR "tests/fixtures/zoo/"

/* n seeded standard-normal-like samples of the model's input shape (sum of uniforms). */
static Tensor *synth_inputs(const Model *m, int64_t n, uint64_t seed)
{
    Shape s = m->graph.values[m->graph.inputs[0]].shape;
    s.dim[0] = n;
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, s, &err);
    for (int64_t i = 0; t && i < tensor_numel(t); i++) {
        double v = -2.0;
        for (int k = 0; k < 4; k++)
            v += (double)(test_splitmix(&seed) >> 11) * 0x1.0p-53;
        tensor_f32(t)[i] = (float)(v * 1.7);
    }
    return t;
}

static void check_float(const char *name, const Model *m, const Tensor *x, const Tensor *want,
                        double rtol, double arel)
{
    Tensor *got = tu_run_graph(m, x);
    if (!got)
        return;
    double mx = 0, worst = 0;
    for (int64_t i = 0; i < tensor_numel(want); i++)
        mx = fmax(mx, fabs(tensor_f32(want)[i]));
    for (int64_t i = 0; i < tensor_numel(want) && i < tensor_numel(got); i++)
        worst = fmax(worst, fabs(tensor_f32(got)[i] - tensor_f32(want)[i]) / mx);
    printf("  %-13s float vs PyTorch: max |diff| / max|want| = %.2e\n", name, worst);
    if (CHECK(shape_equal(&got->shape, &want->shape)))
        expect_close(name, tensor_f32(got), tensor_f32(want), (size_t)tensor_numel(want),
                     arel * mx, rtol);
    /* each sample alone: its row of the batch, bit for bit */
    int64_t per_in = tensor_numel(x) / x->shape.dim[0];
    int64_t per_out = tensor_numel(got) / got->shape.dim[0];
    for (int64_t b = 0; b < x->shape.dim[0]; b++) {
        Shape s1 = x->shape;
        s1.dim[0] = 1;
        Tensor x1 = tensor_view(DT_F32, s1, tensor_f32(x) + b * per_in);
        Tensor *g1 = tu_run_graph(m, &x1);
        if (g1 && !CHECK(memcmp(tensor_f32(g1), tensor_f32(got) + b * per_out,
                                (size_t)per_out * sizeof(float)) == 0))
            fprintf(stderr, "%s: sample %lld alone differs from its row of the batch\n", name,
                    (long long)b);
        tensor_free(g1);
    }
    tensor_free(got);
}

static void check_int8(const char *name, const Model *m, const Tensor *x)
{
    QsError err = { 0 };
    Tensor *xc = synth_inputs(m, 8, 20261207);
    Dataset d = { 0 };
    d.x[0] = xc;
    d.n_x = 1;
    Calibration cal;
    if (!CHECK_OK(calib_run(&m->graph, &d, 0, 4, 0.01, NULL, &cal, &err), &err)) {
        tensor_free(xc);
        return;
    }
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    Tensor *ref = tu_run_graph(m, x);
    if (ref && CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
        Executor e = qmodel_executor(q);
        const Tensor *in[1] = { x };
        const Tensor *out[1] = { NULL };
        int n_int = 0, n_fb = 0;
        for (int i = 0; i < m->graph.n_nodes; i++) {
            const QLayerInfo *li = qmodel_layer(q, i);
            n_int += li->integer;
            n_fb += li->fallback;
        }
        if (CHECK_OK(e.forward(e.self, in, out, NULL, NULL, &err), &err) &&
            CHECK(shape_equal(&out[0]->shape, &ref->shape))) {
            float lo = INFINITY, hi = -INFINITY;
            double worst = 0;
            bool finite = true;
            for (int64_t i = 0; i < tensor_numel(ref); i++) {
                lo = fminf(lo, tensor_f32(ref)[i]);
                hi = fmaxf(hi, tensor_f32(ref)[i]);
            }
            for (int64_t i = 0; i < tensor_numel(ref); i++) {
                float v = tensor_f32(out[0])[i];
                finite &= isfinite(v);
                worst = fmax(worst, fabs(v - tensor_f32(ref)[i]) / (hi - lo));
            }
            printf("  %-13s int8 static: %d integer layers, %d float fallbacks, max |diff| "
                   "/ float range = %.3f\n", name, n_int, n_fb, worst);
            CHECK(finite);
            CHECK(worst <= 0.25);
            CHECK(n_int > 0);
        }
    }
    qmodel_free(q);
    tensor_free(ref);
    plan_release(&p);
    calib_release(&cal);
    tensor_free(xc);
}

static void test_zoo(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read(DIR "manifest.json", &buf, &len, &err), &err))
        return;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    const cJSON *members = cJSON_GetObjectItem(root, "members"), *c;
    int loaded = 0;
    cJSON_ArrayForEach(c, members)
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char path[256], xr[128], yr[128];
        snprintf(path, sizeof path, DIR "%s.onnx", name);
        snprintf(xr, sizeof xr, "zoo/%s_x.npy", name);
        snprintf(yr, sizeof yr, "zoo/%s_y.npy", name);
        QsError lerr = { 0 };
        Model *m = onnx_load(path, &lerr);
        if (!CHECK(m != NULL)) {
            fprintf(stderr, "%s: %s\n", name, lerr.msg);
            continue;
        }
        Tensor *x = test_load_npy(xr), *want = test_load_npy(yr);
        check_float(name, m, x, want, cJSON_GetObjectItem(c, "rtol")->valuedouble,
                    cJSON_GetObjectItem(c, "atol_rel_to_max")->valuedouble);
        check_int8(name, m, x);
        tensor_free(x);
        tensor_free(want);
        model_free(m);
        loaded++;
    }
    CHECK(loaded == 7);
    cJSON_Delete(root);
}

int main(void)
{
    test_zoo();
    return test_summary("onnx_zoo");
}
