#include "shell/exit_status.h"

const ExitStatusDef exit_statuses[] = {
    { QS_EXIT_OK, "success" },
    { QS_EXIT_CHECK, "a check failed" },
    { QS_EXIT_USAGE, "a bad command or option" },
    { QS_EXIT_FILE, "a file could not be read or written" },
    { QS_EXIT_INTERRUPTED, "interrupted" },
};
const int exit_status_count = sizeof exit_statuses / sizeof exit_statuses[0];

/* ESHAPE, ENOMEM and EUNSUPPORTED are file errors: a shape that does not fit comes from a
 * model or data file (an op's shapes, a split against the model's input), an allocation
 * sized from input is refused by the budget a file may ask for (budget.h), and what qscope
 * cannot hold is an op or dtype a file uses, or one a format cannot be written with. */
const ExitRow exit_table[] = {
    { QS_OK, QS_EXIT_OK, "every command succeeded" },
    { QS_ECHECK, QS_EXIT_CHECK, "a `check` failed, or `pick` found no variant meeting its "
                                "constraints: the figures are off, the script is fine" },
    { QS_EINVAL, QS_EXIT_USAGE, "a bad command line, option value, argument count or command "
                                "order (int8-static before `calibrate`), or a value a command "
                                "refuses (a NaN weight to quantize)" },
    { QS_ENOTFOUND, QS_EXIT_USAGE, "an unknown command, layer, split, variant or npz member" },
    { QS_EIO, QS_EXIT_FILE, "a file could not be opened, read or written (missing, "
                            "unreadable, not a regular file, disk full)" },
    { QS_EFORMAT, QS_EXIT_FILE, "a file's content is malformed (a model, data file or script)" },
    { QS_ESHAPE, QS_EXIT_FILE, "shapes in a file do not fit together, or a data file's samples "
                               "do not fit the model" },
    { QS_ENOMEM, QS_EXIT_FILE, "a file (or a script's variables) asks for more memory than "
                               "its budget allows" },
    { QS_EUNSUPPORTED, QS_EXIT_FILE, "a file uses what qscope cannot read (an op, a dtype, a "
                                     "suffix), or a format cannot hold what was to be written" },
    { QS_ECANCELLED, QS_EXIT_INTERRUPTED, "SIGINT (Ctrl-C) stopped a script or `-c`; a second "
                                          "Ctrl-C ends qscope at once" },
};
const int exit_table_count = sizeof exit_table / sizeof exit_table[0];

int exit_status_of(QsStatus st)
{
    for (int i = 0; i < exit_table_count; i++)
        if (exit_table[i].code == st)
            return exit_table[i].status;
    return QS_EXIT_USAGE;
}
