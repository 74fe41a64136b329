/* The script language: lines split into commands (args_split_line: ';', quotes, '#'
 * comments), ${NAME} expansion, tokenising (args_parse), the command table lookup and
 * option-name checks for every command. Only a restricted set of commands that touch no
 * file and need no model is run through cmd_exec (which also checks option values by
 * kind); every other command is parsed only. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "text/args.h"

/* Run, not just parsed: variables, settings, results of earlier commands, help text. */
static const char *const run_commands[] = { "let", "echo", "get", "set", "keep", "check",
                                            "help", NULL };

/* Script variables may grow by doubling (`let a=${a}${a}`, issue 14 finding 9, fixed by
 * the resource budget); the harness stops an input whose variables pass this size so
 * the run measures the parser, not the allocator. */
enum { MAX_VAR_BYTES = 1 << 20 };

static bool is_run_command(const char *name)
{
    for (const char *const *c = run_commands; *c; c++)
        if (strcmp(*c, name) == 0)
            return true;
    return false;
}

static size_t var_bytes(const VarTable *v)
{
    size_t n = 0;
    for (int i = 0; i < v->n; i++)
        n += strlen(v->name[i]) + strlen(v->value[i]);
    return n;
}

/* Parses one command text; runs it when its command is in run_commands. */
static void command(App *app, const char *text)
{
    QsError err = { 0 };
    char *expanded;
    if (vars_expand(&app->vars, text, &expanded, &err))
        return;
    CmdArgs a;
    QsStatus st = args_parse(expanded, &a, &err);
    free(expanded);
    if (st)
        return;
    const CmdDef *def = cmd_find(a.name);
    bool run = def && is_run_command(def->name);
    if (def && !run)
        cmd_check_options(def, &a, &err);
    args_release(&a);
    if (run) {
        Result r;
        result_init(&r, "");
        cmd_exec(app, text, &r, &err);
        result_release(&r);
    }
}

static void line(App *app, const char *text)
{
    QsError err = { 0 };
    char **cmds;
    int n;
    if (args_split_line(text, &cmds, &n, &err))
        return;
    for (int i = 0; i < n && var_bytes(&app->vars) <= MAX_VAR_BYTES; i++)
        command(app, cmds[i]);
    args_free_split(cmds, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    App app;
    app_init(&app);
    /* one line at a time, as script_run_stream feeds cmd_exec_line */
    for (char *p = text, *nl; p && var_bytes(&app.vars) <= MAX_VAR_BYTES; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line(&app, p);
    }
    app_release(&app);
    free(text);
    return 0;
}
