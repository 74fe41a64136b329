#include "tui/tui_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/args.h"
#include "cmds/commands.h"
#include "base/error.h"

double tui_exec_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tui_exec_item_release(TuiItem *it)
{
    free(it->line);
    if (it->kind == TUI_ITEM_RESULT)
        result_release(&it->r);
    memset(it, 0, sizeof *it);
}

static void push_item(TuiExec *ex, TuiItem *it)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->n_items == ex->cap_items) {
        ex->cap_items = ex->cap_items ? 2 * ex->cap_items : 16;
        ex->items = xrealloc(ex->items, (size_t)ex->cap_items * sizeof *ex->items);
    }
    ex->items[ex->n_items++] = *it;
    pthread_mutex_unlock(&ex->mu);
}

/* A fresh snapshot from the thread that owns the session now. */
static void publish_snap(TuiExec *ex)
{
    TuiSnap s = { 0 };
    tui_state_snap_take(&s, ex->app, ex->model_gen, ex->data_gen, ex->calib_gen);
    pthread_mutex_lock(&ex->mu);
    tui_state_snap_release(&ex->snap);
    ex->snap = s; /* moved */
    ex->snap_fresh = true;
    pthread_mutex_unlock(&ex->mu);
}

/* Outdates the cached figures that what the command changed (its row's wb.outdates)
 * went into. */
static void bump_gens(TuiExec *ex, unsigned outdates)
{
    if (outdates & CMD_OUTDATES_MODEL)
        ex->model_gen++;
    if (outdates & CMD_OUTDATES_DATA)
        ex->data_gen++;
    if (outdates & CMD_OUTDATES_CALIB)
        ex->calib_gen++;
}

/* Runs on whichever thread runs commands (app->emit_user is the TuiExec). */
static void exec_emit(App *app, const Result *r)
{
    TuiExec *ex = app->emit_user;
    const CmdDef *def = cmd_find(r->cmd);
    if (def && cmd_result_outdates(def, r))
        bump_gens(ex, def->wb.outdates);
    TuiItem it = { .kind = TUI_ITEM_RESULT, .flags = ex->cur.flags };
    it.line = xstrdup(ex->cur.line ? ex->cur.line : "");
    result_copy(&it.r, r);
    publish_snap(ex);
    pthread_mutex_lock(&ex->mu);
    snprintf(it.key, sizeof it.key, "%s", ex->snap.key);
    snprintf(it.base_key, sizeof it.base_key, "%s", ex->snap.base_key);
    pthread_mutex_unlock(&ex->mu);
    push_item(ex, &it);
}

static void exec_progress(void *user, double frac, const char *phase)
{
    TuiExec *ex = user;
    pthread_mutex_lock(&ex->mu);
    ex->frac = frac;
    snprintf(ex->phase, sizeof ex->phase, "%s", phase ? phase : "");
    /* cmd_exec clears the flag when each command of a script starts: keep asking */
    if (ex->cancel_requested)
        atomic_store(&ex->app->cancel, 1);
    pthread_mutex_unlock(&ex->mu);
}

/* The command names of a line (NULL-terminated; caller frees each and the array), or
 * NULL when it does not parse. */
static char **line_commands(const char *line)
{
    char **cmds;
    int n;
    QsError err = { 0 };
    if (args_split_line(line, &cmds, &n, &err))
        return NULL;
    char **names = xcalloc((size_t)n + 1, sizeof *names);
    int k = 0;
    for (int i = 0; i < n; i++) {
        CmdArgs a;
        if (args_parse(cmds[i], &a, &err))
            continue;
        names[k++] = xstrdup(a.name);
        args_release(&a);
    }
    args_free_split(cmds, n);
    return names;
}

static void free_names(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

bool tui_exec_is_long(const char *line)
{
    char **names = line_commands(line);
    bool is_long = false;
    for (char **p = names; p && *p; p++) {
        const CmdDef *d = cmd_find(*p);
        is_long |= d && (d->flags & (CMD_JOB | CMD_SCRIPT));
    }
    free_names(names);
    return is_long;
}

/* Runs the current task to its end on the calling thread, which owns the session. */
static void run_task(TuiExec *ex, bool on_worker)
{
    QsError err = { 0 };
    QsStatus st = ex->cur.flags & TUI_TASK_LITERAL
                      ? cmd_exec_line_literal(ex->app, ex->cur.line, &err)
                      : cmd_exec_line(ex->app, ex->cur.line, &err);
    if (st) {
        /* A failed or cancelled train or fold may still have changed the weights (train
         * keeps the best epoch so far); treat such lines as having changed them. */
        char **names = line_commands(ex->cur.line);
        for (char **p = names; p && *p; p++) {
            const CmdDef *d = cmd_find(*p);
            if (d && (d->wb.outdates & CMD_OUTDATES_ON_FAILURE))
                bump_gens(ex, d->wb.outdates);
        }
        free_names(names);
    }
    publish_snap(ex);
    TuiItem it = { .kind = TUI_ITEM_DONE, .flags = ex->cur.flags, .status = st, .err = err,
                   .ran_on_worker = on_worker };
    it.line = xstrdup(ex->cur.line);
    push_item(ex, &it);
}

static void *worker_main(void *arg)
{
    TuiExec *ex = arg;
    run_task(ex, true);
    atomic_store(&ex->done, 1);
    return NULL;
}

void tui_exec_init(TuiExec *ex, App *app)
{
    memset(ex, 0, sizeof *ex);
    ex->app = app;
    pthread_mutex_init(&ex->mu, NULL);
    atomic_init(&ex->done, 0);
    app->emit = exec_emit;
    app->emit_user = ex;
    app->job.progress = exec_progress;
    app->job.user = ex;
    app->job.cancel = &app->cancel;
}

static void clear_task(TuiTask *t)
{
    free(t->line);
    t->line = NULL;
    t->flags = 0;
}

static void join_worker(TuiExec *ex)
{
    pthread_join(ex->thread, NULL);
    ex->running = false;
    atomic_store(&ex->done, 0);
    clear_task(&ex->cur);
}

static void start(TuiExec *ex, TuiTask task, bool worker)
{
    ex->cur = task;
    pthread_mutex_lock(&ex->mu);
    ex->cancel_requested = false;
    ex->frac = -1;
    ex->phase[0] = '\0';
    pthread_mutex_unlock(&ex->mu);
    ex->t_start = tui_exec_now();
    atomic_store(&ex->app->cancel, 0);
    if (worker) {
        atomic_store(&ex->done, 0);
        ex->running = true;
        if (pthread_create(&ex->thread, NULL, worker_main, ex) == 0)
            return;
        ex->running = false; /* no thread to be had: run it here, blocking */
    }
    run_task(ex, false);
    clear_task(&ex->cur);
}

static void enqueue(TuiExec *ex, TuiTask t)
{
    if (ex->n_queue == ex->cap_queue) {
        ex->cap_queue = ex->cap_queue ? 2 * ex->cap_queue : 8;
        ex->queue = xrealloc(ex->queue, (size_t)ex->cap_queue * sizeof *ex->queue);
    }
    ex->queue[ex->n_queue++] = t;
}

static void drop_auto_queued(TuiExec *ex)
{
    int k = 0;
    for (int i = 0; i < ex->n_queue; i++) {
        if (ex->queue[i].flags & TUI_TASK_AUTO)
            clear_task(&ex->queue[i]);
        else
            ex->queue[k++] = ex->queue[i];
    }
    ex->n_queue = k;
}

static void request_cancel(TuiExec *ex)
{
    pthread_mutex_lock(&ex->mu);
    ex->cancel_requested = true;
    pthread_mutex_unlock(&ex->mu);
    atomic_store(&ex->app->cancel, 1);
}

TuiRunHow tui_exec_submit(TuiExec *ex, const char *line, unsigned flags)
{
    TuiTask t = { xstrdup(line), flags };
    if (!ex->running && ex->n_queue == 0) {
        bool worker = tui_exec_is_long(line);
        start(ex, t, worker);
        return worker && ex->running ? TUI_RUN_STARTED : TUI_RUN_INLINE;
    }
    if (flags & TUI_TASK_AUTO) {
        clear_task(&t);
        return TUI_RUN_QUEUED;
    }
    drop_auto_queued(ex);
    if (ex->running && (ex->cur.flags & TUI_TASK_AUTO))
        request_cancel(ex);
    enqueue(ex, t);
    return TUI_RUN_QUEUED;
}

void tui_exec_poll(TuiExec *ex)
{
    if (ex->running && atomic_load(&ex->done))
        join_worker(ex);
    while (!ex->running && ex->n_queue > 0) {
        TuiTask t = ex->queue[0];
        memmove(ex->queue, ex->queue + 1, (size_t)(ex->n_queue - 1) * sizeof *ex->queue);
        ex->n_queue--;
        start(ex, t, tui_exec_is_long(t.line));
    }
}

void tui_exec_take(TuiExec *ex, TuiItem **items, int *n)
{
    pthread_mutex_lock(&ex->mu);
    *items = ex->items;
    *n = ex->n_items;
    ex->items = NULL;
    ex->n_items = ex->cap_items = 0;
    pthread_mutex_unlock(&ex->mu);
}

bool tui_exec_take_snap(TuiExec *ex, TuiSnap *dst)
{
    pthread_mutex_lock(&ex->mu);
    bool fresh = ex->snap_fresh;
    if (fresh)
        tui_state_snap_copy(dst, &ex->snap);
    ex->snap_fresh = false;
    pthread_mutex_unlock(&ex->mu);
    return fresh;
}

void tui_exec_snapshot(TuiExec *ex)
{
    if (!ex->running)
        publish_snap(ex);
}

int tui_exec_cancel(TuiExec *ex)
{
    int dropped = ex->n_queue;
    for (int i = 0; i < ex->n_queue; i++)
        clear_task(&ex->queue[i]);
    ex->n_queue = 0;
    if (ex->running)
        request_cancel(ex);
    return dropped;
}

bool tui_exec_running(const TuiExec *ex)
{
    return ex->running;
}

bool tui_exec_busy(const TuiExec *ex)
{
    return ex->running || ex->n_queue > 0;
}

void tui_exec_view(TuiExec *ex, TuiJobView *v)
{
    memset(v, 0, sizeof *v);
    v->frac = -1;
    v->queued = ex->n_queue;
    if (!ex->running)
        return;
    v->running = true;
    v->automatic = (ex->cur.flags & TUI_TASK_AUTO) != 0;
    snprintf(v->line, sizeof v->line, "%s", ex->cur.line ? ex->cur.line : "");
    v->elapsed = tui_exec_now() - ex->t_start;
    pthread_mutex_lock(&ex->mu);
    v->frac = ex->frac;
    snprintf(v->phase, sizeof v->phase, "%s", ex->phase);
    pthread_mutex_unlock(&ex->mu);
}

void tui_exec_release(TuiExec *ex)
{
    tui_exec_cancel(ex);
    if (ex->running)
        join_worker(ex);
    free(ex->queue);
    for (int i = 0; i < ex->n_items; i++)
        tui_exec_item_release(&ex->items[i]);
    free(ex->items);
    tui_state_snap_release(&ex->snap);
    pthread_mutex_destroy(&ex->mu);
    if (ex->app->emit_user == ex) {
        ex->app->emit = NULL;
        ex->app->emit_user = NULL;
        ex->app->job.progress = NULL;
        ex->app->job.user = NULL;
    }
    memset(ex, 0, sizeof *ex);
}
