/* `play FILE.qs`: a script as a sequence of steps, each one command line with the comment
 * lines before it as its caption. A play starts from a fresh session (cmd_session_fresh:
 * no model, no data, default plan), so a demo shows the same whatever ran before it. The
 * plain front ends run it like `source`, printing each caption first; the workbench steps
 * through it (tui_app_play.c). */
#ifndef QS_CMD_PLAY_H
#define QS_CMD_PLAY_H

#include "base/error.h"

typedef struct PlayStep {
    char *caption;  /* the comment lines before the step, '#' and one blank removed,
                       joined with '\n'; "" when none; owned */
    char *line;     /* the command line as written (may hold several commands); owned */
    int lineno;     /* 1-based line number of `line` in the file */
} PlayStep;

typedef struct PlayScript {
    char *path;     /* owned */
    int n;
    PlayStep *steps; /* owned */
    char *epilogue; /* comment lines after the last step ("" when none); owned */
} PlayScript;

/* Reads path into steps. Fails with QS_EIO when it cannot be read and QS_EINVAL when it
 * holds no command. Release with cmd_play_release (also after a failure). */
QsStatus cmd_play_load(const char *path, PlayScript *ps, QsError *err);
void cmd_play_release(PlayScript *ps);

#endif
