/* NumPy .npy reader and writer.
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE for 2.0/3.0),
 * an ASCII (3.0: UTF-8) Python dict literal padded with spaces and ending in '\n', then the
 * raw C-order data. The dict is parsed by hand with a tiny tokenizer: only string, bool and
 * integer-tuple values can appear in a valid header, so a full Python literal parser would
 * only add surface for malformed input. */
#include "arrays/npy.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host (data is copied without byte swapping)"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* More dims than this are rejected while parsing the tuple, before the QS_MAX_DIMS check,
 * so the message can still say how many there were. */
#define NPY_PARSE_MAX_DIMS 64

/* Element types that can be read: the descr's kind+size code, the tensor dtype it becomes
 * and the element size in the file. f8 is narrowed to f32 since DType has no f64. */
typedef struct {
    const char *code;
    DType dtype;
    size_t file_size;
} NpyType;

static const NpyType npy_types[] = {
    { "f4", DT_F32, 4 }, { "f8", DT_F32, 8 }, { "f2", DT_F16, 2 }, { "u1", DT_U8, 1 },
    { "i1", DT_I8, 1 },  { "i4", DT_I32, 4 }, { "i8", DT_I64, 8 },
};
#define NPY_SUPPORTED "<f4 <f8 <f2 |u1 |i1 <i4 <i8"

/* The exact descr strings numpy writes, so files round-trip through numpy unchanged. */
static const char *const npy_descr[DT_COUNT] = {
    [DT_F32] = "<f4", [DT_F16] = "<f2", [DT_I8] = "|i1",
    [DT_U8] = "|u1",  [DT_I32] = "<i4", [DT_I64] = "<i8",
};

typedef struct {
    const char *s; /* header text (not NUL-terminated) */
    size_t n, pos;
    const char *what;
    QsError *err;
} NpyLex;

typedef struct {
    char descr[32];
    int have_descr, have_fortran, have_shape;
    int fortran;
    int ndim;
    int64_t dim[NPY_PARSE_MAX_DIMS];
} NpyHeader;

static void npy_skip_ws(NpyLex *lx)
{
    while (lx->pos < lx->n && (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t' ||
                               lx->s[lx->pos] == '\n' || lx->s[lx->pos] == '\r'))
        lx->pos++;
}

static QsStatus npy_syntax(NpyLex *lx, const char *expected)
{
    if (lx->pos >= lx->n)
        return qs_fail(lx->err, QS_EFORMAT, "%s: malformed .npy header: expected %s, found end of header",
                       lx->what, expected);
    return qs_fail(lx->err, QS_EFORMAT,
                   "%s: malformed .npy header at header byte %zu: expected %s, found '%c'", lx->what,
                   lx->pos, expected, lx->s[lx->pos]);
}

/* Consumes c after optional whitespace; returns 1 if it was there. */
static int npy_accept(NpyLex *lx, char c)
{
    npy_skip_ws(lx);
    if (lx->pos < lx->n && lx->s[lx->pos] == c) {
        lx->pos++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (none appear in valid headers). */
static QsStatus npy_string(NpyLex *lx, char *out, size_t cap)
{
    npy_skip_ws(lx);
    if (lx->pos >= lx->n || (lx->s[lx->pos] != '\'' && lx->s[lx->pos] != '"'))
        return npy_syntax(lx, "a quoted string");
    char q = lx->s[lx->pos++];
    size_t start = lx->pos;
    while (lx->pos < lx->n && lx->s[lx->pos] != q) {
        if (lx->s[lx->pos] == '\\' || lx->s[lx->pos] == '\n')
            return npy_syntax(lx, "a plain string");
        lx->pos++;
    }
    if (lx->pos >= lx->n)
        return qs_fail(lx->err, QS_EFORMAT, "%s: malformed .npy header: unterminated string",
                       lx->what);
    size_t len = lx->pos - start;
    lx->pos++;
    if (len >= cap)
        return qs_fail(lx->err, QS_EFORMAT, "%s: .npy header string '%.*s' is too long",
                       lx->what, (int)(len > 40 ? 40 : len), lx->s + start);
    memcpy(out, lx->s + start, len);
    out[len] = '\0';
    return QS_OK;
}

static int npy_word(NpyLex *lx, const char *w)
{
    npy_skip_ws(lx);
    size_t k = strlen(w);
    if (lx->n - lx->pos >= k && memcmp(lx->s + lx->pos, w, k) == 0) {
        lx->pos += k;
        return 1;
    }
    return 0;
}

static QsStatus npy_shape(NpyLex *lx, NpyHeader *h)
{
    if (!npy_accept(lx, '('))
        return npy_syntax(lx, "'(' starting the shape tuple");
    h->ndim = 0;
    for (;;) {
        if (npy_accept(lx, ')'))
            return QS_OK;
        npy_skip_ws(lx);
        if (lx->pos >= lx->n || lx->s[lx->pos] < '0' || lx->s[lx->pos] > '9')
            return npy_syntax(lx, "a non-negative integer dimension");
        int64_t v = 0;
        while (lx->pos < lx->n && lx->s[lx->pos] >= '0' && lx->s[lx->pos] <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, lx->s[lx->pos] - '0', &v))
                return qs_fail(lx->err, QS_EFORMAT,
                               "%s: .npy shape dimension %d does not fit in 64 bits", lx->what,
                               h->ndim);
            lx->pos++;
        }
        if (lx->pos < lx->n && lx->s[lx->pos] == 'L') /* Python 2 long literal */
            lx->pos++;
        if (h->ndim == NPY_PARSE_MAX_DIMS)
            return qs_fail(lx->err, QS_EFORMAT,
                           "%s: .npy shape has more than %d dimensions (at most %d supported)",
                           lx->what, NPY_PARSE_MAX_DIMS, QS_MAX_DIMS);
        h->dim[h->ndim++] = v;
        if (npy_accept(lx, ','))
            continue;
        if (npy_accept(lx, ')'))
            return QS_OK;
        return npy_syntax(lx, "',' or ')' in the shape tuple");
    }
}

static QsStatus npy_parse_header(const char *s, size_t n, const char *what, NpyHeader *h,
                                 QsError *err)
{
    NpyLex lx = { .s = s, .n = n, .what = what, .err = err };
    memset(h, 0, sizeof *h);
    if (!npy_accept(&lx, '{'))
        return npy_syntax(&lx, "'{' starting the header dict");
    for (;;) {
        if (npy_accept(&lx, '}'))
            break;
        char key[32];
        if (npy_string(&lx, key, sizeof key))
            return err->code;
        if (!npy_accept(&lx, ':'))
            return npy_syntax(&lx, "':' after a key");
        if (strcmp(key, "descr") == 0) {
            if (h->have_descr++)
                return qs_fail(err, QS_EFORMAT, "%s: .npy header has 'descr' twice", what);
            npy_skip_ws(&lx);
            if (lx.pos < n && lx.s[lx.pos] == '[')
                return qs_fail(err, QS_EUNSUPPORTED,
                               "%s: structured dtypes (record arrays) are not supported", what);
            if (npy_string(&lx, h->descr, sizeof h->descr))
                return err->code;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (h->have_fortran++)
                return qs_fail(err, QS_EFORMAT, "%s: .npy header has 'fortran_order' twice",
                               what);
            if (npy_word(&lx, "True"))
                h->fortran = 1;
            else if (npy_word(&lx, "False"))
                h->fortran = 0;
            else
                return npy_syntax(&lx, "True or False for 'fortran_order'");
        } else if (strcmp(key, "shape") == 0) {
            if (h->have_shape++)
                return qs_fail(err, QS_EFORMAT, "%s: .npy header has 'shape' twice", what);
            if (npy_shape(&lx, h))
                return err->code;
        } else {
            return qs_fail(err, QS_EFORMAT, "%s: .npy header has an unknown key '%s'", what,
                           key);
        }
        if (npy_accept(&lx, ','))
            continue;
        if (npy_accept(&lx, '}'))
            break;
        return npy_syntax(&lx, "',' or '}' in the header dict");
    }
    npy_skip_ws(&lx);
    if (lx.pos != n)
        return npy_syntax(&lx, "only padding after the header dict");
    if (!h->have_descr || !h->have_fortran || !h->have_shape)
        return qs_fail(err, QS_EFORMAT, "%s: .npy header lacks '%s'", what,
                       !h->have_descr ? "descr" : !h->have_fortran ? "fortran_order" : "shape");
    return QS_OK;
}

/* Maps a descr string to a row of npy_types, or fails saying why it cannot be read. */
static const NpyType *npy_find_type(const char *descr, const char *what, QsError *err)
{
    char order = descr[0];
    const char *code = descr + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        order = '|';
        code = descr;
    }
    if (code[0] == 'O')
        return qs_fail(err, QS_EUNSUPPORTED,
                       "%s: object arrays ('%s') are not supported (they hold pickled Python "
                       "objects)", what, descr), NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(code, npy_types[i].code) != 0)
            continue;
        size_t sz = npy_types[i].file_size;
        /* Byte order is meaningless for one-byte types; '=' is native, i.e. little. */
        if (sz > 1 && order == '>')
            return qs_fail(err, QS_EUNSUPPORTED,
                           "%s: big-endian dtype '%s' is not supported (convert with "
                           "a.astype(a.dtype.newbyteorder('<')))", what, descr), NULL;
        if (sz > 1 && order == '|')
            return qs_fail(err, QS_EFORMAT, "%s: dtype '%s' lacks a byte order", what, descr),
                   NULL;
        return &npy_types[i];
    }
    return qs_fail(err, QS_EUNSUPPORTED, "%s: dtype '%s' is not supported (supported: %s)",
                   what, descr, NPY_SUPPORTED), NULL;
}

static uint32_t npy_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parses the header of the .npy image buf and checks that the data it declares fills the
 * rest of it exactly: the element type, shape, data offset and data size. */
static QsStatus npy_locate(const void *buf, size_t len, const char *what, const NpyType **type,
                           Shape *shape_out, size_t *off_out, size_t *need_out, QsError *err)
{
    const unsigned char *p = buf;
    if (len < NPY_MAGIC_LEN + 2 || memcmp(p, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return qs_fail(err, QS_EFORMAT, "%s: not a .npy file (bad magic; %zu bytes)", what, len),
               err->code;
    int major = p[6], minor = p[7];
    size_t hstart;
    size_t hlen;
    if (major == 1 && minor == 0) {
        hstart = 10;
        if (len < hstart)
            return qs_fail(err, QS_EFORMAT, "%s: truncated .npy preamble (%zu bytes)", what, len),
                   err->code;
        hlen = (size_t)p[8] | (size_t)p[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        hstart = 12;
        if (len < hstart)
            return qs_fail(err, QS_EFORMAT, "%s: truncated .npy preamble (%zu bytes)", what, len),
                   err->code;
        hlen = npy_le32(p + 8);
    } else {
        return qs_fail(err, QS_EUNSUPPORTED, "%s: .npy format version %d.%d is not supported "
                       "(1.0, 2.0 and 3.0 are)", what, major, minor), err->code;
    }
    if (hlen > len - hstart)
        return qs_fail(err, QS_EFORMAT,
                       "%s: .npy header length %zu runs past the end of the file (%zu bytes "
                       "after the preamble)", what, hlen, len - hstart), err->code;

    NpyHeader h;
    if (npy_parse_header((const char *)p + hstart, hlen, what, &h, err))
        return err->code;
    if (h.fortran)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: Fortran-ordered arrays are not supported "
                       "(save with np.ascontiguousarray)", what), err->code;
    const NpyType *ty = npy_find_type(h.descr, what, err);
    if (!ty)
        return err->code;
    if (h.ndim > QS_MAX_DIMS)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: %d dimensions (at most %d supported)", what,
                       h.ndim, QS_MAX_DIMS), err->code;

    Shape shape = shape_make(h.ndim, h.dim);
    char sbuf[160];
    size_t need = ty->file_size;
    for (int i = 0; i < h.ndim; i++)
        if (__builtin_mul_overflow(need, (size_t)h.dim[i], &need))
            return qs_fail(err, QS_EFORMAT, "%s: shape %s of '%s' is too large (size overflows)",
                           what, shape_format(&shape, sbuf, sizeof sbuf), h.descr), err->code;
    size_t off = hstart + hlen, have = len - off;
    if (need != have) {
        if (need > have)
            return qs_fail(err, QS_EFORMAT, "%s: truncated: shape %s of '%s' needs %zu data "
                           "bytes at offset %zu, found %zu", what,
                           shape_format(&shape, sbuf, sizeof sbuf), h.descr, need, off, have),
                   err->code;
        return qs_fail(err, QS_EFORMAT, "%s: %zu unexpected bytes after the data (shape %s of "
                       "'%s' needs %zu bytes at offset %zu)", what, have - need,
                       shape_format(&shape, sbuf, sizeof sbuf), h.descr, need, off), err->code;
    }

    *type = ty;
    *shape_out = shape;
    *off_out = off;
    *need_out = need;
    return QS_OK;
}

/* f8 -> f32; memcpy because the data offset need not be 8-aligned. */
static void npy_dec_f8(const unsigned char *src, void *dst, size_t n)
{
    float *d = dst;
    for (size_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, src + 8 * i, 8);
        d[i] = (float)v;
    }
}

static Tensor *npy_read(const void *buf, size_t len, const char *what, QsError *err)
{
    const NpyType *ty;
    Shape shape;
    size_t off, need;
    if (npy_locate(buf, len, what, &ty, &shape, &off, &need, err))
        return NULL;
    const unsigned char *src = (const unsigned char *)buf + off;
    Tensor *t = tensor_new(ty->dtype, shape, err);
    if (!t) {
        qs_error_prefix(err, "%s", what);
        return NULL;
    }
    if (ty->file_size == dtype_size(ty->dtype)) {
        memcpy(t->data, src, need);
    } else {
        npy_dec_f8(src, t->data, need / 8);
    }
    return t;
}

Tensor *npy_parse(const void *buf, size_t len, const char *what, QsError *err)
{
    return npy_read(buf, len, what, err);
}

QsStatus npy_layout(const void *buf, size_t len, const char *what, RowLayout *out,
                    QsError *err)
{
    const NpyType *ty;
    size_t off, need;
    memset(out, 0, sizeof *out);
    if (npy_locate(buf, len, what, &ty, &out->shape, &off, &need, err))
        return err->code;
    out->offset = off;
    out->file_elem = ty->file_size;
    out->dtype = ty->dtype;
    out->decode = ty->file_size == dtype_size(ty->dtype) ? NULL : npy_dec_f8;
    return QS_OK;
}

Tensor *npy_load(const char *path, QsError *err)
{
    void *buf;
    size_t len;
    if (fileio_read(path, &buf, &len, err))
        return NULL;
    Tensor *t = npy_parse(buf, len, path, err);
    free(buf);
    return t;
}

QsStatus npy_serialize(const Tensor *t, void **out, size_t *out_len, QsError *err)
{
    *out = NULL;
    *out_len = 0;
    if ((unsigned)t->dtype >= DT_COUNT || !npy_descr[t->dtype])
        return qs_fail(err, QS_EUNSUPPORTED, "npy: dtype %d cannot be written", (int)t->dtype);
    size_t bytes;
    if (shape_checked_bytes(&t->shape, dtype_size(t->dtype), &bytes, "npy", err))
        return err->code;

    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     npy_descr[t->dtype]);
    for (int i = 0; i < t->shape.ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)t->shape.dim[i]);
    /* numpy writes a 1-tuple as "(3,)" */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->shape.ndim == 1 ? "," : "");
    QS_ASSERT(n > 0 && (size_t)n < sizeof dict);

    /* Preamble (10) + dict + padding + '\n' is a multiple of 64, as numpy >= 1.14 writes. */
    size_t total_hdr = ((size_t)10 + (size_t)n + 1 + 63) / 64 * 64;
    size_t hlen = total_hdr - 10;
    size_t len;
    if (__builtin_add_overflow(total_hdr, bytes, &len))
        return qs_fail(err, QS_ESHAPE, "npy: array too large to serialise");
    unsigned char *b = malloc(len);
    if (!b)
        return qs_fail(err, QS_ENOMEM, "npy: cannot allocate %zu bytes", len);
    memcpy(b, NPY_MAGIC, NPY_MAGIC_LEN);
    b[6] = 1;
    b[7] = 0;
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8);
    memcpy(b + 10, dict, (size_t)n);
    memset(b + 10 + n, ' ', hlen - (size_t)n - 1);
    b[total_hdr - 1] = '\n';
    if (bytes)
        memcpy(b + total_hdr, t->data, bytes);
    *out = b;
    *out_len = len;
    return QS_OK;
}

QsStatus npy_save(const char *path, const Tensor *t, QsError *err)
{
    void *buf;
    size_t len;
    if (npy_serialize(t, &buf, &len, err)) {
        qs_error_prefix(err, "%s", path);
        return err->code;
    }
    QsStatus st = fileio_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}
