#include "onnx/protobuf.h"

#include <stdlib.h>
#include <string.h>

/* Fixed-width fields are little-endian on the wire; so is every host qscope supports. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "protobuf.c assumes a little-endian host"
#endif

void pb_reader_init(PbReader *r, const void *buf, size_t len, const char *what)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->base = 0;
    r->depth = 0;
    r->what = what;
}

bool pb_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = *pos;
    for (int k = 0; k < 10; k++) {
        if (i >= len)
            return false;
        uint8_t b = p[i++];
        /* The tenth byte holds bit 63 only. */
        if (k == 9 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80)) {
            *pos = i;
            *out = v;
            return true;
        }
    }
    return false;
}

static int pb_fail(const PbReader *r, size_t at, QsError *err, const char *msg)
{
    qs_fail(err, QS_EFORMAT, "%s at byte %zu: %s", r->what, r->base + at, msg);
    return -1;
}

int pb_next(PbReader *r, PbField *f, QsError *err)
{
    if (r->pos >= r->len)
        return 0;
    size_t at = r->pos;
    uint64_t tag;
    if (!pb_varint(r->buf, r->len, &r->pos, &tag))
        return pb_fail(r, at, err, "truncated or overlong field tag");
    uint64_t num = tag >> 3;
    if (num == 0 || num > 0x1fffffff)
        return pb_fail(r, at, err, "field number 0 or above 2^29");
    memset(f, 0, sizeof *f);
    f->num = (uint32_t)num;
    f->offset = r->base + at;
    switch (tag & 7) {
    case PB_VARINT:
        f->wire = PB_VARINT;
        if (!pb_varint(r->buf, r->len, &r->pos, &f->v))
            return pb_fail(r, at, err, "truncated or overlong varint");
        return 1;
    case PB_I64:
        f->wire = PB_I64;
        if (r->len - r->pos < 8)
            return pb_fail(r, at, err, "fixed64 field runs past the end");
        memcpy(&f->v, r->buf + r->pos, 8);
        r->pos += 8;
        return 1;
    case PB_I32: {
        f->wire = PB_I32;
        if (r->len - r->pos < 4)
            return pb_fail(r, at, err, "fixed32 field runs past the end");
        uint32_t u;
        memcpy(&u, r->buf + r->pos, 4);
        f->v = u;
        r->pos += 4;
        return 1;
    }
    case PB_LEN: {
        f->wire = PB_LEN;
        uint64_t n;
        if (!pb_varint(r->buf, r->len, &r->pos, &n))
            return pb_fail(r, at, err, "truncated length");
        if (n > r->len - r->pos) {
            qs_fail(err, QS_EFORMAT,
                    "%s at byte %zu: field %u length %llu runs past the end (%zu bytes left)",
                    r->what, r->base + at, f->num, (unsigned long long)n, r->len - r->pos);
            return -1;
        }
        f->data = r->buf + r->pos;
        f->len = (size_t)n;
        r->pos += (size_t)n;
        return 1;
    }
    case 3:
    case 4:
        return pb_fail(r, at, err, "groups (wire types 3 and 4) are not supported");
    default:
        return pb_fail(r, at, err, "invalid wire type 6 or 7");
    }
}

QsStatus pb_wire_error(const PbReader *r, const PbField *f, PbWire want, QsError *err)
{
    return qs_fail(err, QS_EFORMAT, "%s at byte %zu: field %u has wire type %d, expected %d",
                   r->what, f->offset, f->num, (int)f->wire, (int)want);
}

QsStatus pb_sub(const PbReader *r, const PbField *f, const char *what, PbReader *sub,
                QsError *err)
{
    if (f->wire != PB_LEN)
        return pb_wire_error(r, f, PB_LEN, err);
    if (r->depth + 1 > PB_MAX_DEPTH)
        return qs_fail(err, QS_EFORMAT, "%s at byte %zu: messages nested deeper than %d",
                       what, f->offset, PB_MAX_DEPTH);
    sub->buf = f->data;
    sub->len = f->len;
    sub->pos = 0;
    sub->base = r->base + (size_t)(f->data - r->buf);
    sub->depth = r->depth + 1;
    sub->what = what;
    return QS_OK;
}

static size_t pb_elem_size(PbWire elem) { return elem == PB_I32 ? 4 : elem == PB_I64 ? 8 : 0; }

int64_t pb_read_packed(const PbReader *r, const PbField *f, PbWire elem, uint64_t *out,
                       int64_t max, QsError *err)
{
    if (f->wire == elem) {
        if (out && max > 0)
            out[0] = f->v;
        return 1;
    }
    if (f->wire != PB_LEN) {
        pb_wire_error(r, f, elem, err);
        return -1;
    }
    size_t es = pb_elem_size(elem);
    if (es) {
        if (f->len % es) {
            qs_fail(err, QS_EFORMAT, "%s at byte %zu: packed field %u has %zu bytes, not a "
                    "multiple of %zu", r->what, f->offset, f->num, f->len, es);
            return -1;
        }
        int64_t n = (int64_t)(f->len / es);
        for (int64_t i = 0; out && i < n && i < max; i++) {
            if (es == 4) {
                uint32_t u;
                memcpy(&u, f->data + i * 4, 4);
                out[i] = u;
            } else {
                memcpy(&out[i], f->data + i * 8, 8);
            }
        }
        return n;
    }
    int64_t n = 0;
    size_t pos = 0;
    while (pos < f->len) {
        uint64_t v;
        if (!pb_varint(f->data, f->len, &pos, &v)) {
            qs_fail(err, QS_EFORMAT, "%s at byte %zu: packed field %u has a truncated varint",
                    r->what, f->offset, f->num);
            return -1;
        }
        if (out && n < max)
            out[n] = v;
        n++;
    }
    return n;
}

int64_t pb_count_packed(const PbReader *r, const PbField *f, PbWire elem, QsError *err)
{
    return pb_read_packed(r, f, elem, NULL, 0, err);
}

/* ---- Writing */

void pb_writer_init(PbWriter *w) { memset(w, 0, sizeof *w); }

void pb_writer_release(PbWriter *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

QsStatus pb_writer_status(const PbWriter *w, QsError *err)
{
    if (w->oom)
        return qs_fail(err, QS_ENOMEM, "cannot grow a protobuf buffer beyond %zu bytes",
                       w->cap);
    return QS_OK;
}

static void pb_append(PbWriter *w, const void *p, size_t n)
{
    if (w->oom || n == 0)
        return;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->oom = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->oom = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void pb_raw_varint(PbWriter *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    pb_append(w, b, n);
}

static void pb_tag(PbWriter *w, uint32_t num, PbWire wire)
{
    pb_raw_varint(w, ((uint64_t)num << 3) | (uint64_t)wire);
}

void pb_put_varint(PbWriter *w, uint32_t num, uint64_t v)
{
    pb_tag(w, num, PB_VARINT);
    pb_raw_varint(w, v);
}

void pb_put_int64(PbWriter *w, uint32_t num, int64_t v) { pb_put_varint(w, num, (uint64_t)v); }

void pb_put_float(PbWriter *w, uint32_t num, float v)
{
    pb_tag(w, num, PB_I32);
    pb_append(w, &v, 4);
}

void pb_put_bytes(PbWriter *w, uint32_t num, const void *data, size_t len)
{
    pb_tag(w, num, PB_LEN);
    pb_raw_varint(w, len);
    pb_append(w, data, len);
}

void pb_put_string(PbWriter *w, uint32_t num, const char *s) { pb_put_bytes(w, num, s, strlen(s)); }

void pb_put_raw(PbWriter *w, const void *data, size_t len) { pb_append(w, data, len); }

void pb_put_message(PbWriter *w, uint32_t num, const PbWriter *sub)
{
    if (sub->oom)
        w->oom = true;
    pb_put_bytes(w, num, sub->buf, sub->len);
}

void pb_put_packed_int64(PbWriter *w, uint32_t num, const int64_t *v, int64_t n)
{
    PbWriter tmp;
    pb_writer_init(&tmp);
    for (int64_t i = 0; i < n; i++)
        pb_raw_varint(&tmp, (uint64_t)v[i]);
    pb_put_message(w, num, &tmp);
    pb_writer_release(&tmp);
}

void pb_put_packed_float(PbWriter *w, uint32_t num, const float *v, int64_t n)
{
    pb_tag(w, num, PB_LEN);
    pb_raw_varint(w, (uint64_t)n * 4);
    pb_append(w, v, (size_t)n * 4);
}
