/* The FlatBuffers builder (flatbuf.h). */
#include "tflite/flatbuf.h"

#include <stdlib.h>
#include <string.h>

/* A uoffset spans at most 2^31 bytes in the reference readers (they verify with signed
 * sizes), so the buffer stays below that. */
#define FB_MAX_SIZE ((size_t)1 << 31)

void fb_init(FbBuilder *b)
{
    memset(b, 0, sizeof *b);
    b->minalign = 1;
}

void fb_release(FbBuilder *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* Room for n more bytes at the front, moving the data to the end of a larger buffer. */
static bool fb_room(FbBuilder *b, size_t n)
{
    if (b->too_big || n > FB_MAX_SIZE - b->used) {
        b->too_big = true;
        return false;
    }
    if (b->cap - b->used >= n)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->used < n)
        cap *= 2;
    uint8_t *nb = xmalloc(cap);
    if (b->used)
        memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
    free(b->buf);
    b->buf = nb;
    b->cap = cap;
    return true;
}

/* Writes n bytes at the front. */
static void fb_push(FbBuilder *b, const void *p, size_t n)
{
    if (!fb_room(b, n))
        return;
    b->used += n;
    memcpy(b->buf + b->cap - b->used, p, n);
}

static void fb_pad(FbBuilder *b, size_t n)
{
    static const uint8_t zeros[16];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        fb_push(b, zeros, k);
        n -= k;
    }
}

/* Pads so that after `extra` more bytes the data is aligned to `align` (a power of two). */
static void fb_prep(FbBuilder *b, size_t align, size_t extra)
{
    if (align > b->minalign)
        b->minalign = align;
    size_t pad = (align - ((b->used + extra) & (align - 1))) & (align - 1);
    fb_pad(b, pad);
}

/* A uoffset to r, stored at the front (aligned to 4). */
static void fb_push_uoffset(FbBuilder *b, FbRef r)
{
    fb_prep(b, 4, 4);
    uint32_t off = (uint32_t)(b->used + 4 - r);
    fb_push(b, &off, 4);
}

FbRef fb_string(FbBuilder *b, const char *s)
{
    QS_ASSERT(!b->in_table);
    size_t n = strlen(s);
    fb_prep(b, 4, n + 1);
    fb_pad(b, 1);
    fb_push(b, s, n);
    uint32_t len = (uint32_t)n;
    fb_prep(b, 4, 4);
    fb_push(b, &len, 4);
    return (FbRef)b->used;
}

FbRef fb_vector(FbBuilder *b, const void *data, size_t n, size_t elem_size, size_t align)
{
    QS_ASSERT(!b->in_table && elem_size > 0 && align >= 1);
    size_t bytes = n * elem_size;
    if (n && bytes / n != elem_size) {
        b->too_big = true;
        return 0;
    }
    fb_prep(b, 4, bytes);
    fb_prep(b, align, bytes);
    fb_push(b, data, bytes);
    uint32_t len = (uint32_t)n;
    fb_push(b, &len, 4); /* aligned: bytes end on a multiple of 4 from the prep */
    return (FbRef)b->used;
}

FbRef fb_vector_refs(FbBuilder *b, const FbRef *refs, size_t n)
{
    QS_ASSERT(!b->in_table);
    fb_prep(b, 4, 4 * n);
    for (size_t i = n; i-- > 0;)
        fb_push_uoffset(b, refs[i]);
    uint32_t len = (uint32_t)n;
    fb_push(b, &len, 4);
    return (FbRef)b->used;
}

void fb_table_begin(FbBuilder *b)
{
    QS_ASSERT(!b->in_table);
    b->in_table = true;
    b->table_start = b->used;
    b->n_fields = 0;
    memset(b->field_at, 0, sizeof b->field_at);
}

static void fb_field(FbBuilder *b, int field, const void *p, size_t n)
{
    QS_ASSERT(b->in_table && field >= 0 && field < FB_MAX_FIELDS);
    fb_prep(b, n, 0);
    fb_push(b, p, n);
    b->field_at[field] = (FbRef)b->used;
    if (field >= b->n_fields)
        b->n_fields = field + 1;
}

void fb_add_u8(FbBuilder *b, int field, uint8_t v, uint8_t def)
{
    if (v != def)
        fb_field(b, field, &v, 1);
}

void fb_add_i32(FbBuilder *b, int field, int32_t v, int32_t def)
{
    if (v != def)
        fb_field(b, field, &v, 4);
}

void fb_add_u32(FbBuilder *b, int field, uint32_t v, uint32_t def)
{
    if (v != def)
        fb_field(b, field, &v, 4);
}

void fb_add_i64(FbBuilder *b, int field, int64_t v, int64_t def)
{
    if (v != def)
        fb_field(b, field, &v, 8);
}

void fb_add_u64(FbBuilder *b, int field, uint64_t v, uint64_t def)
{
    if (v != def)
        fb_field(b, field, &v, 8);
}

void fb_add_f32(FbBuilder *b, int field, float v, float def)
{
    if (memcmp(&v, &def, sizeof v) != 0)
        fb_field(b, field, &v, 4);
}

void fb_add_ref(FbBuilder *b, int field, FbRef r)
{
    QS_ASSERT(b->in_table && field >= 0 && field < FB_MAX_FIELDS);
    if (!r)
        return;
    fb_push_uoffset(b, r);
    b->field_at[field] = (FbRef)b->used;
    if (field >= b->n_fields)
        b->n_fields = field + 1;
}

FbRef fb_table_end(FbBuilder *b)
{
    QS_ASSERT(b->in_table);
    /* the soffset to the vtable, patched once the vtable's place is known */
    fb_prep(b, 4, 4);
    int32_t zero = 0;
    fb_push(b, &zero, 4);
    FbRef table = (FbRef)b->used;
    size_t inline_size = b->used - b->table_start;
    uint16_t vt[2 + FB_MAX_FIELDS];
    vt[0] = (uint16_t)(2 * (2 + b->n_fields));
    vt[1] = (uint16_t)inline_size;
    for (int f = 0; f < b->n_fields; f++)
        vt[2 + f] = b->field_at[f] ? (uint16_t)(table - b->field_at[f]) : 0;
    b->in_table = false;
    if (inline_size > 0xffff) {
        b->too_big = true;
        return table;
    }
    fb_push(b, vt, vt[0]); /* 4-aligned after the soffset, so 2-aligned */
    if (b->too_big)
        return table;
    /* the vtable lies in front of the table: soffset = table - vtable > 0 */
    int32_t so = (int32_t)(b->used - table);
    memcpy(b->buf + b->cap - table, &so, 4);
    return table;
}

QsStatus fb_finish(FbBuilder *b, FbRef root, const char *ident, void **out, size_t *len,
                   QsError *err)
{
    QS_ASSERT(!b->in_table);
    size_t head = ident ? 8 : 4;
    fb_prep(b, b->minalign > 4 ? b->minalign : 4, head);
    if (ident)
        fb_push(b, ident, 4);
    fb_push_uoffset(b, root);
    if (b->too_big)
        return qs_fail(err, QS_ENOMEM, "the flatbuffer would pass 2 GiB");
    *len = b->used;
    *out = xmalloc(b->used);
    memcpy(*out, b->buf + b->cap - b->used, b->used);
    return QS_OK;
}
