/* The ncurses workbench: `qscope MODEL` on a terminal. */
#ifndef QS_TUI_MAIN_H
#define QS_TUI_MAIN_H

#include "cmds/app.h"

/* Runs the workbench on the terminal until the user quits: loads model and runs the init
 * script first (either may be NULL), their output in the console. Returns the exit
 * status, or -1 when the terminal cannot host it (nothing was loaded then, and the
 * caller falls back to the plain REPL). */
int tui_main(App *app, const char *model, const char *init);

#endif
