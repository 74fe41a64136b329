/* The command layer: lexing, dispatch, arity and option checks, options, scripts, and the
 * command reference staying in sync with the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/app.h"
#include "text/args.h"
#include "cmds/commands.h"
#include "io/fileio.h"
#include "cmds/options.h"
#include "eval/metrics.h"
#include "text/render.h"
#include "test_util.h"

static void test_split_line(void)
{
    char **c;
    int n;
    QsError err = { 0 };
    CHECK_OK(args_split_line("a 1; b x=\"p;q\" # c; d\n", &c, &n, &err), &err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(strcmp(c[0], "a 1") == 0);
        CHECK(strcmp(c[1], "b x=\"p;q\" ") == 0);
    }
    args_free_split(c, n);
    CHECK_OK(args_split_line("a # x; y\nb; c # z\n\n d", &c, &n, &err), &err);
    CHECK(n == 4 && strcmp(c[1], "b") == 0 && strcmp(c[3], "d") == 0);
    args_free_split(c, n);
    CHECK_OK(args_split_line("   # only a comment", &c, &n, &err), &err);
    CHECK(n == 0);
    args_free_split(c, n);
    expect_error("unterminated", args_split_line("echo \"abc", &c, &n, &err), &err, QS_EINVAL,
                 "unterminated");
}

static void test_parse(void)
{
    CmdArgs a;
    QsError err = { 0 };
    CHECK_OK(args_parse("data eval 'my file.npy' n=10 scale=\"1 2\" a=b=c", &a, &err), &err);
    CHECK(strcmp(a.name, "data") == 0);
    CHECK(a.n_pos == 2 && strcmp(a.pos[1], "my file.npy") == 0);
    CHECK(a.n_kv == 3);
    CHECK(strcmp(arg_str(&a, "scale", ""), "1 2") == 0);
    CHECK(strcmp(arg_str(&a, "a", ""), "b=c") == 0);
    long v;
    CHECK_OK(arg_int(&a, "n", 5, &v, &err), &err);
    CHECK(v == 10);
    CHECK_OK(arg_int(&a, "missing", 5, &v, &err), &err);
    CHECK(v == 5);
    expect_error("not int", arg_int(&a, "scale", 0, &v, &err), &err, QS_EINVAL,
                 "scale=1 2: expected an integer");
    args_release(&a);
    /* a quoted '=' does not make an option */
    CHECK_OK(args_parse("echo \"a=b\"", &a, &err), &err);
    CHECK(a.n_pos == 1 && a.n_kv == 0);
    args_release(&a);
    /* comparisons are positional, for `check` */
    CHECK_OK(args_parse("check n==3 a>=2 b != 1 =x", &a, &err), &err);
    CHECK(a.n_pos == 6 && a.n_kv == 0);
    args_release(&a);
}

static int emitted;
static void count_emit(App *app, const Result *r)
{
    (void)app;
    (void)r;
    emitted++;
}

static void test_exec(void)
{
    App app;
    app_init(&app);
    app.emit = count_emit;
    Result r;
    result_init(&r, "");
    QsError err = { 0 };
    expect_error("unknown command", cmd_exec(&app, "frobnicate", &r, &err), &err, QS_ENOTFOUND,
                 "unknown command 'frobnicate'");
    expect_error("arity", cmd_exec(&app, "load", &r, &err), &err, QS_EINVAL,
                 "usage: load PATH.qsm");
    expect_error("unknown option", cmd_exec(&app, "eval spilt=eval", &r, &err), &err, QS_EINVAL,
                 "unknown option 'spilt' (valid: split, n, task, batch)");
    expect_error("needs model", cmd_exec(&app, "eval", &r, &err), &err, QS_EINVAL,
                 "no model loaded");
    expect_error("missing file", cmd_exec(&app, "load /nonexistent/m.qsm", &r, &err), &err,
                 QS_EIO, "/nonexistent/m.qsm");
    expect_error("bad suffix", cmd_exec(&app, "load model.bin", &r, &err), &err,
                 QS_EUNSUPPORTED, "supported: .qsm");

    /* set changes nothing when any value is bad */
    CHECK_OK(cmd_exec(&app, "set batch=64", &r, &err), &err);
    CHECK(app.session.opt.batch == 64);
    expect_error("bad value", cmd_exec(&app, "set batch=32 threads=zero", &r, &err), &err,
                 QS_EINVAL, "threads=zero: expected an integer");
    CHECK(app.session.opt.batch == 64);
    expect_error("bad name", cmd_exec(&app, "set bach=3", &r, &err), &err, QS_EINVAL,
                 "unknown option 'bach'");
    CHECK_OK(cmd_exec(&app, "get batch", &r, &err), &err);
    const RValue *v = result_get(&r, "batch");
    CHECK(v && v->type == RV_INT && v->i == 64); /* an integer option is a number */
    expect_error("range", cmd_exec(&app, "set batch=0", &r, &err), &err, QS_EINVAL,
                 "expected 1 to 65536");
    /* the task setting takes every task of the core table */
    CHECK_OK(cmd_exec(&app, "set task=detect", &r, &err), &err);
    CHECK(app.session.opt.task == TASK_DETECT);
    CHECK_OK(cmd_exec(&app, "set task=auto", &r, &err), &err);
    /* values are checked by their option's kind before the handler runs */
    expect_error("int kind", cmd_exec(&app, "eval n=abc", &r, &err), &err, QS_EINVAL,
                 "n=abc: expected an integer");
    expect_error("choice kind", cmd_exec(&app, "train opt=lion", &r, &err), &err, QS_EINVAL,
                 "opt=lion: expected one of sgd|adam|adamw");
    expect_error("split kind", cmd_exec(&app, "calibrate split=test", &r, &err), &err,
                 QS_EINVAL, "split=test: expected one of calib|eval|train");

    /* a line runs each command and stops at the first failure */
    emitted = 0;
    expect_error("line stops", cmd_exec_line(&app, "echo a; echo b; nope; echo c", &err), &err,
                 QS_ENOTFOUND, "nope");
    CHECK(emitted == 2);

    /* quit stops the rest of the line */
    emitted = 0;
    CHECK_OK(cmd_exec_line(&app, "echo a; quit; echo b", &err), &err);
    CHECK(app.quit && emitted == 2);

    /* every command answers help and has usage, summary and example */
    for (int i = 0; i < cmd_count; i++) {
        char line[64];
        snprintf(line, sizeof line, "help %s", cmd_table[i].name);
        CHECK_OK(cmd_exec(&app, line, &r, &err), &err);
        CHECK(cmd_table[i].usage && cmd_table[i].summary && cmd_table[i].example);
        CHECK(strncmp(cmd_table[i].usage, cmd_table[i].name, strlen(cmd_table[i].name)) == 0);
        CHECK(cmd_find(cmd_table[i].name) == &cmd_table[i]);
    }
    result_release(&r);
    app_release(&app);
}

static void test_render(void)
{
    Result r;
    result_init(&r, "eval");
    result_int(&r, "n", 2000);
    result_float(&r, "accuracy", 0.9615, RS_PCT);
    result_float(&r, "sqnr", 1.0 / 0.0, RS_DB);
    result_float(&r, "missing", 0.0 / 0.0, RS_PLAIN);
    static const char *const cols[] = { "class", "recall", NULL };
    RTable *t = result_table(&r, "per_class", cols);
    int row = rtable_add_row(t);
    rtable_int(t, row, 0, 3);
    rtable_float(t, row, 1, 0.5, RS_FIXED4);
    char *text = render_text(&r);
    CHECK(strstr(text, "accuracy: 96.15 %") != NULL);
    CHECK(strstr(text, "sqnr:     inf dB") != NULL);
    CHECK(strstr(text, "class  recall\n    3  0.5000\n") != NULL);
    free(text);
    char *json = render_json(&r);
    CHECK(strcmp(json, "{\"cmd\":\"eval\",\"ok\":true,\"n\":2000,\"accuracy\":0.9615,"
                       "\"sqnr\":\"inf\",\"missing\":null,"
                       "\"per_class\":[{\"class\":3,\"recall\":0.5}]}\n") == 0);
    if (!strstr(json, "per_class"))
        fprintf(stderr, "json: %s", json);
    free(json);
    result_release(&r);
}

static void test_docs_in_sync(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    CHECK_OK(fileio_read("docs/commands.md", &buf, &len, &err), &err);
    char *want = cmd_reference_markdown();
    bool same = buf && strcmp(buf, want) == 0;
    if (!CHECK(same))
        fprintf(stderr, "docs/commands.md is stale: regenerate it with "
                        "'build/qscope --commands-md > docs/commands.md'\n");
    free(want);
    free(buf);
}

int main(void)
{
    test_split_line();
    test_parse();
    test_exec();
    test_render();
    test_docs_in_sync();
    return test_summary("commands");
}
