/* play: demo scripts with captions. */
#include "cmds/cmd_play.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/cmd_session.h"
#include "io/fileio.h"
#include "text/strbuf.h"

/* A line holding only a comment (or nothing) contributes to the caption, not a step. */
static const char *comment_text(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line != '#')
        return NULL;
    line++;
    if (*line == ' ')
        line++;
    return line;
}

static bool blank(const char *line)
{
    return line[strspn(line, " \t\r\n")] == '\0';
}

QsStatus cmd_play_load(const char *path, PlayScript *ps, QsError *err)
{
    memset(ps, 0, sizeof *ps);
    ps->path = xstrdup(path);
    FILE *f = fileio_open_read(path, err);
    if (!f)
        return QS_EIO;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, cap_steps = 0;
    StrBuf caption = { 0 };
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        const char *c = comment_text(line);
        if (c) {
            strbuf_printf(&caption, "%s%s", caption.len ? "\n" : "", c);
            continue;
        }
        if (blank(line))
            continue;
        if (ps->n == cap_steps) {
            cap_steps = cap_steps ? 2 * cap_steps : 16;
            ps->steps = xrealloc(ps->steps, (size_t)cap_steps * sizeof *ps->steps);
        }
        PlayStep *st = &ps->steps[ps->n++];
        st->caption = strbuf_take(&caption);
        st->line = xstrdup(line);
        st->lineno = lineno;
    }
    free(line);
    fclose(f);
    ps->epilogue = strbuf_take(&caption);
    if (ps->n == 0)
        return qs_fail(err, QS_EINVAL, "%s: no commands to play", path);
    return QS_OK;
}

void cmd_play_release(PlayScript *ps)
{
    for (int i = 0; i < ps->n; i++) {
        free(ps->steps[i].caption);
        free(ps->steps[i].line);
    }
    free(ps->steps);
    free(ps->path);
    free(ps->epilogue);
    memset(ps, 0, sizeof *ps);
}

/* Shows a caption as its own result (plain text lines), before the step's output. */
static void emit_caption(App *app, const char *caption)
{
    if (!caption[0] || !app->emit)
        return;
    Result c;
    result_init(&c, "play");
    const char *p = caption;
    while (*p) {
        size_t n = strcspn(p, "\n");
        result_textf(&c, "# %.*s", (int)n, p);
        p += n + (p[n] == '\n');
    }
    app->emit(app, &c);
    result_release(&c);
}

QsStatus cmd_play(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    const char *path = a->pos[0];
    if (app->source_depth >= APP_MAX_SOURCE_DEPTH)
        return qs_fail(err, QS_EINVAL, "%s: scripts nested more than %d deep", path,
                       APP_MAX_SOURCE_DEPTH);
    PlayScript ps;
    QsStatus st = cmd_play_load(path, &ps, err);
    bool discarded = !st && session_unsaved(&app->session);
    if (!st) /* a demo shows the same thing whatever ran before it, and on a replay */
        cmd_session_fresh(app);
    app->source_depth++;
    for (int i = 0; !st && i < ps.n && !app->quit; i++) {
        emit_caption(app, ps.steps[i].caption);
        if ((st = cmd_exec_line(app, ps.steps[i].line, err)))
            qs_error_prefix(err, "%s:%d", path, ps.steps[i].lineno);
    }
    if (!st && !app->quit)
        emit_caption(app, ps.epilogue);
    app->source_depth--;
    if (!st) {
        result_str(r, "played", path);
        result_str(r, "started", "fresh");
        if (discarded)
            result_textf(r, "the demo started from a fresh session: the unsaved work "
                         "before it was dropped ('session save FILE' first keeps it)");
        result_int(r, "steps", ps.n);
    }
    cmd_play_release(&ps);
    return st;
}
