/* The run-time memory counter (memtrack.h): its arithmetic, and the exact bytes the
 * quantized executor counts for a hand-sized Dense layer at fp32 and int8-dyn: the
 * activation arena and scratch laid out per batch (64-byte aligned slots), kept when a
 * smaller batch follows, given back on qmodel_free; qmodel_unit_preact's scratch counted
 * while it runs. The sizes below are worked out from the layouts in qexec.c/qkernels.c. */
#include <string.h>

#include "base/memtrack.h"
#include "qexec/qexec.h"
#include "qexec/qgemm.h"
#include "native/spec.h"
#include "test_util.h"

static void test_counter(void)
{
    int64_t base = memtrack_reset_peak();
    CHECK(memtrack_peak() == base);
    memtrack_alloc(100);
    memtrack_alloc(50);
    CHECK(memtrack_current() == base + 150);
    CHECK(memtrack_peak() == base + 150);
    memtrack_free(100);
    CHECK(memtrack_current() == base + 50);
    CHECK(memtrack_peak() == base + 150); /* the high-water mark stays */
    memtrack_alloc(70);
    CHECK(memtrack_peak() == base + 150); /* 120 < 150 */
    memtrack_alloc(40);
    CHECK(memtrack_peak() == base + 160);
    CHECK(memtrack_reset_peak() == base + 160);
    CHECK(memtrack_peak() == base + 160);
    memtrack_free(160);
    CHECK(memtrack_current() == base);
    CHECK(memtrack_peak() == base + 160); /* a reset takes the count, not an older low */
    CHECK(memtrack_reset_peak() == base && memtrack_peak() == base);
    memtrack_alloc(0);
    CHECK(memtrack_current() == base && memtrack_peak() == base);
}

/* x (N, 4) -> Dense 3 -> y (N, 3). */
static const char *dense_spec = "{\"input\": {\"shape\": [4]}, \"layers\": ["
                                "{\"kind\": \"dense\", \"name\": \"fc\", \"out\": 3}]}";

static Tensor *ones(int64_t n)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, shape_of(2, n, (int64_t)4), &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < 4 * n; i++)
        tensor_f32(t)[i] = 0.25f * (float)(i % 5) - 0.5f;
    return t;
}

static void forward(Executor *ex, int64_t n)
{
    QsError err = { 0 };
    Tensor *x = ones(n);
    const Tensor *in[1] = { x }, *out[1];
    CHECK_OK(ex->forward(ex->self, in, out, NULL, NULL, &err), &err);
    CHECK(out[0]->shape.dim[0] == n && out[0]->shape.dim[1] == 3);
    tensor_free(x);
}

/* Builds the plan, runs batches 2, 20 and 2 and checks the counter after each:
 * per_batch(n) is the arena + scratch bytes the executor lays out for batch n. */
static void test_executor(PrecKind mode, int64_t b2, int64_t b20)
{
    QsError err = { 0 };
    Model *m = spec_parse(dense_spec, "memtrack spec", 1, &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    if (!m)
        return;
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = mode;
    QModel *q;
    int64_t base = memtrack_reset_peak();
    CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err);
    /* lowering allocates weights, which are not counted here; no buffers yet */
    CHECK(memtrack_current() == base && memtrack_peak() == base);
    Executor ex = qmodel_executor(q);
    forward(&ex, 2);
    CHECK(memtrack_current() == base + b2);
    CHECK(memtrack_peak() == base + b2);
    forward(&ex, 20);
    CHECK(memtrack_current() == base + b20);
    /* the old blocks are counted out before the new ones are counted in */
    CHECK(memtrack_peak() == base + b20);
    forward(&ex, 2); /* the larger blocks are kept: nothing changes */
    CHECK(memtrack_current() == base + b20 && memtrack_peak() == base + b20);
    if (mode == PREC_INT8_DYN) {
        /* (2, 4) floats of pre-activation scratch: 32 bytes, one 64-byte slot, counted
         * only while the call runs */
        Tensor *x = ones(2);
        Tensor *y = tensor_new(DT_F32, shape_of(2, (int64_t)2, (int64_t)3), &err);
        memtrack_reset_peak();
        CHECK_OK(qmodel_unit_preact(q, 0, x, y, &err), &err);
        CHECK(memtrack_current() == base + b20 && memtrack_peak() == base + b20 + 64);
        tensor_free(x);
        tensor_free(y);
    }
    qmodel_free(q);
    CHECK(memtrack_current() == base);
    plan_release(&p);
    model_free(m);
}

int main(void)
{
    test_counter();
    /* fp32: the Dense node runs as a float step with no scratch; the arena holds y only
     * (the input is the caller's): batch 2 -> 24 bytes -> one 64-byte slot; batch 20 ->
     * 240 -> 256 */
    test_executor(PREC_FP32, 64, 256);
    /* int8-dyn: the same arena, plus scratch for one sample's int8 input (4 bytes -> 64),
     * its int32 accumulators (3 x 4 = 12 -> 64) and the packed qgemm's work area for 3
     * columns of depth 4 (384 bytes on x86-64: 12 rows of 3 int32 -> 192, and the AVX2
     * row's widened block of A, 6 x 16 int16 = 192), whatever the batch (samples are
     * quantized one at a time) */
    int64_t work = (int64_t)qgemm_work_bytes(3, 4);
    CHECK(work % 64 == 0);
    test_executor(PREC_INT8_DYN, 64 + 128 + work, 256 + 128 + work);
    return test_summary("memtrack");
}
