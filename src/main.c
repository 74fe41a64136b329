/* qscope: picks the front end from the arguments (see usage below). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/blasinfo.h"
#include "cmds/app.h"
#include "cmds/cmd_session.h"
#include "cmds/commands.h"
#include "shell/frontend.h"
#include "tui/tui_main.h"

static const char usage[] =
    "usage: qscope [--json] [--plain] [-D NAME=VALUE ..] [--init FILE.qs] [-c 'CMD; CMD']\n"
    "              [--resume FILE] [--batch FILE.qs] [MODEL]\n"
    "\n"
    "  MODEL            a model to load first (.qsm)\n"
    "  -c CMDS          run the commands, then exit (status 1 at the first error)\n"
    "  --batch FILE.qs  run a script, then exit (status 1 and FILE:LINE at the first error)\n"
    "  --init FILE.qs   run a script first, then stay interactive\n"
    "  --resume FILE    start from a session saved by 'session save FILE'\n"
    "  -D NAME=VALUE    define the script variable ${NAME} (overrides 'let NAME?=...')\n"
    "  --plain          the line-by-line REPL, even on a terminal\n"
    "  --json           print every result as one JSON object per line\n"
    "  --commands-md    print the command reference (docs/commands.md)\n"
    "  --version, --help\n"
    "\n"
    "Type 'help' at the prompt for the commands.\n";

int main(int argc, char **argv)
{
    const char *cmds = NULL, *batch = NULL, *model = NULL, *init = NULL, *resume = NULL;
    int json = 0, plain = 0;
    App app;
    app_init(&app);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        QsError err = { 0 };
        if (strcmp(a, "-D") == 0 && i + 1 < argc) {
            if (vars_define(&app.vars, argv[++i], &err)) {
                fprintf(stderr, "qscope: %s\n", err.msg);
                app_release(&app);
                return 2;
            }
        } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            cmds = argv[++i];
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            batch = argv[++i];
        } else if (strcmp(a, "--init") == 0 && i + 1 < argc) {
            init = argv[++i];
        } else if (strcmp(a, "--resume") == 0 && i + 1 < argc) {
            resume = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--plain") == 0) {
            plain = 1;
        } else if (strcmp(a, "--commands-md") == 0) {
            char *md = cmd_reference_markdown();
            fputs(md, stdout);
            free(md);
            app_release(&app);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("qscope 0.1.0\nOpenBLAS core: %s (%s)\n", blas_core_name(), blas_config());
            app_release(&app);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            app_release(&app);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "qscope: unknown or incomplete option '%s'\n\n%s", a, usage);
            app_release(&app);
            return 2;
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "qscope: more than one model given ('%s', '%s')\n", model, a);
            app_release(&app);
            return 2;
        }
    }
    app.mode = json ? RENDER_JSON : RENDER_TEXT;
    int status = resume ? cmd_session_resume(&app, resume) : 0;
    if (status) {
        app_release(&app);
        return status;
    }
    /* The workbench wants a terminal on both ends; --json and --plain keep the REPL. */
    if (!cmds && !batch && !plain && !json && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
        status = tui_main(&app, model, init);
        if (status >= 0) {
            app_release(&app);
            return status;
        }
        status = 0; /* the terminal could not host it: the plain REPL below */
    }
    frontend_setup(&app);
    if (model)
        status = frontend_load_model(&app, model);
    if (!status && cmds)
        status = frontend_command_string(&app, cmds);
    else if (!status && batch)
        status = frontend_batch_file(&app, batch);
    else if (!status && !cmds && !batch) {
        if (init) /* an error here is shown, and the session still opens */
            frontend_batch_file(&app, init);
        status = frontend_repl(&app);
    }
    app_release(&app);
    return status;
}
