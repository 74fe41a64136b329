/* Element types and their traits table. */
#ifndef QS_DTYPE_H
#define QS_DTYPE_H

#include <stddef.h>

typedef enum { DT_F32 = 0, DT_F16, DT_I8, DT_U8, DT_I32, DT_I64, DT_COUNT } DType;

typedef struct DTypeDef {
    const char *name;        /* qscope's name: "f32" */
    const char *st_name;     /* safetensors dtype: "F32" */
    size_t size;             /* bytes per element */
    int is_float;
} DTypeDef;

extern const DTypeDef dtype_table[DT_COUNT];

/* Looks up a dtype by safetensors name ("F32", "I8", ...). Returns 0 and sets *out, or -1. */
int dtype_from_st_name(const char *s, DType *out);

static inline size_t dtype_size(DType t) { return dtype_table[t].size; }
static inline const char *dtype_name(DType t) { return dtype_table[t].name; }

#endif
