#include "base/dtype.h"

#include <string.h>

const DTypeDef dtype_table[DT_COUNT] = {
    [DT_F32] = { .name = "f32", .st_name = "F32", .size = 4, .is_float = 1 },
    [DT_F16] = { .name = "f16", .st_name = "F16", .size = 2, .is_float = 1 },
    [DT_I8]  = { .name = "i8",  .st_name = "I8",  .size = 1 },
    [DT_U8]  = { .name = "u8",  .st_name = "U8",  .size = 1 },
    [DT_I32] = { .name = "i32", .st_name = "I32", .size = 4 },
    [DT_I64] = { .name = "i64", .st_name = "I64", .size = 8 },
};

int dtype_from_st_name(const char *s, DType *out)
{
    for (int t = 0; t < DT_COUNT; t++)
        if (strcmp(dtype_table[t].st_name, s) == 0) {
            *out = (DType)t;
            return 0;
        }
    return -1;
}
