#include "shell/frontend.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/commands.h"
#include "cmds/script.h"
#include "shell/exit_status.h"
#include "shell/progress.h"

static App *signal_app;
static bool scripted, quiet;

static void on_sigint(int sig)
{
    (void)sig;
    if (signal_app && !atomic_load(&signal_app->cancel)) {
        atomic_store(&signal_app->cancel, 1);
        if (scripted)
            atomic_store(&signal_app->interrupted, 1);
        return;
    }
    _exit(QS_EXIT_INTERRUPTED);
}

static void print_result(App *app, const Result *r)
{
    static bool printed_before, prev_plain_text;
    if (quiet)
        return;
    progress_clear();
    char *s = app->mode == RENDER_JSON ? render_json(r) : render_text(r);
    /* In text, a blank line separates one command's output from the next, except between
     * lines of plain text (consecutive echo). */
    bool plain_text = r->n_fields == 0 && r->n_tables == 0;
    if (app->mode == RENDER_TEXT && *s && printed_before && !(plain_text && prev_plain_text))
        fputs("\n", stdout);
    if (*s) {
        printed_before = true;
        prev_plain_text = plain_text;
    }
    fputs(s, stdout);
    fflush(stdout);
    free(s);
}

/* Prints the error (in JSON naming the command that failed: app->failed_cmd, taken) and
 * returns the exit status it stands for; an interrupted run is 130 whatever the error (a
 * read cut short by the signal fails as an I/O error). */
static int report_error(App *app, const QsError *err)
{
    progress_clear();
    if (app->mode == RENDER_JSON) {
        char *s = render_json_error(app->failed_cmd, qs_status_name(err->code), err->msg);
        fputs(s, stdout);
        fflush(stdout);
        free(s);
    }
    free(app->failed_cmd);
    app->failed_cmd = NULL;
    fprintf(stderr, "%s\n", err->msg);
    return atomic_load(&app->interrupted) ? QS_EXIT_INTERRUPTED : exit_status_of(err->code);
}

/* The exit status of a run that ended with st: an interrupted run is 130 even when the
 * command the signal came during finished (nothing cancels a `load`) and was the last. */
static int run_status(App *app, QsStatus st, QsError *err)
{
    if (st)
        return report_error(app, err);
    return atomic_load(&app->interrupted) ? QS_EXIT_INTERRUPTED : QS_EXIT_OK;
}

void frontend_setup(App *app, const FrontendOpts *o)
{
    app->emit = print_result;
    quiet = o->quiet;
    scripted = o->scripted;
    bool show = !o->quiet && (o->progress || isatty(STDERR_FILENO));
    progress_start(show ? stderr : NULL);
    if (show)
        app->job.progress = progress_report;
    signal_app = app;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: Ctrl-C at the prompt ends the read */
}

int frontend_batch_file(App *app, const char *path)
{
    QsError err = { 0 };
    return run_status(app, script_run_file(app, path, &err), &err);
}

int frontend_load_model(App *app, const char *path)
{
    char *pos[1] = { (char *)path }; /* CmdArgs is not const; cmd_run_args only reads it */
    CmdArgs a = { .name = "load", .n_pos = 1, .pos = pos };
    QsError err = { 0 };
    QsStatus st = cmd_run_args(app, &a, &err);
    if (st)
        qs_error_prefix(&err, "qscope");
    return run_status(app, st, &err);
}

int frontend_command_string(App *app, const char *cmds)
{
    QsError err = { 0 };
    QsStatus st = cmd_exec_line(app, cmds, &err);
    if (st)
        qs_error_prefix(&err, "-c");
    return run_status(app, st, &err);
}

int frontend_repl(App *app)
{
    bool tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0;
    int status = QS_EXIT_OK;
    while (!app->quit && !atomic_load(&app->interrupted)) {
        if (tty) {
            fputs("qscope> ", stdout);
            fflush(stdout);
        }
        errno = 0;
        if (getline(&line, &cap, stdin) < 0) {
            if (errno == EINTR && !atomic_load(&app->interrupted)) {
                /* Ctrl-C at the prompt: a fresh prompt */
                clearerr(stdin);
                atomic_store(&app->cancel, 0);
                fputs("\n", stdout);
                continue;
            }
            break;
        }
        QsError err = { 0 };
        if (cmd_exec_line(app, line, &err)) {
            int st = report_error(app, &err);
            if (!tty && !status)
                status = st;
        }
        /* a Ctrl-C that cancelled this command is spent: the next one cancels again */
        atomic_store(&app->cancel, 0);
    }
    if (tty && !app->quit)
        fputs("\n", stdout);
    free(line);
    return atomic_load(&app->interrupted) ? QS_EXIT_INTERRUPTED : status;
}
