/* A loaded model: its graph, the one arena that holds every weight, and string metadata
 * (task, labels, provenance). The float model is never changed by quantization. */
#ifndef QS_MODEL_H
#define QS_MODEL_H

#include <stddef.h>

#include "base/error.h"
#include "graph/graph.h"

typedef struct ModelMeta {
    char *key;    /* owned */
    char *value;  /* owned */
} ModelMeta;

typedef struct Model {
    Graph graph;
    void *arena;          /* weights; graph constants are views into it; owned */
    size_t arena_bytes;
    int n_meta;
    ModelMeta *meta;      /* e.g. "task" -> "classify", "labels" -> "0,1,2", "source" */
} Model;

/* Returns a new empty model. Caller frees with model_free. */
Model *model_new(void);
void model_free(Model *m);

/* Metadata; model_meta_get returns NULL when absent. model_meta_set copies both strings
 * and replaces an existing key. */
const char *model_meta_get(const Model *m, const char *key);
void model_meta_set(Model *m, const char *key, const char *value);
/* Removes key when present. */
void model_meta_remove(Model *m, const char *key);

/* A deep copy: the same values and nodes at the same indices (so plans, calibrations and
 * layer numbers of m fit the copy), the same attributes and metadata, and its own packed
 * weight arena. Returns NULL with QS_ENOMEM in err when the weights cannot be copied. Caller
 * frees with model_free. */
Model *model_clone(const Model *m, QsError *err);

/* Moves every constant into one 64-byte aligned arena owned by the model (constants that
 * owned their data are copied and freed; views keep pointing at their data, which is also
 * copied). After it, parameters lie in one block in graph order. QS_ENOMEM names the size. */
QsStatus model_pack(Model *m, QsError *err);

#endif
