/* The flag table's lookup and the --help text (cli.h). */
#include "shell/cli.h"

#include <stdlib.h>
#include <string.h>

#include "native/modelfile.h"
#include "shell/exit_status.h"
#include "text/strbuf.h"

const CliFlag *cli_find(const CliFlag *flags, int n, const char *arg)
{
    for (int i = 0; i < n; i++)
        if (strcmp(flags[i].name, arg) == 0 || (flags[i].alias && strcmp(flags[i].alias, arg) == 0))
            return &flags[i];
    return NULL;
}

char *cli_model_suffixes(const char *sep)
{
    StrBuf b = { 0 };
    const char *s;
    for (int i = 0; (s = modelfile_suffix(i)); i++)
        strbuf_printf(&b, "%s%s", i ? sep : "", s);
    return strbuf_take(&b);
}

/* "-c CMDS", "--help, -h". */
static void flag_spelling(StrBuf *b, const CliFlag *f)
{
    strbuf_printf(b, "%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
    if (f->alias)
        strbuf_printf(b, ", %s", f->alias);
}

char *cli_usage(const CliFlag *flags, int n)
{
    StrBuf b = { 0 }, one = { 0 };
    int width = (int)strlen("MODEL");
    for (int i = 0; i < n; i++) {
        strbuf_clear(&one);
        flag_spelling(&one, &flags[i]);
        if ((int)one.len > width)
            width = (int)one.len;
    }
    char *suffixes = cli_model_suffixes(", ");
    strbuf_printf(&b, "usage: qscope [OPTION]... [MODEL]\n\n"
                      "The workbench on a terminal; the plain REPL, a script (--batch) or "
                      "commands (-c) otherwise.\n\n");
    strbuf_printf(&b, "  %-*s  a model to load first (%s)\n", width, "MODEL", suffixes);
    for (int i = 0; i < n; i++) {
        strbuf_clear(&one);
        flag_spelling(&one, &flags[i]);
        strbuf_printf(&b, "  %-*s  %s\n", width, strbuf_str(&one), flags[i].help);
    }
    strbuf_printf(&b, "\nExit status:");
    for (int i = 0; i < exit_status_count; i++)
        strbuf_printf(&b, "%s %d %s", i ? "," : "", exit_statuses[i].status,
                      exit_statuses[i].label);
    strbuf_printf(&b, " (docs/scripts.md).\n"
                      "Type 'help' at the prompt for the commands.\n");
    free(suffixes);
    strbuf_release(&one);
    return strbuf_take(&b);
}
