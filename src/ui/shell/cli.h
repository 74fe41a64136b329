/* qscope's command-line flags as one table (its rows live in main.c): the parser walks it,
 * and --help, the man page and the bash completion are generated from it, so a flag is
 * one row and shows up everywhere at once. */
#ifndef QS_CLI_H
#define QS_CLI_H

#include <stdbool.h>

/* What a flag's argument is, for completion. */
typedef enum {
    CLI_ARG_NONE = 0, /* the flag takes no argument */
    CLI_ARG_TEXT,     /* free text: nothing to offer */
    CLI_ARG_FILE,     /* any file */
    CLI_ARG_SCRIPT,   /* a script, FILE.qs */
    CLI_ARG_COMMANDS, /* qscope commands ('eval; compare'): the command table's names,
                         options and values */
    CLI_ARG_SHELL,    /* a shell a completion script exists for: bash */
} CliArgKind;

/* The parser's state; defined by main.c, which owns what flags set. */
typedef struct CliRun CliRun;

typedef struct CliFlag {
    const char *name;  /* "--batch" */
    const char *alias; /* "-h", or NULL */
    const char *arg;   /* the argument's placeholder ("FILE.qs"), NULL when it takes none */
    CliArgKind kind;
    const char *help;  /* one sentence, for --help and the man page */
    /* Applies the flag; returns -1 to go on, else the exit status to end with at once
     * (--help, --version, a bad -D value). */
    int (*apply)(CliRun *run, const char *arg);
} CliFlag;

/* The row whose name or alias is `arg`, or NULL. */
const CliFlag *cli_find(const CliFlag *flags, int n, const char *arg);

/* The model suffixes the model-file table reads, joined: ".qsm, .onnx". Caller frees. */
char *cli_model_suffixes(const char *sep);

/* The --help text: synopsis, MODEL, one line per flag. Caller frees. */
char *cli_usage(const CliFlag *flags, int n);

/* The man page qscope.1 in roff (man(7)): NAME, SYNOPSIS, DESCRIPTION, OPTIONS (the
 * flags), COMMANDS (the command table), EXIT STATUS (shell/exit_status.h), FILES, SEE ALSO.
 * Caller frees. */
char *cli_man_page(const CliFlag *flags, int n, const char *version);

/* A bash completion script for qscope: the flags and their arguments, MODEL files by the
 * model-file table's suffixes, and inside -c's argument the commands, their key= options,
 * choice values and file arguments. Caller frees. */
char *cli_completion_bash(const CliFlag *flags, int n);

#endif
