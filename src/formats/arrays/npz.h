/* NumPy .npz archives: a zip of .npy members, stored or deflated (zlib).
 * Reference: PKWARE APPNOTE.TXT (local headers, central directory, zip64 rejected). */
#ifndef QS_NPZ_H
#define QS_NPZ_H

#include "base/error.h"
#include "base/tensor.h"

/* Loads member `name` (without the ".npy" suffix) of the archive at path. Fails with
 * QS_ENOTFOUND listing the members when absent. Caller frees with tensor_free. */
Tensor *npz_load_member(const char *path, const char *name, QsError *err);
/* Lists member names (without ".npy"); caller frees each and the array with free. */
QsStatus npz_list(const char *path, char ***names, int *n, QsError *err);
/* Writes the named tensors as a stored (uncompressed) .npz through path.tmp + rename. */
QsStatus npz_save(const char *path, const char *const *names, const Tensor *const *tensors,
                  int n, QsError *err);

#endif
