/* A node: one op applied to named inputs, with its ONNX-style attributes and the typed
 * parameters parsed from them (ops/op_params.h). The graph (graph/graph.h) owns nodes;
 * ops read only the node they run. */
#ifndef QS_NODE_H
#define QS_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "ops/op_params.h"

#define QS_ATTR_NAME 32

typedef enum { ATTR_INT = 0, ATTR_FLOAT, ATTR_INTS, ATTR_FLOATS, ATTR_STRING } AttrType;

typedef struct Attr {
    char name[QS_ATTR_NAME]; /* ONNX attribute name, e.g. "strides" */
    AttrType type;
    int64_t i;               /* ATTR_INT */
    float f;                 /* ATTR_FLOAT */
    int n;                   /* element count of ints/floats */
    int64_t *ints;           /* ATTR_INTS, owned */
    float *floats;           /* ATTR_FLOATS, owned */
    char *s;                 /* ATTR_STRING, owned */
} Attr;

typedef struct Node {
    int op;                  /* OpType index into op_table */
    char *name;              /* unique layer name, owned */
    int n_in;
    int *in;                 /* value indices; -1 for an omitted optional input; owned */
    int out;                 /* value index of the single output */
    int n_attrs;
    Attr *attrs;             /* owned; kept for the writers, never computed from after parse */
    /* The attributes parsed by the op's OpDef.parse (op_parse). Held by value, not behind
     * a pointer: the union is a few hundred bytes with no owned memory, so a Node copied
     * field by field (model_clone, the integer executor's float head node) stays valid
     * with nothing to free or deep-copy. */
    OpParams params;
    bool parsed;             /* params is filled; false only for a Node built by hand */
} Node;

/* Attribute access, for the ops' parse functions (everything else reads Node.params);
 * the default is returned when the attribute is absent. */
const Attr *node_attr(const Node *n, const char *name);
int64_t node_attr_int(const Node *n, const char *name, int64_t def);
float node_attr_float(const Node *n, const char *name, float def);
/* Copies up to max ints into out; returns the count, or -1 when absent. */
int node_attr_ints(const Node *n, const char *name, int64_t *out, int max);
const char *node_attr_str(const Node *n, const char *name, const char *def);

/* Attribute builders for code that makes graphs (tests, init, importers). The returned
 * Attr owns copies; graph_add_node copies again (and parses), so release with
 * attr_release. */
Attr attr_int(const char *name, int64_t v);
Attr attr_float(const char *name, float v);
Attr attr_ints(const char *name, const int64_t *v, int n);
Attr attr_floats(const char *name, const float *v, int n);
Attr attr_str(const char *name, const char *s);
Attr attr_copy(const Attr *a);
void attr_release(Attr *a);

#endif
