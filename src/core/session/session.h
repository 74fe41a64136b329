/* The state a front end works on: the model, the registered data splits and options.
 * Commands (src/ui) read and change it; nothing here knows about front ends. */
#ifndef QS_SESSION_H
#define QS_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "eval/metrics.h"
#include "graph/model.h"
#include "ptq/qstate.h"

typedef struct SessionOptions {
    int batch;          /* samples per forward pass in eval/run */
    int threads;        /* BLAS threads */
    int task;           /* TaskKind, or -1 for automatic (model metadata, then labels) */
    long seed;
} SessionOptions;

typedef struct Session {
    Model *model;               /* owned; NULL before `load` */
    char *model_path;           /* owned */
    Dataset splits[SPLIT_COUNT];
    SessionOptions opt;
    QuantState q;               /* plan, calibration, variants, lowered-plan cache */
    unsigned model_edits;       /* counts models set and weights changed in place */
    uint64_t saved_work;        /* session_work when last loaded, reset or saved */
    unsigned saved_edits;       /* model_edits then: weights changed since are unsaved */
} Session;

void session_init(Session *s);
void session_release(Session *s);

/* Replaces the model (taking ownership) and starts a fresh quantization state for it
 * (qstate_reset: fp32, default options, no pins, calibration or variants), also when it is
 * the same file again. Registered splits stay only when each input's sample shape is
 * exactly the new model input's; the others are dropped, and their names are written to
 * `dropped` (may be NULL), ", "-separated. The options (SessionOptions) stay. */
void session_set_model(Session *s, Model *m, const char *path, char *dropped, size_t cap);

/* The model's weights or graph changed in place (train, fold): drops what was derived
 * from the old weights (calibration, cached quantized models). */
void session_model_changed(Session *s);

/* `reset`: a fresh quantization state for the loaded model (as session_set_model gives);
 * the model as it is now (trained weights stay), the splits and the options stay. Weights
 * changed since the last save stay unsaved work. */
void session_reset(Session *s);
/* A fresh start (what `play` begins with): no model, no splits, a fresh quantization
 * state; only the options (SessionOptions) stay. */
void session_clear(Session *s);

/* The names of the registered splits, ", "-separated ("" when none). */
void session_split_names(const Session *s, char *buf, size_t cap);

/* The work a session holds that a quit would lose: a digest of the model's identity and
 * edits (train, fold), the calibration, the bias correction, the variants and the pinned
 * layers (mode and quant options are one command each to redo and do not count). */
uint64_t session_work(const Session *s);
/* Records the current work as saved (after load, reset or `session save`). */
void session_mark_saved(Session *s);
/* A model is loaded and its work changed since it was loaded, reset or saved. */
bool session_unsaved(const Session *s);

/* Registers a split, taking ownership of everything *d holds (d is zeroed, also on
 * failure, when it is released and the old split is kept). Inputs must already be f32,
 * with as many as the loaded model has inputs, and sample counts that agree
 * (dataset_check). When a model is loaded each input's per-sample shape must match its
 * model input, where a sample with the same element count but another shape is reshaped
 * (MNIST (28, 28) for a (1, 28, 28) input). */
QsStatus session_set_split(Session *s, SplitId id, Dataset *d, QsError *err);

/* Checks that a split's inputs fit the model inputs; reshapes when only the shape
 * differs. */
QsStatus session_check_split(const Session *s, Dataset *d, const char *name, QsError *err);

/* The task for evaluating `d`: the option, else model metadata "task", else inferred from
 * the labels (integer -> classify, or policy when the split has an unsafe mask; float
 * 0/1 -> multilabel; else regress). */
TaskKind session_task(const Session *s, const Dataset *d);

#endif
