/* Opens a data file by its extension through a loader table: .npy, .npz (member with
 * "file.npz:member"), .idx/.idx*-ubyte (optionally .gz), .csv. */
#ifndef QS_DATAFILE_H
#define QS_DATAFILE_H

#include "base/error.h"
#include "base/tensor.h"
#include "data/source.h"

/* Loads the array named by spec. For .npz without ":member", `default_member` is used
 * ("x" for samples, "y" for labels). For .csv, x gets the features and *y_out (when
 * non-NULL) the last column as labels. Caller frees with tensor_free. */
QsStatus datafile_load(const char *spec, const char *default_member, Tensor **out,
                       Tensor **y_out, QsError *err);

/* datafile_load, except that with src non-NULL the rows of a large uncompressed file stay
 * in it: a .npy, plain IDX file or stored .npz member of at least ROWFILE_MIN bytes (any
 * element type) gives *src (arrays/rowfile.h; hand it to the split, dataset_adopt_source)
 * and leaves *out NULL. Gzipped IDX, deflated .npz members and CSV are read whole into *out
 * as datafile_load does (a compressed or text file has no rows to read in place; deflate
 * and gzip inflate within max_memory). */
QsStatus datafile_open(const char *spec, const char *default_member, Tensor **out,
                       Tensor **y_out, DataSource *src, QsError *err);

#endif
