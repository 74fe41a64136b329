/* Script variables: `let NAME=VALUE`, `-D NAME=VALUE` on the command line and `keep NAME`
 * (the figures of the previous result as NAME.field) define them; `${NAME}` in any later
 * command is replaced by the value before the command is parsed. Workflow scripts use
 * them for their sizes (full form by default, a short CI form by -D) and `check` reads
 * them to compare two results (docs/commands.md, "Scripts"). */
#ifndef QS_VARS_H
#define QS_VARS_H

#include <stdbool.h>

#include "base/error.h"

/* Bounds on what a script can grow (issue 14, finding 9: `let a=${a}${a}` forty times
 * ran qscope out of memory and lost the session). One value, and one command line after
 * expansion, holds at most VARS_MAX_VALUE bytes; all values together at most
 * VARS_MAX_TOTAL. Past either, the command fails with QS_ENOMEM and the session goes on.
 * docs/scripts.md states both. */
#define VARS_MAX_VALUE ((size_t)1 << 20)
#define VARS_MAX_TOTAL ((size_t)16 << 20)

typedef struct VarTable {
    int n, cap;
    char **name, **value;   /* [n], owned */
    size_t total;           /* bytes of all values, kept <= VARS_MAX_TOTAL */
} VarTable;

void vars_release(VarTable *v);
/* The value, or NULL when NAME is not defined. */
const char *vars_get(const VarTable *v, const char *name);
/* Defines or replaces NAME; QS_EINVAL unless NAME is letters, digits, '_' and '.',
 * starting with a letter or '_'; QS_ENOMEM (the table unchanged) when the value is longer
 * than VARS_MAX_VALUE or the values would total more than VARS_MAX_TOTAL. */
QsStatus vars_set(VarTable *v, const char *name, const char *value, QsError *err);
/* Parses "NAME=VALUE" (command line -D). */
QsStatus vars_define(VarTable *v, const char *def, QsError *err);
/* *out = text with every ${NAME} replaced (new memory, caller frees). QS_EINVAL names an
 * undefined variable or an unterminated ${; QS_ENOMEM a result longer than
 * VARS_MAX_VALUE. */
QsStatus vars_expand(const VarTable *v, const char *text, char **out, QsError *err);

#endif
