#include "shell/frontend.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/commands.h"
#include "cmds/script.h"

static App *signal_app;

static void on_sigint(int sig)
{
    (void)sig;
    if (signal_app && !atomic_load(&signal_app->cancel)) {
        atomic_store(&signal_app->cancel, 1);
        return;
    }
    _exit(130);
}

static void print_result(App *app, const Result *r)
{
    static bool printed_before, prev_plain_text;
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

/* The failure, in JSON naming the command that failed (app->failed_cmd, taken). */
static void print_error(App *app, const QsError *err)
{
    if (app->mode == RENDER_JSON) {
        char *s = render_json_error(app->failed_cmd, qs_status_name(err->code), err->msg);
        fputs(s, stdout);
        fflush(stdout);
        free(s);
    }
    free(app->failed_cmd);
    app->failed_cmd = NULL;
    fprintf(stderr, "%s\n", err->msg);
}

/* A one-line progress indicator on a terminal's stderr; scripts and pipes stay clean. */
static void print_progress(void *user, double frac, const char *phase)
{
    static int last_pct = -1;
    (void)user;
    int pct = (int)(frac * 100.0);
    if (pct == last_pct)
        return;
    last_pct = pct;
    fprintf(stderr, "\r%-6s %3d%%%s", phase ? phase : "", pct, pct >= 100 ? "\r           \r" : "");
    fflush(stderr);
}

void frontend_setup(App *app)
{
    app->emit = print_result;
    if (isatty(STDERR_FILENO))
        app->job.progress = print_progress;
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
    if (script_run_file(app, path, &err)) {
        print_error(app, &err);
        return 1;
    }
    return 0;
}

int frontend_load_model(App *app, const char *path)
{
    char *pos[1] = { (char *)path }; /* CmdArgs is not const; cmd_run_args only reads it */
    CmdArgs a = { .name = "load", .n_pos = 1, .pos = pos };
    QsError err = { 0 };
    if (cmd_run_args(app, &a, &err)) {
        qs_error_prefix(&err, "qscope");
        print_error(app, &err);
        return 1;
    }
    return 0;
}

int frontend_command_string(App *app, const char *cmds)
{
    QsError err = { 0 };
    if (cmd_exec_line(app, cmds, &err)) {
        qs_error_prefix(&err, "-c");
        print_error(app, &err);
        return 1;
    }
    return 0;
}

int frontend_repl(App *app)
{
    bool tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0;
    int failed = 0;
    while (!app->quit) {
        if (tty) {
            fputs("qscope> ", stdout);
            fflush(stdout);
        }
        errno = 0;
        if (getline(&line, &cap, stdin) < 0) {
            if (errno == EINTR) { /* Ctrl-C at the prompt: a fresh prompt */
                clearerr(stdin);
                atomic_store(&app->cancel, 0);
                fputs("\n", stdout);
                continue;
            }
            break;
        }
        QsError err = { 0 };
        if (cmd_exec_line(app, line, &err)) {
            if (!tty)
                failed = 1;
            print_error(app, &err);
        }
    }
    if (tty && !app->quit)
        fputs("\n", stdout);
    free(line);
    return failed;
}
