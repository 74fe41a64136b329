/* A data split: samples x (N, ...) f32 and optional targets y. Labels for
 * classification are (N,) i64 class indices; multi-label and regression targets are
 * (N, ...) f32 matching the model output. */
#ifndef QS_DATASET_H
#define QS_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "tensor.h"

typedef enum { SPLIT_CALIB = 0, SPLIT_EVAL, SPLIT_TRAIN, SPLIT_COUNT } SplitId;

typedef struct Dataset {
    Tensor *x;        /* (N, ...) f32, owned */
    Tensor *y;        /* (N,) i64 or (N, ...) f32, owned; NULL when unlabelled */
    char *x_path;     /* where it came from, owned */
    char *y_path;
} Dataset;

/* Name of a split ("calib", "eval", "train"); split_find returns -1 when unknown. */
const char *split_name(SplitId s);
int split_find(const char *name);

void dataset_release(Dataset *d);
int64_t dataset_len(const Dataset *d);

/* Converts x to f32 in place (u8, i8, i32, i64, f16 inputs), then applies
 * x = (x * scale - mean) / std. Fails with QS_EFORMAT naming the first NaN or Inf. */
QsStatus dataset_prepare_x(Tensor **x, float scale, float mean, float std, QsError *err);
/* Converts integer labels to i64 (N,) or float targets to f32; checks N matches. */
QsStatus dataset_prepare_y(Tensor **y, int64_t n, QsError *err);
/* Keeps only the first n samples (n <= len). */
void dataset_truncate(Dataset *d, int64_t n);
/* Drops the first `start` samples of x and y (all of them when start >= len). */
void dataset_skip(Dataset *d, int64_t start);

#endif
