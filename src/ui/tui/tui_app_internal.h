/* What the parts of the workbench share; for the tui_app*.c files only. Each part has
 * one job:
 *   tui_app.c           life cycle, and the small helpers below
 *   tui_app_dispatch.c  keys and mouse clicks, through the key table (tui_keys.h)
 *   tui_app_actions.c   @actions: the view alone (selection, focus, scrolling, ...)
 *   tui_app_run.c       running a command line typed, bound to a key or played
 *   tui_app_play.c      playing a demo: a step per key, with captions
 *   tui_app_results.c   finished results and jobs into the state and the panes (pump)
 *   tui_app_auto.c      the automatic figures the current view needs
 *   tui_app_draw.c      drawing everything into a screen buffer */
#ifndef QS_TUI_APP_INTERNAL_H
#define QS_TUI_APP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cmds/commands.h"
#include "tui/tui_app.h"

/* tui_app.c */
/* A line in the console. */
void tui_app_msg(Tui *t, TuiStyle style, const char *text);
/* An argument as the command lexer reads it back: quoted when it has to be. */
void tui_app_quote_arg(const char *s, char *buf, size_t cap);
/* The first word of a command line (its command's name). */
void tui_app_first_word(const char *line, char *buf, size_t cap);
/* Hands an event to every pane. */
void tui_app_event(Tui *t, TuiEventKind kind, const Result *r, const char *text, bool quiet);
void tui_app_relayout(Tui *t, int w, int h);

/* tui_app_actions.c: runs "@verb arg" (without the '@'). */
void tui_app_action(Tui *t, const char *text);

/* tui_app_run.c: runs a command line (echoed in the console when echo). */
void tui_app_run_line(Tui *t, const char *line, unsigned flags, bool echo);
/* The state's "being computed" key for figures that feed, or NULL. */
char *tui_app_pending_slot(TuiState *st, CmdFeeds feeds);

/* tui_app_play.c */
void tui_app_play_start(Tui *t, const char *path);
void tui_app_play_step(Tui *t);
void tui_app_play_back(Tui *t);
void tui_app_play_stop(Tui *t);
/* A replayed step (TUI_TASK_REPLAY) ended with status: a cancelled one ends the replay. */
void tui_app_play_replayed(Tui *t, QsStatus status);
/* Going back: when nothing runs and no figure is to be computed, replays the next step,
 * or, after the last, puts the view back as it was before that step. From the pump. */
void tui_app_play_drive(Tui *t);
/* Copies the player's position into the state (captions, layout). */
void tui_app_play_sync(Tui *t);

/* tui_app_results.c */
void tui_app_take_result(Tui *t, TuiItem *it);
void tui_app_take_done(Tui *t, TuiItem *it);

/* tui_app_auto.c */
/* Whether the automatic figure (what, key) failed before, so is not asked for again. */
bool tui_app_auto_tried(const Tui *t, const char *what, const char *key);
void tui_app_auto_set_tried(Tui *t, const char *what, const char *key, bool on);
/* Forgets every failure (a new model, or @refresh). */
void tui_app_auto_forget(Tui *t);
/* Starts what the view needs and the session can give; true when it submitted a task. */
bool tui_app_auto_refresh(Tui *t);

#endif
