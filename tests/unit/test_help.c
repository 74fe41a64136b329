/* What qscope says about itself, whole: `help NAME` of every command row shows each of the
 * row's texts in full (they were cut at 256 bytes once), the exit status table covers every
 * error and matches docs/scripts.md, and the progress line's text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "io/fileio.h"
#include "shell/exit_status.h"
#include "shell/progress.h"
#include "text/render.h"
#include "text/strbuf.h"
#include "test_util.h"

static bool contains(const char *hay, const char *needle, const char *cmd, const char *what)
{
    bool ok = strstr(hay, needle) != NULL;
    if (!CHECK(ok))
        fprintf(stderr, "help %s: the %s is not shown whole: '%s'\n", cmd, what, needle);
    return ok;
}

static void test_help_whole(void)
{
    App app;
    app_init(&app);
    Result r;
    result_init(&r, "");
    QsError err = { 0 };
    StrBuf takes = { 0 };
    size_t longest = 0;
    for (int i = 0; i < cmd_count; i++) {
        const CmdDef *d = &cmd_table[i];
        char line[64];
        snprintf(line, sizeof line, "help %s", d->name);
        if (!CHECK_OK(cmd_exec(&app, line, &r, &err), &err))
            continue;
        char *text = render_text(&r);
        contains(text, d->usage, d->name, "usage");
        contains(text, d->summary, d->name, "summary");
        contains(text, d->example, d->name, "example");
        if (strlen(d->summary) > longest)
            longest = strlen(d->summary);
        const char *const fields[][2] = {
            { "usage", d->usage }, { "summary", d->summary }, { "example", d->example },
        };
        for (int f = 0; f < 3; f++) { /* the JSON form reads the same fields */
            const RValue *v = result_get(&r, fields[f][0]);
            CHECK(v && v->type == RV_STR && strcmp(v->s, fields[f][1]) == 0);
        }
        for (int k = 0; d->args && d->args[k].name; k++) {
            strbuf_clear(&takes);
            optkind_describe(&takes, d->args[k].kind, d->args[k].choices);
            contains(text, strbuf_str(&takes), d->name, "argument's kind");
        }
        CmdOpt o;
        for (int k = 0; cmd_option_at(d, k, &o); k++) {
            contains(text, o.help, d->name, "option's meaning");
            strbuf_clear(&takes);
            optkind_describe(&takes, o.kind, o.choices);
            contains(text, strbuf_str(&takes), d->name, "option's kind");
        }
        free(text);
    }
    /* the case that was cut: a summary far past the old 256-byte buffer */
    CHECK(longest > 600);
    strbuf_release(&takes);
    result_release(&r);
    app_release(&app);
}

/* Every error code has one row; docs/scripts.md shows each row as "| STATUS | `name` |
 * meaning |". */
static void test_exit_table(void)
{
    for (int c = QS_OK; c <= QS_ECHECK; c++) {
        int rows = 0;
        for (int i = 0; i < exit_table_count; i++)
            rows += exit_table[i].code == (QsStatus)c;
        if (!CHECK(rows == 1))
            fprintf(stderr, "error '%s' has %d exit table rows\n", qs_status_name(c), rows);
    }
    CHECK(exit_status_of(QS_OK) == 0 && exit_status_of(QS_ECHECK) == 1 &&
          exit_status_of(QS_EINVAL) == 2 && exit_status_of(QS_ENOTFOUND) == 2 &&
          exit_status_of(QS_EIO) == 3 && exit_status_of(QS_EFORMAT) == 3 &&
          exit_status_of(QS_ECANCELLED) == 130);
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read("docs/scripts.md", &buf, &len, &err), &err))
        return;
    for (int i = 0; i < exit_table_count; i++) {
        bool known = false;
        for (int s = 0; s < exit_status_count; s++)
            known |= exit_statuses[s].status == exit_table[i].status;
        CHECK(known);
        char row[512];
        snprintf(row, sizeof row, "| %d | `%s` | %s |", exit_table[i].status,
                 qs_status_name(exit_table[i].code), exit_table[i].meaning);
        if (!CHECK(strstr(buf, row)))
            fprintf(stderr, "docs/scripts.md lacks the exit status row\n%s\n", row);
    }
    free(buf);
}

static void expect_line(const char *phase, double done0, double done, double elapsed,
                        const char *want)
{
    char got[128];
    progress_format(got, sizeof got, phase, done0, done, elapsed);
    if (!CHECK(strcmp(got, want) == 0))
        fprintf(stderr, "progress: got '%s', want '%s'\n", got, want);
}

static void test_progress_text(void)
{
    /* time left = elapsed * (1 - done) / (done - done0) */
    expect_line("calibrate", 0.0, 0.25, 5.0, "calibrate    25%  15s left");
    expect_line("val", 0.5, 0.75, 30.0, "val          75%  30s left");
    expect_line("train", 0.0, 0.5, 90.0, "train        50%  1m30s left");
    expect_line("sensitivity", 0.0, 0.01, 100.0, "sensitivity   1%  2h45m left");
    /* nothing done since the first report: no estimate yet */
    expect_line("eval", 0.3, 0.3, 2.0, "eval         30%");
    /* rounded to whole seconds, 0.4 s down */
    expect_line("eval", 0.0, 0.9, 3.6, "eval         90%  0s left");
}

int main(void)
{
    test_help_whole();
    test_exit_table();
    test_progress_text();
    return test_summary("help");
}
