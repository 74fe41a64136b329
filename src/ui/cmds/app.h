/* The state every front end shares: the session plus what the command layer needs to
 * run nested scripts and long jobs. */
#ifndef QS_APP_H
#define QS_APP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "base/job.h"
#include "text/render.h"
#include "text/result.h"
#include "session/session.h"
#include "text/vars.h"

#define APP_MAX_SOURCE_DEPTH 16

typedef struct App App;
struct App {
    Session session;
    RenderMode mode;          /* how the plain front ends render results */
    bool quit;                /* set by `quit` */
    int source_depth;         /* nesting of `source` */
    /* Shows a finished result (scripts run by `source` emit each command's result as it
     * completes). Set by the front end. */
    void (*emit)(App *app, const Result *r);
    void *emit_user;
    /* Progress and cancellation for long commands; the front end owns the callback. */
    JobCtx job;
    atomic_int cancel;
    /* Set by a script front end's SIGINT handler: the running job is cancelled and every
     * later command fails with QS_ECANCELLED, so a script stops at once (exit status 130). */
    atomic_int interrupted;
    /* The last result of a command that is not CMD_TRANSPARENT, for `check` and `keep`. */
    Result last;
    VarTable vars;            /* script variables (vars.h) */
    /* The command whose failure the front end reports next, as written (an unknown name
     * too; a line's first word when the line does not parse); NULL when the failure is in
     * no command. Set by cmd_exec_line and cmd_run_args; the front end frees it. */
    char *failed_cmd;
};

void app_init(App *app);
void app_release(App *app);

#endif
