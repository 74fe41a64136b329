/* The plain front ends: batch scripts, -c strings and the line-by-line REPL. They differ
 * only in where lines come from and what happens after an error. */
#ifndef QS_FRONTEND_H
#define QS_FRONTEND_H

#include "cmds/app.h"

/* Installs the result printer (text or JSON on stdout) and the SIGINT handler that
 * cancels a running job (a second Ctrl-C while nothing is cancellable quits). */
void frontend_setup(App *app);

/* Scripts: stop at the first error, print "NAME:LINE: message" on stderr, return 1. */
int frontend_batch_file(App *app, const char *path);
int frontend_command_string(App *app, const char *cmds);
/* Loads the model named on the command line as written (no lexing, no ${...}); an error
 * prints "qscope: PATH: reason" and returns 1. */
int frontend_load_model(App *app, const char *path);

/* The plain REPL on stdin: a prompt when stdin is a terminal; an error is printed and the
 * session goes on. Returns 1 when any command failed, else 0. */
int frontend_repl(App *app);

#endif
