/* qscope: reads the command line through the flag table below and picks a front end. The
 * table is also --help, the man page and the bash completion (shell/cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/blasinfo.h"
#include "cmds/app.h"
#include "cmds/cmd_session.h"
#include "cmds/commands.h"
#include "qs_version.h" /* generated at build time: QS_VERSION, QS_COMMIT */
#include "shell/cli.h"
#include "shell/exit_status.h"
#include "shell/frontend.h"
#include "tui/tui_main.h"

/* What the flags ask for. */
struct CliRun {
    App *app;
    const char *cmds, *batch, *init, *model, *resume;
    bool json, plain, quiet, progress;
};

/* Each flag's action: -1 to go on, else the exit status to end with at once. */
static int set_cmds(CliRun *r, const char *v) { r->cmds = v; return -1; }
static int set_batch(CliRun *r, const char *v) { r->batch = v; return -1; }
static int set_init(CliRun *r, const char *v) { r->init = v; return -1; }
static int set_resume(CliRun *r, const char *v) { r->resume = v; return -1; }
static int set_json(CliRun *r, const char *v) { (void)v; r->json = true; return -1; }
static int set_plain(CliRun *r, const char *v) { (void)v; r->plain = true; return -1; }
static int set_quiet(CliRun *r, const char *v) { (void)v; r->quiet = true; return -1; }
static int set_progress(CliRun *r, const char *v) { (void)v; r->progress = true; return -1; }

static int define_var(CliRun *r, const char *v)
{
    QsError err = { 0 };
    if (vars_define(&r->app->vars, v, &err)) {
        fprintf(stderr, "qscope: %s\n", err.msg);
        return QS_EXIT_USAGE;
    }
    return -1;
}

static int print_help(CliRun *r, const char *v);
static int print_man(CliRun *r, const char *v);
static int print_completion(CliRun *r, const char *v);

static int print_commands_md(CliRun *r, const char *v)
{
    (void)r, (void)v;
    char *md = cmd_reference_markdown();
    fputs(md, stdout);
    free(md);
    return QS_EXIT_OK;
}

static int print_version(CliRun *r, const char *v)
{
    (void)r, (void)v;
    printf("qscope %s\ncommit: %s\nOpenBLAS core: %s (%s)\n", QS_VERSION, QS_COMMIT,
           blas_core_name(), blas_config());
    return QS_EXIT_OK;
}

static const CliFlag flags[] = {
    { "-c", NULL, "CMDS", CLI_ARG_COMMANDS,
      "run the commands (separated by ';'), then exit; stop at the first error", set_cmds },
    { "--batch", NULL, "FILE.qs", CLI_ARG_SCRIPT,
      "run a script, then exit; stop at the first error with FILE:LINE on stderr", set_batch },
    { "--init", NULL, "FILE.qs", CLI_ARG_SCRIPT,
      "run a script first, then stay interactive", set_init },
    { "--resume", NULL, "FILE", CLI_ARG_FILE,
      "start from a session saved by 'session save FILE' (model, data, plan, calibration, "
      "variants, pins)", set_resume },
    { "-D", NULL, "NAME=VALUE", CLI_ARG_TEXT,
      "define the script variable ${NAME} (overrides 'let NAME?=...'); repeatable",
      define_var },
    { "--plain", NULL, NULL, CLI_ARG_NONE, "the line-by-line REPL, even on a terminal",
      set_plain },
    { "--json", NULL, NULL, CLI_ARG_NONE, "print every result as one JSON object per line",
      set_json },
    { "--quiet", "-q", NULL, CLI_ARG_NONE,
      "print errors only (no results, no progress)",
      set_quiet },
    { "--progress", NULL, NULL, CLI_ARG_NONE,
      "show progress (percent, time left) on stderr even when it is no terminal",
      set_progress },
    { "--commands-md", NULL, NULL, CLI_ARG_NONE,
      "print the command reference (docs/commands.md) and exit", print_commands_md },
    { "--man", NULL, NULL, CLI_ARG_NONE, "print the man page qscope.1 (roff) and exit",
      print_man },
    { "--completion", NULL, "SHELL", CLI_ARG_SHELL,
      "print the completion script for SHELL (bash) and exit", print_completion },
    { "--version", NULL, NULL, CLI_ARG_NONE,
      "print the version, the commit and the OpenBLAS core, and exit",
      print_version },
    { "--help", "-h", NULL, CLI_ARG_NONE, "print this help and exit", print_help },
};
enum { N_FLAGS = sizeof flags / sizeof flags[0] };

static int print_help(CliRun *r, const char *v)
{
    (void)r, (void)v;
    char *s = cli_usage(flags, N_FLAGS);
    fputs(s, stdout);
    free(s);
    return QS_EXIT_OK;
}

static int print_man(CliRun *r, const char *v)
{
    (void)r, (void)v;
    char *s = cli_man_page(flags, N_FLAGS, "qscope " QS_VERSION " (" QS_COMMIT ")");
    fputs(s, stdout);
    free(s);
    return QS_EXIT_OK;
}

static int print_completion(CliRun *r, const char *v)
{
    (void)r;
    if (strcmp(v, "bash") != 0) {
        fprintf(stderr, "qscope: --completion %s: no completion for that shell (bash)\n", v);
        return QS_EXIT_USAGE;
    }
    char *s = cli_completion_bash(flags, N_FLAGS);
    fputs(s, stdout);
    free(s);
    return QS_EXIT_OK;
}

/* Applies the flags in order; -1 when a front end is to run, else the exit status. */
static int parse_args(CliRun *r, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const CliFlag *f = cli_find(flags, N_FLAGS, a);
        if (f && f->arg && i + 1 >= argc) {
            fprintf(stderr, "qscope: %s needs %s (qscope --help)\n", a, f->arg);
            return QS_EXIT_USAGE;
        }
        if (f) {
            int st = f->apply(r, f->arg ? argv[++i] : NULL);
            if (st >= 0)
                return st;
        } else if (a[0] == '-') {
            fprintf(stderr, "qscope: unknown option '%s' (qscope --help)\n", a);
            return QS_EXIT_USAGE;
        } else if (!r->model) {
            r->model = a;
        } else {
            fprintf(stderr, "qscope: more than one model given ('%s', '%s')\n", r->model, a);
            return QS_EXIT_USAGE;
        }
    }
    return -1;
}

static int run_front_end(const CliRun *r)
{
    App *app = r->app;
    app->mode = r->json ? RENDER_JSON : RENDER_TEXT;
    if (r->resume) {
        QsStatus st = cmd_session_resume(app, r->resume);
        if (st)
            return exit_status_of(st);
    }
    bool tty_in = isatty(STDIN_FILENO);
    /* The workbench wants a terminal on both ends; --json and --plain keep the REPL. */
    if (!r->cmds && !r->batch && !r->plain && !r->json && tty_in && isatty(STDOUT_FILENO)) {
        int status = tui_main(app, r->model, r->init);
        if (status >= 0)
            return status;
        /* the terminal could not host it: the plain REPL below */
    }
    FrontendOpts fo = { .quiet = r->quiet, .progress = r->progress,
                        .scripted = r->cmds || r->batch || !tty_in };
    frontend_setup(app, &fo);
    int status = r->model ? frontend_load_model(app, r->model) : QS_EXIT_OK;
    if (status)
        return status;
    if (r->cmds)
        return frontend_command_string(app, r->cmds);
    if (r->batch)
        return frontend_batch_file(app, r->batch);
    /* an error in the init script is shown, and the session still opens */
    int init_status = r->init ? frontend_batch_file(app, r->init) : QS_EXIT_OK;
    status = frontend_repl(app);
    /* reading a pipe, the first failure decides, and the init script runs first */
    if (fo.scripted && init_status && status != QS_EXIT_INTERRUPTED)
        status = init_status;
    return status;
}

int main(int argc, char **argv)
{
    App app;
    app_init(&app);
    CliRun run = { .app = &app };
    int status = parse_args(&run, argc, argv);
    if (status < 0)
        status = run_front_end(&run);
    app_release(&app);
    return status;
}
