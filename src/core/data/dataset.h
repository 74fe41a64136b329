/* A data split: one input tensor per model input, x[k] (N, ...) f32, optional targets y
 * and optional task extras aux. Labels for classification and policy are (N,) i64 class
 * indices; multi-label, regression and detection targets are (N, ...) f32 matching the
 * model output. aux holds what a task's metric needs beyond y (metrics.h):
 *   detect  (N, K, 3) f32 objects: centre x, centre y (input pixels), diameter; rows with
 *           diameter <= 0 are padding
 *   policy  (N, A) f32 1 where the action is unsafe, else 0 */
#ifndef QS_DATASET_H
#define QS_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"

typedef enum { SPLIT_CALIB = 0, SPLIT_EVAL, SPLIT_TRAIN, SPLIT_COUNT } SplitId;

#define DATA_MAX_INPUTS 4

typedef struct Dataset {
    Tensor *x[DATA_MAX_INPUTS]; /* [n_x] (N, ...) f32 in model-input order, owned */
    int n_x;                    /* 0: empty split */
    Tensor *y;        /* (N,) i64 or (N, ...) f32, owned; NULL when unlabelled */
    Tensor *aux;      /* (N, ...) f32 task extras (above), owned; NULL when none */
    char *x_path;     /* where it came from, owned */
    void *map[DATA_MAX_INPUTS];      /* file mappings x[k] views (a large .npy), owned */
    size_t map_bytes[DATA_MAX_INPUTS];
    char *y_path;
} Dataset;

/* Name of a split ("calib", "eval", "train"); split_find returns -1 when unknown. */
const char *split_name(SplitId s);
int split_find(const char *name);

void dataset_release(Dataset *d);
/* Hands the mapping [addr, addr + bytes) that x[k] views to d (unmapped by
 * dataset_release); bytes 0 is ignored. With it, a split larger than memory is read from
 * the page cache batch by batch: preprocessing that changes values (scale, mean, std, a
 * dtype conversion) copies what it writes, so only a float32 split used as it is streams. */
void dataset_adopt_map(Dataset *d, int k, void *addr, size_t bytes);
int64_t dataset_len(const Dataset *d);
/* Views of samples [first, first + n) of every input: views[k] and ptrs[k] = &views[k]
 * for k < d->n_x, ready to pass to Executor.forward. */
void dataset_batch(const Dataset *d, int64_t first, int64_t n, Tensor views[DATA_MAX_INPUTS],
                   const Tensor *ptrs[DATA_MAX_INPUTS]);

/* Converts x to f32 in place (u8, i8, i32, i64, f16 inputs), then applies
 * x = (x * scale - mean) / std. Fails with QS_EFORMAT naming the first NaN or Inf. */
QsStatus dataset_prepare_x(Tensor **x, float scale, float mean, float std, QsError *err);
/* Converts integer labels to i64 (N,) or float targets to f32; checks N matches. */
QsStatus dataset_prepare_y(Tensor **y, int64_t n, QsError *err);
/* Samples picked by index from a split (a shuffled training batch), one buffer per
 * input, allocated once for up to `cap` samples. */
typedef struct DataBatch {
    int n_x;
    Tensor *x[DATA_MAX_INPUTS];          /* (n, ...) f32, owned; dim[0] is the last n */
    const Tensor *ptrs[DATA_MAX_INPUTS]; /* = x, for Executor.forward / run_forward */
} DataBatch;

/* Buffers for up to cap samples of d's inputs; QS_ENOMEM names the size. */
QsStatus data_batch_init(DataBatch *b, const Dataset *d, int64_t cap, QsError *err);
/* Copies samples idx[0 .. n) (n <= cap) of every input into b. */
void data_batch_gather(DataBatch *b, const Dataset *d, const int64_t *idx, int64_t n);
void data_batch_release(DataBatch *b);

/* Checks that every input, y and aux hold the same number of samples; QS_ESHAPE names
 * the odd one. */
QsStatus dataset_check(const Dataset *d, QsError *err);
/* Keeps only the first n samples (n <= len), of inputs, y and aux. */
void dataset_truncate(Dataset *d, int64_t n);
/* Drops the first `start` samples of inputs, y and aux (all of them when start >= len). */
void dataset_skip(Dataset *d, int64_t start);

#endif
