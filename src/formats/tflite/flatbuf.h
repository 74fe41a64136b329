/* A small FlatBuffers builder (the binary format of https://flatbuffers.dev, "Internals"):
 * the buffer is built back to front, as the reference builders do, so every offset points
 * forward to an object written earlier:
 *   - a reference (FbRef) names an object by its distance from the end of the buffer, which
 *     does not change as the buffer grows toward its front;
 *   - scalars are aligned to their size, vectors and strings to 4 (or more, force_align),
 *     and the finished buffer is padded to the largest alignment used, so an alignment
 *     counted from the end is one counted from the start;
 *   - a table is a signed 32-bit offset to its vtable (written just in front of it) and its
 *     fields; the vtable holds its own size, the table's inline size, and one 16-bit
 *     offset per field id (0: absent, the schema default);
 *   - a uoffset (32-bit, unsigned) is the distance from where it is stored to its target.
 * Objects a table refers to are created before fb_table_begin; fields of one table are
 * added between fb_table_begin and fb_table_end. Memory exhaustion is remembered and
 * reported by fb_finish (xmalloc aborts, so only size limits fail). */
#ifndef QS_FLATBUF_H
#define QS_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef uint32_t FbRef; /* 0: none */

enum { FB_MAX_FIELDS = 64 };

typedef struct FbBuilder {
    uint8_t *buf;         /* the data occupies buf[cap - used .. cap) */
    size_t cap, used;
    size_t minalign;      /* the largest alignment asked for */
    bool too_big;         /* the buffer passed the 2 GiB a uoffset can span */
    /* the table in progress */
    bool in_table;
    size_t table_start;   /* `used` when it began */
    FbRef field_at[FB_MAX_FIELDS]; /* where each field was written (0: absent) */
    int n_fields;         /* highest field id + 1 */
} FbBuilder;

void fb_init(FbBuilder *b);
void fb_release(FbBuilder *b);

/* A string (UTF-8 bytes of s, NUL-terminated in the buffer). */
FbRef fb_string(FbBuilder *b, const char *s);
/* A vector of n elements of elem_size bytes each, copied from data (little-endian already:
 * qscope builds on little-endian hosts only); align: the alignment of the first element
 * (at least elem_size; 16 for TFLite's Buffer.data force_align). Structs are elements. */
FbRef fb_vector(FbBuilder *b, const void *data, size_t n, size_t elem_size, size_t align);
/* A vector of n references to tables or strings. */
FbRef fb_vector_refs(FbBuilder *b, const FbRef *refs, size_t n);

void fb_table_begin(FbBuilder *b);
/* Scalar fields; each is written only when it differs from the schema default `def`,
 * as the reference builders do. */
void fb_add_u8(FbBuilder *b, int field, uint8_t v, uint8_t def);
void fb_add_i32(FbBuilder *b, int field, int32_t v, int32_t def);
void fb_add_u32(FbBuilder *b, int field, uint32_t v, uint32_t def);
void fb_add_i64(FbBuilder *b, int field, int64_t v, int64_t def);
void fb_add_u64(FbBuilder *b, int field, uint64_t v, uint64_t def);
void fb_add_f32(FbBuilder *b, int field, float v, float def);
/* A reference field (r 0: absent). */
void fb_add_ref(FbBuilder *b, int field, FbRef r);
FbRef fb_table_end(FbBuilder *b);

/* Finishes the buffer with root table `root` and a 4-byte file identifier (NULL: none);
 * *out (caller frees with free) receives the bytes. QS_ENOMEM when it passed 2 GiB. */
QsStatus fb_finish(FbBuilder *b, FbRef root, const char *ident, void **out, size_t *len,
                   QsError *err);

#endif
