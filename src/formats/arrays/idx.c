/* IDX (MNIST) files: bytes 0x00 0x00, a type code, the number of dims, then each dim as a
 * big-endian u32 and the big-endian data. Gzipped files are inflated from memory in three
 * steps (magic, dims, data) so that the output buffer is sized from the declared dims,
 * checked against what the compressed stream could possibly hold, and never grown. */
#include "arrays/idx.h"

#include "base/budget.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/fileio.h"

/* A gzip member's deflate data cannot expand by more than about 1032:1. */
#define IDX_MAX_GZ_RATIO 1032u
#define IDX_GZ_SLACK 4096u

typedef struct {
    unsigned char code;
    const char *name;
    size_t file_size;
    DType dtype;
    /* Decodes n big-endian elements into dst (of dtype). */
    void (*decode)(const unsigned char *src, void *dst, size_t n);
    /* Encodes n elements of dtype as big-endian; NULL: this dtype is not written as it. */
    void (*encode)(const void *src, unsigned char *dst, size_t n);
} IdxType;

static uint32_t idx_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void idx_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}
static uint64_t idx_be64(const unsigned char *p)
{
    return (uint64_t)idx_be32(p) << 32 | idx_be32(p + 4);
}

/* an empty file's rows have no storage at all: memcpy must not see its null pointer */
static void idx_dec_bytes(const unsigned char *src, void *dst, size_t n)
{
    if (n > 0)
        memcpy(dst, src, n);
}
static void idx_dec_i16(const unsigned char *src, void *dst, size_t n)
{
    int32_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = (int16_t)(uint16_t)(src[2 * i] << 8 | src[2 * i + 1]);
}
static void idx_dec_i32(const unsigned char *src, void *dst, size_t n)
{
    int32_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = (int32_t)idx_be32(src + 4 * i);
}
static void idx_dec_f32(const unsigned char *src, void *dst, size_t n)
{
    float *d = dst;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = idx_be32(src + 4 * i);
        memcpy(&d[i], &u, 4);
    }
}
static void idx_dec_f64(const unsigned char *src, void *dst, size_t n)
{
    float *d = dst;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = idx_be64(src + 8 * i);
        double v;
        memcpy(&v, &u, 8);
        d[i] = (float)v;
    }
}
static void idx_enc_bytes(const void *src, unsigned char *dst, size_t n) { memcpy(dst, src, n); }
static void idx_enc_32(const void *src, unsigned char *dst, size_t n)
{
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, s + 4 * i, 4);
        idx_put_be32(dst + 4 * i, u);
    }
}

static const IdxType idx_types[] = {
    { 0x08, "u8", 1, DT_U8, idx_dec_bytes, idx_enc_bytes },
    { 0x09, "i8", 1, DT_I8, idx_dec_bytes, idx_enc_bytes },
    { 0x0B, "i16", 2, DT_I32, idx_dec_i16, NULL },
    { 0x0C, "i32", 4, DT_I32, idx_dec_i32, idx_enc_32 },
    { 0x0D, "f32", 4, DT_F32, idx_dec_f32, idx_enc_32 },
    { 0x0E, "f64", 8, DT_F32, idx_dec_f64, NULL },
};
#define IDX_NTYPES (sizeof idx_types / sizeof idx_types[0])

static const IdxType *idx_find_code(unsigned char code)
{
    for (size_t i = 0; i < IDX_NTYPES; i++)
        if (idx_types[i].code == code)
            return &idx_types[i];
    return NULL;
}

/* Validates the 4-byte magic; on success sets *ty and *ndim. */
static QsStatus idx_magic(const char *path, const unsigned char *m, const IdxType **ty,
                          int *ndim, QsError *err)
{
    if (m[0] != 0 || m[1] != 0)
        return qs_fail(err, QS_EFORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x should "
                       "start with 00 00)", path, m[0], m[1], m[2], m[3]);
    *ty = idx_find_code(m[2]);
    if (!*ty)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: unknown IDX type code 0x%02x (supported: "
                       "0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)", path, m[2]);
    if (m[3] > QS_MAX_DIMS)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: %d dimensions (at most %d supported)", path,
                       m[3], QS_MAX_DIMS);
    *ndim = m[3];
    return QS_OK;
}

/* Reads the dims and returns the data size in bytes, overflow-checked. */
static QsStatus idx_dims(const char *path, const unsigned char *p, int ndim, const IdxType *ty,
                         Shape *shape, size_t *bytes, QsError *err)
{
    shape->ndim = ndim;
    size_t n = ty->file_size;
    for (int i = 0; i < QS_MAX_DIMS; i++)
        shape->dim[i] = 0;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = idx_be32(p + 4 * i);
        shape->dim[i] = d;
        if (__builtin_mul_overflow(n, (size_t)d, &n)) {
            char sbuf[160];
            shape->ndim = i + 1;
            return qs_fail(err, QS_EFORMAT, "%s: dims %s... are too large (size overflows)",
                           path, shape_format(shape, sbuf, sizeof sbuf));
        }
    }
    *bytes = n;
    return QS_OK;
}

/* Inflates exactly n bytes into dst, or fails saying what went wrong. */
static QsStatus idx_inflate(const char *path, z_stream *zs, unsigned char *dst, size_t n,
                            const char *part, QsError *err)
{
    zs->next_out = dst;
    size_t left = n;
    while (left > 0) {
        uInt chunk = left > 0x40000000u ? 0x40000000u : (uInt)left;
        zs->avail_out = chunk;
        int rc = inflate(zs, Z_NO_FLUSH);
        left -= chunk - zs->avail_out;
        if (rc == Z_STREAM_END && left > 0)
            return qs_fail(err, QS_EFORMAT, "%s: truncated: gzip stream ends %zu bytes into the "
                           "%s (%zu expected)", path, n - left, part, n);
        if (rc == Z_BUF_ERROR || (rc == Z_OK && zs->avail_in == 0 && left > 0))
            return qs_fail(err, QS_EFORMAT, "%s: truncated gzip stream (%zu of %zu bytes of "
                           "the %s)", path, n - left, n, part);
        if (rc != Z_OK && rc != Z_STREAM_END)
            return qs_fail(err, QS_EFORMAT, "%s: corrupt gzip data in the %s (%s)", path, part,
                           zs->msg ? zs->msg : "invalid stream");
    }
    return QS_OK;
}

static Tensor *idx_finish(const char *path, const IdxType *ty, Shape shape,
                          const unsigned char *raw, size_t bytes, QsError *err)
{
    Tensor *t = tensor_new(ty->dtype, shape, err);
    if (!t) {
        qs_error_prefix(err, "%s", path);
        return NULL;
    }
    ty->decode(raw, t->data, bytes / ty->file_size);
    return t;
}

/* Checks a plain IDX image's header against its length: the type, shape and data size;
 * the data starts at *hdr_out. */
static QsStatus idx_locate_plain(const char *path, const unsigned char *p, size_t len,
                                 const IdxType **ty_out, Shape *shape, size_t *hdr_out,
                                 size_t *bytes_out, QsError *err)
{
    const IdxType *ty;
    int ndim;
    size_t bytes;
    if (len < 4)
        return qs_fail(err, QS_EFORMAT, "%s: truncated: %zu bytes, too short for an IDX "
                       "header", path, len);
    if (idx_magic(path, p, &ty, &ndim, err))
        return err->code;
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr)
        return qs_fail(err, QS_EFORMAT, "%s: truncated: header of %d dims needs %zu bytes, "
                       "found %zu", path, ndim, hdr, len);
    if (idx_dims(path, p + 4, ndim, ty, shape, &bytes, err))
        return err->code;
    if (len - hdr != bytes) {
        char sbuf[160];
        if (len - hdr < bytes)
            return qs_fail(err, QS_EFORMAT, "%s: truncated: dims %s of %s need %zu data bytes, "
                           "found %zu", path, shape_format(shape, sbuf, sizeof sbuf), ty->name,
                           bytes, len - hdr);
        return qs_fail(err, QS_EFORMAT, "%s: %zu unexpected bytes after the data (dims %s of "
                       "%s need %zu bytes)", path, len - hdr - bytes,
                       shape_format(shape, sbuf, sizeof sbuf), ty->name, bytes);
    }
    *ty_out = ty;
    *hdr_out = hdr;
    *bytes_out = bytes;
    return QS_OK;
}

static Tensor *idx_parse_plain(const char *path, const unsigned char *p, size_t len,
                               QsError *err)
{
    const IdxType *ty;
    Shape shape;
    size_t hdr, bytes;
    if (idx_locate_plain(path, p, len, &ty, &shape, &hdr, &bytes, err))
        return NULL;
    return idx_finish(path, ty, shape, p + hdr, bytes, err);
}

/* gzip's magic bytes. */
static bool idx_is_gz(const unsigned char *p, size_t len)
{
    return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

QsStatus idx_layout(const char *path, const void *buf, size_t len, RowLayout *out, bool *gz,
                    QsError *err)
{
    memset(out, 0, sizeof *out);
    *gz = idx_is_gz(buf, len);
    if (*gz)
        return QS_OK;
    const IdxType *ty;
    size_t hdr, bytes;
    if (idx_locate_plain(path, buf, len, &ty, &out->shape, &hdr, &bytes, err))
        return err->code;
    out->offset = hdr;
    out->file_elem = ty->file_size;
    out->dtype = ty->dtype;
    out->decode = ty->decode;
    return QS_OK;
}

static Tensor *idx_parse_gz(const char *path, const unsigned char *p, size_t len, QsError *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return qs_fail(err, QS_ENOMEM, "%s: cannot initialise zlib", path), NULL;
    Tensor *t = NULL;
    unsigned char *raw = NULL;
    const IdxType *ty;
    int ndim;
    Shape shape;
    size_t bytes;
    unsigned char hdr[4 + 4 * QS_MAX_DIMS];
    /* zlib counts input in uInt; larger gzip files are not plausible IDX data sets. */
    if (len > 0xffffffffu) {
        qs_fail(err, QS_EUNSUPPORTED, "%s: gzip file of %zu bytes is too large", path, len);
        goto cleanup;
    }
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    if (idx_inflate(path, &zs, hdr, 4, "magic", err) ||
        idx_magic(path, hdr, &ty, &ndim, err) ||
        idx_inflate(path, &zs, hdr + 4, 4 * (size_t)ndim, "dims", err) ||
        idx_dims(path, hdr + 4, ndim, ty, &shape, &bytes, err))
        goto cleanup;
    uint64_t limit = (uint64_t)len * IDX_MAX_GZ_RATIO + IDX_GZ_SLACK;
    if (bytes > limit) {
        char sbuf[160];
        qs_fail(err, QS_EFORMAT, "%s: dims %s of %s declare %zu data bytes, more than %zu bytes "
                "of gzip can hold", path, shape_format(&shape, sbuf, sizeof sbuf), ty->name,
                bytes, len);
        goto cleanup;
    }
    /* deflate allows 1032:1, so the data may still exceed what the user allows */
    Budget budget = { .limit = budget_max() };
    if (budget_charge(&budget, (int64_t)bytes, 1, path, err))
        goto cleanup;
    raw = malloc(bytes ? bytes : 1);
    if (!raw) {
        qs_fail(err, QS_ENOMEM, "%s: cannot allocate %zu bytes for the data", path, bytes);
        goto cleanup;
    }
    if (idx_inflate(path, &zs, raw, bytes, "data", err))
        goto cleanup;
    /* The stream must end exactly here (trailer checked by zlib: CRC and length). */
    unsigned char extra;
    zs.next_out = &extra;
    zs.avail_out = 1;
    int rc = inflate(&zs, Z_FINISH);
    if (zs.avail_out == 0) {
        qs_fail(err, QS_EFORMAT, "%s: unexpected data after the %zu data bytes", path, bytes);
        goto cleanup;
    }
    if (rc != Z_STREAM_END) {
        qs_fail(err, QS_EFORMAT, "%s: %s at the end of the gzip stream", path,
                rc == Z_DATA_ERROR ? (zs.msg ? zs.msg : "corrupt data") : "truncated trailer");
        goto cleanup;
    }
    if (zs.avail_in != 0) {
        qs_fail(err, QS_EFORMAT, "%s: %u unexpected bytes after the gzip stream", path,
                zs.avail_in);
        goto cleanup;
    }
    t = idx_finish(path, ty, shape, raw, bytes, err);
cleanup:
    inflateEnd(&zs);
    free(raw);
    return t;
}

Tensor *idx_load(const char *path, QsError *err)
{
    void *buf;
    size_t len;
    if (fileio_read(path, &buf, &len, err))
        return NULL;
    const unsigned char *p = buf;
    Tensor *t = idx_is_gz(p, len) ? idx_parse_gz(path, p, len, err)
                                  : idx_parse_plain(path, p, len, err);
    free(buf);
    return t;
}

/* Gzips src into a new buffer (mtime 0, so output is reproducible). */
static QsStatus idx_gzip(const char *path, const unsigned char *src, size_t n,
                         unsigned char **out, size_t *out_len, QsError *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return qs_fail(err, QS_ENOMEM, "%s: cannot initialise zlib", path);
    if (n > 0xffffffffu) {
        deflateEnd(&zs);
        return qs_fail(err, QS_EUNSUPPORTED, "%s: %zu bytes is too large to gzip", path, n);
    }
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *dst = malloc(cap);
    if (!dst) {
        deflateEnd(&zs);
        return qs_fail(err, QS_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
    }
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(dst);
        return qs_fail(err, QS_EIO, "%s: gzip compression failed (%d)", path, rc);
    }
    *out = dst;
    *out_len = produced;
    return QS_OK;
}

QsStatus idx_save(const char *path, const Tensor *t, QsError *err)
{
    const IdxType *ty = NULL;
    for (size_t i = 0; i < IDX_NTYPES && !ty; i++)
        if (idx_types[i].encode && idx_types[i].dtype == t->dtype)
            ty = &idx_types[i];
    if (!ty)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: IDX cannot store %s tensors (u8, i8, i32 and "
                       "f32 can be written)", path, dtype_name(t->dtype));
    size_t bytes;
    if (shape_checked_bytes(&t->shape, ty->file_size, &bytes, path, err))
        return err->code;
    for (int i = 0; i < t->shape.ndim; i++)
        if (t->shape.dim[i] > (int64_t)0xffffffffu)
            return qs_fail(err, QS_EUNSUPPORTED, "%s: dimension %d (%lld) does not fit IDX's "
                           "32-bit dims", path, i, (long long)t->shape.dim[i]);
    size_t hdr = 4 + 4 * (size_t)t->shape.ndim, total;
    if (__builtin_add_overflow(hdr, bytes, &total))
        return qs_fail(err, QS_ESHAPE, "%s: tensor too large", path);
    unsigned char *img = malloc(total);
    if (!img)
        return qs_fail(err, QS_ENOMEM, "%s: cannot allocate %zu bytes", path, total);
    img[0] = 0;
    img[1] = 0;
    img[2] = ty->code;
    img[3] = (unsigned char)t->shape.ndim;
    for (int i = 0; i < t->shape.ndim; i++)
        idx_put_be32(img + 4 + 4 * i, (uint32_t)t->shape.dim[i]);
    ty->encode(t->data, img + hdr, bytes / ty->file_size);

    QsStatus st;
    if (fileio_has_suffix(path, ".gz")) {
        unsigned char *gz = NULL;
        size_t gz_len = 0;
        st = idx_gzip(path, img, total, &gz, &gz_len, err);
        if (st == QS_OK) {
            st = fileio_write_atomic(path, gz, gz_len, err);
            free(gz);
        }
    } else {
        st = fileio_write_atomic(path, img, total, err);
    }
    free(img);
    return st;
}
