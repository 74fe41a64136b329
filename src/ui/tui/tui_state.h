/* What the workbench's panes draw from: a snapshot of the session (copied while no job
 * touches it) and caches of command results keyed by the plan they describe, so that
 * switching precision shows known figures at once. Panes never read the session. */
#ifndef QS_TUI_STATE_H
#define QS_TUI_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cmds/app.h"
#include "text/result.h"

#define TUI_KEY_LEN 256

typedef struct TuiSnap {
    bool model;                 /* a model is loaded */
    char model_path[256];
    int n_layers;
    char **layer;               /* [n_layers] names in the order `layers` lists them; owned */
    int8_t *pin;                /* [n_layers] -1, or the PrecKind the layer is pinned to */
    int n_variants;
    char **variant;             /* [n_variants] the saved variants' names; owned */
    int mode;                   /* PrecKind of the whole model */
    char mode_name[16];
    char plan_label[32];
    bool calibrated;
    bool unsaved;               /* work a quit would lose (session_unsaved) */
    char calib_split[16];
    int64_t split_n[3];         /* samples per split (SplitId order); 0 when empty */
    bool split_labelled[3];
    char quant[128];            /* "wgran=channel observer=minmax bits=8 ..." */
    unsigned model_gen, data_gen, calib_gen;
    char key[TUI_KEY_LEN];      /* this plan under this model, data and calibration */
    char base_key[TUI_KEY_LEN]; /* the same without mode and pins (what compare covers) */
    char fp32_key[TUI_KEY_LEN]; /* the float model's key */
} TuiSnap;

/* Copies what the panes need from the session. Only the thread that owns the session at
 * the moment may call it (the worker during a job, the UI thread otherwise). */
void tui_state_snap_take(TuiSnap *s, const App *app, unsigned model_gen, unsigned data_gen,
                   unsigned calib_gen);
void tui_state_snap_copy(TuiSnap *dst, const TuiSnap *src);
void tui_state_snap_release(TuiSnap *s);
/* The plan key for `mode` with no pins, under the snapshot's model/data/calibration. */
void tui_state_mode_key(const TuiSnap *s, int mode, char *buf, size_t cap);
/* The snapshot's plan has pinned layers. */
bool tui_state_pinned(const TuiSnap *s);

/* A small most-recently-used map from keys to result copies. */
typedef struct TuiCache {
    int n, cap;
    char **keys;
    Result *vals;
} TuiCache;

void tui_state_cache_init(TuiCache *c, int cap);
void tui_state_cache_release(TuiCache *c);
void tui_state_cache_clear(TuiCache *c);
/* The result stored under key (moved to the front), or NULL. */
const Result *tui_state_cache_get(TuiCache *c, const char *key);
/* The same without touching the order (for drawing). */
const Result *tui_state_cache_peek(const TuiCache *c, const char *key);
/* Stores a copy of r under key, evicting the least recently used entry when full. */
void tui_state_cache_put(TuiCache *c, const char *key, const Result *r);

typedef enum { TUI_VIEW_ACT = 0, TUI_VIEW_WEIGHTS } TuiView;

/* A running or queued job, as the status line shows it. */
typedef struct TuiJobView {
    bool running;
    bool automatic;       /* started by the workbench to fill in a figure */
    char line[128];       /* its command line */
    double frac;          /* -1 before the first progress report */
    char phase[32];
    double elapsed;       /* seconds */
    int queued;           /* commands waiting behind it */
} TuiJobView;

typedef struct TuiState {
    TuiSnap snap;
    Result layers;              /* the last `layers` result */
    bool have_layers;
    char layers_key[TUI_KEY_LEN];
    TuiCache errors;            /* `error` results by plan key */
    TuiCache evals;             /* metrics over the whole eval split by plan key (from
                                   `eval`, and one per precision row of `compare`) */
    TuiCache hists;             /* `hist` results (or failures) by layer/view/size/base key */
    Result compare;             /* the last `compare` over the whole eval split */
    bool have_compare;
    char compare_key[TUI_KEY_LEN]; /* base key it was measured under */
    char compare_mode_key[PREC_COUNT][TUI_KEY_LEN]; /* per precision row: its mode key then */
    /* figures being computed for the workbench (plan keys; "" when none) */
    char pending_error[TUI_KEY_LEN], pending_eval[TUI_KEY_LEN], pending_compare[TUI_KEY_LEN];
    int sel;                    /* selected layer (row of the layer list); -1 when none */
    TuiView view;
    int focus;                  /* TuiPaneId */
    int zoom;                   /* TuiPaneId enlarged to the whole screen (@zoom); -1: none */
    int hist_w, hist_h;         /* the histogram size the detail pane has room for */
    int mouse_x, mouse_y;
    TuiJobView job;
    bool auto_figures;          /* compute error bars and metrics automatically */
    /* demo being played (captions drawn above the console) */
    bool playing;
    char play_name[128];
    int play_step, play_steps;  /* next step index and the count */
    const char *play_caption;   /* the next step's caption (owned by the player) */
    const char *play_next;      /* the next step's command line */
} TuiState;

void tui_state_init(TuiState *st);
void tui_state_release(TuiState *st);

/* The metric of plan `key` over the whole eval split (from `eval`, or from a `compare`
 * row): false when unknown. name gets "accuracy" or "mse"; *style the render style. */
bool tui_state_metric(const TuiState *st, const char *key, double *value, RvStyle *style,
                      const char **name);

/* The cached histogram key for a layer: "layer|view|WxH|base". */
void tui_state_hist_key(const TuiState *st, const char *layer, TuiView view, char *buf,
                        size_t cap);

#endif
