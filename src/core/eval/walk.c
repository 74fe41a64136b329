#include "eval/walk.h"

#include <stdlib.h>

#include "eval/eval.h"

/* Room for the graph outputs of ex. */
static const Tensor **walk_outputs(const Executor *ex)
{
    int n = ex->graph->n_outputs;
    return xmalloc((size_t)(n ? n : 1) * sizeof(const Tensor *));
}

QsStatus walk_split(const Walk *w, const Dataset *d, int64_t n, int batch, QsError *err)
{
    const Graph *g = w->ex->graph;
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch=%d: must be at least 1", batch);
    if (eval_check_inputs(g, d, err))
        return err->code;
    int64_t len = dataset_len(d);
    if (n <= 0 || n > len)
        n = len;
    double frac0 = w->frac0, span = w->span;
    if (frac0 == 0 && span == 0)
        span = 1;
    /* buffers only for inputs read from a file; the others are viewed in place */
    DataBatch db;
    if (data_batch_init(&db, d, n < batch ? n : batch, true, err))
        return err->code;
    const Tensor **outs = walk_outputs(w->ex);
    const Tensor **outs2 = w->ex2 ? walk_outputs(w->ex2) : NULL;
    QsStatus st = QS_OK;
    for (int64_t first = 0; first < n; first += batch) {
        if ((st = job_check(w->job, w->what, err)))
            break;
        int64_t b = n - first < batch ? n - first : batch;
        if ((st = data_batch_range(&db, d, first, b, err)))
            break;
        const Tensor *const *inputs = db.ptrs;
        WalkBatch wb = { .first = first, .n = b, .views = db.views, .inputs = inputs,
                         .out = outs };
        if ((st = w->ex->forward(w->ex->self, inputs, outs, w->tap, w->tap_user, err)))
            break;
        if (w->between && (st = w->between(w->user, &wb, err)))
            break;
        if (w->ex2 && (st = w->ex2->forward(w->ex2->self, inputs, outs2, w->tap2, w->tap2_user,
                                            err)))
            break;
        wb.out2 = outs2;
        if (w->batch && (st = w->batch(w->user, &wb, err)))
            break;
        if (wb.stop)
            break;
        job_progress(w->job, frac0 + span * (double)(first + b) / (double)n, w->phase);
    }
    free(outs);
    free(outs2);
    data_batch_release(&db);
    return st;
}
