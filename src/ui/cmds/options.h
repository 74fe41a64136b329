/* Session options shown by `get` and changed by `set`: one row per option. */
#ifndef QS_OPTIONS_H
#define QS_OPTIONS_H

#include <stddef.h>

#include "cmds/app.h"

typedef struct OptionDef {
    const char *name;
    const char *help;
    void (*show)(const App *app, char *buf, size_t cap);
    QsStatus (*set)(App *app, const char *key, const char *value, QsError *err);
} OptionDef;

extern const OptionDef option_table[];
extern const int option_count;

const OptionDef *option_find(const char *name);

#endif
