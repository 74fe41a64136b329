/* The process exit status of the plain front ends (-c, --batch, --init, the REPL on a pipe)
 * and its documentation, from one table: every QsStatus maps to one status, so a CI job can
 * tell a figure that is off (1) from a script that is wrong (2), a file it could not use (3)
 * and an interrupted run (130). docs/scripts.md ("Exit status") lists the same rows; a unit
 * test keeps the two equal. */
#ifndef QS_EXIT_STATUS_H
#define QS_EXIT_STATUS_H

#include "base/error.h"

enum {
    QS_EXIT_OK = 0,
    QS_EXIT_CHECK = 1,       /* a `check` (or pick's constraints) did not hold */
    QS_EXIT_USAGE = 2,       /* a bad command, option, value or name */
    QS_EXIT_FILE = 3,        /* a file could not be read, used or written */
    QS_EXIT_INTERRUPTED = 130, /* SIGINT: 128 + 2, as a shell reports it */
};

/* The statuses, each with what it tells a caller, in order. */
typedef struct ExitStatusDef {
    int status;
    const char *label; /* "a check failed" */
} ExitStatusDef;

extern const ExitStatusDef exit_statuses[];
extern const int exit_status_count;

/* Which status an error stands for. */
typedef struct ExitRow {
    QsStatus code;       /* the error a command failed with */
    int status;          /* QS_EXIT_* */
    const char *meaning; /* when qscope fails with it, for the docs */
} ExitRow;

extern const ExitRow exit_table[];
extern const int exit_table_count;

/* The exit status for a command that failed with st (QS_OK: 0). A code missing from the
 * table (there is none; the unit test walks every value) counts as a usage error. */
int exit_status_of(QsStatus st);

#endif
