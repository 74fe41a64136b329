/* ONNX import. docs/onnx.md states the rules; this file follows them in two phases.
 *
 * Phase one reads the protobuf bytes (protobuf.h) into plain structs: nodes, attributes,
 * initializers, graph inputs and outputs. Every length, count, dimension and data size is
 * checked before anything sized from it is allocated: a tensor's element count must match
 * the bytes it carries (or, for external data, the file range it names), so no allocation
 * exceeds a small multiple of the input's size.
 *
 * Phase two walks the live nodes (those a graph output depends on) in topological order.
 * Each ONNX value is either a constant (an initializer, a Constant node, or anything
 * computed from constants only, including Shape of a value whose shape is known except for
 * the batch) or a run-time value with a shape known at batch 1. Constant nodes are
 * evaluated here: shape arithmetic by a small evaluator over f32/i64 tensors in which the
 * batch size is a symbol, float ops through qscope's own op table. Run-time nodes become
 * qscope nodes, their constant "parameter" inputs becoming attributes. */
#include "onnx/onnx_import.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileio.h"
#include "graph/graph.h"
#include "base/half.h"
#include "ops/op.h"
#include "onnx/protobuf.h"
#include "base/tensor.h"

#define OX_MAX_NODES 65536
#define OX_MAX_INITS 65536
#define OX_MAX_IO 65536      /* graph inputs/outputs */
#define OX_MAX_NODE_IO 64    /* inputs or outputs of one node */
#define OX_MAX_ATTRS 256     /* attributes of one node */
#define OX_MAX_NAME 4096
#define OX_MIN_OPSET 11
#define OX_MAX_OPSET 18
/* The batch size inside constant shape tensors (Shape of a run-time value). */
#define OX_BATCH INT64_MIN

/* ONNX TensorProto.DataType */
enum {
    OT_FLOAT = 1, OT_UINT8 = 2, OT_INT8 = 3, OT_UINT16 = 4, OT_INT16 = 5, OT_INT32 = 6,
    OT_INT64 = 7, OT_STRING = 8, OT_BOOL = 9, OT_FLOAT16 = 10, OT_DOUBLE = 11, OT_UINT32 = 12,
    OT_UINT64 = 13, OT_BFLOAT16 = 16
};
/* ONNX AttributeProto.AttributeType */
enum {
    OA_FLOAT = 1, OA_INT = 2, OA_STRING = 3, OA_TENSOR = 4, OA_GRAPH = 5, OA_FLOATS = 6,
    OA_INTS = 7, OA_STRINGS = 8, OA_TENSORS = 9, OA_GRAPHS = 10
};

/* ---------------------------------------------------------------------------------------
 * Phase one: the wire format into structs */

typedef struct OxAttr {
    char *name;
    int type;                /* OA_*; 0 when the file did not say */
    int64_t i;
    float f;
    char *s;
    int n;                   /* ints / floats count */
    int64_t *ints;
    float *floats;
    Tensor *t;               /* OA_TENSOR, converted to f32 or i64 */
    bool seen_i, seen_f, seen_s, seen_t, seen_g, seen_list;
} OxAttr;

typedef struct OxNode {
    char *name, *op, *domain;
    int n_in, n_out;
    char **in, **out;
    int n_attrs;
    OxAttr *attrs;
    size_t offset;           /* of the NodeProto in the file */
} OxNode;

typedef struct OxInfo {
    char *name;
    int elem;                /* TensorProto.DataType, 0 when absent */
    bool has_shape;
    int ndim;
    int64_t dim[QS_MAX_DIMS];
    bool known[QS_MAX_DIMS]; /* dim_value given (false: dim_param or nothing) */
    size_t offset;
} OxInfo;

typedef struct OxInit {
    char *name;
    Tensor *t;
} OxInit;

typedef struct OxGraph {
    int n_nodes, cap_nodes;
    OxNode *nodes;
    int n_inits, cap_inits;
    OxInit *inits;
    int n_inputs, cap_inputs;
    OxInfo *inputs;
    int n_outputs, cap_outputs;
    OxInfo *outputs;
} OxGraph;

typedef struct OxFile {
    const char *dir;         /* external data folder, or NULL */
    int64_t ir_version;
    int opset;               /* default domain; 0 when not imported */
    OxGraph g;
} OxFile;

#define OX_GROW(arr, n, cap)                                                              \
    do {                                                                                  \
        if ((n) == (cap)) {                                                               \
            (cap) = (cap) ? 2 * (cap) : 8;                                                \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr));                       \
        }                                                                                 \
    } while (0)

static void attr_free(OxAttr *a)
{
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    tensor_free(a->t);
}

static void node_free(OxNode *n)
{
    free(n->name);
    free(n->op);
    free(n->domain);
    for (int i = 0; i < n->n_in; i++)
        free(n->in[i]);
    for (int i = 0; i < n->n_out; i++)
        free(n->out[i]);
    free(n->in);
    free(n->out);
    for (int i = 0; i < n->n_attrs; i++)
        attr_free(&n->attrs[i]);
    free(n->attrs);
}

static void graph_free_ox(OxGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        node_free(&g->nodes[i]);
    free(g->nodes);
    for (int i = 0; i < g->n_inits; i++) {
        free(g->inits[i].name);
        tensor_free(g->inits[i].t);
    }
    free(g->inits);
    for (int i = 0; i < g->n_inputs; i++)
        free(g->inputs[i].name);
    free(g->inputs);
    for (int i = 0; i < g->n_outputs; i++)
        free(g->outputs[i].name);
    free(g->outputs);
    memset(g, 0, sizeof *g);
}

/* A string field: length-delimited, at most OX_MAX_NAME bytes, no NUL inside. */
static QsStatus ox_str(const PbReader *r, const PbField *f, char **out, QsError *err)
{
    if (f->wire != PB_LEN)
        return pb_wire_error(r, f, PB_LEN, err);
    if (f->len > OX_MAX_NAME)
        return qs_fail(err, QS_EFORMAT, "%s at byte %zu: string field %u is %zu bytes long "
                       "(at most %d)", r->what, f->offset, f->num, f->len, OX_MAX_NAME);
    if (memchr(f->data, 0, f->len))
        return qs_fail(err, QS_EFORMAT, "%s at byte %zu: string field %u contains a NUL byte",
                       r->what, f->offset, f->num);
    free(*out);
    *out = xmalloc(f->len + 1);
    memcpy(*out, f->data, f->len);
    (*out)[f->len] = '\0';
    return QS_OK;
}

static QsStatus ox_varint(const PbReader *r, const PbField *f, int64_t *out, QsError *err)
{
    if (f->wire != PB_VARINT)
        return pb_wire_error(r, f, PB_VARINT, err);
    *out = (int64_t)f->v;
    return QS_OK;
}

static const char *ox_type_name(int t)
{
    static const char *const names[] = { "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16",
                                         "INT16", "INT32", "INT64", "STRING", "BOOL",
                                         "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                         "COMPLEX128", "BFLOAT16" };
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

/* Bytes per element in raw_data; 0 for unsupported types. */
static size_t ox_raw_size(int t)
{
    switch (t) {
    case OT_FLOAT: case OT_INT32: case OT_UINT32: return 4;
    case OT_DOUBLE: case OT_INT64: case OT_UINT64: return 8;
    case OT_FLOAT16: case OT_BFLOAT16: case OT_INT16: case OT_UINT16: return 2;
    case OT_INT8: case OT_UINT8: case OT_BOOL: return 1;
    default: return 0;
    }
}

static bool ox_is_float(int t)
{
    return t == OT_FLOAT || t == OT_DOUBLE || t == OT_FLOAT16 || t == OT_BFLOAT16;
}

/* The typed field that holds type t's values. */
static uint32_t ox_typed_field(int t)
{
    switch (t) {
    case OT_FLOAT: return 4;
    case OT_DOUBLE: return 10;
    case OT_INT64: return 7;
    case OT_UINT32: case OT_UINT64: return 11;
    default: return 5; /* int32_data: the small ints, bool, float16, bfloat16 */
    }
}

static float ox_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Stores element i of raw little-endian data of type t into dst (f32 or i64). */
static bool ox_store_raw(int t, const uint8_t *p, Tensor *dst, int64_t i)
{
    float *f = dst->dtype == DT_F32 ? tensor_f32(dst) : NULL;
    int64_t *q = dst->dtype == DT_I64 ? (int64_t *)dst->data : NULL;
    switch (t) {
    case OT_FLOAT: memcpy(&f[i], p, 4); return true;
    case OT_DOUBLE: { double d; memcpy(&d, p, 8); f[i] = (float)d; return true; }
    case OT_FLOAT16: { uint16_t h; memcpy(&h, p, 2); f[i] = half_to_float(h); return true; }
    case OT_BFLOAT16: { uint16_t h; memcpy(&h, p, 2); f[i] = ox_bf16(h); return true; }
    case OT_INT64: memcpy(&q[i], p, 8); return true;
    case OT_UINT64: { uint64_t u; memcpy(&u, p, 8); q[i] = (int64_t)u; return u <= INT64_MAX; }
    case OT_INT32: { int32_t v; memcpy(&v, p, 4); q[i] = v; return true; }
    case OT_UINT32: { uint32_t v; memcpy(&v, p, 4); q[i] = v; return true; }
    case OT_INT16: { int16_t v; memcpy(&v, p, 2); q[i] = v; return true; }
    case OT_UINT16: { uint16_t v; memcpy(&v, p, 2); q[i] = v; return true; }
    case OT_INT8: q[i] = (int8_t)p[0]; return true;
    default: q[i] = p[0]; return true; /* UINT8, BOOL */
    }
}

/* Stores element i from a typed field's value v (varint, or fixed bits). */
static bool ox_store_typed(int t, uint64_t v, Tensor *dst, int64_t i)
{
    float *f = dst->dtype == DT_F32 ? tensor_f32(dst) : NULL;
    int64_t *q = dst->dtype == DT_I64 ? (int64_t *)dst->data : NULL;
    switch (t) {
    case OT_FLOAT: { uint32_t u = (uint32_t)v; memcpy(&f[i], &u, 4); return true; }
    case OT_DOUBLE: { double d; memcpy(&d, &v, 8); f[i] = (float)d; return true; }
    case OT_FLOAT16: f[i] = half_to_float((uint16_t)v); return v <= 0xffff;
    case OT_BFLOAT16: f[i] = ox_bf16((uint16_t)v); return v <= 0xffff;
    case OT_INT64: q[i] = (int64_t)v; return true;
    case OT_UINT32: case OT_UINT64: q[i] = (int64_t)v; return v <= INT64_MAX;
    default: /* int32_data: an int32 encoded as a (sign-extended) varint */
        q[i] = (int32_t)(uint32_t)v;
        return true;
    }
}

/* A path that stays inside the model's folder: relative, no "..", no empty name. */
static bool ox_safe_location(const char *loc)
{
    if (!loc[0] || loc[0] == '/' || strchr(loc, '\\'))
        return false;
    const char *p = loc;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!e)
            break;
        p = e + 1;
    }
    return true;
}

/* Reads `len` bytes at `off` of dir/loc into a new buffer (caller frees), after checking
 * that the file's real path lies inside dir's. */
static QsStatus ox_read_external(const char *dir, const char *loc, uint64_t off, uint64_t len,
                                 bool has_len, const char *tname, uint8_t **out, size_t *out_len,
                                 QsError *err)
{
    if (!dir)
        return qs_fail(err, QS_EUNSUPPORTED, "tensor '%s': external data needs the model's "
                       "folder (load the model from a file)", tname);
    if (!ox_safe_location(loc))
        return qs_fail(err, QS_EFORMAT, "tensor '%s': external data location '%s' is not a "
                       "relative path inside the model's folder", tname, loc);
    size_t plen = strlen(dir) + strlen(loc) + 2;
    char *path = xmalloc(plen);
    snprintf(path, plen, "%s/%s", dir, loc);
    QsStatus st = QS_OK;
    char *rdir = realpath(dir, NULL), *rfile = realpath(path, NULL);
    FILE *fp = NULL;
    *out = NULL;
    if (!rdir || !rfile) {
        st = qs_fail(err, QS_EIO, "tensor '%s': external data file '%s' not found", tname, loc);
        goto cleanup;
    }
    size_t dl = strlen(rdir);
    if (strncmp(rfile, rdir, dl) != 0 || (rfile[dl] != '/' && strcmp(rdir, "/") != 0)) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': external data file '%s' resolves outside "
                     "the model's folder", tname, loc);
        goto cleanup;
    }
    fp = fopen(rfile, "rb");
    struct stat sb;
    if (!fp || fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = qs_fail(err, QS_EIO, "tensor '%s': cannot read external data file '%s'", tname,
                     loc);
        goto cleanup;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (off > size || (has_len && len > size - off)) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': external data range offset %llu length "
                     "%llu is past the end of '%s' (%llu bytes)", tname,
                     (unsigned long long)off, (unsigned long long)len, loc,
                     (unsigned long long)size);
        goto cleanup;
    }
    if (!has_len)
        len = size - off;
    if (len > SIZE_MAX - 1) {
        st = qs_fail(err, QS_ENOMEM, "tensor '%s': external data of %llu bytes", tname,
                     (unsigned long long)len);
        goto cleanup;
    }
    *out = malloc(len ? (size_t)len : 1);
    if (!*out) {
        st = qs_fail(err, QS_ENOMEM, "tensor '%s': cannot allocate %llu bytes of external "
                     "data", tname, (unsigned long long)len);
        goto cleanup;
    }
    if (fseeko(fp, (off_t)off, SEEK_SET) != 0 || fread(*out, 1, (size_t)len, fp) != len) {
        free(*out);
        *out = NULL;
        st = qs_fail(err, QS_EIO, "tensor '%s': reading external data from '%s' failed", tname,
                     loc);
        goto cleanup;
    }
    *out_len = (size_t)len;
cleanup:
    if (fp)
        fclose(fp);
    free(rdir);
    free(rfile);
    free(path);
    return st;
}

/* A TensorProto into a new f32 (float types) or i64 (integer and bool types) tensor. */
static QsStatus ox_tensor(const OxFile *of, const PbReader *pr, const PbField *pf, Tensor **out,
                          char **name_out, QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    QsStatus st = pb_sub(pr, pf, "TensorProto", &r, err);
    if (st)
        return st;
    int64_t dims[QS_MAX_DIMS];
    int ndim = 0;
    int64_t dtype = 0, location = 0, typed_count = 0;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    bool has_raw = false, has_typed = false;
    uint32_t typed_num = 0;
    char *name = NULL, *loc = NULL;
    uint64_t ext_off = 0, ext_len = 0;
    bool has_ext_len = false;
    uint8_t *ext = NULL;
    Tensor *t = NULL;
    while ((rc = pb_next(&r, &f, err)) == 1) {
        switch (f.num) {
        case 1: { /* dims */
            int64_t n = pb_count_packed(&r, &f, PB_VARINT, err);
            if (n < 0) {
                st = QS_EFORMAT;
                goto cleanup;
            }
            if (ndim + n > QS_MAX_DIMS) {
                st = qs_fail(err, QS_EUNSUPPORTED, "TensorProto at byte %zu: more than %d "
                             "dimensions", f.offset, QS_MAX_DIMS);
                goto cleanup;
            }
            uint64_t v[QS_MAX_DIMS];
            pb_read_packed(&r, &f, PB_VARINT, v, n, err);
            for (int64_t k = 0; k < n; k++)
                dims[ndim++] = (int64_t)v[k];
            break;
        }
        case 2:
            if ((st = ox_varint(&r, &f, &dtype, err)))
                goto cleanup;
            break;
        case 3:
            st = qs_fail(err, QS_EUNSUPPORTED, "TensorProto at byte %zu: segmented tensors are "
                         "not supported", f.offset);
            goto cleanup;
        case 4: case 5: case 7: case 10: case 11: {
            PbWire w = f.num == 4 ? PB_I32 : f.num == 10 ? PB_I64 : PB_VARINT;
            int64_t n = pb_count_packed(&r, &f, w, err);
            if (n < 0) {
                st = QS_EFORMAT;
                goto cleanup;
            }
            if (has_typed && typed_num != f.num) {
                st = qs_fail(err, QS_EFORMAT, "TensorProto at byte %zu: values in two typed "
                             "fields (%u and %u)", f.offset, typed_num, f.num);
                goto cleanup;
            }
            has_typed = true;
            typed_num = f.num;
            typed_count += n;
            break;
        }
        case 6:
            st = qs_fail(err, QS_EUNSUPPORTED, "TensorProto at byte %zu: string tensors are not "
                         "supported", f.offset);
            goto cleanup;
        case 8:
            if ((st = ox_str(&r, &f, &name, err)))
                goto cleanup;
            break;
        case 9:
            if (f.wire != PB_LEN) {
                st = pb_wire_error(&r, &f, PB_LEN, err);
                goto cleanup;
            }
            raw = f.data;
            raw_len = f.len;
            has_raw = true;
            break;
        case 13: { /* external_data: StringStringEntryProto */
            PbReader er;
            PbField ef;
            char *key = NULL, *val = NULL;
            if ((st = pb_sub(&r, &f, "StringStringEntryProto", &er, err)))
                goto cleanup;
            while ((rc = pb_next(&er, &ef, err)) == 1) {
                if (ef.num == 1 && (st = ox_str(&er, &ef, &key, err)))
                    break;
                if (ef.num == 2 && (st = ox_str(&er, &ef, &val, err)))
                    break;
            }
            if (rc < 0)
                st = QS_EFORMAT;
            if (!st && key && val) {
                char *end = NULL;
                if (strcmp(key, "location") == 0) {
                    free(loc);
                    loc = val;
                    val = NULL;
                } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
                    unsigned long long u = strtoull(val, &end, 10);
                    if (!val[0] || *end || val[0] == '-')
                        st = qs_fail(err, QS_EFORMAT, "TensorProto at byte %zu: external data "
                                     "%s '%s' is not a number", f.offset, key, val);
                    else if (key[0] == 'o')
                        ext_off = u;
                    else
                        ext_len = u, has_ext_len = true;
                }
            }
            free(key);
            free(val);
            if (st)
                goto cleanup;
            break;
        }
        case 14:
            if ((st = ox_varint(&r, &f, &location, err)))
                goto cleanup;
            break;
        default:
            break;
        }
    }
    if (rc < 0) {
        st = QS_EFORMAT;
        goto cleanup;
    }
    const char *tn = name ? name : "(unnamed)";
    if (location != 0 && location != 1) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': data_location %lld is not DEFAULT or "
                     "EXTERNAL", tn, (long long)location);
        goto cleanup;
    }
    size_t es = ox_raw_size((int)dtype);
    if (!es) {
        st = qs_fail(err, QS_EUNSUPPORTED, "tensor '%s': data type %s (%lld) is not supported",
                     tn, ox_type_name((int)dtype), (long long)dtype);
        goto cleanup;
    }
    Shape s = { .ndim = ndim };
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) {
            st = qs_fail(err, QS_EFORMAT, "tensor '%s': dimension %d is negative (%lld)", tn, i,
                         (long long)dims[i]);
            goto cleanup;
        }
        s.dim[i] = dims[i];
    }
    size_t bytes;
    if ((st = shape_checked_bytes(&s, 8, &bytes, tn, err)))
        goto cleanup;
    int64_t numel = shape_numel(&s);
    if (location == 1) {
        if (has_raw || has_typed) {
            st = qs_fail(err, QS_EFORMAT, "tensor '%s': external data and inline values at "
                         "once", tn);
            goto cleanup;
        }
        if (!loc) {
            st = qs_fail(err, QS_EFORMAT, "tensor '%s': external data without a location", tn);
            goto cleanup;
        }
        if ((st = ox_read_external(of->dir, loc, ext_off, ext_len, has_ext_len, tn, &ext,
                                   &raw_len, err)))
            goto cleanup;
        raw = ext;
        has_raw = true;
    }
    if (has_raw && has_typed) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': both raw_data and typed values", tn);
        goto cleanup;
    }
    if (has_raw && (uint64_t)raw_len != (uint64_t)numel * es) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': %s has %zu bytes of data, expected %lld "
                     "elements of %zu bytes", tn, ox_type_name((int)dtype), raw_len,
                     (long long)numel, es);
        goto cleanup;
    }
    if (has_typed && typed_num != ox_typed_field((int)dtype)) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': values in field %u do not fit type %s", tn,
                     typed_num, ox_type_name((int)dtype));
        goto cleanup;
    }
    if (!has_raw && typed_count != numel) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': %lld values for %lld elements", tn,
                     (long long)typed_count, (long long)numel);
        goto cleanup;
    }
    t = tensor_new(ox_is_float((int)dtype) ? DT_F32 : DT_I64, s, err);
    if (!t) {
        st = err->code;
        qs_error_prefix(err, "tensor '%s'", tn);
        goto cleanup;
    }
    if (has_raw) {
        for (int64_t i = 0; i < numel; i++)
            if (!ox_store_raw((int)dtype, raw + (size_t)i * es, t, i)) {
                st = qs_fail(err, QS_EFORMAT, "tensor '%s': element %lld does not fit in int64",
                             tn, (long long)i);
                goto cleanup;
            }
    } else if (numel > 0) {
        pb_reader_init(&r, pf->data, pf->len, "TensorProto");
        r.base = pr->base + (size_t)(pf->data - pr->buf);
        int64_t at = 0;
        uint64_t *tmp = malloc((size_t)numel * sizeof *tmp);
        if (!tmp) {
            st = qs_fail(err, QS_ENOMEM, "tensor '%s': cannot allocate %zu bytes", tn, bytes);
            goto cleanup;
        }
        while ((rc = pb_next(&r, &f, err)) == 1) {
            if (f.num != typed_num)
                continue;
            int64_t n = pb_read_packed(&r, &f, f.num == 4 ? PB_I32 : f.num == 10 ? PB_I64 : PB_VARINT,
                                       tmp + at, numel - at, err);
            at += n;
        }
        for (int64_t i = 0; i < numel && !st; i++)
            if (!ox_store_typed((int)dtype, tmp[i], t, i))
                st = qs_fail(err, QS_EFORMAT, "tensor '%s': element %lld out of range for %s",
                             tn, (long long)i, ox_type_name((int)dtype));
        free(tmp);
        if (st)
            goto cleanup;
    }
    *out = t;
    t = NULL;
    if (name_out) {
        *name_out = name;
        name = NULL;
    }
cleanup:
    tensor_free(t);
    free(name);
    free(loc);
    free(ext);
    return st;
}

static QsStatus ox_graph(const OxFile *of, const PbReader *pr, const PbField *pf, OxGraph *g,
                         QsError *err);

static QsStatus ox_attr(const OxFile *of, const PbReader *pr, const PbField *pf, OxAttr *a,
                        QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    memset(a, 0, sizeof *a);
    QsStatus st = pb_sub(pr, pf, "AttributeProto", &r, err);
    if (st)
        return st;
    int64_t nf = 0, ni = 0;
    while ((rc = pb_next(&r, &f, err)) == 1) {
        int64_t v = 0;
        switch (f.num) {
        case 1:
            st = ox_str(&r, &f, &a->name, err);
            break;
        case 20:
            if (!(st = ox_varint(&r, &f, &v, err)))
                a->type = (int)v;
            break;
        case 2:
            if (f.wire != PB_I32)
                st = pb_wire_error(&r, &f, PB_I32, err);
            else {
                uint32_t u = (uint32_t)f.v;
                memcpy(&a->f, &u, 4);
                a->seen_f = true;
            }
            break;
        case 3:
            if (!(st = ox_varint(&r, &f, &a->i, err)))
                a->seen_i = true;
            break;
        case 4:
            if (!(st = ox_str(&r, &f, &a->s, err)))
                a->seen_s = true;
            break;
        case 5:
            tensor_free(a->t);
            a->t = NULL;
            if (!(st = ox_tensor(of, &r, &f, &a->t, NULL, err)))
                a->seen_t = true;
            break;
        case 6: { /* a subgraph: parsed to validate it, then dropped */
            OxGraph sub;
            memset(&sub, 0, sizeof sub);
            st = ox_graph(of, &r, &f, &sub, err);
            graph_free_ox(&sub);
            a->seen_g = true;
            break;
        }
        case 7: { /* floats */
            int64_t n = pb_count_packed(&r, &f, PB_I32, err);
            if (n < 0) {
                st = QS_EFORMAT;
                break;
            }
            if (nf + n > INT_MAX / 8) {
                st = qs_fail(err, QS_EFORMAT, "AttributeProto at byte %zu: too many floats",
                             f.offset);
                break;
            }
            a->floats = xrealloc(a->floats, (size_t)(nf + n + 1) * sizeof *a->floats);
            uint64_t *tmp = xmalloc((size_t)(n + 1) * sizeof *tmp);
            pb_read_packed(&r, &f, PB_I32, tmp, n, err);
            for (int64_t k = 0; k < n; k++) {
                uint32_t u = (uint32_t)tmp[k];
                memcpy(&a->floats[nf + k], &u, 4);
            }
            free(tmp);
            nf += n;
            a->seen_list = true;
            break;
        }
        case 8: { /* ints */
            int64_t n = pb_count_packed(&r, &f, PB_VARINT, err);
            if (n < 0) {
                st = QS_EFORMAT;
                break;
            }
            if (ni + n > INT_MAX / 8) {
                st = qs_fail(err, QS_EFORMAT, "AttributeProto at byte %zu: too many ints",
                             f.offset);
                break;
            }
            a->ints = xrealloc(a->ints, (size_t)(ni + n + 1) * sizeof *a->ints);
            pb_read_packed(&r, &f, PB_VARINT, (uint64_t *)(a->ints + ni), n, err);
            ni += n;
            a->seen_list = true;
            break;
        }
        case 9: case 10: case 11:
            a->seen_list = true; /* strings, tensors, graphs: no qscope op takes them */
            if (f.num == 11) {
                OxGraph sub;
                memset(&sub, 0, sizeof sub);
                st = ox_graph(of, &r, &f, &sub, err);
                graph_free_ox(&sub);
            }
            break;
        default:
            break;
        }
        if (st)
            return st;
    }
    if (rc < 0)
        return QS_EFORMAT;
    if (!a->name || !a->name[0])
        return qs_fail(err, QS_EFORMAT, "AttributeProto at byte %zu: no name", pf->offset);
    if (a->type == OA_FLOATS)
        a->n = (int)nf;
    else if (a->type == OA_INTS)
        a->n = (int)ni;
    else if (!a->type) /* IR < 2 files name no type: infer it from the field set */
        a->type = a->seen_f ? OA_FLOAT : a->seen_i ? OA_INT : a->seen_s ? OA_STRING :
                  a->seen_t ? OA_TENSOR : a->seen_g ? OA_GRAPH : ni ? OA_INTS : nf ? OA_FLOATS : 0;
    if (a->type == OA_FLOATS)
        a->n = (int)nf;
    if (a->type == OA_INTS)
        a->n = (int)ni;
    if (a->type == OA_TENSOR && !a->t)
        return qs_fail(err, QS_EFORMAT, "attribute '%s' at byte %zu: type TENSOR without a "
                       "tensor", a->name, pf->offset);
    if (a->type == OA_STRING && !a->s)
        a->s = xstrdup("");
    return QS_OK;
}

static QsStatus ox_node(const OxFile *of, const PbReader *pr, const PbField *pf, OxNode *n,
                        QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    memset(n, 0, sizeof *n);
    QsStatus st = pb_sub(pr, pf, "NodeProto", &r, err);
    if (st)
        return st;
    n->offset = pf->offset;
    int cap_in = 0, cap_out = 0, cap_attrs = 0;
    while ((rc = pb_next(&r, &f, err)) == 1) {
        switch (f.num) {
        case 1: case 2: {
            char ***list = f.num == 1 ? &n->in : &n->out;
            int *cnt = f.num == 1 ? &n->n_in : &n->n_out, *cap = f.num == 1 ? &cap_in : &cap_out;
            if (*cnt >= OX_MAX_NODE_IO)
                return qs_fail(err, QS_EFORMAT, "NodeProto at byte %zu: more than %d %s",
                               pf->offset, OX_MAX_NODE_IO, f.num == 1 ? "inputs" : "outputs");
            OX_GROW(*list, *cnt, *cap);
            (*list)[*cnt] = NULL;
            st = ox_str(&r, &f, &(*list)[*cnt], err);
            (*cnt)++;
            break;
        }
        case 3:
            st = ox_str(&r, &f, &n->name, err);
            break;
        case 4:
            st = ox_str(&r, &f, &n->op, err);
            break;
        case 7:
            st = ox_str(&r, &f, &n->domain, err);
            break;
        case 5:
            if (n->n_attrs >= OX_MAX_ATTRS)
                return qs_fail(err, QS_EFORMAT, "NodeProto at byte %zu: more than %d attributes",
                               pf->offset, OX_MAX_ATTRS);
            OX_GROW(n->attrs, n->n_attrs, cap_attrs);
            st = ox_attr(of, &r, &f, &n->attrs[n->n_attrs], err);
            n->n_attrs++; /* counted even on failure, so node_free releases it */
            break;
        default:
            break;
        }
        if (st)
            return st;
    }
    if (rc < 0)
        return QS_EFORMAT;
    if (!n->op || !n->op[0])
        return qs_fail(err, QS_EFORMAT, "NodeProto at byte %zu: no op_type", pf->offset);
    return QS_OK;
}

static QsStatus ox_info(const PbReader *pr, const PbField *pf, OxInfo *v, QsError *err)
{
    PbReader r, tr, tt, sr, dr;
    PbField f, g, h, k, d;
    int rc;
    memset(v, 0, sizeof *v);
    QsStatus st = pb_sub(pr, pf, "ValueInfoProto", &r, err);
    if (st)
        return st;
    v->offset = pf->offset;
    while ((rc = pb_next(&r, &f, err)) == 1) {
        if (f.num == 1 && (st = ox_str(&r, &f, &v->name, err)))
            return st;
        if (f.num != 2)
            continue;
        if ((st = pb_sub(&r, &f, "TypeProto", &tr, err)))
            return st;
        while ((rc = pb_next(&tr, &g, err)) == 1) {
            if (g.num != 1) /* sequence, map, optional, sparse: elem stays 0 */
                continue;
            if ((st = pb_sub(&tr, &g, "TypeProto.Tensor", &tt, err)))
                return st;
            while ((rc = pb_next(&tt, &h, err)) == 1) {
                int64_t e = 0;
                if (h.num == 1) {
                    if ((st = ox_varint(&tt, &h, &e, err)))
                        return st;
                    v->elem = (int)e;
                }
                if (h.num != 2)
                    continue;
                if ((st = pb_sub(&tt, &h, "TensorShapeProto", &sr, err)))
                    return st;
                v->has_shape = true;
                while ((rc = pb_next(&sr, &k, err)) == 1) {
                    if (k.num != 1)
                        continue;
                    if (v->ndim >= QS_MAX_DIMS)
                        return qs_fail(err, QS_EUNSUPPORTED, "value '%s': more than %d "
                                       "dimensions", v->name ? v->name : "?", QS_MAX_DIMS);
                    if ((st = pb_sub(&sr, &k, "TensorShapeProto.Dimension", &dr, err)))
                        return st;
                    int i = v->ndim++;
                    v->dim[i] = 0;
                    v->known[i] = false;
                    while ((rc = pb_next(&dr, &d, err)) == 1) {
                        if (d.num == 1) {
                            if ((st = ox_varint(&dr, &d, &v->dim[i], err)))
                                return st;
                            v->known[i] = true;
                        }
                    }
                    if (rc < 0)
                        return QS_EFORMAT;
                }
                if (rc < 0)
                    return QS_EFORMAT;
            }
            if (rc < 0)
                return QS_EFORMAT;
        }
        if (rc < 0)
            return QS_EFORMAT;
    }
    if (rc < 0)
        return QS_EFORMAT;
    if (!v->name || !v->name[0])
        return qs_fail(err, QS_EFORMAT, "ValueInfoProto at byte %zu: no name", pf->offset);
    return QS_OK;
}

static QsStatus ox_graph(const OxFile *of, const PbReader *pr, const PbField *pf, OxGraph *g,
                         QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    QsStatus st = pb_sub(pr, pf, "GraphProto", &r, err);
    if (st)
        return st;
    while ((rc = pb_next(&r, &f, err)) == 1) {
        switch (f.num) {
        case 1:
            if (g->n_nodes >= OX_MAX_NODES)
                return qs_fail(err, QS_EUNSUPPORTED, "more than %d nodes", OX_MAX_NODES);
            OX_GROW(g->nodes, g->n_nodes, g->cap_nodes);
            st = ox_node(of, &r, &f, &g->nodes[g->n_nodes], err);
            g->n_nodes++;
            break;
        case 5: {
            if (g->n_inits >= OX_MAX_INITS)
                return qs_fail(err, QS_EUNSUPPORTED, "more than %d initializers", OX_MAX_INITS);
            OX_GROW(g->inits, g->n_inits, g->cap_inits);
            OxInit *in = &g->inits[g->n_inits];
            memset(in, 0, sizeof *in);
            st = ox_tensor(of, &r, &f, &in->t, &in->name, err);
            g->n_inits++;
            if (!st && (!in->name || !in->name[0]))
                st = qs_fail(err, QS_EFORMAT, "initializer at byte %zu has no name", f.offset);
            break;
        }
        case 15:
            return qs_fail(err, QS_EUNSUPPORTED, "GraphProto at byte %zu: sparse initializers "
                           "are not supported", f.offset);
        case 11: case 12: {
            OxInfo **list = f.num == 11 ? &g->inputs : &g->outputs;
            int *cnt = f.num == 11 ? &g->n_inputs : &g->n_outputs;
            int *cap = f.num == 11 ? &g->cap_inputs : &g->cap_outputs;
            if (*cnt >= OX_MAX_IO)
                return qs_fail(err, QS_EUNSUPPORTED, "more than %d graph inputs or outputs",
                               OX_MAX_IO);
            OX_GROW(*list, *cnt, *cap);
            st = ox_info(&r, &f, &(*list)[*cnt], err);
            (*cnt)++;
            break;
        }
        case 13: { /* value_info: validated, not needed (shapes are inferred) */
            OxInfo tmp;
            st = ox_info(&r, &f, &tmp, err);
            free(tmp.name);
            break;
        }
        default:
            break;
        }
        if (st)
            return st;
    }
    return rc < 0 ? QS_EFORMAT : QS_OK;
}

static QsStatus ox_model(OxFile *of, const uint8_t *buf, size_t len, QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    QsStatus st = QS_OK;
    bool has_graph = false;
    pb_reader_init(&r, buf, len, "ModelProto");
    while ((rc = pb_next(&r, &f, err)) == 1) {
        if (f.num == 1) {
            if ((st = ox_varint(&r, &f, &of->ir_version, err)))
                return st;
        } else if (f.num == 8) {
            PbReader o;
            PbField g;
            char *domain = NULL;
            int64_t version = 0;
            if ((st = pb_sub(&r, &f, "OperatorSetIdProto", &o, err)))
                return st;
            while ((rc = pb_next(&o, &g, err)) == 1) {
                if (g.num == 1)
                    st = ox_str(&o, &g, &domain, err);
                else if (g.num == 2)
                    st = ox_varint(&o, &g, &version, err);
                if (st)
                    break;
            }
            if (!st && rc < 0)
                st = QS_EFORMAT;
            if (!st && (!domain || !domain[0] || strcmp(domain, "ai.onnx") == 0))
                of->opset = version > INT_MAX ? INT_MAX : version < 0 ? -1 : (int)version;
            free(domain);
            if (st)
                return st;
        } else if (f.num == 7) {
            if (has_graph)
                return qs_fail(err, QS_EFORMAT, "ModelProto at byte %zu: a second graph",
                               f.offset);
            has_graph = true;
            if ((st = ox_graph(of, &r, &f, &of->g, err)))
                return st;
        }
    }
    if (rc < 0)
        return QS_EFORMAT;
    if (!has_graph)
        return qs_fail(err, QS_EFORMAT, "not an ONNX model: no graph (ModelProto field 7)");
    if (of->ir_version < 3)
        return qs_fail(err, QS_EUNSUPPORTED, "IR version %lld is not supported (3 or later)",
                       (long long)of->ir_version);
    if (of->opset == 0)
        return qs_fail(err, QS_EFORMAT, "the model imports no opset of the default ONNX domain");
    if (of->opset < OX_MIN_OPSET || of->opset > OX_MAX_OPSET)
        return qs_fail(err, QS_EUNSUPPORTED, "opset %d is not supported (%d to %d); convert "
                       "the model with onnx.version_converter", of->opset, OX_MIN_OPSET,
                       OX_MAX_OPSET);
    return QS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Phase two: values, constant folding and graph building */

typedef struct OxVal {
    const char *name;        /* owned by the OxFile strings */
    bool is_const;
    Tensor *k;               /* constant value (f32 or i64), owned */
    bool from_init;          /* an initializer: a trainable parameter when float */
    Shape shape;             /* run-time value: shape at batch 1 */
    bool in_graph;           /* exists in the qscope graph */
    char *qname;             /* its name there (owned) */
} OxVal;

typedef struct Ox {
    OxFile f;
    Model *m;
    Graph *g;
    OxVal *vals;
    int n_vals, cap_vals;
    int *table;              /* open-addressing hash of value names -> index, -1 empty */
    int table_size;
    int opset;
    bool batch_fixed1;       /* some input declared its batch as the literal 1 */
    int uniq;                /* counter for generated names */
} Ox;

static uint64_t ox_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int ox_find(const Ox *x, const char *name)
{
    if (!x->table_size)
        return -1;
    for (uint64_t i = ox_hash(name) & (uint64_t)(x->table_size - 1);;
         i = (i + 1) & (uint64_t)(x->table_size - 1)) {
        int k = x->table[i];
        if (k < 0)
            return -1;
        if (strcmp(x->vals[k].name, name) == 0)
            return k;
    }
}

static void ox_rehash(Ox *x, int size)
{
    free(x->table);
    x->table = xmalloc((size_t)size * sizeof *x->table);
    x->table_size = size;
    for (int i = 0; i < size; i++)
        x->table[i] = -1;
    for (int k = 0; k < x->n_vals; k++) {
        uint64_t i = ox_hash(x->vals[k].name) & (uint64_t)(size - 1);
        while (x->table[i] >= 0)
            i = (i + 1) & (uint64_t)(size - 1);
        x->table[i] = k;
    }
}

/* Defines a new value; fails when the name is taken (ONNX values are assigned once). */
static QsStatus ox_define(Ox *x, const char *name, OxVal **out, QsError *err)
{
    if (!name || !name[0])
        return qs_fail(err, QS_EFORMAT, "a value has an empty name");
    if (ox_find(x, name) >= 0)
        return qs_fail(err, QS_EFORMAT, "value '%s' is defined twice", name);
    OX_GROW(x->vals, x->n_vals, x->cap_vals);
    OxVal *v = &x->vals[x->n_vals++];
    memset(v, 0, sizeof *v);
    v->name = name;
    if (2 * x->n_vals > x->table_size)
        ox_rehash(x, x->table_size ? 2 * x->table_size : 64);
    else {
        uint64_t i = ox_hash(name) & (uint64_t)(x->table_size - 1);
        while (x->table[i] >= 0)
            i = (i + 1) & (uint64_t)(x->table_size - 1);
        x->table[i] = x->n_vals - 1;
    }
    *out = v;
    return QS_OK;
}

static OxVal *ox_val(Ox *x, const char *name)
{
    int k = name && name[0] ? ox_find(x, name) : -1;
    return k < 0 ? NULL : &x->vals[k];
}

static const char *ox_node_name(const OxNode *n) { return n->name && n->name[0] ? n->name : "?"; }

/* ---- small tensor helpers for the constant evaluator */

static int64_t k_numel(const Tensor *t) { return shape_numel(&t->shape); }
static int64_t *k_i64(const Tensor *t) { return (int64_t *)t->data; }

static Tensor *k_new(DType dt, Shape s, QsError *err) { return tensor_new(dt, s, err); }

/* Element i as int64 (floats must be integral); false otherwise. */
static bool k_get_int(const Tensor *t, int64_t i, int64_t *out)
{
    if (t->dtype == DT_I64) {
        *out = k_i64(t)[i];
        return true;
    }
    float f = tensor_f32(t)[i];
    if (!(f == floorf(f)) || fabsf(f) > 9.0e15f)
        return false;
    *out = (int64_t)f;
    return true;
}

static Tensor *k_to_f32(const Tensor *t, QsError *err)
{
    Tensor *o = k_new(DT_F32, t->shape, err);
    if (!o)
        return NULL;
    for (int64_t i = 0; i < k_numel(t); i++)
        tensor_f32(o)[i] = t->dtype == DT_F32 ? tensor_f32(t)[i] : (float)k_i64(t)[i];
    return o;
}

/* ---- node context */

typedef struct OxCtx {
    Ox *x;
    const OxNode *n;
    const char *name;        /* unique qscope layer name */
    OxVal *in[OX_MAX_NODE_IO];
    QsError *err;
} OxCtx;

static QsStatus ox_nfail(const OxCtx *c, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static QsStatus ox_nfail(const OxCtx *c, QsStatus code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qs_fail(c->err, code, "%s '%s': %s", c->n->op, ox_node_name(c->n), msg);
}

static const OxAttr *ox_attr_get(const OxNode *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

static int64_t ox_attr_int(const OxNode *n, const char *name, int64_t def)
{
    const OxAttr *a = ox_attr_get(n, name);
    return a && a->type == OA_INT ? a->i : def;
}

static const char *ox_attr_str(const OxNode *n, const char *name, const char *def)
{
    const OxAttr *a = ox_attr_get(n, name);
    return a && a->type == OA_STRING ? a->s : def;
}

/* Input k when present (NULL for an omitted optional input). */
static OxVal *in_k(const OxCtx *c, int k) { return k < c->n->n_in ? c->in[k] : NULL; }

/* A constant input read as a list of ints (at most max). */
static QsStatus const_ints(const OxCtx *c, int k, const char *what, int64_t *out, int max,
                           int *count)
{
    OxVal *v = in_k(c, k);
    if (!v)
        return ox_nfail(c, QS_EFORMAT, "input %d (%s) is missing", k, what);
    if (!v->is_const)
        return ox_nfail(c, QS_EUNSUPPORTED, "%s ('%s') must be a constant (it is computed at "
                        "run time)", what, v->name);
    int64_t n = k_numel(v->k);
    if (n > max)
        return ox_nfail(c, QS_EUNSUPPORTED, "%s has %lld values (at most %d)", what,
                        (long long)n, max);
    for (int64_t i = 0; i < n; i++)
        if (!k_get_int(v->k, i, &out[i]))
            return ox_nfail(c, QS_EFORMAT, "%s[%lld] is not an integer", what, (long long)i);
    *count = (int)n;
    return QS_OK;
}

/* A constant scalar float input. */
static QsStatus const_float(const OxCtx *c, int k, const char *what, float *out)
{
    OxVal *v = in_k(c, k);
    if (!v->is_const)
        return ox_nfail(c, QS_EUNSUPPORTED, "%s ('%s') must be a constant", what, v->name);
    if (k_numel(v->k) != 1)
        return ox_nfail(c, QS_EFORMAT, "%s must have one value, not %lld", what,
                        (long long)k_numel(v->k));
    *out = v->k->dtype == DT_F32 ? tensor_f32(v->k)[0] : (float)k_i64(v->k)[0];
    return QS_OK;
}

/* Sets the node's single output to the constant t (takes ownership). */
static QsStatus out_const(OxCtx *c, int k, Tensor *t)
{
    if (!t)
        return c->err->code;
    OxVal *v;
    if (k >= c->n->n_out || !c->n->out[k][0]) {
        tensor_free(t);
        return QS_OK;
    }
    if (ox_define(c->x, c->n->out[k], &v, c->err)) {
        tensor_free(t);
        return c->err->code;
    }
    v->is_const = true;
    v->k = t;
    return QS_OK;
}

/* Extra outputs (MaxPool's Indices, Dropout's mask) must not be read by anyone. */
static QsStatus only_first_output(OxCtx *c, const bool *used)
{
    for (int k = 1; k < c->n->n_out; k++)
        if (c->n->out[k][0] && used[k])
            return ox_nfail(c, QS_EUNSUPPORTED, "output %d ('%s') is used, qscope computes only "
                            "the first output", k, c->n->out[k]);
    return QS_OK;
}

/* Makes sure constant v exists in the qscope graph (f32); returns its name there. */
static const char *ensure_const(OxCtx *c, OxVal *v, bool param)
{
    if (v->in_graph)
        return v->qname;
    Tensor *t = v->k->dtype == DT_F32 ? tensor_clone(v->k, c->err) : k_to_f32(v->k, c->err);
    if (!t)
        return NULL;
    if (graph_add_const(c->x->g, v->name, t, param && v->from_init && v->k->dtype == DT_F32,
                        c->err))
        return NULL;
    v->in_graph = true;
    if (!v->qname) /* generated constants already own their name as qname */
        v->qname = xstrdup(v->name);
    return v->qname;
}

/* A generated constant value (e.g. -1 for Neg): defined under a unique name. */
static OxVal *new_const(OxCtx *c, const char *suffix, Tensor *t)
{
    char name[256];
    OxVal *v;
    do
        snprintf(name, sizeof name, "%s.%s%d", c->name, suffix, c->x->uniq++);
    while (ox_val(c->x, name) || graph_find_value(c->x->g, name) >= 0);
    /* The name must outlive the call: keep it in the value as its qname too. */
    char *owned = xstrdup(name);
    if (ox_define(c->x, owned, &v, c->err)) {
        free(owned);
        tensor_free(t);
        return NULL;
    }
    v->is_const = true;
    v->k = t;
    v->qname = owned; /* freed with the value; name aliases it */
    return v;
}

/* Emits qscope op `op` with inputs ins (NULL for omitted) and attributes. When every
 * input is constant the op runs here instead (folding) and its output is a constant. */
static QsStatus emit(OxCtx *c, int op, OxVal *const *ins, int n_in, const Attr *attrs,
                     int n_attrs)
{
    Ox *x = c->x;
    const char *out = c->n->out[0];
    bool all_const = true;
    const Shape *shapes[OX_MAX_NODE_IO];
    for (int i = 0; i < n_in; i++) {
        shapes[i] = ins[i] ? (ins[i]->is_const ? &ins[i]->k->shape : &ins[i]->shape) : NULL;
        if (ins[i] && !ins[i]->is_const)
            all_const = false;
    }
    Node tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.op = op;
    tmp.name = (char *)c->name;
    tmp.n_in = n_in;
    tmp.n_attrs = n_attrs;
    tmp.attrs = (Attr *)attrs;
    Shape os;
    if (n_in < op_table[op]->min_in || n_in > op_table[op]->max_in)
        return ox_nfail(c, QS_EFORMAT, "%d inputs, expected %d to %d", n_in,
                        op_table[op]->min_in, op_table[op]->max_in);
    for (int i = 0; i < op_table[op]->min_in; i++)
        if (!ins[i])
            return ox_nfail(c, QS_EFORMAT, "required input %d is missing", i);
    if (op_table[op]->infer(&tmp, shapes, &os, c->err))
        return c->err->code;
    if (all_const) {
        Tensor *cin[OX_MAX_NODE_IO];
        QsStatus st = QS_OK;
        for (int i = 0; i < n_in; i++)
            cin[i] = NULL;
        for (int i = 0; i < n_in && !st; i++)
            if (ins[i]) {
                cin[i] = ins[i]->k->dtype == DT_F32 ? tensor_clone(ins[i]->k, c->err)
                                                    : k_to_f32(ins[i]->k, c->err);
                if (!cin[i])
                    st = c->err->code;
            }
        Tensor *o = st ? NULL : k_new(DT_F32, os, c->err);
        size_t sb = op_table[op]->scratch ? op_table[op]->scratch(&tmp, shapes, &os) : 0;
        void *scratch = NULL;
        if (o && posix_memalign(&scratch, 64, sb ? sb : 64)) {
            st = qs_fail(c->err, QS_ENOMEM, "cannot allocate %zu bytes of scratch", sb);
            scratch = NULL;
        }
        if (o && !st) {
            RunCtx rc = { .scratch = scratch, .scratch_bytes = sb };
            op_table[op]->forward(&tmp, (const Tensor *const *)cin, o, &rc);
        }
        free(scratch);
        for (int i = 0; i < n_in; i++)
            tensor_free(cin[i]);
        if (st || !o) {
            tensor_free(o);
            return st ? st : c->err->code;
        }
        return out_const(c, 0, o);
    }
    const char *names[OX_MAX_NODE_IO];
    for (int i = 0; i < n_in; i++) {
        names[i] = "";
        if (!ins[i])
            continue;
        if (ins[i]->is_const) {
            /* BatchNormalization's running statistics are not trained. */
            bool param = !(op == OP_BATCHNORM && i >= 3);
            names[i] = ensure_const(c, ins[i], param);
            if (!names[i])
                return c->err->code;
        } else {
            names[i] = ins[i]->qname;
        }
    }
    if (graph_add_node(x->g, op, c->name, names, n_in, out, attrs, n_attrs, c->err))
        return c->err->code;
    OxVal *v;
    if (ox_define(x, out, &v, c->err))
        return c->err->code;
    v->shape = os;
    v->in_graph = true;
    v->qname = xstrdup(out);
    return QS_OK;
}

/* ONNX attributes that map one to one onto qscope attributes. */
static int copy_attrs(const OxCtx *c, Attr *out, int max, const char *const *skip)
{
    int n = 0;
    for (int i = 0; i < c->n->n_attrs && n < max; i++) {
        const OxAttr *a = &c->n->attrs[i];
        bool skipped = false;
        for (int k = 0; skip && skip[k]; k++)
            skipped |= strcmp(skip[k], a->name) == 0;
        if (skipped || strlen(a->name) >= QS_ATTR_NAME)
            continue;
        switch (a->type) {
        case OA_INT: out[n++] = attr_int(a->name, a->i); break;
        case OA_FLOAT: out[n++] = attr_float(a->name, a->f); break;
        /* An empty list has no array: give the builders a valid pointer anyway. */
        case OA_INTS: out[n++] = attr_ints(a->name, a->ints ? a->ints : &a->i, a->n); break;
        case OA_FLOATS: out[n++] = attr_floats(a->name, a->floats ? a->floats : &a->f, a->n); break;
        case OA_STRING: out[n++] = attr_str(a->name, a->s); break;
        default: break;
        }
    }
    return n;
}

static void release_attrs(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

static void set_attr(Attr *a, int *n, Attr v)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(a[i].name, v.name) == 0) {
            attr_release(&a[i]);
            a[i] = v;
            return;
        }
    a[(*n)++] = v;
}

static void drop_attr(Attr *a, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(a[i].name, name) == 0) {
            attr_release(&a[i]);
            a[i] = a[--*n];
            return;
        }
}

#define MAX_ATTRS 40

/* Emits op with the node's data inputs [0, n_in) and its attributes copied. */
static QsStatus emit_plain(OxCtx *c, int op, int n_in)
{
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, NULL);
    QsStatus st = emit(c, op, c->in, n_in < c->n->n_in ? n_in : c->n->n_in, a, na);
    release_attrs(a, na);
    return st;
}

/* auto_pad SAME_UPPER / SAME_LOWER / VALID into explicit pads, from the input's spatial
 * dims and the kernel extent (ONNX's formulas); "NOTSET" leaves the attributes alone. */
static QsStatus resolve_auto_pad(OxCtx *c, Attr *a, int *na, const Shape *x,
                                 const int64_t *kernel)
{
    const char *ap = ox_attr_str(c->n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0)
        return QS_OK;
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 2)
        return ox_nfail(c, QS_EUNSUPPORTED, "auto_pad needs a 1-D or 2-D input");
    int64_t st[2] = { 1, 1 }, dl[2] = { 1, 1 }, pads[4] = { 0, 0, 0, 0 };
    const OxAttr *s = ox_attr_get(c->n, "strides"), *d = ox_attr_get(c->n, "dilations");
    for (int i = 0; i < sp; i++) {
        if (s && s->type == OA_INTS && s->n == sp)
            st[i] = s->ints[i];
        if (d && d->type == OA_INTS && d->n == sp)
            dl[i] = d->ints[i];
        if (st[i] < 1 || dl[i] < 1 || st[i] > INT32_MAX || dl[i] > INT32_MAX)
            return ox_nfail(c, QS_EINVAL, "strides and dilations must be >= 1");
    }
    if (strcmp(ap, "VALID") != 0) {
        bool upper = strcmp(ap, "SAME_UPPER") == 0;
        if (!upper && strcmp(ap, "SAME_LOWER") != 0)
            return ox_nfail(c, QS_EINVAL, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER "
                            "or VALID", ap);
        for (int i = 0; i < sp; i++) {
            int64_t in = x->dim[2 + i], out = (in + st[i] - 1) / st[i];
            int64_t total = (out - 1) * st[i] + (kernel[i] - 1) * dl[i] + 1 - in;
            if (total < 0)
                total = 0;
            pads[i] = upper ? total / 2 : total - total / 2;
            pads[sp + i] = total - pads[i];
        }
    }
    drop_attr(a, na, "auto_pad");
    set_attr(a, na, attr_ints("pads", pads, 2 * sp));
    return QS_OK;
}

/* ---- run-time ops with constant "parameter" inputs */

static QsStatus conv_like(OxCtx *c, int op)
{
    OxVal *x = in_k(c, 0), *w = in_k(c, 1);
    if (!x || !w)
        return ox_nfail(c, QS_EFORMAT, "inputs X and W are required");
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, NULL);
    QsStatus st = QS_OK;
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    const Shape *ws = w->is_const ? &w->k->shape : &w->shape;
    if (op == OP_CONV) {
        int64_t k[2] = { ws->ndim > 2 ? ws->dim[2] : 1, ws->ndim > 3 ? ws->dim[3] : 1 };
        st = resolve_auto_pad(c, a, &na, xs, k);
    } else if (ox_attr_get(c->n, "output_shape") ||
               strcmp(ox_attr_str(c->n, "auto_pad", "NOTSET"), "NOTSET") != 0) {
        /* ConvTranspose: output_shape / auto_pad into pads (ONNX's total_padding rule). */
        int sp = xs->ndim - 2;
        const OxAttr *os = ox_attr_get(c->n, "output_shape");
        const char *ap = ox_attr_str(c->n, "auto_pad", "NOTSET");
        int64_t pads[4] = { 0, 0, 0, 0 };
        if (sp < 1 || sp > 2 || ws->ndim != xs->ndim)
            st = ox_nfail(c, QS_EUNSUPPORTED, "needs a 1-D or 2-D input");
        for (int i = 0; !st && i < sp; i++) {
            const OxAttr *s = ox_attr_get(c->n, "strides"), *d = ox_attr_get(c->n, "dilations");
            const OxAttr *op_ = ox_attr_get(c->n, "output_padding");
            int64_t stv = s && s->type == OA_INTS && s->n == sp ? s->ints[i] : 1;
            int64_t dlv = d && d->type == OA_INTS && d->n == sp ? d->ints[i] : 1;
            int64_t opv = op_ && op_->type == OA_INTS && op_->n == sp ? op_->ints[i] : 0;
            int64_t in = xs->dim[2 + i], kk = ws->dim[2 + i];
            int64_t want = in * stv;
            if (os) {
                if (os->type != OA_INTS || os->n < sp)
                    st = ox_nfail(c, QS_EFORMAT, "output_shape must list the spatial dims");
                else
                    want = os->ints[os->n - sp + i];
            } else if (strcmp(ap, "VALID") == 0) {
                continue;
            }
            if (stv < 1 || dlv < 1 || stv > INT32_MAX || dlv > INT32_MAX || kk > INT32_MAX ||
                want < 1 || want > INT32_MAX)
                st = ox_nfail(c, QS_EINVAL, "strides, dilations or output_shape out of range");
            if (st)
                break;
            int64_t total = stv * (in - 1) + opv + ((kk - 1) * dlv + 1) - want;
            if (total < 0)
                st = ox_nfail(c, QS_EUNSUPPORTED, "output_shape needs negative padding");
            else if (strcmp(ap, "SAME_UPPER") == 0)
                pads[i] = total / 2, pads[sp + i] = total - total / 2;
            else
                pads[i] = total - total / 2, pads[sp + i] = total / 2;
        }
        if (!st) {
            drop_attr(a, &na, "output_shape");
            drop_attr(a, &na, "auto_pad");
            set_attr(a, &na, attr_ints("pads", pads, 2 * sp));
        }
    }
    if (!st)
        st = emit(c, op, c->in, c->n->n_in > 3 ? 3 : c->n->n_in, a, na);
    release_attrs(a, na);
    return st;
}

static QsStatus pool(OxCtx *c, int op)
{
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, (const char *const[]){ "storage_order", NULL });
    QsStatus st = QS_OK;
    OxVal *x = in_k(c, 0);
    if (op != OP_GLOBALAVGPOOL) {
        const OxAttr *k = ox_attr_get(c->n, "kernel_shape");
        int64_t kk[2] = { 1, 1 };
        for (int i = 0; k && k->type == OA_INTS && i < k->n && i < 2; i++)
            kk[i] = k->ints[i];
        st = resolve_auto_pad(c, a, &na, x->is_const ? &x->k->shape : &x->shape, kk);
    }
    if (!st)
        st = emit(c, op, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

static QsStatus clip(OxCtx *c)
{
    Attr a[3];
    int na = 0;
    if (c->x->opset >= 11) {
        float v;
        QsStatus st;
        if (in_k(c, 1)) {
            if ((st = const_float(c, 1, "min", &v)))
                return st;
            a[na++] = attr_float("min", v);
        }
        if (in_k(c, 2)) {
            if ((st = const_float(c, 2, "max", &v))) {
                release_attrs(a, na);
                return st;
            }
            a[na++] = attr_float("max", v);
        }
    } else {
        na = copy_attrs(c, a, 3, NULL);
    }
    QsStatus st = emit(c, OP_CLIP, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Target shape of a Reshape of run-time x: the batch symbol becomes 0 ("copy"). With a
 * batch declared as the literal 1, a leading 1 is read as the batch too (docs/onnx.md). */
static QsStatus reshape_target(OxCtx *c, int64_t *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (s[i] == OX_BATCH) {
            if (i != 0)
                return ox_nfail(c, QS_EUNSUPPORTED, "the batch size moves to axis %d", i);
            s[i] = 0;
        }
    }
    if (n > 0 && s[0] == 1 && c->x->batch_fixed1)
        s[0] = 0;
    return QS_OK;
}

static QsStatus reshape(OxCtx *c)
{
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    OxVal *x = in_k(c, 0);
    if (!x->is_const && (st = reshape_target(c, s, n)))
        return st;
    for (int i = 0; i < n; i++)
        if (s[i] == OX_BATCH)
            return ox_nfail(c, QS_EUNSUPPORTED, "a constant reshaped by the batch size");
    Attr a[2] = { attr_ints("shape", s, n), attr_int("allowzero",
                                                     ox_attr_int(c->n, "allowzero", 0)) };
    st = emit(c, OP_RESHAPE, c->in, 1, a, 2);
    release_attrs(a, 2);
    return st;
}

/* Reduce ops: axes from the attribute (older opsets) or the second input. */
static QsStatus reduce(OxCtx *c, int op, int axes_input_opset)
{
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, NULL);
    QsStatus st = QS_OK;
    if (c->x->opset >= axes_input_opset && in_k(c, 1)) {
        int64_t ax[QS_MAX_DIMS];
        int n;
        if (!(st = const_ints(c, 1, "axes", ax, QS_MAX_DIMS, &n)))
            set_attr(a, &na, attr_ints("axes", ax, n));
    }
    if (!st)
        st = emit(c, op, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Squeeze / Unsqueeze of a run-time value: a Reshape with the batch copied. */
static QsStatus squeeze_like(OxCtx *c, bool unsq)
{
    OxVal *x = in_k(c, 0);
    int64_t ax[QS_MAX_DIMS];
    int n = 0;
    QsStatus st;
    const OxAttr *aa = ox_attr_get(c->n, "axes");
    if (c->x->opset >= 13 && in_k(c, 1)) {
        if ((st = const_ints(c, 1, "axes", ax, QS_MAX_DIMS, &n)))
            return st;
    } else if (aa && aa->type == OA_INTS) {
        if (aa->n > QS_MAX_DIMS)
            return ox_nfail(c, QS_EUNSUPPORTED, "too many axes");
        n = aa->n;
        memcpy(ax, aa->ints, (size_t)n * sizeof *ax);
    }
    const Shape *xs = &x->shape;
    int r = xs->ndim, ro = unsq ? r + n : r;
    if (ro > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "rank %d above %d", ro, QS_MAX_DIMS);
    bool mark[QS_MAX_DIMS] = { false };
    for (int i = 0; i < n; i++) {
        int64_t v = ax[i] < 0 ? ax[i] + ro : ax[i];
        if (v < 0 || v >= ro || mark[v])
            return ox_nfail(c, QS_EINVAL, "axis %lld out of range or repeated", (long long)ax[i]);
        if (v == 0)
            return ox_nfail(c, QS_EUNSUPPORTED, "axis 0 is the batch");
        if (!unsq && xs->dim[v] != 1)
            return ox_nfail(c, QS_EINVAL, "axis %lld has size %lld, not 1", (long long)v,
                            (long long)xs->dim[v]);
        mark[v] = true;
    }
    int64_t s[QS_MAX_DIMS];
    int k = 0;
    if (unsq) {
        for (int i = 0, j = 0; i < ro; i++)
            s[k++] = mark[i] ? 1 : xs->dim[j++];
    } else {
        for (int i = 0; i < r; i++)
            if (!(n ? mark[i] : (i > 0 && xs->dim[i] == 1)))
                s[k++] = xs->dim[i];
    }
    s[0] = 0;
    Attr a[1] = { attr_ints("shape", s, k) };
    st = emit(c, OP_RESHAPE, c->in, 1, a, 1);
    release_attrs(a, 1);
    return st;
}

static QsStatus pad(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int r = xs->ndim;
    int64_t p[2 * QS_MAX_DIMS] = { 0 }, raw[2 * QS_MAX_DIMS];
    float value = 0.0f;
    int n = 0;
    QsStatus st;
    if (c->x->opset >= 11) {
        if ((st = const_ints(c, 1, "pads", raw, 2 * QS_MAX_DIMS, &n)))
            return st;
        if (in_k(c, 2) && (st = const_float(c, 2, "constant_value", &value)))
            return st;
        if (in_k(c, 3)) { /* opset 18 axes */
            int64_t ax[QS_MAX_DIMS];
            int na;
            if ((st = const_ints(c, 3, "axes", ax, QS_MAX_DIMS, &na)))
                return st;
            if (n != 2 * na)
                return ox_nfail(c, QS_EFORMAT, "%d pads for %d axes", n, na);
            for (int i = 0; i < na; i++) {
                int64_t v = ax[i] < 0 ? ax[i] + r : ax[i];
                if (v < 0 || v >= r)
                    return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)ax[i]);
                p[v] = raw[i];
                p[r + v] = raw[na + i];
            }
            n = 2 * r;
        } else {
            memcpy(p, raw, (size_t)n * sizeof *p);
        }
    } else {
        const OxAttr *a = ox_attr_get(c->n, "pads");
        if (!a || a->type != OA_INTS || a->n > 2 * QS_MAX_DIMS)
            return ox_nfail(c, QS_EFORMAT, "pads attribute missing");
        n = a->n;
        memcpy(p, a->ints, (size_t)n * sizeof *p);
        const OxAttr *v = ox_attr_get(c->n, "value");
        if (v && v->type == OA_FLOAT)
            value = v->f;
    }
    if (n != 2 * r)
        return ox_nfail(c, QS_EFORMAT, "%d pads for rank %d", n, r);
    Attr a[3] = { attr_ints("pads", p, n), attr_str("mode", ox_attr_str(c->n, "mode", "constant")),
                  attr_float("value", value) };
    st = emit(c, OP_PAD, c->in, 1, a, 3);
    release_attrs(a, 3);
    return st;
}

/* Resize (opset >= 11: X, roi, scales, sizes; opset 10 and Upsample: X, scales). */
static QsStatus resize(OxCtx *c, bool upsample)
{
    OxVal *x = in_k(c, 0);
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int r = xs->ndim;
    Attr a[4];
    int na = 0;
    QsStatus st = QS_OK;
    int scales_in = upsample || c->x->opset < 11 ? 1 : 2, sizes_in = scales_in + 1;
    OxVal *sc = in_k(c, scales_in), *sz = upsample || c->x->opset < 11 ? NULL : in_k(c, sizes_in);
    if (sc && sc->is_const && k_numel(sc->k) == 0)
        sc = NULL; /* an empty scales input means "use sizes" */
    if (ox_attr_get(c->n, "axes"))
        return ox_nfail(c, QS_EUNSUPPORTED, "the axes attribute is not supported");
    if (ox_attr_get(c->n, "antialias") && ox_attr_int(c->n, "antialias", 0))
        return ox_nfail(c, QS_EUNSUPPORTED, "antialias is not supported");
    if (sz) {
        int64_t s[QS_MAX_DIMS];
        int n;
        if ((st = const_ints(c, sizes_in, "sizes", s, QS_MAX_DIMS, &n)))
            return st;
        if (n != r)
            return ox_nfail(c, QS_EFORMAT, "%d sizes for rank %d", n, r);
        if (s[0] == OX_BATCH || (s[0] == 1 && !x->is_const))
            s[0] = 0;
        a[na++] = attr_ints("sizes", s, n);
    } else if (sc) {
        if (!sc->is_const)
            return ox_nfail(c, QS_EUNSUPPORTED, "scales must be a constant");
        if (k_numel(sc->k) != r)
            return ox_nfail(c, QS_EFORMAT, "%lld scales for rank %d", (long long)k_numel(sc->k), r);
        float f[QS_MAX_DIMS];
        for (int i = 0; i < r; i++)
            f[i] = sc->k->dtype == DT_F32 ? tensor_f32(sc->k)[i] : (float)k_i64(sc->k)[i];
        a[na++] = attr_floats("scales", f, r);
    } else {
        const OxAttr *s = ox_attr_get(c->n, "scales"); /* opset 7/8 Upsample attribute */
        if (!s || s->type != OA_FLOATS)
            return ox_nfail(c, QS_EFORMAT, "neither scales nor sizes is given");
        a[na++] = attr_floats("scales", s->floats ? s->floats : &s->f, s->n);
    }
    const char *mode = ox_attr_str(c->n, "mode", "nearest");
    a[na++] = attr_str("mode", mode);
    if (upsample || c->x->opset < 11) {
        a[na++] = attr_str("coordinate_transformation_mode", "asymmetric");
        a[na++] = attr_str("nearest_mode", "floor");
    } else {
        a[na++] = attr_str("coordinate_transformation_mode",
                           ox_attr_str(c->n, "coordinate_transformation_mode", "half_pixel"));
        a[na++] = attr_str("nearest_mode", ox_attr_str(c->n, "nearest_mode",
                                                       "round_prefer_floor"));
    }
    st = emit(c, OP_RESIZE, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Slice of a run-time value: starts, ends, axes, steps into attributes. An end equal to
 * the batch symbol (x[:n] with n = x.size(0)) means the whole axis. */
static QsStatus slice(OxCtx *c)
{
    int64_t v[4][QS_MAX_DIMS];
    int n[4];
    static const char *const what[4] = { "starts", "ends", "axes", "steps" };
    Attr a[4];
    int na = 0;
    QsStatus st = QS_OK;
    for (int k = 0; k < 4 && !st; k++) {
        if (!in_k(c, k + 1))
            continue;
        if ((st = const_ints(c, k + 1, what[k], v[k], QS_MAX_DIMS, &n[k])))
            break;
        for (int i = 0; i < n[k]; i++)
            if (v[k][i] == OX_BATCH) {
                if (k == 1)
                    v[k][i] = INT64_MAX;
                else
                    st = ox_nfail(c, QS_EUNSUPPORTED, "%s holds the batch size", what[k]);
            }
        if (!st)
            a[na++] = attr_ints(what[k], v[k], n[k]);
    }
    if (!st)
        st = emit(c, OP_SLICE, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

static QsStatus softmax(OxCtx *c, int op)
{
    OxVal *x = in_k(c, 0);
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int64_t axis = ox_attr_int(c->n, "axis", c->x->opset >= 13 ? -1 : 1);
    if (c->x->opset < 13) {
        /* Before opset 13 the input is flattened to 2-D at axis: the same as the opset-13
         * op only when axis is the last one. */
        int64_t ax = axis < 0 ? axis + xs->ndim : axis;
        if (ax != xs->ndim - 1)
            return ox_nfail(c, QS_EUNSUPPORTED, "opset %d flattens at axis %lld; only the "
                            "last axis is supported", c->x->opset, (long long)axis);
    }
    Attr a[1] = { attr_int("axis", axis) };
    QsStatus st = emit(c, op, c->in, 1, a, 1);
    release_attrs(a, 1);
    return st;
}

static QsStatus neg(OxCtx *c)
{
    Tensor *m1 = k_new(DT_F32, shape_make(0, NULL), c->err);
    if (!m1)
        return c->err->code;
    tensor_f32(m1)[0] = -1.0f;
    OxVal *k = new_const(c, "neg", m1);
    if (!k)
        return c->err->code;
    OxVal *ins[2] = { in_k(c, 0), k };
    return emit(c, OP_MUL, ins, 2, NULL, 0);
}

/* ---- the constant evaluator (shape arithmetic); every input is a constant */

/* Strides of s aligned to o (0 on broadcast axes). */
static void k_strides(const Shape *s, const Shape *o, int64_t *st)
{
    int64_t run = 1;
    for (int i = o->ndim - 1; i >= 0; i--) {
        int j = s->ndim - o->ndim + i;
        int64_t d = j >= 0 ? s->dim[j] : 1;
        st[i] = d == 1 ? 0 : run;
        run *= d;
    }
}

static QsStatus k_broadcast(OxCtx *c, const Shape *const *s, int n, Shape *o)
{
    o->ndim = 0;
    for (int k = 0; k < n; k++)
        if (s[k]->ndim > o->ndim)
            o->ndim = s[k]->ndim;
    for (int i = 0; i < o->ndim; i++) {
        int64_t d = 1;
        for (int k = 0; k < n; k++) {
            int j = s[k]->ndim - o->ndim + i;
            int64_t e = j >= 0 ? s[k]->dim[j] : 1;
            if (e != 1 && d != 1 && e != d)
                return ox_nfail(c, QS_ESHAPE, "constant shapes do not broadcast");
            if (e != 1)
                d = e;
        }
        o->dim[i] = d;
    }
    return QS_OK;
}

/* Walks a broadcast output of n operands, calling the statement with offs[k]. */
#define K_WALK(o, st, n, ...)                                                             \
    do {                                                                                  \
        int64_t idx_[QS_MAX_DIMS] = { 0 }, offs[4] = { 0, 0, 0, 0 };                      \
        int64_t total_ = shape_numel(o);                                                  \
        for (int64_t i = 0; i < total_; i++) {                                            \
            __VA_ARGS__;                                                                  \
            for (int d_ = (o)->ndim - 1; d_ >= 0; d_--) {                                 \
                for (int k_ = 0; k_ < (n); k_++)                                          \
                    offs[k_] += (st)[k_][d_];                                             \
                if (++idx_[d_] < (o)->dim[d_])                                            \
                    break;                                                                \
                for (int k_ = 0; k_ < (n); k_++)                                          \
                    offs[k_] -= (st)[k_][d_] * (o)->dim[d_];                              \
                idx_[d_] = 0;                                                             \
            }                                                                             \
        }                                                                                 \
    } while (0)

typedef enum { KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_POW, KB_EQUAL } KBin;

static QsStatus k_int_bin(OxCtx *c, KBin op, int64_t a, int64_t b, int64_t *out)
{
    if (a == OX_BATCH || b == OX_BATCH) {
        int64_t other = a == OX_BATCH ? b : a;
        bool ok = (op == KB_ADD && other == 0) || (op == KB_MUL && other == 1) ||
                  ((op == KB_SUB || op == KB_DIV) && a == OX_BATCH &&
                   other == (op == KB_SUB ? 0 : 1));
        if (op == KB_EQUAL && a == b) {
            *out = 1;
            return QS_OK;
        }
        if (!ok)
            return ox_nfail(c, QS_EUNSUPPORTED, "arithmetic on the batch size is not "
                            "supported (qscope graphs keep the batch dynamic)");
        *out = OX_BATCH;
        return QS_OK;
    }
    switch (op) {
    case KB_ADD: *out = (int64_t)((uint64_t)a + (uint64_t)b); break;
    case KB_SUB: *out = (int64_t)((uint64_t)a - (uint64_t)b); break;
    case KB_MUL: *out = (int64_t)((uint64_t)a * (uint64_t)b); break;
    case KB_DIV:
        if (b == 0 || (a == INT64_MIN && b == -1))
            return ox_nfail(c, QS_EINVAL, "integer division by zero");
        *out = a / b;
        break;
    case KB_POW: {
        int64_t r = 1;
        for (int64_t e = 0; e < b && e < 64; e++)
            r = (int64_t)((uint64_t)r * (uint64_t)a);
        *out = b < 0 ? 0 : r;
        break;
    }
    default: *out = a == b; break;
    }
    return QS_OK;
}

static QsStatus k_binary(OxCtx *c, KBin op)
{
    OxVal *a = in_k(c, 0), *b = in_k(c, 1);
    if (!a || !b)
        return ox_nfail(c, QS_EFORMAT, "two inputs are required");
    const Shape *ss[2] = { &a->k->shape, &b->k->shape };
    Shape o;
    QsStatus st = k_broadcast(c, ss, 2, &o);
    if (st)
        return st;
    bool ints = a->k->dtype == DT_I64 && b->k->dtype == DT_I64;
    Tensor *t = k_new(ints || op == KB_EQUAL ? DT_I64 : DT_F32, o, c->err);
    if (!t)
        return c->err->code;
    int64_t strides[2][QS_MAX_DIMS];
    k_strides(ss[0], &o, strides[0]);
    k_strides(ss[1], &o, strides[1]);
    if (ints) {
        const int64_t *pa = k_i64(a->k), *pb = k_i64(b->k);
        int64_t *po = k_i64(t);
        K_WALK(&o, strides, 2, if (!st) st = k_int_bin(c, op, pa[offs[0]], pb[offs[1]], &po[i]));
    } else {
        Tensor *fa = k_to_f32(a->k, c->err), *fb = fa ? k_to_f32(b->k, c->err) : NULL;
        if (!fa || !fb) {
            tensor_free(fa);
            tensor_free(t);
            return c->err->code;
        }
        const float *pa = tensor_f32(fa), *pb = tensor_f32(fb);
        if (op == KB_EQUAL) {
            int64_t *po = k_i64(t);
            K_WALK(&o, strides, 2, po[i] = pa[offs[0]] == pb[offs[1]]);
        } else {
            float *po = tensor_f32(t);
            K_WALK(&o, strides, 2, {
                float x = pa[offs[0]], y = pb[offs[1]];
                po[i] = op == KB_ADD ? x + y : op == KB_SUB ? x - y : op == KB_MUL ? x * y :
                        op == KB_DIV ? x / y : (y == 2.0f ? x * x : powf(x, y));
            });
        }
        tensor_free(fa);
        tensor_free(fb);
    }
    if (st) {
        tensor_free(t);
        return st;
    }
    return out_const(c, 0, t);
}

static QsStatus k_where(OxCtx *c)
{
    OxVal *cd = in_k(c, 0), *a = in_k(c, 1), *b = in_k(c, 2);
    if (!cd || !a || !b)
        return ox_nfail(c, QS_EFORMAT, "three inputs are required");
    const Shape *ss[3] = { &cd->k->shape, &a->k->shape, &b->k->shape };
    Shape o;
    QsStatus st = k_broadcast(c, ss, 3, &o);
    if (st)
        return st;
    bool ints = a->k->dtype == DT_I64 && b->k->dtype == DT_I64;
    Tensor *t = k_new(ints ? DT_I64 : DT_F32, o, c->err);
    Tensor *fa = ints ? NULL : k_to_f32(a->k, c->err), *fb = ints ? NULL : k_to_f32(b->k, c->err);
    if (!t || (!ints && (!fa || !fb))) {
        tensor_free(t);
        tensor_free(fa);
        tensor_free(fb);
        return c->err->code;
    }
    int64_t strides[3][QS_MAX_DIMS];
    for (int k = 0; k < 3; k++)
        k_strides(ss[k], &o, strides[k]);
    K_WALK(&o, strides, 3, {
        bool pick = cd->k->dtype == DT_I64 ? k_i64(cd->k)[offs[0]] != 0
                                           : tensor_f32(cd->k)[offs[0]] != 0.0f;
        if (ints)
            k_i64(t)[i] = pick ? k_i64(a->k)[offs[1]] : k_i64(b->k)[offs[2]];
        else
            tensor_f32(t)[i] = pick ? tensor_f32(fa)[offs[1]] : tensor_f32(fb)[offs[2]];
    });
    tensor_free(fa);
    tensor_free(fb);
    return out_const(c, 0, t);
}

/* A copy of t with a new shape of the same element count. */
static Tensor *k_reshaped(OxCtx *c, const Tensor *t, Shape s)
{
    Tensor *o = tensor_clone(t, c->err);
    if (o)
        o->shape = s;
    return o;
}

static QsStatus k_shape(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    if (!x)
        return ox_nfail(c, QS_EFORMAT, "input is missing");
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int r = xs->ndim;
    int64_t start = ox_attr_int(c->n, "start", 0), end = ox_attr_int(c->n, "end", r);
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t n = end > start ? end - start : 0;
    Tensor *t = k_new(DT_I64, shape_of(1, n), c->err);
    if (!t)
        return c->err->code;
    for (int64_t i = 0; i < n; i++)
        k_i64(t)[i] = (!x->is_const && start + i == 0) ? OX_BATCH : xs->dim[start + i];
    return out_const(c, 0, t);
}

static QsStatus k_cast(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    int64_t to = ox_attr_int(c->n, "to", 0);
    if (!ox_raw_size((int)to))
        return ox_nfail(c, QS_EUNSUPPORTED, "cast to %s", ox_type_name((int)to));
    Tensor *t;
    if (ox_is_float((int)to)) {
        t = k_to_f32(x->k, c->err);
        if (t && to == OT_FLOAT16)
            half_round_array(tensor_f32(t), k_numel(t));
    } else {
        t = k_new(DT_I64, x->k->shape, c->err);
        for (int64_t i = 0; t && i < k_numel(t); i++) {
            if (x->k->dtype == DT_I64) {
                k_i64(t)[i] = k_i64(x->k)[i];
            } else {
                float f = tensor_f32(x->k)[i];
                if (!(fabsf(f) < 9.2e18f)) {
                    tensor_free(t);
                    return ox_nfail(c, QS_EINVAL, "cannot cast %g to an integer", (double)f);
                }
                k_i64(t)[i] = to == OT_BOOL ? f != 0.0f : (int64_t)f;
            }
        }
    }
    return out_const(c, 0, t);
}

static QsStatus k_gather(OxCtx *c)
{
    OxVal *d = in_k(c, 0), *ix = in_k(c, 1);
    if (!d || !ix)
        return ox_nfail(c, QS_EFORMAT, "two inputs are required");
    const Shape *ds = &d->k->shape, *is = &ix->k->shape;
    int r = ds->ndim, axis;
    int64_t a = ox_attr_int(c->n, "axis", 0);
    if (r < 1 || a < -r || a >= r)
        return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)a);
    axis = (int)(a < 0 ? a + r : a);
    if (r - 1 + is->ndim > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "result rank above %d", QS_MAX_DIMS);
    Shape o = { .ndim = r - 1 + is->ndim };
    int k = 0;
    for (int i = 0; i < axis; i++)
        o.dim[k++] = ds->dim[i];
    for (int i = 0; i < is->ndim; i++)
        o.dim[k++] = is->dim[i];
    for (int i = axis + 1; i < r; i++)
        o.dim[k++] = ds->dim[i];
    Tensor *t = k_new(d->k->dtype, o, c->err);
    if (!t)
        return c->err->code;
    int64_t outer = shape_span(ds, 0, axis), inner = shape_span(ds, axis + 1, r);
    int64_t len = ds->dim[axis], ni = k_numel(ix->k);
    size_t es = dtype_size(d->k->dtype);
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = 0;
        if (!k_get_int(ix->k, j, &v) || v < -len || v >= len) {
            tensor_free(t);
            return ox_nfail(c, QS_EINVAL, "index %lld out of range for %lld", (long long)v,
                            (long long)len);
        }
        if (v < 0)
            v += len;
        for (int64_t o_ = 0; o_ < outer; o_++)
            memcpy((char *)t->data + ((o_ * ni + j) * inner) * (int64_t)es,
                   (char *)d->k->data + ((o_ * len + v) * inner) * (int64_t)es,
                   (size_t)inner * es);
    }
    return out_const(c, 0, t);
}

static QsStatus k_unsqueeze(OxCtx *c, bool unsq)
{
    OxVal *x = in_k(c, 0);
    int64_t ax[QS_MAX_DIMS];
    int n = 0;
    QsStatus st;
    const OxAttr *aa = ox_attr_get(c->n, "axes");
    if (c->x->opset >= 13 && in_k(c, 1)) {
        if ((st = const_ints(c, 1, "axes", ax, QS_MAX_DIMS, &n)))
            return st;
    } else if (aa && aa->type == OA_INTS && aa->n <= QS_MAX_DIMS) {
        n = aa->n;
        memcpy(ax, aa->ints, (size_t)n * sizeof *ax);
    }
    const Shape *xs = &x->k->shape;
    int r = xs->ndim, ro = unsq ? r + n : r;
    if (ro > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "rank %d above %d", ro, QS_MAX_DIMS);
    bool mark[QS_MAX_DIMS] = { false };
    for (int i = 0; i < n; i++) {
        int64_t v = ax[i] < 0 ? ax[i] + ro : ax[i];
        if (v < 0 || v >= ro || mark[v] || (!unsq && xs->dim[v] != 1))
            return ox_nfail(c, QS_EINVAL, "axis %lld out of range, repeated or not of size 1",
                            (long long)ax[i]);
        mark[v] = true;
    }
    Shape o = { .ndim = 0 };
    if (unsq) {
        for (int i = 0, j = 0; i < ro; i++)
            o.dim[o.ndim++] = mark[i] ? 1 : xs->dim[j++];
    } else {
        for (int i = 0; i < r; i++)
            if (!(n ? mark[i] : xs->dim[i] == 1))
                o.dim[o.ndim++] = xs->dim[i];
    }
    return out_const(c, 0, k_reshaped(c, x->k, o));
}

static QsStatus k_concat(OxCtx *c)
{
    int n = c->n->n_in;
    if (n < 1)
        return ox_nfail(c, QS_EFORMAT, "no inputs");
    const Shape *s0 = &c->in[0]->k->shape; /* in[0] is checked by ox_const_eval */
    int r = s0->ndim;
    int64_t a = ox_attr_int(c->n, "axis", 0);
    if (r < 1 || a < -r || a >= r)
        return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)a);
    int axis = (int)(a < 0 ? a + r : a);
    bool ints = true;
    Shape o = *s0;
    o.dim[axis] = 0;
    for (int k = 0; k < n; k++) {
        if (!c->in[k])
            return ox_nfail(c, QS_EFORMAT, "input %d is empty", k);
        const Shape *s = &c->in[k]->k->shape;
        if (s->ndim != r)
            return ox_nfail(c, QS_ESHAPE, "inputs of different ranks");
        for (int i = 0; i < r; i++)
            if (i != axis && s->dim[i] != s0->dim[i])
                return ox_nfail(c, QS_ESHAPE, "input shapes do not match");
        o.dim[axis] += s->dim[axis];
        ints &= c->in[k]->k->dtype == DT_I64;
    }
    Tensor *t = k_new(ints ? DT_I64 : DT_F32, o, c->err);
    if (!t)
        return c->err->code;
    int64_t outer = shape_span(&o, 0, axis), at = 0, es = ints ? 8 : 4;
    int64_t oinner = shape_span(&o, axis, r);
    for (int k = 0; k < n; k++) {
        const Tensor *in = c->in[k]->k;
        Tensor *conv = ints || in->dtype == DT_F32 ? NULL : k_to_f32(in, c->err);
        if (!ints && in->dtype != DT_F32 && !conv) {
            tensor_free(t);
            return c->err->code;
        }
        const Tensor *src = conv ? conv : in;
        int64_t chunk = shape_span(&in->shape, axis, r);
        for (int64_t o_ = 0; o_ < outer; o_++)
            memcpy((char *)t->data + (o_ * oinner + at) * es, (char *)src->data + o_ * chunk * es,
                   (size_t)chunk * (size_t)es);
        at += chunk;
        tensor_free(conv);
    }
    return out_const(c, 0, t);
}

static QsStatus k_reshape(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    bool allowzero = ox_attr_int(c->n, "allowzero", 0) != 0;
    const Shape *xs = &x->k->shape;
    Shape o = { .ndim = n };
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (s[i] == OX_BATCH)
            return ox_nfail(c, QS_EUNSUPPORTED, "a constant reshaped by the batch size");
        if (s[i] == 0 && !allowzero) {
            if (i >= xs->ndim)
                return ox_nfail(c, QS_ESHAPE, "0 at axis %d beyond the input's rank", i);
            o.dim[i] = xs->dim[i];
        } else if (s[i] == -1) {
            if (infer >= 0)
                return ox_nfail(c, QS_ESHAPE, "two -1 in shape");
            infer = i;
            continue;
        } else if (s[i] < 0) {
            return ox_nfail(c, QS_ESHAPE, "negative dim %lld", (long long)s[i]);
        } else {
            o.dim[i] = s[i];
        }
        if (__builtin_mul_overflow(known, o.dim[i], &known))
            return ox_nfail(c, QS_ESHAPE, "shape overflows");
    }
    int64_t numel = k_numel(x->k);
    if (infer >= 0) {
        if (known == 0 || numel % known)
            return ox_nfail(c, QS_ESHAPE, "cannot infer -1");
        o.dim[infer] = numel / known;
    } else if (known != numel) {
        return ox_nfail(c, QS_ESHAPE, "%lld elements reshaped to %lld", (long long)numel,
                        (long long)known);
    }
    return out_const(c, 0, k_reshaped(c, x->k, o));
}

static QsStatus k_transpose(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    const Shape *xs = &x->k->shape;
    int r = xs->ndim;
    int64_t perm[QS_MAX_DIMS];
    const OxAttr *p = ox_attr_get(c->n, "perm");
    bool seen[QS_MAX_DIMS] = { false };
    for (int i = 0; i < r; i++) {
        perm[i] = p && p->type == OA_INTS && p->n == r ? p->ints[i] : r - 1 - i;
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return ox_nfail(c, QS_EINVAL, "perm is not a permutation");
        seen[perm[i]] = true;
    }
    Shape o = { .ndim = r };
    int64_t xst[QS_MAX_DIMS], run = 1, ost[1][QS_MAX_DIMS];
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = run;
        run *= xs->dim[i];
    }
    for (int i = 0; i < r; i++) {
        o.dim[i] = xs->dim[perm[i]];
        ost[0][i] = xst[perm[i]];
    }
    Tensor *t = k_new(x->k->dtype, o, c->err);
    if (!t)
        return c->err->code;
    size_t es = dtype_size(x->k->dtype);
    K_WALK(&o, ost, 1, memcpy((char *)t->data + i * (int64_t)es,
                              (char *)x->k->data + offs[0] * (int64_t)es, es));
    return out_const(c, 0, t);
}

static QsStatus k_slice(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    const Shape *xs = &x->k->shape;
    int r = xs->ndim;
    int64_t st_[QS_MAX_DIMS], en[QS_MAX_DIMS], ax[QS_MAX_DIMS], sp[QS_MAX_DIMS];
    int ns, ne, na, nsp;
    QsStatus st;
    if ((st = const_ints(c, 1, "starts", st_, QS_MAX_DIMS, &ns)) ||
        (st = const_ints(c, 2, "ends", en, QS_MAX_DIMS, &ne)))
        return st;
    if (ns != ne)
        return ox_nfail(c, QS_EFORMAT, "%d starts and %d ends", ns, ne);
    if (in_k(c, 3)) {
        if ((st = const_ints(c, 3, "axes", ax, QS_MAX_DIMS, &na)))
            return st;
    } else {
        na = ns;
        for (int i = 0; i < ns; i++)
            ax[i] = i;
    }
    if (in_k(c, 4)) {
        if ((st = const_ints(c, 4, "steps", sp, QS_MAX_DIMS, &nsp)))
            return st;
    } else {
        nsp = ns;
        for (int i = 0; i < ns; i++)
            sp[i] = 1;
    }
    if (na != ns || nsp != ns)
        return ox_nfail(c, QS_EFORMAT, "starts, ends, axes and steps differ in length");
    int64_t b[QS_MAX_DIMS], step[QS_MAX_DIMS];
    Shape o = *xs;
    for (int i = 0; i < r; i++)
        b[i] = 0, step[i] = 1;
    for (int i = 0; i < ns; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r || sp[i] == 0)
            return ox_nfail(c, QS_EINVAL, "axis %lld or step 0 invalid", (long long)ax[i]);
        int64_t d = xs->dim[a], s = st_[i], e = en[i];
        if (s == OX_BATCH || e == OX_BATCH)
            return ox_nfail(c, QS_EUNSUPPORTED, "slicing by the batch size");
        if (s < 0)
            s += d;
        if (e < 0 && e > INT64_MIN / 2)
            e += d;
        if (sp[i] > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            o.dim[a] = e > s ? (e - s + sp[i] - 1) / sp[i] : 0;
        } else {
            s = s < 0 ? -1 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            o.dim[a] = s > e ? (s - e + (-sp[i]) - 1) / (-sp[i]) : 0;
        }
        b[a] = s;
        step[a] = sp[i];
    }
    Tensor *t = k_new(x->k->dtype, o, c->err);
    if (!t)
        return c->err->code;
    int64_t xst[QS_MAX_DIMS], run = 1, ost[1][QS_MAX_DIMS];
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = run;
        run *= xs->dim[i];
        ost[0][i] = xst[i] * step[i];
    }
    int64_t base = 0;
    for (int i = 0; i < r; i++)
        base += b[i] * xst[i];
    size_t es = dtype_size(x->k->dtype);
    K_WALK(&o, ost, 1, memcpy((char *)t->data + i * (int64_t)es,
                              (char *)x->k->data + (base + offs[0]) * (int64_t)es, es));
    return out_const(c, 0, t);
}

static QsStatus k_constant_of_shape(OxCtx *c)
{
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = const_ints(c, 0, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    Shape o = { .ndim = n };
    for (int i = 0; i < n; i++) {
        if (s[i] < 0)
            return ox_nfail(c, QS_EUNSUPPORTED, "shape holds the batch size or a negative dim");
        o.dim[i] = s[i];
    }
    size_t bytes;
    if (shape_checked_bytes(&o, 8, &bytes, c->name, c->err))
        return c->err->code;
    const OxAttr *v = ox_attr_get(c->n, "value");
    const Tensor *vt = v && v->type == OA_TENSOR ? v->t : NULL;
    Tensor *t = k_new(vt ? vt->dtype : DT_F32, o, c->err);
    if (!t)
        return c->err->code;
    for (int64_t i = 0; vt && k_numel(vt) >= 1 && i < k_numel(t); i++)
        memcpy((char *)t->data + i * (int64_t)dtype_size(t->dtype), vt->data,
               dtype_size(t->dtype));
    return out_const(c, 0, t);
}

static QsStatus k_range(OxCtx *c)
{
    OxVal *a = in_k(c, 0), *b = in_k(c, 1), *d = in_k(c, 2);
    if (!a || !b || !d || k_numel(a->k) != 1 || k_numel(b->k) != 1 || k_numel(d->k) != 1)
        return ox_nfail(c, QS_EFORMAT, "start, limit and delta must be scalars");
    bool ints = a->k->dtype == DT_I64 && b->k->dtype == DT_I64 && d->k->dtype == DT_I64;
    double s = ints ? (double)k_i64(a->k)[0] : tensor_f32(a->k)[0];
    double l = ints ? (double)k_i64(b->k)[0] : tensor_f32(b->k)[0];
    double dd = ints ? (double)k_i64(d->k)[0] : tensor_f32(d->k)[0];
    if (ints && (k_i64(a->k)[0] == OX_BATCH || k_i64(b->k)[0] == OX_BATCH))
        return ox_nfail(c, QS_EUNSUPPORTED, "a range up to the batch size");
    double cnt = dd != 0.0 ? ceil((l - s) / dd) : -1.0;
    if (!(cnt >= 0.0) || cnt > 1e8)
        return ox_nfail(c, QS_EINVAL, "range of %g elements", cnt);
    Tensor *t = k_new(ints ? DT_I64 : DT_F32, shape_of(1, (int64_t)cnt), c->err);
    for (int64_t i = 0; t && i < (int64_t)cnt; i++) {
        if (ints)
            k_i64(t)[i] = k_i64(a->k)[0] + i * k_i64(d->k)[0];
        else
            tensor_f32(t)[i] = (float)(s + (double)i * dd);
    }
    return out_const(c, 0, t);
}

static QsStatus k_expand(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    Shape target = { .ndim = n };
    for (int i = 0; i < n; i++) {
        if (s[i] < 0)
            return ox_nfail(c, QS_EUNSUPPORTED, "shape holds the batch size or a negative dim");
        target.dim[i] = s[i];
    }
    const Shape *ss[2] = { &x->k->shape, &target };
    Shape o;
    if ((st = k_broadcast(c, ss, 2, &o)))
        return st;
    size_t bytes;
    if (shape_checked_bytes(&o, 8, &bytes, c->name, c->err))
        return c->err->code;
    Tensor *t = k_new(x->k->dtype, o, c->err);
    if (!t)
        return c->err->code;
    int64_t str[1][QS_MAX_DIMS];
    k_strides(&x->k->shape, &o, str[0]);
    size_t es = dtype_size(x->k->dtype);
    K_WALK(&o, str, 1, memcpy((char *)t->data + i * (int64_t)es,
                              (char *)x->k->data + offs[0] * (int64_t)es, es));
    return out_const(c, 0, t);
}

static QsStatus k_unary(OxCtx *c)
{
    OxVal *x = in_k(c, 0);
    const char *op = c->n->op;
    if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0)
        return out_const(c, 0, tensor_clone(x->k, c->err));
    if (strcmp(op, "Neg") == 0 && x->k->dtype == DT_I64) {
        Tensor *t = tensor_clone(x->k, c->err);
        for (int64_t i = 0; t && i < k_numel(t); i++) {
            if (k_i64(t)[i] == OX_BATCH) {
                tensor_free(t);
                return ox_nfail(c, QS_EUNSUPPORTED, "negating the batch size");
            }
            k_i64(t)[i] = -k_i64(t)[i];
        }
        return out_const(c, 0, t);
    }
    Tensor *t = k_to_f32(x->k, c->err);
    for (int64_t i = 0; t && i < k_numel(t); i++) {
        float *v = &tensor_f32(t)[i];
        *v = strcmp(op, "Neg") == 0 ? -*v : strcmp(op, "Sqrt") == 0 ? sqrtf(*v) : *v;
    }
    return out_const(c, 0, t);
}

static QsStatus k_constant(OxCtx *c)
{
    const OxNode *n = c->n;
    if (n->n_attrs != 1)
        return ox_nfail(c, QS_EFORMAT, "needs exactly one value attribute");
    const OxAttr *a = &n->attrs[0];
    Tensor *t = NULL;
    if (strcmp(a->name, "value") == 0 && a->type == OA_TENSOR) {
        t = tensor_clone(a->t, c->err);
    } else if (strcmp(a->name, "value_float") == 0 && a->type == OA_FLOAT) {
        t = k_new(DT_F32, shape_make(0, NULL), c->err);
        if (t)
            tensor_f32(t)[0] = a->f;
    } else if (strcmp(a->name, "value_int") == 0 && a->type == OA_INT) {
        t = k_new(DT_I64, shape_make(0, NULL), c->err);
        if (t)
            k_i64(t)[0] = a->i;
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == OA_FLOATS) {
        t = k_new(DT_F32, shape_of(1, (int64_t)a->n), c->err);
        if (t && a->n)
            memcpy(t->data, a->floats, (size_t)a->n * sizeof(float));
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == OA_INTS) {
        t = k_new(DT_I64, shape_of(1, (int64_t)a->n), c->err);
        if (t && a->n)
            memcpy(t->data, a->ints, (size_t)a->n * sizeof(int64_t));
    } else {
        return ox_nfail(c, QS_EUNSUPPORTED, "value attribute '%s' is not supported", a->name);
    }
    return out_const(c, 0, t);
}

/* ---- the op table of the importer */

typedef enum {
    K_NONE = 0,   /* no constant evaluator: folded through qscope's op when all inputs are
                     constant, otherwise a run-time node */
    K_ONLY,       /* constant inputs only (shape arithmetic) */
    K_PREFER,     /* the constant evaluator when all inputs are constant, else run time */
} KMode;

typedef struct OxOp {
    const char *name;
    KMode kmode;
} OxOp;

/* Every op the importer knows; anything else is reported as unsupported. */
static const OxOp ox_ops[] = {
    { "Conv", K_NONE }, { "ConvTranspose", K_NONE }, { "Gemm", K_NONE }, { "MatMul", K_NONE },
    { "BatchNormalization", K_NONE }, { "Relu", K_NONE }, { "Clip", K_NONE },
    { "LeakyRelu", K_NONE }, { "Sigmoid", K_NONE }, { "HardSigmoid", K_NONE }, { "Tanh", K_NONE }, { "HardSwish", K_NONE },
    { "Softmax", K_NONE }, { "LogSoftmax", K_NONE }, { "MaxPool", K_NONE },
    { "AveragePool", K_NONE }, { "GlobalAveragePool", K_NONE }, { "Flatten", K_PREFER },
    { "Reshape", K_PREFER }, { "Transpose", K_PREFER }, { "Add", K_PREFER }, { "Mul", K_PREFER },
    { "Sub", K_PREFER }, { "Div", K_PREFER }, { "Pow", K_PREFER }, { "Sqrt", K_PREFER },
    { "Erf", K_NONE }, { "Neg", K_PREFER }, { "Concat", K_PREFER }, { "ReduceMean", K_NONE },
    { "ReduceSum", K_NONE }, { "ReduceMax", K_NONE }, { "Identity", K_PREFER },
    { "Dropout", K_PREFER }, { "Pad", K_NONE }, { "Resize", K_NONE }, { "Upsample", K_NONE },
    { "LayerNormalization", K_NONE }, { "Squeeze", K_PREFER }, { "Unsqueeze", K_PREFER },
    { "Cast", K_PREFER }, { "Constant", K_ONLY }, { "Shape", K_ONLY }, { "Gather", K_ONLY },
    { "Slice", K_PREFER }, { "Equal", K_ONLY }, { "Where", K_ONLY }, { "ConstantOfShape", K_ONLY },
    { "Range", K_ONLY }, { "Expand", K_ONLY },
};

static const OxOp *ox_op(const OxNode *n)
{
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return NULL;
    for (size_t i = 0; i < sizeof ox_ops / sizeof ox_ops[0]; i++)
        if (strcmp(ox_ops[i].name, n->op) == 0)
            return &ox_ops[i];
    return NULL;
}

static QsStatus ox_const_eval(OxCtx *c)
{
    const char *op = c->n->op;
    if (strcmp(op, "Constant") != 0 && !in_k(c, 0))
        return ox_nfail(c, QS_EFORMAT, "the first input is missing");
    if (strcmp(op, "Constant") == 0) return k_constant(c);
    if (strcmp(op, "Shape") == 0) return k_shape(c);
    if (strcmp(op, "Cast") == 0) return k_cast(c);
    if (strcmp(op, "Gather") == 0) return k_gather(c);
    if (strcmp(op, "Unsqueeze") == 0) return k_unsqueeze(c, true);
    if (strcmp(op, "Squeeze") == 0) return k_unsqueeze(c, false);
    if (strcmp(op, "Concat") == 0) return k_concat(c);
    if (strcmp(op, "Reshape") == 0) return k_reshape(c);
    if (strcmp(op, "Flatten") == 0) {
        const Shape *s = &c->in[0]->k->shape;
        int64_t a = ox_attr_int(c->n, "axis", 1);
        if (a < -s->ndim || a > s->ndim)
            return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)a);
        if (a < 0)
            a += s->ndim;
        return out_const(c, 0, k_reshaped(c, c->in[0]->k,
                                          shape_of(2, shape_span(s, 0, (int)a),
                                                   shape_span(s, (int)a, s->ndim))));
    }
    if (strcmp(op, "Transpose") == 0) return k_transpose(c);
    if (strcmp(op, "Slice") == 0) return k_slice(c);
    if (strcmp(op, "Add") == 0) return k_binary(c, KB_ADD);
    if (strcmp(op, "Sub") == 0) return k_binary(c, KB_SUB);
    if (strcmp(op, "Mul") == 0) return k_binary(c, KB_MUL);
    if (strcmp(op, "Div") == 0) return k_binary(c, KB_DIV);
    if (strcmp(op, "Pow") == 0) return k_binary(c, KB_POW);
    if (strcmp(op, "Equal") == 0) return k_binary(c, KB_EQUAL);
    if (strcmp(op, "Where") == 0) return k_where(c);
    if (strcmp(op, "ConstantOfShape") == 0) return k_constant_of_shape(c);
    if (strcmp(op, "Range") == 0) return k_range(c);
    if (strcmp(op, "Expand") == 0) return k_expand(c);
    return k_unary(c); /* Identity, Dropout, Neg, Sqrt */
}

/* A run-time node (at least one input computed at run time), or a K_NONE op on constants
 * (emit folds it through qscope's op). */
static QsStatus ox_runtime(OxCtx *c, const bool *used)
{
    const char *op = c->n->op;
    QsStatus st = only_first_output(c, used);
    if (st)
        return st;
    if (!in_k(c, 0))
        return ox_nfail(c, QS_EFORMAT, "the first input is missing");
    if (strcmp(op, "Conv") == 0) return conv_like(c, OP_CONV);
    if (strcmp(op, "ConvTranspose") == 0) return conv_like(c, OP_CONVTRANSPOSE);
    if (strcmp(op, "Gemm") == 0) return emit_plain(c, OP_GEMM, 3);
    if (strcmp(op, "MatMul") == 0) return emit_plain(c, OP_MATMUL, 2);
    if (strcmp(op, "BatchNormalization") == 0) {
        if (ox_attr_int(c->n, "training_mode", 0))
            return ox_nfail(c, QS_EUNSUPPORTED, "training_mode=1 (export the model in eval "
                            "mode)");
        return emit_plain(c, OP_BATCHNORM, 5);
    }
    if (strcmp(op, "Relu") == 0) return emit_plain(c, OP_RELU, 1);
    if (strcmp(op, "Clip") == 0) return clip(c);
    if (strcmp(op, "LeakyRelu") == 0) return emit_plain(c, OP_LEAKYRELU, 1);
    if (strcmp(op, "Sigmoid") == 0) return emit_plain(c, OP_SIGMOID, 1);
    if (strcmp(op, "Tanh") == 0) return emit_plain(c, OP_TANH, 1);
    if (strcmp(op, "HardSwish") == 0) return emit_plain(c, OP_HARDSWISH, 1);
    if (strcmp(op, "HardSigmoid") == 0) return emit_plain(c, OP_HARDSIGMOID, 1);
    if (strcmp(op, "Softmax") == 0) return softmax(c, OP_SOFTMAX);
    if (strcmp(op, "LogSoftmax") == 0) return softmax(c, OP_LOGSOFTMAX);
    if (strcmp(op, "MaxPool") == 0) return pool(c, OP_MAXPOOL);
    if (strcmp(op, "AveragePool") == 0) return pool(c, OP_AVGPOOL);
    if (strcmp(op, "GlobalAveragePool") == 0) return pool(c, OP_GLOBALAVGPOOL);
    if (strcmp(op, "Flatten") == 0) return emit_plain(c, OP_FLATTEN, 1);
    if (strcmp(op, "Reshape") == 0) return reshape(c);
    if (strcmp(op, "Transpose") == 0) return emit_plain(c, OP_TRANSPOSE, 1);
    if (strcmp(op, "Add") == 0) return emit_plain(c, OP_ADD, 2);
    if (strcmp(op, "Mul") == 0) return emit_plain(c, OP_MUL, 2);
    if (strcmp(op, "Sub") == 0) return emit_plain(c, OP_SUB, 2);
    if (strcmp(op, "Div") == 0) return emit_plain(c, OP_DIV, 2);
    if (strcmp(op, "Pow") == 0) return emit_plain(c, OP_POW, 2);
    if (strcmp(op, "Sqrt") == 0) return emit_plain(c, OP_SQRT, 1);
    if (strcmp(op, "Erf") == 0) return emit_plain(c, OP_ERF, 1);
    if (strcmp(op, "Neg") == 0) return neg(c);
    if (strcmp(op, "Concat") == 0) {
        for (int i = 0; i < c->n->n_in; i++)
            if (!c->in[i])
                return ox_nfail(c, QS_EFORMAT, "input %d is empty", i);
        return emit_plain(c, OP_CONCAT, c->n->n_in);
    }
    if (strcmp(op, "ReduceMean") == 0) return reduce(c, OP_REDUCEMEAN, 18);
    if (strcmp(op, "ReduceMax") == 0) return reduce(c, OP_REDUCEMAX, 18);
    if (strcmp(op, "ReduceSum") == 0) return reduce(c, OP_REDUCESUM, 13);
    if (strcmp(op, "Identity") == 0) return emit_plain(c, OP_IDENTITY, 1);
    if (strcmp(op, "Dropout") == 0) {
        Attr a[1];
        int na = 0;
        const OxAttr *r = ox_attr_get(c->n, "ratio");
        if (r && r->type == OA_FLOAT)
            a[na++] = attr_float("ratio", r->f);
        st = emit(c, OP_DROPOUT, c->in, 1, a, na);
        release_attrs(a, na);
        return st;
    }
    if (strcmp(op, "Pad") == 0) return pad(c);
    if (strcmp(op, "Resize") == 0) return resize(c, false);
    if (strcmp(op, "Upsample") == 0) return resize(c, true);
    if (strcmp(op, "LayerNormalization") == 0) {
        Attr a[2] = { attr_int("axis", ox_attr_int(c->n, "axis", -1)),
                      attr_float("epsilon", 1e-5f) };
        const OxAttr *e = ox_attr_get(c->n, "epsilon");
        if (e && e->type == OA_FLOAT)
            a[1].f = e->f;
        st = emit(c, OP_LAYERNORM, c->in, c->n->n_in > 3 ? 3 : c->n->n_in, a, 2);
        release_attrs(a, 2);
        return st;
    }
    if (strcmp(op, "Slice") == 0) return slice(c);
    if (strcmp(op, "Squeeze") == 0) return squeeze_like(c, false);
    if (strcmp(op, "Unsqueeze") == 0) return squeeze_like(c, true);
    if (strcmp(op, "Cast") == 0) {
        if (!ox_is_float((int)ox_attr_int(c->n, "to", 0)))
            return ox_nfail(c, QS_EUNSUPPORTED, "a cast to %s at run time (qscope computes in "
                            "float)", ox_type_name((int)ox_attr_int(c->n, "to", 0)));
        return emit(c, OP_IDENTITY, c->in, 1, NULL, 0);
    }
    return ox_nfail(c, QS_EUNSUPPORTED, "only constant inputs are supported (an input is "
                    "computed at run time)");
}

/* ---- the graph walk */

static void ox_release(Ox *x)
{
    graph_free_ox(&x->f.g);
    for (int i = 0; i < x->n_vals; i++) {
        tensor_free(x->vals[i].k);
        free(x->vals[i].qname);
    }
    free(x->vals);
    free(x->table);
}

static QsStatus ox_inputs(Ox *x, QsError *err)
{
    const OxGraph *g = &x->f.g;
    for (int i = 0; i < g->n_inits; i++) {
        OxVal *v;
        if (ox_define(x, g->inits[i].name, &v, err))
            return err->code;
        v->is_const = true;
        v->from_init = true;
        v->k = g->inits[i].t;
        g->inits[i].t = NULL; /* moved */
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const OxInfo *in = &g->inputs[i];
        OxVal *v = ox_val(x, in->name);
        if (v) /* IR < 4: initializers are listed as inputs too */
            continue;
        if (in->elem != OT_FLOAT)
            return qs_fail(err, QS_EUNSUPPORTED, "input '%s': element type %s, qscope takes "
                           "FLOAT inputs", in->name, ox_type_name(in->elem));
        if (!in->has_shape || in->ndim < 1)
            return qs_fail(err, QS_EUNSUPPORTED, "input '%s': no shape; qscope needs every "
                           "dim but the batch", in->name);
        if (in->known[0] && in->dim[0] != 1)
            return qs_fail(err, QS_EUNSUPPORTED, "input '%s': batch dim is fixed at %lld; "
                           "qscope accepts 1 or a symbolic (dynamic) batch", in->name,
                           (long long)in->dim[0]);
        if (in->known[0])
            x->batch_fixed1 = true;
        Shape sample = { .ndim = in->ndim - 1 };
        for (int d = 1; d < in->ndim; d++) {
            if (!in->known[d] || in->dim[d] < 1 || in->dim[d] > INT32_MAX)
                return qs_fail(err, QS_EUNSUPPORTED, "input '%s': dim %d is %s; qscope needs "
                               "fixed sizes for every dim but the batch", in->name, d,
                               in->known[d] ? "out of range" : "symbolic");
            sample.dim[d - 1] = in->dim[d];
        }
        if (graph_add_input(x->g, in->name, &sample, err))
            return err->code;
        if (ox_define(x, in->name, &v, err))
            return err->code;
        v->shape = shape_make(in->ndim, in->dim);
        v->shape.dim[0] = 1;
        v->in_graph = true;
        v->qname = xstrdup(in->name);
    }
    if (x->g->n_inputs == 0)
        return qs_fail(err, QS_EUNSUPPORTED, "the graph has no inputs (only constants)");
    return QS_OK;
}

/* Live nodes: those a graph output depends on, in an order where producers come first.
 * ONNX requires topological order in the file, but it is recomputed here (and cycles and
 * missing producers reported) rather than trusted. */
static QsStatus ox_order(Ox *x, int **order_out, int *n_out, bool **used_out, QsError *err)
{
    const OxGraph *g = &x->f.g;
    int nn = g->n_nodes;
    /* producer of every output name, through a temporary value table of node outputs */
    int *prod = NULL, n_prod = 0;
    Ox tmp;
    memset(&tmp, 0, sizeof tmp);
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            const char *o = g->nodes[i].out[k];
            if (!o[0])
                continue;
            if (ox_val(x, o)) {
                free(tmp.vals);
                free(tmp.table);
                free(prod);
                return qs_fail(err, QS_EFORMAT, "%s '%s': output '%s' is also a graph input "
                               "or initializer", g->nodes[i].op, ox_node_name(&g->nodes[i]), o);
            }
            OxVal *v;
            if (ox_define(&tmp, o, &v, err)) {
                free(tmp.vals);
                free(tmp.table);
                free(prod);
                return err->code;
            }
            prod = xrealloc(prod, (size_t)(n_prod + 1) * sizeof *prod);
            prod[n_prod++] = i;
        }
    bool *live = xcalloc((size_t)(nn ? nn : 1), sizeof *live);
    bool *done = xcalloc((size_t)(nn ? nn : 1), sizeof *done);
    bool *used = xcalloc((size_t)(n_prod ? n_prod : 1), sizeof *used);
    int *stack = xmalloc((size_t)(2 * nn + 2) * sizeof *stack);
    int *order = xmalloc((size_t)(nn ? nn : 1) * sizeof *order);
    int n_order = 0;
    QsStatus st = QS_OK;
    /* Which outputs are read by anyone (for the extra-output check). */
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int p = g->nodes[i].in[k][0] ? ox_find(&tmp, g->nodes[i].in[k]) : -1;
            if (p >= 0)
                used[p] = true;
        }
    for (int i = 0; i < g->n_outputs; i++) {
        int p = ox_find(&tmp, g->outputs[i].name);
        if (p >= 0)
            used[p] = true;
    }
    /* Iterative DFS from every graph output: post-order gives producers first. */
    for (int oi = 0; oi < g->n_outputs && !st; oi++) {
        int p = ox_find(&tmp, g->outputs[oi].name);
        if (p < 0) {
            if (!ox_val(x, g->outputs[oi].name))
                st = qs_fail(err, QS_EFORMAT, "graph output '%s' is produced by no node",
                             g->outputs[oi].name);
            continue;
        }
        int sp = 0;
        if (!live[prod[p]]) {
            stack[sp++] = prod[p];
            live[prod[p]] = true;
        }
        while (sp > 0 && !st) {
            int ni = stack[sp - 1];
            const OxNode *nd = &g->nodes[ni];
            bool pushed = false;
            for (int k = 0; k < nd->n_in && !pushed; k++) {
                const char *in = nd->in[k];
                if (!in[0])
                    continue;
                int q = ox_find(&tmp, in);
                if (q < 0) {
                    if (!ox_val(x, in))
                        st = qs_fail(err, QS_EFORMAT, "%s '%s': input '%s' is not defined",
                                     nd->op, ox_node_name(nd), in);
                    continue;
                }
                int pn = prod[q];
                if (!live[pn]) {
                    live[pn] = true;
                    stack[sp++] = pn;
                    pushed = true;
                } else if (!done[pn]) {
                    st = qs_fail(err, QS_EFORMAT, "%s '%s': the graph has a cycle through "
                                 "'%s'", nd->op, ox_node_name(nd), in);
                }
            }
            if (!pushed && !st) {
                done[ni] = true;
                order[n_order++] = ni;
                sp--;
            }
        }
    }
    /* used[] indexed by the node-output table; re-map to (node, k) for the caller. */
    bool *used_nk = xcalloc((size_t)(nn ? nn : 1) * OX_MAX_NODE_IO, sizeof *used_nk);
    for (int q = 0; q < n_prod; q++) {
        int ni = prod[q];
        const char *name = tmp.vals[q].name;
        for (int k = 0; k < g->nodes[ni].n_out; k++)
            if (strcmp(g->nodes[ni].out[k], name) == 0)
                used_nk[(size_t)ni * OX_MAX_NODE_IO + k] = used[q];
    }
    free(tmp.vals);
    free(tmp.table);
    free(prod);
    free(live);
    free(done);
    free(used);
    free(stack);
    if (st) {
        free(order);
        free(used_nk);
        return st;
    }
    *order_out = order;
    *n_out = n_order;
    *used_out = used_nk;
    return QS_OK;
}

/* HardSwish as exported below opset 14: Mul(x, HardSigmoid(x; alpha 1/6, beta 1/2)) where
 * the HardSigmoid feeds only that Mul. fuse[i] = -2 marks such a HardSigmoid (skipped);
 * fuse[mul] = the HardSigmoid's node index (the Mul becomes HardSwish under its own name);
 * -1 elsewhere. */
static void ox_fusions(const OxGraph *g, const int *order, int n_order, int *fuse)
{
    for (int i = 0; i < g->n_nodes; i++)
        fuse[i] = -1;
    for (int k = 0; k < n_order; k++) {
        const OxNode *h = &g->nodes[order[k]];
        const OxAttr *a = ox_attr_get(h, "alpha"), *b = ox_attr_get(h, "beta");
        if (strcmp(h->op, "HardSigmoid") != 0 || h->n_in != 1 || h->n_out != 1 || !a || !b ||
            a->type != OA_FLOAT || b->type != OA_FLOAT || fabsf(a->f - 1.0f / 6.0f) > 1e-6f ||
            b->f != 0.5f)
            continue;
        int users = 0, mul = -1;
        for (int j = 0; j < n_order; j++) {
            const OxNode *u = &g->nodes[order[j]];
            for (int q = 0; q < u->n_in; q++)
                if (strcmp(u->in[q], h->out[0]) == 0) {
                    users++;
                    if (strcmp(u->op, "Mul") == 0 && u->n_in == 2 &&
                        strcmp(u->in[1 - q], h->in[0]) == 0)
                        mul = order[j];
                }
        }
        for (int o = 0; o < g->n_outputs; o++)
            users += strcmp(g->outputs[o].name, h->out[0]) == 0;
        if (users == 1 && mul >= 0) {
            fuse[order[k]] = -2;
            fuse[mul] = order[k];
        }
    }
}

/* A unique layer name for node i: its own when it has one and it is free. */
static char *ox_layer_name(Ox *x, const OxNode *n, int i)
{
    char buf[OX_MAX_NAME + 32];
    if (n->name && n->name[0] && graph_find_node(x->g, n->name) < 0)
        return xstrdup(n->name);
    const char *base = n->name && n->name[0] ? n->name : n->op;
    snprintf(buf, sizeof buf, "%s_%d", base, i);
    for (int k = 1; graph_find_node(x->g, buf) >= 0 && k < 1000; k++)
        snprintf(buf, sizeof buf, "%s_%d_%d", base, i, k);
    return xstrdup(buf);
}

static QsStatus ox_build(Ox *x, QsError *err)
{
    const OxGraph *g = &x->f.g;
    QsStatus st = ox_inputs(x, err);
    if (st)
        return st;
    int *order = NULL, n_order = 0;
    bool *used = NULL;
    if ((st = ox_order(x, &order, &n_order, &used, err)))
        return st;
    /* Every unsupported live node, in one message. */
    char list[400] = "";
    size_t at = 0;
    int n_bad = 0;
    for (int k = 0; k < n_order; k++) {
        const OxNode *n = &g->nodes[order[k]];
        if (ox_op(n))
            continue;
        if (n_bad++ < 12 && at < sizeof list)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s%s%s (%s)",
                                   n_bad > 1 ? ", " : "", n->domain && n->domain[0] ? n->domain : "",
                                   n->domain && n->domain[0] ? "::" : "", n->op, ox_node_name(n));
    }
    if (n_bad) {
        free(order);
        free(used);
        return qs_fail(err, QS_EUNSUPPORTED, "%d unsupported node%s: %s%s", n_bad,
                       n_bad > 1 ? "s" : "", list, n_bad > 12 ? ", ..." : "");
    }
    int *fuse = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *fuse);
    ox_fusions(g, order, n_order, fuse);
    for (int k = 0; k < n_order && !st; k++) {
        int i = order[k];
        const OxNode *n = &g->nodes[i];
        OxCtx c = { .x = x, .n = n, .err = err };
        if (fuse[i] == -2)
            continue;
        bool all_const = true;
        for (int j = 0; j < n->n_in; j++) {
            c.in[j] = ox_val(x, n->in[j]);
            if (n->in[j][0] && !c.in[j]) {
                st = qs_fail(err, QS_EFORMAT, "%s '%s': input '%s' is not defined", n->op,
                             ox_node_name(n), n->in[j]);
                break;
            }
            if (c.in[j] && !c.in[j]->is_const)
                all_const = false;
        }
        if (st)
            break;
        if (n->n_out < 1 || !n->out[0][0]) {
            st = qs_fail(err, QS_EFORMAT, "%s '%s': no output", n->op, ox_node_name(n));
            break;
        }
        char *lname = ox_layer_name(x, n, i);
        c.name = lname;
        const OxOp *op = ox_op(n);
        if (fuse[i] >= 0) {
            OxVal *hx = ox_val(x, g->nodes[fuse[i]].in[0]);
            st = hx ? emit(&c, OP_HARDSWISH, &hx, 1, NULL, 0)
                    : ox_nfail(&c, QS_EFORMAT, "HardSigmoid input is not defined");
        } else if (op->kmode == K_ONLY && strcmp(n->op, "Shape") != 0 &&
            strcmp(n->op, "Constant") != 0 && !all_const)
            st = ox_nfail(&c, QS_EUNSUPPORTED, "only constant inputs are supported (an input "
                          "is computed at run time)");
        else if (op->kmode == K_ONLY || (op->kmode == K_PREFER && all_const))
            st = ox_const_eval(&c);
        else
            st = ox_runtime(&c, used + (size_t)i * OX_MAX_NODE_IO);
        free(lname);
    }
    free(order);
    free(used);
    free(fuse);
    if (st)
        return st;
    for (int i = 0; i < g->n_outputs; i++) {
        OxVal *v = ox_val(x, g->outputs[i].name);
        if (!v)
            return qs_fail(err, QS_EFORMAT, "graph output '%s' is not defined",
                           g->outputs[i].name);
        if (v->is_const)
            return qs_fail(err, QS_EUNSUPPORTED, "graph output '%s' is a constant (it does not "
                           "depend on any input)", g->outputs[i].name);
        if (graph_add_output(x->g, v->qname, err))
            return err->code;
    }
    if (g->n_outputs == 0)
        return qs_fail(err, QS_EFORMAT, "the graph has no outputs");
    if ((st = graph_finalize(x->g, err)))
        return st;
    return model_pack(x->m, err);
}

Model *onnx_parse(const void *buf, size_t len, const char *dir, const char *what,
                  QsError *err)
{
    QsError e = { 0 };
    Ox x;
    memset(&x, 0, sizeof x);
    x.f.dir = dir;
    QsStatus st = ox_model(&x.f, buf, len, &e);
    if (!st) {
        x.opset = x.f.opset;
        x.m = model_new();
        x.g = &x.m->graph;
        st = ox_build(&x, &e);
    }
    Model *m = x.m;
    if (st) {
        model_free(m);
        m = NULL;
        qs_error_prefix(&e, "%s", what ? what : "onnx");
        if (err)
            *err = e;
    } else {
        model_meta_set(m, "source", "onnx");
        char op[16];
        snprintf(op, sizeof op, "%d", x.opset);
        model_meta_set(m, "onnx_opset", op);
    }
    ox_release(&x);
    return m;
}

Model *onnx_load(const char *path, QsError *err)
{
    void *buf;
    size_t len;
    if (fileio_read(path, &buf, &len, err))
        return NULL;
    /* External data lives beside the model file. */
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    Model *m = onnx_parse(buf, len, dir, path, err);
    free(dir);
    free(buf);
    return m;
}
