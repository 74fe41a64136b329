/* The protocol buffers wire format, by hand: enough to read and write ONNX files without
 * generated code. Reference: https://protobuf.dev/programming-guides/encoding/
 *
 * Reading never trusts the input: every varint is at most 10 bytes, every length is
 * checked against what remains of its enclosing message, groups (wire types 3 and 4) are
 * rejected, and nesting is limited to PB_MAX_DEPTH messages. Errors name the byte offset
 * from the start of the file and the message being read. */
#ifndef QS_PROTOBUF_H
#define QS_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define PB_MAX_DEPTH 64

typedef enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 } PbWire;

/* A view of one message's bytes. `base` is the offset of buf[0] in the file. */
typedef struct PbReader {
    const uint8_t *buf;
    size_t len, pos, base;
    int depth;               /* messages enclosing this one */
    const char *what;        /* the message's type, for errors ("NodeProto") */
} PbReader;

typedef struct PbField {
    uint32_t num;            /* field number, >= 1 */
    PbWire wire;
    uint64_t v;              /* PB_VARINT value, or the raw PB_I32 / PB_I64 bits */
    const uint8_t *data;     /* PB_LEN payload (within the reader's buffer) */
    size_t len;              /* PB_LEN payload length */
    size_t offset;           /* file offset of the field's tag */
} PbField;

/* A reader over a whole file (depth 0). */
void pb_reader_init(PbReader *r, const void *buf, size_t len, const char *what);

/* Reads the next field. Returns 1 with *f set, 0 at the end of the message, -1 with err
 * set ("<what> at byte N: ...") when the bytes are malformed. */
int pb_next(PbReader *r, PbField *f, QsError *err);

/* A reader over the PB_LEN field f of r, one level deeper. Fails (QS_EFORMAT) when f is
 * not length-delimited or the nesting would exceed PB_MAX_DEPTH. */
QsStatus pb_sub(const PbReader *r, const PbField *f, const char *what, PbReader *sub,
                QsError *err);

/* Fails with "<r->what> at byte N: field <num> has wire type W, expected X". */
QsStatus pb_wire_error(const PbReader *r, const PbField *f, PbWire want, QsError *err);

/* Decodes one varint at p[*pos .. len); advances *pos. false when truncated or longer
 * than 10 bytes. */
bool pb_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out);

/* Repeated numeric fields come packed (one PB_LEN field) or one element per field.
 * pb_count_packed returns the element count of field f for element wire type `elem`
 * (PB_VARINT, PB_I32 or PB_I64): 1 for an unpacked element, the packed count otherwise,
 * or -1 with err set when the field is malformed (wrong wire type, a length not a multiple
 * of the element size, a truncated varint). pb_read_packed stores up to `max` elements
 * (varints as uint64, fixed as their raw bits) into out and returns the count, or -1. */
int64_t pb_count_packed(const PbReader *r, const PbField *f, PbWire elem, QsError *err);
int64_t pb_read_packed(const PbReader *r, const PbField *f, PbWire elem, uint64_t *out,
                       int64_t max, QsError *err);

/* ---- Writing. A growing buffer; an allocation failure is remembered and reported by
 * pb_writer_status, so building a message needs no checks at every call. */
typedef struct PbWriter {
    uint8_t *buf;
    size_t len, cap;
    bool oom;
} PbWriter;

void pb_writer_init(PbWriter *w);
void pb_writer_release(PbWriter *w);
/* QS_ENOMEM (naming the size) when an append failed, QS_OK otherwise. */
QsStatus pb_writer_status(const PbWriter *w, QsError *err);

void pb_put_varint(PbWriter *w, uint32_t num, uint64_t v);
void pb_put_int64(PbWriter *w, uint32_t num, int64_t v); /* two's complement, 10 bytes if < 0 */
void pb_put_float(PbWriter *w, uint32_t num, float v);   /* fixed32 */
void pb_put_bytes(PbWriter *w, uint32_t num, const void *data, size_t len);
void pb_put_string(PbWriter *w, uint32_t num, const char *s);
/* Appends already-encoded fields (e.g. a list of repeated messages built elsewhere). */
void pb_put_raw(PbWriter *w, const void *data, size_t len);
/* Appends sub's bytes as the embedded message field num. */
void pb_put_message(PbWriter *w, uint32_t num, const PbWriter *sub);
/* Packed repeated int64 (varints) and float (fixed32). */
void pb_put_packed_int64(PbWriter *w, uint32_t num, const int64_t *v, int64_t n);
void pb_put_packed_float(PbWriter *w, uint32_t num, const float *v, int64_t n);

#endif
