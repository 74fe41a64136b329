#include "ops/node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fconv.h"

void attr_release(Attr *a)
{
    free(a->ints);
    free(a->floats);
    free(a->s);
    a->ints = NULL;
    a->floats = NULL;
    a->s = NULL;
}

Attr attr_copy(const Attr *a)
{
    Attr c = *a;
    if (a->ints) {
        c.ints = xmalloc((size_t)(a->n ? a->n : 1) * sizeof *c.ints);
        memcpy(c.ints, a->ints, (size_t)a->n * sizeof *c.ints);
    }
    if (a->floats) {
        c.floats = xmalloc((size_t)(a->n ? a->n : 1) * sizeof *c.floats);
        memcpy(c.floats, a->floats, (size_t)a->n * sizeof *c.floats);
    }
    if (a->s)
        c.s = xstrdup(a->s);
    return c;
}

const Attr *node_attr(const Node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t node_attr_int(const Node *n, const char *name, int64_t def)
{
    const Attr *a = node_attr(n, name);
    if (!a)
        return def;
    if (a->type == ATTR_FLOAT) /* a file's float where an int is due: truncated, saturated,
                                  NaN as 0 (the op's parse then judges the value) */
        return fconv_round(truncf(a->f), INT64_MIN, INT64_MAX, NULL);
    return a->i;
}

float node_attr_float(const Node *n, const char *name, float def)
{
    const Attr *a = node_attr(n, name);
    if (!a)
        return def;
    if (a->type == ATTR_INT)
        return (float)a->i;
    return a->f;
}

int node_attr_ints(const Node *n, const char *name, int64_t *out, int max)
{
    const Attr *a = node_attr(n, name);
    if (!a)
        return -1;
    if (a->type == ATTR_INT) {
        if (max > 0)
            out[0] = a->i;
        return 1;
    }
    if (a->type != ATTR_INTS)
        return -1;
    for (int i = 0; i < a->n && i < max; i++)
        out[i] = a->ints[i];
    return a->n;
}

const char *node_attr_str(const Node *n, const char *name, const char *def)
{
    const Attr *a = node_attr(n, name);
    return a && a->type == ATTR_STRING ? a->s : def;
}

static Attr attr_named(const char *name, AttrType type)
{
    Attr a;
    memset(&a, 0, sizeof a);
    QS_ASSERT(strlen(name) < QS_ATTR_NAME);
    strcpy(a.name, name);
    a.type = type;
    return a;
}

Attr attr_int(const char *name, int64_t v)
{
    Attr a = attr_named(name, ATTR_INT);
    a.i = v;
    return a;
}

Attr attr_float(const char *name, float v)
{
    Attr a = attr_named(name, ATTR_FLOAT);
    a.f = v;
    return a;
}

Attr attr_ints(const char *name, const int64_t *v, int n)
{
    Attr a = attr_named(name, ATTR_INTS);
    a.n = n;
    a.ints = xmalloc((size_t)(n ? n : 1) * sizeof *a.ints);
    memcpy(a.ints, v, (size_t)n * sizeof *a.ints);
    return a;
}

Attr attr_floats(const char *name, const float *v, int n)
{
    Attr a = attr_named(name, ATTR_FLOATS);
    a.n = n;
    a.floats = xmalloc((size_t)(n ? n : 1) * sizeof *a.floats);
    memcpy(a.floats, v, (size_t)n * sizeof *a.floats);
    return a;
}

Attr attr_str(const char *name, const char *s)
{
    Attr a = attr_named(name, ATTR_STRING);
    a.s = xstrdup(s);
    return a;
}
