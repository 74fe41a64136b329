/* Numeric CSV reader.
 *
 * Rules (docs/data.md): lines end in "\n" or "\r\n"; blank lines and lines whose first
 * non-blank character is '#' are skipped; fields are split on ',', trimmed of spaces and
 * tabs, and may be wrapped in one pair of double quotes (no embedded commas or quotes);
 * the first remaining line is a header when any of its fields is not a number; every data
 * line must have as many fields as the first one. Numbers are parsed in the C locale
 * whatever the program's locale is (the workbench sets one for ncursesw). */
#include "arrays/csv.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/budget.h"
#include "io/fileio.h"

/* What parsing a CSV file takes per byte of it: the text itself, and its numbers as float32
 * (a field and its separator take at least two bytes and become four). */
#define CSV_MEMORY_FACTOR 3

#define CSV_MAX_COLS 100000

typedef struct {
    char *s; /* field text, NUL-terminated in place */
} CsvField;

typedef struct {
    const char *path;
    int line;
    CsvField *f;
    int n, cap;
} CsvRow;

/* Splits the line [s, end) in place into fields. */
static void csv_split(char *s, char *end, CsvRow *r)
{
    r->n = 0;
    for (;;) {
        char *comma = memchr(s, ',', (size_t)(end - s));
        char *fe = comma ? comma : end;
        char *a = s, *b = fe;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
            b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"') {
            a++;
            b--;
        }
        *b = '\0';
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 16;
            r->f = xrealloc(r->f, (size_t)r->cap * sizeof *r->f);
        }
        r->f[r->n++].s = a;
        if (!comma)
            break;
        s = comma + 1;
    }
}

/* Parses a whole field as a float (strtof rounds correctly to float; going through
 * double would round twice). */
static int csv_float(const char *s, float *out)
{
    if (!*s)
        return 0;
    char *e;
    errno = 0;
    float v = strtof(s, &e);
    if (*e != '\0')
        return 0;
    *out = v;
    return 1;
}

/* Parses a whole field as an integer label; "3.0" is accepted since tools that write
 * floats everywhere (pandas with NaNs in another column) produce it. */
static int csv_label(const char *s, int64_t *out)
{
    if (!*s)
        return 0;
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (*e == '\0' && errno == 0) {
        *out = v;
        return 1;
    }
    double d = strtod(s, &e);
    /* 2^53: beyond it a double no longer holds every integer. */
    if (*e != '\0' || !(fabs(d) <= 9007199254740992.0) || d != floor(d))
        return 0;
    *out = (int64_t)d;
    return 1;
}

static int csv_all_numbers(const CsvRow *r)
{
    float v;
    for (int i = 0; i < r->n; i++)
        if (!csv_float(r->f[i].s, &v))
            return 0;
    return 1;
}

static QsStatus csv_parse(const char *path, char *text, size_t len, int label_col, Tensor **x,
                          Tensor **y, QsError *err)
{
    QsStatus st = QS_OK;
    CsvRow r = { .path = path };
    float *xs = NULL;
    int64_t *ys = NULL;
    size_t rows = 0, cap_rows = 0;
    int ncols = -1, first_line = 0, lab = -1, nfeat = 0;
    char *p = text, *end = text + len;

    for (int line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        char *next = nl ? nl + 1 : end;
        if (q == le || *q == '#') {
            p = next;
            continue;
        }
        csv_split(p, le, &r);
        p = next;
        if (ncols < 0) {
            if (r.n > CSV_MAX_COLS) {
                st = qs_fail(err, QS_EFORMAT, "%s:%d: %d fields (at most %d supported)", path,
                             line, r.n, CSV_MAX_COLS);
                goto cleanup;
            }
            ncols = r.n;
            first_line = line;
            if (label_col != -2) {
                lab = label_col == -1 ? ncols - 1 : label_col;
                if (lab < 0 || lab >= ncols) {
                    st = qs_fail(err, QS_EINVAL, "%s:%d: label column %d does not exist (%d "
                                 "fields)", path, line, label_col, ncols);
                    goto cleanup;
                }
                if (ncols < 2) {
                    st = qs_fail(err, QS_EFORMAT, "%s:%d: only the label column; no feature "
                                 "columns", path, line);
                    goto cleanup;
                }
            }
            nfeat = lab >= 0 ? ncols - 1 : ncols;
            if (!csv_all_numbers(&r))
                continue; /* a header */
        } else if (r.n != ncols) {
            st = qs_fail(err, QS_EFORMAT, "%s:%d: %d fields, expected %d (as on line %d)", path,
                         line, r.n, ncols, first_line);
            goto cleanup;
        }
        if (rows == cap_rows) {
            size_t nc = cap_rows ? 2 * cap_rows : 64, xb, yb;
            if (__builtin_mul_overflow(nc, (size_t)nfeat * sizeof(float), &xb) ||
                __builtin_mul_overflow(nc, sizeof(int64_t), &yb)) {
                st = qs_fail(err, QS_ENOMEM, "%s:%d: too many rows", path, line);
                goto cleanup;
            }
            float *nx = realloc(xs, xb ? xb : 1);
            if (!nx) {
                st = qs_fail(err, QS_ENOMEM, "%s:%d: cannot allocate %zu bytes", path, line, xb);
                goto cleanup;
            }
            xs = nx;
            if (lab >= 0) {
                int64_t *ny = realloc(ys, yb);
                if (!ny) {
                    st = qs_fail(err, QS_ENOMEM, "%s:%d: cannot allocate %zu bytes", path, line,
                                 yb);
                    goto cleanup;
                }
                ys = ny;
            }
            cap_rows = nc;
        }
        float *row = xs + rows * (size_t)nfeat;
        for (int c = 0, k = 0; c < ncols; c++) {
            const char *f = r.f[c].s;
            if (c == lab) {
                if (!csv_label(f, &ys[rows])) {
                    st = qs_fail(err, QS_EFORMAT, "%s:%d: field %d '%.40s' is not an integer "
                                 "label", path, line, c + 1, f);
                    goto cleanup;
                }
            } else if (!*f) {
                st = qs_fail(err, QS_EFORMAT, "%s:%d: field %d is empty (missing values are not "
                             "supported)", path, line, c + 1);
                goto cleanup;
            } else if (!csv_float(f, &row[k++])) {
                st = qs_fail(err, QS_EFORMAT, "%s:%d: field %d '%.40s' is not a number", path,
                             line, c + 1, f);
                goto cleanup;
            }
        }
        rows++;
    }
    if (rows == 0) {
        st = qs_fail(err, QS_EFORMAT, "%s: no data rows", path);
        goto cleanup;
    }

    Tensor *tx = tensor_new(DT_F32, shape_of(2, (int64_t)rows, (int64_t)nfeat), err);
    if (!tx) {
        st = err->code;
        goto cleanup;
    }
    memcpy(tx->data, xs, rows * (size_t)nfeat * sizeof(float));
    Tensor *ty = NULL;
    if (lab >= 0) {
        ty = tensor_new(DT_I64, shape_of(1, (int64_t)rows), err);
        if (!ty) {
            tensor_free(tx);
            st = err->code;
            goto cleanup;
        }
        memcpy(ty->data, ys, rows * sizeof(int64_t));
    }
    *x = tx;
    if (y)
        *y = ty;
    else
        tensor_free(ty);
cleanup:
    free(r.f);
    free(xs);
    free(ys);
    return st;
}

QsStatus csv_load(const char *path, int label_col, Tensor **x, Tensor **y, QsError *err)
{
    *x = NULL;
    if (y)
        *y = NULL;
    if (label_col < -2)
        return qs_fail(err, QS_EINVAL, "%s: label column %d is invalid", path, label_col);
    /* text is parsed whole: the file and its numbers as float32 come to about three times
     * its size, charged to max_memory before anything is read */
    size_t bytes;
    FILE *f = fileio_open_read_sized(path, &bytes, err);
    if (!f)
        return err->code;
    fclose(f);
    Budget budget = { .limit = budget_max() };
    if (budget_charge(&budget, (int64_t)bytes, CSV_MEMORY_FACTOR, path, err))
        return err->code;
    void *buf;
    size_t len;
    if (fileio_read(path, &buf, &len, err))
        return err->code;
    /* strtof follows LC_NUMERIC; pin "C" for this thread only while parsing. */
    locale_t c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c_loc ? uselocale(c_loc) : (locale_t)0;
    QsStatus st = csv_parse(path, buf, len, label_col, x, y, err);
    if (c_loc) {
        uselocale(old);
        freelocale(c_loc);
    }
    free(buf);
    return st;
}
