/* The plain front ends: batch scripts, -c strings and the line-by-line REPL. They differ
 * only in where lines come from and what happens after an error. Each returns the process
 * exit status (shell/exit_status.h: 0, 1 a check failed, 2 usage, 3 a file, 130 SIGINT). */
#ifndef QS_FRONTEND_H
#define QS_FRONTEND_H

#include <stdbool.h>

#include "cmds/app.h"

typedef struct FrontendOpts {
    bool quiet;    /* --quiet: errors only (no results, no progress) */
    bool progress; /* --progress: the progress line on stderr even when it is no terminal */
    bool scripted; /* the run is a script (--batch, -c, a REPL reading a pipe): Ctrl-C stops
                      it for good (status 130) instead of cancelling one command */
} FrontendOpts;

/* Installs the result printer (text or JSON on stdout), the progress line (shell/progress.h)
 * and the SIGINT handler: it cancels the running job; in a scripted run every later
 * command fails too; a second Ctrl-C while the first is pending ends qscope (130). */
void frontend_setup(App *app, const FrontendOpts *o);

/* Scripts: stop at the first error and print "NAME:LINE: message" on stderr. */
int frontend_batch_file(App *app, const char *path);
int frontend_command_string(App *app, const char *cmds);
/* Loads the model named on the command line as written (no lexing, no ${...}); an error
 * prints "qscope: PATH: reason". */
int frontend_load_model(App *app, const char *path);

/* The plain REPL on stdin: a prompt when stdin is a terminal; an error is printed and the
 * session goes on. On a terminal the status is 0; reading a pipe (a scripted run), it is
 * the status of the first failed command, or 130 when interrupted. */
int frontend_repl(App *app);

#endif
