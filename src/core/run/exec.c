#include "run/exec.h"

#include <stdlib.h>

#include "run/run.h"

struct FloatExec {
    Run run;
};

static QsStatus float_forward(void *self, const Tensor *const *inputs, const Tensor **outputs,
                              RunTapFn tap, void *tap_user, QsError *err)
{
    FloatExec *f = self;
    if (run_forward(&f->run, inputs, tap, tap_user, err))
        return err->code;
    for (int k = 0; k < f->run.g->n_outputs; k++)
        outputs[k] = run_output(&f->run, k);
    return QS_OK;
}

Executor exec_float_new(const Graph *g, FloatExec **owner)
{
    FloatExec *f = xcalloc(1, sizeof *f);
    run_init(&f->run, g);
    f->run.outputs_only = true;
    f->run.pack_weights = true;
    *owner = f;
    return (Executor){ .self = f, .graph = g, .forward = float_forward };
}

Executor exec_float_new_live(const Graph *g, FloatExec **owner)
{
    Executor e = exec_float_new(g, owner);
    (*owner)->run.pack_weights = false;
    return e;
}

void exec_float_free(FloatExec *f)
{
    if (!f)
        return;
    run_release(&f->run);
    free(f);
}

const Run *exec_float_run(FloatExec *f)
{
    f->run.outputs_only = false;
    return &f->run;
}
