#include "cmds/options.h"

#include <stdio.h>
#include <string.h>

#include "text/args.h"
#include "eval/metrics.h"
#include "base/budget.h"
#include "kern/sgemm.h"
#include "kern/threads.h"

static void show_batch(const App *app, char *buf, size_t cap)
{
    snprintf(buf, cap, "%d", app->session.opt.batch);
}

static QsStatus set_batch(App *app, const char *key, const char *v, QsError *err)
{
    long n;
    if (parse_long(key, v, &n, err))
        return err->code;
    if (n < 1 || n > 65536)
        return qs_fail(err, QS_EINVAL, "%s=%ld: expected 1 to 65536", key, n);
    app->session.opt.batch = (int)n;
    return QS_OK;
}

static void show_threads(const App *app, char *buf, size_t cap)
{
    snprintf(buf, cap, "%d", app->session.opt.threads);
}

static QsStatus set_threads(App *app, const char *key, const char *v, QsError *err)
{
    long n;
    if (parse_long(key, v, &n, err))
        return err->code;
    if (n < 1 || n > 256)
        return qs_fail(err, QS_EINVAL, "%s=%ld: expected 1 to 256", key, n);
    app->session.opt.threads = (int)n;
    threads_set((int)n);
    return QS_OK;
}

static void show_blas(const App *app, char *buf, size_t cap)
{
    (void)app;
    snprintf(buf, cap, "%s", sgemm_backend_name(sgemm_backend()));
}

static QsStatus set_blas(App *app, const char *key, const char *v, QsError *err)
{
    (void)app;
    int k;
    if (parse_choice_of(key, v, choice_blas, &k, err))
        return err->code;
    sgemm_set_backend((SgemmBackend)k);
    return QS_OK;
}

static void show_task(const App *app, char *buf, size_t cap)
{
    int t = app->session.opt.task;
    snprintf(buf, cap, "%s", t < 0 ? "auto" : task_name((TaskKind)t));
}

static QsStatus set_task(App *app, const char *key, const char *v, QsError *err)
{
    int k;
    if (parse_choice_of(key, v, choice_task_or_auto, &k, err))
        return err->code;
    app->session.opt.task = k - 1; /* "auto" is -1 */
    return QS_OK;
}

static void show_seed(const App *app, char *buf, size_t cap)
{
    snprintf(buf, cap, "%ld", app->session.opt.seed);
}

static QsStatus set_seed(App *app, const char *key, const char *v, QsError *err)
{
    long n;
    if (parse_long(key, v, &n, err))
        return err->code;
    app->session.opt.seed = n;
    return QS_OK;
}

static void show_output(const App *app, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", choice_output(app->mode));
}

static QsStatus set_output(App *app, const char *key, const char *v, QsError *err)
{
    int k;
    if (parse_choice_of(key, v, choice_output, &k, err))
        return err->code;
    app->mode = (RenderMode)k;
    return QS_OK;
}

static void show_max_memory(const App *app, char *buf, size_t cap)
{
    (void)app;
    budget_format_bytes(budget_max(), buf, cap);
}

static QsStatus set_max_memory(App *app, const char *key, const char *v, QsError *err)
{
    (void)app;
    int64_t n;
    if (budget_parse_bytes(v, &n, err)) {
        qs_error_prefix(err, "%s", key);
        return err->code;
    }
    return budget_set_max(n, err);
}

const OptionDef option_table[] = {
    { "batch", OPT_INT, NULL, "samples per forward pass in eval and run", show_batch,
      set_batch },
    { "threads", OPT_INT, NULL, "threads every kernel splits its work on", show_threads, set_threads },
    { "task", OPT_CHOICE, choice_task_or_auto,
      "what the labels are; auto: from the model's metadata, then the labels", show_task,
      set_task },
    { "seed", OPT_INT, NULL, "seed for anything random", show_seed, set_seed },
    { "output", OPT_CHOICE, choice_output, "how results are printed", show_output,
      set_output },
    { "max_memory", OPT_TEXT, NULL,
      "the most a model or data file may make qscope allocate (512M, 4G; default 4G; "
      "docs/limits.md)", show_max_memory, set_max_memory },
    { "blas", OPT_CHOICE, choice_blas,
      "float matrix products: qscope (default; the same bits on every machine) or openblas "
      "(its speed; its sums differ by CPU)", show_blas, set_blas },
};
const int option_count = sizeof option_table / sizeof option_table[0];

const char *choice_setting(int i)
{
    return i >= 0 && i < option_count ? option_table[i].name : NULL;
}

const OptionDef *option_find(const char *name)
{
    for (int i = 0; i < option_count; i++)
        if (strcmp(option_table[i].name, name) == 0)
            return &option_table[i];
    return NULL;
}
