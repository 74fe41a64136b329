#include "cmds/app.h"

#include <stdlib.h>
#include <string.h>

#include "kern/threads.h"
#include "native/modelfile.h"
#include "tflite/tflite_import.h"

void app_init(App *app)
{
    memset(app, 0, sizeof *app);
    session_init(&app->session);
    atomic_init(&app->cancel, 0);
    atomic_init(&app->interrupted, 0);
    app->job.cancel = &app->cancel;
    result_init(&app->last, "");
    /* BLAS would otherwise start one spinning thread per core behind our back */
    threads_set(app->session.opt.threads);
    /* the model-file table (native/) cannot name readers of later wings */
    modelfile_register(".tflite", tflite_load);
}

void app_release(App *app)
{
    session_release(&app->session);
    result_release(&app->last);
    vars_release(&app->vars);
    free(app->failed_cmd);
}
