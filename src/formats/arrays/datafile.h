/* Opens a data file by its extension through a loader table: .npy, .npz (member with
 * "file.npz:member"), .idx/.idx*-ubyte (optionally .gz), .csv. */
#ifndef QS_DATAFILE_H
#define QS_DATAFILE_H

#include "base/error.h"
#include "base/tensor.h"
#include "io/filemap.h"

/* Loads the array named by spec. For .npz without ":member", `default_member` is used
 * ("x" for samples, "y" for labels). For .csv, x gets the features and *y_out (when
 * non-NULL) the last column as labels. Caller frees with tensor_free. */
QsStatus datafile_load(const char *spec, const char *default_member, Tensor **out,
                       Tensor **y_out, QsError *err);

/* datafile_load, except that a large float32 .npy is mapped, not read (npy_load_mapped):
 * *out then views the mapping held in *map, which the caller releases after *out (or hands
 * to the split, dataset_adopt_map). *map holds nothing for other files. */
QsStatus datafile_load_mapped(const char *spec, const char *default_member, Tensor **out,
                              Tensor **y_out, FileMap *map, QsError *err);

#endif
