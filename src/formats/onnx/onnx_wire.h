/* ONNX import, phase one: the protobuf bytes of a ModelProto (protobuf.h) read into plain
 * structs (nodes, attributes, initializers, graph inputs and outputs). Every length,
 * count, dimension and data size is checked before anything sized from it is allocated:
 * a tensor's element count must match the bytes it carries (or, for external data, the
 * file range it names), so no allocation exceeds a small multiple of the input's size.
 * onnx_wire.c reads the messages, onnx_tensor.c the TensorProtos (external data
 * included). docs/onnx.md states the rules. */
#ifndef QS_ONNX_WIRE_H
#define QS_ONNX_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"
#include "io/filemap.h"
#include "onnx/protobuf.h"

#define OX_MAX_NODES 65536
#define OX_MAX_INITS 65536
#define OX_MAX_IO 65536      /* graph inputs/outputs */
#define OX_MAX_NODE_IO 64    /* inputs or outputs of one node */
#define OX_MAX_ATTRS 256     /* attributes of one node */
#define OX_MAX_NAME 4096
#define OX_MIN_OPSET 11
#define OX_MAX_OPSET 18

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

/* External data files mapped while reading (onnx_tensor.c), each once: the model takes
 * them over (ox_maps_give), or they are released with the failed import. */
typedef struct OxMaps {
    int n, cap;
    char **paths;            /* real paths */
    FileMap *maps;
} OxMaps;

typedef struct OxFile {
    const char *dir;         /* external data folder, or NULL */
    OxMaps *maps;            /* where external data files are mapped; NULL: refused */
    int64_t ir_version;
    int opset;               /* default domain; 0 when not imported */
    OxGraph g;
} OxFile;

/* Grows arr (count n, capacity cap) so that arr[n] may be written. */
#define OX_GROW(arr, n, cap)                                                              \
    do {                                                                                  \
        if ((n) == (cap)) {                                                               \
            (cap) = (cap) ? 2 * (cap) : 8;                                                \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr));                       \
        }                                                                                 \
    } while (0)

/* Reads the ModelProto buf[0, len) into of (of->dir set by the caller): its IR version,
 * default-domain opset (both checked against what qscope reads) and graph. On failure
 * of->g holds what was read so far; ox_graph_free releases it either way. */
QsStatus ox_read_model(OxFile *of, const uint8_t *buf, size_t len, QsError *err);
void ox_graph_free(OxGraph *g);

/* A TensorProto (field pf of pr) into a new f32 (float types) or i64 (integer and bool
 * types) tensor; float32 external data is a view into its file's mapping in of->maps
 * (owns_data false); *name_out (when not NULL) receives its name. onnx_tensor.c. */
QsStatus ox_read_tensor(const OxFile *of, const PbReader *pr, const PbField *pf, Tensor **out,
                        char **name_out, QsError *err);

/* Hands every mapping to m (model_adopt_mapping) and empties maps; ox_maps_release
 * unmaps them instead. */
struct Model;
void ox_maps_give(OxMaps *maps, struct Model *m);
void ox_maps_release(OxMaps *maps);

/* Field readers shared by onnx_wire.c and onnx_tensor.c. A string field: length-delimited,
 * at most OX_MAX_NAME bytes, no NUL inside, valid UTF-8, and for names (node, value,
 * tensor and attribute names, op types, domains) no control character (base/utf8.h);
 * errors name the message, its byte offset and the field (replaces *out). */
QsStatus ox_read_str(const PbReader *r, const PbField *f, char **out, QsError *err);
QsStatus ox_read_varint(const PbReader *r, const PbField *f, int64_t *out, QsError *err);

/* TensorProto.DataType t: its name, its bytes per element in raw_data (0: a type qscope
 * does not read), and whether it holds floats (read as f32; the others as i64). */
const char *ox_type_name(int t);
size_t ox_raw_size(int t);
bool ox_is_float(int t);

/* Attribute `name` of node n, or NULL; its value when it has the type asked, else def. */
const OxAttr *ox_attr_get(const OxNode *n, const char *name);
int64_t ox_attr_int(const OxNode *n, const char *name, int64_t def);
const char *ox_attr_str(const OxNode *n, const char *name, const char *def);

#endif
