/* A loaded model: its graph, the one arena that holds every weight, and string metadata
 * (task, labels, provenance). The float model is never changed by quantization.
 *
 * A model loaded from a large file may instead leave its weights in the file: constants
 * then view a private, writable mapping of it (io/filemap.h) that the model owns. Writing
 * to such a constant copies the page in the kernel (copy-on-write), so the code that
 * mutates weights needs no special case and the file is never changed. */
#ifndef QS_MODEL_H
#define QS_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "graph/graph.h"

typedef struct ModelMeta {
    char *key;    /* owned */
    char *value;  /* owned */
} ModelMeta;

typedef struct ModelMapping {
    void *addr;
    size_t bytes;
} ModelMapping;

typedef struct Model {
    Graph graph;
    void *arena;          /* weights; graph constants are views into it; owned */
    size_t arena_bytes;
    int n_maps;
    ModelMapping *maps;   /* file mappings constants may view; owned (unmapped by model_free) */
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

/* Hands the mapping [addr, addr + bytes) (from mmap) to m, which unmaps it in model_free.
 * bytes 0 is ignored. */
void model_adopt_mapping(Model *m, void *addr, size_t bytes);
/* True when p points into one of m's mappings. */
bool model_maps(const Model *m, const void *p);
/* Bytes of constants that view a mapping (weights left in the file). */
size_t model_mapped_bytes(const Model *m);

/* A deep copy: the same values and nodes at the same indices (so plans, calibrations and
 * layer numbers of m fit the copy), the same attributes and metadata, and its own packed
 * weight arena (mapped weights are copied too: a mutation of one model must not show in
 * the other). Returns NULL with QS_ENOMEM in err when the weights cannot be copied. Caller
 * frees with model_free. */
Model *model_clone(const Model *m, QsError *err);

/* Moves every constant into one 64-byte aligned arena owned by the model (constants that
 * owned their data are copied and freed; views keep pointing at their data, which is also
 * copied), except constants that view one of the model's mappings, which stay where they
 * are. After it, the other parameters lie in one block in graph order. QS_ENOMEM names the
 * size. */
QsStatus model_pack(Model *m, QsError *err);

#endif
