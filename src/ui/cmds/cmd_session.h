/* Session commands a front end also calls directly: `qscope --resume FILE` and the
 * workbench's offer to save on quit. */
#ifndef QS_CMD_SESSION_H
#define QS_CMD_SESSION_H

#include "cmds/app.h"

/* The name the workbench offers when it saves on quit. */
#define CMD_SESSION_DEFAULT_FILE "qscope-session.qsess"

/* `qscope --resume FILE`: replaces app's session with the one in path before a front end
 * starts. QS_OK, or the error's code after printing "qscope: --resume: why" to stderr
 * (main maps it to an exit status). */
QsStatus cmd_session_resume(App *app, const char *path);

/* A fresh start: what `play` and `session new` begin with (session_clear); the `set`
 * options and the script variables stay. */
void cmd_session_fresh(App *app);

#endif
