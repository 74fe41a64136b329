/* NumPy .npz archives: a zip of .npy members, stored or deflated (zlib).
 * Reference: PKWARE APPNOTE.TXT (local headers, central directory, zip64 rejected). */
#ifndef QS_NPZ_H
#define QS_NPZ_H

#include <stdbool.h>
#include <stdint.h>

#include "arrays/rowfile.h"
#include "base/error.h"
#include "base/tensor.h"

/* Loads member `name` (without the ".npy" suffix) of the archive at path. Fails with
 * QS_ENOTFOUND listing the members when absent. Caller frees with tensor_free. */
Tensor *npz_load_member(const char *path, const char *name, QsError *err);
/* Where member `name` of the archive image buf (a file's len bytes, usually mapped) lies,
 * with npz_load_member's checks of the directory and local header but without reading
 * the data: stored (method 0) members also get their rows' layout (npy_layout, offsets in
 * the archive); the caller checks the CRC over [data_off, data_off + bytes). */
typedef struct NpzMemberLayout {
    bool stored;     /* method 0: rows is set */
    uint64_t bytes;  /* uncompressed size */
    uint32_t crc;
    uint64_t data_off;
    RowLayout rows;
} NpzMemberLayout;
QsStatus npz_member_layout(const char *path, const void *buf, size_t len, const char *name,
                           NpzMemberLayout *out, QsError *err);
/* Lists member names (without ".npy"); caller frees each and the array with free. */
QsStatus npz_list(const char *path, char ***names, int *n, QsError *err);
/* Writes the named tensors as a stored (uncompressed) .npz through path.tmp + rename. */
QsStatus npz_save(const char *path, const char *const *names, const Tensor *const *tensors,
                  int n, QsError *err);

#endif
