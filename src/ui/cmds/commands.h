/* The command table: one row per command, driving every front end, `help` and
 * docs/commands.md. */
#ifndef QS_COMMANDS_H
#define QS_COMMANDS_H

#include "cmds/app.h"
#include "text/args.h"
#include "text/result.h"

enum {
    CMD_NEEDS_MODEL = 1u << 0, /* fails cleanly before `load` */
    CMD_JOB = 1u << 1,         /* long work: progress and cancel through app->job */
    CMD_SETTINGS = 1u << 2,    /* key=value names come from the option table (set) */
    CMD_TRANSPARENT = 1u << 3, /* leaves app->last alone, so `check` sees the result before */
    CMD_OWN_OPTS = 1u << 4,    /* the handler checks option names (cmd_check_options) */
};

typedef struct CmdOpt {
    const char *name;
    const char *help;
} CmdOpt;

typedef struct CmdDef {
    const char *name;
    const char *usage;    /* "eval [split=eval] [n=N]" */
    const char *summary;  /* one line */
    const char *example;  /* a command line that works on a bundled model */
    int min_pos, max_pos; /* positional arity */
    unsigned flags;
    const CmdOpt *opts;   /* accepted key=value names, {NULL} terminated */
    QsStatus (*run)(App *app, const CmdArgs *a, Result *r, QsError *err);
} CmdDef;

extern const CmdDef cmd_table[];
extern const int cmd_count;

/* The row named exactly `name`, or NULL. */
const CmdDef *cmd_find(const char *name);
/* Fails with QS_EINVAL naming the first option of a that def does not list. */
QsStatus cmd_check_options(const CmdDef *def, const CmdArgs *a, QsError *err);

/* Parses one command text, finds the command, checks arity, option names (an unknown key
 * fails listing the valid ones) and CMD_NEEDS_MODEL, then runs it into r (reset here). */
QsStatus cmd_exec(App *app, const char *text, Result *r, QsError *err);

/* Runs every command of a line in order, emitting each result through app->emit; stops at
 * the first failure. */
QsStatus cmd_exec_line(App *app, const char *line, QsError *err);

/* docs/commands.md, generated from the table (qscope --commands-md). Caller frees. */
char *cmd_reference_markdown(void);

#endif
