/* Opens a data file by its extension through a loader table: .npy, .npz (member with
 * "file.npz:member"), .idx/.idx*-ubyte (optionally .gz), .csv. */
#ifndef QS_DATAFILE_H
#define QS_DATAFILE_H

#include "base/error.h"
#include "base/tensor.h"

/* Loads the array named by spec. For .npz without ":member", `default_member` is used
 * ("x" for samples, "y" for labels). For .csv, x gets the features and *y_out (when
 * non-NULL) the last column as labels. Caller frees with tensor_free. */
QsStatus datafile_load(const char *spec, const char *default_member, Tensor **out,
                       Tensor **y_out, QsError *err);

#endif
