/* The workbench's job runner: quick commands run at once, long ones on a worker thread
 * with progress; a cancelled job returns QS_ECANCELLED and leaves the session as it was;
 * commands given while a job runs wait in a queue; a user command pre-empts an automatic
 * job; results arrive in order. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"
#include "tui/tui_exec.h"

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Polls until nothing runs; returns every item produced (caller frees). */
static TuiItem *drain(TuiExec *ex, int *n)
{
    TuiItem *all = NULL;
    *n = 0;
    double end = tui_exec_now() + 300;
    for (;;) {
        tui_exec_poll(ex);
        TuiItem *items;
        int k;
        tui_exec_take(ex, &items, &k);
        all = realloc(all, (size_t)(*n + k + 1) * sizeof *all);
        if (k)
            memcpy(all + *n, items, (size_t)k * sizeof *items);
        *n += k;
        free(items);
        if (!tui_exec_busy(ex) || tui_exec_now() > end)
            break;
        sleep_ms(2);
    }
    CHECK(!tui_exec_busy(ex));
    return all;
}

static void free_items(TuiItem *items, int n)
{
    for (int i = 0; i < n; i++)
        tui_exec_item_release(&items[i]);
    free(items);
}

static int count(const TuiItem *items, int n, TuiItemKind kind, const char *cmd)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        if (items[i].kind == kind &&
            (!cmd || !strcmp(kind == TUI_ITEM_RESULT ? items[i].r.cmd : items[i].line, cmd)))
            c++;
    return c;
}

int main(void)
{
    App app;
    app_init(&app);
    TuiExec ex;
    tui_exec_init(&ex, &app);
    CHECK(app.emit != NULL && app.job.progress != NULL);

    CHECK(!tui_exec_is_long("mode fp16"));
    CHECK(tui_exec_is_long("mode fp16; calibrate n=10"));
    CHECK(tui_exec_is_long("source x.qs"));
    CHECK(tui_exec_is_long("eval"));

    /* quick commands run at once, in order, with their results and one DONE */
    CHECK(tui_exec_submit(&ex, "load models/mnist_cnn.qsm; mode fp16", 0) == TUI_RUN_INLINE);
    int n;
    TuiItem *items = drain(&ex, &n);
    CHECK(n == 3 && count(items, n, TUI_ITEM_RESULT, "load") == 1 &&
          count(items, n, TUI_ITEM_RESULT, "mode") == 1);
    CHECK(n == 3 && items[2].kind == TUI_ITEM_DONE && items[2].status == QS_OK &&
          !items[2].ran_on_worker);
    /* each result carries the plan it was produced under */
    CHECK(n == 3 && strstr(items[0].key, "fp32") && strstr(items[1].key, "fp16"));
    free_items(items, n);
    TuiSnap snap = { 0 };
    CHECK(tui_exec_take_snap(&ex, &snap) && snap.model && snap.n_layers == 12);
    CHECK(snap.mode == PREC_FP16 && !strcmp(snap.layer[0], "conv1"));
    tui_state_snap_release(&snap);

    /* a failing command: DONE with its error, nothing else */
    tui_exec_submit(&ex, "mode fp99", 0);
    items = drain(&ex, &n);
    CHECK(n == 1 && items[0].kind == TUI_ITEM_DONE && items[0].status == QS_EINVAL);
    free_items(items, n);

    tui_exec_submit(&ex, "data train models/data/mnist_train.npz n=7000 scale=0.00392156886; "
                         "data calib models/data/mnist_train.npz skip=7000 n=100 "
                         "scale=0.00392156886",
                    0);
    items = drain(&ex, &n);
    free_items(items, n);
    tui_exec_submit(&ex, "calibrate", 0);
    items = drain(&ex, &n);
    CHECK(app.session.q.calibrated && !strcmp(app.session.q.calib_split, "calib"));
    CHECK(count(items, n, TUI_ITEM_DONE, "calibrate") == 1 && items[n - 1].ran_on_worker);
    free_items(items, n);

    /* a long job on the worker: progress, a queued command, then Esc */
    CHECK(tui_exec_submit(&ex, "calibrate split=train", 0) == TUI_RUN_STARTED);
    CHECK(tui_exec_running(&ex));
    CHECK(tui_exec_submit(&ex, "mode int8-dyn", 0) == TUI_RUN_QUEUED);
    CHECK(app.session.q.plan.mode == PREC_FP16); /* not yet: the job owns the session */
    TuiJobView v;
    double end = tui_exec_now() + 60;
    do { /* wait for the first progress report */
        sleep_ms(2);
        tui_exec_view(&ex, &v);
    } while (v.frac <= 0 && v.running && tui_exec_now() < end);
    CHECK(v.running && v.frac > 0 && v.frac < 1 && !strcmp(v.phase, "calibrate"));
    CHECK(v.queued == 1 && !strcmp(v.line, "calibrate split=train") && !v.automatic);
    CHECK(tui_exec_cancel(&ex) == 1); /* drops the queued mode command too */
    items = drain(&ex, &n);
    CHECK(count(items, n, TUI_ITEM_RESULT, "calibrate") == 0);
    CHECK(n == 1 && items[0].kind == TUI_ITEM_DONE && items[0].status == QS_ECANCELLED);
    free_items(items, n);
    /* the session as before: the old calibration, the old mode */
    CHECK(app.session.q.calibrated && !strcmp(app.session.q.calib_split, "calib"));
    CHECK(app.session.q.plan.mode == PREC_FP16);

    /* a user command pre-empts an automatic job */
    CHECK(tui_exec_submit(&ex, "calibrate split=train", TUI_TASK_AUTO | TUI_TASK_QUIET) ==
          TUI_RUN_STARTED);
    CHECK(tui_exec_submit(&ex, "eval split=calib", TUI_TASK_AUTO) == TUI_RUN_QUEUED);
    CHECK(ex.n_queue == 0); /* automatic work is not queued behind a job */
    CHECK(tui_exec_submit(&ex, "mode int8-dyn", 0) == TUI_RUN_QUEUED);
    items = drain(&ex, &n);
    int done_auto = -1, done_mode = -1;
    for (int i = 0; i < n; i++)
        if (items[i].kind == TUI_ITEM_DONE) {
            if (!strcmp(items[i].line, "calibrate split=train"))
                done_auto = i;
            else if (!strcmp(items[i].line, "mode int8-dyn"))
                done_mode = i;
        }
    CHECK(done_auto >= 0 && items[done_auto].status == QS_ECANCELLED &&
          (items[done_auto].flags & TUI_TASK_AUTO));
    CHECK(done_mode > done_auto && items[done_mode].status == QS_OK);
    free_items(items, n);
    CHECK(app.session.q.plan.mode == PREC_INT8_DYN);
    CHECK(!strcmp(app.session.q.calib_split, "calib"));

    /* a queued line runs after the job, in order */
    CHECK(tui_exec_submit(&ex, "eval split=calib", 0) == TUI_RUN_STARTED);
    CHECK(tui_exec_submit(&ex, "mode fp32", 0) == TUI_RUN_QUEUED);
    CHECK(tui_exec_submit(&ex, "echo after", 0) == TUI_RUN_QUEUED);
    items = drain(&ex, &n);
    int e = -1, m = -1, a = -1;
    for (int i = 0; i < n; i++)
        if (items[i].kind == TUI_ITEM_RESULT) {
            if (!strcmp(items[i].r.cmd, "eval"))
                e = i;
            else if (!strcmp(items[i].r.cmd, "mode"))
                m = i;
            else if (!strcmp(items[i].r.cmd, "echo"))
                a = i;
        }
    CHECK(e >= 0 && m > e && a > m);
    free_items(items, n);

    tui_exec_release(&ex);
    CHECK(app.emit == NULL && app.job.progress == NULL);
    app_release(&app);
    return test_summary("tui_jobs");
}
