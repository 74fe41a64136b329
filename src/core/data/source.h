/* A source of a split's samples kept in a file and read on demand, row by row: what lets
 * calibration and evaluation walk a data file larger than memory. A formats reader opens
 * it (arrays/datafile.h: datafile_open) and a split takes ownership of it
 * (dataset_adopt_source); the split converts the rows it reads to float32 and applies its
 * preprocessing batch by batch (data/dataset.h). A source and the split's stream keep one
 * scratch buffer each, so one walk reads a split at a time (walks are sequential: a job
 * runs one command). */
#ifndef QS_SOURCE_H
#define QS_SOURCE_H

#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"

typedef struct DataSource {
    /* The element type rows are delivered in, native byte order: exactly what reading the
     * whole file gives (u8, i8, f16, i32, i64 or f32), so converting it to float32 gives
     * the same floats either way. */
    DType dtype;
    Shape shape; /* (N, ...): every row of the file */
    /* Writes rows [first, first + n) (within shape.dim[0]) to dst, which holds n rows of
     * dtype. QS_EIO names the file when it cannot be read (e.g. shortened since it was
     * opened). */
    QsStatus (*read)(void *self, int64_t first, int64_t n, void *dst, QsError *err);
    void (*close)(void *self); /* frees self and what it holds */
    void *self;
} DataSource;

#endif
