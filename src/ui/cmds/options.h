/* Session options shown by `get` and changed by `set`: one row per option. cmd_exec checks
 * a value by the row's kind (optkind.h) before `set` calls the setter. */
#ifndef QS_OPTIONS_H
#define QS_OPTIONS_H

#include <stddef.h>

#include "cmds/app.h"
#include "cmds/optkind.h"

typedef struct OptionDef {
    const char *name;
    OptKind kind;
    OptChoices choices;   /* OPT_CHOICE: the names it takes */
    const char *help;
    void (*show)(const App *app, char *buf, size_t cap);
    QsStatus (*set)(App *app, const char *key, const char *value, QsError *err);
} OptionDef;

extern const OptionDef option_table[];
extern const int option_count;

const OptionDef *option_find(const char *name);
/* The i-th option's name, NULL past the last (OptChoices over the table). */
const char *choice_setting(int i);

#endif
