#include "cmds/script.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/commands.h"
#include "io/fileio.h"

QsStatus script_run_stream(App *app, FILE *f, const char *name, QsError *err)
{
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    QsStatus st = QS_OK;
    ssize_t len;
    while (!app->quit && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* A NUL would end the line early as a string and silently drop the rest. */
        if (memchr(line, '\0', (size_t)len)) {
            st = qs_fail(err, QS_EFORMAT, "%s:%d: NUL byte in the script", name, lineno);
            break;
        }
        if ((st = cmd_exec_line(app, line, err))) {
            qs_error_prefix(err, "%s:%d", name, lineno);
            break;
        }
    }
    free(line);
    return st;
}

QsStatus script_run_file(App *app, const char *path, QsError *err)
{
    if (app->source_depth >= APP_MAX_SOURCE_DEPTH)
        return qs_fail(err, QS_EINVAL, "%s: scripts nested more than %d deep", path,
                       APP_MAX_SOURCE_DEPTH);
    FILE *f = fileio_open_read(path, err);
    if (!f)
        return QS_EIO;
    app->source_depth++;
    QsStatus st = script_run_stream(app, f, path, err);
    app->source_depth--;
    fclose(f);
    return st;
}
