/* The state a front end works on: the model, the registered data splits and options.
 * Commands (src/ui) read and change it; nothing here knows about front ends. */
#ifndef QS_SESSION_H
#define QS_SESSION_H

#include <stdbool.h>

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
} Session;

void session_init(Session *s);
void session_release(Session *s);

/* Replaces the model (taking ownership). Registered splits whose sample shape no longer
 * fits are dropped, and their names are written to `dropped` (may be NULL). */
void session_set_model(Session *s, Model *m, const char *path, char *dropped, size_t cap);

/* The model's weights or graph changed in place (train, fold): drops what was derived
 * from the old weights (calibration, cached quantized models). */
void session_model_changed(Session *s);

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
