/* The command table: one row per command, driving every front end, `help` and
 * docs/commands.md. A row says what the command takes (arguments and options with their
 * kinds, optkind.h) and what the workbench does with its result. */
#ifndef QS_COMMANDS_H
#define QS_COMMANDS_H

#include "cmds/app.h"
#include "cmds/optkind.h"
#include "text/args.h"
#include "text/result.h"

enum {
    CMD_NEEDS_MODEL = 1u << 0, /* fails cleanly before `load` */
    CMD_JOB = 1u << 1,         /* long work: progress and cancel through app->job */
    CMD_SETTINGS = 1u << 2,    /* key=value names come from the option table (set) */
    CMD_TRANSPARENT = 1u << 3, /* leaves app->last alone, so `check` sees the result before */
    CMD_OWN_OPTS = 1u << 4,    /* the handler checks option names (cmd_check_options) */
    CMD_SCRIPT = 1u << 5,      /* runs the commands of a script: long work for a front end */
};

/* Which part of the workbench a command's result feeds (the plain front ends print every
 * result alike). */
typedef enum {
    CMD_FEEDS_CONSOLE = 0, /* the console only */
    CMD_FEEDS_LAYERS,      /* the layer list (the `layers` table) */
    CMD_FEEDS_ERRORS,      /* the per-layer error bars, kept per plan */
    CMD_FEEDS_METRIC,      /* the plan's metric over the eval split, kept per plan */
    CMD_FEEDS_COMPARE,     /* the metrics pane: every precision and variant */
    CMD_FEEDS_HIST,        /* the detail pane's histogram */
    CMD_FEEDS_NEW_MODEL,   /* a new model: the selection goes back to the first layer */
    CMD_FEEDS_PLAYER,      /* not run: the workbench plays the script a step per key */
    CMD_FEEDS_QUIT,        /* not run: the workbench asks first while a job runs */
} CmdFeeds;

/* What a command changes, so the workbench knows which figures it kept are outdated. */
enum {
    CMD_OUTDATES_MODEL = 1u << 0,      /* the float weights */
    CMD_OUTDATES_DATA = 1u << 1,       /* the data, or what is measured on it */
    CMD_OUTDATES_CALIB = 1u << 2,      /* the calibration */
    CMD_OUTDATES_ON_FAILURE = 1u << 3, /* failed or cancelled too (train keeps its best
                                          epoch so far) */
};

/* What the workbench does with the command; the plain front ends ignore it. */
typedef struct CmdWorkbench {
    CmdFeeds feeds;
    unsigned outdates;       /* CMD_OUTDATES_* */
    const char *outdates_if; /* "field=value": only a result with it outdates anything */
    const char *follow;      /* result field naming the layer to select after the command */
    const char *follow_view; /* result field saying "weights" or "act" for the detail pane */
} CmdWorkbench;

typedef struct CmdDef {
    const char *name;
    const char *usage;    /* "eval [split=eval] [n=N]" */
    const char *summary;  /* one line */
    const char *example;  /* a command line that works on a bundled model */
    int min_pos, max_pos; /* positional arity */
    unsigned flags;
    const CmdOpt *args;   /* positional arguments in order, for `help` and completion;
                             {NULL} terminated; NULL when none takes a known kind */
    const CmdOpt *opts;   /* accepted key=value options, {NULL} terminated */
    CmdWorkbench wb;
    QsStatus (*run)(App *app, const CmdArgs *a, Result *r, QsError *err);
} CmdDef;

extern const CmdDef cmd_table[];
extern const int cmd_count;

/* The row named exactly `name`, or NULL. */
const CmdDef *cmd_find(const char *name);
/* The i-th command's name, NULL past the last (OptChoices over the table). */
const char *choice_command(int i);
/* The i-th key=value option def takes (0-based): for `set` the settings (options.h), then
 * the row's own opts; false past the last. For help, docs, the man page and completion. */
bool cmd_option_at(const CmdDef *def, int i, CmdOpt *out);
/* Fails with QS_EINVAL naming the first option of a that def does not list. */
QsStatus cmd_check_options(const CmdDef *def, const CmdArgs *a, QsError *err);
/* Whether result r of def outdates what def->wb.outdates says (its outdates_if holds). */
bool cmd_result_outdates(const CmdDef *def, const Result *r);

/* Parses one command text, finds the command, checks arity, option names (an unknown key
 * fails listing the valid ones), option values by their kind and CMD_NEEDS_MODEL, then
 * runs it into r (reset here). */
QsStatus cmd_exec(App *app, const char *text, Result *r, QsError *err);
/* The same from arguments already split (no ${...} expansion, no lexing): the command line's
 * model path reaches `load` as written, quotes, backslashes, ';' and all. */
QsStatus cmd_exec_args(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_exec_args, then the result is emitted and kept for `check` as in cmd_exec_line. */
QsStatus cmd_run_args(App *app, const CmdArgs *a, QsError *err);

/* Runs every command of a line in order, emitting each result through app->emit; stops at
 * the first failure. */
QsStatus cmd_exec_line(App *app, const char *line, QsError *err);
/* The same with no ${...} expansion: a line qscope wrote itself around a path it was given
 * (the workbench's start-up `load` and `source`), which must reach the command as written. */
QsStatus cmd_exec_line_literal(App *app, const char *line, QsError *err);

/* docs/commands.md, generated from the table (qscope --commands-md). Caller frees. */
char *cmd_reference_markdown(void);

#endif
