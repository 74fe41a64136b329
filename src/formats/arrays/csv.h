/* Numeric CSV: one sample per line, comma-separated, an optional header line (detected
 * when its fields are not all numbers), '#' comment lines skipped. */
#ifndef QS_CSV_H
#define QS_CSV_H

#include "base/error.h"
#include "base/tensor.h"

/* Loads features as x (N, F) f32 and, when label_col is not -2, the label column as
 * y (N,) i64 (integers required) -- label_col -1 means the last column. A non-numeric
 * field or ragged line fails with "FILE:LINE: ..." naming the column. Caller frees both
 * with tensor_free. */
QsStatus csv_load(const char *path, int label_col, Tensor **x, Tensor **y, QsError *err);

#endif
