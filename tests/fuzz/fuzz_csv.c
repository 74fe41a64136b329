/* CSV through its path (a memfd): header detection, '#' comments, number parsing, ragged
 * lines, and the label column (last column as integers, then features only). */
#include <stddef.h>
#include <stdint.h>

#include "arrays/csv.h"
#include "fuzz_file.h"

static void load(const char *path, int label_col)
{
    QsError err = { 0 };
    Tensor *x = NULL, *y = NULL;
    if (csv_load(path, label_col, &x, &y, &err) == QS_OK) {
        tensor_free(x);
        tensor_free(y);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_path(data, size);
    if (!path)
        return 0;
    load(path, -1);
    load(path, -2);
    return 0;
}
