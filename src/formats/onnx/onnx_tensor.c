/* TensorProto into a Tensor (onnx_wire.h): inline raw_data, typed value fields, or external
 * data in a file beside the model, which must stay inside the model's folder. External
 * files are mapped (io/filemap.h), once each: float32 data at its alignment stays there as
 * a view, so a multi-gigabyte model loads without a copy. */
#include "onnx/onnx_wire.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "graph/model.h"
#include "io/filemap.h"

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

/* The mapping of the external data file rpath (a real path), mapped on first use. */
static QsStatus ox_map_of(OxMaps *maps, const char *rpath, const FileMap **out, QsError *err)
{
    for (int i = 0; i < maps->n; i++)
        if (strcmp(maps->paths[i], rpath) == 0) {
            *out = &maps->maps[i];
            return QS_OK;
        }
    if (maps->n == maps->cap) {
        maps->cap = maps->cap ? 2 * maps->cap : 4;
        maps->paths = xrealloc(maps->paths, (size_t)maps->cap * sizeof *maps->paths);
        maps->maps = xrealloc(maps->maps, (size_t)maps->cap * sizeof *maps->maps);
    }
    if (filemap_open(rpath, &maps->maps[maps->n], err))
        return err->code;
    maps->paths[maps->n] = xstrdup(rpath);
    *out = &maps->maps[maps->n++];
    return QS_OK;
}

void ox_maps_give(OxMaps *maps, Model *m)
{
    for (int i = 0; i < maps->n; i++)
        if (maps->maps[i].mapped) {
            model_adopt_mapping(m, maps->maps[i].addr, maps->maps[i].bytes);
            maps->maps[i].mapped = 0;
        }
    ox_maps_release(maps);
}

void ox_maps_release(OxMaps *maps)
{
    for (int i = 0; i < maps->n; i++) {
        filemap_release(&maps->maps[i]);
        free(maps->paths[i]);
    }
    free(maps->paths);
    free(maps->maps);
    memset(maps, 0, sizeof *maps);
}

/* The `len` bytes at `off` of dir/loc, in place in the file's mapping (of->maps), after
 * checking that the file's real path lies inside dir's, that it is a regular file and that
 * the range lies inside it. */
static QsStatus ox_external_bytes(const OxFile *of, const char *loc, uint64_t off,
                                  uint64_t len, bool has_len, const char *tname,
                                  const uint8_t **out, size_t *out_len, QsError *err)
{
    const char *dir = of->dir;
    if (!dir || !of->maps)
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
    const FileMap *fm = NULL;
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
    if ((st = ox_map_of(of->maps, rfile, &fm, err))) {
        qs_error_prefix(err, "tensor '%s': external data file '%s'", tname, loc);
        goto cleanup;
    }
    uint64_t size = (uint64_t)fm->bytes;
    if (off > size || (has_len && len > size - off)) {
        st = qs_fail(err, QS_EFORMAT, "tensor '%s': external data range offset %llu length "
                     "%llu is past the end of '%s' (%llu bytes)", tname,
                     (unsigned long long)off, (unsigned long long)len, loc,
                     (unsigned long long)size);
        goto cleanup;
    }
    if (!has_len)
        len = size - off;
    *out = (const uint8_t *)fm->addr + off;
    *out_len = (size_t)len;
cleanup:
    free(rdir);
    free(rfile);
    free(path);
    return st;
}

/* What a TensorProto's fields say, before its values are converted. */
typedef struct TensorFields {
    int64_t dims[QS_MAX_DIMS];
    int ndim;
    int64_t dtype, location, typed_count;
    const uint8_t *raw;      /* raw_data, or the external data in its file's mapping */
    size_t raw_len;
    bool has_raw, has_typed;
    uint32_t typed_num;      /* the typed field holding the values */
    char *name, *loc;        /* owned */
    uint64_t ext_off, ext_len;
    bool has_ext_len;
} TensorFields;

static void tensor_fields_release(TensorFields *tf)
{
    free(tf->name);
    free(tf->loc);
}

/* One external_data entry (StringStringEntryProto): location, offset or length. */
static QsStatus tensor_external_entry(const PbReader *r, const PbField *f, TensorFields *tf,
                                      QsError *err)
{
    PbReader er;
    PbField ef;
    char *key = NULL, *val = NULL;
    int rc;
    QsStatus st = pb_sub(r, f, "StringStringEntryProto", &er, err);
    if (st)
        return st;
    while ((rc = pb_next(&er, &ef, err)) == 1) {
        if (ef.num == 1 && (st = ox_read_str(&er, &ef, &key, err)))
            break;
        if (ef.num == 2 && (st = ox_read_str(&er, &ef, &val, err)))
            break;
    }
    if (rc < 0)
        st = QS_EFORMAT;
    if (!st && key && val) {
        char *end = NULL;
        if (strcmp(key, "location") == 0) {
            free(tf->loc);
            tf->loc = val;
            val = NULL;
        } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
            unsigned long long u = strtoull(val, &end, 10);
            if (!val[0] || *end || val[0] == '-')
                st = qs_fail(err, QS_EFORMAT, "TensorProto at byte %zu: external data "
                             "%s '%s' is not a number", f->offset, key, val);
            else if (key[0] == 'o')
                tf->ext_off = u;
            else
                tf->ext_len = u, tf->has_ext_len = true;
        }
    }
    free(key);
    free(val);
    return st;
}

/* Field `f` of a TensorProto into tf. */
static QsStatus tensor_field(const PbReader *r, const PbField *f, TensorFields *tf,
                             QsError *err)
{
    switch (f->num) {
    case 1: { /* dims */
        int64_t n = pb_count_packed(r, f, PB_VARINT, err);
        if (n < 0)
            return QS_EFORMAT;
        if (tf->ndim + n > QS_MAX_DIMS)
            return qs_fail(err, QS_EUNSUPPORTED, "TensorProto at byte %zu: more than %d "
                           "dimensions", f->offset, QS_MAX_DIMS);
        uint64_t v[QS_MAX_DIMS];
        pb_read_packed(r, f, PB_VARINT, v, n, err);
        for (int64_t k = 0; k < n; k++)
            tf->dims[tf->ndim++] = (int64_t)v[k];
        return QS_OK;
    }
    case 2:
        return ox_read_varint(r, f, &tf->dtype, err);
    case 3:
        return qs_fail(err, QS_EUNSUPPORTED, "TensorProto at byte %zu: segmented tensors are "
                       "not supported", f->offset);
    case 4: case 5: case 7: case 10: case 11: {
        PbWire w = f->num == 4 ? PB_I32 : f->num == 10 ? PB_I64 : PB_VARINT;
        int64_t n = pb_count_packed(r, f, w, err);
        if (n < 0)
            return QS_EFORMAT;
        if (tf->has_typed && tf->typed_num != f->num)
            return qs_fail(err, QS_EFORMAT, "TensorProto at byte %zu: values in two typed "
                           "fields (%u and %u)", f->offset, tf->typed_num, f->num);
        tf->has_typed = true;
        tf->typed_num = f->num;
        tf->typed_count += n;
        return QS_OK;
    }
    case 6:
        return qs_fail(err, QS_EUNSUPPORTED, "TensorProto at byte %zu: string tensors are not "
                       "supported", f->offset);
    case 8:
        return ox_read_str(r, f, &tf->name, err);
    case 9:
        if (f->wire != PB_LEN)
            return pb_wire_error(r, f, PB_LEN, err);
        tf->raw = f->data;
        tf->raw_len = f->len;
        tf->has_raw = true;
        return QS_OK;
    case 13:
        return tensor_external_entry(r, f, tf, err);
    case 14:
        return ox_read_varint(r, f, &tf->location, err);
    default:
        return QS_OK;
    }
}

/* Checks what the fields say against each other (and points tf->raw at external data);
 * *s receives the shape and *bytes its size at 8 bytes an element. */
static QsStatus tensor_check(const OxFile *of, TensorFields *tf, const char *tn, Shape *s,
                             size_t *bytes, QsError *err)
{
    QsStatus st;
    if (tf->location != 0 && tf->location != 1)
        return qs_fail(err, QS_EFORMAT, "tensor '%s': data_location %lld is not DEFAULT or "
                       "EXTERNAL", tn, (long long)tf->location);
    size_t es = ox_raw_size((int)tf->dtype);
    if (!es)
        return qs_fail(err, QS_EUNSUPPORTED, "tensor '%s': data type %s (%lld) is not "
                       "supported", tn, ox_type_name((int)tf->dtype), (long long)tf->dtype);
    s->ndim = tf->ndim;
    for (int i = 0; i < tf->ndim; i++) {
        if (tf->dims[i] < 0)
            return qs_fail(err, QS_EFORMAT, "tensor '%s': dimension %d is negative (%lld)", tn,
                           i, (long long)tf->dims[i]);
        s->dim[i] = tf->dims[i];
    }
    if ((st = shape_checked_bytes(s, 8, bytes, tn, err)))
        return st;
    int64_t numel = shape_numel(s);
    if (tf->location == 1) {
        if (tf->has_raw || tf->has_typed)
            return qs_fail(err, QS_EFORMAT, "tensor '%s': external data and inline values at "
                           "once", tn);
        if (!tf->loc)
            return qs_fail(err, QS_EFORMAT, "tensor '%s': external data without a location",
                           tn);
        if ((st = ox_external_bytes(of, tf->loc, tf->ext_off, tf->ext_len, tf->has_ext_len,
                                    tn, &tf->raw, &tf->raw_len, err)))
            return st;
        tf->has_raw = true;
    }
    if (tf->has_raw && tf->has_typed)
        return qs_fail(err, QS_EFORMAT, "tensor '%s': both raw_data and typed values", tn);
    if (tf->has_raw && (uint64_t)tf->raw_len != (uint64_t)numel * es)
        return qs_fail(err, QS_EFORMAT, "tensor '%s': %s has %zu bytes of data, expected %lld "
                       "elements of %zu bytes", tn, ox_type_name((int)tf->dtype), tf->raw_len,
                       (long long)numel, es);
    if (tf->has_typed && tf->typed_num != ox_typed_field((int)tf->dtype))
        return qs_fail(err, QS_EFORMAT, "tensor '%s': values in field %u do not fit type %s",
                       tn, tf->typed_num, ox_type_name((int)tf->dtype));
    if (!tf->has_raw && tf->typed_count != numel)
        return qs_fail(err, QS_EFORMAT, "tensor '%s': %lld values for %lld elements", tn,
                       (long long)tf->typed_count, (long long)numel);
    return QS_OK;
}

/* The values of the typed field (a second pass over the TensorProto pf) into t. */
static QsStatus tensor_typed_values(const PbReader *pr, const PbField *pf,
                                    const TensorFields *tf, Tensor *t, size_t bytes,
                                    const char *tn, QsError *err)
{
    int64_t numel = shape_numel(&t->shape), at = 0;
    PbReader r;
    PbField f;
    QsStatus st = QS_OK;
    pb_reader_init(&r, pf->data, pf->len, "TensorProto");
    r.base = pr->base + (size_t)(pf->data - pr->buf);
    uint64_t *tmp = malloc((size_t)numel * sizeof *tmp);
    if (!tmp)
        return qs_fail(err, QS_ENOMEM, "tensor '%s': cannot allocate %zu bytes", tn, bytes);
    while (pb_next(&r, &f, err) == 1) {
        if (f.num != tf->typed_num)
            continue;
        int64_t n = pb_read_packed(&r, &f, f.num == 4 ? PB_I32 : f.num == 10 ? PB_I64 : PB_VARINT,
                                   tmp + at, numel - at, err);
        at += n;
    }
    for (int64_t i = 0; i < numel && !st; i++)
        if (!ox_store_typed((int)tf->dtype, tmp[i], t, i))
            st = qs_fail(err, QS_EFORMAT, "tensor '%s': element %lld out of range for %s",
                         tn, (long long)i, ox_type_name((int)tf->dtype));
    free(tmp);
    return st;
}

QsStatus ox_read_tensor(const OxFile *of, const PbReader *pr, const PbField *pf, Tensor **out,
                        char **name_out, QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    TensorFields tf;
    memset(&tf, 0, sizeof tf);
    Tensor *t = NULL;
    QsStatus st = pb_sub(pr, pf, "TensorProto", &r, err);
    if (st)
        return st;
    while ((rc = pb_next(&r, &f, err)) == 1)
        if ((st = tensor_field(&r, &f, &tf, err)))
            goto cleanup;
    if (rc < 0) {
        st = QS_EFORMAT;
        goto cleanup;
    }
    const char *tn = tf.name ? tf.name : "(unnamed)";
    Shape s;
    size_t bytes;
    if ((st = tensor_check(of, &tf, tn, &s, &bytes, err)))
        goto cleanup;
    if (tf.location == 1 && tf.dtype == OT_FLOAT && (uintptr_t)tf.raw % sizeof(float) == 0) {
        /* float32 external data as it lies in the file: a view of the mapping, no copy (the
         * model takes the mapping over, ox_maps_give; misaligned or other types convert) */
        t = xmalloc(sizeof *t);
        *t = tensor_view(DT_F32, s, (void *)(uintptr_t)tf.raw);
        goto done;
    }
    t = tensor_new(ox_is_float((int)tf.dtype) ? DT_F32 : DT_I64, s, err);
    if (!t) {
        st = err->code;
        qs_error_prefix(err, "tensor '%s'", tn);
        goto cleanup;
    }
    int64_t numel = shape_numel(&s);
    size_t es = ox_raw_size((int)tf.dtype);
    if (tf.has_raw) {
        for (int64_t i = 0; i < numel; i++)
            if (!ox_store_raw((int)tf.dtype, tf.raw + (size_t)i * es, t, i)) {
                st = qs_fail(err, QS_EFORMAT, "tensor '%s': element %lld does not fit in int64",
                             tn, (long long)i);
                goto cleanup;
            }
    } else if (numel > 0 && (st = tensor_typed_values(pr, pf, &tf, t, bytes, tn, err))) {
        goto cleanup;
    }
done:
    *out = t;
    t = NULL;
    if (name_out) {
        *name_out = tf.name;
        tf.name = NULL;
    }
cleanup:
    tensor_free(t);
    tensor_fields_release(&tf);
    return st;
}
