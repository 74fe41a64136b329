/* The ONNX messages (ModelProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto)
 * read into the plain structs of onnx_wire.h; TensorProtos are read by onnx_tensor.c. */
#include "onnx/onnx_wire.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

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

void ox_graph_free(OxGraph *g)
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

/* What string field num of message `what` holds, for errors; name: whether it is a name
 * (no control characters) rather than text (attribute strings, external data entries). */
static const char *str_field_label(const char *what, uint32_t num, bool *name)
{
    static const struct {
        const char *msg;
        uint32_t num;
        const char *label;
        bool name;
    } labels[] = {
        { "NodeProto", 1, "input name", true },      { "NodeProto", 2, "output name", true },
        { "NodeProto", 3, "name", true },            { "NodeProto", 4, "op_type", true },
        { "NodeProto", 7, "domain", true },          { "AttributeProto", 1, "name", true },
        { "AttributeProto", 4, "string value", false },
        { "ValueInfoProto", 1, "name", true },       { "TensorProto", 8, "name", true },
        { "OperatorSetIdProto", 1, "domain", true },
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (labels[i].num == num && strcmp(labels[i].msg, what) == 0) {
            *name = labels[i].name;
            return labels[i].label;
        }
    *name = false;
    return NULL;
}

/* A string field: length-delimited, at most OX_MAX_NAME bytes, valid UTF-8 (utf8.h; names
 * without control characters), no NUL inside. */
QsStatus ox_read_str(const PbReader *r, const PbField *f, char **out, QsError *err)
{
    if (f->wire != PB_LEN)
        return pb_wire_error(r, f, PB_LEN, err);
    if (f->len > OX_MAX_NAME)
        return qs_fail(err, QS_EFORMAT, "%s at byte %zu: string field %u is %zu bytes long "
                       "(at most %d)", r->what, f->offset, f->num, f->len, OX_MAX_NAME);
    if (memchr(f->data, 0, f->len))
        return qs_fail(err, QS_EFORMAT, "%s at byte %zu: string field %u contains a NUL byte",
                       r->what, f->offset, f->num);
    bool name;
    const char *label = str_field_label(r->what, f->num, &name);
    char what[96];
    if (label)
        snprintf(what, sizeof what, "%s at byte %zu: %s", r->what, f->offset, label);
    else
        snprintf(what, sizeof what, "%s at byte %zu: string field %u", r->what, f->offset,
                 f->num);
    if (utf8_check_text((const char *)f->data, f->len, what, err))
        return err->code;
    free(*out);
    *out = xmalloc(f->len + 1);
    memcpy(*out, f->data, f->len);
    (*out)[f->len] = '\0';
    if (name && utf8_check_name(*out, what, err))
        return err->code;
    return QS_OK;
}

QsStatus ox_read_varint(const PbReader *r, const PbField *f, int64_t *out, QsError *err)
{
    if (f->wire != PB_VARINT)
        return pb_wire_error(r, f, PB_VARINT, err);
    *out = (int64_t)f->v;
    return QS_OK;
}

const char *ox_type_name(int t)
{
    static const char *const names[] = { "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16",
                                         "INT16", "INT32", "INT64", "STRING", "BOOL",
                                         "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                         "COMPLEX128", "BFLOAT16" };
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

/* Bytes per element in raw_data; 0 for unsupported types. */
size_t ox_raw_size(int t)
{
    switch (t) {
    case OT_FLOAT: case OT_INT32: case OT_UINT32: return 4;
    case OT_DOUBLE: case OT_INT64: case OT_UINT64: return 8;
    case OT_FLOAT16: case OT_BFLOAT16: case OT_INT16: case OT_UINT16: return 2;
    case OT_INT8: case OT_UINT8: case OT_BOOL: return 1;
    default: return 0;
    }
}

bool ox_is_float(int t)
{
    return t == OT_FLOAT || t == OT_DOUBLE || t == OT_FLOAT16 || t == OT_BFLOAT16;
}

static QsStatus ox_graph(const OxFile *of, const PbReader *pr, const PbField *pf, OxGraph *g,
                         QsError *err);

/* A subgraph (field f): parsed to validate it, then dropped. */
static QsStatus attr_subgraph(const OxFile *of, const PbReader *r, const PbField *f,
                              QsError *err)
{
    OxGraph sub;
    memset(&sub, 0, sizeof sub);
    QsStatus st = ox_graph(of, r, f, &sub, err);
    ox_graph_free(&sub);
    return st;
}

/* A floats field (packed or not) appended to a->floats, which holds *nf. */
static QsStatus attr_floats(const PbReader *r, const PbField *f, OxAttr *a, int64_t *nf,
                            QsError *err)
{
    int64_t n = pb_count_packed(r, f, PB_I32, err);
    if (n < 0)
        return QS_EFORMAT;
    if (*nf + n > INT_MAX / 8)
        return qs_fail(err, QS_EFORMAT, "AttributeProto at byte %zu: too many floats",
                       f->offset);
    a->floats = xrealloc(a->floats, (size_t)(*nf + n + 1) * sizeof *a->floats);
    uint64_t *tmp = xmalloc((size_t)(n + 1) * sizeof *tmp);
    pb_read_packed(r, f, PB_I32, tmp, n, err);
    for (int64_t k = 0; k < n; k++) {
        uint32_t u = (uint32_t)tmp[k];
        memcpy(&a->floats[*nf + k], &u, 4);
    }
    free(tmp);
    *nf += n;
    a->seen_list = true;
    return QS_OK;
}

/* An ints field (packed or not) appended to a->ints, which holds *ni. */
static QsStatus attr_ints(const PbReader *r, const PbField *f, OxAttr *a, int64_t *ni,
                          QsError *err)
{
    int64_t n = pb_count_packed(r, f, PB_VARINT, err);
    if (n < 0)
        return QS_EFORMAT;
    if (*ni + n > INT_MAX / 8)
        return qs_fail(err, QS_EFORMAT, "AttributeProto at byte %zu: too many ints",
                       f->offset);
    a->ints = xrealloc(a->ints, (size_t)(*ni + n + 1) * sizeof *a->ints);
    pb_read_packed(r, f, PB_VARINT, (uint64_t *)(a->ints + *ni), n, err);
    *ni += n;
    a->seen_list = true;
    return QS_OK;
}

/* Field f of an AttributeProto into a (nf, ni: the floats and ints read so far). */
static QsStatus attr_field(const OxFile *of, const PbReader *r, const PbField *f, OxAttr *a,
                           int64_t *nf, int64_t *ni, QsError *err)
{
    QsStatus st = QS_OK;
    int64_t v = 0;
    switch (f->num) {
    case 1:
        return ox_read_str(r, f, &a->name, err);
    case 20:
        if (!(st = ox_read_varint(r, f, &v, err)))
            a->type = (int)v;
        return st;
    case 2:
        if (f->wire != PB_I32)
            return pb_wire_error(r, f, PB_I32, err);
        uint32_t u = (uint32_t)f->v;
        memcpy(&a->f, &u, 4);
        a->seen_f = true;
        return QS_OK;
    case 3:
        if (!(st = ox_read_varint(r, f, &a->i, err)))
            a->seen_i = true;
        return st;
    case 4:
        if (!(st = ox_read_str(r, f, &a->s, err)))
            a->seen_s = true;
        return st;
    case 5:
        tensor_free(a->t);
        a->t = NULL;
        if (!(st = ox_read_tensor(of, r, f, &a->t, NULL, err)))
            a->seen_t = true;
        return st;
    case 6:
        st = attr_subgraph(of, r, f, err);
        a->seen_g = true;
        return st;
    case 7:
        return attr_floats(r, f, a, nf, err);
    case 8:
        return attr_ints(r, f, a, ni, err);
    case 9: case 10: case 11:
        a->seen_list = true; /* strings, tensors, graphs: no qscope op takes them */
        return f->num == 11 ? attr_subgraph(of, r, f, err) : QS_OK;
    default:
        return QS_OK;
    }
}

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
    while ((rc = pb_next(&r, &f, err)) == 1)
        if ((st = attr_field(of, &r, &f, a, &nf, &ni, err)))
            return st;
    if (rc < 0)
        return QS_EFORMAT;
    if (!a->name || !a->name[0])
        return qs_fail(err, QS_EFORMAT, "AttributeProto at byte %zu: no name", pf->offset);
    if (!a->type) /* IR < 2 files name no type: infer it from the field set */
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
            st = ox_read_str(&r, &f, &(*list)[*cnt], err);
            (*cnt)++;
            break;
        }
        case 3:
            st = ox_read_str(&r, &f, &n->name, err);
            break;
        case 4:
            st = ox_read_str(&r, &f, &n->op, err);
            break;
        case 7:
            st = ox_read_str(&r, &f, &n->domain, err);
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
        if (f.num == 1 && (st = ox_read_str(&r, &f, &v->name, err)))
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
                    if ((st = ox_read_varint(&tt, &h, &e, err)))
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
                            if ((st = ox_read_varint(&dr, &d, &v->dim[i], err)))
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
            st = ox_read_tensor(of, &r, &f, &in->t, &in->name, err);
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

QsStatus ox_read_model(OxFile *of, const uint8_t *buf, size_t len, QsError *err)
{
    PbReader r;
    PbField f;
    int rc;
    QsStatus st = QS_OK;
    bool has_graph = false;
    pb_reader_init(&r, buf, len, "ModelProto");
    while ((rc = pb_next(&r, &f, err)) == 1) {
        if (f.num == 1) {
            if ((st = ox_read_varint(&r, &f, &of->ir_version, err)))
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
                    st = ox_read_str(&o, &g, &domain, err);
                else if (g.num == 2)
                    st = ox_read_varint(&o, &g, &version, err);
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

const OxAttr *ox_attr_get(const OxNode *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t ox_attr_int(const OxNode *n, const char *name, int64_t def)
{
    const OxAttr *a = ox_attr_get(n, name);
    return a && a->type == OA_INT ? a->i : def;
}

const char *ox_attr_str(const OxNode *n, const char *name, const char *def)
{
    const OxAttr *a = ox_attr_get(n, name);
    return a && a->type == OA_STRING ? a->s : def;
}

