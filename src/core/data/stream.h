/* A split input whose rows stay in their file (a DataSource): a window of the file's rows
 * (skip= and n= move it), converted to float32 and preprocessed as each batch is read.
 * Internal to data/dataset.c. */
#ifndef QS_STREAM_H
#define QS_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/dataset.h"
#include "data/source.h"

/* Takes src (closed by stream_free); the window is every row, the preprocessing none. */
DataStream *stream_new(DataSource src);
void stream_free(DataStream *s);
/* Moves the window's start `rows` rows further into the file. */
void stream_skip(DataStream *s, int64_t rows);
/* Rows [first, first + n) of the window as float32, preprocessed, into dst. */
QsStatus stream_read(DataStream *s, int64_t first, int64_t n, float *dst, QsError *err);
/* Reads the first `rows` rows of the window once to check them (prep_check) with this
 * preprocessing, then keeps it for every later read. */
QsStatus stream_prepare(DataStream *s, int64_t rows, float scale, float mean, float std,
                        QsError *err);

#endif
