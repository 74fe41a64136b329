/* The native model format: a safetensors file whose __metadata__ carries the graph.
 * docs/formats.md is the specification; this file follows it section by section.
 *
 * Loading is two-phase. Phase one reads nothing but the JSON header and checks every
 * length, offset, dtype, shape, name and reference in it, so a hostile file is rejected
 * before any buffer sized from it exists. Phase two allocates the weight arena, copies the
 * tensors and builds the graph through graph.h, which checks again (arity, shapes).
 *
 * qsm_load maps the file (io/filemap.h) instead of reading it: every tensor whose bytes lie
 * at its element's alignment in the mapping stays there as a view (the model owns the
 * mapping), so a multi-gigabyte model loads without a copy; only misaligned tensors are
 * copied into the arena. */
#include "native/qsm.h"

#include <cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/budget.h"
#include "io/fileio.h"
#include "io/filemap.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "base/tensor.h"
#include "base/utf8.h"
#include "native/jsontext.h"

/* Tensor bytes are stored little-endian and copied as they are. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "qsm.c assumes a little-endian host"
#endif

#define QSM_VERSION "1"
/* The safetensors reference implementation refuses headers above 100 MB; so do we. */
#define QSM_MAX_HEADER 100000000ull
/* Graph building is quadratic in the number of values (graph_find_value is a linear
 * scan), so absurd counts from a hostile file are refused up front. Real models have a
 * few thousand at most. */
#define QSM_MAX_TENSORS 65536
#define QSM_MAX_NODES 65536
#define QSM_MAX_ATTRS 64
#define QSM_MAX_NODE_INPUTS 64
#define QSM_VARIANT_PREFIX "variant/"
#define QSM_META_PREFIX "meta."
/* Integers in JSON numbers are exact in a double up to 2^53. */
#define QSM_MAX_EXACT_INT 9007199254740992.0
#define QSM_ARENA_ALIGN 64

/* ---------------------------------------------------------------------------------------
 * Small helpers */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A JSON number that is an integer in [lo, hi]; NaN and fractions fail. */
static bool json_integer(const cJSON *j, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return false;
    *out = d;
    return true;
}

/* Non-negative integer below 2^63 (dims and offsets). Above 2^53 the text may have been
 * rounded by the JSON parser; such a value can never match a real file's sizes and fails
 * the size checks that follow. */
static bool json_u63(const cJSON *j, uint64_t *out)
{
    double d;
    if (!json_integer(j, 0.0, 0x1p63, &d) || d >= 0x1p63)
        return false;
    *out = (uint64_t)d;
    return true;
}

/* Byte sizes of every safetensors dtype, so that tensors under "variant/" written by later
 * versions (possibly in dtypes qscope does not load yet) can still be checked as part of
 * the container. */
static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    { "BOOL", 1 }, { "U8", 1 },  { "I8", 1 },   { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
    { "I16", 2 },  { "U16", 2 }, { "F16", 2 },  { "BF16", 2 },    { "I32", 4 },
    { "U32", 4 },  { "F32", 4 }, { "F64", 8 },  { "I64", 8 },     { "U64", 8 },
};

static size_t st_dtype_size(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0)
            return st_dtypes[i].size;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Phase one: the header */

typedef struct TensorEntry {
    const char *name;      /* points into the header's cJSON tree */
    int dtype;             /* DType, or -1 for a container-only dtype (variant tensors) */
    const char *st_name;
    size_t elem;           /* bytes per element */
    Shape shape;
    size_t bytes;
    uint64_t begin, end;   /* relative to the data section */
    bool variant;          /* under "variant/": checked, never loaded */
    bool is_param;
    size_t arena_off;
    bool in_map;           /* left in the file's mapping (a view), not copied */
} TensorEntry;

typedef struct InputSpec {
    const char *name;
    Shape sample;          /* per-sample shape, no batch dim */
} InputSpec;

typedef struct NodeSpec {
    const char *name, *output;
    int op;
    int n_in;
    const char **in;       /* "" for an omitted input; strings in the graph cJSON tree */
    int *producer;         /* node index producing in[i], or -1 */
    int n_attrs;
    Attr *attrs;           /* owned */
} NodeSpec;

typedef struct GraphSpec {
    int n_inputs;
    InputSpec *inputs;
    int n_outputs;
    const char **outputs;
    int n_params;
    const char **params;
    int n_nodes;
    NodeSpec *nodes;
} GraphSpec;

/* Everything phase one builds; released in one place. */
typedef struct ParseState {
    cJSON *header, *graph;
    int n_tensors;
    TensorEntry *tensors;
    GraphSpec gs;
    int *order;            /* topological order of gs.nodes */
    const unsigned char *data; /* the data section, inside the caller's buffer */
    uint64_t data_len;
    const FileMap *map;    /* the file's mapping holding data (qsm_load), or NULL */
} ParseState;

static void parse_state_release(ParseState *ps)
{
    for (int i = 0; i < ps->gs.n_nodes; i++) {
        NodeSpec *n = &ps->gs.nodes[i];
        free(n->in);
        free(n->producer);
        for (int k = 0; k < n->n_attrs; k++)
            attr_release(&n->attrs[k]);
        free(n->attrs);
    }
    free(ps->gs.nodes);
    free(ps->gs.inputs);
    free(ps->gs.outputs);
    free(ps->gs.params);
    free(ps->tensors);
    free(ps->order);
    cJSON_Delete(ps->graph);
    cJSON_Delete(ps->header);
}

static QsStatus check_tensor_entry(const cJSON *item, uint64_t data_len, TensorEntry *t,
                                   QsError *e)
{
    const char *name = item->string;
    memset(t, 0, sizeof *t);
    t->name = name;
    t->variant = starts_with(name, QSM_VARIANT_PREFIX);
    if (!name[0])
        return qs_fail(e, QS_EFORMAT, "a tensor has an empty name");
    if (!cJSON_IsObject(item))
        return qs_fail(e, QS_EFORMAT, "tensor '%s': entry is not a JSON object", name);
    const cJSON *dt = member(item, "dtype"), *sh = member(item, "shape"),
                *off = member(item, "data_offsets");
    if (!cJSON_IsString(dt))
        return qs_fail(e, QS_EFORMAT, "tensor '%s': \"dtype\" is missing or not a string", name);
    if (!cJSON_IsArray(sh))
        return qs_fail(e, QS_EFORMAT, "tensor '%s': \"shape\" is missing or not an array", name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return qs_fail(e, QS_EFORMAT,
                       "tensor '%s': \"data_offsets\" is missing or not an array of 2 numbers",
                       name);

    DType d;
    t->st_name = dt->valuestring;
    if (dtype_from_st_name(dt->valuestring, &d) == 0) {
        t->dtype = (int)d;
        t->elem = dtype_size(d);
    } else if (st_dtype_size(dt->valuestring)) {
        if (!t->variant)
            return qs_fail(e, QS_EUNSUPPORTED,
                           "tensor '%s': dtype '%s' is not supported (F32, F16, I8, U8, I32, "
                           "I64 are)",
                           name, dt->valuestring);
        t->dtype = -1;
        t->elem = st_dtype_size(dt->valuestring);
    } else {
        return qs_fail(e, QS_EFORMAT, "tensor '%s': unknown dtype '%s'", name, dt->valuestring);
    }

    int nd = cJSON_GetArraySize(sh);
    if (nd > QS_MAX_DIMS)
        return qs_fail(e, QS_EFORMAT, "tensor '%s': %d dimensions (at most %d)", name, nd,
                       QS_MAX_DIMS);
    t->shape.ndim = nd;
    size_t bytes = t->elem;
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, sh)
    {
        uint64_t v;
        if (!json_u63(it, &v))
            return qs_fail(e, QS_EFORMAT, "tensor '%s': dimension %d is not a non-negative integer",
                           name, k);
        t->shape.dim[k++] = (int64_t)v;
        if (__builtin_mul_overflow(bytes, (size_t)v, &bytes)) {
            /* Dims are all read first so that the message can show the whole shape. */
            for (const cJSON *r = it->next; r && k < nd; r = r->next) {
                uint64_t w = 0;
                json_u63(r, &w);
                t->shape.dim[k++] = (int64_t)w;
            }
            char buf[160];
            return qs_fail(e, QS_EFORMAT, "tensor '%s': %s x %zu bytes overflows the address space",
                           name, shape_format(&t->shape, buf, sizeof buf), t->elem);
        }
    }
    t->bytes = bytes;

    if (!json_u63(cJSON_GetArrayItem(off, 0), &t->begin) ||
        !json_u63(cJSON_GetArrayItem(off, 1), &t->end))
        return qs_fail(e, QS_EFORMAT, "tensor '%s': data offsets are not non-negative integers",
                       name);
    if (t->begin > t->end)
        return qs_fail(e, QS_EFORMAT, "tensor '%s': data offsets [%llu, %llu] run backwards", name,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return qs_fail(e, QS_EFORMAT, "tensor '%s': data offset %llu past end of data (%llu bytes)",
                       name, (unsigned long long)t->end, (unsigned long long)data_len);
    if (t->end - t->begin != bytes) {
        char buf[160];
        return qs_fail(e, QS_EFORMAT, "tensor '%s': data offsets [%llu, %llu] hold %llu bytes, but "
                       "%s %s needs %zu",
                       name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin), t->st_name,
                       shape_format(&t->shape, buf, sizeof buf), bytes);
    }
    return QS_OK;
}

static int cmp_entry_offsets(const void *a, const void *b)
{
    const TensorEntry *x = *(const TensorEntry *const *)a, *y = *(const TensorEntry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* safetensors' own rule: sorted by offset, the tensors tile the data section exactly. */
static QsStatus check_coverage(const ParseState *ps, uint64_t data_len, QsError *e)
{
    int n = ps->n_tensors;
    const TensorEntry **by_off = xmalloc((size_t)(n ? n : 1) * sizeof *by_off);
    for (int i = 0; i < n; i++)
        by_off[i] = &ps->tensors[i];
    qsort(by_off, (size_t)n, sizeof *by_off, cmp_entry_offsets);
    QsStatus st = QS_OK;
    uint64_t pos = 0;
    for (int i = 0; i < n && !st; i++) {
        const TensorEntry *t = by_off[i];
        if (t->begin < pos)
            st = qs_fail(e, QS_EFORMAT, "tensors '%s' and '%s' overlap at data offset %llu",
                         by_off[i - 1]->name, t->name, (unsigned long long)t->begin);
        else if (t->begin > pos)
            st = qs_fail(e, QS_EFORMAT,
                         "data bytes %llu to %llu are not covered by any tensor (a hole before "
                         "tensor '%s')",
                         (unsigned long long)pos, (unsigned long long)t->begin, t->name);
        pos = t->end;
    }
    if (!st && pos != data_len)
        st = qs_fail(e, QS_EFORMAT,
                     "the tensors cover %llu bytes of data, but the data section has %llu",
                     (unsigned long long)pos, (unsigned long long)data_len);
    free(by_off);
    return st;
}

/* Fails naming the first key of obj that appears twice (JSON allows it, we do not). */
static QsStatus check_unique_keys(const cJSON *obj, const char *what, QsError *e)
{
    int n = cJSON_GetArraySize(obj), k = 0;
    const char **keys = xmalloc((size_t)(n ? n : 1) * sizeof *keys);
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        keys[k++] = it->string;
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_str_ptr);
    QsStatus st = QS_OK;
    for (int i = 1; i < n && !st; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            st = qs_fail(e, QS_EFORMAT, "%s '%s' appears twice", what, keys[i]);
    free(keys);
    return st;
}

/* Reads the length, the header JSON and its metadata; checks every tensor entry. */
static QsStatus parse_header(ParseState *ps, const unsigned char *buf, size_t len,
                             const char **graph_json, QsError *e)
{
    if (len < 8)
        return qs_fail(e, QS_EFORMAT, "file is %zu bytes, too short for the 8-byte header length",
                       len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | buf[i];
    if (n > QSM_MAX_HEADER)
        return qs_fail(e, QS_EFORMAT, "header length %llu exceeds the limit of %llu bytes",
                       (unsigned long long)n, QSM_MAX_HEADER);
    if (n > len - 8)
        return qs_fail(e, QS_EFORMAT, "header length %llu runs past the end of the file (%zu bytes)",
                       (unsigned long long)n, len);
    const char *hdr = (const char *)buf + 8;
    if (n == 0 || hdr[0] != '{')
        return qs_fail(e, QS_EFORMAT, "the header at byte 8 does not start with '{'");
    size_t bad = utf8_valid_prefix(hdr, (size_t)n);
    if (bad < n)
        return qs_fail(e, QS_EFORMAT, "the header has a NUL or invalid UTF-8 byte at byte %zu",
                       8 + bad);
    bad = json_nul_escape_at(hdr, (size_t)n);
    if (bad < n)
        return qs_fail(e, QS_EFORMAT, "the header has an escaped NUL (\\u0000) at byte %zu",
                       8 + bad);
    const char *end = NULL;
    ps->header = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!ps->header) {
        size_t at = end ? (size_t)(end - hdr) : 0;
        return qs_fail(e, QS_EFORMAT, "header JSON is malformed near byte %zu", 8 + at);
    }
    for (const char *p = end; p < hdr + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return qs_fail(e, QS_EFORMAT, "unexpected byte after the header JSON at byte %zu",
                           (size_t)(8 + (p - hdr)));
    if (!cJSON_IsObject(ps->header))
        return qs_fail(e, QS_EFORMAT, "the header is not a JSON object");
    if (json_check_names(ps->header, "the header", "__metadata__", e))
        return e->code;
    uint64_t data_len = (uint64_t)(len - 8 - n);

    /* Metadata first: a file that is not ours fails with that, not with a tensor detail. */
    const cJSON *meta = NULL, *item;
    int n_entries = 0;
    if (check_unique_keys(ps->header, "header key", e))
        return e->code;
    cJSON_ArrayForEach(item, ps->header)
    {
        if (strcmp(item->string, "__metadata__") == 0)
            meta = item;
        else
            n_entries++;
    }
    if (!meta)
        return qs_fail(e, QS_EFORMAT, "not a qsm file: the header has no \"__metadata__\"");
    if (!cJSON_IsObject(meta))
        return qs_fail(e, QS_EFORMAT, "\"__metadata__\" is not a JSON object");
    cJSON_ArrayForEach(item, meta)
    {
        if (!cJSON_IsString(item))
            return qs_fail(e, QS_EFORMAT, "metadata '%s': value is not a string", item->string);
    }
    if (check_unique_keys(meta, "metadata key", e))
        return e->code;
    const cJSON *fmt = member(meta, "format"), *ver = member(meta, "qsm.version"),
                *gr = member(meta, "qsm.graph");
    if (!fmt || strcmp(fmt->valuestring, "qsm") != 0)
        return qs_fail(e, QS_EFORMAT, "not a qsm file: metadata \"format\" is %s%s%s, not \"qsm\"",
                       fmt ? "\"" : "", fmt ? fmt->valuestring : "missing", fmt ? "\"" : "");
    if (!ver)
        return qs_fail(e, QS_EFORMAT, "metadata \"qsm.version\" is missing");
    if (strcmp(ver->valuestring, QSM_VERSION) != 0)
        return qs_fail(e, QS_EUNSUPPORTED, "qsm version \"%s\" is not supported (this reader "
                       "knows version " QSM_VERSION ")",
                       ver->valuestring);
    if (!gr)
        return qs_fail(e, QS_EFORMAT, "metadata \"qsm.graph\" is missing");
    *graph_json = gr->valuestring;

    if (n_entries > QSM_MAX_TENSORS)
        return qs_fail(e, QS_EFORMAT, "%d tensors (at most %d)", n_entries, QSM_MAX_TENSORS);
    ps->tensors = xcalloc((size_t)(n_entries ? n_entries : 1), sizeof *ps->tensors);
    cJSON_ArrayForEach(item, ps->header)
    {
        if (item == meta)
            continue;
        if (check_tensor_entry(item, data_len, &ps->tensors[ps->n_tensors], e))
            return e->code;
        ps->n_tensors++;
    }
    ps->data = (const unsigned char *)hdr + n;
    ps->data_len = data_len;
    return check_coverage(ps, data_len, e);
}

/* ---------------------------------------------------------------------------------------
 * Phase one: the graph */

/* Every name a node may consume: graph inputs, loaded tensors, node outputs. */
enum { REF_INPUT, REF_TENSOR, REF_NODE };
typedef struct NameRef {
    const char *name;
    int kind, index;
} NameRef;

/* By name, then kind and index, so that messages about duplicates are deterministic. */
static int cmp_ref(const void *a, const void *b)
{
    const NameRef *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    return (x->index > y->index) - (x->index < y->index);
}

static int cmp_ref_name(const void *key, const void *elem)
{
    return strcmp(((const NameRef *)key)->name, ((const NameRef *)elem)->name);
}

static const NameRef *find_ref(const NameRef *refs, int n, const char *name)
{
    NameRef key = { .name = name };
    return bsearch(&key, refs, (size_t)n, sizeof *refs, cmp_ref_name);
}

static void describe_ref(const ParseState *ps, const NameRef *r, char *buf, size_t cap)
{
    if (r->kind == REF_INPUT)
        snprintf(buf, cap, "a graph input");
    else if (r->kind == REF_TENSOR)
        snprintf(buf, cap, "a tensor");
    else
        snprintf(buf, cap, "the output of node '%s'", ps->gs.nodes[r->index].name);
}

static QsStatus want_array(const cJSON *obj, const char *key, const char *where,
                           const cJSON **out, QsError *e)
{
    *out = member(obj, key);
    if (!cJSON_IsArray(*out))
        return qs_fail(e, QS_EFORMAT, "%s: \"%s\" is missing or not an array", where, key);
    return QS_OK;
}

static QsStatus want_name(const cJSON *obj, const char *key, const char *where,
                          const char **out, QsError *e)
{
    const cJSON *s = member(obj, key);
    if (!cJSON_IsString(s) || !s->valuestring[0])
        return qs_fail(e, QS_EFORMAT, "%s: \"%s\" is missing or not a non-empty string", where,
                       key);
    *out = s->valuestring;
    return QS_OK;
}

/* Reads an array of non-empty strings (graph outputs, params). */
static QsStatus read_names(const cJSON *root, const char *key, const char ***out, int *n_out,
                           QsError *e)
{
    const cJSON *arr, *it;
    if (want_array(root, key, "graph", &arr, e))
        return e->code;
    int n = cJSON_GetArraySize(arr), k = 0;
    *out = xmalloc((size_t)(n ? n : 1) * sizeof **out);
    *n_out = 0;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return qs_fail(e, QS_EFORMAT, "graph \"%s\"[%d] is not a non-empty string", key, k);
        (*out)[k++] = it->valuestring;
        *n_out = k;
    }
    return QS_OK;
}

static QsStatus parse_float(const cJSON *j, float *out)
{
    if (cJSON_IsString(j)) {
        /* JSON has no NaN or infinities; the protobuf JSON mapping's spelling is used. */
        if (strcmp(j->valuestring, "NaN") == 0)
            *out = NAN;
        else if (strcmp(j->valuestring, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(j->valuestring, "-Infinity") == 0)
            *out = -INFINITY;
        else
            return QS_EFORMAT;
        return QS_OK;
    }
    if (!cJSON_IsNumber(j))
        return QS_EFORMAT;
    double d = j->valuedouble;
    /* From the midpoint between FLT_MAX and 2^128 up, the value would round to infinity
     * (below it, "%.9g" of FLT_MAX itself, 3.40282347e+38, must still be accepted). */
    if (!isfinite(d) || fabs(d) >= 0x1.ffffffp127)
        return QS_EFORMAT;
    *out = (float)d;
    return QS_OK;
}

static QsStatus parse_attr(const cJSON *a, const char *node, Attr *out, QsError *e)
{
    const char *name = a->string;
    memset(out, 0, sizeof *out);
    if (!name[0] || strlen(name) >= QS_ATTR_NAME)
        return qs_fail(e, QS_EFORMAT, "node '%s': attribute name '%s' is empty or longer than %d "
                       "characters",
                       node, name, QS_ATTR_NAME - 1);
    strcpy(out->name, name);
    const cJSON *v = cJSON_IsObject(a) ? a->child : NULL;
    if (!v || v->next)
        return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s' must be an object with exactly "
                       "one of \"i\", \"f\", \"ints\", \"floats\", \"s\"",
                       node, name);
    const char *kind = v->string;
    double d;
    if (strcmp(kind, "i") == 0) {
        out->type = ATTR_INT;
        if (!json_integer(v, -QSM_MAX_EXACT_INT, QSM_MAX_EXACT_INT, &d))
            return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s': \"i\" is not an integer "
                           "within +-2^53",
                           node, name);
        out->i = (int64_t)d;
    } else if (strcmp(kind, "f") == 0) {
        out->type = ATTR_FLOAT;
        if (parse_float(v, &out->f))
            return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s': \"f\" is not a float", node,
                           name);
    } else if (strcmp(kind, "ints") == 0 || strcmp(kind, "floats") == 0) {
        bool ints = kind[0] == 'i';
        if (!cJSON_IsArray(v))
            return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s': \"%s\" is not an array",
                           node, name, kind);
        int n = cJSON_GetArraySize(v), k = 0;
        out->type = ints ? ATTR_INTS : ATTR_FLOATS;
        out->n = n;
        if (ints)
            out->ints = xmalloc((size_t)(n ? n : 1) * sizeof *out->ints);
        else
            out->floats = xmalloc((size_t)(n ? n : 1) * sizeof *out->floats);
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            if (ints ? !json_integer(it, -QSM_MAX_EXACT_INT, QSM_MAX_EXACT_INT, &d)
                     : parse_float(it, &out->floats[k]) != QS_OK)
                return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s': element %d is not %s",
                               node, name, k, ints ? "an integer within +-2^53" : "a float");
            if (ints)
                out->ints[k] = (int64_t)d;
            k++;
        }
    } else if (strcmp(kind, "s") == 0) {
        out->type = ATTR_STRING;
        if (!cJSON_IsString(v))
            return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s': \"s\" is not a string", node,
                           name);
        out->s = xstrdup(v->valuestring);
    } else {
        return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s' has unknown kind \"%s\"", node,
                       name, kind);
    }
    return QS_OK;
}

static QsStatus parse_node(const cJSON *jn, int idx, NodeSpec *ns, QsError *e)
{
    char where[160];
    snprintf(where, sizeof where, "graph node %d", idx);
    if (!cJSON_IsObject(jn))
        return qs_fail(e, QS_EFORMAT, "%s is not a JSON object", where);
    if (want_name(jn, "name", where, &ns->name, e))
        return e->code;
    const char *op_name = NULL;
    snprintf(where, sizeof where, "node '%s'", ns->name);
    if (want_name(jn, "op", where, &op_name, e) || want_name(jn, "output", where, &ns->output, e))
        return e->code;
    ns->op = op_find(op_name);
    if (ns->op < 0)
        return qs_fail(e, QS_EUNSUPPORTED, "node '%s': unknown op '%s'", ns->name, op_name);
    const OpDef *def = op_table[ns->op];
    const cJSON *ins = member(jn, "inputs"), *attrs = member(jn, "attrs"), *it;
    if (!cJSON_IsArray(ins))
        return qs_fail(e, QS_EFORMAT, "node '%s': \"inputs\" is missing or not an array",
                       ns->name);
    if (!cJSON_IsObject(attrs))
        return qs_fail(e, QS_EFORMAT, "node '%s': \"attrs\" is missing or not an object",
                       ns->name);
    int n_in = cJSON_GetArraySize(ins);
    int max_in = def->max_in < QSM_MAX_NODE_INPUTS ? def->max_in : QSM_MAX_NODE_INPUTS;
    if (n_in < def->min_in || n_in > max_in) {
        if (def->min_in == max_in)
            return qs_fail(e, QS_EFORMAT, "node '%s': %s takes %d input%s, got %d", ns->name,
                           def->name, max_in, max_in == 1 ? "" : "s", n_in);
        return qs_fail(e, QS_EFORMAT, "node '%s': %s takes %d to %d inputs, got %d", ns->name,
                       def->name, def->min_in, max_in, n_in);
    }
    ns->in = xmalloc((size_t)(n_in ? n_in : 1) * sizeof *ns->in);
    ns->producer = xmalloc((size_t)(n_in ? n_in : 1) * sizeof *ns->producer);
    cJSON_ArrayForEach(it, ins)
    {
        if (!cJSON_IsString(it))
            return qs_fail(e, QS_EFORMAT, "node '%s': input %d is not a string", ns->name,
                           ns->n_in);
        ns->producer[ns->n_in] = -1;
        ns->in[ns->n_in++] = it->valuestring;
    }
    if (n_in > 0 && def->min_in > 0 && !ns->in[0][0])
        return qs_fail(e, QS_EFORMAT, "node '%s': the first input of %s is required", ns->name,
                       def->name);
    int n_attrs = cJSON_GetArraySize(attrs);
    if (n_attrs > QSM_MAX_ATTRS)
        return qs_fail(e, QS_EFORMAT, "node '%s': %d attributes (at most %d)", ns->name, n_attrs,
                       QSM_MAX_ATTRS);
    ns->attrs = xcalloc((size_t)(n_attrs ? n_attrs : 1), sizeof *ns->attrs);
    cJSON_ArrayForEach(it, attrs)
    {
        for (const cJSON *o = attrs->child; o != it; o = o->next)
            if (strcmp(o->string, it->string) == 0)
                return qs_fail(e, QS_EFORMAT, "node '%s': attribute '%s' appears twice", ns->name,
                               it->string);
        QsStatus st = parse_attr(it, ns->name, &ns->attrs[ns->n_attrs], e);
        ns->n_attrs++; /* counted even on failure so that release frees its arrays */
        if (st)
            return st;
    }
    return QS_OK;
}

static QsStatus parse_input(const cJSON *ji, int idx, InputSpec *in, QsError *e)
{
    char where[64];
    snprintf(where, sizeof where, "graph input %d", idx);
    if (!cJSON_IsObject(ji))
        return qs_fail(e, QS_EFORMAT, "%s is not a JSON object", where);
    if (want_name(ji, "name", where, &in->name, e))
        return e->code;
    const cJSON *sh = member(ji, "shape"), *it;
    if (!cJSON_IsArray(sh))
        return qs_fail(e, QS_EFORMAT, "input '%s': \"shape\" is missing or not an array",
                       in->name);
    int nd = cJSON_GetArraySize(sh);
    if (nd + 1 > QS_MAX_DIMS)
        return qs_fail(e, QS_EFORMAT, "input '%s': %d dimensions per sample (at most %d)",
                       in->name, nd, QS_MAX_DIMS - 1);
    in->sample.ndim = nd;
    int k = 0;
    cJSON_ArrayForEach(it, sh)
    {
        double d;
        if (!json_integer(it, 1, QSM_MAX_EXACT_INT, &d))
            return qs_fail(e, QS_EFORMAT, "input '%s': dimension %d is not a positive integer",
                           in->name, k);
        in->sample.dim[k++] = (int64_t)d;
    }
    return QS_OK;
}

/* Orders nodes so that producers come first, keeping the file's order when it already is
 * one. Iterative, so a long chain in a hostile file cannot overflow the stack. */
static QsStatus topo_order(ParseState *ps, QsError *e)
{
    const GraphSpec *gs = &ps->gs;
    int n = gs->n_nodes;
    size_t cap = (size_t)(n ? n : 1);
    char *state = xcalloc(cap, 1); /* 0 new, 1 on the stack, 2 done */
    int *stack = xmalloc(cap * sizeof *stack), *next = xcalloc(cap, sizeof *next);
    ps->order = xmalloc(cap * sizeof *ps->order);
    int n_order = 0;
    QsStatus st = QS_OK;
    for (int root = 0; root < n && !st; root++) {
        if (state[root])
            continue;
        int sp = 0;
        stack[sp++] = root;
        state[root] = 1;
        while (sp && !st) {
            int v = stack[sp - 1];
            const NodeSpec *ns = &gs->nodes[v];
            if (next[v] < ns->n_in) {
                int p = ns->producer[next[v]++];
                if (p < 0 || state[p] == 2)
                    continue;
                if (state[p] == 1) {
                    if (p == v)
                        st = qs_fail(e, QS_EFORMAT, "node '%s' consumes its own output '%s'",
                                     ns->name, ns->output);
                    else
                        st = qs_fail(e, QS_EFORMAT,
                                     "the graph has a cycle: node '%s' depends on node '%s', "
                                     "which depends on it",
                                     ns->name, gs->nodes[p].name);
                    break;
                }
                state[p] = 1;
                stack[sp++] = p;
            } else {
                state[v] = 2;
                ps->order[n_order++] = v;
                sp--;
            }
        }
    }
    free(state);
    free(stack);
    free(next);
    return st;
}

/* Resolves every name: uniqueness across inputs, tensors and node outputs, node inputs,
 * graph outputs and params. */
static QsStatus check_references(ParseState *ps, QsError *e)
{
    GraphSpec *gs = &ps->gs;
    int n_refs = 0;
    NameRef *refs = xmalloc((size_t)(gs->n_inputs + ps->n_tensors + gs->n_nodes + 1) *
                            sizeof *refs);
    for (int i = 0; i < gs->n_inputs; i++)
        refs[n_refs++] = (NameRef){ gs->inputs[i].name, REF_INPUT, i };
    for (int i = 0; i < ps->n_tensors; i++)
        if (!ps->tensors[i].variant)
            refs[n_refs++] = (NameRef){ ps->tensors[i].name, REF_TENSOR, i };
    for (int i = 0; i < gs->n_nodes; i++)
        refs[n_refs++] = (NameRef){ gs->nodes[i].output, REF_NODE, i };
    qsort(refs, (size_t)n_refs, sizeof *refs, cmp_ref);
    const char **node_names = xmalloc((size_t)(gs->n_nodes + 1) * sizeof *node_names);
    for (int i = 0; i < gs->n_nodes; i++)
        node_names[i] = gs->nodes[i].name;
    qsort(node_names, (size_t)gs->n_nodes, sizeof *node_names, cmp_str_ptr);

    QsStatus st = QS_OK;
    for (int i = 1; i < n_refs && !st; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0) {
            char a[160], b[160];
            describe_ref(ps, &refs[i - 1], a, sizeof a);
            describe_ref(ps, &refs[i], b, sizeof b);
            st = qs_fail(e, QS_EFORMAT, "name '%s' is defined twice: %s and %s", refs[i].name, a,
                         b);
        }
    for (int i = 1; i < gs->n_nodes && !st; i++)
        if (strcmp(node_names[i - 1], node_names[i]) == 0)
            st = qs_fail(e, QS_EFORMAT, "node name '%s' is used twice", node_names[i]);
    for (int i = 0; i < gs->n_nodes && !st; i++) {
        NodeSpec *ns = &gs->nodes[i];
        for (int k = 0; k < ns->n_in && !st; k++) {
            if (!ns->in[k][0])
                continue;
            const NameRef *r = find_ref(refs, n_refs, ns->in[k]);
            if (!r)
                st = qs_fail(e, QS_EFORMAT, "node '%s': input '%s' is not defined", ns->name,
                             ns->in[k]);
            /* Every op's float forward reads its inputs as F32 (infer sees only shapes), so
             * an I8 weight of the right shape would be read past its end. */
            else if (r->kind == REF_TENSOR && ps->tensors[r->index].dtype != DT_F32)
                st = qs_fail(e, QS_EUNSUPPORTED,
                             "node '%s': input '%s' is %s, but ops read F32 tensors only",
                             ns->name, ns->in[k], ps->tensors[r->index].st_name);
            else if (r->kind == REF_NODE)
                ns->producer[k] = r->index;
        }
    }
    for (int i = 0; i < gs->n_outputs && !st; i++) {
        const NameRef *r = find_ref(refs, n_refs, gs->outputs[i]);
        if (!r)
            st = qs_fail(e, QS_EFORMAT, "graph output '%s' is not defined", gs->outputs[i]);
        else if (r->kind == REF_TENSOR)
            st = qs_fail(e, QS_EFORMAT, "graph output '%s' is a constant tensor", gs->outputs[i]);
    }
    if (!st && gs->n_outputs > 1) {
        const char **outs = xmalloc((size_t)gs->n_outputs * sizeof *outs);
        memcpy(outs, gs->outputs, (size_t)gs->n_outputs * sizeof *outs);
        qsort(outs, (size_t)gs->n_outputs, sizeof *outs, cmp_str_ptr);
        for (int i = 1; i < gs->n_outputs && !st; i++)
            if (strcmp(outs[i - 1], outs[i]) == 0)
                st = qs_fail(e, QS_EFORMAT, "graph output '%s' is listed twice", outs[i]);
        free(outs);
    }
    for (int i = 0; i < gs->n_params && !st; i++) {
        const NameRef *r = find_ref(refs, n_refs, gs->params[i]);
        if (!r || r->kind != REF_TENSOR)
            st = qs_fail(e, QS_EFORMAT, "param '%s' is not a tensor in the file", gs->params[i]);
        else if (ps->tensors[r->index].is_param)
            st = qs_fail(e, QS_EFORMAT, "param '%s' is listed twice", gs->params[i]);
        else
            ps->tensors[r->index].is_param = true;
    }
    free(refs);
    free(node_names);
    if (st)
        return st;
    return topo_order(ps, e);
}

static QsStatus parse_graph(ParseState *ps, const char *json, QsError *e)
{
    const char *end = NULL;
    size_t len = strlen(json), bad = json_nul_escape_at(json, len);
    if (bad < len)
        return qs_fail(e, QS_EFORMAT, "metadata \"qsm.graph\" has an escaped NUL (\\u0000) at "
                       "character %zu", bad);
    ps->graph = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!ps->graph) {
        size_t at = end ? (size_t)(end - json) : 0;
        return qs_fail(e, QS_EFORMAT, "metadata \"qsm.graph\": JSON is malformed near character %zu",
                       at);
    }
    for (const char *p = end; p < json + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return qs_fail(e, QS_EFORMAT,
                           "metadata \"qsm.graph\": unexpected text after the JSON at character %zu",
                           (size_t)(p - json));
    const cJSON *root = ps->graph, *arr, *it;
    if (!cJSON_IsObject(root))
        return qs_fail(e, QS_EFORMAT, "metadata \"qsm.graph\" is not a JSON object");
    if (json_check_names(root, "\"qsm.graph\"", NULL, e))
        return e->code;
    GraphSpec *gs = &ps->gs;

    if (want_array(root, "inputs", "graph", &arr, e))
        return e->code;
    int n = cJSON_GetArraySize(arr);
    if (n == 0)
        return qs_fail(e, QS_EFORMAT, "the graph has no inputs");
    if (n > QSM_MAX_NODES)
        return qs_fail(e, QS_EFORMAT, "%d graph inputs (at most %d)", n, QSM_MAX_NODES);
    gs->inputs = xcalloc((size_t)n, sizeof *gs->inputs);
    cJSON_ArrayForEach(it, arr)
    {
        if (parse_input(it, gs->n_inputs, &gs->inputs[gs->n_inputs], e))
            return e->code;
        gs->n_inputs++;
    }

    if (want_array(root, "nodes", "graph", &arr, e))
        return e->code;
    n = cJSON_GetArraySize(arr);
    if (n > QSM_MAX_NODES)
        return qs_fail(e, QS_EFORMAT, "%d nodes (at most %d)", n, QSM_MAX_NODES);
    gs->nodes = xcalloc((size_t)(n ? n : 1), sizeof *gs->nodes);
    cJSON_ArrayForEach(it, arr)
    {
        QsStatus st = parse_node(it, gs->n_nodes, &gs->nodes[gs->n_nodes], e);
        gs->n_nodes++; /* counted even on failure so that release frees its arrays */
        if (st)
            return st;
    }

    if (read_names(root, "outputs", &gs->outputs, &gs->n_outputs, e) ||
        read_names(root, "params", &gs->params, &gs->n_params, e))
        return e->code;
    if (gs->n_outputs == 0)
        return qs_fail(e, QS_EFORMAT, "the graph has no outputs");
    return check_references(ps, e);
}

/* ---------------------------------------------------------------------------------------
 * Phase two: build the model */

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static QsStatus build_model(ParseState *ps, Model **out, QsError *e)
{
    /* Loaded tensors are laid out in data-offset order, each at its natural alignment. For files
     * qscope writes this reproduces the data section byte for byte; other writers' files
     * and files with variants still get aligned views. */
    TensorEntry **by_off = xmalloc((size_t)(ps->n_tensors + 1) * sizeof *by_off);
    for (int i = 0; i < ps->n_tensors; i++)
        by_off[i] = &ps->tensors[i];
    qsort(by_off, (size_t)ps->n_tensors, sizeof *by_off, cmp_entry_offsets);
    size_t total = 0;
    for (int i = 0; i < ps->n_tensors; i++) {
        TensorEntry *t = by_off[i];
        if (t->variant)
            continue;
        t->in_map = ps->map && t->bytes && (uintptr_t)(ps->data + t->begin) % t->elem == 0;
        if (t->in_map)
            continue;
        total = align_up(total, t->elem);
        t->arena_off = total;
        /* Cannot overflow: the sum of sizes is at most the file's length, and padding adds
         * at most 7 bytes per tensor. Checked anyway, as all sizes from input are. */
        if (__builtin_add_overflow(total, t->bytes, &total)) {
            free(by_off);
            return qs_fail(e, QS_ENOMEM, "weights overflow the address space");
        }
    }
    free(by_off);
    /* Never more than the file holds, so only a max_memory set below the file's size
     * refuses it: the total a file may make qscope allocate stays under max_memory. Mapped
     * tensors are the file's own bytes and are not charged. */
    Budget budget = budget_for_file((int64_t)ps->data_len);
    if (budget_charge(&budget, (int64_t)total, 1, "weights", e))
        return e->code;

    Model *m = model_new();
    void *arena = NULL;
    if (posix_memalign(&arena, QSM_ARENA_ALIGN, total ? total : QSM_ARENA_ALIGN)) {
        model_free(m);
        return qs_fail(e, QS_ENOMEM, "cannot allocate %zu bytes for the weights", total);
    }
    m->arena = arena;
    m->arena_bytes = total;
    for (int i = 0; i < ps->n_tensors; i++) {
        const TensorEntry *t = &ps->tensors[i];
        if (!t->variant && !t->in_map && t->bytes)
            memcpy((char *)arena + t->arena_off, ps->data + t->begin, t->bytes);
    }

    Graph *g = &m->graph;
    const GraphSpec *gs = &ps->gs;
    QsStatus st = QS_OK;
    for (int i = 0; i < gs->n_inputs && !st; i++)
        st = graph_add_input(g, gs->inputs[i].name, &gs->inputs[i].sample, e);
    for (int i = 0; i < ps->n_tensors && !st; i++) {
        const TensorEntry *t = &ps->tensors[i];
        if (t->variant)
            continue;
        Tensor *view = xmalloc(sizeof *view);
        void *at = t->in_map ? (void *)(ps->data + t->begin) : (char *)arena + t->arena_off;
        *view = tensor_view((DType)t->dtype, t->shape, at);
        st = graph_add_const(g, t->name, view, t->is_param, e);
    }
    for (int k = 0; k < gs->n_nodes && !st; k++) {
        const NodeSpec *ns = &gs->nodes[ps->order[k]];
        st = graph_add_node(g, ns->op, ns->name, ns->in, ns->n_in, ns->output, ns->attrs,
                            ns->n_attrs, e);
    }
    for (int i = 0; i < gs->n_outputs && !st; i++)
        st = graph_add_output(g, gs->outputs[i], e);
    if (!st)
        st = graph_finalize(g, e);
    if (st) {
        model_free(m);
        return st;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, member(ps->header, "__metadata__"))
    {
        if (starts_with(item->string, QSM_META_PREFIX))
            model_meta_set(m, item->string + strlen(QSM_META_PREFIX), item->valuestring);
    }
    *out = m;
    return QS_OK;
}

/* Parses buf; with map (buf is map's memory), tensors may stay in the mapping and the
 * model takes the mapping over (map->mapped is then cleared). */
static Model *parse_model(const void *buf, size_t len, FileMap *map, const char *what,
                          QsError *err)
{
    QsError e = { 0 };
    ParseState ps;
    memset(&ps, 0, sizeof ps);
    ps.map = map;
    Model *m = NULL;
    const char *graph_json = NULL;
    if (!parse_header(&ps, buf, len, &graph_json, &e) && !parse_graph(&ps, graph_json, &e))
        build_model(&ps, &m, &e);
    parse_state_release(&ps);
    if (!m) {
        qs_error_prefix(&e, "%s", what ? what : "qsm");
        if (err)
            *err = e;
    } else if (map && map->mapped) {
        model_adopt_mapping(m, map->addr, map->bytes);
        map->mapped = 0;
    }
    return m;
}

Model *qsm_parse(const void *buf, size_t len, const char *what, QsError *err)
{
    return parse_model(buf, len, NULL, what, err);
}

Model *qsm_load(const char *path, QsError *err)
{
    FileMap map;
    if (filemap_open(path, &map, err))
        return NULL;
    Model *m = parse_model(map.addr, map.bytes, &map, path, err);
    filemap_release(&map); /* unless the model took it over */
    return m;
}

/* ---------------------------------------------------------------------------------------
 * Writing */

/* cJSON prints numbers with up to 17 digits and cannot hold int64 exactly; raw items keep
 * integers exact and floats in the "%.9g" that round-trips every float. */
static cJSON *raw_int(long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return cJSON_CreateRaw(buf);
}

static cJSON *raw_float(float f)
{
    if (isnan(f))
        return cJSON_CreateString("NaN");
    if (isinf(f))
        return cJSON_CreateString(f > 0 ? "Infinity" : "-Infinity");
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)f);
    return cJSON_CreateRaw(buf);
}

/* Adds item to an array (key NULL) or object and returns it; NULL (item freed) when item
 * or parent is NULL or adding fails. Builders chain through NULLs and check once. */
static cJSON *put(cJSON *parent, const char *key, cJSON *item)
{
    if (!item)
        return NULL;
    bool ok = parent && (key ? cJSON_AddItemToObject(parent, key, item)
                             : cJSON_AddItemToArray(parent, item));
    if (!ok) {
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

static QsStatus check_exact_int(const Node *n, const Attr *a, int k, int64_t v, QsError *e)
{
    if (v >= -(int64_t)QSM_MAX_EXACT_INT && v <= (int64_t)QSM_MAX_EXACT_INT)
        return QS_OK;
    return qs_fail(e, QS_EINVAL, "node '%s': attribute '%s'[%d] = %lld is beyond +-2^53, which "
                   "JSON readers cannot hold exactly",
                   n->name, a->name, k, (long long)v);
}

/* Adds a's {"i"|"f"|"ints"|"floats"|"s": value} object to attrs. false on out of memory. */
static QsStatus attr_to_json(const Node *n, const Attr *a, cJSON *attrs, bool *ok, QsError *e)
{
    cJSON *o = cJSON_AddObjectToObject(attrs, a->name), *arr = NULL;
    switch (a->type) {
    case ATTR_INT:
        if (check_exact_int(n, a, 0, a->i, e))
            return e->code;
        *ok = *ok && put(o, "i", raw_int((long long)a->i));
        break;
    case ATTR_FLOAT:
        *ok = *ok && put(o, "f", raw_float(a->f));
        break;
    case ATTR_INTS:
        arr = cJSON_AddArrayToObject(o, "ints");
        for (int k = 0; k < a->n; k++) {
            if (check_exact_int(n, a, k, a->ints[k], e))
                return e->code;
            *ok = *ok && put(arr, NULL, raw_int((long long)a->ints[k]));
        }
        *ok = *ok && arr;
        break;
    case ATTR_FLOATS:
        arr = cJSON_AddArrayToObject(o, "floats");
        for (int k = 0; k < a->n; k++)
            *ok = *ok && put(arr, NULL, raw_float(a->floats[k]));
        *ok = *ok && arr;
        break;
    case ATTR_STRING:
        *ok = *ok && put(o, "s", cJSON_CreateString(a->s ? a->s : ""));
        break;
    default:
        return qs_fail(e, QS_EINVAL, "node '%s': attribute '%s' has unknown type %d", n->name,
                       a->name, (int)a->type);
    }
    *ok = *ok && o;
    return QS_OK;
}

/* The graph document stored in "qsm.graph"; caller frees *out with free(). */
static QsStatus graph_to_json(const Graph *g, char **out, QsError *e)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs"),
          *outputs = cJSON_AddArrayToObject(root, "outputs"),
          *nodes = cJSON_AddArrayToObject(root, "nodes"),
          *params = cJSON_AddArrayToObject(root, "params");
    bool ok = inputs && outputs && nodes && params;
    for (int i = 0; ok && i < g->n_inputs; i++) {
        const Value *v = &g->values[g->inputs[i]];
        cJSON *o = put(inputs, NULL, cJSON_CreateObject());
        ok = cJSON_AddStringToObject(o, "name", v->name) != NULL;
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int k = 1; k < v->shape.ndim; k++)
            ok = ok && put(shape, NULL, raw_int((long long)v->shape.dim[k]));
        ok = ok && shape;
    }
    for (int i = 0; ok && i < g->n_outputs; i++)
        ok = put(outputs, NULL, cJSON_CreateString(g->values[g->outputs[i]].name)) != NULL;
    QsStatus st = QS_OK;
    for (int i = 0; ok && !st && i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        cJSON *o = put(nodes, NULL, cJSON_CreateObject());
        ok = cJSON_AddStringToObject(o, "name", n->name) &&
             cJSON_AddStringToObject(o, "op", op_table[n->op]->name);
        cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
        for (int k = 0; k < n->n_in; k++)
            ok = ok && put(ins, NULL,
                           cJSON_CreateString(n->in[k] >= 0 ? g->values[n->in[k]].name : ""));
        ok = ok && ins && cJSON_AddStringToObject(o, "output", g->values[n->out].name);
        cJSON *attrs = cJSON_AddObjectToObject(o, "attrs");
        ok = ok && attrs;
        for (int k = 0; ok && !st && k < n->n_attrs; k++)
            st = attr_to_json(n, &n->attrs[k], attrs, &ok, e);
    }
    for (int i = 0; ok && i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST && g->values[i].is_param)
            ok = put(params, NULL, cJSON_CreateString(g->values[i].name)) != NULL;
    if (ok && !st) {
        *out = cJSON_PrintUnformatted(root);
        ok = *out != NULL;
    }
    cJSON_Delete(root);
    if (st)
        return st;
    if (!ok)
        return qs_fail(e, QS_ENOMEM, "out of memory building the graph JSON");
    return QS_OK;
}

typedef struct ConstRef {
    int value;
    size_t elem;
} ConstRef;

/* Largest element first; value order among equals, so the layout is deterministic and
 * every tensor's offset is a multiple of its element size. */
static int cmp_const(const void *a, const void *b)
{
    const ConstRef *x = a, *y = b;
    if (x->elem != y->elem)
        return x->elem > y->elem ? -1 : 1;
    return (x->value > y->value) - (x->value < y->value);
}

/* The names and metadata of m obey what qsm_parse asks of them (utf8.h), so that a file
 * this writes always loads: refused here, rather than written and refused when read. */
static QsStatus check_saved_names(const Model *m, QsError *e)
{
    const Graph *g = &m->graph;
    char what[96];
    for (int i = 0; i < g->n_values; i++) {
        snprintf(what, sizeof what, "value %d: name", i);
        if (utf8_check_name(g->values[i].name, what, e))
            return e->code;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        snprintf(what, sizeof what, "node %d: name", i);
        if (utf8_check_name(n->name, what, e))
            return e->code;
        for (int k = 0; k < n->n_attrs; k++) {
            snprintf(what, sizeof what, "node '%.40s': attribute %d", n->name, k);
            if (utf8_check_name(n->attrs[k].name, what, e) ||
                (n->attrs[k].type == ATTR_STRING &&
                 utf8_check_text(n->attrs[k].s, strlen(n->attrs[k].s), what, e)))
                return e->code;
        }
    }
    for (int i = 0; i < m->n_meta; i++) {
        snprintf(what, sizeof what, "metadata %d: key", i);
        if (utf8_check_name(m->meta[i].key, what, e))
            return e->code;
        snprintf(what, sizeof what, "metadata '%.40s'", m->meta[i].key);
        if (utf8_check_text(m->meta[i].value, strlen(m->meta[i].value), what, e))
            return e->code;
    }
    return QS_OK;
}

QsStatus qsm_serialize(const Model *m, void **out, size_t *out_len, QsError *err)
{
    QsError e = { 0 };
    const Graph *g = &m->graph;
    *out = NULL;
    *out_len = 0;
    ConstRef *cs = xmalloc((size_t)(g->n_values + 1) * sizeof *cs);
    int n_cs = 0;
    char *graph_json = NULL, *hdr_text = NULL;
    cJSON *hdr = NULL;
    QsStatus st = QS_OK;
    for (int i = 0; i < g->n_values && !st; i++) {
        const Value *v = &g->values[i];
        if (v->kind != VAL_CONST)
            continue;
        if (strcmp(v->name, "__metadata__") == 0 || starts_with(v->name, QSM_VARIANT_PREFIX))
            st = qs_fail(&e, QS_EINVAL, "tensor name '%s' is reserved by the format", v->name);
        else if (!v->data || (tensor_bytes(v->data) && !v->data->data))
            st = qs_fail(&e, QS_EINVAL, "constant '%s' has no data", v->name);
        else
            cs[n_cs++] = (ConstRef){ i, dtype_size(v->data->dtype) };
    }
    if (!st)
        st = check_saved_names(m, &e);
    if (st)
        goto cleanup;
    qsort(cs, (size_t)n_cs, sizeof *cs, cmp_const);
    if ((st = graph_to_json(g, &graph_json, &e)))
        goto cleanup;

    hdr = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
    bool ok = cJSON_AddStringToObject(meta, "format", "qsm") &&
              cJSON_AddStringToObject(meta, "qsm.version", QSM_VERSION) &&
              cJSON_AddStringToObject(meta, "qsm.graph", graph_json);
    for (int i = 0; ok && i < m->n_meta; i++) {
        size_t klen = strlen(m->meta[i].key) + sizeof QSM_META_PREFIX;
        char *key = xmalloc(klen);
        snprintf(key, klen, QSM_META_PREFIX "%s", m->meta[i].key);
        ok = cJSON_AddStringToObject(meta, key, m->meta[i].value) != NULL;
        free(key);
    }
    size_t data_len = 0;
    for (int i = 0; ok && i < n_cs; i++) {
        const Value *v = &g->values[cs[i].value];
        const Tensor *t = v->data;
        size_t bytes = tensor_bytes(t);
        cJSON *o = cJSON_AddObjectToObject(hdr, v->name);
        ok = cJSON_AddStringToObject(o, "dtype", dtype_table[t->dtype].st_name) != NULL;
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int k = 0; k < t->shape.ndim; k++)
            ok = ok && put(shape, NULL, raw_int((long long)t->shape.dim[k]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        ok = ok && shape && put(offs, NULL, raw_int((long long)data_len)) &&
             put(offs, NULL, raw_int((long long)(data_len + bytes)));
        data_len += bytes;
    }
    if (ok)
        hdr_text = cJSON_PrintUnformatted(hdr);
    if (!ok || !hdr_text) {
        st = qs_fail(&e, QS_ENOMEM, "out of memory building the header");
        goto cleanup;
    }
    /* Padding to a multiple of 8 puts the data section at an 8-byte file offset too. */
    size_t n = align_up(strlen(hdr_text), 8), total = 8 + n + data_len;
    unsigned char *buf = malloc(total);
    if (!buf) {
        st = qs_fail(&e, QS_ENOMEM, "cannot allocate %zu bytes for the file image", total);
        goto cleanup;
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memset(buf + 8, ' ', n);
    memcpy(buf + 8, hdr_text, strlen(hdr_text));
    size_t pos = 8 + n;
    for (int i = 0; i < n_cs; i++) {
        const Tensor *t = g->values[cs[i].value].data;
        size_t bytes = tensor_bytes(t);
        if (bytes)
            memcpy(buf + pos, t->data, bytes);
        pos += bytes;
    }
    *out = buf;
    *out_len = total;
cleanup:
    cJSON_Delete(hdr);
    free(hdr_text);
    free(graph_json);
    free(cs);
    if (st && err)
        *err = e;
    return st;
}

QsStatus qsm_save(const char *path, const Model *m, QsError *err)
{
    void *buf;
    size_t len;
    QsStatus st = qsm_serialize(m, &buf, &len, err);
    if (st) {
        qs_error_prefix(err, "saving %s", path);
        return st;
    }
    st = fileio_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}
