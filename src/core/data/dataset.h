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
#include "data/source.h"

typedef enum { SPLIT_CALIB = 0, SPLIT_EVAL, SPLIT_TRAIN, SPLIT_COUNT } SplitId;

#define DATA_MAX_INPUTS 4

/* An input whose rows stay in their file (dataset.c). */
typedef struct DataStream DataStream;

typedef struct Dataset {
    /* [n_x] (N, ...) f32 in model-input order, owned. When stream[k] is set, x[k] only
     * describes the input (shape, dtype; data NULL) and its rows are read from the file
     * batch by batch: read them through data_batch_range / data_batch_gather /
     * dataset_input_tensor, never through x[k]->data. */
    Tensor *x[DATA_MAX_INPUTS];
    int n_x;                    /* 0: empty split */
    Tensor *y;        /* (N,) i64 or (N, ...) f32, owned; NULL when unlabelled */
    Tensor *aux;      /* (N, ...) f32 task extras (above), owned; NULL when none */
    char *x_path;     /* where it came from, owned */
    DataStream *stream[DATA_MAX_INPUTS]; /* x[k]'s rows in a file, owned; NULL: in x[k] */
    char *y_path;
} Dataset;

/* Name of a split ("calib", "eval", "train"); split_find returns -1 when unknown. */
const char *split_name(SplitId s);
int split_find(const char *name);

void dataset_release(Dataset *d);
/* Makes input k of d (k == d->n_x, or an input to replace) read from src, which d now owns
 * (closed by dataset_release, also when this fails). Preprocessing is given later
 * (dataset_prepare_input); skip and truncate only move the window over the file's rows. */
void dataset_adopt_source(Dataset *d, int k, DataSource src);
/* Whether input k's rows stay in their file. */
bool dataset_streamed(const Dataset *d, int k);
int64_t dataset_len(const Dataset *d);
/* Input k whole as (N, ...) f32: x[k] itself when in memory, else a new tensor read from
 * the file (*owned, which the caller frees; NULL otherwise), refused with QS_ENOMEM naming
 * max_memory when it is larger (base/budget.h): for what needs all samples at once (saving
 * a session). */
const Tensor *dataset_input_tensor(const Dataset *d, int k, Tensor **owned, QsError *err);

/* Converts x to f32 in place (u8, i8, i32, i64, f16 inputs), then applies
 * x = (x * scale - mean) / std. Fails with QS_EFORMAT naming the first NaN or Inf. */
QsStatus dataset_prepare_x(Tensor **x, float scale, float mean, float std, QsError *err);
/* dataset_prepare_x for input k of d; for a streamed input, every row in the window is read
 * once here to find a NaN or Inf (the same error, with the same sample and element), and
 * the conversion and preprocessing are applied to each batch as it is read. */
QsStatus dataset_prepare_input(Dataset *d, int k, float scale, float mean, float std,
                               QsError *err);
/* Converts integer labels to i64 (N,) or float targets to f32; checks N matches. */
QsStatus dataset_prepare_y(Tensor **y, int64_t n, QsError *err);
/* A batch of every input of a split: samples [first, first + n) (data_batch_range: the
 * walk of calibration, evaluation and the rest) or samples picked by index (a shuffled
 * training batch, data_batch_gather). */
typedef struct DataBatch {
    int n_x;
    Tensor *x[DATA_MAX_INPUTS];          /* (cap, ...) f32 buffers, owned; dim[0] is the last
                                            n; NULL for an input a range batch views */
    Tensor views[DATA_MAX_INPUTS];       /* range batches: the n samples of every input */
    const Tensor *ptrs[DATA_MAX_INPUTS]; /* for Executor.forward / run_forward: = x[k]
                                            (gather), = &views[k] (range) */
} DataBatch;

/* Buffers for up to cap samples of d's inputs; with `streamed_only` only inputs read from a
 * file get one (enough for data_batch_range). QS_ENOMEM names the size. */
QsStatus data_batch_init(DataBatch *b, const Dataset *d, int64_t cap, bool streamed_only,
                         QsError *err);
/* Samples [first, first + n) (n <= cap) of every input: an in-memory input is viewed where
 * it is, a streamed one read and converted into its buffer. QS_EIO when a file read fails. */
QsStatus data_batch_range(DataBatch *b, const Dataset *d, int64_t first, int64_t n,
                          QsError *err);
/* Copies samples idx[0 .. n) (n <= cap) of every input into b (init without
 * streamed_only); a streamed input is read sample by sample. */
QsStatus data_batch_gather(DataBatch *b, const Dataset *d, const int64_t *idx, int64_t n,
                           QsError *err);
void data_batch_release(DataBatch *b);

/* Checks that every input, y and aux hold the same number of samples; QS_ESHAPE names
 * the odd one. */
QsStatus dataset_check(const Dataset *d, QsError *err);
/* Keeps only the first n samples (n <= len), of inputs, y and aux. */
void dataset_truncate(Dataset *d, int64_t n);
/* Drops the first `start` samples of inputs, y and aux (all of them when start >= len). */
void dataset_skip(Dataset *d, int64_t start);

#endif
