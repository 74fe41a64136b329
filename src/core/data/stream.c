/* Rows of a split read from their file batch by batch (stream.h). */
#include "data/stream.h"

#include <stdlib.h>
#include <string.h>

#include "data/prep.h"

/* Rows read at a time while checking a whole window: about 4 MiB of floats. */
#define STREAM_CHECK_BYTES ((size_t)4 << 20)

struct DataStream {
    DataSource src;
    int64_t start;          /* the window's first row in the file (skip=) */
    float scale, mean, std; /* applied to every row read */
    void *raw;              /* rows as the source delivers them, before conversion */
    size_t raw_bytes;
};

DataStream *stream_new(DataSource src)
{
    DataStream *s = xcalloc(1, sizeof *s);
    s->src = src;
    s->scale = s->std = 1.0f;
    return s;
}

void stream_free(DataStream *s)
{
    if (!s)
        return;
    if (s->src.close)
        s->src.close(s->src.self);
    free(s->raw);
    free(s);
}

void stream_skip(DataStream *s, int64_t rows)
{
    s->start += rows;
}

static size_t stream_row_elems(const DataStream *s)
{
    return (size_t)shape_span(&s->src.shape, 1, s->src.shape.ndim);
}

/* Rows as float32 without the preprocessing. The raw buffer grows to the largest batch
 * asked for (a walk asks for the same size every time). */
static QsStatus stream_read_f32(DataStream *s, int64_t first, int64_t n, float *dst,
                                QsError *err)
{
    size_t count = (size_t)n * stream_row_elems(s);
    int64_t at = s->start + first;
    if (s->src.dtype == DT_F32)
        return s->src.read(s->src.self, at, n, dst, err);
    size_t bytes = count * dtype_size(s->src.dtype);
    if (bytes > s->raw_bytes) {
        free(s->raw);
        s->raw = malloc(bytes);
        s->raw_bytes = s->raw ? bytes : 0;
        if (!s->raw)
            return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes to read samples", bytes);
    }
    if (s->src.read(s->src.self, at, n, s->raw, err))
        return err->code;
    prep_to_f32(s->src.dtype, s->raw, dst, count);
    return QS_OK;
}

QsStatus stream_read(DataStream *s, int64_t first, int64_t n, float *dst, QsError *err)
{
    if (stream_read_f32(s, first, n, dst, err))
        return err->code;
    prep_apply(dst, (size_t)n * stream_row_elems(s), s->scale, s->mean, s->std);
    return QS_OK;
}

QsStatus stream_prepare(DataStream *s, int64_t rows, float scale, float mean, float std,
                        QsError *err)
{
    if (s->src.dtype != DT_F32 && !prep_converts(s->src.dtype))
        return qs_fail(err, QS_EUNSUPPORTED, "cannot convert %s data to f32",
                       (unsigned)s->src.dtype < DT_COUNT ? dtype_name(s->src.dtype) : "?");
    size_t per = stream_row_elems(s);
    int64_t chunk = per ? (int64_t)(STREAM_CHECK_BYTES / sizeof(float) / per) : rows;
    if (chunk < 1)
        chunk = 1;
    if (chunk > rows)
        chunk = rows;
    float *buf = chunk > 0 && per ? malloc((size_t)chunk * per * sizeof(float)) : NULL;
    if (chunk > 0 && per && !buf)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes to check samples",
                       (size_t)chunk * per * sizeof(float));
    QsStatus st = QS_OK;
    for (int64_t first = 0; buf && first < rows && !st; first += chunk) {
        int64_t n = rows - first < chunk ? rows - first : chunk;
        st = stream_read_f32(s, first, n, buf, err);
        if (!st)
            st = prep_check(buf, (size_t)n * per, (size_t)first * per, per, scale, mean, std,
                            err);
    }
    free(buf);
    if (!st) {
        s->scale = scale;
        s->mean = mean;
        s->std = std;
    }
    return st;
}
