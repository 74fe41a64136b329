/* One line processor for every input source: files (--batch, source), -c strings and
 * the plain REPL all go through here and cmd_exec_line. */
#ifndef QS_SCRIPT_H
#define QS_SCRIPT_H

#include <stdio.h>

#include "cmds/app.h"

/* Runs every line of the open stream; stops at the first failing line and prefixes the
 * error with "NAME:LINE: ". A line holding a NUL byte fails (QS_EFORMAT) before it runs. */
QsStatus script_run_stream(App *app, FILE *f, const char *name, QsError *err);
/* Opens path and runs it; the nesting depth is limited to APP_MAX_SOURCE_DEPTH. */
QsStatus script_run_file(App *app, const char *path, QsError *err);

#endif
