/* Runs command lines for the workbench. Quick commands run at once on the UI thread;
 * long ones (CMD_JOB, and scripts) run on a worker thread with progress and cancel, and
 * while one runs the UI thread never touches the session: further commands wait in a
 * queue. Results from either path arrive in one queue of items, in order. */
#ifndef QS_TUI_EXEC_H
#define QS_TUI_EXEC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cmds/app.h"
#include "text/result.h"
#include "tui/tui_state.h"

enum {
    TUI_TASK_QUIET = 1u << 0, /* results go to the panes, not the console */
    TUI_TASK_AUTO = 1u << 1,  /* started by the workbench: a user command cancels it */
    TUI_TASK_LITERAL = 1u << 2, /* no ${...} expansion (cmd_exec_line_literal) */
    TUI_TASK_REPLAY = 1u << 3,  /* a step of a demo replayed by going back (tui_app_play.c) */
};

typedef enum {
    TUI_ITEM_RESULT = 0, /* one command's result */
    TUI_ITEM_DONE,       /* a task ended (status and error) */
} TuiItemKind;

typedef struct TuiItem {
    TuiItemKind kind;
    unsigned flags;              /* the task's TUI_TASK_* */
    char *line;                  /* the task's command line; owned */
    Result r;                    /* RESULT */
    char key[TUI_KEY_LEN];       /* RESULT: the plan key when it was produced */
    char base_key[TUI_KEY_LEN];
    QsStatus status;             /* DONE */
    QsError err;                 /* DONE */
    bool ran_on_worker;          /* DONE */
} TuiItem;

void tui_exec_item_release(TuiItem *it);

typedef struct TuiTask {
    char *line;     /* owned */
    unsigned flags;
} TuiTask;

typedef struct TuiExec {
    App *app;
    pthread_mutex_t mu;          /* guards items, snap, progress */
    /* the worker (fields below are the UI thread's, except where noted) */
    pthread_t thread;
    bool running;
    atomic_int done;             /* set by the worker when its task ended */
    TuiTask cur;
    QsStatus cur_status;         /* written by the worker before done */
    QsError cur_err;
    double t_start;
    bool cancel_requested;       /* re-asserted at each progress report (mu) */
    double frac;                 /* mu */
    char phase[32];              /* mu */
    /* results and snapshots from whichever thread runs commands (mu) */
    TuiItem *items;
    int n_items, cap_items;
    TuiSnap snap;
    bool snap_fresh;
    /* generations, changed only by the thread that owns the session */
    unsigned model_gen, data_gen, calib_gen;
    /* tasks waiting for the worker (UI thread only) */
    TuiTask *queue;
    int n_queue, cap_queue;
} TuiExec;

/* Takes over app->emit and app->job's progress callback. */
void tui_exec_init(TuiExec *ex, App *app);
/* Cancels and joins a running job, then frees everything. */
void tui_exec_release(TuiExec *ex);

typedef enum { TUI_RUN_INLINE = 0, TUI_RUN_STARTED, TUI_RUN_QUEUED } TuiRunHow;

/* Runs a command line: at once when nothing runs and it is quick, on the worker when it
 * is long, else queued. An automatic task is dropped (returns TUI_RUN_QUEUED with
 * nothing queued) when anything is running; a user task cancels a running automatic one
 * and goes first. */
TuiRunHow tui_exec_submit(TuiExec *ex, const char *line, unsigned flags);
/* Whether a line would go to the worker (it holds a CMD_JOB command or a script). */
bool tui_exec_is_long(const char *line);

/* Joins a finished worker, starts the next queued task. Call often (UI thread). */
void tui_exec_poll(TuiExec *ex);
/* Hands over the items produced so far (the caller releases each and frees the array). */
void tui_exec_take(TuiExec *ex, TuiItem **items, int *n);
/* The latest session snapshot, when one newer than the last call exists. */
bool tui_exec_take_snap(TuiExec *ex, TuiSnap *dst);

/* Requests cancellation of the running job and drops the queue; returns the number of
 * queued commands dropped. */
int tui_exec_cancel(TuiExec *ex);
bool tui_exec_running(const TuiExec *ex);
/* Running or queued work. */
bool tui_exec_busy(const TuiExec *ex);
/* The running job for the status line. */
void tui_exec_view(TuiExec *ex, TuiJobView *v);
/* Takes a snapshot now (UI thread, nothing running). */
void tui_exec_snapshot(TuiExec *ex);

/* Seconds on a monotonic clock. */
double tui_exec_now(void);

#endif
