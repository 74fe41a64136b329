/* A result's JSON keys (issue 16): a duplicate key stops the program where it is added
 * (QS_ASSERT: JSON readers would silently keep one of the two values), ranges are [lo, hi]
 * numbers, channel lists arrays of integers, and a failure names its command. Each duplicate runs in a child process, which
 * must abort with a message naming the key. */
#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text/render.h"
#include "test_util.h"

static const char *const two_cols[] = { "a", "b", NULL };

static void dup_field(Result *r)
{
    result_int(r, "n", 1);
    result_float(r, "n", 2.0, RS_PLAIN);
}

static void field_then_table(Result *r)
{
    result_int(r, "units", 6);
    result_table(r, "units", two_cols);
}

static void table_then_field(Result *r)
{
    result_table(r, "findings", two_cols);
    result_int(r, "findings", 0);
}

static void two_tables(Result *r)
{
    result_table(r, "layers", two_cols);
    result_table(r, "layers", two_cols);
}

static void renderer_key(Result *r) { result_str(r, "cmd", "x"); }

static void text_key(Result *r) { result_table(r, "text", two_cols); }

static void dup_column(Result *r)
{
    static const char *const cols[] = { "a", "b", "a", NULL };
    result_table(r, "t", cols);
}

/* Runs make(r) in a child; checks that it aborts and that its stderr contains `needle`. */
static void expect_abort(const char *label, void (*make)(Result *), const char *needle)
{
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(!"pipe");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        Result r;
        result_init(&r, "test");
        make(&r);
        _exit(0); /* not reached when the check works */
    }
    close(fds[1]);
    char msg[512] = "";
    size_t used = 0;
    ssize_t got;
    while (used + 1 < sizeof msg && (got = read(fds[0], msg + used, sizeof msg - 1 - used)) > 0)
        used += (size_t)got;
    msg[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    if (!test_check(aborted, __FILE__, __LINE__, label))
        fprintf(stderr, "  %s: the child was not stopped (status %d)\n", label, status);
    if (!test_check(strstr(msg, needle) != NULL, __FILE__, __LINE__, label))
        fprintf(stderr, "  %s: stderr lacks '%s': %s\n", label, needle, msg);
}

static void test_duplicates_stop(void)
{
    expect_abort("a field set twice", dup_field, "key 'n'");
    expect_abort("a table named like a field", field_then_table, "key 'units'");
    expect_abort("a field named like a table", table_then_field, "key 'findings'");
    expect_abort("two tables of one name", two_tables, "key 'layers'");
    expect_abort("a field named cmd", renderer_key, "key 'cmd'");
    expect_abort("a table named text", text_key, "key 'text'");
    expect_abort("a column named twice", dup_column, "strcmp(cols[d], cols[c]) != 0");
}

/* A range is [lo, hi] in JSON and "[lo, hi]" in text; a missing one is null. */
static void test_range(void)
{
    Result r;
    result_init(&r, "layers");
    static const char *const cols[] = { "name", "w_range", NULL };
    RTable *t = result_table(&r, "layers", cols);
    int row = rtable_add_row(t);
    rtable_str(t, row, 0, "conv1");
    rtable_range(t, row, 1, -2.5, 0.75);
    row = rtable_add_row(t);
    rtable_str(t, row, 0, "relu1");
    char *line = render_json(&r);
    CHECK(strcmp(line, "{\"cmd\":\"layers\",\"ok\":true,\"layers\":[{\"name\":\"conv1\","
                       "\"w_range\":[-2.5,0.75]},{\"name\":\"relu1\",\"w_range\":null}]}\n") == 0);
    free(line);
    char buf[64];
    render_value(&t->cells[1], buf, sizeof buf);
    CHECK(strcmp(buf, "[-2.5, 0.75]") == 0);
    result_release(&r);
}

/* A list of channels is an array of integers, "a,b" in text; a copy owns its own list. */
static void test_ints_and_copy(void)
{
    Result r;
    result_init(&r, "diagnose");
    static const char *const cols[] = { "layer", "channels", NULL };
    RTable *t = result_table(&r, "findings", cols);
    int row = rtable_add_row(t);
    rtable_str(t, row, 0, "dw1");
    rtable_ints(t, row, 1, (const int[]){ 5, 11 }, 2);
    row = rtable_add_row(t);
    rtable_str(t, row, 0, "fc");
    rtable_ints(t, row, 1, NULL, 0);
    Result c;
    result_copy(&c, &r);
    result_release(&r);
    char *line = render_json(&c);
    CHECK(strcmp(line, "{\"cmd\":\"diagnose\",\"ok\":true,\"findings\":[{\"layer\":\"dw1\","
                       "\"channels\":[5,11]},{\"layer\":\"fc\",\"channels\":[]}]}\n") == 0);
    free(line);
    char buf[64];
    render_value(&c.tables[0].cells[1], buf, sizeof buf);
    CHECK(strcmp(buf, "5,11") == 0);
    result_release(&c);
}

static void test_failure_names_command(void)
{
    char *line = render_json_error("load", "io", "m.qsm: No such file or directory");
    CHECK(strcmp(line, "{\"cmd\":\"load\",\"ok\":false,\"error\":\"m.qsm: No such file or "
                       "directory\",\"code\":\"io\"}\n") == 0);
    free(line);
}

int main(void)
{
    test_duplicates_stop();
    test_range();
    test_ints_and_copy();
    test_failure_names_command();
    return test_summary("result_keys");
}
